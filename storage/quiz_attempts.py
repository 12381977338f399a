"""Stored quiz attempts: each learner's scores, per British value."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import QuizAnswer, QuizAnswerBase, QuizAttempt, QuizAttemptBase


async def record_attempt(*, session: AsyncSession, attempt: QuizAttemptBase, answers: Sequence[QuizAnswerBase]) -> int:
    """Store one finished quiz with its answers; the caller commits. Returns the attempt id."""
    row = QuizAttempt.model_validate(attempt)
    session.add(row)
    await session.flush()
    assert row.id is not None
    session.add_all([QuizAnswer(**answer.model_dump(), attempt_id=row.id) for answer in answers])
    return row.id


@dataclass(frozen=True, slots=True)
class ValueScore:
    value: str
    answered: int
    correct: int


async def scores_by_value(*, session: AsyncSession, user_aad_id: str) -> list[ValueScore]:
    """How one learner has done on each value, across every quiz they finished."""
    rows = await session.execute(
        select(
            col(QuizAnswer.value),
            func.count(),
            func.sum(case((col(QuizAnswer.correct), 1), else_=0)),
        )
        .join(QuizAttempt, col(QuizAttempt.id) == col(QuizAnswer.attempt_id))
        .where(col(QuizAttempt.user_aad_id) == user_aad_id.lower())
        .group_by(col(QuizAnswer.value))
        .order_by(col(QuizAnswer.value))
    )
    return [ValueScore(value=v, answered=int(n), correct=int(c or 0)) for v, n, c in rows]
