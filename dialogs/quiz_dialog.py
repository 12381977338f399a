"""The self-paced British values quiz in a 1:1 chat: pick a value and a length, then one card a question.

Everything the dialog remembers between turns is plain data (question ids, chosen indexes), so it survives a
restart and can continue on another instance.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from botbuilder.core import CardFactory, MessageFactory
from botbuilder.dialogs import (
    ComponentDialog,
    DialogTurnResult,
    PromptOptions,
    PromptValidatorContext,
    TextPrompt,
    WaterfallDialog,
    WaterfallStepContext,
)

from cards.choice_card import Choice, choice_card
from cards.elements import Card
from cards.quiz_card import LETTERS, question_card
from content.quiz_bank import Question, QuestionBank, QuizValue, match_answer
from content.texts import Texts
from dialogs.router import normalise

QUIZ = "quiz"
_VALUE_PROMPT = "quiz.value"
_LENGTH_PROMPT = "quiz.length"
_ANSWER_PROMPT = "quiz.answer"
_QUESTION_LOOP = "quiz.question"
_MAIN = "quiz.main"
MIXED = "mixed"
LENGTHS = (5, 10)

_VALUE_WORDS: dict[str, str] = {
    "democracy": QuizValue.DEMOCRACY,
    "rule of law": QuizValue.RULE_OF_LAW,
    "the rule of law": QuizValue.RULE_OF_LAW,
    "law": QuizValue.RULE_OF_LAW,
    "individual liberty": QuizValue.INDIVIDUAL_LIBERTY,
    "liberty": QuizValue.INDIVIDUAL_LIBERTY,
    "mutual respect": QuizValue.MUTUAL_RESPECT,
    "mutual respect and tolerance": QuizValue.MUTUAL_RESPECT,
    "respect": QuizValue.MUTUAL_RESPECT,
    "tolerance": QuizValue.MUTUAL_RESPECT,
    "mixed": MIXED,
    "mix": MIXED,
    "a mix of all four": MIXED,
    "all": MIXED,
}
_VALUE_ORDER = [*(v.value for v in QuizValue), MIXED]
_LENGTH_WORDS = {"5": 5, "five": 5, "10": 10, "ten": 10}


@dataclass(frozen=True, slots=True)
class QuizOutcome:
    """What the parent stores when a quiz ends."""

    value: str
    started_at: dt.datetime
    answers: list[tuple[str, int, bool]]  # (question id, chosen option, correct)

    @property
    def score(self) -> int:
        return sum(1 for _, _, correct in self.answers if correct)


def parse_value(text: str) -> str | None:
    said = normalise(text)
    if said in _VALUE_WORDS:
        return str(_VALUE_WORDS[said])
    if said.isdigit() and 1 <= int(said) <= len(_VALUE_ORDER):
        return _VALUE_ORDER[int(said) - 1]
    return None


def parse_length(text: str) -> int | None:
    return _LENGTH_WORDS.get(normalise(text).removesuffix(" questions"))


def outcome_from(result: Any) -> QuizOutcome | None:
    """Rebuild the outcome from the plain dict a finished quiz returns."""
    if not isinstance(result, dict) or "answers" not in result:
        return None
    return QuizOutcome(
        value=str(result["value"]),
        started_at=dt.datetime.fromisoformat(result["started_at"]),
        answers=[(str(q), int(c), bool(ok)) for q, c, ok in result["answers"]],
    )


class QuizDialog(ComponentDialog):  # type: ignore[misc]
    def __init__(self, bank: QuestionBank, texts: Texts, rng: random.Random | None = None) -> None:
        super().__init__(QUIZ)
        self._bank = bank
        self._texts = texts
        self._rng = rng or random.SystemRandom()
        self.add_dialog(TextPrompt(_VALUE_PROMPT, self._value_valid))
        self.add_dialog(TextPrompt(_LENGTH_PROMPT, self._length_valid))
        self.add_dialog(TextPrompt(_ANSWER_PROMPT, self._answer_valid))
        self.add_dialog(WaterfallDialog(_MAIN, [self.value_step, self.length_step, self.start_step, self.end_step]))
        self.add_dialog(WaterfallDialog(_QUESTION_LOOP, [self.ask_step, self.check_step]))
        self.initial_dialog_id = _MAIN

    # Choosing -------------------------------------------------------------------------------------------

    def _card(self, card: Card) -> Any:
        return MessageFactory.attachment(CardFactory.adaptive_card(card))

    async def value_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        choices = [Choice(self._texts.get(f"quiz.values.{key}"), key.replace("_", " ")) for key in _VALUE_ORDER]
        card = choice_card(self._texts.get("quiz.choose_value"), self._texts.get("quiz.choose_value_hint"), choices)
        return await step.prompt(
            _VALUE_PROMPT,
            PromptOptions(
                prompt=self._card(card), retry_prompt=MessageFactory.text(self._texts.get("quiz.choose_value_retry"))
            ),
        )

    async def length_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        step.values["value"] = parse_value(step.result)
        card = choice_card(self._texts.get("quiz.choose_length"), "", [Choice(str(n), str(n)) for n in LENGTHS])
        return await step.prompt(
            _LENGTH_PROMPT,
            PromptOptions(
                prompt=self._card(card), retry_prompt=MessageFactory.text(self._texts.get("quiz.choose_length_retry"))
            ),
        )

    async def start_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        value = step.values["value"]
        count = parse_length(step.result) or LENGTHS[0]
        questions = self._bank.draw(None if value == MIXED else QuizValue(value), count, self._rng)
        state = {
            "value": value,
            "started_at": dt.datetime.now(dt.UTC).isoformat(),
            "question_ids": [q.id for q in questions],
            "index": 0,
            "answers": [],
        }
        return await step.begin_dialog(_QUESTION_LOOP, state)

    async def end_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        state: dict[str, Any] = step.result
        answers = state["answers"]
        score = sum(1 for _, _, correct in answers if correct)
        lines = [self._texts.get("quiz.score", score=score, total=len(answers))]
        missed = [self._bank.get(qid) for qid, _, correct in answers if not correct]
        if not missed:
            lines.append(self._texts.get("quiz.score_all_right"))
        else:
            lines.append(self._texts.get("quiz.review_heading"))
            lines += [
                "- " + self._texts.get("quiz.review_item", stem=q.stem, answer=q.options[q.answer])
                for q in missed
                if q is not None
            ]
        await step.context.send_activity("\n\n".join(lines))
        return await step.end_dialog({"value": state["value"], "started_at": state["started_at"], "answers": answers})

    # The question loop ----------------------------------------------------------------------------------

    def _question(self, state: dict[str, Any]) -> Question:
        question = self._bank.get(state["question_ids"][state["index"]])
        if question is None:  # only if a question was deleted (not retired) from the files mid-quiz
            raise LookupError(f"quiz question {state['question_ids'][state['index']]} no longer exists")
        return question

    async def ask_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        state: dict[str, Any] = step.options
        step.values["state"] = state
        question = self._question(state)
        heading = self._texts.get("quiz.question_heading", number=state["index"] + 1, total=len(state["question_ids"]))
        card = question_card(heading, question.stem, list(question.options), self._texts.get("quiz.answer_hint"))
        retry = self._texts.get("quiz.answer_retry", last=LETTERS[len(question.options) - 1])
        return await step.prompt(
            _ANSWER_PROMPT,
            PromptOptions(
                prompt=self._card(card),
                retry_prompt=MessageFactory.text(retry),
                validations={"question_id": question.id},
            ),
        )

    async def check_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        state: dict[str, Any] = step.values["state"]
        question = self._question(state)
        chosen = match_answer(question, step.result)
        assert chosen is not None  # the validator let only recognisable answers through
        correct = chosen == question.answer
        if correct:
            feedback = self._texts.get("quiz.right", explanation=question.explanation)
        else:
            feedback = self._texts.get(
                "quiz.wrong",
                letter=LETTERS[question.answer],
                answer=question.options[question.answer],
                explanation=question.explanation,
            )
        await step.context.send_activity(feedback)
        state = {**state, "answers": [*state["answers"], [question.id, chosen, correct]], "index": state["index"] + 1}
        if state["index"] < len(state["question_ids"]):
            return await step.replace_dialog(_QUESTION_LOOP, state)
        return await step.end_dialog(state)

    # Validators -----------------------------------------------------------------------------------------

    @staticmethod
    async def _value_valid(prompt: PromptValidatorContext) -> bool:
        return prompt.recognized.succeeded and parse_value(prompt.recognized.value or "") is not None

    @staticmethod
    async def _length_valid(prompt: PromptValidatorContext) -> bool:
        return prompt.recognized.succeeded and parse_length(prompt.recognized.value or "") is not None

    async def _answer_valid(self, prompt: PromptValidatorContext) -> bool:
        question_id = (prompt.options.validations or {}).get("question_id")
        question = self._bank.get(question_id) if question_id else None
        if question is None or not prompt.recognized.succeeded:
            return False
        return match_answer(question, prompt.recognized.value or "") is not None
