"""The live quiz a trainer runs in a group chat: the quiz, who joined, and every locked-in answer.

Keyword-only async functions over an AsyncSession; the caller commits. The quiz row is a small state machine
(lobby -> question n -> closed n -> question n+1 ... -> finished) moved only by compare-and-swap on `version`,
and its clock is here too: a question's deadline is a column, so whichever instance is running (or the next one
after a restart) closes it on time.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, cast

from sqlalchemy import Column, CursorResult, Index, Text, UniqueConstraint, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col

from storage.cases import clean_text
from storage.types import UTCDateTime, utcnow

LOBBY: Final = "lobby"
QUESTION: Final = "question"  # question `question_index` is open for answers until `deadline_at`
CLOSED: Final = "closed"  # question `question_index` has closed; its results are showing
FINISHED: Final = "finished"
STATES: Final = frozenset({LOBBY, QUESTION, CLOSED, FINISHED})
RUNNING: Final = frozenset({LOBBY, QUESTION, CLOSED})

NAMES_FIRST: Final = "first"
NAMES_NICKNAMES: Final = "nicknames"


class LiveQuiz(SQLModel, table=True):
    __tablename__ = "live_quiz"
    __table_args__ = (
        # The deadline task asks "which open questions are past their deadline?" several times a second.
        Index("ix_live_quiz_state_deadline", "state", "deadline_at"),
        # One running quiz per conversation, enforced by the database so two "start quiz" at once cannot both win.
        Index(
            "uq_live_quiz_running_conversation",
            "conversation_id",
            unique=True,
            sqlite_where=text("state != 'finished'"),
            postgresql_where=text("state != 'finished'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(sa_column=Column(Text, nullable=False))
    conversation_type: str = Field(max_length=32)  # groupChat | channel
    service_url: str = Field(sa_column=Column(Text, nullable=False))
    tenant_id: str | None = Field(default=None, max_length=64)
    trainer_aad_id: str = Field(max_length=64)
    trainer_name: str | None = Field(default=None, sa_column=Column(Text))
    value: str = Field(max_length=32)  # a British value, or "mixed"
    question_ids: str = Field(sa_column=Column(Text, nullable=False))  # JSON list, drawn once at the start
    seconds_per_question: int
    names: str = Field(default=NAMES_FIRST, max_length=16)  # first | nicknames: how the cards show people
    state: str = Field(default=LOBBY, max_length=16)
    question_index: int = -1  # -1 in the lobby
    question_started_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    deadline_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    started_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    finished_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    version: int = 1  # bumped by every state change: the compare-and-swap token
    # The last version whose cards were redrawn in Teams; behind `version` after a crash, so a restart redraws.
    drawn_version: int = 0

    def questions(self) -> list[str]:
        return [str(q) for q in json.loads(self.question_ids)]


class LiveQuizParticipant(SQLModel, table=True):
    __tablename__ = "live_quiz_participant"
    __table_args__ = (UniqueConstraint("quiz_id", "user_key", name="uq_live_quiz_participant_user"),)

    id: int | None = Field(default=None, primary_key=True)
    quiz_id: int = Field(foreign_key="live_quiz.id")
    user_key: str = Field(max_length=128)  # the Entra object id (lower case), or the Teams id without one
    user_aad_id: str | None = Field(default=None, max_length=64)
    first_name: str = Field(sa_column=Column(Text, nullable=False))  # the first word of the display name only
    joined_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class LiveQuizAnswer(SQLModel, table=True):
    __tablename__ = "live_quiz_answer"
    # Exactly one answer per person per question: the first one is locked in, whatever arrives after it.
    __table_args__ = (UniqueConstraint("quiz_id", "question_index", "participant_id", name="uq_live_quiz_answer_once"),)

    id: int | None = Field(default=None, primary_key=True)
    quiz_id: int = Field(foreign_key="live_quiz.id")
    question_index: int
    participant_id: int = Field(foreign_key="live_quiz_participant.id", index=True)
    question_id: str = Field(max_length=16)
    option: int
    correct: bool
    response_ms: int  # from the question opening to the answer reaching the bot
    points: int
    answered_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    # The invoke's activity id: Teams retries an invoke it did not hear back from, and the retry must get the same
    # "locked in" reply rather than "you already answered".
    action_id: str | None = Field(default=None, max_length=128)


# Scoring -----------------------------------------------------------------------------------------------------


def kahoot_points(*, response_ms: int, seconds: int, correct: bool) -> int:
    """Kahoot's formula: round((1 - (response_time / timer) / 2) * 1000) for a correct answer, else 0.

    An instant correct answer earns 1000 and one on the buzzer 500, so being right always beats being fast.
    Worked in integer milliseconds and rounded half up, so every database and every recomputation agrees.
    """
    if not correct:
        return 0
    timer_ms = seconds * 1000
    elapsed = min(max(response_ms, 0), timer_ms)
    # floor(1000 * (1 - elapsed / (2 * timer_ms)) + 1/2), over one common denominator so it stays exact.
    return (2000 * timer_ms - 1000 * elapsed + timer_ms) // (2 * timer_ms)


# Helpers -----------------------------------------------------------------------------------------------------


def _insert(session: AsyncSession) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _rowcount(result: Any) -> int:
    return cast("CursorResult[Any]", result).rowcount


async def get_quiz(*, session: AsyncSession, quiz_id: int) -> LiveQuiz | None:
    rows = await session.execute(
        select(LiveQuiz).where(col(LiveQuiz.id) == quiz_id).execution_options(populate_existing=True)
    )
    return rows.scalars().first()


# PostgreSQL advisory locks, two-key form: this namespace and the quiz id. (The one-key form, which migrations use,
# is a separate key space.)
_PG_LOCK_SPACE: Final = 0x5AFE
_SHARED_LOCK = text("SELECT pg_advisory_xact_lock_shared(:space, :quiz)")
_EXCLUSIVE_LOCK = text("SELECT pg_advisory_xact_lock(:space, :quiz)")


async def _hold(session: AsyncSession, quiz_id: int, *, exclusive: bool) -> None:
    """Answers and joins hold the quiz's lock shared, state changes hold it exclusively, until commit.

    So answers go on in parallel, a close waits for the answers already in flight, and answers after it see it
    closed: none is counted after a close and none is lost to one. A row lock would do the same, but FOR SHARE
    from hundreds of answers at once rewrites the quiz row's lockers on every one (measured: p50 2.4 s for 300
    answers in 5 s, against 70 ms without); an advisory lock lives only in memory. SQLite has one writer, which
    serialises the same way by itself.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            _EXCLUSIVE_LOCK if exclusive else _SHARED_LOCK, {"space": _PG_LOCK_SPACE, "quiz": quiz_id}
        )


async def _locked_quiz(session: AsyncSession, quiz_id: int) -> LiveQuiz | None:
    await _hold(session, quiz_id, exclusive=False)
    return await get_quiz(session=session, quiz_id=quiz_id)


# The quiz ----------------------------------------------------------------------------------------------------


async def running_in(*, session: AsyncSession, conversation_id: str) -> LiveQuiz | None:
    rows = await session.execute(
        select(LiveQuiz)
        .where(col(LiveQuiz.conversation_id) == conversation_id, col(LiveQuiz.state) != FINISHED)
        .execution_options(populate_existing=True)
    )
    return rows.scalars().first()


async def create_quiz(
    *,
    session: AsyncSession,
    conversation_id: str,
    conversation_type: str,
    service_url: str,
    tenant_id: str | None,
    trainer_aad_id: str,
    trainer_name: str | None,
    value: str,
    question_ids: Sequence[str],
    seconds_per_question: int,
    names: str,
    now: dt.datetime | None = None,
) -> LiveQuiz:
    """A new quiz in its lobby. Raises IntegrityError (at flush) if one is already running in the conversation."""
    if names not in (NAMES_FIRST, NAMES_NICKNAMES):
        raise ValueError(f"unknown names mode {names!r}")
    if not question_ids:
        raise ValueError("a quiz needs at least one question")
    quiz = LiveQuiz(
        conversation_id=conversation_id,
        conversation_type=conversation_type,
        service_url=service_url,
        tenant_id=tenant_id,
        trainer_aad_id=trainer_aad_id.lower(),
        trainer_name=clean_text(trainer_name) if trainer_name else None,
        value=value,
        question_ids=json.dumps(list(question_ids)),
        seconds_per_question=seconds_per_question,
        names=names,
        created_at=now or utcnow(),
    )
    session.add(quiz)
    await session.flush()
    return quiz


async def change_state(
    *, session: AsyncSession, quiz_id: int, expected_version: int, changes: dict[str, Any]
) -> LiveQuiz | None:
    """Move the quiz on if nobody has since `expected_version`; None when it had already moved (or is gone)."""
    if "state" in changes and changes["state"] not in STATES:
        raise ValueError(f"unknown state {changes['state']!r}")
    forbidden = set(changes) & {"id", "version", "question_ids", "conversation_id"}
    if forbidden:
        raise ValueError(f"cannot change {sorted(forbidden)}")
    await _hold(session, quiz_id, exclusive=True)
    result = await session.execute(
        update(LiveQuiz)
        .where(col(LiveQuiz.id) == quiz_id, col(LiveQuiz.version) == expected_version)
        .values(**changes, version=col(LiveQuiz.version) + 1)
        .execution_options(synchronize_session=False)
    )
    if _rowcount(result) != 1:
        return None
    return await get_quiz(session=session, quiz_id=quiz_id)


async def mark_drawn(*, session: AsyncSession, quiz_id: int, version: int) -> None:
    await session.execute(
        update(LiveQuiz)
        .where(col(LiveQuiz.id) == quiz_id, col(LiveQuiz.drawn_version) < version)
        .values(drawn_version=version)
        .execution_options(synchronize_session=False)
    )


async def due_to_close(*, session: AsyncSession, now: dt.datetime) -> list[LiveQuiz]:
    rows = await session.execute(
        select(LiveQuiz)
        .where(col(LiveQuiz.state) == QUESTION, col(LiveQuiz.deadline_at) <= now)
        .order_by(col(LiveQuiz.deadline_at))
        .execution_options(populate_existing=True)
    )
    return list(rows.scalars())


async def next_deadline(*, session: AsyncSession) -> dt.datetime | None:
    value = (
        await session.execute(select(func.min(col(LiveQuiz.deadline_at))).where(col(LiveQuiz.state) == QUESTION))
    ).scalar_one_or_none()
    if value is None:
        return None
    # An aggregate loses the column type, so SQLite hands back a naive string or datetime; it is UTC either way.
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


async def undrawn(*, session: AsyncSession) -> list[LiveQuiz]:
    """Quizzes whose cards in Teams may not show their latest state (the redraw was lost in a crash)."""
    rows = await session.execute(
        select(LiveQuiz)
        .where(col(LiveQuiz.drawn_version) < col(LiveQuiz.version))
        .order_by(col(LiveQuiz.id))
        .execution_options(populate_existing=True)
    )
    return list(rows.scalars())


# People and answers ------------------------------------------------------------------------------------------


async def _insert_once(session: AsyncSession, statement: Any, model: Any, existing: Any) -> tuple[Any, bool]:
    """Insert unless the unique key is taken; returns the row that holds the key and whether it is ours.

    `statement` is an INSERT ... ON CONFLICT DO NOTHING, `existing` the SELECT of the row holding its key. With
    RETURNING (PostgreSQL, SQLite 3.35+) the usual case, a new row, takes one round trip instead of two.
    """
    if session.get_bind().dialect.insert_returning:
        rows = await session.execute(statement.returning(model), execution_options={"populate_existing": True})
        ours = rows.scalars().first()
        if ours is not None:
            return ours, True
        inserted = False
    else:
        inserted = _rowcount(await session.execute(statement)) == 1
    row = (await session.execute(existing.execution_options(populate_existing=True))).scalars().one()
    return row, inserted


async def _participant(
    session: AsyncSession, *, quiz_id: int, user_key: str, user_aad_id: str | None, first_name: str, now: dt.datetime
) -> tuple[LiveQuizParticipant, bool]:
    statement = (
        _insert(session)(LiveQuizParticipant)
        .values(
            quiz_id=quiz_id,
            user_key=user_key,
            user_aad_id=user_aad_id.lower() if user_aad_id else None,
            first_name=clean_text(first_name),
            joined_at=now,
        )
        .on_conflict_do_nothing(index_elements=["quiz_id", "user_key"])
    )
    existing = select(LiveQuizParticipant).where(
        col(LiveQuizParticipant.quiz_id) == quiz_id, col(LiveQuizParticipant.user_key) == user_key
    )
    participant, created = await _insert_once(session, statement, LiveQuizParticipant, existing)
    return cast(LiveQuizParticipant, participant), created


@dataclass(frozen=True, slots=True)
class Joined:
    quiz: LiveQuiz | None
    participant: LiveQuizParticipant | None = None
    created: bool = False


async def join(
    *,
    session: AsyncSession,
    quiz_id: int,
    user_key: str,
    user_aad_id: str | None,
    first_name: str,
    now: dt.datetime | None = None,
) -> Joined:
    """Add someone to a running quiz once; joining again returns them as they are."""
    quiz = await _locked_quiz(session, quiz_id)
    if quiz is None or quiz.state == FINISHED:
        return Joined(quiz=quiz)
    participant, created = await _participant(
        session, quiz_id=quiz_id, user_key=user_key, user_aad_id=user_aad_id, first_name=first_name, now=now or utcnow()
    )
    return Joined(quiz=quiz, participant=participant, created=created)


AnswerOutcome = Literal["recorded", "repeat", "locked", "late", "not_open", "finished", "not_found"]


@dataclass(frozen=True, slots=True)
class Answered:
    outcome: AnswerOutcome
    quiz: LiveQuiz | None = None
    answer: LiveQuizAnswer | None = None  # the locked-in answer: this one, or the earlier one that stands
    joined: bool = False  # answering was how this person joined


async def record_answer(
    *,
    session: AsyncSession,
    quiz_id: int,
    question_index: int,
    option: int,
    correct: bool,
    user_key: str,
    user_aad_id: str | None,
    first_name: str,
    action_id: str | None,
    now: dt.datetime | None = None,
) -> Answered:
    """Lock in one answer if the question is open and this person has not answered it yet.

    The quiz row is read under a share lock in the same transaction as the insert, so an answer either lands
    before the question closes or is refused: none is counted after the close, and none is lost to it.
    """
    now = now or utcnow()
    quiz = await _locked_quiz(session, quiz_id)
    if quiz is None:
        return Answered("not_found")
    if quiz.state == FINISHED:
        return Answered("finished", quiz)
    if quiz.state != QUESTION or quiz.question_index != question_index:
        return Answered("not_open", quiz)
    assert quiz.deadline_at is not None and quiz.question_started_at is not None
    if now > quiz.deadline_at:
        return Answered("late", quiz)
    participant, joined = await _participant(
        session, quiz_id=quiz_id, user_key=user_key, user_aad_id=user_aad_id, first_name=first_name, now=now
    )
    assert participant.id is not None
    response_ms = max(0, int((now - quiz.question_started_at).total_seconds() * 1000))
    points = kahoot_points(response_ms=response_ms, seconds=quiz.seconds_per_question, correct=correct)
    statement = (
        _insert(session)(LiveQuizAnswer)
        .values(
            quiz_id=quiz_id,
            question_index=question_index,
            participant_id=participant.id,
            question_id=quiz.questions()[question_index],
            option=option,
            correct=correct,
            response_ms=response_ms,
            points=points,
            answered_at=now,
            action_id=action_id[:128] if action_id else None,
        )
        .on_conflict_do_nothing(index_elements=["quiz_id", "question_index", "participant_id"])
    )
    existing = select(LiveQuizAnswer).where(
        col(LiveQuizAnswer.quiz_id) == quiz_id,
        col(LiveQuizAnswer.question_index) == question_index,
        col(LiveQuizAnswer.participant_id) == participant.id,
    )
    found, inserted = await _insert_once(session, statement, LiveQuizAnswer, existing)
    answer = cast(LiveQuizAnswer, found)
    if inserted:
        return Answered("recorded", quiz, answer, joined)
    if action_id and answer.action_id == action_id[:128]:
        return Answered("repeat", quiz, answer)
    return Answered("locked", quiz, answer)


async def participants(*, session: AsyncSession, quiz_id: int) -> list[LiveQuizParticipant]:
    rows = await session.execute(
        select(LiveQuizParticipant)
        .where(col(LiveQuizParticipant.quiz_id) == quiz_id)
        .order_by(col(LiveQuizParticipant.id))
    )
    return list(rows.scalars())


async def participant_count(*, session: AsyncSession, quiz_id: int) -> int:
    return int(
        (
            await session.execute(
                select(func.count()).select_from(LiveQuizParticipant).where(col(LiveQuizParticipant.quiz_id) == quiz_id)
            )
        ).scalar_one()
    )


async def answered_count(*, session: AsyncSession, quiz_id: int, question_index: int) -> int:
    return int(
        (
            await session.execute(
                select(func.count())
                .select_from(LiveQuizAnswer)
                .where(col(LiveQuizAnswer.quiz_id) == quiz_id, col(LiveQuizAnswer.question_index) == question_index)
            )
        ).scalar_one()
    )


async def option_counts(*, session: AsyncSession, quiz_id: int, question_index: int) -> dict[int, int]:
    """How many chose each option: counts only, never who."""
    rows = await session.execute(
        select(col(LiveQuizAnswer.option), func.count())
        .where(col(LiveQuizAnswer.quiz_id) == quiz_id, col(LiveQuizAnswer.question_index) == question_index)
        .group_by(col(LiveQuizAnswer.option))
    )
    return {int(option): int(n) for option, n in rows}


async def totals(*, session: AsyncSession, quiz_id: int, through_index: int) -> dict[int, int]:
    """Each participant's points over questions 0..through_index (participants with no answer are absent)."""
    rows = await session.execute(
        select(col(LiveQuizAnswer.participant_id), func.sum(col(LiveQuizAnswer.points)))
        .where(col(LiveQuizAnswer.quiz_id) == quiz_id, col(LiveQuizAnswer.question_index) <= through_index)
        .group_by(col(LiveQuizAnswer.participant_id))
    )
    return {int(pid): int(points or 0) for pid, points in rows}


async def answers(*, session: AsyncSession, quiz_id: int) -> list[LiveQuizAnswer]:
    rows = await session.execute(
        select(LiveQuizAnswer)
        .where(col(LiveQuizAnswer.quiz_id) == quiz_id)
        .order_by(col(LiveQuizAnswer.question_index), col(LiveQuizAnswer.id))
    )
    return list(rows.scalars())
