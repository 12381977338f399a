"""Store a finished self-paced quiz for the learner's record."""

from __future__ import annotations

from typing import Any

from botbuilder.core import TurnContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.edge.teams_context import aad_object_id
from content.quiz_bank import QuestionBank
from dialogs.quiz_dialog import outcome_from
from storage.models import QuizAnswerBase, QuizAttemptBase
from storage.quiz_attempts import record_attempt


class QuizResultRecorder:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], bank: QuestionBank) -> None:
        self._sessionmaker = sessionmaker
        self._bank = bank

    async def __call__(self, turn_context: TurnContext, result: Any) -> None:
        outcome = outcome_from(result)
        if outcome is None:
            return
        activity = turn_context.activity
        answers = []
        for question_id, chosen, correct in outcome.answers:
            question = self._bank.get(question_id)
            value = question.value.value if question is not None else "unknown"
            answers.append(QuizAnswerBase(question_id=question_id, value=value, chosen=chosen, correct=correct))
        attempt = QuizAttemptBase(
            user_aad_id=(aad_object_id(activity) or "").lower() or None,
            conversation_id=activity.conversation.id,
            mode="self",
            value=outcome.value,
            question_count=len(outcome.answers),
            score=outcome.score,
            started_at=outcome.started_at,
        )
        async with self._sessionmaker.begin() as session:
            await record_attempt(session=session, attempt=attempt, answers=answers)
