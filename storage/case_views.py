"""What the safeguarding team reads from the case store: the queue of open cases and one case's history.

Both page in the database (LIMIT/OFFSET with a count), so a long queue or history is never cut silently and never
read whole into memory. "Overdue" means what the reminders mean (bot/safeguarding/reminders.py): not picked up yet
and waiting longer than its acknowledgement limit (the urgent limit for an urgent case).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Case, CaseEvent, ConversationLogEntry


@dataclass(frozen=True, slots=True)
class QueueRow:
    case_id: int
    reference: str
    category: str
    status: str
    urgent: bool
    overdue: bool
    created_at: dt.datetime
    owner_name: str | None
    owner_aad_id: str | None
    version: int


@dataclass(frozen=True, slots=True)
class QueuePage:
    rows: tuple[QueueRow, ...]
    total: int  # every open case the queue holds, not only this page
    overdue: int
    page: int
    page_size: int

    @property
    def first(self) -> int:
        return self.page * self.page_size + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.page * self.page_size + len(self.rows)

    @property
    def has_more(self) -> bool:
        return self.last < self.total


def _overdue(now: dt.datetime, ack_minutes: int, urgent_ack_minutes: int) -> Any:
    return and_(
        col(Case.status) == "new",
        or_(
            and_(col(Case.urgent), col(Case.created_at) <= now - dt.timedelta(minutes=urgent_ack_minutes)),
            and_(~col(Case.urgent), col(Case.created_at) <= now - dt.timedelta(minutes=ack_minutes)),
        ),
    )


async def open_queue(
    *,
    session: AsyncSession,
    now: dt.datetime,
    ack_minutes: int,
    urgent_ack_minutes: int,
    page: int = 0,
    page_size: int = 10,
    owner_aad_id: str | None = None,
    mine: bool = False,
) -> QueuePage:
    """Open cases, overdue first, then urgent, then the longest waiting; `mine` keeps to one owner's cases."""
    page = max(0, page)
    overdue = _overdue(now, ack_minutes, urgent_ack_minutes)
    where = [col(Case.status) != "closed"]
    if mine:
        owner = (owner_aad_id or "").strip().lower()
        # A blank id must never match the cases nobody owns.
        where.append(func.lower(col(Case.owner_aad_id)) == owner if owner else false())
    overdue_flag = case((overdue, 1), else_=0)
    # The totals ride along as window aggregates: one pass over the open cases (on PostgreSQL an index-only scan)
    # gives the page and how many there are in all.
    rows = (
        await session.execute(
            select(
                col(Case.id),
                col(Case.reference),
                col(Case.category),
                col(Case.status),
                col(Case.urgent),
                overdue_flag,
                col(Case.created_at),
                col(Case.owner_name),
                col(Case.owner_aad_id),
                col(Case.version),
                func.count().over(),
                func.sum(overdue_flag).over(),
            )
            .where(*where)
            .order_by(overdue_flag.desc(), col(Case.urgent).desc(), col(Case.created_at), col(Case.id))
            .offset(page * page_size)
            .limit(page_size)
        )
    ).all()
    if rows:
        total, late_total = int(rows[0][10]), int(rows[0][11] or 0)
    else:  # past the end (or nothing open): the totals still have to be told
        counted = (
            await session.execute(select(func.count(), func.coalesce(func.sum(overdue_flag), 0)).where(*where))
        ).one()
        total, late_total = int(counted[0]), int(counted[1] or 0)
    return QueuePage(
        rows=tuple(
            QueueRow(
                case_id=int(r[0]),
                reference=r[1],
                category=r[2],
                status=r[3],
                urgent=bool(r[4]),
                overdue=bool(r[5]),
                created_at=r[6],
                owner_name=r[7],
                owner_aad_id=r[8],
                version=int(r[9]),
            )
            for r in rows
        ),
        total=total,
        overdue=late_total,
        page=page,
        page_size=page_size,
    )


@dataclass(frozen=True, slots=True)
class HistoryPage:
    case: Case
    events: tuple[CaseEvent, ...]  # oldest first
    total: int  # every event of the case
    page: int
    page_size: int

    @property
    def first(self) -> int:
        return self.page * self.page_size + 1 if self.events else 0

    @property
    def last(self) -> int:
        return self.page * self.page_size + len(self.events)

    @property
    def has_more(self) -> bool:
        return self.last < self.total


async def history(*, session: AsyncSession, case_id: int, page: int = 0, page_size: int = 15) -> HistoryPage | None:
    """One page of a case's chronology, oldest first, with how many events there are in all."""
    page = max(0, page)
    found = (
        await session.execute(select(Case).where(col(Case.id) == case_id).execution_options(populate_existing=True))
    ).scalar_one_or_none()
    if found is None:
        return None
    total = (await session.execute(select(func.count()).where(col(CaseEvent.case_id) == case_id))).scalar_one()
    events = await session.execute(
        select(CaseEvent)
        .where(col(CaseEvent.case_id) == case_id)
        .order_by(col(CaseEvent.at), col(CaseEvent.id))
        .offset(page * page_size)
        .limit(page_size)
    )
    return HistoryPage(case=found, events=tuple(events.scalars()), total=int(total), page=page, page_size=page_size)


async def conversation_of(
    *, session: AsyncSession, conversation_id: str, limit: int
) -> tuple[list[ConversationLogEntry], int]:
    """The first `limit` entries of a conversation's log, oldest first, and how many it holds in all."""
    total = (
        await session.execute(select(func.count()).where(col(ConversationLogEntry.conversation_id) == conversation_id))
    ).scalar_one()
    rows = await session.execute(
        select(ConversationLogEntry)
        .where(col(ConversationLogEntry.conversation_id) == conversation_id)
        .order_by(col(ConversationLogEntry.created_at), col(ConversationLogEntry.id))
        .limit(limit)
    )
    return list(rows.scalars()), int(total)
