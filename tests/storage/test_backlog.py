"""The backlog figures /metrics reports, on SQLite and PostgreSQL: outbox depth and lag, unacknowledged cases."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import cases, outbox
from storage.backlog import Backlog, read_backlog
from storage.models import CaseCreate

T0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
TARGET = {"conversation_id": "19:cases@thread.tacv2", "service_url": "https://smba.example/emea/"}


def seconds(n: float) -> dt.timedelta:
    return dt.timedelta(seconds=n)


async def backlog_at(sessions: async_sessionmaker[AsyncSession], now: dt.datetime) -> Backlog:
    async with sessions() as session:
        return await read_backlog(session=session, now=now)


async def test_an_empty_store_has_no_backlog(sessions: async_sessionmaker[AsyncSession]) -> None:
    assert await backlog_at(sessions, T0) == Backlog({}, 0.0, 0.0, 0, 0.0)


async def test_outbox_depth_by_status_and_how_long_the_oldest_has_been_due(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        for key, created in (("leased", T0), ("backing-off", T0 + seconds(10)), ("due", T0 + seconds(20))):
            await outbox.enqueue(session=session, dedupe_key=key, kind="direct", target=TARGET, payload={}, now=created)
        sent = await outbox.enqueue(
            session=session, dedupe_key="sent", kind="direct", target=TARGET, payload={}, now=T0
        )
        assert sent.id is not None
        await outbox.mark_sent(session=session, message_id=sent.id, result_id="1", now=T0 + seconds(1))
        await session.commit()
    async with sessions() as session:
        # At T0+5 only "leased" is due: claimed with a 60 s lease, it is "sending" until T0+65.
        [leased] = await outbox.claim_due(
            session=session, kinds={"direct"}, now=T0 + seconds(5), limit=1, lease_seconds=60
        )
        assert leased.dedupe_key == "leased"
        [backing_off] = await outbox.claim_due(
            session=session, kinds={"direct"}, now=T0 + seconds(10), limit=1, lease_seconds=60
        )
        assert backing_off.id is not None
        # Failed: pending again, next try 1-2 s later, with retry-after pushing it to T0+40.
        await outbox.mark_failed(
            session=session, message_id=backing_off.id, error="HTTP 503", retry_after=30, now=T0 + seconds(10)
        )
        await session.commit()

    at_35 = await backlog_at(sessions, T0 + seconds(35))
    assert at_35.outbox_by_status == {"pending": 2, "sending": 1}, "the sent message is not counted"
    assert at_35.oldest_due_seconds == 15.0, "'due' since T0+20; 'backing-off' not yet; 'leased' is leased"
    assert at_35.oldest_undelivered_seconds == 35.0, "'leased', created at T0"

    # At T0+100 the lease has run out (T0+65): that message has been due longest.
    at_100 = await backlog_at(sessions, T0 + seconds(100))
    assert at_100.oldest_due_seconds == 80.0
    assert at_100.oldest_undelivered_seconds == 100.0


async def test_unacknowledged_cases_and_the_longest_wait(sessions: async_sessionmaker[AsyncSession]) -> None:
    def report(n: int) -> CaseCreate:
        return CaseCreate(source="learner", category="bullying", about="self", description=f"report {n}")

    async with sessions() as session:
        made = [
            await cases.create_case(
                session=session, case=report(n), actor_aad_id=None, actor_name=None, now=T0 + dt.timedelta(minutes=n)
            )
            for n in range(3)
        ]
        await session.commit()
    assert (await backlog_at(sessions, T0 + dt.timedelta(minutes=10))).oldest_unacknowledged_seconds == 600.0

    oldest = made[0]
    assert oldest.id is not None
    async with sessions() as session:
        changed = await cases.change_case(
            session=session,
            case_id=oldest.id,
            expected_version=oldest.version,
            changes={"status": "acknowledged", "acknowledged_at": T0 + dt.timedelta(minutes=5)},
            event_kind="acknowledged",
            actor_aad_id="dddddddd-1111-2222-3333-444444444444",
            actor_name="Claire Lewis",
            now=T0 + dt.timedelta(minutes=5),
        )
        assert changed is not None
        await session.commit()
    later = await backlog_at(sessions, T0 + dt.timedelta(minutes=10))
    assert later.unacknowledged_cases == 2
    assert later.oldest_unacknowledged_seconds == 540.0, "the next oldest, made at T0+1 min"
