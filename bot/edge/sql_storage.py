"""A botbuilder `Storage` on the case store's database, so dialogs survive restarts and span instances."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from botbuilder.core import Storage, StoreItem
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.edge.state_codec import UnsafeState, decode_state, encode_state
from storage import bot_state
from storage.bot_state import ETagConflictError, StateWrite
from storage.state_reads import StateReader

log = logging.getLogger(__name__)

_ETAG = "e_tag"


def _encode(value: Any) -> str:
    # Plain JSON with an explicit codec for the SDK types botbuilder keeps in state (bot/edge/state_codec.py): reading
    # a row can never import or call anything the row names.
    return encode_state(value)


def _decode(key: str, data: str) -> Any:
    """The stored value, or an empty state when the row cannot be read safely (an old jsonpickle row naming
    other types, a tampered row): the conversation starts afresh rather than the turn failing or code running."""
    try:
        return decode_state(data)
    except UnsafeState as exc:
        log.warning("state %s was not read: %s; treating it as empty", key, exc)
        return {}


def _etag_of(value: Any) -> str | None:
    if isinstance(value, dict):
        etag = value.get(_ETAG)
    else:
        etag = getattr(value, _ETAG, None)
    return None if etag is None else str(etag)


def _without_etag(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k != _ETAG}
    return value


class SqlStorage(Storage):  # type: ignore[misc]
    """Optimistic concurrency: a write carrying the eTag it read fails if another turn wrote in between."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], read_engine: AsyncEngine) -> None:
        super().__init__()
        self._sessionmaker = sessionmaker
        self._reader = StateReader(read_engine)

    async def close(self) -> None:
        await self._reader.close()

    async def read(self, keys: list[str]) -> dict[str, Any]:
        if not keys:
            return {}
        found = await self._reader.read(keys)
        items: dict[str, Any] = {}
        for key, (data, etag) in found.items():
            value = _decode(key, data)
            if isinstance(value, dict):
                value[_ETAG] = etag
            elif isinstance(value, StoreItem):
                value.e_tag = etag
            items[key] = value
        return items

    async def write(self, changes: Mapping[str, Any]) -> None:
        if changes is None:
            raise TypeError("changes are required when writing")
        if not changes:
            return
        writes = []
        for key, value in changes.items():
            etag = _etag_of(value)
            if etag == "":
                raise ValueError(f"state {key!r} has an empty eTag")
            writes.append(StateWrite(key=key, data=_encode(_without_etag(value)), expected_etag=etag))
        try:
            async with self._sessionmaker.begin() as session:
                new_etags = await bot_state.write_state(session=session, writes=writes)
        except ETagConflictError:
            log.warning("state conflict on %s: another turn wrote it first", list(changes))
            raise
        # A second save in the same turn must carry the eTag we just wrote, not the one we read.
        for key, value in changes.items():
            if isinstance(value, dict):
                value[_ETAG] = new_etags[key]
            elif isinstance(value, StoreItem):
                value.e_tag = new_etags[key]

    async def delete(self, keys: list[str]) -> None:
        async with self._sessionmaker.begin() as session:
            await bot_state.delete_state(session=session, keys=keys)
