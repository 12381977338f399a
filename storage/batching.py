"""One task takes work that many callers queue, in batches, and each caller waits for its own result.

Both the conversation log (group commit) and state reads (one query for the turns that read together) work
this way: a request that finds the task idle is taken at once, and requests that arrive while it is busy go
together in the next batch.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

Pending = tuple[T, asyncio.Future[R]]


class BatchQueue(Generic[T, R]):
    def __init__(self, *, name: str, max_weight: int) -> None:
        self._name = name
        self._max_weight = max_weight
        self._queue: asyncio.Queue[Pending[T, R]] | None = None
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        if self._task is None or self._task.done():
            # Created on first use, inside the running loop the app serves on.
            self._queue = asyncio.Queue()
            self._task = asyncio.create_task(self._run(self._queue), name=self._name)
        assert self._queue is not None
        result: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((item, result))
        return await result

    def weight(self, item: T) -> int:
        """How much of `max_weight` one item uses: 1 unless a subclass counts otherwise."""
        return 1

    async def handle(self, batch: list[Pending[T, R]]) -> None:
        """Do the batch's work and settle every future in it."""
        raise NotImplementedError

    async def _run(self, queue: asyncio.Queue[Pending[T, R]]) -> None:
        while True:
            batch = [await queue.get()]
            weight = self.weight(batch[0][0])
            while weight < self._max_weight and not queue.empty():
                batch.append(queue.get_nowait())
                weight += self.weight(batch[-1][0])
            await self.handle(batch)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while self._queue is not None and not self._queue.empty():
            _, result = self._queue.get_nowait()
            result.cancel()
