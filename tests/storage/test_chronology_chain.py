"""The chronology is append-only and hash-chained per case, on SQLite and PostgreSQL (issue 11)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
from alembic import command
from sqlalchemy import Connection, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage import cases
from storage.chain import check_store, hash_of
from storage.db import create_engine, create_sessionmaker
from storage.migrate import alembic_config, migrate
from storage.models import Case, CaseEvent
from tests.rig.bot_server import ROOT
from tests.storage.test_cases import DSO, new_case


async def _note(sessions: async_sessionmaker[AsyncSession], case: Case, text_: str, **kwargs: object) -> None:
    assert case.id is not None
    async with sessions.begin() as session:
        await cases.record_event(
            session=session,
            case_id=case.id,
            kind="note",
            actor_aad_id=DSO,
            actor_name="Claire Lewis",
            detail={"text": text_},
            **kwargs,  # type: ignore[arg-type]
        )


async def _events(sessions: async_sessionmaker[AsyncSession], case_id: int) -> list[CaseEvent]:
    async with sessions() as session:
        rows = await session.execute(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq))
        return list(rows.scalars())


def _verify(database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "MicrosoftAppId": ""}
    return subprocess.run(
        [sys.executable, "-m", "bot", "verify"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def verify(database_url: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(_verify, database_url)


async def _tamper(engine: AsyncEngine, statement: str) -> None:
    """What someone with the database's own credentials can do by hand: on PostgreSQL, switch the guard off."""
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("ALTER TABLE case_event DISABLE TRIGGER case_event_append_only"))
        await conn.execute(text(statement))
        if conn.dialect.name == "postgresql":
            await conn.execute(text("ALTER TABLE case_event ENABLE TRIGGER case_event_append_only"))


async def test_every_event_links_to_the_one_before(sessions: async_sessionmaker[AsyncSession]) -> None:
    case = await new_case(sessions)
    other = await new_case(sessions)
    await _note(sessions, case, "first")
    await _note(sessions, other, "elsewhere")
    await _note(sessions, case, "second")
    assert case.id is not None
    events = await _events(sessions, case.id)
    assert [e.seq for e in events] == [1, 2, 3]
    assert events[0].prev_hash is None
    assert [e.prev_hash for e in events[1:]] == [e.event_hash for e in events[:-1]]
    assert all(hash_of(e) == e.event_hash for e in events)
    async with sessions() as session:
        stored = await cases.get_case(session=session, case_id=case.id)
        report = await check_store(session)
    assert stored is not None and (stored.event_count, stored.chain_head) == (3, events[-1].event_hash)
    assert (report.cases, report.events, report.broken) == (2, 5, [])


async def test_a_retried_action_takes_no_place_in_the_chain(sessions: async_sessionmaker[AsyncSession]) -> None:
    case = await new_case(sessions)
    await _note(sessions, case, "once", action_id="invoke:1")
    await _note(sessions, case, "again", action_id="invoke:1")
    await _note(sessions, case, "next")
    assert case.id is not None
    assert [e.seq for e in await _events(sessions, case.id)] == [1, 2, 3]
    async with sessions() as session:
        assert (await check_store(session)).broken == []


async def test_a_correction_is_a_new_event_naming_the_one_it_corrects(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    case = await new_case(sessions)
    other = await new_case(sessions)
    await _note(sessions, case, "Spoke to mum on Monday")
    assert case.id is not None and other.id is not None
    wrong = (await _events(sessions, case.id))[-1]
    await _note(sessions, case, "It was Tuesday, not Monday", corrects=wrong.id)
    events = await _events(sessions, case.id)
    assert events[-1].corrects == wrong.id and events[1].detail == wrong.detail  # the original stands as written
    async with sessions() as session:
        assert (await check_store(session)).broken == []
    with pytest.raises(ValueError, match="must name an event of its case"):
        await _note(sessions, other, "not mine to correct", corrects=wrong.id)


async def test_two_instances_appending_to_one_case_never_fork_the_chain(database_url: str) -> None:
    """Two engines are two instances: each has its own connections to the same store."""
    first, second = create_engine(database_url), create_engine(database_url)
    await migrate(first)
    try:
        a, b = create_sessionmaker(first), create_sessionmaker(second)
        case = await new_case(a)

        async def append(sessions: async_sessionmaker[AsyncSession], who: str) -> None:
            for n in range(15):
                await _note(sessions, case, f"{who} {n}")

        await asyncio.gather(append(a, "a"), append(b, "b"))
        assert case.id is not None
        events = await _events(a, case.id)
        assert [e.seq for e in events] == list(range(1, 32))
        async with a() as session:
            assert (await check_store(session)).broken == []
    finally:
        await first.dispose()
        await second.dispose()


async def test_the_migration_chains_events_stored_before_it(database_url: str) -> None:
    engine = create_engine(database_url)

    def to_0006(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0006")

    try:
        async with engine.begin() as conn:
            await conn.run_sync(to_0006)
        at = "2026-11-25 09:00:00" if engine.dialect.name == "sqlite" else "2026-11-25 09:00:00+00"
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO safeguarding_case (id, source, urgent, incomplete, category, about, description,"
                    " reporter_role, reporter_hidden, contact_ok, reference, status, created_at, version)"
                    f" VALUES (1, 'learner', false, false, 'bullying', 'self', 'old report', 'learner', false, false,"
                    f" 'SS-2026-0001', 'new', '{at}', 1)"
                )
            )
            # Stored out of time order: the chain follows the chronology's order (time, then id).
            for event_id, minute, kind in ((1, 0, "created"), (3, 5, "acknowledged"), (2, 9, "note")):
                when = at.replace("09:00", f"09:{minute:02d}")
                await conn.execute(
                    text(
                        "INSERT INTO case_event (id, case_id, at, kind, detail)"
                        f" VALUES ({event_id}, 1, '{when}', '{kind}', '{{}}')"
                    )
                )
        await migrate(engine)
        sessions = create_sessionmaker(engine)
        events = await _events(sessions, 1)
        assert [(e.id, e.seq) for e in events] == [(1, 1), (3, 2), (2, 3)]
        async with sessions() as session:
            report = await check_store(session)
        assert (report.cases, report.events, report.broken) == (1, 3, [])
    finally:
        await engine.dispose()


# Tampering ------------------------------------------------------------------------------------------------


@pytest.mark.slow
async def test_verify_names_an_event_edited_in_the_database(database_url: str, engine: AsyncEngine) -> None:
    sessions = create_sessionmaker(engine)
    case = await new_case(sessions)
    untouched = await new_case(sessions)
    await _note(sessions, case, "Mum says he has been staying out late.")
    await _note(sessions, case, "Referred to early help.")
    await _note(sessions, untouched, "nothing to see")
    assert case.id is not None
    edited = (await _events(sessions, case.id))[1]

    clean = await verify(database_url)
    assert clean.returncode == 0, clean.stderr
    assert "2 cases, 5 events checked" in clean.stdout and "OK" in clean.stdout

    await _tamper(engine, f'UPDATE case_event SET detail = \'{{"text": "Nothing of note."}}\' WHERE id = {edited.id}')
    result = await verify(database_url)
    assert result.returncode == 1
    broken = [line for line in result.stdout.splitlines() if line.startswith("BROKEN")]
    assert len(broken) == 1, result.stdout
    assert broken[0].startswith(f"BROKEN {case.reference}: event 2 (id {edited.id}, note, ")
    assert broken[0].endswith("its content does not match its hash (it was changed after writing)")
    assert untouched.reference not in result.stdout
    assert result.stderr.strip().splitlines() == ["safespace verify: 1 case(s) with a broken chronology"]


@pytest.mark.slow
async def test_verify_names_where_events_were_removed(database_url: str, engine: AsyncEngine) -> None:
    sessions = create_sessionmaker(engine)
    middle_case = await new_case(sessions)
    tail_case = await new_case(sessions)
    for case in (middle_case, tail_case):
        await _note(sessions, case, "one")
        await _note(sessions, case, "two")
    assert middle_case.id is not None and tail_case.id is not None
    middle = (await _events(sessions, middle_case.id))[1]
    last = (await _events(sessions, tail_case.id))[-1]
    await _tamper(engine, f"DELETE FROM case_event WHERE id IN ({middle.id}, {last.id})")
    result = await verify(database_url)
    assert result.returncode == 1
    assert f"BROKEN {middle_case.reference}: event 3 (id " in result.stdout
    assert "an earlier event is missing" in result.stdout
    assert f"BROKEN {tail_case.reference}: event 3: the case records 3 events but only 2 are stored" in result.stdout


async def test_postgresql_refuses_update_delete_and_truncate_of_the_chronology(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    await migrate(engine)
    try:
        sessions = create_sessionmaker(engine)
        case = await new_case(sessions)
        await _note(sessions, case, "kept")
        for statement in (
            "UPDATE case_event SET detail = '{}' WHERE kind = 'note'",
            "UPDATE case_event SET at = now()",
            "DELETE FROM case_event WHERE kind = 'note'",
            "TRUNCATE case_event CASCADE",
        ):
            with pytest.raises(DBAPIError, match="case_event is append-only"):
                async with engine.begin() as conn:
                    await conn.execute(text(statement))
        # The retention job's setting permits deleting, and only that: an UPDATE is still refused.
        with pytest.raises(DBAPIError, match="append-only: UPDATE refused"):
            async with engine.begin() as conn:
                await conn.execute(text("SET LOCAL safespace.retention = 'on'"))
                await conn.execute(text("UPDATE case_event SET detail = '{}'"))
        async with engine.begin() as conn:
            await conn.execute(text("SET LOCAL safespace.retention = 'on'"))
            deleted = await conn.execute(text("DELETE FROM case_event WHERE kind = 'note'"))
        assert deleted.rowcount == 1
        # SET LOCAL ends with its transaction: the next one is guarded again.
        with pytest.raises(DBAPIError, match="append-only: DELETE refused"):
            async with engine.begin() as conn:
                await conn.execute(text("DELETE FROM case_event"))
        async with engine.connect() as conn:
            kinds = (await conn.execute(text("SELECT kind FROM case_event ORDER BY seq"))).scalars().all()
        assert kinds == ["created"]
    finally:
        await engine.dispose()
