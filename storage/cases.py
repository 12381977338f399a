"""Safeguarding cases and their chronology.

Keyword-only async functions over an AsyncSession; the caller commits. Nothing here knows about Teams: the bot
layer decides who may do what, this module makes sure that whatever is done is done once, atomically, and kept.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, cast

from sqlalchemy import CursorResult, bindparam, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.chain import event_hash
from storage.models import Case, CaseCounter, CaseCreate, CaseEvent
from storage.types import UTCDateTime, utcnow

STATUSES: Final = frozenset({"new", "acknowledged", "awaiting_director", "decided", "closed"})

# What the reporter said and who they are is the record itself: a DSO's view of it goes in the chronology, never
# over it. `urgent` and `category` stay changeable because re-triaging a report is a DSO's job (and is recorded).
IMMUTABLE_FIELDS: Final = frozenset(
    {
        "id",
        "reference",
        "created_at",
        "version",  # managed here: bumped by every change
        "event_count",  # the chronology's hash chain, managed by _insert_event
        "chain_head",
        "source",
        "incomplete",
        "about",
        "subject_name",
        "subject_under_18",
        "description",
        "incident_when",
        "incident_at",
        "incident_where",
        "reporter_aad_id",
        "reporter_name",
        "reporter_role",
        "reporter_conversation_id",
        "reporter_hidden",
        "contact_ok",
        "contact_how",
        "indicators",
        "action_taken",
        "others_aware",
        "incident_time_known",
        "spoken_to",
        "fears",
        "parents_told",
        "other_agencies",
        "online_how",
    }
)
# Parts of a report a case may lack (a case the safety net opened, or an urgent report sent before it was finished),
# with the value that means "not answered": the reporter's later answers fill these, and only these.
FILLABLE: Final = {
    "about": "not_say",
    "subject_name": None,
    "incident_when": None,
    "incident_where": None,
    "contact_ok": False,
    "contact_how": None,
}
_CASE_FIELDS: Final = frozenset(Case.model_fields)
_KIND_MAX = 32
_ACTION_ID_MAX = 128

_SURROGATE = re.compile("[\ud800-\udfff]")


class DuplicateActionError(RuntimeError):
    """The same action id was recorded by someone else mid-change: roll back, the first one stands."""

    def __init__(self, action_id: str) -> None:
        super().__init__(f"action {action_id!r} was recorded concurrently; roll this transaction back")
        self.action_id = action_id


def clean_text(value: str) -> str:
    """Make text storable on every database without changing what a person wrote.

    PostgreSQL text cannot hold NUL (\\x00), and neither database accepts a lone UTF-16 surrogate (JSON allows
    "\\ud800", so a Teams payload can carry one). Refusing either would lose a report, so NUL is dropped (it has no
    visible meaning) and a lone surrogate becomes U+FFFD. Done the same on SQLite, so a report reads the same
    whichever database keeps it.
    """
    if "\x00" in value:
        value = value.replace("\x00", "")
    return _SURROGATE.sub("\ufffd", value)


def _clean(value: Any) -> Any:
    return clean_text(value) if isinstance(value, str) else value


def _aad(value: str | None) -> str | None:
    # AAD object ids are GUIDs: Teams sends them in either case, and roles compare them lower-cased.
    stripped = (value or "").strip().lower()
    return stripped or None


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def to_json(value: Mapping[str, Any]) -> str:
    # ensure_ascii: escapes keep NUL and lone surrogates inside the JSON text, so any detail is storable.
    return json.dumps(dict(value), default=_json_default, ensure_ascii=True)


def _insert(session: AsyncSession) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _rowcount(result: Any) -> int:
    return cast("CursorResult[Any]", result).rowcount


def _check_event_args(kind: str, action_id: str | None) -> None:
    if not kind or len(kind) > _KIND_MAX:
        raise ValueError(f"event kind must be 1-{_KIND_MAX} characters: {kind!r}")
    if action_id is not None and (not action_id or len(action_id) > _ACTION_ID_MAX):
        raise ValueError(f"action_id must be 1-{_ACTION_ID_MAX} characters")


async def _next_number(session: AsyncSession, year: int) -> int:
    """The year's next reference number, handed out by the database so concurrent instances never share one."""
    insert = _insert(session)
    stmt = (
        insert(CaseCounter)
        .values(year=year, last=1)
        .on_conflict_do_update(index_elements=["year"], set_={"last": col(CaseCounter.last) + 1})
    )
    if session.get_bind().dialect.insert_returning:
        return int((await session.execute(stmt.returning(col(CaseCounter.last)))).scalar_one())
    # SQLite before 3.35: the upsert holds the database's write lock until commit, so reading the counter back in
    # the same transaction still sees only our own increment.
    await session.execute(stmt)
    return int((await session.execute(select(col(CaseCounter.last)).where(col(CaseCounter.year) == year))).scalar_one())


async def _give_back_number(session: AsyncSession, year: int, number: int) -> None:
    # We still hold the counter row (PostgreSQL row lock / SQLite write lock), so nobody took a later number.
    await session.execute(
        update(CaseCounter)
        .where(col(CaseCounter.year) == year, col(CaseCounter.last) == number)
        .values(last=number - 1)
        .execution_options(synchronize_session=False)
    )


async def _claim_place(session: AsyncSession, case_id: int) -> tuple[int, str | None]:
    """The next place in the case's chain and the hash before it, holding the case row until commit.

    One UPDATE both counts and locks: PostgreSQL keeps the row locked until this transaction ends (a second
    instance appending to the same case waits here, then sees our event), and on SQLite the first write takes
    the database's write lock. So the chain never forks, and (case_id, seq) is unique besides.
    """
    stmt = (
        update(Case)
        .where(col(Case.id) == case_id)
        .values(event_count=col(Case.event_count) + 1)
        .execution_options(synchronize_session=False)
    )
    if session.get_bind().dialect.update_returning:
        row = (await session.execute(stmt.returning(col(Case.event_count), col(Case.chain_head)))).first()
    else:
        await session.execute(stmt)
        row = (
            await session.execute(select(col(Case.event_count), col(Case.chain_head)).where(col(Case.id) == case_id))
        ).first()
    if row is None:
        raise LookupError(f"no case with id {case_id}")
    return int(row[0]), row[1]


async def _insert_event(
    session: AsyncSession,
    *,
    case_id: int,
    kind: str,
    actor_aad_id: str | None,
    actor_name: str | None,
    detail: Mapping[str, Any] | None,
    action_id: str | None,
    at: dt.datetime,
    corrects: int | None = None,
) -> bool:
    """Append one event to the case's hash chain. The only code that writes case_event, and it only inserts."""
    seq, prev_hash = await _claim_place(session, case_id)
    values: dict[str, Any] = {
        "case_id": case_id,
        "seq": seq,
        "at": at,
        "actor_aad_id": _aad(actor_aad_id),
        "actor_name": _clean(actor_name),
        "kind": kind,
        "detail": to_json(detail) if detail is not None else None,
        "action_id": action_id,
        "corrects": corrects,
        "prev_hash": prev_hash,
    }
    values["event_hash"] = event_hash(**values)
    stmt = _insert(session)(CaseEvent).values(**values)
    if action_id is not None:
        # One statement: a retried invoke racing the original cannot slip between a check and an insert.
        stmt = stmt.on_conflict_do_nothing(index_elements=["action_id"])
    inserted = _rowcount(await session.execute(stmt)) == 1
    # We still hold the case row, so nobody appended meanwhile: give the place back, or move the head on.
    await session.execute(
        update(Case)
        .where(col(Case.id) == case_id)
        .values(
            {"event_count": seq - 1} if not inserted else {"chain_head": values["event_hash"]},
        )
        .execution_options(synchronize_session=False)
    )
    return inserted


async def _case_of_action(session: AsyncSession, action_id: str) -> Case | None:
    rows = await session.execute(
        select(Case)
        .join(CaseEvent, col(CaseEvent.case_id) == col(Case.id))
        .where(col(CaseEvent.action_id) == action_id)
        .execution_options(populate_existing=True)
    )
    return rows.scalars().first()


async def create_case(
    *,
    session: AsyncSession,
    case: CaseCreate,
    actor_aad_id: str | None,
    actor_name: str | None,
    now: dt.datetime | None = None,
    action_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> Case:
    """Store a new report with the next reference (SS-2026-0042) and its "created" event; the caller commits.

    `detail` adds to the created event (e.g. why the safety net flagged the message).

    With `action_id` (the submitting card's), a retried submission returns the case it already made instead of
    making a second one.
    """
    now = now or utcnow()
    _check_event_args("created", action_id)
    if action_id is not None and (existing := await _case_of_action(session, action_id)) is not None:
        return existing

    fields = {name: _clean(value) for name, value in case.model_dump().items()}
    fields["reporter_aad_id"] = _aad(case.reporter_aad_id)
    year = now.astimezone(dt.UTC).year
    number = await _next_number(session, year)
    row = Case(**fields, reference=f"SS-{year}-{number:04d}", status="new", created_at=now, version=1)
    session.add(row)
    await session.flush()
    assert row.id is not None
    recorded = await _insert_event(
        session,
        case_id=row.id,
        kind="created",
        actor_aad_id=actor_aad_id,
        actor_name=actor_name,
        detail={**(detail or {}), "source": row.source, "urgent": row.urgent, "incomplete": row.incomplete},
        action_id=action_id,
        at=now,
    )
    if not recorded:
        # The same submission was stored concurrently (its transaction committed while ours waited): undo ours
        # by hand rather than through a savepoint, which SQLite's driver does not handle reliably.
        await session.execute(delete(Case).where(col(Case.id) == row.id).execution_options(synchronize_session=False))
        session.expunge(row)
        await _give_back_number(session, year, number)
        existing = await _case_of_action(session, action_id or "")
        if existing is None:
            raise DuplicateActionError(action_id or "")
        return existing
    return row


async def get_case(*, session: AsyncSession, case_id: int) -> Case | None:
    # populate_existing: another instance may have changed the case since this session last loaded it.
    rows = await session.execute(select(Case).where(col(Case.id) == case_id).execution_options(populate_existing=True))
    return rows.scalars().first()


async def get_by_reference(*, session: AsyncSession, reference: str) -> Case | None:
    rows = await session.execute(
        select(Case).where(col(Case.reference) == reference.strip().upper()).execution_options(populate_existing=True)
    )
    return rows.scalars().first()


async def action_recorded(*, session: AsyncSession, action_id: str) -> bool:
    """Whether an action (a card button press) already had its effect, so a retry can say so."""
    rows = await session.execute(select(col(CaseEvent.id)).where(col(CaseEvent.action_id) == action_id).limit(1))
    return rows.first() is not None


async def change_case(
    *,
    session: AsyncSession,
    case_id: int,
    expected_version: int,
    changes: Mapping[str, Any],
    event_kind: str,
    actor_aad_id: str | None,
    actor_name: str | None,
    detail: Mapping[str, Any] | None = None,
    action_id: str | None = None,
    now: dt.datetime | None = None,
    fill_blanks: Mapping[str, Any] | None = None,
) -> Case | None:
    """Change a case if nobody else has since `expected_version`, and record it; the caller commits.

    Returns None, recording nothing, when the case is missing, has moved on, or `action_id` already had its
    effect (a retried invoke). The event's detail gains "changes": {column: {"from": old, "to": new}}.

    `fill_blanks` (FILLABLE fields only) answers what the case left unanswered, never what it holds: the reporter's
    answers to a report that joined a case the safety net opened, or the rest of one that went early.
    """
    unknown = set(changes) - _CASE_FIELDS
    if unknown:
        raise ValueError(f"not case fields: {sorted(unknown)}")
    frozen = set(changes) & IMMUTABLE_FIELDS
    if frozen:
        raise ValueError(f"these are part of the report and cannot be changed: {sorted(frozen)}")
    if "status" in changes and changes["status"] not in STATUSES:
        raise ValueError(f"unknown status {changes['status']!r}")
    _check_event_args(event_kind, action_id)
    now = now or utcnow()

    if action_id is not None and await action_recorded(session=session, action_id=action_id):
        return None
    current = await get_case(session=session, case_id=case_id)
    if current is None or current.version != expected_version:
        return None
    values = {name: _clean(value) for name, value in changes.items()}
    for name, value in (fill_blanks or {}).items():
        if name not in FILLABLE:
            raise ValueError(f"{name!r} cannot be filled in")
        blank = FILLABLE[name]
        if value not in (None, "", blank) and getattr(current, name) == blank and name not in values:
            values[name] = _clean(value)
    # The version check is in the UPDATE itself, so of two DSOs pressing at once exactly one changes the row.
    result = await session.execute(
        update(Case)
        .where(col(Case.id) == case_id, col(Case.version) == expected_version)
        .values(**values, version=col(Case.version) + 1)
        .execution_options(synchronize_session=False)
    )
    if _rowcount(result) != 1:
        return None
    event_detail = dict(detail or {})
    event_detail["changes"] = {name: {"from": getattr(current, name), "to": value} for name, value in values.items()}
    recorded = await _insert_event(
        session,
        case_id=case_id,
        kind=event_kind,
        actor_aad_id=actor_aad_id,
        actor_name=actor_name,
        detail=event_detail,
        action_id=action_id,
        at=now,
    )
    if not recorded:
        # Only reachable if the same action committed between our check and our insert: the row is already
        # changed, so refuse rather than leave a change with no chronology entry.
        raise DuplicateActionError(action_id or "")
    return await get_case(session=session, case_id=case_id)


async def record_event(
    *,
    session: AsyncSession,
    case_id: int,
    kind: str,
    actor_aad_id: str | None,
    actor_name: str | None,
    detail: Mapping[str, Any] | None = None,
    action_id: str | None = None,
    now: dt.datetime | None = None,
    corrects: int | None = None,
) -> bool:
    """Append to a case's chronology; False (and nothing recorded) when `action_id` was already recorded.

    Events are never edited: to put one right, record a new event with `corrects` set to the wrong one's id.
    """
    _check_event_args(kind, action_id)
    if corrects is not None:
        owner = await session.execute(select(col(CaseEvent.case_id)).where(col(CaseEvent.id) == corrects))
        if owner.scalar_one_or_none() != case_id:
            raise ValueError(f"event {corrects} is not in case {case_id}: a correction must name an event of its case")
    return await _insert_event(
        session,
        case_id=case_id,
        kind=kind,
        actor_aad_id=actor_aad_id,
        actor_name=actor_name,
        detail=detail,
        action_id=action_id,
        at=now or utcnow(),
        corrects=corrects,
    )


async def count_events(
    *, session: AsyncSession, case_id: int, kind: str, actor_aad_id: str | None, since: dt.datetime
) -> int:
    """How many `kind` events this person caused on the case since `since`."""
    actor = col(CaseEvent.actor_aad_id)
    rows = await session.execute(
        select(func.count())
        .select_from(CaseEvent)
        .where(
            col(CaseEvent.case_id) == case_id,
            col(CaseEvent.kind) == kind,
            actor.is_(None) if actor_aad_id is None else actor == actor_aad_id,
            col(CaseEvent.at) >= since,
        )
    )
    return int(rows.scalar_one())


async def chronology(*, session: AsyncSession, case_id: int) -> list[CaseEvent]:
    """Everything that happened to a case, oldest first."""
    rows = await session.execute(
        select(CaseEvent).where(col(CaseEvent.case_id) == case_id).order_by(col(CaseEvent.at), col(CaseEvent.id))
    )
    return list(rows.scalars())


async def cases_reported_by(*, session: AsyncSession, reporter_aad_id: str) -> list[Case]:
    """One person's own reports, newest first: the only cases a learner may see."""
    wanted = _aad(reporter_aad_id)
    if wanted is None:
        return []  # never let a blank id match reports whose reporter is unknown
    rows = await session.execute(
        select(Case)
        .where(func.lower(col(Case.reporter_aad_id)) == wanted)
        .order_by(col(Case.created_at).desc(), col(Case.id).desc())
        .execution_options(populate_existing=True)
    )
    return list(rows.scalars())


async def fresh_case_of(*, session: AsyncSession, reporter_aad_id: str, since: dt.datetime) -> Case | None:
    """The newest case this person raised since `since` that nobody has picked up yet: where a further worry of
    theirs belongs, so the DSO gets one case rather than several cards for the same thing."""
    rows = await session.execute(
        select(Case)
        .where(
            col(Case.reporter_aad_id) == _aad(reporter_aad_id),
            col(Case.status) == "new",
            col(Case.created_at) >= since,
        )
        .order_by(col(Case.created_at).desc(), col(Case.id).desc())
        .limit(1)
        .execution_options(populate_existing=True)
    )
    return rows.scalars().first()


async def triage_case_of(*, session: AsyncSession, reporter_aad_id: str, since: dt.datetime) -> Case | None:
    """The newest case the safety net opened for this person since `since` that is still open: where the report it
    led to belongs, so the DSO has one case for one worry rather than a triage card and a report card."""
    wanted = _aad(reporter_aad_id)
    if wanted is None:
        return None  # never let a blank id match cases whose reporter is unknown
    rows = await session.execute(
        select(Case)
        .where(
            col(Case.reporter_aad_id) == wanted,
            col(Case.source) == "triage",
            col(Case.status) != "closed",
            col(Case.created_at) >= since,
        )
        .order_by(col(Case.created_at).desc(), col(Case.id).desc())
        .limit(1)
        .execution_options(populate_existing=True)
    )
    return rows.scalars().first()


# Built once: the statement runs on every turn that nothing else understood, and building it costs more than running
# it on SQLite.
_RECENT_OPEN_CASE = (
    select(col(Case.id))
    .where(
        col(Case.reporter_aad_id) == bindparam("reporter"),
        col(Case.status) != "closed",
        col(Case.created_at) >= bindparam("since", type_=UTCDateTime()),
    )
    .order_by(col(Case.created_at).desc(), col(Case.id).desc())
    .limit(1)
)


async def recent_open_case_of(*, session: AsyncSession, reporter_aad_id: str, since: dt.datetime) -> int | None:
    """The id of the newest case this person raised since `since` that is still open (picked up or not): where a
    line they send after reporting ("oh and he said...") belongs. Only the id: this runs on every turn that
    nothing else understood, so it loads no case."""
    wanted = _aad(reporter_aad_id)
    if wanted is None:
        return None  # never let a blank id match reports whose reporter is unknown
    rows = await session.execute(_RECENT_OPEN_CASE, {"reporter": wanted, "since": since})
    found = rows.scalars().first()
    return int(found) if found is not None else None


async def open_cases(*, session: AsyncSession) -> list[Case]:
    """Every case not closed: urgent first, then the longest waiting."""
    rows = await session.execute(
        select(Case)
        .where(col(Case.status) != "closed")
        .order_by(col(Case.urgent).desc(), col(Case.created_at), col(Case.id))
        .execution_options(populate_existing=True)
    )
    return list(rows.scalars())


async def due_for_reminder(
    *, session: AsyncSession, now: dt.datetime, ack_minutes: int, urgent_ack_minutes: int
) -> list[tuple[Case, str]]:
    """Unacknowledged cases that need a nudge now, as (case, "remind" | "escalate"), urgent first.

    "remind" once the case has waited its limit; "escalate" once it has waited twice the limit. An escalation
    replaces a reminder that was never sent, and no reminder follows an escalation.
    """
    soonest = dt.timedelta(minutes=min(ack_minutes, urgent_ack_minutes))
    rows = await session.execute(
        select(Case)
        .where(
            col(Case.status) == "new",
            col(Case.escalated_at).is_(None),
            col(Case.created_at) <= now - soonest,
        )
        .order_by(col(Case.urgent).desc(), col(Case.created_at), col(Case.id))
        .execution_options(populate_existing=True)
    )
    due: list[tuple[Case, str]] = []
    for case in rows.scalars():
        limit = dt.timedelta(minutes=urgent_ack_minutes if case.urgent else ack_minutes)
        waited = now - case.created_at
        if waited >= 2 * limit:
            due.append((case, "escalate"))
        elif waited >= limit and case.reminded_at is None:
            due.append((case, "remind"))
    return due


@dataclass(frozen=True, slots=True)
class OversightRow:
    """One case as directors see it in oversight: timings and outcomes, nobody's name and nothing they said."""

    reference: str
    category: str
    source: str
    urgent: bool
    created_at: dt.datetime
    acknowledged_at: dt.datetime | None
    minutes_to_acknowledge: float | None
    decision: str | None
    status: str


async def oversight(*, session: AsyncSession, since: dt.datetime) -> list[OversightRow]:
    """Cases reported since `since`, oldest first, for the directors' oversight of response times."""
    rows = await session.execute(
        select(
            col(Case.reference),
            col(Case.category),
            col(Case.source),
            col(Case.urgent),
            col(Case.created_at),
            col(Case.acknowledged_at),
            col(Case.decision),
            col(Case.status),
        )
        .where(col(Case.created_at) >= since)
        .order_by(col(Case.created_at), col(Case.id))
    )
    report: list[OversightRow] = []
    for reference, category, source, urgent, created_at, acknowledged_at, decision, status in rows:
        minutes = None
        if acknowledged_at is not None:
            minutes = round((acknowledged_at - created_at).total_seconds() / 60, 1)
        report.append(
            OversightRow(
                reference=reference,
                category=category,
                source=source,
                urgent=bool(urgent),
                created_at=created_at,
                acknowledged_at=acknowledged_at,
                minutes_to_acknowledge=minutes,
                decision=decision,
                status=status,
            )
        )
    return report
