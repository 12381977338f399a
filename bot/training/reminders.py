"""Training reminders: each person hears once when a course has 30 days left and once when it runs out, and every
DSO gets the list of who is overdue once a week.

"Once" is kept in the case store, not in memory: every reminder is an outbox message whose key names the person,
the course and the expiry date (or the week), and the outbox takes each key once, whichever instance gets there
first and however often the check runs. A new completion moves the expiry date, so the next reminders are new.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from botbuilder.core import CardFactory, MessageFactory
from sqlalchemy.ext.asyncio import AsyncSession

from bot.edge.background import Periodic, start_up_grace
from bot.safeguarding.delivery import DIRECT, DeliveryWorker, direct_text
from bot.training.records import TrainingService
from bot.training.staff import uk_today
from content.texts import Texts
from content.training import TrainingCourses
from dialogs.roles import Role, RoleDirectory
from storage import outbox
from storage.db import Database
from storage.training_register import Standing
from storage.types import utcnow

log = logging.getLogger(__name__)


def _day(day: dt.date) -> str:
    return f"{day.day} {day:%b %Y}"


async def _once(session: AsyncSession, key: str, aad_object_id: str, payload: dict[str, Any]) -> int:
    """Queue a 1:1 message under `key` unless it ever was (the outbox's unique key decides a race); 1 if queued."""
    if await outbox.result_of(session=session, dedupe_key=key) is not None:
        return 0
    await outbox.enqueue(
        session=session, dedupe_key=key, kind=DIRECT, target={"aad_object_id": aad_object_id}, payload=payload
    )
    return 1


class TrainingReminders:
    def __init__(
        self,
        *,
        database: Database,
        roles: RoleDirectory,
        texts: Texts,
        courses: TrainingCourses,
        service: TrainingService,
        delivery: DeliveryWorker,
        check_seconds: float,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self._db = database
        self._roles = roles
        self._texts = texts
        self._courses = courses
        self._service = service
        self._delivery = delivery
        self.clock = clock
        self._loop = Periodic(
            "training-reminders", self._pass, check_seconds, first_delay=start_up_grace(check_seconds)
        )

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _pass(self) -> int:
        await self.run_once()
        return 0  # wait the full interval: nothing here is urgent enough to spin for

    async def run_once(self) -> int:
        """Queue what is due now; returns how many messages were newly queued."""
        now = self.clock()
        today = uk_today(now)
        rows = await self._service.rows(keep_leavers=False, today=today)
        iso = today.isocalendar()
        queued = 0
        async with self._db.sessions.begin() as session:
            for row in rows:
                if row.expires_on is None or row.standing not in (Standing.DUE_SOON, Standing.OVERDUE):
                    continue
                course = self._courses.get(row.course_id)
                kind = "expired" if row.standing is Standing.OVERDUE else "due"
                text = self._texts.get(
                    f"training.reminder_{kind}",
                    course=row.course,
                    course_word=course.words[0] if course else row.course_id,
                    expires=_day(row.expires_on),
                )
                queued += await _once(
                    session,
                    f"training-{kind}:{row.person_aad_id}:{row.course_id}:{row.expires_on.isoformat()}",
                    row.person_aad_id,
                    direct_text(text),
                )
            overdue = [r for r in rows if r.standing in (Standing.OVERDUE, Standing.NOT_RECORDED)]
            if overdue:
                card = await self._service.compliance(today)
                activity = MessageFactory.attachment(CardFactory.adaptive_card(card))
                activity.text = self._texts.get(
                    "training.weekly_overdue", count=len({r.person_aad_id for r in overdue})
                )
                for dso in sorted(await self._roles.members(Role.DSO)):
                    queued += await _once(
                        session,
                        f"training-weekly:{iso.year}-W{iso.week:02d}:{dso.lower()}",
                        dso.lower(),
                        {"activity": activity.serialize()},
                    )
        if queued:
            log.info("training: %d reminders queued", queued)
            self._delivery.wake()
        return queued
