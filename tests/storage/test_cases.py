"""The case store on SQLite and PostgreSQL: references, compare-and-swap, the chronology, reminders."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import cases
from storage.cases import clean_text
from storage.db import create_engine, create_sessionmaker
from storage.migrate import migrate
from storage.models import Case, CaseCreate, CaseEvent

T0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
LEARNER = "AAAAAAAA-1111-2222-3333-444444444444"
DSO = "dddddddd-1111-2222-3333-444444444444"
DEPUTY = "eeeeeeee-1111-2222-3333-444444444444"


def report(**overrides: Any) -> CaseCreate:
    values: dict[str, Any] = {
        "source": "learner",
        "category": "bullying",
        "about": "self",
        "description": "Someone keeps posting about me in the group chat.",
        "reporter_aad_id": LEARNER,
        "reporter_name": "Alex Learner",
    }
    values.update(overrides)
    return CaseCreate(**values)


async def new_case(sessions: async_sessionmaker[AsyncSession], now: dt.datetime = T0, **overrides: Any) -> Case:
    async with sessions() as session:
        case = await cases.create_case(
            session=session, case=report(**overrides), actor_aad_id=LEARNER, actor_name="Alex Learner", now=now
        )
        await session.commit()
    return case


async def acknowledge(
    session: AsyncSession, case: Case, *, who: str = DSO, action_id: str | None = None, at: dt.datetime = T0
) -> Case | None:
    assert case.id is not None
    return await cases.change_case(
        session=session,
        case_id=case.id,
        expected_version=case.version,
        changes={"status": "acknowledged", "owner_aad_id": who, "acknowledged_at": at},
        event_kind="acknowledged",
        actor_aad_id=who,
        actor_name="Claire Lewis",
        action_id=action_id,
        now=at,
    )


# Creating ---------------------------------------------------------------------------------------------------


async def test_create_case_allocates_a_reference_and_records_created(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    case = await new_case(sessions, urgent=True)
    assert case.reference == "SS-2026-0001"
    assert (case.status, case.version, case.created_at) == ("new", 1, T0)
    assert case.reporter_aad_id == LEARNER.lower()
    async with sessions() as session:
        assert case.id is not None
        events = await cases.chronology(session=session, case_id=case.id)
    assert [e.kind for e in events] == ["created"]
    assert events[0].actor_aad_id == LEARNER.lower() and events[0].at == T0
    assert json.loads(events[0].detail or "") == {"source": "learner", "urgent": True, "incomplete": False}


async def test_references_count_up_within_a_year_and_restart_each_year(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    refs = [(await new_case(sessions, now=T0 + dt.timedelta(minutes=i))).reference for i in range(3)]
    assert refs == ["SS-2026-0001", "SS-2026-0002", "SS-2026-0003"]
    new_year = dt.datetime(2027, 1, 1, 0, 0, 1, tzinfo=dt.UTC)
    assert (await new_case(sessions, now=new_year)).reference == "SS-2027-0001"
    # New Year's Eve in another zone is still 2026 in UTC, which is what references count in.
    eve = dt.datetime(2027, 1, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert (await new_case(sessions, now=eve)).reference == "SS-2026-0004"


async def test_concurrent_creates_get_distinct_consecutive_references(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async def one(i: int) -> str:
        async with sessions() as session:
            case = await cases.create_case(
                session=session, case=report(description=f"report {i}"), actor_aad_id=None, actor_name=None, now=T0
            )
            await session.commit()
            return case.reference

    refs = await asyncio.gather(*(one(i) for i in range(50)))
    assert sorted(refs) == [f"SS-2026-{n:04d}" for n in range(1, 51)]


async def test_a_rolled_back_create_leaves_nothing_and_only_a_gap_if_any(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        await cases.create_case(session=session, case=report(), actor_aad_id=None, actor_name=None, now=T0)
        await session.rollback()
    case = await new_case(sessions)
    assert case.reference == "SS-2026-0001", "the counter rolls back with the case"


async def test_create_without_returning_support_still_allocates(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine(sqlite_url)
    await migrate(engine)
    monkeypatch.setattr(engine.dialect, "insert_returning", False)
    sessions = create_sessionmaker(engine)
    refs = [(await new_case(sessions)).reference for _ in range(3)]
    assert refs == ["SS-2026-0001", "SS-2026-0002", "SS-2026-0003"]
    await engine.dispose()


async def test_a_retried_submission_makes_one_case(sessions: async_sessionmaker[AsyncSession]) -> None:
    async def submit() -> Case:
        async with sessions() as session:
            case = await cases.create_case(
                session=session, case=report(), actor_aad_id=LEARNER, actor_name=None, now=T0, action_id="submit-1"
            )
            await session.commit()
            return case

    first, again = await submit(), await submit()
    assert first.id == again.id and again.reference == "SS-2026-0001"
    concurrent = await asyncio.gather(*(submit() for _ in range(5)))
    assert {c.id for c in concurrent} == {first.id}
    async with sessions() as session:
        assert (await session.execute(select(func.count()).select_from(Case))).scalar_one() == 1
    assert (await new_case(sessions)).reference == "SS-2026-0002", "a duplicate gives its number back"


async def test_concurrent_duplicate_submissions_race_to_one_case(postgres_url: str) -> None:
    # PostgreSQL only: SQLite's single writer serialises the two before either can see the other's insert.
    engine = create_engine(postgres_url)
    await migrate(engine)
    sessions = create_sessionmaker(engine)
    first_in = asyncio.Event()
    async with sessions() as one, sessions() as two:
        made = await cases.create_case(
            session=one, case=report(), actor_aad_id=None, actor_name=None, now=T0, action_id="dup"
        )
        first_in.set()

        async def commit_later() -> None:
            await asyncio.sleep(0.3)
            await one.commit()

        # `two` checks before `one` commits (sees nothing), then waits on the counter until it does.
        raced, _ = await asyncio.gather(
            cases.create_case(session=two, case=report(), actor_aad_id=None, actor_name=None, now=T0, action_id="dup"),
            commit_later(),
        )
        await two.commit()
    assert raced.id == made.id
    async with sessions() as session:
        assert (await session.execute(select(func.count()).select_from(Case))).scalar_one() == 1
        assert (await session.execute(select(func.count()).select_from(CaseEvent))).scalar_one() == 1
    assert (await new_case(sessions)).reference == "SS-2026-0002"
    await engine.dispose()


async def test_get_by_id_and_reference(sessions: async_sessionmaker[AsyncSession]) -> None:
    case = await new_case(sessions)
    assert case.id is not None
    async with sessions() as session:
        assert (await cases.get_case(session=session, case_id=case.id)) is not None
        found = await cases.get_by_reference(session=session, reference=" ss-2026-0001 ")
        assert found is not None and found.id == case.id
        assert await cases.get_case(session=session, case_id=case.id + 99) is None
        assert await cases.get_by_reference(session=session, reference="SS-2026-9999") is None


HOSTILE = (
    "🙂👨‍👩‍👧 مرحبا بالعالم שלום ${x} {{x}} %s %(x)s 'single' \"double\" `back` \\ \\n <script>alert(1)</script>"
    " Robert'); DROP TABLE safeguarding_case;--\r\n\t\u200f\u202e end"
)


async def test_hostile_text_round_trips_exactly(sessions: async_sessionmaker[AsyncSession]) -> None:
    description = (HOSTILE * 200)[:10_000]
    assert len(description) == 10_000
    case = await new_case(sessions, description=description, reporter_name="Zoë «O'Brien» 🙂", subject_name="${x}")
    assert case.id is not None
    async with sessions() as session:
        stored = await cases.get_case(session=session, case_id=case.id)
    assert stored is not None
    assert stored.description == description
    assert (stored.reporter_name, stored.subject_name) == ("Zoë «O'Brien» 🙂", "${x}")


async def test_nul_is_stripped_and_lone_surrogates_replaced_so_the_report_is_never_refused(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    case = await new_case(sessions, description="before\x00after \ud800 end", incident_where="room\x00 4")
    assert case.id is not None
    async with sessions() as session:
        stored = await cases.get_case(session=session, case_id=case.id)
        assert stored is not None
        assert stored.description == "beforeafter \ufffd end"
        assert stored.incident_where == "room 4"
        # Event detail is JSON with escapes, so NUL survives there exactly.
        assert await cases.record_event(
            session=session, case_id=case.id, kind="note", actor_aad_id=DSO, actor_name="a\x00b", detail={"t": "\x00🙂"}
        )
        await session.commit()
        note = (await cases.chronology(session=session, case_id=case.id))[-1]
    assert note.actor_name == "ab"
    assert json.loads(note.detail or "") == {"t": "\x00🙂"}


@given(st.text())
def test_clean_text_is_always_storable_and_otherwise_unchanged(value: str) -> None:
    cleaned = clean_text(value)
    cleaned.encode("utf-8")  # never raises: no lone surrogates left
    assert "\x00" not in cleaned
    if "\x00" not in value and not any("\ud800" <= ch <= "\udfff" for ch in value):
        assert cleaned == value


# Changing -----------------------------------------------------------------------------------------------------


async def test_change_case_bumps_the_version_and_records_from_and_to(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    case = await new_case(sessions)
    later = T0 + dt.timedelta(minutes=7)
    async with sessions() as session:
        changed = await acknowledge(session, case, at=later, action_id="ack-1")
        await session.commit()
    assert changed is not None
    assert (changed.status, changed.version, changed.owner_aad_id, changed.acknowledged_at) == (
        "acknowledged",
        2,
        DSO,
        later,
    )
    assert case.id is not None
    async with sessions() as session:
        events = await cases.chronology(session=session, case_id=case.id)
    assert [e.kind for e in events] == ["created", "acknowledged"]
    ack = events[1]
    assert (ack.actor_aad_id, ack.action_id, ack.at) == (DSO, "ack-1", later)
    assert json.loads(ack.detail or "")["changes"] == {
        "status": {"from": "new", "to": "acknowledged"},
        "owner_aad_id": {"from": None, "to": DSO},
        "acknowledged_at": {"from": None, "to": later.isoformat()},
    }


async def test_a_stale_version_changes_and_records_nothing(sessions: async_sessionmaker[AsyncSession]) -> None:
    case = await new_case(sessions)
    async with sessions() as session:
        assert await acknowledge(session, case) is not None
        await session.commit()
    async with sessions() as session:
        assert await acknowledge(session, case, who=DEPUTY) is None  # `case` still says version 1
        await session.commit()
        assert case.id is not None
        stored = await cases.get_case(session=session, case_id=case.id)
        events = await cases.chronology(session=session, case_id=case.id)
    assert stored is not None and stored.owner_aad_id == DSO and stored.version == 2
    assert [e.kind for e in events] == ["created", "acknowledged"]
    async with sessions() as session:
        missing = await cases.change_case(
            session=session,
            case_id=case.id + 1,
            expected_version=1,
            changes={},
            event_kind="x",
            actor_aad_id=None,
            actor_name=None,
        )
    assert missing is None


async def test_two_dsos_pressing_at_once_exactly_one_wins(sessions: async_sessionmaker[AsyncSession]) -> None:
    case = await new_case(sessions)

    async def press(who: str) -> Case | None:
        async with sessions() as session:
            result = await acknowledge(session, case, who=who)
            await session.commit()
            return result

    results = await asyncio.gather(press(DSO), press(DEPUTY), press(DSO), press(DEPUTY))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert case.id is not None
    async with sessions() as session:
        stored = await cases.get_case(session=session, case_id=case.id)
        events = await cases.chronology(session=session, case_id=case.id)
    assert stored is not None and stored.version == 2 and stored.owner_aad_id == winners[0].owner_aad_id
    assert [e.kind for e in events] == ["created", "acknowledged"]


async def test_overlapping_transactions_cannot_both_win(postgres_url: str) -> None:
    # Both read version 1 before either writes: only the database's compare-and-swap can stop the second.
    engine = create_engine(postgres_url)
    await migrate(engine)
    sessions = create_sessionmaker(engine)
    case = await new_case(sessions)
    async with sessions() as one, sessions() as two:
        assert case.id is not None
        assert (await cases.get_case(session=one, case_id=case.id)) is not None
        assert (await cases.get_case(session=two, case_id=case.id)) is not None
        first = await acknowledge(one, case, who=DSO)

        async def commit_later() -> None:
            await asyncio.sleep(0.3)
            await one.commit()

        second, _ = await asyncio.gather(acknowledge(two, case, who=DEPUTY), commit_later())
        await two.commit()
    assert first is not None and second is None
    async with sessions() as session:
        events = await cases.chronology(session=session, case_id=case.id)
    assert [e.kind for e in events] == ["created", "acknowledged"]
    await engine.dispose()


async def test_a_retried_action_has_one_effect(sessions: async_sessionmaker[AsyncSession]) -> None:
    case = await new_case(sessions)
    assert case.id is not None
    async with sessions() as session:
        first = await acknowledge(session, case, action_id="press-1")
        await session.commit()
    assert first is not None
    async with sessions() as session:
        # The retry even carries the fresh version: still nothing happens twice.
        assert await acknowledge(session, first, action_id="press-1") is None
        assert await cases.action_recorded(session=session, action_id="press-1")
        assert not await cases.action_recorded(session=session, action_id="press-2")
        stored = await cases.get_case(session=session, case_id=case.id)
        events = await cases.chronology(session=session, case_id=case.id)
    assert stored is not None and stored.version == 2
    assert len(events) == 2


@pytest.mark.parametrize(
    "field",
    [
        "id",
        "reference",
        "created_at",
        "version",
        "description",
        "reporter_aad_id",
        "reporter_name",
        "reporter_role",
        "reporter_conversation_id",
        "reporter_hidden",
        "source",
        "indicators",
    ],
)
async def test_the_report_itself_cannot_be_changed(sessions: async_sessionmaker[AsyncSession], field: str) -> None:
    case = await new_case(sessions)
    assert case.id is not None
    async with sessions() as session:
        with pytest.raises(ValueError, match="cannot be changed"):
            await cases.change_case(
                session=session,
                case_id=case.id,
                expected_version=1,
                changes={"status": "acknowledged", field: "edited"},
                event_kind="edit",
                actor_aad_id=DSO,
                actor_name=None,
            )
        await session.commit()
        stored = await cases.get_case(session=session, case_id=case.id)
        events = await cases.chronology(session=session, case_id=case.id)
    assert stored is not None and stored.version == 1 and stored.status == "new"
    assert len(events) == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"no_such_column": 1}, "not case fields"), ({"status": "deleted"}, "unknown status")],
)
async def test_unknown_columns_and_statuses_are_refused(
    sessions: async_sessionmaker[AsyncSession], changes: dict[str, Any], message: str
) -> None:
    case = await new_case(sessions)
    assert case.id is not None
    async with sessions() as session:
        with pytest.raises(ValueError, match=message):
            await cases.change_case(
                session=session,
                case_id=case.id,
                expected_version=1,
                changes=changes,
                event_kind="edit",
                actor_aad_id=DSO,
                actor_name=None,
            )


async def test_dsos_may_retriage_urgency_and_category(sessions: async_sessionmaker[AsyncSession]) -> None:
    case = await new_case(sessions)
    assert case.id is not None
    async with sessions() as session:
        changed = await cases.change_case(
            session=session,
            case_id=case.id,
            expected_version=1,
            changes={"urgent": True, "category": "radicalisation", "outcome_note": "note\x00 🙂"},
            event_kind="retriaged",
            actor_aad_id=DSO,
            actor_name="Claire Lewis",
            detail={"reason": "mentions a named group"},
        )
        await session.commit()
        events = await cases.chronology(session=session, case_id=case.id)
    assert changed is not None and changed.urgent and changed.category == "radicalisation"
    assert changed.outcome_note == "note 🙂"
    detail = json.loads(events[-1].detail or "")
    assert detail["reason"] == "mentions a named group"
    assert detail["changes"]["urgent"] == {"from": False, "to": True}


# The chronology -------------------------------------------------------------------------------------------------


async def test_record_event_is_idempotent_on_action_id(sessions: async_sessionmaker[AsyncSession]) -> None:
    case = await new_case(sessions)
    assert case.id is not None
    async with sessions() as session:
        assert await cases.record_event(
            session=session, case_id=case.id, kind="note", actor_aad_id=DSO, actor_name=None, action_id="n-1"
        )
        assert not await cases.record_event(
            session=session, case_id=case.id, kind="note", actor_aad_id=DSO, actor_name=None, action_id="n-1"
        )
        # Without an action id every call is its own event.
        for _ in range(2):
            assert await cases.record_event(
                session=session, case_id=case.id, kind="viewed", actor_aad_id=DSO, actor_name=None
            )
        await session.commit()
        kinds = [e.kind for e in await cases.chronology(session=session, case_id=case.id)]
    assert kinds == ["created", "note", "viewed", "viewed"]


async def test_concurrent_retries_record_one_event(sessions: async_sessionmaker[AsyncSession]) -> None:
    case = await new_case(sessions)
    assert case.id is not None
    case_id = case.id

    async def retry() -> bool:
        async with sessions() as session:
            recorded = await cases.record_event(
                session=session, case_id=case_id, kind="note", actor_aad_id=DSO, actor_name=None, action_id="same"
            )
            await session.commit()
            return recorded

    assert sorted(await asyncio.gather(*(retry() for _ in range(6)))) == [False] * 5 + [True]


async def test_event_arguments_are_checked(sessions: async_sessionmaker[AsyncSession]) -> None:
    case = await new_case(sessions)
    assert case.id is not None
    async with sessions() as session:
        with pytest.raises(ValueError, match="kind"):
            await cases.record_event(session=session, case_id=case.id, kind="", actor_aad_id=None, actor_name=None)
        with pytest.raises(ValueError, match="action_id"):
            await cases.record_event(
                session=session, case_id=case.id, kind="k", actor_aad_id=None, actor_name=None, action_id="x" * 129
            )


async def test_chronology_is_oldest_first_whatever_the_insert_order(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    case = await new_case(sessions)
    assert case.id is not None
    async with sessions() as session:
        for minutes, kind in [(30, "third"), (10, "first"), (20, "second-a"), (20, "second-b")]:
            await cases.record_event(
                session=session,
                case_id=case.id,
                kind=kind,
                actor_aad_id=None,
                actor_name=None,
                now=T0 + dt.timedelta(minutes=minutes),
            )
        await session.commit()
        kinds = [e.kind for e in await cases.chronology(session=session, case_id=case.id)]
    assert kinds == ["created", "first", "second-a", "second-b", "third"]


# Who sees what -------------------------------------------------------------------------------------------------


async def test_a_learner_sees_only_their_own_reports(sessions: async_sessionmaker[AsyncSession]) -> None:
    mine = [await new_case(sessions, now=T0 + dt.timedelta(minutes=i)) for i in range(2)]
    await new_case(sessions, reporter_aad_id="ffffffff-0000-0000-0000-000000000000")
    await new_case(sessions, reporter_aad_id=None, source="staff")
    async with sessions() as session:
        found = await cases.cases_reported_by(session=session, reporter_aad_id=LEARNER.upper())
        also = await cases.cases_reported_by(session=session, reporter_aad_id=f" {LEARNER.lower()} ")
        blank = await cases.cases_reported_by(session=session, reporter_aad_id="  ")
    assert [c.id for c in found] == [mine[1].id, mine[0].id]
    assert [c.id for c in also] == [c.id for c in found]
    assert blank == []


async def test_open_cases_are_urgent_first_then_longest_waiting(sessions: async_sessionmaker[AsyncSession]) -> None:
    old = await new_case(sessions, now=T0)
    urgent_newer = await new_case(sessions, now=T0 + dt.timedelta(hours=2), urgent=True)
    urgent_older = await new_case(sessions, now=T0 + dt.timedelta(hours=1), urgent=True)
    newer = await new_case(sessions, now=T0 + dt.timedelta(hours=3))
    closed = await new_case(sessions, now=T0 - dt.timedelta(days=1), urgent=True)
    assert closed.id is not None
    async with sessions() as session:
        assert await cases.change_case(
            session=session,
            case_id=closed.id,
            expected_version=1,
            changes={"status": "closed", "closed_at": T0},
            event_kind="closed",
            actor_aad_id=DSO,
            actor_name=None,
        )
        await session.commit()
        found = await cases.open_cases(session=session)
    assert [c.id for c in found] == [urgent_older.id, urgent_newer.id, old.id, newer.id]


# Reminders --------------------------------------------------------------------------------------------------------


async def due(sessions: async_sessionmaker[AsyncSession], at: dt.datetime) -> list[tuple[str, str]]:
    async with sessions() as session:
        found = await cases.due_for_reminder(session=session, now=at, ack_minutes=60, urgent_ack_minutes=15)
    return [(case.reference, action) for case, action in found]


async def mark(sessions: async_sessionmaker[AsyncSession], reference: str, field: str, at: dt.datetime) -> None:
    async with sessions() as session:
        case = await cases.get_by_reference(session=session, reference=reference)
        assert case is not None and case.id is not None
        assert await cases.change_case(
            session=session,
            case_id=case.id,
            expected_version=case.version,
            changes={field: at},
            event_kind=field.removesuffix("_at"),
            actor_aad_id=None,
            actor_name="Safe Space",
            now=at,
        )
        await session.commit()


async def test_reminder_and_escalation_boundaries_normal_and_urgent(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    normal = (await new_case(sessions, now=T0)).reference
    urgent = (await new_case(sessions, now=T0, urgent=True)).reference
    second = dt.timedelta(seconds=1)
    minutes = dt.timedelta(minutes=1)

    assert await due(sessions, T0 + 15 * minutes - second) == []
    assert await due(sessions, T0 + 15 * minutes) == [(urgent, "remind")]
    await mark(sessions, urgent, "reminded_at", T0 + 15 * minutes)
    assert await due(sessions, T0 + 30 * minutes - second) == []
    assert await due(sessions, T0 + 30 * minutes) == [(urgent, "escalate")]
    await mark(sessions, urgent, "escalated_at", T0 + 30 * minutes)

    assert await due(sessions, T0 + 60 * minutes - second) == []
    assert await due(sessions, T0 + 60 * minutes) == [(normal, "remind")]
    await mark(sessions, normal, "reminded_at", T0 + 60 * minutes)
    assert await due(sessions, T0 + 120 * minutes - second) == []
    assert await due(sessions, T0 + 120 * minutes) == [(normal, "escalate")]
    await mark(sessions, normal, "escalated_at", T0 + 120 * minutes)
    assert await due(sessions, T0 + dt.timedelta(days=3)) == [], "nothing follows an escalation"


async def test_an_overdue_case_never_reminded_is_escalated_not_reminded_then_escalated(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    urgent = (await new_case(sessions, now=T0, urgent=True)).reference
    normal = (await new_case(sessions, now=T0 - dt.timedelta(minutes=1))).reference
    found = await due(sessions, T0 + dt.timedelta(hours=5))
    assert found == [(urgent, "escalate"), (normal, "escalate")], "urgent first"
    await mark(sessions, urgent, "escalated_at", T0 + dt.timedelta(hours=5))
    assert await due(sessions, T0 + dt.timedelta(hours=6)) == [(normal, "escalate")]


async def test_acknowledged_cases_need_no_nudge(sessions: async_sessionmaker[AsyncSession]) -> None:
    case = await new_case(sessions, urgent=True)
    waiting = await new_case(sessions)
    async with sessions() as session:
        assert await acknowledge(session, case, at=T0 + dt.timedelta(minutes=3))
        await session.commit()
    assert await due(sessions, T0 + dt.timedelta(hours=1)) == [(waiting.reference, "remind")]


# Oversight ----------------------------------------------------------------------------------------------------------


async def test_oversight_reports_response_times_without_names(sessions: async_sessionmaker[AsyncSession]) -> None:
    await new_case(sessions, now=T0 - dt.timedelta(days=40))
    quick = await new_case(sessions, now=T0, urgent=True, category="radicalisation")
    slow = await new_case(sessions, now=T0 + dt.timedelta(hours=1))
    async with sessions() as session:
        assert await acknowledge(session, quick, at=T0 + dt.timedelta(minutes=4, seconds=30))
        await session.commit()
        rows = await cases.oversight(session=session, since=T0 - dt.timedelta(days=30))
    assert [r.reference for r in rows] == [quick.reference, slow.reference]
    first, second = rows
    assert (first.category, first.urgent, first.minutes_to_acknowledge, first.status) == (
        "radicalisation",
        True,
        4.5,
        "acknowledged",
    )
    assert first.acknowledged_at == T0 + dt.timedelta(minutes=4, seconds=30)
    assert (second.acknowledged_at, second.minutes_to_acknowledge, second.decision) == (None, None, None)
    assert not hasattr(first, "reporter_name") and not hasattr(first, "description")


async def test_recent_open_case_is_the_newest_open_one_of_that_person_only(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await new_case(sessions, now=T0 - dt.timedelta(hours=5))  # too old to join
    wanted = await new_case(sessions, now=T0 - dt.timedelta(hours=1))
    closed = await new_case(sessions, now=T0 - dt.timedelta(minutes=30))
    await new_case(sessions, now=T0 - dt.timedelta(minutes=10), reporter_aad_id=DEPUTY)  # someone else's
    assert closed.id is not None
    async with sessions() as session:
        await cases.change_case(
            session=session,
            case_id=closed.id,
            expected_version=closed.version,
            changes={"status": "closed"},
            event_kind="closed",
            actor_aad_id=DSO,
            actor_name="Claire Lewis",
            now=T0,
        )
        await session.commit()
    since = T0 - dt.timedelta(hours=4)
    async with sessions() as session:
        # Ids are stored lower-cased; the look-up takes either case.
        assert await cases.recent_open_case_of(session=session, reporter_aad_id=LEARNER, since=since) == wanted.id
        assert await cases.recent_open_case_of(session=session, reporter_aad_id="", since=since) is None
        later = T0 + dt.timedelta(hours=1)
        assert await cases.recent_open_case_of(session=session, reporter_aad_id=LEARNER, since=later) is None


async def test_a_report_fills_in_only_what_its_case_left_blank(sessions: async_sessionmaker[AsyncSession]) -> None:
    # A case the safety net opened: the flagged words, nothing about who, when or where.
    case = await new_case(sessions, source="triage", about="not_say", incident_when=None, incident_where="at home")
    assert case.id is not None
    async with sessions.begin() as session:
        changed = await cases.change_case(
            session=session,
            case_id=case.id,
            expected_version=case.version,
            changes={},
            event_kind="report_finished",
            actor_aad_id=None,
            actor_name="Alex",
            detail={"text": "the rest"},
            fill_blanks={"about": "learner", "incident_when": "Monday", "incident_where": "online", "contact_ok": True},
        )
    assert changed is not None
    assert (changed.about, changed.incident_when, changed.incident_where, changed.contact_ok) == (
        "learner",
        "Monday",
        "at home",  # answered already: never overwritten
        True,
    )
    assert changed.description == case.description and changed.version == case.version + 1
    async with sessions() as session:
        [*_, event] = await cases.chronology(session=session, case_id=case.id)
    assert set(json.loads(event.detail)["changes"]) == {"about", "incident_when", "contact_ok"}
    with pytest.raises(ValueError, match="cannot be filled"):
        async with sessions.begin() as session:
            await cases.change_case(
                session=session,
                case_id=case.id,
                expected_version=changed.version,
                changes={},
                event_kind="report_finished",
                actor_aad_id=None,
                actor_name=None,
                fill_blanks={"description": "rewritten"},
            )
