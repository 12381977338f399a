"""The learned risk classifier: MiniLM fine-tuned on the corpus, run with onnxruntime (int8, one thread).

It reads a message's severity (none / medium / high) and category. It is a model of meaning, so it catches what
the lexicon's patterns were never written for ("hes got his brothers blade in his bag"), and it is measured on
messages written by people who never saw it (see scripts/evaluate_understanding.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from understanding.corpus_files import NONE_CATEGORIES


@dataclass(frozen=True, slots=True)
class ModelReading:
    p_none: float
    p_medium: float
    p_high: float
    category: str  # the likeliest of all categories, "lookalike" and "question" included
    category_score: float
    risk_category: str  # the likeliest risk or worry category: what a flag is filed under


class RiskModel:
    def __init__(
        self, session: ort.InferenceSession, tokenizer: Tokenizer, categories: tuple[str, ...], max_tokens: int
    ) -> None:
        self._session = session
        self._tokenizer = tokenizer
        self._categories = categories
        self._max_tokens = max_tokens
        self._risky = np.array([c not in NONE_CATEGORIES for c in categories])

    @classmethod
    def load(cls, model_path: Path, tokenizer_path: Path, categories: tuple[str, ...], max_tokens: int) -> RiskModel:
        options = ort.SessionOptions()
        # One thread per call: the bot runs calls on a small pool, so two messages use both cores, and a busy
        # model never starves the event loop of the core it is on.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        tokenizer = Tokenizer.from_file(str(tokenizer_path))
        tokenizer.enable_truncation(max_tokens)
        tokenizer.no_padding()
        return cls(session, tokenizer, categories, max_tokens)

    def predict(self, texts: list[str]) -> list[ModelReading]:
        """Blocking: call it from a worker thread, never on the event loop."""
        if not texts:
            return []
        encodings = self._tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        severity, category = self._session.run(None, {"input_ids": ids, "attention_mask": mask})
        readings = []
        for sev, cat in zip(severity, category, strict=True):
            best = int(np.argmax(cat))
            risky = int(np.argmax(np.where(self._risky, cat, -1.0)))
            readings.append(
                ModelReading(
                    float(sev[0]),
                    float(sev[1]),
                    float(sev[2]),
                    self._categories[best],
                    float(cat[best]),
                    self._categories[risky],
                )
            )
        return readings
