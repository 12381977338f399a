"""Group commit for the conversation log: many turns' entries in one transaction, each turn still waiting
for its own entries to be committed before it goes on.

A turn used to open one transaction for its inbound activity and another for its replies. Under load those
small transactions queue for the single SQLite writer; sharing one commit among every turn that is ready
removes most of that cost without weakening the promise that what a person wrote is stored before the bot
acts on it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncEngine

from storage import conversation_log
from storage.batching import BatchQueue, Pending
from storage.models import ConversationLogBase

log = logging.getLogger(__name__)


class LogBatcher(BatchQueue[Sequence[ConversationLogBase], None]):
    def __init__(self, engine: AsyncEngine, max_batch: int = 500) -> None:
        super().__init__(name="conversation-log-writer", max_weight=max_batch)
        self._engine = engine
        self.batches_committed = 0

    async def write(self, entries: Sequence[ConversationLogBase]) -> None:
        """Return once `entries` are committed; raise if their batch could not be."""
        if entries:
            await self.submit(entries)

    async def handle(self, batch: list[Pending[Sequence[ConversationLogBase], None]]) -> None:
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
