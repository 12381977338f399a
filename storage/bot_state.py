"""Key/value records for durable bot state, with eTag optimistic concurrency.

Plain async functions over an AsyncSession: the Bot Framework `Storage` adapter in bot/edge/sql_storage.py is a thin
shell around these, so the store itself never imports the SDK.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col

from storage.models import BotStateRecord
from storage.types import utcnow

ANY_ETAG = "*"


class ETagConflictError(Exception):
    """Someone else changed this record since it was read: the write was refused."""

    def __init__(self, key: str) -> None:
        super().__init__(f"eTag conflict writing state {key!r}: it changed since it was read")
        self.key = key


@dataclass(frozen=True, slots=True)
class StateWrite:
    key: str
    data: str  # JSON
    expected_etag: str | None  # None or "*": write whatever is there


def _insert(session: AsyncSession) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


async def read_state(*, session: AsyncSession | AsyncConnection, keys: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Return {key: (json, etag)} for the keys that exist."""
    wanted = list(keys)
    if not wanted:
        return {}
    if isinstance(session, AsyncConnection) and session.dialect.name == "sqlite":
        # Every turn reads its state. Through SQLAlchemy's aiosqlite adapter one SELECT is four hand-overs to
        # aiosqlite's thread (cursor, execute, fetchall, close); the driver's execute_fetchall is one. The
        # three columns are plain TEXT, so SQLAlchemy's type processing has nothing to add.
        raw = await session.get_raw_connection()
        marks = ",".join("?" * len(wanted))
        found = await raw.driver_connection.execute_fetchall(  # type: ignore[union-attr]
            f"SELECT key, data, etag FROM bot_state WHERE key IN ({marks})",  # noqa: S608 - only placeholders
            wanted,
        )
        return {key: (data, etag) for key, data, etag in found}
    rows = await session.execute(
        select(col(BotStateRecord.key), col(BotStateRecord.data), col(BotStateRecord.etag)).where(
            col(BotStateRecord.key).in_(wanted)
        )
    )
    return {key: (data, etag) for key, data, etag in rows}


async def write_state(*, session: AsyncSession, writes: Iterable[StateWrite]) -> dict[str, str]:
    """Write every record or raise ETagConflictError; returns the new eTag of each key. The caller commits."""
    new_etags: dict[str, str] = {}
    insert = _insert(session)
    for item in writes:
        new_etag = uuid.uuid4().hex
        now = utcnow()
        values = {"key": item.key, "data": item.data, "etag": new_etag, "updated_at": now}
        if item.expected_etag in (None, ANY_ETAG):
            stmt = insert(BotStateRecord).values(**values)
            stmt = stmt.on_conflict_do_update(
                index_elements=["key"],
                set_={"data": item.data, "etag": new_etag, "updated_at": now},
            )
            await session.execute(stmt)
        else:
            # Compare-and-swap in one statement, so two instances cannot both win.
            result = await session.execute(
                update(BotStateRecord)
                .where(col(BotStateRecord.key) == item.key, col(BotStateRecord.etag) == item.expected_etag)
                .values(data=item.data, etag=new_etag, updated_at=now)
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                # Either someone changed it, or it was deleted since: only the latter may be recreated.
                created = await session.execute(
                    insert(BotStateRecord).values(**values).on_conflict_do_nothing(index_elements=["key"])
                )
                if created.rowcount == 0:  # type: ignore[attr-defined]
                    raise ETagConflictError(item.key)
        new_etags[item.key] = new_etag
    return new_etags


async def delete_state(*, session: AsyncSession, keys: Iterable[str]) -> None:
    wanted = list(keys)
    if wanted:
        await session.execute(delete(BotStateRecord).where(col(BotStateRecord.key).in_(wanted)))
