"""Shared reads of bot state: the state reads of turns that arrive together go to the database as one query.

Every turn reads its conversation's state. Most of a point read's cost is getting to the database (on SQLite a
hand-over to the driver's thread, measured at about 150 µs against 8 µs for the SELECT itself), so when turns
arrive in a burst (a class answering a live quiz, the conversation log releasing a batch of turns at once) one
query serves all of them. A read that finds no read in flight goes at once; reads that arrive while one is in
flight go together in the next. A read never returns data older than the moment it was asked for.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncEngine

from storage import bot_state
from storage.batching import BatchQueue, Pending

log = logging.getLogger(__name__)

Found = dict[str, tuple[str, str]]


class StateReader(BatchQueue[Sequence[str], Found]):
    def __init__(self, engine: AsyncEngine, max_keys: int = 500) -> None:
        super().__init__(name="state-reader", max_weight=max_keys)
        self._engine = engine
        self.queries = 0

    async def read(self, keys: Sequence[str]) -> Found:
        """{key: (json, etag)} for those of `keys` that exist."""
        return await self.submit(keys) if keys else {}

    def weight(self, item: Sequence[str]) -> int:
        return len(item)

    async def handle(self, batch: list[Pending[Sequence[str], Found]]) -> None:
        wanted = sorted({key for keys, _ in batch for key in keys})
        try:
            async with self._engine.connect() as conn:
                rows = await bot_state.read_state(session=conn, keys=wanted)
            self.queries += 1
        except Exception as exc:
            log.warning("state read for %d turns failed: %s", len(batch), exc)
            for _, found in batch:
                if not found.done():
                    found.set_exception(exc)
            return
        for keys, found in batch:
            if not found.done():  # a turn that gave up (cancelled) no longer waits
                found.set_result({key: rows[key] for key in keys if key in rows})
