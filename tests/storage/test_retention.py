"""The retention schedule on SQLite and PostgreSQL (issue 11): what goes, what stays, the stub and the counts."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.safeguarding.retention import DailyRetention
from storage import cases, outbox
from storage.chain import check_store
from storage.db import open_database
from storage.live_quiz import LiveQuiz, LiveQuizAnswer, LiveQuizParticipant
from storage.migrate import migrate
from storage.models import (
    Case,
    CaseEvent,
    ConversationLogEntry,
    OutboxMessage,
    QuizAnswer,
    QuizAttempt,
    RetentionRun,
    RetiredCase,
)
from storage.retention import RetentionCounts, Schedule, apply_schedule, keep_until
from tests.commands.records_rig import DSO, OTHER, T0, bot, dso_note, make_case, one_line_failure, quiz, say

NOW = dt.datetime(2035, 1, 1, 12, 0, tzinfo=dt.UTC)
SCHEDULE = Schedule()
_CHATS = itertools.count(1)


async def _change(sessions: async_sessionmaker[AsyncSession], case: Case, **changes: Any) -> Case:
    assert case.id is not None
    async with sessions.begin() as session:
        current = await cases.get_case(session=session, case_id=case.id)
        assert current is not None
        changed = await cases.change_case(
            session=session,
            case_id=case.id,
            expected_version=current.version,
            changes=changes,
            event_kind="closed" if "closed_at" in changes else "changed",
            actor_aad_id=DSO,
            actor_name="Claire Lewis",
            now=T0,
        )
    assert changed is not None
    return changed


async def _closed(sessions, when: dt.datetime, **fields: Any) -> Case:
    # Each case its own reporter's chat, so whether a log is linked depends on that case alone.
    case = await make_case(sessions, conversation_id=f"a:1on1-reporter-{next(_CHATS)}", **fields)
    await dso_note(sessions, case, "Spoke to the learner.")
    return await _change(sessions, case, status="closed", closed_at=when, outcome_note="Support given.")


async def _scene(sessions: async_sessionmaker[AsyncSession]) -> dict[str, Case]:
    """Cases, logs and quiz results either side of each limit, as of NOW (1 January 2035)."""
    scene = {
        "due": await _closed(sessions, dt.datetime(2026, 12, 1, tzinfo=dt.UTC), subject_name="Jordan Example"),
        "recent": await _closed(sessions, dt.datetime(2030, 1, 1, tzinfo=dt.UTC)),
        "held": await _closed(sessions, dt.datetime(2026, 12, 1, tzinfo=dt.UTC), category="radicalisation"),
        "open": await make_case(sessions, conversation_id="a:1on1-open"),
        "child_dob": await _closed(sessions, dt.datetime(2026, 12, 1, tzinfo=dt.UTC), subject_under_18=True),
        "child_no_dob": await _closed(sessions, dt.datetime(2026, 12, 2, tzinfo=dt.UTC), subject_under_18=True),
    }
    scene["held"] = await _change(sessions, scene["held"], legal_hold=True)
    scene["child_dob"] = await _change(sessions, scene["child_dob"], subject_date_of_birth=dt.date(2012, 5, 1))
    due = scene["due"]
    async with sessions.begin() as session:
        await outbox.enqueue(
            session=session,
            dedupe_key=f"card:{due.id}",
            kind="direct",
            target={"aad_object_id": DSO},
            payload={"activity": {"text": "x"}},
            case_id=due.id,
        )
    old = T0 - dt.timedelta(days=30)
    await say(sessions, due.reporter_conversation_id or "", OTHER, "Alex", "what the due case's reporter said", old)
    await say(sessions, scene["recent"].reporter_conversation_id or "", OTHER, "Alex", "linked, kept", old)
    await say(sessions, "a:1on1-nobody-old", OTHER, "Billie", "an old chat no case links to", old)
    await say(sessions, "a:1on1-nobody-new", OTHER, "Billie", "a recent one", NOW - dt.timedelta(days=89))
    await quiz(sessions, OTHER, 3, NOW - dt.timedelta(days=800))
    await quiz(sessions, OTHER, 4, NOW - dt.timedelta(days=700))
    async with sessions.begin() as session:
        live = LiveQuiz(
            conversation_id="19:group",
            conversation_type="groupChat",
            service_url="http://127.0.0.1/",
            trainer_aad_id=DSO,
            value="mixed",
            question_ids='["dem-01", "dem-02"]',
            seconds_per_question=20,
            state="finished",
        )
        session.add(live)
        await session.flush()
        player = LiveQuizParticipant(quiz_id=live.id or 0, user_key=OTHER, user_aad_id=OTHER, first_name="Billie")
        session.add(player)
        await session.flush()
        for index, days in ((0, 800), (1, 700)):
            session.add(
                LiveQuizAnswer(
                    quiz_id=live.id or 0,
                    question_index=index,
                    participant_id=player.id or 0,
                    question_id="dem-01",
                    option=0,
                    correct=True,
                    response_ms=900,
                    points=900,
                    answered_at=NOW - dt.timedelta(days=days),
                )
            )
    return scene


async def _count(sessions, model: type, *where: Any) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(model).where(*where))).scalar_one())


def test_keep_until_takes_the_later_of_closing_and_birth() -> None:
    closed = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    case = Case(
        reference="SS-2026-0001",
        source="learner",
        category="other",
        about="self",
        description="",
        created_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
        closed_at=closed,
    )
    assert keep_until(case, SCHEDULE) == dt.datetime(2033, 12, 1, tzinfo=dt.UTC)
    case.subject_date_of_birth = dt.date(2012, 2, 29)
    assert keep_until(case, SCHEDULE) == dt.datetime(2037, 3, 1, tzinfo=dt.UTC)  # 2037 has no 29 February
    case.subject_date_of_birth = dt.date(1990, 1, 1)
    assert keep_until(case, SCHEDULE) == dt.datetime(2033, 12, 1, tzinfo=dt.UTC)
    case.subject_date_of_birth, case.subject_under_18 = None, True
    assert keep_until(case, SCHEDULE) == dt.datetime(2051, 11, 1, tzinfo=dt.UTC)
    case.closed_at = None
    assert keep_until(case, SCHEDULE) is None


async def test_retention_removes_what_is_due_leaves_a_stub_and_counts_it(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    scene = await _scene(sessions)
    due = scene["due"]
    before = {model.__name__: await _count(sessions, model) for model in (Case, CaseEvent, ConversationLogEntry)}

    async with sessions() as session:
        dry = await apply_schedule(
            session=session, schedule=SCHEDULE, now=NOW, dry_run=True, trigger="command", actor="tester"
        )
        await session.rollback()
    assert dry is not None
    assert {
        model.__name__: await _count(sessions, model) for model in (Case, CaseEvent, ConversationLogEntry)
    } == before
    assert await _count(sessions, RetentionRun) == 0, "a dry run writes nothing"

    async with sessions.begin() as session:
        applied = await apply_schedule(
            session=session, schedule=SCHEDULE, now=NOW, dry_run=False, trigger="command", actor="tester"
        )
    assert applied is not None
    expected = RetentionCounts(
        cases_removed=1,
        events_removed=3,
        outbox_removed=1,
        conversation_log_removed=2,
        quiz_attempts_removed=1,
        quiz_answers_removed=2,
        live_quiz_answers_removed=1,
        held_cases_kept=1,
        references=[due.reference],
    )
    assert applied == expected
    assert dry == expected, "the dry run said exactly what would go"

    async with sessions() as session:
        left = {c.reference for c in (await session.execute(select(Case))).scalars()}
        [stub] = (await session.execute(select(RetiredCase))).scalars().all()
        [run] = (await session.execute(select(RetentionRun))).scalars().all()
        logs = sorted(e.text or "" for e in (await session.execute(select(ConversationLogEntry))).scalars())
        report = await check_store(session)
    assert left == {c.reference for key, c in scene.items() if key != "due"}
    assert (stub.reference, stub.category, stub.created_at, stub.closed_at, stub.removed_at) == (
        due.reference,
        "bullying",
        T0,
        dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
        NOW,
    )
    assert stub.event_count == 3 and stub.retention_run_id == run.id
    assert not {"description", "subject_name", "reporter_name", "reporter_aad_id"} & set(RetiredCase.model_fields)
    assert (run.trigger, run.actor, run.cases_removed, run.events_removed, run.held_cases_kept) == (
        "command",
        "tester",
        1,
        3,
        1,
    )
    assert (run.conversation_log_removed, run.quiz_attempts_removed, run.quiz_answers_removed) == (2, 1, 2)
    assert logs == ["a recent one", "linked, kept"]
    assert await _count(sessions, OutboxMessage) == 0
    assert await _count(sessions, QuizAttempt) == 1 and await _count(sessions, QuizAnswer) == 2
    assert await _count(sessions, LiveQuizAnswer) == 1
    assert report.broken == [] and report.cases == 5

    # Nothing else is due: a second run removes nothing, and says so.
    async with sessions.begin() as session:
        again = await apply_schedule(
            session=session, schedule=SCHEDULE, now=NOW, dry_run=False, trigger="command", actor="tester"
        )
    assert again == RetentionCounts(held_cases_kept=1)


async def test_a_released_hold_lets_the_case_go_at_the_next_run(sessions: async_sessionmaker[AsyncSession]) -> None:
    scene = await _scene(sessions)
    await _change(sessions, scene["held"], legal_hold=False)
    async with sessions.begin() as session:
        counts = await apply_schedule(
            session=session, schedule=SCHEDULE, now=NOW, dry_run=False, trigger="command", actor=None
        )
    assert counts is not None and sorted(counts.references) == sorted([scene["due"].reference, scene["held"].reference])
    assert counts.held_cases_kept == 0


async def test_the_daily_run_happens_once_however_many_instances_check(database_url: str) -> None:
    first, second = open_database(database_url), open_database(database_url)
    await migrate(first.engine)
    try:
        await _closed(first.sessions, dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
        jobs = [DailyRetention(database=db, schedule=SCHEDULE, check_seconds=3600) for db in (first, second)]
        results = await asyncio.gather(*(job.run_once() for job in jobs))
        assert sorted(r is None for r in results) == [False, True]
        [counts] = [r for r in results if r is not None]
        assert counts.cases_removed == 1
        assert await jobs[0].run_once() is None and await jobs[1].run_once() is None
        async with first.sessions() as session:
            [run] = (await session.execute(select(RetentionRun))).scalars().all()
        assert run.run_key is not None and run.run_key.startswith("daily:") and run.trigger == "daily"
        assert run.cases_removed == 1
    finally:
        await first.dispose()
        await second.dispose()


@pytest.mark.slow
async def test_the_retention_command_dry_runs_then_applies(database_url: str, sessions) -> None:
    await _closed(sessions, dt.datetime(2000, 1, 1, tzinfo=dt.UTC))  # long past 7 years, whatever today is
    await make_case(sessions, conversation_id="a:1on1-open")
    dry = await bot(database_url, "retention", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert (
        "dry run: nothing changed" in dry.stdout and "cases would remove:               1 (SS-2026-0001)" in dry.stdout
    )
    assert await _count(sessions, Case) == 2
    applied = await bot(database_url, "retention", "--apply", "--by", "Claire Lewis")
    assert applied.returncode == 0, applied.stderr
    assert "cases removed:               1 (SS-2026-0001)" in applied.stdout
    assert await _count(sessions, Case) == 1 and await _count(sessions, RetiredCase) == 1
    async with sessions() as session:
        [run] = (await session.execute(select(RetentionRun))).scalars().all()
    assert (run.actor, run.cases_removed, run.events_removed) == ("Claire Lewis", 1, 3)
    line = one_line_failure(await bot(database_url, "retention"))  # neither --dry-run nor --apply
    assert line == "python -m bot retention: one of the arguments --dry-run --apply is required (see --help)"
