"""Answering natural questions: match a message to a knowledge-base entry by meaning and by words.

Each entry is represented by its paraphrases (and any labelled questions from the corpus). A message's score for
an entry is its best paraphrase's `MEANING_WEIGHT * cosine + (1 - MEANING_WEIGHT) * word overlap`, where the
cosine comes from the static encoder and the overlap is IDF-weighted Jaccard over content words. A confident,
clear winner answers; a weaker one offers the closest two or three ("Did you mean…"); below that, nothing.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from understanding.knowledge import KnowledgeBase, KnowledgeEntry
from understanding.static_encoder import StaticEncoder

MEANING_WEIGHT = 0.5
# Chosen on the training writers (each writer's questions matched against the knowledge base and the other
# writers' questions), never on the frozen test split: 0.92 of questions answered right, 0.027 answered wrong,
# 0.033 of look-alikes and chat given an answer. Below ANSWER_AT, the closest are offered instead.
ANSWER_AT = 0.45
CLEAR_MARGIN = 0.02
SUGGEST_AT = 0.35
MAX_SUGGESTIONS = 3
# When the risk model has read the message (the safety net reads every free-text message first), its topic head's
# probability for each entry, times TOPIC_WEIGHT, is added to the entry's score, and a blended score answers from
# TOPIC_ANSWER_AT. Chosen with scripts/tune_questions.py on writers the model never saw (w4 and w9): questions
# answered right 0.868 -> 0.947, wrong 0.018 -> 0.026, chat and look-alikes given an answer 0.041 -> 0.017.
TOPIC_WEIGHT = 1.0
TOPIC_ANSWER_AT = 0.5

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an the to is are was be of and or in on at for it this that about with me my i im you u ur your "
    "do does can could would should will what whats how who whos when where which if any some there".split()
)


def content_words(text: str) -> frozenset[str]:
    return frozenset(w for w in _WORD.findall(text.lower().replace("'", "")) if w not in _STOP)


@dataclass(frozen=True, slots=True)
class QuestionMatch:
    """The outcome for one message. `answer` is set when confident; else `suggestions` may hold the closest."""

    answer: KnowledgeEntry | None
    suggestions: tuple[KnowledgeEntry, ...]
    score: float
    # The closest entries whatever their score, so "here is what I can help with" needs no second scoring.
    nearest: tuple[KnowledgeEntry, ...] = ()

    @property
    def found(self) -> bool:
        return self.answer is not None or bool(self.suggestions)


NO_MATCH = QuestionMatch(None, (), 0.0)


class QuestionMatcher:
    def __init__(
        self,
        knowledge: KnowledgeBase,
        encoder: StaticEncoder,
        examples: Iterable[tuple[str, str]] = (),
    ) -> None:
        """`examples` are extra (text, entry id) pairs, e.g. the corpus's labelled questions."""
        self._knowledge = knowledge
        self._encoder = encoder
        texts: list[str] = []
        owners: list[int] = []
        index = {entry.id: i for i, entry in enumerate(knowledge.entries)}
        self._entry_row = index
        for i, entry in enumerate(knowledge.entries):
            for text in (*entry.paraphrases, entry.title):
                texts.append(text)
                owners.append(i)
        for text, entry_id in examples:
            if entry_id in index:
                texts.append(text)
                owners.append(index[entry_id])
        self._owners = np.array(owners, dtype=np.int32)
        self._vectors = encoder.encode(texts)
        self._words = [content_words(t) for t in texts]
        counts = Counter(w for words in self._words for w in words)
        total = len(texts)
        self._idf = {w: math.log(1 + total / c) for w, c in counts.items()}
        self._unknown_idf = math.log(1 + total)
        by_word: dict[str, list[int]] = {}
        for row, words in enumerate(self._words):
            for w in words:
                by_word.setdefault(w, []).append(row)
        # Every turn that no command explains is scored against every row, on the event loop: kept in numpy.
        self._by_word = {w: np.array(rows, dtype=np.int32) for w, rows in by_word.items()}
        self._row_weight = np.array([sum(self._idf[w] for w in words) for words in self._words], dtype=np.float32)

    @property
    def entries(self) -> tuple[KnowledgeEntry, ...]:
        return self._knowledge.entries

    def _weight(self, word: str) -> float:
        return self._idf.get(word, self._unknown_idf)

    def scores(self, text: str) -> np.ndarray:
        """One score per knowledge-base entry, in file order."""
        query = self._encoder.encode([text])[0]
        combined = MEANING_WEIGHT * (self._vectors @ query)
        words = content_words(text)
        if words:
            mine = sum(self._weight(w) for w in words)
            shared = np.zeros(len(self._words), dtype=np.float32)
            for w in words:
                if (rows := self._by_word.get(w)) is not None:
                    shared[rows] += self._weight(w)  # a row lists each of its words once: no repeated index
            union = mine + self._row_weight - shared
            combined += (1 - MEANING_WEIGHT) * shared / union
        best = np.full(len(self._knowledge.entries), -1.0, dtype=np.float32)
        np.maximum.at(best, self._owners, combined)
        return best

    def match(self, text: str, topics: Mapping[str, float] | None = None) -> QuestionMatch:
        """`topics`: the risk model's topic scores for this message, by entry id, when it has read it."""
        if not text.strip():
            return NO_MATCH
        scores = self.scores(text)
        if topics is not None:
            scores = scores + TOPIC_WEIGHT * self._topic_vector(topics)
        order = np.argsort(-scores)
        top = float(scores[order[0]])
        second = float(scores[order[1]]) if len(order) > 1 else -1.0
        entries = self._knowledge.entries
        nearest = tuple(entries[i] for i in order[:MAX_SUGGESTIONS])
        answer_at = ANSWER_AT if topics is None else TOPIC_ANSWER_AT
        if top >= answer_at and top - second >= CLEAR_MARGIN:
            return QuestionMatch(entries[order[0]], (), top, nearest)
        if top >= SUGGEST_AT:
            close = [entries[i] for i in order[:MAX_SUGGESTIONS] if scores[i] >= max(SUGGEST_AT, top - 0.12)]
            return QuestionMatch(None, tuple(close), top, nearest)
        return QuestionMatch(None, (), top, nearest)

    def _topic_vector(self, topics: Mapping[str, float]) -> np.ndarray:
        vector = np.zeros(len(self._knowledge.entries), dtype=np.float32)
        for entry_id, score in topics.items():
            if (row := self._entry_row.get(entry_id)) is not None:
                vector[row] = score
        return vector

    def closest(self, text: str, count: int = MAX_SUGGESTIONS) -> Sequence[KnowledgeEntry]:
        """The nearest entries whatever their score: for "here is what I can help with" replies."""
        scores = self.scores(text)
        return [self._knowledge.entries[i] for i in np.argsort(-scores)[:count]]
