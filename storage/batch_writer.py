"""Group commit for the conversation log: many turns' entries in one transaction, each turn still waiting
for its own entries to be committed before it goes on.

A turn used to open one transaction for its inbound activity and another for its replies. Under load those
small transactions queue for the single SQLite writer; sharing one commit among every turn that is ready
removes most of that cost without weakening the promise that what a person wrote is stored before the bot
acts on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncEngine

from storage import conversation_log
from storage.models import ConversationLogBase

log = logging.getLogger(__name__)

_Pending = tuple[Sequence[ConversationLogBase], asyncio.Future[None]]


class LogBatcher:
    def __init__(self, engine: AsyncEngine, max_batch: int = 500) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self.batches_committed = 0
        self._queue: asyncio.Queue[_Pending] | None = None
        self._task: asyncio.Task[None] | None = None

    async def write(self, entries: Sequence[ConversationLogBase]) -> None:
        """Return once `entries` are committed; raise if their batch could not be."""
        if not entries:
            return
        if self._task is None or self._task.done():
            # Created on first use, inside the running loop the app serves on.
            self._queue = asyncio.Queue()
            self._task = asyncio.create_task(self._run(self._queue), name="conversation-log-writer")
        assert self._queue is not None
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put((entries, done))
        await done

    async def _run(self, queue: asyncio.Queue[_Pending]) -> None:
        while True:
            batch = [await queue.get()]
            while len(batch) < self._max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                await self._commit([e for es, _ in batch for e in es])
            except Exception:
                # One bad turn must not fail the others that happened to share its commit.
                log.warning("conversation log batch of %d turns failed; writing them one by one", len(batch))
                for entries, done in batch:
                    await self._commit_one(entries, done)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)

    async def _commit(self, entries: Sequence[ConversationLogBase]) -> None:
        async with self._engine.connect() as conn:
            await conversation_log.append_committed(conn=conn, entries=entries)
        self.batches_committed += 1

    async def _commit_one(self, entries: Sequence[ConversationLogBase], done: asyncio.Future[None]) -> None:
        try:
            await self._commit(entries)
        except Exception as exc:
            if not done.done():
                done.set_exception(exc)
        else:
            if not done.done():
                done.set_result(None)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
