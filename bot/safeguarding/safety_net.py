"""The safety net on every message: danger gets an answer before anything else, whatever dialog someone is in.

Each message is read by the lexicon and the learned model together (understanding/). A high reading shows the
emergency contacts first and, in the same turn, opens an urgent case for the safeguarding team (or adds to the
person's open case) and says so plainly. A medium reading offers a report or someone to talk to. In a group chat
or channel nobody else learns anything about the person: the group sees neutral signposting only, and the
acknowledgement with its reference goes to the person 1:1.
"""

from __future__ import annotations

import datetime as dt
import logging

from botbuilder.core import CardFactory, MessageFactory, TurnContext

from bot.edge.metrics import Metrics
from bot.edge.teams_context import aad_object_id, is_personal
from bot.safeguarding.delivery import DIRECT, DeliveryWorker, direct_text, enqueue_redraw
from bot.safeguarding.report_intake import ReportIntake
from cards.choice_card import Choice, choice_card
from cards.signpost_card import signpost_card
from content.directory import Directory, Entry
from content.texts import Texts
from dialogs.report_worry_dialog import TRIAGED_CASE
from storage import cases, outbox
from storage.db import Database
from storage.models import CaseCreate
from storage.types import utcnow
from understanding.lexicon import Severity
from understanding.reader import Reading, Understanding

log = logging.getLogger(__name__)

MAX_CONTACTS = 6
# A further high message joins the person's case while it is this fresh and still waiting to be picked up (its
# card is new, urgent and reminded within minutes). Later, it opens a case of its own, so it is never buried.
JOIN_WITHIN = dt.timedelta(hours=1)
# The turn's reading, for a feature that must know what the safety net made of the message (a survey comment).
READING = "safespace.safety_reading"


class SafetyNet:
    def __init__(
        self,
        *,
        understanding: Understanding,
        directory: Directory,
        texts: Texts,
        intake: ReportIntake,
        database: Database,
        delivery: DeliveryWorker,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics
        self._understanding = understanding
        self._directory = directory
        self._texts = texts
        self._intake = intake
        self._db = database
        self._delivery = delivery

    def _t(self, key: str, **values: object) -> str:
        return self._texts.get(f"safety.{key}", **values)

    def _emergency_entries(self, reading: Reading) -> list[Entry]:
        seen: dict[str, Entry] = {}
        for route in reading.routes or ("harm_to_others",):
            for entry in self._directory.emergency_for(route):
                seen.setdefault(entry.id, entry)
        return list(seen.values())[:MAX_CONTACTS]

    async def check(self, context: TurnContext, text: str, *, use_model: bool = True) -> Reading:
        reading = await self._understanding.read_async(text) if use_model else self._understanding.read_words(text)
        context.turn_state[READING] = reading
        if self._metrics is not None:
            self._metrics.triage(reading.severity.name.lower())
        if not reading.flagged:
            return reading
        personal = is_personal(context.activity)
        log.warning("safety net flagged a message: %s %s by %s", reading.severity.name, reading.category, reading.layer)
        if reading.severity is Severity.HIGH:
            intro = self._t("high") if personal else self._t("group")
        else:
            intro = self._t("medium") if personal else self._t("group")
        card = signpost_card(self._t("emergency_title"), intro, self._emergency_entries(reading))
        await context.send_activity(MessageFactory.attachment(CardFactory.adaptive_card(card)))
        if reading.severity is Severity.HIGH:
            case_id, reference, joined = await self._open_or_join(context, text, reading)
            if personal and case_id is not None:
                # A report under way joins this case rather than becoming a second card (dialogs read it).
                context.turn_state[TRIAGED_CASE] = (case_id, reference)
            told = self._t("high_joined" if joined else "high_told", reference=reference)
            if personal:
                await context.send_activity(told)
            else:
                await self._tell_privately(context, told, reference)
        elif personal:
            offer = choice_card(
                self._t("offer"),
                "",
                [Choice(self._t("offer_report"), "report"), Choice(self._t("offer_who"), "who can I talk to")],
            )
            await context.send_activity(MessageFactory.attachment(CardFactory.adaptive_card(offer)))
        return reading

    async def _open_or_join(self, context: TurnContext, text: str, reading: Reading) -> tuple[int | None, str, bool]:
        """A new urgent case, or (when the person's fresh case waits) a new entry in that case's chronology."""
        activity = context.activity
        person = activity.from_property
        reporter = (aad_object_id(activity) or "").lower() or None
        why = reading.audit(self._understanding.categories)
        action_id = f"triage:{activity.id}" if activity.id else None
        changed = open_case = None
        if reporter is not None:
            async with self._db.sessions.begin() as session:
                open_case = await cases.fresh_case_of(
                    session=session, reporter_aad_id=reporter, since=utcnow() - JOIN_WITHIN
                )
                if open_case is not None and open_case.id is not None:
                    changed = await cases.change_case(
                        session=session,
                        case_id=open_case.id,
                        expected_version=open_case.version,
                        changes={"urgent": True},
                        event_kind="flagged_again",
                        actor_aad_id=None,
                        actor_name="Safe Space",
                        detail={"text": text, "flagged_by": why},
                        action_id=action_id,
                    )
                    if changed is not None:
                        await enqueue_redraw(session, open_case.id, changed.version)
            if open_case is not None and changed is not None:
                self._delivery.wake()
                return open_case.id, open_case.reference, True
        case = CaseCreate(
            source="triage",
            urgent=True,
            category=self._understanding.categories.case_category(reading.category or "immediate_danger"),
            about="not_say",
            description=text,  # verbatim: the words that raised the alarm
            reporter_aad_id=reporter,
            reporter_name=person.name if person else None,
            reporter_role="learner",
            reporter_conversation_id=activity.conversation.id,
        )
        stored = await self._intake.store(
            case, actor_aad_id=None, actor_name="Safe Space", action_id=action_id, detail={"flagged_by": why}
        )
        return stored.id, stored.reference, False

    async def _tell_privately(self, context: TurnContext, text: str, reference: str) -> None:
        reporter = (aad_object_id(context.activity) or "").lower()
        if not reporter:
            return
        async with self._db.sessions.begin() as session:
            await outbox.enqueue(
                session=session,
                dedupe_key=f"triage-told:{reference}:{context.activity.id or ''}"[:128],
                kind=DIRECT,
                target={"aad_object_id": reporter},
                payload=direct_text(text),
            )
        self._delivery.wake()
