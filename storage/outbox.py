"""The outbox: messages to Teams that must arrive, kept in the database until they have.

A message is enqueued in the same transaction as the change that needs it (so a crash cannot keep one without
the other), claimed by one instance under a lease, and retried with back-off until it is sent. Nothing here ever
gives a message up: after repeated failures it is flagged `escalated` so people are told, and it carries on.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Collection, Mapping
from typing import Any, Final, cast

from sqlalchemy import CursorResult, and_, false, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.cases import clean_text, to_json
from storage.models import OutboxMessage
from storage.types import utcnow

MAX_BACKOFF_SECONDS: Final = 300.0


def _insert(session: AsyncSession) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


async def enqueue(
    *,
    session: AsyncSession,
    dedupe_key: str,
    kind: str,
    target: Mapping[str, Any],
    payload: Mapping[str, Any],
    case_id: int | None = None,
    now: dt.datetime | None = None,
) -> OutboxMessage:
    """Queue a message once per `dedupe_key`; enqueueing it again returns the first one unchanged."""
    if not dedupe_key or len(dedupe_key) > 128:
        raise ValueError("dedupe_key must be 1-128 characters")
    now = now or utcnow()
    stmt = (
        _insert(session)(OutboxMessage)
        .values(
            dedupe_key=dedupe_key,
            kind=kind,
            case_id=case_id,
            target=to_json(target),
            payload=to_json(payload),
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            escalated=False,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
    )
    await session.execute(stmt)
    message = await result_of(session=session, dedupe_key=dedupe_key)
    assert message is not None
    return message


async def claim_due(
    *,
    session: AsyncSession,
    kinds: Collection[str],
    now: dt.datetime,
    limit: int = 20,
    lease_seconds: float = 60,
) -> list[OutboxMessage]:
    """Take up to `limit` messages of `kinds` to send now, oldest first, leased to this caller for `lease_seconds`.

    Each worker names the kinds it can deliver (Teams messages, alert e-mails), so none claims another's rows and
    fails them as unknown. Due means pending and past its retry time, or being sent by an instance whose lease ran
    out (it crashed or hung): such a message is sent again, so delivery is at least once. Commit promptly so the
    claim is visible.
    """
    if not kinds:
        raise ValueError("claim_due needs the kinds its worker delivers")
    lease_until = now + dt.timedelta(seconds=lease_seconds)
    due = and_(
        col(OutboxMessage.kind).in_(sorted(kinds)),
        or_(
            and_(col(OutboxMessage.status) == "pending", col(OutboxMessage.next_attempt_at) <= now),
            and_(col(OutboxMessage.status) == "sending", col(OutboxMessage.lease_until) < now),
        ),
    )
    pick = (
        select(col(OutboxMessage.id))
        .where(due)
        .order_by(col(OutboxMessage.created_at), col(OutboxMessage.id))
        .limit(limit)
    )
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql":
        # Rows another instance is claiming are skipped, not waited for and never double-claimed.
        pick = pick.with_for_update(skip_locked=True)
    claim = {"status": "sending", "lease_until": lease_until}

    if dialect.update_returning:
        rows = await session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.id).in_(pick.scalar_subquery()))
            .values(**claim)
            .returning(OutboxMessage)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        claimed = list(rows.scalars())
    else:
        # SQLite before 3.35: a write that matches nothing still takes the write lock, so nobody can claim
        # between our read of the due ids and our update of them.
        await session.execute(
            update(OutboxMessage).where(false()).values(status="pending").execution_options(synchronize_session=False)
        )
        ids = list((await session.execute(pick)).scalars())
        if not ids:
            return []
        await session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.id).in_(ids))
            .values(**claim)
            .execution_options(synchronize_session=False)
        )
        rows = await session.execute(
            select(OutboxMessage).where(col(OutboxMessage.id).in_(ids)).execution_options(populate_existing=True)
        )
        claimed = list(rows.scalars())
    claimed.sort(key=lambda message: (message.created_at, message.id or 0))
    return claimed


async def _locked(session: AsyncSession, message_id: int) -> OutboxMessage:
    rows = await session.execute(
        select(OutboxMessage)
        .where(col(OutboxMessage.id) == message_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    message = rows.scalars().first()
    if message is None:
        raise LookupError(f"no outbox message {message_id}")
    return message


async def mark_sent(
    *, session: AsyncSession, message_id: int, result_id: str | None, now: dt.datetime | None = None
) -> None:
    """Record delivery; the caller commits. Teams has the message, so this holds whoever's lease it was."""
    result = await session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == message_id)
        .values(status="sent", sent_at=now or utcnow(), result_id=result_id, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    if cast("CursorResult[Any]", result).rowcount != 1:
        raise LookupError(f"no outbox message {message_id}")


def backoff_seconds(attempts: int) -> float:
    """The longest wait before retry number `attempts + 1`: doubling, capped at five minutes."""
    return min(MAX_BACKOFF_SECONDS, float(2 ** min(attempts, 16)))


async def mark_failed(
    *,
    session: AsyncSession,
    message_id: int,
    error: str,
    retry_after: float | None,
    now: dt.datetime | None = None,
    escalate_after: int = 5,
    delay: float | None = None,
) -> tuple[OutboxMessage, bool]:
    """Schedule another attempt; returns (message, newly_escalated). The caller commits.

    newly_escalated is True only on the failure that crossed `escalate_after`, so people are alerted once; the
    message keeps being retried at the capped interval either way. `delay` replaces the usual jittered back-off
    (a worker with its own schedule); Retry-After still wins when it is longer.
    """
    now = now or utcnow()
    message = await _locked(session, message_id)
    if message.status == "sent":
        # Another instance delivered it after our lease ran out: retrying would post it twice.
        return message, False
    attempts = message.attempts + 1
    ceiling = backoff_seconds(attempts)
    # Full jitter within the upper half, so instances that failed together (Teams throttling) spread out.
    if delay is None:
        delay = random.uniform(ceiling / 2, ceiling)
    if retry_after is not None:
        delay = max(delay, retry_after)
    newly_escalated = not message.escalated and attempts >= escalate_after
    message.attempts = attempts
    message.status = "pending"
    message.next_attempt_at = now + dt.timedelta(seconds=delay)
    message.lease_until = None
    message.last_error = clean_text(error)
    message.escalated = message.escalated or newly_escalated
    session.add(message)
    await session.flush()
    return message, newly_escalated


async def get_message(*, session: AsyncSession, message_id: int) -> OutboxMessage | None:
    rows = await session.execute(
        select(OutboxMessage).where(col(OutboxMessage.id) == message_id).execution_options(populate_existing=True)
    )
    return rows.scalars().first()


async def pending(*, session: AsyncSession) -> list[OutboxMessage]:
    """Every message not yet delivered, oldest first."""
    rows = await session.execute(
        select(OutboxMessage)
        .where(col(OutboxMessage.status) != "sent")
        .order_by(col(OutboxMessage.created_at), col(OutboxMessage.id))
        .execution_options(populate_existing=True)
    )
    return list(rows.scalars())


async def sent_of_kind(*, session: AsyncSession, kind: str) -> list[OutboxMessage]:
    """Every delivered message of one kind, oldest first (e.g. every case card, to find where each was posted)."""
    rows = await session.execute(
        select(OutboxMessage)
        .where(col(OutboxMessage.kind) == kind, col(OutboxMessage.status) == "sent")
        .order_by(col(OutboxMessage.id))
        .execution_options(populate_existing=True)
    )
    return list(rows.scalars())


async def sent_for_case(*, session: AsyncSession, case_id: int, kind: str) -> list[OutboxMessage]:
    """Every delivered message of one kind about one case, oldest first (e.g. each DSO's 1:1 copy of its card)."""
    rows = await session.execute(
        select(OutboxMessage)
        .where(
            col(OutboxMessage.case_id) == case_id,
            col(OutboxMessage.kind) == kind,
            col(OutboxMessage.status) == "sent",
        )
        .order_by(col(OutboxMessage.id))
        .execution_options(populate_existing=True)
    )
    return list(rows.scalars())


async def result_of(*, session: AsyncSession, dedupe_key: str) -> OutboxMessage | None:
    rows = await session.execute(
        select(OutboxMessage)
        .where(col(OutboxMessage.dedupe_key) == dedupe_key)
        .execution_options(populate_existing=True)
    )
    return rows.scalars().first()


def _object(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("outbox JSON is not an object")
    return value


def target_of(message: OutboxMessage) -> dict[str, Any]:
    return _object(message.target)


def payload_of(message: OutboxMessage) -> dict[str, Any]:
    return _object(message.payload)
