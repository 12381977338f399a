"""What is waiting, for monitoring: the outbox's depth and lag, and the cases nobody has picked up yet.

Counts and ages only: nothing anybody wrote, no names, no references. Every instance on one database sees the
same figures (read them with max(), not sum(), across instances).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Case, OutboxMessage

# Outbox statuses that still owe Teams a message (the others are done with: sent, or given up on).
_UNDELIVERED = ("pending", "sending")


@dataclass(frozen=True, slots=True)
class Backlog:
    outbox_by_status: dict[str, int]  # every status but "sent", with how many messages are in it
    oldest_due_seconds: float  # how long the longest-due message has been due and not taken; 0 when none is
    oldest_undelivered_seconds: float  # age of the oldest message not yet delivered; 0 when none
    unacknowledged_cases: int
    oldest_unacknowledged_seconds: float  # how long the oldest new case has waited for a DSO; 0 when none


def _age(now: dt.datetime, since: dt.datetime | None) -> float:
    return max(0.0, (now - since).total_seconds()) if since is not None else 0.0


async def read_backlog(*, session: AsyncSession, now: dt.datetime) -> Backlog:
    by_status = await session.execute(
        select(col(OutboxMessage.status), func.count())
        .where(col(OutboxMessage.status) != "sent")
        .group_by(col(OutboxMessage.status))
    )
    # Due: pending and its time has come, or claimed by an instance whose lease ran out (it crashed, say).
    pending_due = await session.scalar(
        select(func.min(col(OutboxMessage.next_attempt_at))).where(
            col(OutboxMessage.status) == "pending", col(OutboxMessage.next_attempt_at) <= now
        )
    )
    lease_lapsed = await session.scalar(
        select(func.min(col(OutboxMessage.lease_until))).where(
            col(OutboxMessage.status) == "sending", col(OutboxMessage.lease_until) < now
        )
    )
    oldest_undelivered = await session.scalar(
        select(func.min(col(OutboxMessage.created_at))).where(col(OutboxMessage.status).in_(_UNDELIVERED))
    )
    waiting = (
        await session.execute(select(func.count(), func.min(col(Case.created_at))).where(col(Case.status) == "new"))
    ).one()
    due_since = min((t for t in (pending_due, lease_lapsed) if t is not None), default=None)
    return Backlog(
        outbox_by_status={str(status): int(count) for status, count in by_status.all()},
        oldest_due_seconds=_age(now, due_since),
        oldest_undelivered_seconds=_age(now, oldest_undelivered),
        unacknowledged_cases=int(waiting[0]),
        oldest_unacknowledged_seconds=_age(now, waiting[1]),
    )
