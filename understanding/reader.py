"""One reading of one message: the lexicon and the learned model together, and answers to questions.

The lexicon is a floor: a message is high if either layer says so. Every flag records which layer fired, the
category and the score, so a DSO can see why ("model: Harm to other people or weapons, 0.93" or
"lexicon: self_harm.method"), and that goes into the case's chronology.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import ClassVar

from content.common import DEFAULT_CONTENT_DIR
from understanding.artifacts import MODEL_DIR, load_manifest
from understanding.categories import RiskCategories
from understanding.corpus_files import NONE_CATEGORIES, TRAIN_DIR, read_split
from understanding.knowledge import KnowledgeBase
from understanding.lexicon import Assessment, Severity, Triage
from understanding.questions import QuestionMatch, QuestionMatcher
from understanding.risk_model import ModelReading, RiskModel
from understanding.static_encoder import StaticEncoder

# The lexicon's own categories, as the corpus names them.
LEXICON_CATEGORY = {
    "self_harm": "self_harm",
    "harm_to_others": "harm_to_others",
    "weapons_attack": "attack_planning",
    "extremism": "radicalisation",
    "grooming_sextortion": "sexual_abuse",
    "abuse": "domestic_abuse",
}
CACHE_SIZE = 4096
# A message nothing else understood gets a gentle check-in, not suggestions, when the model gives a risk or worry
# category at least this likely, or puts this much of its weight on medium or high.
DISTRESS_CATEGORY_AT = 0.5
DISTRESS_FLAG_SHARE = 0.5  # of the medium threshold
# Long, roundabout questions about reporting ("if i tell you about something my mates did would i get in trouble")
# share words with disclosures, and the recall-first threshold reads many of them as high. When the model itself
# reads the message as a question (at least QUESTION_AT) and the knowledge base answers it confidently, a model
# verdict below QUESTION_VETO_BELOW is stood down and the question is answered; the lexicon still counts. Chosen on
# the held-out writers w4 and w9: questions read as high 32/114 -> 6/114, no high message or worry stood down.
QUESTION_AT = 0.3
QUESTION_VETO_BELOW = 0.5


@dataclass(frozen=True, slots=True)
class Reading:
    severity: Severity
    category: str | None  # a corpus category ("harm_to_others", "low_mood"), or None when nothing was seen
    layer: str  # "model", "lexicon", "model+lexicon", or "" when not flagged
    score: float  # the model's probability behind its verdict; 1.0 for a lexicon-only flag
    lexicon: Assessment
    model: ModelReading | None = None
    distressed: bool = False
    routes: tuple[str, ...] = field(default=())  # triage.yaml categories whose emergency contacts apply

    @property
    def flagged(self) -> bool:
        return self.severity is not Severity.NONE

    def audit(self, categories: RiskCategories) -> str:
        """Why it was flagged, for the DSO: each layer that fired, with its category and score."""
        parts = []
        if "model" in self.layer and self.model is not None and self.category:
            parts.append(f"model: {categories.label(self.category)}, {self.score:.2f}")
        if "lexicon" in self.layer:
            parts.append("lexicon: " + ", ".join(self.lexicon.matched[:3]))
        return "; ".join(parts)


class Understanding:
    """Loaded once per process (`Understanding.shared`): the model files are large and their hashes are checked."""

    _shared: ClassVar[dict[tuple[Path, Path], Understanding]] = {}
    _lock = threading.Lock()
    loads: ClassVar[int] = 0  # how many times model files were read in this process (a test checks it stays at one)

    def __init__(
        self,
        *,
        lexicon: Triage,
        model: RiskModel,
        high_at: float,
        medium_at: float,
        categories: RiskCategories,
        questions: QuestionMatcher,
        workers: int = 2,
    ) -> None:
        self.lexicon = lexicon
        self.categories = categories
        self.questions = questions
        self._model = model
        self.high_at = high_at
        self.medium_at = medium_at
        # A bounded pool: at most `workers` messages are read at once; more wait their turn, never the loop.
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="understanding")
        self._cache: OrderedDict[str, Reading] = OrderedDict()
        self._cache_lock = threading.Lock()

    @classmethod
    def shared(
        cls,
        lexicon: Triage,
        signpost_ids: Collection[str],
        content_dir: Path = DEFAULT_CONTENT_DIR,
        model_dir: Path = MODEL_DIR,
    ) -> Understanding:
        key = (content_dir.resolve(), model_dir.resolve())
        with cls._lock:
            if key not in cls._shared:
                cls._shared[key] = cls.load(lexicon, signpost_ids, content_dir, model_dir)
            return cls._shared[key]

    @classmethod
    def load(
        cls,
        lexicon: Triage,
        signpost_ids: Collection[str],
        content_dir: Path = DEFAULT_CONTENT_DIR,
        model_dir: Path = MODEL_DIR,
    ) -> Understanding:
        """`signpost_ids`: the directory's entries, which knowledge-base answers may name."""
        manifest = load_manifest(model_dir)
        data = manifest.data
        model = RiskModel.load(
            manifest.path("risk.onnx"),
            manifest.path("risk_tokenizer.json"),
            tuple(data["categories"]),
            int(data["max_tokens"]),
            tuple(data.get("topics", ())),
        )
        encoder = StaticEncoder.load(manifest.path("static.safetensors"), manifest.path("static_tokenizer.json"))
        knowledge = KnowledgeBase.load(signpost_ids, content_dir)
        examples = [(m.text, m.topic) for m in read_split(TRAIN_DIR) if m.category == "question" and m.topic]
        questions = QuestionMatcher(knowledge, encoder, examples)
        categories = RiskCategories.load(lexicon.categories(), content_dir)
        cls.loads += 1
        return cls(
            lexicon=lexicon,
            model=model,
            high_at=float(data["thresholds"]["high_at"]),
            medium_at=float(data["thresholds"]["medium_at"]),
            categories=categories,
            questions=questions,
        )

    # Reading -----------------------------------------------------------------------------------------------

    def read(self, text: str) -> Reading:
        """Blocking (the model runs here): use `read_async` on the event loop."""
        key = " ".join(text.split())
        with self._cache_lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        lexicon = self.lexicon.assess(text)
        model = self._model.read(key) if key else None
        if model is not None and self._plainly_a_question(key, model):
            model = replace(model, p_none=model.p_none + model.p_medium + model.p_high, p_medium=0.0, p_high=0.0)
        reading = self._combine(lexicon, model)
        with self._cache_lock:
            self._cache[key] = reading
            if len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return reading

    def _plainly_a_question(self, key: str, model: ModelReading) -> bool:
        if model.p_high < self.high_at:
            return False  # a worry phrased as a question still gets the offer of help
        if model.category != "question" or model.category_score < QUESTION_AT or model.p_high >= QUESTION_VETO_BELOW:
            return False
        return self.questions.match(key, model.topics or None).answer is not None

    def read_words(self, text: str) -> Reading:
        """The lexicon alone (microseconds, on the loop): for known commands and button presses."""
        return self._combine(self.lexicon.assess(text), None)

    async def read_async(self, text: str) -> Reading:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self.read, text)

    def _combine(self, lexicon: Assessment, model: ModelReading | None) -> Reading:
        model_severity = Severity.NONE
        score = 0.0
        if model is not None:
            flag = model.p_medium + model.p_high
            if model.p_high >= self.high_at:
                model_severity, score = Severity.HIGH, model.p_high
            elif flag >= self.medium_at:
                model_severity, score = Severity.MEDIUM, flag
        severity = max(lexicon.severity, model_severity)
        if severity is Severity.NONE:
            distressed = model is not None and (
                (model.category not in NONE_CATEGORIES and model.category_score >= DISTRESS_CATEGORY_AT)
                or model.p_medium + model.p_high >= DISTRESS_FLAG_SHARE * self.medium_at
            )
            return Reading(Severity.NONE, None, "", 0.0, lexicon, model, distressed)
        layers = []
        if model_severity is severity:
            layers.append("model")
        if lexicon.severity is severity:
            layers.append("lexicon")
        category = self._category(lexicon, model, model_severity is severity)
        routes = set(lexicon.categories)  # the lexicon's categories are emergency routes already
        if category is not None and (route := self.categories.route(category)):
            routes.add(route)
        return Reading(
            severity,
            category,
            "+".join(layers),
            score if "model" in layers else 1.0,
            lexicon,
            model,
            True,
            tuple(sorted(routes)),
        )

    @staticmethod
    def _category(lexicon: Assessment, model: ModelReading | None, model_fired: bool) -> str | None:
        if model_fired and model is not None:
            return model.risk_category
        if lexicon.categories:
            return LEXICON_CATEGORY.get(lexicon.categories[0], lexicon.categories[0])
        return model.risk_category if model is not None else None

    # Questions ---------------------------------------------------------------------------------------------

    def answer(self, text: str) -> QuestionMatch:
        """The knowledge-base entry a message asks about. When the safety net has just read the message (it reads
        every free-text message first), the model's topic scores are blended in; otherwise words and the static
        vector decide alone."""
        key = " ".join(text.split())
        with self._cache_lock:
            reading = self._cache.get(key)
        topics = reading.model.topics if reading is not None and reading.model is not None else None
        return self.questions.match(text, topics or None)
