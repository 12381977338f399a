"""The retention schedule: what is removed when, leaving a stub for each case and a count of everything.

A case is kept while it is open, while a DSO holds it (legal hold), and until the later of
`years_after_closed` after it closed and `years_from_birth` after the subject's date of birth. With no date of
birth but a subject known to be under 18, the report's own date stands in for it: the child was born no later
than that, so the case is kept at least as long as the rule asks. A conversation no case links to is kept
`unlinked_log_days`; quiz answers `quiz_years`.

Everything happens in one transaction with the run's own record, so a run either happened whole, counted, or
not at all. On PostgreSQL the transaction says `SET LOCAL safespace.retention = 'on'`, the one thing the
chronology's append-only trigger lets delete (migration 0007).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.live_quiz import LiveQuizAnswer
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


@dataclass(frozen=True, slots=True)
class Schedule:
    years_after_closed: int = 7
    years_from_birth: int = 25
    unlinked_log_days: int = 90
    quiz_years: int = 2


@dataclass
class RetentionCounts:
    cases_removed: int = 0
    events_removed: int = 0
    outbox_removed: int = 0
    conversation_log_removed: int = 0
    quiz_attempts_removed: int = 0
    quiz_answers_removed: int = 0
    live_quiz_answers_removed: int = 0
    held_cases_kept: int = 0
    references: list[str] = field(default_factory=list)  # for the command's own output; never stored


def add_years(moment: dt.datetime, years: int) -> dt.datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February in a year that has none: the day after
        return moment.replace(year=moment.year + years, month=3, day=1)


def keep_until(case: Case, schedule: Schedule) -> dt.datetime | None:
    """When the case may be removed (ignoring a legal hold); None while it is open."""
    if case.closed_at is None:
        return None
    until = add_years(case.closed_at, schedule.years_after_closed)
    if case.subject_date_of_birth is not None:
        born = dt.datetime.combine(case.subject_date_of_birth, dt.time(), tzinfo=dt.UTC)
        until = max(until, add_years(born, schedule.years_from_birth))
    elif case.subject_under_18:
        until = max(until, add_years(case.created_at, schedule.years_from_birth))
    return until


def _rowcount(result: object) -> int:
    return max(0, int(getattr(result, "rowcount", 0) or 0))


async def _count(session: AsyncSession, statement: object) -> int:
    return int((await session.execute(statement)).scalar_one())  # type: ignore[call-overload]


async def _claim(session: AsyncSession, run: RetentionRun) -> RetentionRun | None:
    """Record the run; None when a run with the same key (today's daily run) exists or is under way."""
    if run.run_key is None:
        session.add(run)
        await session.flush()
        return run
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    values = {c: getattr(run, c) for c in ("run_key", "trigger", "actor", "ran_at")}
    # Another instance inserting the same key makes this wait for its transaction, then do nothing: one run a day.
    stmt = insert(RetentionRun).values(**values).on_conflict_do_nothing(index_elements=["run_key"])
    if _rowcount(await session.execute(stmt)) != 1:
        return None
    rows = await session.execute(select(RetentionRun).where(col(RetentionRun.run_key) == run.run_key))
    return rows.scalars().one()


async def apply_schedule(
    *,
    session: AsyncSession,
    schedule: Schedule,
    now: dt.datetime,
    dry_run: bool,
    trigger: str,
    actor: str | None,
    run_key: str | None = None,
) -> RetentionCounts | None:
    """Remove (or, dry, count) what the schedule says has been kept long enough; the caller commits.

    Returns None when `run_key` was already run. A dry run writes nothing, not even its own record.
    """
    counts = RetentionCounts()
    run = RetentionRun(run_key=run_key, trigger=trigger, actor=actor, ran_at=now)
    if not dry_run:
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(text("SET LOCAL safespace.retention = 'on'"))
        claimed = await _claim(session, run)
        if claimed is None:
            return None
        run = claimed

    # Cases: only those closed long enough ago to possibly be due are loaded, then each is checked in full.
    earliest_close = add_years(now, -schedule.years_after_closed)
    rows = await session.execute(
        select(Case)
        .where(col(Case.closed_at).is_not(None), col(Case.closed_at) <= earliest_close)
        .order_by(col(Case.id))
        .execution_options(populate_existing=True)
    )
    for case in list(rows.scalars()):
        until = keep_until(case, schedule)
        if until is None or until > now:
            continue
        if case.legal_hold:
            counts.held_cases_kept += 1
            continue
        assert case.id is not None
        counts.cases_removed += 1
        counts.references.append(case.reference)
        events = select(func.count()).select_from(CaseEvent).where(col(CaseEvent.case_id) == case.id)
        queued = select(func.count()).select_from(OutboxMessage).where(col(OutboxMessage.case_id) == case.id)
        if dry_run:
            counts.events_removed += await _count(session, events)
            counts.outbox_removed += await _count(session, queued)
            continue
        assert run.id is not None
        session.add(
            RetiredCase(
                reference=case.reference,
                category=case.category,
                created_at=case.created_at,
                closed_at=case.closed_at,
                removed_at=now,
                retention_run_id=run.id,
                event_count=case.event_count,
                chain_head=case.chain_head,
            )
        )
        removed = await session.execute(
            delete(CaseEvent).where(col(CaseEvent.case_id) == case.id).execution_options(synchronize_session=False)
        )
        counts.events_removed += _rowcount(removed)
        removed = await session.execute(
            delete(OutboxMessage)
            .where(col(OutboxMessage.case_id) == case.id)
            .execution_options(synchronize_session=False)
        )
        counts.outbox_removed += _rowcount(removed)
        await session.execute(delete(Case).where(col(Case.id) == case.id).execution_options(synchronize_session=False))
        session.expunge(case)
    if not dry_run:
        await session.flush()  # the removed cases' conversations are now unlinked, and may be due below

    # Conversation log: entries older than the limit in conversations no remaining case links to.
    linked = select(col(Case.reporter_conversation_id)).where(col(Case.reporter_conversation_id).is_not(None))
    log_due = (
        col(ConversationLogEntry.created_at) < now - dt.timedelta(days=schedule.unlinked_log_days),
        col(ConversationLogEntry.conversation_id).not_in(linked),
    )
    if dry_run:
        # Dry: the conversations of cases that would be removed would be unlinked too.
        still_linked = linked.where(col(Case.reference).not_in(counts.references))
        counts.conversation_log_removed = await _count(
            session,
            select(func.count())
            .select_from(ConversationLogEntry)
            .where(log_due[0], col(ConversationLogEntry.conversation_id).not_in(still_linked)),
        )
    else:
        removed = await session.execute(
            delete(ConversationLogEntry).where(*log_due).execution_options(synchronize_session=False)
        )
        counts.conversation_log_removed = _rowcount(removed)

    # Quiz answers and the attempts they belong to; live quiz answers by when they were given.
    quiz_cutoff = add_years(now, -schedule.quiz_years)
    old_attempts = select(col(QuizAttempt.id)).where(col(QuizAttempt.finished_at) < quiz_cutoff)
    if dry_run:
        counts.quiz_answers_removed = await _count(
            session, select(func.count()).select_from(QuizAnswer).where(col(QuizAnswer.attempt_id).in_(old_attempts))
        )
        counts.quiz_attempts_removed = await _count(
            session, select(func.count()).select_from(QuizAttempt).where(col(QuizAttempt.finished_at) < quiz_cutoff)
        )
        counts.live_quiz_answers_removed = await _count(
            session,
            select(func.count()).select_from(LiveQuizAnswer).where(col(LiveQuizAnswer.answered_at) < quiz_cutoff),
        )
        return counts
    counts.quiz_answers_removed = _rowcount(
        await session.execute(
            delete(QuizAnswer)
            .where(col(QuizAnswer.attempt_id).in_(old_attempts))
            .execution_options(synchronize_session=False)
        )
    )
    counts.quiz_attempts_removed = _rowcount(
        await session.execute(
            delete(QuizAttempt)
            .where(col(QuizAttempt.finished_at) < quiz_cutoff)
            .execution_options(synchronize_session=False)
        )
    )
    counts.live_quiz_answers_removed = _rowcount(
        await session.execute(
            delete(LiveQuizAnswer)
            .where(col(LiveQuizAnswer.answered_at) < quiz_cutoff)
            .execution_options(synchronize_session=False)
        )
    )

    for name in (
        "cases_removed",
        "events_removed",
        "outbox_removed",
        "conversation_log_removed",
        "quiz_attempts_removed",
        "quiz_answers_removed",
        "live_quiz_answers_removed",
        "held_cases_kept",
    ):
        setattr(run, name, getattr(counts, name))
    await session.flush()
    return counts
