"""Triage on every message: danger gets an answer before anything else, whatever dialog someone is in.

A flagged message gets the matching emergency card first. The highest severity (intent to harm now) also opens
an urgent case for the safeguarding team at once and says so plainly; the person's dialog carries on after.
"""

from __future__ import annotations

import logging

from botbuilder.core import CardFactory, MessageFactory, TurnContext

from bot.report_intake import ReportIntake
from bot.teams_context import aad_object_id, is_personal
from cards.choice_card import Choice, choice_card
from cards.signpost_card import signpost_card
from content.directory import Directory, Entry
from content.texts import Texts
from storage.models import CaseCreate
from understanding.lexicon import Assessment, Severity, Triage

log = logging.getLogger(__name__)

# The case category a DSO sees for each triage category.
CASE_CATEGORY = {
    "self_harm": "wellbeing",
    "harm_to_others": "other",
    "weapons_attack": "other",
    "extremism": "radicalisation",
    "grooming_sextortion": "online_safety",
    "abuse": "abuse",
}


class SafetyNet:
    def __init__(self, *, triage: Triage, directory: Directory, texts: Texts, intake: ReportIntake) -> None:
        self._triage = triage
        self._directory = directory
        self._texts = texts
        self._intake = intake

    def _t(self, key: str, **values: object) -> str:
        return self._texts.get(f"safety.{key}", **values)

    def _emergency_entries(self, assessment: Assessment) -> list[Entry]:
        seen: dict[str, Entry] = {}
        for category in assessment.categories:
            for entry in self._directory.emergency_for(category):
                seen.setdefault(entry.id, entry)
        return list(seen.values())[:6]

    async def check(self, context: TurnContext, text: str) -> Assessment:
        assessment = self._triage.assess(text)
        if not assessment.flagged:
            return assessment
        log.warning("triage flagged a message: %s %s", assessment.severity.name, ",".join(assessment.categories))
        intro = self._t("high") if assessment.severity is Severity.HIGH else self._t("medium")
        card = signpost_card(self._t("emergency_title"), intro, self._emergency_entries(assessment))
        await context.send_activity(MessageFactory.attachment(CardFactory.adaptive_card(card)))
        if assessment.severity is Severity.HIGH:
            reference = await self._open_urgent_case(context, text, assessment)
            await context.send_activity(self._t("high_told", reference=reference))
        elif is_personal(context.activity):
            offer = choice_card(
                self._t("offer"),
                "",
                [Choice(self._t("offer_report"), "report"), Choice(self._t("offer_who"), "who can I talk to")],
            )
            await context.send_activity(MessageFactory.attachment(CardFactory.adaptive_card(offer)))
        return assessment

    async def _open_urgent_case(self, context: TurnContext, text: str, assessment: Assessment) -> str:
        activity = context.activity
        person = activity.from_property
        case = CaseCreate(
            source="triage",
            urgent=True,
            category=CASE_CATEGORY.get(assessment.categories[0], "other") if assessment.categories else "other",
            about="not_say",
            description=text,  # verbatim: the words that raised the alarm
            reporter_aad_id=(aad_object_id(activity) or "").lower() or None,
            reporter_name=person.name if person else None,
            reporter_role="learner",
            reporter_conversation_id=activity.conversation.id,
        )
        stored = await self._intake.store(
            case,
            actor_aad_id=None,
            actor_name="Safe Space triage",
            action_id=f"triage:{activity.id}" if activity.id else None,
        )
        return stored.reference
