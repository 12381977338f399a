"""The learned risk classifier: MiniLM fine-tuned on the corpus, run with onnxruntime (int8, one thread).

It reads a message's severity (none / medium / high) and category. It is a model of meaning, so it catches what
the lexicon's patterns were never written for ("hes got his brothers blade in his bag"), and it is measured on
messages written by people who never saw it (see scripts/evaluate_understanding.py).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
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
    # How likely each knowledge-base entry is to be what the message asks, by entry id (empty for a model
    # without a topic head). The question matcher blends these with its own scores.
    topics: dict[str, float] = field(default_factory=dict, compare=False)


# Emoji and other pictographs are not in MiniLM's vocabulary: each became one [UNK] token, the same for 😭 as for
# 😂. Emoji are commonest in the corpus's banter ("gonna kill him in fifa 😤"), so the model learned [UNK] as a
# sign of harmlessness, and one 😭 after "i drank bleach 10 mins ago" read it as nothing. The model reads messages
# without them; the lexicon still reads the message as written.
_UNREADABLE = frozenset({"So", "Sk", "Cn", "Co", "Cs"})
_JOINERS = frozenset({"\u200d", "\ufe0e", "\ufe0f", "\u20e3"})


def model_text(text: str) -> str:
    """`text` as the model reads it: symbols it has no token for become spaces; whitespace is collapsed."""
    if text.isascii():
        return " ".join(text.split())
    kept = (" " if c in _JOINERS or unicodedata.category(c) in _UNREADABLE else c for c in text)
    return " ".join("".join(kept).split())


# Where a long message breaks into parts: sentence ends, and a turn of thought ("..., but", "..., anyway").
_PARTS = re.compile(r"[.!?;\n]+|,\s+(?=(?:but|and|then|so|because|cos|coz|anyway)\b)|\s+(?=but\b)")
MIN_PART_WORDS = 3
MAX_PARTS = 8


def parts_of(text: str) -> list[str]:
    """A message's sentences and clauses of at least MIN_PART_WORDS words, when it has more than one."""
    parts = [part.strip(" ,") for part in _PARTS.split(text)]
    parts = [part for part in parts if len(part.split()) >= MIN_PART_WORDS]
    return parts[:MAX_PARTS] if len(parts) > 1 else []


class RiskModel:
    # A message's topic scores keep only entries at least this likely: the rest cannot change an answer.
    TOPIC_FLOOR = 0.01

    def __init__(
        self,
        session: ort.InferenceSession,
        tokenizer: Tokenizer,
        categories: tuple[str, ...],
        max_tokens: int,
        topics: tuple[str, ...] = (),
    ) -> None:
        self._session = session
        self._tokenizer = tokenizer
        self._categories = categories
        self._max_tokens = max_tokens
        self._risky = np.array([c not in NONE_CATEGORIES for c in categories])
        outputs = [o.name for o in session.get_outputs()]
        self._topics = topics if "topic" in outputs else ()
        self._outputs = ["severity", "category", "topic"] if self._topics else ["severity", "category"]

    @classmethod
    def load(
        cls,
        model_path: Path,
        tokenizer_path: Path,
        categories: tuple[str, ...],
        max_tokens: int,
        topics: tuple[str, ...] = (),
    ) -> RiskModel:
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
        return cls(session, tokenizer, categories, max_tokens, topics)

    def read(self, text: str) -> ModelReading:
        """One message, read whole and part by part: a risk told in one sentence of a long, ordinary message
        ("college was fine, did my practical, but i've been saving my mum's tablets…") is as risky as that
        sentence alone, so the message takes its riskiest part's severity and category. Its topic scores are
        the whole message's. Blocking, like `predict`."""
        text = model_text(text)
        parts = parts_of(text)
        whole, *pieces = self.predict([text, *parts])
        if not pieces:
            return whole
        worst = max(pieces, key=lambda r: r.p_high)
        flag = max(r.p_medium + r.p_high for r in (whole, *pieces))
        merged = whole if whole.p_high >= worst.p_high else replace(worst, topics=whole.topics)
        p_high = max(whole.p_high, worst.p_high)
        return replace(merged, p_high=p_high, p_medium=max(flag - p_high, 0.0), p_none=max(1.0 - flag, 0.0))

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
        outputs = self._session.run(self._outputs, {"input_ids": ids, "attention_mask": mask})
        severity, category = outputs[0], outputs[1]
        topic = outputs[2] if self._topics else np.zeros((len(texts), 0), dtype=np.float32)
        readings = []
        for sev, cat, top in zip(severity, category, topic, strict=True):
            best = int(np.argmax(cat))
            risky = int(np.argmax(np.where(self._risky, cat, -1.0)))
            likely = {self._topics[i]: float(top[i]) for i in np.flatnonzero(top >= self.TOPIC_FLOOR)}
            readings.append(
                ModelReading(
                    float(sev[0]),
                    float(sev[1]),
                    float(sev[2]),
                    self._categories[best],
                    float(cat[best]),
                    self._categories[risky],
                    likely,
                )
            )
        return readings
