"""`python -m bot verify-restore`: can this Safe Space read a restored case store, all of it? Reads only.

It opens DATABASE_URL without writing anything (SQLite read-only, and immutable when there is no write-ahead
log, so not even -wal or -shm files appear; PostgreSQL in read-only transactions), checks the schema is at the
newest migration this version knows, counts cases, their events and the outbox, and loads every case's fields.
Nothing else starts: no migration, no workers, no Teams, no listening socket.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, func, select
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool
from sqlmodel import col

from cards.case_card import CATEGORIES, DECISIONS, STATUSES
from storage.db import async_url
from storage.migrate import alembic_config
from storage.models import Case, CaseBase, CaseEvent, OutboxMessage

_BATCH = 500


class RestoreCheckFailed(Exception):
    """The restored store cannot be trusted; the message is one line saying why."""


@dataclass
class RestoreReport:
    database: str
    revision: str
    cases: int = 0
    events: int = 0
    outbox: dict[str, int] = field(default_factory=dict)
    newest: tuple[str, dt.datetime] | None = None

    def lines(self) -> list[str]:
        outbox_total = sum(self.outbox.values())
        by_status = ", ".join(f"{count} {status}" for status, count in sorted(self.outbox.items()))
        newest = (
            f"; newest {self.newest[0]}, raised {self.newest[1].astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"
            if self.newest
            else ""
        )
        return [
            f"Safe Space restore check of {self.database} (read only: nothing was written)",
            f"  schema:  at the newest migration ({self.revision})",
            f"  cases:   {self.cases}" + (f", every one readable{newest}" if self.cases else ""),
            f"  events:  {self.events}",
            f"  outbox:  {outbox_total}" + (f" ({by_status})" if by_status else ""),
            "OK",
        ]


def read_only_engine(database_url: str) -> tuple[AsyncEngine, str]:
    """An engine that cannot write, and how to name the database in the report."""
    url = async_url(database_url)
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if not database or database == ":memory:":
            raise RestoreCheckFailed("DATABASE_URL names no SQLite file")
        path = Path(database).expanduser().resolve()
        if not path.is_file():
            # Opening it would create an empty database, which would then "pass" as an empty store.
            raise RestoreCheckFailed(f"there is no database file at {path}")
        query = {"mode": "ro", "uri": "true"}
        if not path.with_name(path.name + "-wal").exists():
            # Nothing is waiting in a write-ahead log, so the file alone is the database: immutable reads it
            # without creating -wal and -shm files next to it.
            query["immutable"] = "1"
        uri = URL.create("sqlite+aiosqlite", database=f"file:{quote(str(path))}", query=query)
        return create_async_engine(uri, poolclass=NullPool), f"sqlite:{path}"
    engine = create_async_engine(
        url,
        poolclass=NullPool,
        connect_args={"server_settings": {"default_transaction_read_only": "on"}},
    )
    return engine, f"{url.get_backend_name()}:{url.database or ''}"


def _schema_revision(connection: Connection) -> str:
    current = set(MigrationContext.configure(connection).get_current_heads())
    script = ScriptDirectory.from_config(alembic_config())
    heads = set(script.get_heads())
    if not current:
        raise RestoreCheckFailed("the database has no Safe Space schema (is it the right database, fully restored?)")
    if current == heads:
        return ", ".join(sorted(current))
    known = {revision.revision for revision in script.walk_revisions()}
    if current - known:
        raise RestoreCheckFailed(
            f"the schema is at revision {', '.join(sorted(current))}, which this Safe Space does not know "
            f"(a newer version wrote it); check the restore with that version"
        )
    raise RestoreCheckFailed(
        f"the schema is at revision {', '.join(sorted(current))}, not the newest ({', '.join(sorted(heads))}); "
        f"run `python -m bot migrate` on a copy, then check that copy"
    )


def _problem_in_case(case: Case) -> str | None:
    """What about this stored case would stop Safe Space showing it, or None."""
    try:
        CaseBase.model_validate({name: getattr(case, name) for name in CaseBase.model_fields})
    except ValueError as exc:
        return f"a field does not load ({str(exc).splitlines()[0]})"
    if not isinstance(case.reference, str) or not case.reference:
        return "it has no reference"
    if not isinstance(case.version, int) or case.version < 1:
        return f"its version is {case.version!r}"
    if not isinstance(case.created_at, dt.datetime):
        return "it has no creation time"
    if case.status not in STATUSES:
        return f"its status {case.status!r} is unknown"
    if case.category not in CATEGORIES:
        return f"its category {case.category!r} is unknown"
    if case.decision is not None and case.decision not in DECISIONS:
        return f"its decision {case.decision!r} is unknown"
    if case.indicators is not None:
        try:
            indicators = json.loads(case.indicators)
        except ValueError:
            return "its indicators are not JSON"
        if not isinstance(indicators, list) or not all(isinstance(i, dict) and "indicator" in i for i in indicators):
            return "its indicators are not a list of indicators"
    return None


async def _check_cases(session: AsyncSession, report: RestoreReport) -> None:
    last = 0
    while True:
        page = select(col(Case.id)).where(col(Case.id) > last).order_by(col(Case.id)).limit(_BATCH)
        ids = [int(case_id) for case_id in (await session.execute(page)).scalars() if case_id is not None]
        if not ids:
            return
        for case_id in ids:
            try:
                case = (await session.execute(select(Case).where(col(Case.id) == case_id))).scalars().one()
                problem = _problem_in_case(case)
            except Exception as exc:  # the ORM's own conversion failed: a date, a number, a boolean
                problem = f"it does not load ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
            if problem is not None:
                raise RestoreCheckFailed(f"case id {case_id} cannot be read: {problem}")
            report.cases += 1
            if report.newest is None or case.created_at >= report.newest[1]:
                report.newest = (case.reference, case.created_at)
        session.expunge_all()  # keep memory flat on a large store
        last = ids[-1]


async def _check_events(session: AsyncSession, report: RestoreReport) -> None:
    last = 0
    while True:
        rows = (
            await session.execute(
                select(col(CaseEvent.id), col(CaseEvent.detail))
                .where(col(CaseEvent.id) > last)
                .order_by(col(CaseEvent.id))
                .limit(_BATCH)
            )
        ).all()
        if not rows:
            return
        for event_id, detail in rows:
            if detail is not None:
                try:
                    json.loads(detail)
                except ValueError:
                    raise RestoreCheckFailed(
                        f"case event id {event_id} cannot be read: its detail is not JSON"
                    ) from None
            report.events += 1
        last = rows[-1][0] or last


async def verify_restore(database_url: str) -> RestoreReport:
    engine, name = read_only_engine(database_url)
    try:
        async with engine.connect() as connection:
            revision = await connection.run_sync(_schema_revision)
            report = RestoreReport(database=name, revision=revision)
            async with AsyncSession(connection, expire_on_commit=False) as session:
                await _check_cases(session, report)
                await _check_events(session, report)
                statuses = await session.execute(
                    select(col(OutboxMessage.status), func.count()).group_by(col(OutboxMessage.status))
                )
                report.outbox = {str(status): int(count) for status, count in statuses}
            await connection.rollback()  # read only: nothing to keep
        return report
    except RestoreCheckFailed:
        raise
    except Exception as exc:  # unreachable server, wrong password, a file that is not a database, ...
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        raise RestoreCheckFailed(f"could not read the database ({type(exc).__name__}: {first_line})") from exc
    finally:
        await engine.dispose()


def verify_restore_command(database_url: str) -> int:
    """Print the report and return 0, or print one line on stderr and return 1."""
    # Alembic announces its context at INFO; on a failure only the one line should show.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        report = asyncio.run(verify_restore(database_url))
    except RestoreCheckFailed as exc:
        print(f"safespace: verify-restore failed: {exc}", file=sys.stderr)
        return 1
    print("\n".join(report.lines()))
    return 0
