"""Issue 11 on SQLite and PostgreSQL: the DSO's queue, a case's history (paged, never cut) and the directors'
report's figures, checked against an independent count of every row in the store."""

from __future__ import annotations

import datetime as dt
import random
import statistics

import numpy as np
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import case_report, case_views, cases, quiz_attempts
from storage.models import CaseCreate, Debate, QuizAnswerBase, QuizAttemptBase

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
DSO = "dddddddd-1111-2222-3333-444444444444"
OTHER = "eeeeeeee-1111-2222-3333-444444444444"
ACK, URGENT_ACK = 30, 5


def _report(category: str = "bullying", urgent: bool = False) -> CaseCreate:
    return CaseCreate(source="learner", category=category, about="self", description="x", urgent=urgent)


async def _case(session: AsyncSession, *, at: dt.datetime, **kw) -> int:
    case = await cases.create_case(session=session, case=_report(**kw), actor_aad_id=None, actor_name=None, now=at)
    assert case.id is not None
    return case.id


async def _change(session: AsyncSession, case_id: int, **changes) -> None:
    current = await cases.get_case(session=session, case_id=case_id)
    assert current is not None
    assert await cases.change_case(
        session=session,
        case_id=case_id,
        expected_version=current.version,
        changes=changes,
        event_kind="test",
        actor_aad_id=DSO,
        actor_name="Claire Lewis",
    )


async def test_the_queue_puts_overdue_first_then_urgent_then_oldest_and_pages(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        fresh_old = await _case(session, at=NOW - dt.timedelta(minutes=20))  # not yet overdue (30 min)
        fresh_urgent = await _case(session, at=NOW - dt.timedelta(minutes=2), urgent=True)  # urgent, 5 min limit
        overdue = await _case(session, at=NOW - dt.timedelta(minutes=45))
        overdue_urgent_newer = await _case(session, at=NOW - dt.timedelta(minutes=10), urgent=True)
        mine = await _case(session, at=NOW - dt.timedelta(days=3))
        await _change(session, mine, status="acknowledged", owner_aad_id=DSO.upper(), acknowledged_at=NOW)
        closed = await _case(session, at=NOW - dt.timedelta(days=9))
        await _change(session, closed, status="closed")
    async with sessions() as session:
        whole = await case_views.open_queue(
            session=session, now=NOW, ack_minutes=ACK, urgent_ack_minutes=URGENT_ACK, page_size=50
        )
        assert [r.case_id for r in whole.rows] == [overdue_urgent_newer, overdue, fresh_urgent, mine, fresh_old]
        assert (whole.total, whole.overdue) == (5, 2)
        assert [r.overdue for r in whole.rows] == [True, True, False, False, False]
        # Paged two at a time: every case once, in the same order, and the last page says there is no more.
        seen = []
        for page in range(3):
            part = await case_views.open_queue(
                session=session, now=NOW, ack_minutes=ACK, urgent_ack_minutes=URGENT_ACK, page=page, page_size=2
            )
            assert part.total == 5 and part.has_more == (page < 2)
            seen += [r.case_id for r in part.rows]
        assert seen == [r.case_id for r in whole.rows]
        # "my cases": the owner's only, whatever the case of the id Teams sent; a blank id matches nothing.
        own = await case_views.open_queue(
            session=session, now=NOW, ack_minutes=ACK, urgent_ack_minutes=URGENT_ACK, owner_aad_id=DSO, mine=True
        )
        assert [r.case_id for r in own.rows] == [mine]
        nobody = await case_views.open_queue(
            session=session, now=NOW, ack_minutes=ACK, urgent_ack_minutes=URGENT_ACK, owner_aad_id="", mine=True
        )
        assert nobody.total == 0


async def test_a_long_history_pages_in_order_and_nothing_is_left_out(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        case_id = await _case(session, at=NOW - dt.timedelta(hours=5))
        for n in range(30):
            await cases.record_event(
                session=session,
                case_id=case_id,
                kind="note",
                actor_aad_id=DSO,
                actor_name="Claire Lewis",
                detail={"text": f"note {n}"},
                now=NOW - dt.timedelta(hours=4) + dt.timedelta(minutes=n),
            )
    async with sessions() as session:
        pages = []
        page = 0
        while True:
            found = await case_views.history(session=session, case_id=case_id, page=page, page_size=7)
            assert found is not None and found.total == 31
            pages.append(found)
            if not found.has_more:
                break
            page += 1
        events = [e for p in pages for e in p.events]
        assert len(pages) == 5 and len(events) == 31
        assert [e.kind for e in events][:2] == ["created", "note"]
        assert [e.at for e in events] == sorted(e.at for e in events)
        assert len({e.id for e in events}) == 31
        assert await case_views.history(session=session, case_id=999_999) is None


async def test_the_reports_figures_match_an_independent_count(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Random cases in and around October 2026, then the report against plain SQL and Python over every row."""
    rng = random.Random(11)
    start = dt.datetime(2026, 9, 30, 23, 0, tzinfo=dt.UTC)  # 1 October 00:00 in the UK (BST)
    end = dt.datetime(2026, 11, 1, 0, 0, tzinfo=dt.UTC)  # 1 November 00:00 in the UK (GMT)
    categories = ["bullying", "radicalisation", "online_safety", "wellbeing"]
    async with sessions.begin() as session:
        for _ in range(60):
            at = start + dt.timedelta(minutes=rng.randint(-3000, 48000))  # some before, some after the period
            case_id = await _case(session, at=at, category=rng.choice(categories), urgent=rng.random() < 0.3)
            roll = rng.random()
            if roll < 0.75:
                ack = at + dt.timedelta(minutes=rng.randint(1, 120))
                changes = {"status": "acknowledged", "owner_aad_id": DSO, "acknowledged_at": ack}
                if rng.random() < 0.5:
                    decision = rng.choice(["channel", "police", "no_further_action"])
                    waiting = "awaiting_director" if decision == "channel" else "decided"
                    changes.update(decision=decision, status=waiting)
                    if decision == "channel" and rng.random() < 0.5:
                        changes.update(decision_confirmed_by="Alan Bates", status="decided")
                if rng.random() < 0.2:
                    changes.update(status="closed")
                await _change(session, case_id, **changes)
            elif roll < 0.85:
                await _change(session, case_id, escalated_at=at + dt.timedelta(minutes=61))
        for n in range(12):
            finished = start + dt.timedelta(days=rng.randint(-5, 40))
            attempt = QuizAttemptBase(
                user_aad_id=f"learner-{n % 5}",
                conversation_id="c",
                mode="self",
                value="mixed",
                question_count=4,
                score=0,
                started_at=finished,
                finished_at=finished,
            )
            answers = [
                QuizAnswerBase(
                    question_id=f"q{k}",
                    value=rng.choice(["democracy", "rule_of_law"]),
                    chosen=0,
                    correct=rng.random() < 0.6,
                )
                for k in range(4)
            ]
            await quiz_attempts.record_attempt(session=session, attempt=attempt, answers=answers)
        for n in range(15):
            session.add(
                Debate(
                    conversation_id=f"19:session-{n}@thread.v2",
                    conversation_type="groupChat",
                    service_url="http://127.0.0.1/",
                    trainer_aad_id="trainer",
                    motion=f"Motion {n}",
                    value=rng.choice([None, "democracy", "rule_of_law", "mutual_respect"]),
                    created_at=start + dt.timedelta(days=rng.randint(-5, 40)),
                )
            )

    async with sessions() as session:
        figures = await case_report.report_figures(
            session=session, start=start, end=end, now=NOW, ack_minutes=ACK, urgent_ack_minutes=URGENT_ACK
        )
        # The independent count: every row, read with plain SQL, filtered and counted in Python.
        rows = (
            await session.execute(
                text(
                    "SELECT category, status, decision, urgent, created_at, acknowledged_at, escalated_at,"
                    " decision_confirmed_by FROM safeguarding_case"
                )
            )
        ).all()
        quiz = (
            await session.execute(
                text(
                    "SELECT a.user_aad_id, a.finished_at, q.value, q.correct FROM quiz_attempt a"
                    " JOIN quiz_answer q ON q.attempt_id = a.id"
                )
            )
        ).all()
        attempts = (await session.execute(text("SELECT id, user_aad_id, finished_at FROM quiz_attempt"))).all()

    def aware(value):
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        return value if value is None or value.tzinfo else value.replace(tzinfo=dt.UTC)

    mine = [r for r in rows if start <= aware(r.created_at) < end]
    assert 10 < len(mine) < 60, "the random data must straddle the period"
    assert figures.cases == len(mine)
    assert figures.urgent == sum(1 for r in mine if r.urgent)

    def tally(values) -> dict[str, int]:
        out: dict[str, int] = {}
        for v in values:
            out[v] = out.get(v, 0) + 1
        return out

    assert {c.key: c.count for c in figures.by_category} == tally(r.category for r in mine)
    assert {c.key: c.count for c in figures.by_status} == tally(r.status for r in mine)
    assert {c.key: c.count for c in figures.by_decision} == tally(r.decision or "none" for r in mine)
    waits = sorted(
        (aware(r.acknowledged_at) - aware(r.created_at)).total_seconds() / 60 for r in mine if r.acknowledged_at
    )
    assert figures.acknowledged == len(waits)
    assert figures.median_minutes_to_acknowledge == round(statistics.median(waits), 1)
    assert figures.p90_minutes_to_acknowledge == round(float(np.percentile(waits, 90)), 1)
    late = 0
    for r in mine:
        limit = dt.timedelta(minutes=URGENT_ACK if r.urgent else ACK)
        if r.acknowledged_at:
            late += aware(r.acknowledged_at) - aware(r.created_at) > limit
        elif r.status == "new":
            late += NOW - aware(r.created_at) > limit
    assert figures.overdue == late
    assert figures.escalated == sum(1 for r in mine if r.escalated_at)
    assert figures.channel_referrals == sum(1 for r in mine if r.decision == "channel")
    assert figures.channel_confirmed == sum(1 for r in mine if r.decision == "channel" and r.decision_confirmed_by)
    in_period = [a for a in attempts if start <= aware(a.finished_at) < end]
    assert figures.quiz_attempts == len(in_period)
    assert figures.quiz_participants == len({a.user_aad_id for a in in_period})
    answers = [q for q in quiz if start <= aware(q.finished_at) < end]
    expected = {}
    for q in answers:
        n, c = expected.get(q.value, (0, 0))
        expected[q.value] = (n + 1, c + bool(q.correct))
    assert {s.value: (s.answered, s.correct) for s in figures.value_scores} == expected
    async with sessions() as session:
        debates = (await session.execute(text("SELECT value, created_at FROM debate"))).all()
    held = tally(d.value or "untagged" for d in debates if start <= aware(d.created_at) < end)
    assert 0 < sum(held.values()) < 15, "the random debates must straddle the period"
    assert {c.key: c.count for c in figures.debates_by_value} == held
