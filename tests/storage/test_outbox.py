"""The outbox on SQLite and PostgreSQL: idempotent enqueue, leases, back-off, escalation without giving up."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import outbox
from storage.db import create_engine, create_sessionmaker
from storage.migrate import alembic_config, migrate
from storage.models import OutboxMessage

T0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
TARGET = {"conversation_id": "19:cases@thread.tacv2", "service_url": "https://smba.example/emea/"}


async def put(
    sessions: async_sessionmaker[AsyncSession], key: str, now: dt.datetime = T0, text: str = "hello"
) -> OutboxMessage:
    async with sessions() as session:
        message = await outbox.enqueue(
            session=session, dedupe_key=key, kind="direct", target=TARGET, payload={"text": text}, now=now
        )
        await session.commit()
    return message


async def claim(
    sessions: async_sessionmaker[AsyncSession], at: dt.datetime, limit: int = 20, lease: float = 60
) -> list[str]:
    async with sessions() as session:
        claimed = await outbox.claim_due(session=session, kinds={"direct"}, now=at, limit=limit, lease_seconds=lease)
        await session.commit()
    return [m.dedupe_key for m in claimed]


async def fail(
    sessions: async_sessionmaker[AsyncSession],
    message: OutboxMessage,
    at: dt.datetime,
    retry_after: float | None = None,
) -> tuple[OutboxMessage, bool]:
    assert message.id is not None
    async with sessions() as session:
        result = await outbox.mark_failed(
            session=session, message_id=message.id, error="HTTP 502", retry_after=retry_after, now=at
        )
        await session.commit()
    return result


async def test_enqueue_is_idempotent_and_round_trips_json(sessions: async_sessionmaker[AsyncSession]) -> None:
    hostile = "🙂 مرحبا ${x} \"q\" 'q' \\ \x00 \ud800 " * 500
    first = await put(sessions, "case:1:card", text=hostile)
    again = await put(sessions, "case:1:card", text="something else", now=T0 + dt.timedelta(hours=1))
    assert first.id == again.id
    assert outbox.payload_of(again) == {"text": hostile}, "the first message stands, byte for byte"
    assert outbox.target_of(again) == TARGET
    assert (again.status, again.attempts, again.next_attempt_at, again.created_at) == ("pending", 0, T0, T0)
    async with sessions() as session:
        assert [m.id for m in await outbox.pending(session=session)] == [first.id]
        found = await outbox.result_of(session=session, dedupe_key="case:1:card")
        assert found is not None and found.id == first.id
        assert await outbox.result_of(session=session, dedupe_key="nope") is None
        with pytest.raises(ValueError, match="dedupe_key"):
            await outbox.enqueue(session=session, dedupe_key="k" * 129, kind="direct", target={}, payload={})


async def test_enqueue_rolls_back_with_the_change_that_needed_it(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        await outbox.enqueue(session=session, dedupe_key="k", kind="direct", target=TARGET, payload={})
        await session.rollback()
    async with sessions() as session:
        assert await outbox.pending(session=session) == []


async def test_claim_takes_due_messages_oldest_first_and_leases_them(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    for i, key in enumerate(["b", "a", "c"]):
        await put(sessions, key, now=T0 + dt.timedelta(seconds=i))
    await put(sessions, "later", now=T0 + dt.timedelta(minutes=10))

    assert await claim(sessions, T0 + dt.timedelta(seconds=5), limit=2) == ["b", "a"]
    assert await claim(sessions, T0 + dt.timedelta(seconds=6)) == ["c"], "leased messages are not claimed again"
    assert await claim(sessions, T0 + dt.timedelta(seconds=7)) == []
    async with sessions() as session:
        states = {m.dedupe_key: (m.status, m.lease_until) for m in await outbox.pending(session=session)}
    assert states["b"] == ("sending", T0 + dt.timedelta(seconds=65))
    assert states["later"] == ("pending", None)


async def test_an_expired_lease_is_reclaimed_so_a_crash_loses_nothing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await put(sessions, "m")
    assert await claim(sessions, T0, lease=60) == ["m"]
    # The claiming instance dies without marking anything.
    assert await claim(sessions, T0 + dt.timedelta(seconds=60)) == [], "the lease runs to its end"
    assert await claim(sessions, T0 + dt.timedelta(seconds=61)) == ["m"]


async def test_sent_messages_are_never_claimed_again(sessions: async_sessionmaker[AsyncSession]) -> None:
    message = await put(sessions, "m")
    assert message.id is not None
    assert await claim(sessions, T0) == ["m"]
    async with sessions() as session:
        await outbox.mark_sent(session=session, message_id=message.id, result_id="1:activity", now=T0)
        await session.commit()
        stored = await outbox.get_message(session=session, message_id=message.id)
        assert await outbox.pending(session=session) == []
        with pytest.raises(LookupError):
            await outbox.mark_sent(session=session, message_id=message.id + 1, result_id=None)
    assert stored is not None
    assert (stored.status, stored.result_id, stored.sent_at, stored.lease_until) == ("sent", "1:activity", T0, None)
    assert await claim(sessions, T0 + dt.timedelta(days=1)) == []


async def test_claim_without_returning_support(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = create_engine(sqlite_url)
    await migrate(engine)
    monkeypatch.setattr(engine.dialect, "update_returning", False)
    sessions = create_sessionmaker(engine)
    await put(sessions, "one")
    await put(sessions, "two", now=T0 + dt.timedelta(seconds=1))
    assert await claim(sessions, T0 + dt.timedelta(seconds=2), limit=5) == ["one", "two"]
    assert await claim(sessions, T0 + dt.timedelta(seconds=3)) == []
    assert await claim(sessions, T0 + dt.timedelta(minutes=5)) == ["one", "two"]
    await engine.dispose()


async def test_concurrent_claimers_never_share_a_message(sessions: async_sessionmaker[AsyncSession]) -> None:
    for i in range(60):
        await put(sessions, f"m{i:02d}", now=T0 + dt.timedelta(milliseconds=i))
    at = T0 + dt.timedelta(seconds=1)
    batches = await asyncio.gather(*(claim(sessions, at, limit=7) for _ in range(12)))
    claimed = [key for batch in batches for key in batch]
    assert len(claimed) == len(set(claimed)) == 60


async def test_an_open_claim_is_skipped_not_shared_on_postgres(postgres_url: str) -> None:
    # Two instances mid-claim at the same moment: the second skips rows the first has locked.
    engine = create_engine(postgres_url)
    await migrate(engine)
    sessions = create_sessionmaker(engine)
    for i in range(10):
        await put(sessions, f"m{i}", now=T0 + dt.timedelta(milliseconds=i))
    at = T0 + dt.timedelta(seconds=1)
    async with sessions() as one, sessions() as two:
        first = await outbox.claim_due(session=one, kinds={"direct"}, now=at, limit=4)
        second = await asyncio.wait_for(outbox.claim_due(session=two, kinds={"direct"}, now=at, limit=4), timeout=5)
        await one.commit()
        await two.commit()
    assert [m.dedupe_key for m in first] == ["m0", "m1", "m2", "m3"]
    assert [m.dedupe_key for m in second] == ["m4", "m5", "m6", "m7"]
    await engine.dispose()


async def test_each_worker_claims_only_its_own_kinds(sessions: async_sessionmaker[AsyncSession]) -> None:
    # A Teams message and an alert e-mail, both pending and due, with the outbox's own statuses.
    for key, kind in (("card", "case_card"), ("mail", "alert_email"), ("dm", "direct"), ("mail2", "alert_email")):
        async with sessions.begin() as session:
            await outbox.enqueue(session=session, dedupe_key=key, kind=kind, target=TARGET, payload={}, now=T0)
    at = T0 + dt.timedelta(seconds=1)
    async with sessions.begin() as session:
        teams = await outbox.claim_due(session=session, kinds={"case_card", "direct", "thread_reply"}, now=at)
    assert [m.dedupe_key for m in teams] == ["card", "dm"], "the e-mails are left to the e-mail worker"
    async with sessions.begin() as session:
        mail = await outbox.claim_due(session=session, kinds={"alert_email"}, now=at)
    assert [(m.dedupe_key, m.status) for m in mail] == [("mail", "sending"), ("mail2", "sending")]
    async with sessions.begin() as session:
        # Every row is leased now; neither worker gets the other's, even after the leases run out.
        later = at + dt.timedelta(minutes=5)
        assert {m.kind for m in await outbox.claim_due(session=session, kinds={"alert_email"}, now=later)} == {
            "alert_email"
        }
    with pytest.raises(ValueError, match="kinds"):
        async with sessions.begin() as session:
            await outbox.claim_due(session=session, kinds=(), now=at)


async def test_a_failed_email_is_rescheduled_with_its_own_delay(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        message = await outbox.enqueue(
            session=session, dedupe_key="mail", kind="alert_email", target=TARGET, payload={}, now=T0
        )
    async with sessions.begin() as session:
        assert [m.id for m in await outbox.claim_due(session=session, kinds={"alert_email"}, now=T0)] == [message.id]
    assert message.id is not None
    async with sessions.begin() as session:
        failed, escalated = await outbox.mark_failed(
            session=session, message_id=message.id, error="503", retry_after=None, now=T0, escalate_after=1, delay=7
        )
    assert (failed.status, failed.attempts, escalated) == ("pending", 1, True)
    assert failed.next_attempt_at == T0 + dt.timedelta(seconds=7)


async def test_back_off_grows_with_jitter_and_caps_at_five_minutes(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    message = await put(sessions, "m")
    at = T0
    for attempt in range(1, 13):
        assert await claim(sessions, at) == ["m"]
        failed, _ = await fail(sessions, message, at)
        ceiling = min(300, 2**attempt)
        wait = (failed.next_attempt_at - at).total_seconds()
        assert ceiling / 2 <= wait <= ceiling, (attempt, wait)
        assert (failed.attempts, failed.status, failed.last_error, failed.lease_until) == (
            attempt,
            "pending",
            "HTTP 502",
            None,
        )
        assert await claim(sessions, failed.next_attempt_at - dt.timedelta(milliseconds=1)) == []
        at = failed.next_attempt_at


async def test_retry_after_is_honoured_but_never_shortens_the_back_off(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    message = await put(sessions, "m")
    failed, _ = await fail(sessions, message, T0, retry_after=120)
    assert failed.next_attempt_at == T0 + dt.timedelta(seconds=120)
    for _ in range(8):
        failed, _ = await fail(sessions, message, T0, retry_after=0.5)
    assert (failed.next_attempt_at - T0).total_seconds() >= 150, "a short Retry-After does not cut the back-off"
    failed, _ = await fail(sessions, message, T0, retry_after=3600)
    assert failed.next_attempt_at == T0 + dt.timedelta(hours=1), "a long Retry-After beats the cap"


async def test_escalation_is_flagged_once_and_the_message_is_still_retried(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    message = await put(sessions, "m")
    flags: list[bool] = []
    at = T0
    for _ in range(9):
        assert await claim(sessions, at) == ["m"], "still retried, however often it fails"
        failed, newly = await fail(sessions, message, at)
        flags.append(newly)
        assert failed.escalated == (failed.attempts >= 5)
        assert failed.status == "pending"
        at = failed.next_attempt_at
    assert flags == [False] * 4 + [True] + [False] * 4
    async with sessions() as session:
        assert [m.dedupe_key for m in await outbox.pending(session=session)] == ["m"]


async def test_failure_after_someone_else_delivered_does_not_resend(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    message = await put(sessions, "m")
    assert message.id is not None
    async with sessions() as session:
        await outbox.mark_sent(session=session, message_id=message.id, result_id="x", now=T0)
        await session.commit()
    failed, newly = await fail(sessions, message, T0 + dt.timedelta(seconds=1))
    assert (failed.status, failed.attempts, newly) == ("sent", 0, False)
    async with sessions() as session:
        with pytest.raises(LookupError):
            await outbox.mark_failed(session=session, message_id=message.id + 1, error="e", retry_after=None)


async def test_emails_queued_before_the_upgrade_keep_going(database_url: str) -> None:
    # Rows written by the old e-mail worker carried its own statuses; revision 0011 gives them the outbox's.
    def upgrade_to(connection, revision: str) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade_to, "0006")
            for key, status in (("queued", "mail_pending"), ("mid-send", "mail_sending"), ("done", "sent")):
                await conn.execute(
                    text(
                        "INSERT INTO outbox (dedupe_key, kind, target, payload, status, attempts, next_attempt_at, "
                        "created_at, lease_until, escalated) "
                        "VALUES (:k, 'alert_email', '{}', '{}', :s, 0, :t, :t, :t, false)"
                    ),
                    {"k": key, "s": status, "t": T0.replace(tzinfo=None) if "sqlite" in database_url else T0},
                )
        await migrate(engine)
        sessions = create_sessionmaker(engine)
        async with sessions.begin() as session:
            claimed = await outbox.claim_due(session=session, kinds={"alert_email"}, now=T0 + dt.timedelta(hours=1))
        assert sorted(m.dedupe_key for m in claimed) == ["mid-send", "queued"]
    finally:
        await engine.dispose()
