"""One turn at a time per conversation, within this process.

botbuilder saves conversation state at the end of a turn, after the replies have gone out. A quick client (a
double tap, or the Agents Playground) can send its next message as soon as it sees a reply, before that save:
the second turn would then read the old state, answer the wrong question, and fail on the eTag when it saves.
Queueing turns per conversation closes that gap on one instance; across instances the eTag still guards state.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class TurnLocks:
    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, conversation_id: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(conversation_id, (asyncio.Lock(), 0))
        self._locks[conversation_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[conversation_id]
            if users <= 1:
                del self._locks[conversation_id]  # nobody waiting: keep the table small
            else:
                self._locks[conversation_id] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)
