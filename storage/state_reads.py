"""Shared reads of bot state: the state reads of turns that arrive together go to the database as one query.

Every turn reads its conversation's state. Most of a point read's cost is getting to the database (on SQLite a
hand-over to the driver's thread, measured at about 150 µs against 8 µs for the SELECT itself), so when turns
arrive in a burst (a class answering a live quiz, the conversation log releasing a batch of turns at once) one
query serves all of them. A read that finds no read in flight goes at once; reads that arrive while one is in
flight go together in the next. A read never returns data older than the moment it was asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncEngine

from storage import bot_state

log = logging.getLogger(__name__)

_Pending = tuple[Sequence[str], asyncio.Future[dict[str, tuple[str, str]]]]


class StateReader:
    def __init__(self, engine: AsyncEngine, max_keys: int = 500) -> None:
        self._engine = engine
        self._max_keys = max_keys
        self._queue: asyncio.Queue[_Pending] | None = None
        self._task: asyncio.Task[None] | None = None
        self.queries = 0

    async def read(self, keys: Sequence[str]) -> dict[str, tuple[str, str]]:
        """{key: (json, etag)} for those of `keys` that exist."""
        if not keys:
            return {}
        if self._task is None or self._task.done():
            # Created on first use, inside the running loop the app serves on.
            self._queue = asyncio.Queue()
            self._task = asyncio.create_task(self._run(self._queue), name="state-reader")
        assert self._queue is not None
        found: asyncio.Future[dict[str, tuple[str, str]]] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((keys, found))
        return await found

    async def _run(self, queue: asyncio.Queue[_Pending]) -> None:
        while True:
            batch = [await queue.get()]
            wanted = set(batch[0][0])
            while not queue.empty() and len(wanted) < self._max_keys:
                batch.append(queue.get_nowait())
                wanted.update(batch[-1][0])
            try:
                async with self._engine.connect() as conn:
                    rows = await bot_state.read_state(session=conn, keys=sorted(wanted))
                self.queries += 1
            except Exception as exc:
                log.warning("state read for %d turns failed: %s", len(batch), exc)
                for _, found in batch:
                    if not found.done():
                        found.set_exception(exc)
                continue
            for keys, found in batch:
                if not found.done():  # a turn that gave up (cancelled) no longer waits
                    found.set_result({key: rows[key] for key in keys if key in rows})

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while self._queue is not None and not self._queue.empty():
            _, found = self._queue.get_nowait()
            found.cancel()
