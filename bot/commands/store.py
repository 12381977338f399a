"""What the records commands (verify, export, retention, subject-access) share: opening the case store without
creating or migrating it, who is running the command, where the output goes, and failing in one line."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, NoReturn

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.db import DatabaseUrlError, async_url, create_engine, create_sessionmaker
from storage.migrate import alembic_config


class CommandError(Exception):
    """Bad input or a store that cannot be used; the message is one line saying what to do."""


def who_ran(by: str | None) -> str:
    """`--by` when given, otherwise the operating-system user running the command."""
    if by and by.strip():
        return by.strip()[:200]
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container): still say something true
        return "unknown operating-system user"


def _at_head(connection: Connection) -> str | None:
    current = set(MigrationContext.configure(connection).get_current_heads())
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    if not current:
        return "the database has no Safe Space schema (is DATABASE_URL the case store?)"
    if current != heads:
        return f"the schema is at revision {', '.join(sorted(current))}, not the newest: run `python -m bot migrate`"
    return None


@asynccontextmanager
async def open_store(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the case store, which must exist at the newest schema: a command never creates one."""
    try:
        url = async_url(database_url)
    except DatabaseUrlError as exc:
        raise CommandError(str(exc)) from None
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        # A command-line tool: nothing else runs on this loop, so a blocking file check is harmless.
        if not database or database == ":memory:" or not Path(database).expanduser().is_file():  # noqa: ASYNC240
            raise CommandError(f"there is no case store at {database or 'DATABASE_URL'} (check DATABASE_URL)")
    engine = create_engine(database_url)
    try:
        try:
            async with engine.connect() as connection:
                problem = await connection.run_sync(_at_head)
        except Exception as exc:  # unreachable server, wrong password, not a database
            first = str(exc).splitlines()[0] if str(exc) else ""
            raise CommandError(f"could not open the case store ({type(exc).__name__}: {first})") from None
        if problem:
            raise CommandError(problem)
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


def write_output(content: str | bytes, out: Path | None) -> None:
    """To --out FILE when given (written whole or not at all), otherwise standard output."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    partial = out.with_name(out.name + ".partial")
    try:
        partial.write_bytes(data)
        partial.replace(out)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise CommandError(f"cannot write {out}: {exc.strerror or exc}") from None


def check_writable(out: Path | None) -> None:
    """Refuse a bad --out before anything is recorded as released."""
    if out is not None and not out.parent.expanduser().resolve().is_dir():
        raise CommandError(f"cannot write {out}: there is no folder {out.parent}")


def run_command(name: str, work: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """Run a command; bad input and failures become one line on standard error and a non-zero exit."""
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        return asyncio.run(work())
    except CommandError as exc:
        print(f"safespace {name}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # one line, never a traceback: the store may hold what people said
        first = str(exc).splitlines()[0] if str(exc) else ""
        print(f"safespace {name}: failed ({type(exc).__name__}: {first[:200]})", file=sys.stderr)
        return 1


def one_line_errors(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Make a bad command line fail like any other bad input: one line on standard error, exit status 2."""

    def error(message: str) -> NoReturn:
        parser.exit(2, f"{parser.prog}: {message} (see --help)\n")

    parser.error = error  # type: ignore[method-assign]
    return parser
