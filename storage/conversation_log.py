"""The conversation log: every activity in and out, per conversation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col

from storage.models import ConversationLogBase, ConversationLogEntry

_TABLE: Table = ConversationLogEntry.__table__  # type: ignore[attr-defined]
_COLUMNS = [column.name for column in _TABLE.columns if column.name != "id"]
_SQLITE_INSERT = f"INSERT INTO {_TABLE.name} ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"  # noqa: S608 - names from the model
_processors: dict[str, dict[str, Callable[[Any], Any] | None]] = {}


async def append_committed(*, conn: AsyncConnection, entries: Sequence[ConversationLogBase]) -> None:
    """Insert entries in one statement and commit them."""
    if not entries:
        return
    rows = [entry.model_dump() for entry in entries]
    if conn.dialect.name != "sqlite":
        async with conn.begin():
            # Core insert on the table: the ORM's bulk path costs more than the write itself at this size.
            await conn.execute(insert(_TABLE), rows)
        return
    # Every turn writes here twice. Through SQLAlchemy's aiosqlite adapter that is five hand-overs to
    # aiosqlite's thread each time (cursor, execute, close, commit, the pool's rollback); the driver's
    # executemany and commit are two. The values still go through each column type's own bind processing.
    processors = _bind_processors(conn.dialect)
    values = [tuple(_bind(processors[name], row.get(name)) for name in _COLUMNS) for row in rows]
    raw = (await conn.get_raw_connection()).driver_connection
    assert raw is not None
    try:
        await raw.executemany(_SQLITE_INSERT, values)
        await raw.commit()
    except BaseException:
        await raw.rollback()
        raise


def _bind_processors(dialect: Dialect) -> dict[str, Callable[[Any], Any] | None]:
    if dialect.name not in _processors:
        _processors[dialect.name] = {
            column.name: column.type.dialect_impl(dialect).bind_processor(dialect) for column in _TABLE.columns
        }
    return _processors[dialect.name]


def _bind(processor: Callable[[Any], Any] | None, value: Any) -> Any:
    return processor(value) if processor is not None and value is not None else value


async def transcript(*, session: AsyncSession, conversation_id: str, limit: int = 1000) -> list[ConversationLogEntry]:
    """A conversation's log, oldest first."""
    rows = await session.execute(
        select(ConversationLogEntry)
        .where(col(ConversationLogEntry.conversation_id) == conversation_id)
        .order_by(col(ConversationLogEntry.created_at), col(ConversationLogEntry.id))
        .limit(limit)
    )
    return list(rows.scalars())
