"""Pulse surveys: who a survey went to, and the answers under per-survey pseudonyms. The caller commits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import ConversationRefRecord, SurveyAnswer, SurveyInvite, SurveyRun


def _insert(session: AsyncSession) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


async def create_run(*, session: AsyncSession, run: SurveyRun) -> SurveyRun | None:
    """Start a survey; None when it was already started (by anyone, on any instance)."""
    values = run.model_dump(exclude={"id"})
    result = await session.execute(
        _insert(session)(SurveyRun).values(**values).on_conflict_do_nothing(index_elements=["survey_name"])
    )
    if cast("CursorResult[Any]", result).rowcount != 1:
        return None
    return await run_named(session=session, survey_name=run.survey_name)


async def run_named(*, session: AsyncSession, survey_name: str) -> SurveyRun | None:
    rows = await session.execute(
        select(SurveyRun).where(col(SurveyRun.survey_name) == survey_name).execution_options(populate_existing=True)
    )
    return rows.scalars().first()


async def get_run(*, session: AsyncSession, run_id: int) -> SurveyRun | None:
    rows = await session.execute(
        select(SurveyRun).where(col(SurveyRun.id) == run_id).execution_options(populate_existing=True)
    )
    return rows.scalars().first()


async def add_invites(*, session: AsyncSession, run_id: int, aad_object_ids: Iterable[str]) -> None:
    ids = sorted({a.strip().lower() for a in aad_object_ids if a.strip()})
    if not ids:
        return
    await session.execute(
        _insert(session)(SurveyInvite)
        .values([{"run_id": run_id, "aad_object_id": a} for a in ids])
        .on_conflict_do_nothing(index_elements=["run_id", "aad_object_id"])
    )


async def invitees(*, session: AsyncSession, run_id: int) -> list[str]:
    rows = await session.execute(
        select(col(SurveyInvite.aad_object_id))
        .where(col(SurveyInvite.run_id) == run_id)
        .order_by(col(SurveyInvite.aad_object_id))
    )
    return list(rows.scalars())


async def open_runs_for(*, session: AsyncSession, aad_object_id: str, now: dt.datetime) -> list[SurveyRun]:
    """The surveys sent to this person whose window has not closed, oldest first."""
    rows = await session.execute(
        select(SurveyRun)
        .join(SurveyInvite, col(SurveyInvite.run_id) == col(SurveyRun.id))
        .where(col(SurveyInvite.aad_object_id) == aad_object_id.strip().lower(), col(SurveyRun.closes_at) > now)
        .order_by(col(SurveyRun.id))
    )
    return list(rows.scalars())


async def record_answer(*, session: AsyncSession, answer: SurveyAnswer) -> bool:
    """Store one answer; False when this respondent already answered this question (the first one stands)."""
    values = answer.model_dump(exclude={"id"})
    result = await session.execute(
        _insert(session)(SurveyAnswer)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["run_id", "respondent", "question_id"])
    )
    return cast("CursorResult[Any]", result).rowcount == 1


async def answered(*, session: AsyncSession, run_id: int, respondent: str) -> set[str]:
    rows = await session.execute(
        select(col(SurveyAnswer.question_id)).where(
            col(SurveyAnswer.run_id) == run_id, col(SurveyAnswer.respondent) == respondent
        )
    )
    return set(rows.scalars())


async def answers(*, session: AsyncSession, run_id: int) -> list[SurveyAnswer]:
    rows = await session.execute(
        select(SurveyAnswer)
        .where(col(SurveyAnswer.run_id) == run_id)
        .order_by(col(SurveyAnswer.respondent), col(SurveyAnswer.id))
    )
    return list(rows.scalars())


async def due_reminders(*, session: AsyncSession, now: dt.datetime) -> list[SurveyRun]:
    rows = await session.execute(
        select(SurveyRun).where(
            col(SurveyRun.reminded_at).is_(None), col(SurveyRun.remind_at) <= now, col(SurveyRun.closes_at) > now
        )
    )
    return list(rows.scalars())


async def claim_reminder(*, session: AsyncSession, run_id: int, now: dt.datetime) -> bool:
    """True for exactly one caller, whichever instance asks first: the reminder goes out once."""
    result = await session.execute(
        update(SurveyRun)
        .where(col(SurveyRun.id) == run_id, col(SurveyRun.reminded_at).is_(None))
        .values(reminded_at=now)
        .execution_options(synchronize_session=False)
    )
    return cast("CursorResult[Any]", result).rowcount == 1


async def people_with_personal_chats(*, session: AsyncSession) -> list[str]:
    """Everyone the bot has a 1:1 chat with (Entra ids): "all learners" is the learners among them."""

    rows = await session.execute(
        select(col(ConversationRefRecord.user_aad_id))
        .where(
            col(ConversationRefRecord.conversation_type) == "personal",
            col(ConversationRefRecord.user_aad_id).is_not(None),
        )
        .distinct()
    )
    return sorted(str(a) for a in rows.scalars() if a)


async def is_invited(*, session: AsyncSession, run_id: int, aad_object_id: str) -> bool:
    rows = await session.execute(
        select(col(SurveyInvite.id)).where(
            col(SurveyInvite.run_id) == run_id, col(SurveyInvite.aad_object_id) == aad_object_id.strip().lower()
        )
    )
    return rows.first() is not None
