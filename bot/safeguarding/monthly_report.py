"""The directors' report for last month, to each director in their 1:1 chat on the first working day of the month.

It goes through the outbox like every message that must arrive. The outbox's dedupe key (the month and the
director) makes it once per month per director however many instances check, and however often. An instance that
was down on the first working day still sends it within the next few days, never later in the month.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection
from typing import Final

from botbuilder.core import CardFactory, MessageFactory

from bot.edge.background import Periodic, start_up_grace
from bot.safeguarding.delivery import DIRECT, DeliveryWorker
from bot.safeguarding.records import CaseRecords
from content.texts import Texts
from dialogs.report_period import UK, month_period
from dialogs.roles import Role, RoleDirectory
from storage import outbox
from storage.db import Database
from storage.types import utcnow

log = logging.getLogger(__name__)

CATCH_UP_DAYS: Final = 3  # after the first working day, an instance that was down still sends it this long


def first_working_day(year: int, month: int, closed: Collection[dt.date] = ()) -> dt.date:
    """The first weekday of the month that is not a closed day (a bank holiday, say)."""
    day = dt.date(year, month, 1)
    while day.weekday() >= 5 or day in closed:
        day += dt.timedelta(days=1)
    return day


class MonthlyReports:
    def __init__(
        self,
        *,
        database: Database,
        roles: RoleDirectory,
        texts: Texts,
        records: CaseRecords,
        delivery: DeliveryWorker,
        check_seconds: float,
        closed_days: Collection[dt.date] = (),
    ) -> None:
        self._db = database
        self._roles = roles
        self._texts = texts
        self._records = records
        self._delivery = delivery
        self._closed = frozenset(closed_days)
        self._loop = Periodic(
            "monthly-report",
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
        return 0

    async def run_once(self, now: dt.datetime | None = None) -> int:
        """Queue last month's report for each director if today is the day; returns how many were queued now."""
        now = now or utcnow()
        today = now.astimezone(UK).date()
        due = first_working_day(today.year, today.month, self._closed)
        if not due <= today <= due + dt.timedelta(days=CATCH_UP_DAYS):
            return 0
        directors = sorted(await self._roles.members(Role.DIRECTOR))
        if not directors:
            return 0
        previous = today.replace(day=1) - dt.timedelta(days=1)
        period = month_period(previous.year, previous.month)
        month = f"{previous:%Y-%m}"
        async with self._db.read_sessions() as session:
            waiting = [
                aad
                for aad in directors
                if await outbox.result_of(session=session, dedupe_key=f"monthly-report:{month}:{aad}") is None
            ]
        if not waiting:
            return 0
        card = await self._records.report_card(
            period, intro=self._texts.get("records.report.monthly_intro", period=period.label), now=now
        )
        payload = {"activity": MessageFactory.attachment(CardFactory.adaptive_card(card)).serialize()}
        async with self._db.sessions.begin() as session:
            for aad in waiting:
                # Enqueueing the same key twice is a no-op, so two instances racing here still send one each.
                await outbox.enqueue(
                    session=session,
                    dedupe_key=f"monthly-report:{month}:{aad}",
                    kind=DIRECT,
                    target={"aad_object_id": aad},
                    payload=payload,
                )
        self._delivery.wake()
        log.info("monthly report for %s queued for %d director(s)", month, len(waiting))
        return len(waiting)
