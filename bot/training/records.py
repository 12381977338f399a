"""Recording training in Teams: `training done prevent 2026-09-12`, the form, `training status` and the DSO's and
directors' compliance card. Only staff and associates get any of it; anyone else is refused kindly, and the refusal
is logged (never with what they typed)."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from typing import Any, Final

from botbuilder.core import CardFactory, MessageFactory, TurnContext
from botbuilder.schema import Activity

from bot.edge.card_actions import CardAction, CardActionRouter, card_body, message_body
from bot.edge.people import People
from bot.edge.teams_context import aad_object_id
from bot.safeguarding.delivery import DIRECT, DeliveryWorker
from bot.training.staff import StaffPopulation, uk_today
from cards.escape import escape_markdown
from cards.training_card import (
    ERROR_BAD_DATE,
    check_date,
    compliance_card,
    parse_training_form,
    recorded_card,
    status_card,
    training_form_card,
)
from cards.verbs import Verb
from content.texts import Texts
from content.training import Course, TrainingCourses
from dialogs.roles import Role, RoleDirectory
from storage import outbox, training
from storage.db import Database
from storage.training import TrainingRecordCreate
from storage.training_register import RegisterRow, add_months, compliance, register_file, register_rows
from storage.types import utcnow

log = logging.getLogger(__name__)

_FORM_WORDS: Final = frozenset({"record", "form", "add", "log"})
_STATUS_WORDS: Final = frozenset({"status", "my training", ""})
_COMPLIANCE_WORDS: Final = frozenset({"compliance", "report", "overdue"})
_DONE = re.compile(r"^(?:done|completed|complete|finished)\b\s*(?P<rest>.*)$")
_FOR = re.compile(r"^(?P<what>.*?)\s+for\s+(?P<who>.+)$")
_UK_DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MANAGERS: Final = frozenset({Role.DSO, Role.DIRECTOR})

REQUIRED_TEXTS: Final = (
    "training.menu",
    "training.refused",
    "training.help",
    "training.recorded",
    "training.reminder_due",
    "training.reminder_expired",
    "training.weekly_overdue",
)


def parse_typed_date(typed: str) -> dt.date | None:
    """2026-09-12, or the UK's 12/09/2026 (also 12.09.2026, 12-09-2026); None if it is no real date."""
    try:
        if _ISO_DATE.match(typed):
            return dt.date.fromisoformat(typed)
        uk = _UK_DATE.match(typed)
        if uk:
            return dt.date(int(uk.group(3)), int(uk.group(2)), int(uk.group(1)))
    except ValueError:
        return None
    return None


class TrainingService:
    def __init__(
        self,
        *,
        database: Database,
        roles: RoleDirectory,
        texts: Texts,
        courses: TrainingCourses,
        people: People,
        staff: StaffPopulation,
        delivery: DeliveryWorker,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        texts.require(*REQUIRED_TEXTS)
        self._db = database
        self._roles = roles
        self._texts = texts
        self._courses = courses
        self._people = people
        self._staff = staff
        self._delivery = delivery
        self.clock = clock

    def register(self, router: CardActionRouter) -> None:
        router.register(Verb.TRAINING_RECORD, self.submit)

    def _today(self) -> dt.date:
        return uk_today(self.clock())

    def _course_list(self) -> str:
        return ", ".join(course.words[0] for course in self._courses.courses)

    # Typed commands ------------------------------------------------------------------------------------

    async def refuse(self, context: TurnContext) -> None:
        """A learner typed a training command: say kindly it is not for them, and keep a note that it happened."""
        log.info("training command refused: not staff (%s)", (aad_object_id(context.activity) or "unknown").lower())
        await context.send_activity(self._texts.get("training.refused"))

    async def start(self, context: TurnContext, roles: frozenset[Role], argument: str | None = None) -> bool:
        """The flow's start: what follows "training" decides what happens."""
        if Role.STAFF not in roles:
            await self.refuse(context)
            return True
        said = " ".join((argument or "").lower().split())
        if said in _STATUS_WORDS:
            await self.show_status(context, roles)
        elif said in _FORM_WORDS:
            await self.send_form(context, roles)
        elif said in _COMPLIANCE_WORDS:
            if roles & _MANAGERS:
                await context.send_activity(_card(await self.compliance()))
            else:
                log.info("training compliance refused: not DSO or director")
                await context.send_activity(self._texts.get("training.compliance_refused"))
        elif (done := _DONE.match(said)) is not None:
            await self._record_typed(context, roles, done.group("rest"))
        else:
            help_text = self._texts.get("training.help")
            if Role.DSO in roles:
                help_text += "\n\n" + self._texts.get("training.help_dso")
            await context.send_activity(help_text)
        return True

    async def _record_typed(self, context: TurnContext, roles: frozenset[Role], rest: str) -> None:
        texts = self._texts
        who: str | None = None
        if (split := _FOR.match(rest)) is not None:
            rest, who = split.group("what"), split.group("who")
        words = rest.split()
        date_text = words.pop() if words and any(ch.isdigit() for ch in words[-1]) else None
        if date_text is not None and words and words[-1] in ("on", "at"):
            words.pop()  # "training done prevent on 12/09/2026"
        typed_course = " ".join(words)
        if not typed_course:
            await context.send_activity(texts.get("training.no_course", courses=self._course_list()))
            return
        course = self._courses.find(typed_course)
        if course is None:
            await context.send_activity(
                texts.get("training.unknown_course", typed=escape_markdown(typed_course), courses=self._course_list())
            )
            return
        if date_text is None:
            await context.send_activity(texts.get("training.no_date", course=course.words[0]))
            return
        completed_on = parse_typed_date(date_text)
        error = ERROR_BAD_DATE if completed_on is None else None
        if completed_on is not None:
            completed_on, error = check_date(completed_on.isoformat(), self._today())
        if error is not None or completed_on is None:
            await context.send_activity(texts.get(error or ERROR_BAD_DATE))
            return
        presser = (aad_object_id(context.activity) or "").lower()
        person, name = presser, self._people.name_of(presser) or _sender_name(context)
        if who is not None:
            if Role.DSO not in roles:
                log.info("training for someone else refused: not DSO")
                await context.send_activity(
                    texts.get("training.only_dso_for_others", course=course.words[0], date=escape_markdown(date_text))
                )
                return
            matches = await self._staff.find(who)
            if not matches:
                await context.send_activity(texts.get("training.person_not_found", typed=escape_markdown(who)))
                return
            if len(matches) > 1:
                names = ", ".join(escape_markdown(n) for _, n in matches[:5])
                await context.send_activity(
                    texts.get("training.person_ambiguous", typed=escape_markdown(who), names=names)
                )
                return
            person, name = matches[0]
        expires = await self._store(
            context, course=course, person=person, name=name, provider="", completed_on=completed_on,
            certificate_url=None,
            # A message Teams delivers twice is recorded once.
            action_id=f"message:{context.activity.id}" if context.activity.id else None,
        )  # fmt: skip
        await context.send_activity(
            texts.get(
                "training.recorded",
                course=escape_markdown(course.name),
                completed=_day(completed_on),
                name=escape_markdown(name),
                expires=_day(expires),
            )
            + "\n\n"
            + texts.get("training.recorded_text_hint")
        )

    async def _store(
        self,
        context: TurnContext,
        *,
        course: Course,
        person: str,
        name: str,
        provider: str,
        completed_on: dt.date,
        certificate_url: str | None,
        action_id: str | None,
    ) -> dt.date:
        presser = (aad_object_id(context.activity) or "").lower()
        expires = add_months(completed_on, course.refresher_months)
        async with self._db.sessions.begin() as session:
            stored, created = await training.add_record(
                session=session,
                record=TrainingRecordCreate(
                    person_aad_id=person,
                    person_name=name,
                    course=course.id,
                    provider=provider,
                    completed_on=completed_on,
                    certificate_url=certificate_url,
                    recorded_by_aad_id=presser or None,
                    recorded_by_name=_sender_name(context),
                ),
                action_id=action_id,
            )
            if created and person != presser:
                # Recorded by the DSO: the person is told, so a mistake is seen by the one who would know.
                await outbox.enqueue(
                    session=session,
                    dedupe_key=f"training-recorded:{stored.id}",
                    kind=DIRECT,
                    target={"aad_object_id": person, "service_url": context.activity.service_url},
                    payload={
                        "activity": MessageFactory.text(
                            self._texts.get(
                                "training.recorded_for_you",
                                recorder=escape_markdown(_sender_name(context)),
                                course=escape_markdown(course.name),
                                completed=_day(completed_on),
                                expires=_day(expires),
                            )
                        ).serialize()
                    },
                )
        if created:
            log.info(
                "training recorded: record %s, course %s, %s",
                stored.id,
                course.id,
                "by the DSO for someone else" if person != presser else "by the person",
            )
            if person != presser:
                self._delivery.wake()
        return expires

    # The form --------------------------------------------------------------------------------------------

    async def send_form(self, context: TurnContext, roles: frozenset[Role]) -> None:
        people = await self._staff.choices() if Role.DSO in roles else None
        card = training_form_card(self._texts, self._courses, today=self._today(), people=people)
        await context.send_activity(_card(card))

    async def submit(self, context: TurnContext, action: CardAction) -> dict[str, Any]:
        roles = await self._roles.roles_of(aad_object_id(context.activity))
        if Role.STAFF not in roles:
            log.info("training form refused: not staff (%s)", (aad_object_id(context.activity) or "unknown").lower())
            return message_body(self._texts.get("training.only_staff_button"))
        presser = (aad_object_id(context.activity) or "").lower()
        dso = Role.DSO in roles
        choices = await self._staff.choices() if dso else None
        today = self._today()
        entry, errors = parse_training_form(
            action.data, self._courses, today=today, people=dict(choices) if choices is not None else None
        )
        if entry is None:
            values = {k: v for k, v in action.data.items() if isinstance(v, str)}
            return card_body(
                training_form_card(
                    self._texts, self._courses, today=today, people=choices, values=values, errors=errors
                )
            )
        course = self._courses.get(entry.course_id)
        assert course is not None
        person = entry.person_aad_id or presser
        name = dict(choices or []).get(person) or self._people.name_of(person) or _sender_name(context)
        if person == presser:
            name = self._people.name_of(person) or _sender_name(context)
        expires = await self._store(
            context,
            course=course,
            person=person,
            name=name,
            provider=entry.provider,
            completed_on=entry.completed_on,
            certificate_url=entry.certificate_url,
            action_id=f"invoke:{context.activity.id}" if context.activity.id else None,
        )
        return card_body(
            recorded_card(
                self._texts, name=name, course=course.name, completed_on=entry.completed_on, expires_on=expires
            )
        )

    # Status and compliance ---------------------------------------------------------------------------------

    async def rows(self, *, keep_leavers: bool, today: dt.date | None = None) -> list[RegisterRow]:
        population = await self._staff.members()
        async with self._db.read_sessions() as session:
            records = await training.all_records(session=session)
        rows = register_rows(
            records=records,
            population=population,
            courses=self._courses.courses,
            today=today or self._today(),
            due_soon_days=self._courses.due_soon_days,
        )
        return rows if keep_leavers else [row for row in rows if row.person_aad_id in population]

    async def show_status(self, context: TurnContext, roles: frozenset[Role]) -> None:
        presser = (aad_object_id(context.activity) or "").lower()
        async with self._db.read_sessions() as session:
            records = await training.records_of(session=session, person_aad_id=presser)
        rows = register_rows(
            records=records,
            population={presser: _sender_name(context)},
            courses=self._courses.courses,
            today=self._today(),
            due_soon_days=self._courses.due_soon_days,
        )
        await context.send_activity(_card(status_card(self._texts, rows)))
        if roles & _MANAGERS:
            await context.send_activity(_card(await self.compliance()))

    async def compliance(self, today: dt.date | None = None) -> dict[str, Any]:
        today = today or self._today()
        rows = await self.rows(keep_leavers=False, today=today)
        return compliance_card(
            self._texts,
            courses=compliance(rows, self._courses.courses),
            rows=rows,
            as_of=today,
            due_soon_days=self._courses.due_soon_days,
        )

    async def register_file(self, file_format: str) -> tuple[bytes, int]:
        """The Single Central Register's training rows as a file, and how many rows it has."""
        rows = await self.rows(keep_leavers=True)
        return register_file(rows, file_format), len(rows)


def _card(card: dict[str, Any]) -> Activity:
    return MessageFactory.attachment(CardFactory.adaptive_card(card))


def _sender_name(context: TurnContext) -> str:
    sender = context.activity.from_property
    return (sender.name if sender else None) or (aad_object_id(context.activity) or "")


def _day(day: dt.date) -> str:
    return f"{day.day} {day:%b %Y}"
