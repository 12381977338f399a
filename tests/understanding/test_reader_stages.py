"""How the model reads a message: whole and part by part in one call, so a risk told in one sentence of a long,
ordinary message is not averaged away; and a question the safety net read is answered with the model's topics."""

from __future__ import annotations

import copy

import pytest

from content.directory import Directory
from understanding.lexicon import DEFAULT_TRIAGE_PATH, Severity, Triage
from understanding.reader import Understanding
from understanding.risk_model import ModelReading, RiskModel, model_text, parts_of

SIGNPOSTS = {entry.id for entry in Directory.load().entries()}
ORDINARY = "college was alright today and i did my colour theory test and i think i passed it"
RISK = "i've been saving my mum's sleeping tablets for weeks and i'm taking them all tonight"


@pytest.fixture(scope="module")
def understanding() -> Understanding:
    return Understanding.shared(Triage.load(DEFAULT_TRIAGE_PATH), SIGNPOSTS)


class CountingModel:
    """The real model, counting its calls (each call is one batch through onnxruntime)."""

    def __init__(self, model: RiskModel) -> None:
        self._model = model
        self.calls: list[list[str]] = []

    def predict(self, texts: list[str]) -> list[ModelReading]:
        self.calls.append(texts)
        return self._model.predict(texts)


def test_a_message_breaks_into_its_sentences_and_turns_of_thought() -> None:
    assert parts_of("i drank bleach like 10 mins ago") == []
    assert parts_of(f"{ORDINARY}. {RISK}") == [ORDINARY, RISK]
    assert parts_of("did a tyre change today nothing exciting, but he says he's got a blade") == [
        "did a tyre change today nothing exciting",
        "but he says he's got a blade",
    ]
    assert parts_of("ok. fine. yes") == [], "fragments under three words are not parts"


def test_a_risk_in_one_sentence_of_a_long_ordinary_message_is_read_as_that_sentence(
    understanding: Understanding,
) -> None:
    model: RiskModel = understanding._model
    whole = model.predict([f"{ORDINARY}. {RISK}"])[0]
    alone = model.predict([RISK])[0]
    read = model.read(f"{ORDINARY}. {RISK}")
    # One batch pads to its longest text, which moves int8 results a little from one-at-a-time.
    assert read.p_high == pytest.approx(max(whole.p_high, alone.p_high), abs=0.02)
    assert read.p_high >= understanding.high_at
    assert read.p_none + read.p_medium + read.p_high == pytest.approx(1.0, abs=1e-3)
    assert understanding.read(f"{ORDINARY}. {RISK}").severity is Severity.HIGH


def test_the_whole_and_its_parts_go_through_the_model_in_one_call(understanding: Understanding) -> None:
    model = copy.copy(understanding._model)
    counting = CountingModel(understanding._model)
    model.predict = counting.predict  # type: ignore[method-assign]
    model.read(f"{ORDINARY}. {RISK}")
    assert counting.calls == [[f"{ORDINARY}. {RISK}", ORDINARY, RISK]]


def test_a_roundabout_question_is_answered_not_flagged_with_the_models_topics_blended_in(
    understanding: Understanding,
) -> None:
    # (The model trained with w11 reads the earlier example, "sorry if this is daft but who is the actual
    # safeguarding lead person here and how do i reach them", at p_high 0.113, just over its high_at 0.109: a false
    # alarm the recall-first thresholds accept.)
    question = "sorry to bother you but how would i get hold of the safeguarding lead if i ever needed them"
    reading = understanding.read(question)
    assert reading.severity is Severity.NONE
    assert reading.model is not None and reading.model.topics, "the model gives topic scores"
    match = understanding.answer(question)  # the reading above is in the cache: its topics are blended in
    people = ("dso_who", "deputy_who", "contact_dso", "safeguarding_team")
    assert match.answer is not None and match.answer.id in people
    assert match.score > understanding.questions.match(question, None).score


def test_the_model_reads_a_message_without_its_emoji() -> None:
    assert model_text("i drank bleach like 10 mins ago 😭😭") == "i drank bleach like 10 mins ago"
    assert model_text("love u ❤️ x 👍🏽") == "love u x", "joiners, variation selectors and skin tones go too"
    assert model_text("£5 at the café – naïve  me") == "£5 at the café – naïve me", "letters and money stay"


@pytest.mark.parametrize("emoji", ["", " 😭", " 😭😭", " 😂", " 🙏🏽"])
def test_an_emoji_does_not_turn_a_risk_into_nothing(understanding: Understanding, emoji: str) -> None:
    # Every emoji was one [UNK] token to MiniLM, which the model had learned from banter to read as harmless.
    for text in ("i drank bleach like 10 mins ago", "my nans fallen and shes not responding and theres blood"):
        assert understanding.read(text + emoji).severity is Severity.HIGH, text + emoji
