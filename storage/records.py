"""Reading records out whole, for exports and subject access, and the audit of who did so.

Nothing here limits what it returns: an export that silently stopped at some number of rows would be a
record that looks complete and is not.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import (
    AuditEntry,
    Case,
    CaseEvent,
    ConversationLogEntry,
    QuizAnswer,
    QuizAttempt,
)
from storage.types import utcnow


@dataclass(frozen=True, slots=True)
class CaseBundle:
    """A case, its whole chronology in chain order, and the conversation it was reported from."""

    case: Case
    events: list[CaseEvent]
    conversation: list[ConversationLogEntry]


async def conversation(*, session: AsyncSession, conversation_id: str) -> list[ConversationLogEntry]:
    rows = await session.execute(
        select(ConversationLogEntry)
        .where(col(ConversationLogEntry.conversation_id) == conversation_id)
        .order_by(col(ConversationLogEntry.created_at), col(ConversationLogEntry.id))
    )
    return list(rows.scalars())


async def events_of(*, session: AsyncSession, case_id: int) -> list[CaseEvent]:
    rows = await session.execute(
        select(CaseEvent).where(col(CaseEvent.case_id) == case_id).order_by(col(CaseEvent.seq), col(CaseEvent.id))
    )
    return list(rows.scalars())


async def case_bundle(*, session: AsyncSession, reference: str) -> CaseBundle | None:
    rows = await session.execute(
        select(Case).where(col(Case.reference) == reference.strip().upper()).execution_options(populate_existing=True)
    )
    case = rows.scalars().first()
    if case is None or case.id is None:
        return None
    log = []
    if case.reporter_conversation_id:
        log = await conversation(session=session, conversation_id=case.reporter_conversation_id)
    return CaseBundle(case=case, events=await events_of(session=session, case_id=case.id), conversation=log)


async def all_cases(*, session: AsyncSession) -> list[Case]:
    rows = await session.execute(select(Case).order_by(col(Case.created_at), col(Case.id)))
    return list(rows.scalars())


async def record_audit(*, session: AsyncSession, action: str, actor: str, detail: Mapping[str, Any]) -> None:
    """Note an administrative read or release; `detail` carries counts and ids, never what anyone wrote."""
    session.add(AuditEntry(at=utcnow(), action=action, actor=actor, detail=json.dumps(dict(detail), default=str)))


# Subject access ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubjectRecords:
    aad_id: str
    names: list[str]  # the names this person has been seen under (Teams, their reports)
    reported: list[CaseBundle]  # cases they reported
    about_by_name: list[CaseBundle]  # cases naming them as the subject, matched by name only
    messages: list[ConversationLogEntry]  # what they sent
    quiz: list[tuple[QuizAttempt, list[QuizAnswer]]]


async def subject_records(*, session: AsyncSession, aad_id: str, extra_names: list[str]) -> SubjectRecords:
    wanted = aad_id.strip().lower()
    messages = list(
        (
            await session.execute(
                select(ConversationLogEntry)
                .where(func.lower(col(ConversationLogEntry.user_aad_id)) == wanted)
                .where(col(ConversationLogEntry.direction) == "in")
                .order_by(col(ConversationLogEntry.created_at), col(ConversationLogEntry.id))
            )
        ).scalars()
    )
    reported_cases = list(
        (
            await session.execute(
                select(Case)
                .where(func.lower(col(Case.reporter_aad_id)) == wanted)
                .order_by(col(Case.created_at), col(Case.id))
            )
        ).scalars()
    )
    names = {m.user_name.strip() for m in messages if m.user_name and m.user_name.strip()}
    names |= {c.reporter_name.strip() for c in reported_cases if c.reporter_name and c.reporter_name.strip()}
    names |= {n.strip() for n in extra_names if n.strip()}
    reported = []
    for case in reported_cases:
        assert case.id is not None
        reported.append(
            CaseBundle(case=case, events=await events_of(session=session, case_id=case.id), conversation=[])
        )
    about: list[CaseBundle] = []
    # Cases store the subject's name only (as the reporter typed it), so a name is all there is to match on.
    lowered = sorted({n.lower() for n in names})
    if lowered:
        rows = await session.execute(
            select(Case)
            .where(or_(*(func.lower(func.trim(col(Case.subject_name))) == n for n in lowered)))
            .where(or_(col(Case.reporter_aad_id).is_(None), func.lower(col(Case.reporter_aad_id)) != wanted))
            .order_by(col(Case.created_at), col(Case.id))
        )
        for case in rows.scalars():
            assert case.id is not None
            about.append(
                CaseBundle(case=case, events=await events_of(session=session, case_id=case.id), conversation=[])
            )
    attempts = list(
        (
            await session.execute(
                select(QuizAttempt)
                .where(func.lower(col(QuizAttempt.user_aad_id)) == wanted)
                .order_by(col(QuizAttempt.finished_at), col(QuizAttempt.id))
            )
        ).scalars()
    )
    quiz = []
    for attempt in attempts:
        answers = await session.execute(
            select(QuizAnswer).where(col(QuizAnswer.attempt_id) == attempt.id).order_by(col(QuizAnswer.id))
        )
        quiz.append((attempt, list(answers.scalars())))
    return SubjectRecords(
        aad_id=wanted,
        names=sorted(names),
        reported=reported,
        about_by_name=about,
        messages=messages,
        quiz=quiz,
    )


def plain(value: Any) -> Any:
    """A stored value as JSON would have it: times as ISO 8601 UTC."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
