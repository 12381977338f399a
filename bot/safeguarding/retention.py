"""Retention, run by the service once a day (storage/retention.py says what is kept how long).

Every instance checks every `check_seconds`; the run itself is keyed by the UTC date ("daily:2026-12-03") in the
case store, so of several instances exactly one removes anything each day, and a run that fails part-way leaves
nothing behind and is tried again at the next check.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlmodel import col

from bot.edge.background import Periodic, start_up_grace
from storage.db import Database
from storage.models import RetentionRun
from storage.retention import RetentionCounts, Schedule, apply_schedule
from storage.types import utcnow

log = logging.getLogger(__name__)


class DailyRetention:
    def __init__(self, *, database: Database, schedule: Schedule, check_seconds: float) -> None:
        self._db = database
        self._schedule = schedule
        self._loop = Periodic(
            "retention",
            self._pass,
            check_seconds,
            first_delay=start_up_grace(check_seconds),
        )

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _pass(self) -> int:
        await self.run_once()
        return 0  # wait the full interval: today's run is done, by this instance or another

    async def run_once(self) -> RetentionCounts | None:
        """Today's run, unless it has happened; None when it had (here or on another instance)."""
        now = utcnow()
        key = f"daily:{now:%Y-%m-%d}"
        async with self._db.read_sessions() as session:
            done = await session.execute(select(col(RetentionRun.id)).where(col(RetentionRun.run_key) == key))
            if done.first() is not None:
                return None
        async with self._db.sessions.begin() as session:
            counts = await apply_schedule(
                session=session,
                schedule=self._schedule,
                now=now,
                dry_run=False,
                trigger="daily",
                actor=None,
                run_key=key,
            )
        if counts is not None:
            log.info(
                "retention %s: removed %d cases (%d events), %d conversation log entries, %d quiz attempts; "
                "%d cases kept under legal hold",
                key,
                counts.cases_removed,
                counts.events_removed,
                counts.conversation_log_removed,
                counts.quiz_attempts_removed,
                counts.held_cases_kept,
            )
        return counts
