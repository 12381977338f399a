"""Answering a pulse survey by typing, in a 1:1 chat: "survey" asks the next unanswered question, one at a time.

The dialog keeps only which survey run and question it asked; each answer is stored as soon as it is typed, by the
survey service (bot/voice/surveys.py), so someone can stop at any point and carry on later, on a card or by typing.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Protocol

from botbuilder.core import TurnContext
from botbuilder.dialogs import Dialog, DialogContext, DialogTurnResult
from botbuilder.schema import ActivityTypes

SURVEY = "survey"


@dataclass(frozen=True, slots=True)
class AskedQuestion:
    run_id: int
    question_id: str
    text: str


class TypedAnswer(Protocol):
    @property
    def outcome(self) -> str: ...  # recorded | again | closed | flagged

    @property
    def reply(self) -> str | None: ...


class SurveyAnswers(Protocol):
    def next_prompt(self, context: TurnContext) -> Awaitable[AskedQuestion | None]: ...

    def answer_typed(
        self, context: TurnContext, run_id: int, question_id: str, text: str
    ) -> Awaitable[TypedAnswer]: ...

    def nothing_waiting(self) -> str: ...

    def done_text(self, run_id: int) -> str: ...


class SurveyDialog(Dialog):  # type: ignore[misc]
    def __init__(self, answers: SurveyAnswers) -> None:
        super().__init__(SURVEY)
        self._answers = answers

    async def begin_dialog(self, dialog_context: DialogContext, options: object = None) -> DialogTurnResult:
        asked = await self._ask(dialog_context)
        if asked is None:
            await dialog_context.context.send_activity(self._answers.nothing_waiting())
            return await dialog_context.end_dialog(None)
        return Dialog.end_of_turn

    async def continue_dialog(self, dialog_context: DialogContext) -> DialogTurnResult:
        context = dialog_context.context
        state = dialog_context.active_dialog.state
        if context.activity.type != ActivityTypes.message:
            return Dialog.end_of_turn
        text = (context.activity.text or "").strip()
        run_id, question_id = state.get("run_id"), state.get("question_id")
        if not text or not isinstance(run_id, int) or not isinstance(question_id, str):
            if await self._ask(dialog_context) is None:
                return await dialog_context.end_dialog(None)
            return Dialog.end_of_turn
        result = await self._answers.answer_typed(context, run_id, question_id, text)
        if result.reply:
            await context.send_activity(result.reply)
        if result.outcome == "again":
            return Dialog.end_of_turn
        if await self._ask(dialog_context) is None:
            if result.outcome != "closed":
                await context.send_activity(self._answers.done_text(run_id))
            return await dialog_context.end_dialog(None)
        return Dialog.end_of_turn

    async def _ask(self, dialog_context: DialogContext) -> AskedQuestion | None:
        asked = await self._answers.next_prompt(dialog_context.context)
        if asked is None:
            return None
        dialog_context.active_dialog.state.update({"run_id": asked.run_id, "question_id": asked.question_id})
        await dialog_context.context.send_activity(asked.text)
        return asked
