"""The chronology's hash chain: each case's events link to the one before, so an edit or a deletion shows.

Every event carries `event_hash`, a SHA-256 over its canonical content and the previous event's hash in the same
case (`prev_hash`; None for the first), and `seq`, its place in the case (1, 2, 3...). The case row keeps the
newest hash and the number of events (`chain_head`, `event_count`), so dropping the last events shows too.

The canonical form below is frozen: every stored hash was made with it. A change needs a new `FORMAT` and
code that still checks events made under the old one.

Tamper-evident, not tamper-proof: someone who can write to the database could rewrite a whole chain and the
case row. `python -m bot verify` prints a digest of every chain head; keeping that line somewhere else (the
DSO's records, an e-mail) anchors the history up to that moment.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Case, CaseEvent

FORMAT: Final = 1


class ChainedEvent(Protocol):
    """What the chain covers of a stored event (storage.models.CaseEvent has all of it)."""

    @property
    def id(self) -> int | None: ...
    @property
    def case_id(self) -> int: ...
    @property
    def seq(self) -> int: ...
    @property
    def at(self) -> dt.datetime: ...
    @property
    def actor_aad_id(self) -> str | None: ...
    @property
    def actor_name(self) -> str | None: ...
    @property
    def kind(self) -> str: ...
    @property
    def detail(self) -> str | None: ...
    @property
    def action_id(self) -> str | None: ...
    @property
    def corrects(self) -> int | None: ...
    @property
    def prev_hash(self) -> str | None: ...
    @property
    def event_hash(self) -> str: ...


def _instant(at: dt.datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("naive datetimes are ambiguous; pass an aware UTC datetime")
    # Microseconds: both databases keep them, so the text is the same after a round trip.
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(
    *,
    case_id: int,
    seq: int,
    at: dt.datetime,
    kind: str,
    actor_aad_id: str | None,
    actor_name: str | None,
    detail: str | None,
    action_id: str | None,
    corrects: int | None,
    prev_hash: str | None,
) -> str:
    """The hex SHA-256 of one event as stored (detail is the stored JSON text, not re-serialised)."""
    canonical = json.dumps(
        [FORMAT, case_id, seq, _instant(at), kind, actor_aad_id, actor_name, detail, action_id, corrects, prev_hash],
        ensure_ascii=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def hash_of(event: ChainedEvent) -> str:
    return event_hash(
        case_id=event.case_id,
        seq=event.seq,
        at=event.at,
        kind=event.kind,
        actor_aad_id=event.actor_aad_id,
        actor_name=event.actor_name,
        detail=event.detail,
        action_id=event.action_id,
        corrects=event.corrects,
        prev_hash=event.prev_hash,
    )


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first event of a case whose chain does not hold, and why."""

    event_id: int | None  # None when what is missing is after the last stored event
    seq: int
    kind: str | None
    at: dt.datetime | None
    reason: str


def first_break(events: Iterable[ChainedEvent], *, event_count: int, chain_head: str | None) -> ChainBreak | None:
    """Check one case's events (in `seq` order) against each other and the case row; None when all hold."""
    previous: str | None = None
    expected_seq = 1
    last: ChainedEvent | None = None
    for event in events:
        reason = None
        if event.seq != expected_seq:
            missing = "an earlier event is missing" if event.seq > expected_seq else "it repeats a place in the chain"
            reason = f"expected event {expected_seq} here, found {event.seq}: {missing}"
        elif event.prev_hash != previous:
            reason = "it does not link to the event before it (one was changed or removed)"
        elif hash_of(event) != event.event_hash:
            reason = "its content does not match its hash (it was changed after writing)"
        if reason is not None:
            return ChainBreak(event_id=event.id, seq=event.seq, kind=event.kind, at=event.at, reason=reason)
        previous = event.event_hash
        expected_seq += 1
        last = event
    stored = expected_seq - 1
    if stored != event_count or previous != chain_head:
        if stored < event_count:
            return ChainBreak(
                event_id=None,
                seq=stored + 1,
                kind=None,
                at=None,
                reason=f"the case records {event_count} events but only {stored} are stored: the last were removed",
            )
        return ChainBreak(
            event_id=last.id if last else None,
            seq=stored,
            kind=last.kind if last else None,
            at=last.at if last else None,
            reason="the chain does not end where the case says it does",
        )
    return None


# Checking the store ------------------------------------------------------------------------------------------


@dataclass
class ChainReport:
    cases: int = 0
    events: int = 0
    broken: list[tuple[str, ChainBreak]] = field(default_factory=list)  # (case reference, first break)
    heads_digest: str = ""  # SHA-256 over every case's reference, count and head: one line to keep elsewhere


async def check_store(session: AsyncSession, *, batch: int = 200) -> ChainReport:
    """Check every case's chain, a page of cases at a time, so memory stays flat on a large store."""
    report = ChainReport()
    digest = hashlib.sha256()
    last = 0
    while True:
        page = (
            await session.execute(
                select(col(Case.id), col(Case.reference), col(Case.event_count), col(Case.chain_head))
                .where(col(Case.id) > last)
                .order_by(col(Case.id))
                .limit(batch)
            )
        ).all()
        if not page:
            break
        ids = [int(row[0] or 0) for row in page]
        events: dict[int, list[CaseEvent]] = {case_id: [] for case_id in ids}
        rows = await session.execute(
            select(CaseEvent)
            .where(col(CaseEvent.case_id).in_(ids))
            .order_by(col(CaseEvent.case_id), col(CaseEvent.seq), col(CaseEvent.id))
        )
        for event in rows.scalars():
            events[event.case_id].append(event)
        for row_id, reference, event_count, chain_head in page:
            case_id = int(row_id or 0)
            report.cases += 1
            report.events += len(events[case_id])
            digest.update(f"{reference}:{event_count}:{chain_head}\n".encode())
            found = first_break(events[case_id], event_count=int(event_count), chain_head=chain_head)
            if found is not None:
                report.broken.append((reference, found))
        session.expunge_all()
        last = ids[-1]
    report.heads_digest = digest.hexdigest()
    return report
