"""The directors' report: what happened to cases raised in a period, and how the quiz went. Figures only.

Nobody's name and nothing anyone wrote: categories, statuses, decisions, timings and quiz scores. Counts are done
in the database (GROUP BY over an index on created_at); only the acknowledgement timings of the period's cases are
read row by row, because a median and a 90th percentile need them and SQLite has no percentile function.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.debates import debates_held_by_value
from storage.models import Case, QuizAnswer, QuizAttempt

NO_DECISION = "none"


@dataclass(frozen=True, slots=True)
class Count:
    key: str
    count: int


@dataclass(frozen=True, slots=True)
class ValueScore:
    """Answers to one British value's questions in the period: how many, how many right, the share right."""

    value: str
    answered: int
    correct: int

    @property
    def percent(self) -> float:
        return round(100 * self.correct / self.answered, 1) if self.answered else 0.0


@dataclass(frozen=True, slots=True)
class ReportFigures:
    start: dt.datetime  # inclusive, UTC
    end: dt.datetime  # exclusive, UTC
    cases: int
    urgent: int
    by_category: tuple[Count, ...]
    by_status: tuple[Count, ...]
    by_decision: tuple[Count, ...]  # NO_DECISION for cases without one yet
    acknowledged: int
    median_minutes_to_acknowledge: float | None
    p90_minutes_to_acknowledge: float | None
    # Waited past their acknowledgement limit: picked up late, or still not picked up and past it now.
    overdue: int
    escalated: int
    channel_referrals: int  # proposed (decision "channel"), confirmed or not
    channel_confirmed: int  # confirmed by a director
    quiz_attempts: int
    quiz_participants: int  # distinct people (attempts without a known person are not counted here)
    value_scores: tuple[ValueScore, ...]
    # Debate polls started in the period, per British value ("untagged" when none was named or matched): policy
    # 3.1.2 asks for debates in every programme.
    debates_by_value: tuple[Count, ...] = ()


def percentile(sorted_values: Sequence[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None for no values."""
    if not sorted_values:
        return None
    position = (len(sorted_values) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    value = sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)
    return round(value, 1)


def _ordered(counts: dict[str, int]) -> tuple[Count, ...]:
    return tuple(Count(key=k, count=n) for k, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])))


async def _timings(
    session: AsyncSession, in_period: Sequence[Any], now: dt.datetime, ack_minutes: int, urgent_ack_minutes: int
) -> tuple[int, float | None, float | None, int]:
    """(picked up, median and 90th-percentile minutes to pick up, overdue) for the period's cases.

    PostgreSQL works them out itself (percentile_cont interpolates linearly, as `percentile` does), so a year of
    cases is not sent over the wire; SQLite has no percentile function, so the waits are read and sorted here.
    """
    urgent_limit = dt.timedelta(minutes=urgent_ack_minutes)
    limit = dt.timedelta(minutes=ack_minutes)
    if session.get_bind().dialect.name == "postgresql":
        waited = col(Case.acknowledged_at) - col(Case.created_at)
        minutes = func.extract("epoch", waited) / 60
        allowed = case((col(Case.urgent), urgent_limit), else_=limit)
        late = case(
            (col(Case.acknowledged_at).is_not(None) & (waited > allowed), 1),
            (
                (col(Case.status) == "new")
                & col(Case.acknowledged_at).is_(None)
                & (now - col(Case.created_at) > allowed),
                1,
            ),
            else_=0,
        )
        row = (
            await session.execute(
                select(
                    func.count(col(Case.acknowledged_at)),
                    func.percentile_cont(0.5).within_group(minutes),
                    func.percentile_cont(0.9).within_group(minutes),
                    func.coalesce(func.sum(late), 0),
                ).where(*in_period)
            )
        ).one()
        median = None if row[1] is None else round(float(row[1]), 1)
        p90 = None if row[2] is None else round(float(row[2]), 1)
        return int(row[0]), median, p90, int(row[3])
    rows = await session.execute(
        select(col(Case.urgent), col(Case.created_at), col(Case.acknowledged_at)).where(
            *in_period, col(Case.acknowledged_at).is_not(None) | (col(Case.status) == "new")
        )
    )
    waits: list[float] = []
    overdue = 0
    for urgent, created_at, acknowledged_at in rows:
        allowed_for = urgent_limit if urgent else limit
        if acknowledged_at is not None:
            took = acknowledged_at - created_at
            waits.append(took.total_seconds() / 60)
        else:
            took = now - created_at
        overdue += took > allowed_for
    waits.sort()
    return len(waits), percentile(waits, 0.5), percentile(waits, 0.9), overdue


async def report_figures(
    *,
    session: AsyncSession,
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
    ack_minutes: int,
    urgent_ack_minutes: int,
) -> ReportFigures:
    """Figures for cases raised, and quizzes finished, in [start, end)."""
    in_period = [col(Case.created_at) >= start, col(Case.created_at) < end]
    # One GROUP BY for every count: a few hundred groups at most, summed here, rather than a query per figure.
    confirmed = col(Case.decision_confirmed_by).is_not(None)
    escalated = col(Case.escalated_at).is_not(None)
    groups = await session.execute(
        select(
            col(Case.category),
            col(Case.status),
            col(Case.decision),
            col(Case.urgent),
            escalated,
            confirmed,
            func.count(),
        )
        .where(*in_period)
        .group_by(col(Case.category), col(Case.status), col(Case.decision), col(Case.urgent), escalated, confirmed)
    )
    by_category: dict[str, int] = {}
    by_status: dict[str, int] = {}
    by_decision: dict[str, int] = {}
    total = urgent_count = escalated_count = channel = channel_confirmed = 0
    for category, status, decision, urgent, was_escalated, was_confirmed, n in groups:
        n = int(n)
        total += n
        urgent_count += n if urgent else 0
        escalated_count += n if was_escalated else 0
        channel += n if decision == "channel" else 0
        channel_confirmed += n if decision == "channel" and was_confirmed else 0
        by_category[category] = by_category.get(category, 0) + n
        by_status[status] = by_status.get(status, 0) + n
        key = decision or NO_DECISION
        by_decision[key] = by_decision.get(key, 0) + n

    timing = await _timings(session, in_period, now, ack_minutes, urgent_ack_minutes)

    quiz_period = [col(QuizAttempt.finished_at) >= start, col(QuizAttempt.finished_at) < end]
    attempts, participants = (
        await session.execute(
            select(func.count(), func.count(distinct(col(QuizAttempt.user_aad_id)))).where(*quiz_period)
        )
    ).one()
    scores = await session.execute(
        select(
            col(QuizAnswer.value), func.count(), func.coalesce(func.sum(case((col(QuizAnswer.correct), 1), else_=0)), 0)
        )
        .join(QuizAttempt, col(QuizAttempt.id) == col(QuizAnswer.attempt_id))
        .where(*quiz_period)
        .group_by(col(QuizAnswer.value))
        .order_by(col(QuizAnswer.value))
    )
    return ReportFigures(
        start=start,
        end=end,
        cases=total,
        urgent=urgent_count,
        by_category=_ordered(by_category),
        by_status=_ordered(by_status),
        by_decision=_ordered(by_decision),
        acknowledged=timing[0],
        median_minutes_to_acknowledge=timing[1],
        p90_minutes_to_acknowledge=timing[2],
        overdue=timing[3],
        escalated=escalated_count,
        channel_referrals=channel,
        channel_confirmed=channel_confirmed,
        quiz_attempts=int(attempts),
        quiz_participants=int(participants),
        value_scores=tuple(ValueScore(value=v, answered=int(n), correct=int(c)) for v, n, c in scores),
        debates_by_value=_ordered(await debates_held_by_value(session, start, end)),
    )
