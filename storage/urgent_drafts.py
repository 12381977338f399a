"""Urgent report drafts being written, and which of them have gone silent for too long.

A row exists while a learner is part-way through a report in which they said someone may be in danger. Every turn
of theirs pushes `due_at` on; once it passes, one instance claims the row (compare-and-set, so of two instances
exactly one wins, on SQLite and PostgreSQL alike), sends the draft on, and removes the row unless the learner wrote
again meanwhile. Keyword-only functions over an AsyncSession; the caller commits.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import CursorResult, and_, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import UrgentDraft


def _insert(session: AsyncSession) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


async def arm(*, session: AsyncSession, conversation_id: str, reference: str, due_at: dt.datetime) -> None:
    """Watch this conversation's draft until `due_at` (later than any earlier watch: the learner wrote again)."""
    stmt = _insert(session)(UrgentDraft).values(
        conversation_id=conversation_id, reference=reference, due_at=due_at, claimed_until=None
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["conversation_id"],
            set_={"reference": reference, "due_at": due_at, "claimed_until": None},
        )
    )


async def disarm(*, session: AsyncSession, conversation_id: str) -> None:
    """The report was sent, put aside or is no longer urgent: nothing to send on its behalf."""
    await session.execute(delete(UrgentDraft).where(col(UrgentDraft.conversation_id) == conversation_id))


def _due(now: dt.datetime) -> Any:
    return and_(
        col(UrgentDraft.due_at) <= now,
        or_(col(UrgentDraft.claimed_until).is_(None), col(UrgentDraft.claimed_until) < now),
    )


async def claim_due(
    *, session: AsyncSession, now: dt.datetime, lease_seconds: float, limit: int = 20
) -> list[UrgentDraft]:
    """Drafts silent past their time, each claimed by this caller for `lease_seconds` (or left to whoever has it)."""
    rows = await session.execute(
        select(UrgentDraft)
        .where(_due(now))
        .order_by(col(UrgentDraft.due_at))
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    lease_until = now + dt.timedelta(seconds=lease_seconds)
    claimed: list[UrgentDraft] = []
    for row in rows.scalars().all():
        result = await session.execute(
            update(UrgentDraft)
            .where(
                col(UrgentDraft.conversation_id) == row.conversation_id,
                col(UrgentDraft.due_at) == row.due_at,
                _due(now),
            )
            .values(claimed_until=lease_until)
            .execution_options(synchronize_session=False)
        )
        if cast("CursorResult[Any]", result).rowcount == 1:
            claimed.append(row)
    return claimed


async def finish(*, session: AsyncSession, conversation_id: str, due_at: dt.datetime) -> None:
    """Done with the silence that ended at `due_at`; a watch the learner renewed since is kept."""
    await session.execute(
        delete(UrgentDraft).where(
            col(UrgentDraft.conversation_id) == conversation_id, col(UrgentDraft.due_at) == due_at
        )
    )


async def watched(*, session: AsyncSession) -> list[UrgentDraft]:
    rows = await session.execute(select(UrgentDraft).order_by(col(UrgentDraft.due_at)))
    return list(rows.scalars())
