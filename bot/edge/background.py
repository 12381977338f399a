"""A repeating job on the bot's event loop: run, then wait for a wake-up or the interval, forever.

A failed pass is logged and tried again on the next one; nothing a background job does may stop the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


# Jobs that are not urgent to the minute (reminders, reports, retention, uploads) wait this long after start-up
# before their first pass, so nothing runs in the middle of start-up or in a short test run.
START_UP_GRACE_SECONDS = 600.0


def start_up_grace(every: float) -> float:
    """The first pass's delay for a job that runs every `every` seconds: ten minutes, or one interval if shorter."""
    return min(START_UP_GRACE_SECONDS, every)


class Periodic:
    def __init__(self, name: str, job: Callable[[], Awaitable[int]], every: float, *, first_delay: float = 0.0) -> None:
        """`job` returns how much it did; a pass that did something runs again at once (more may wait).
        `first_delay`: seconds before the first pass, for jobs that should not run in the middle of start-up."""
        self._name = name
        self._job = job
        self._every = every
        self._first_delay = first_delay
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        if self._first_delay > 0:
            await asyncio.sleep(self._first_delay)
        while True:
            try:
                done = await self._job()
            except Exception:
                log.exception("%s: pass failed; will try again", self._name)
                done = 0
            if done:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._every)
