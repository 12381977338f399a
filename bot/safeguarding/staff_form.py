"""The staff "Reporting an Incident and Safeguarding Form" as one Adaptive Card, submitted by Action.Execute.

Nothing is stored until the form is complete: an incomplete form comes back with the errors on it and what
was typed still in place.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any
from zoneinfo import ZoneInfo

from botbuilder.core import CardFactory, MessageFactory, TurnContext

from bot.edge.card_actions import CardAction, CardActionRouter, card_body, message_body
from bot.edge.teams_context import aad_object_id
from bot.safeguarding.report_intake import ReportIntake
from cards.case_card import CARD_BUDGET_BYTES, card_size
from cards.elements import adaptive_card, text_block
from cards.staff_form_card import StaffConcern, error_lines, parse_staff_form, staff_form_card
from cards.verbs import Verb
from content.indicators import Indicators
from content.texts import Texts
from dialogs.roles import Role, RoleDirectory
from storage.models import CaseCreate

log = logging.getLogger(__name__)
_LONDON = "Europe/London"


def _case_from(concern: StaffConcern, context: TurnContext) -> CaseCreate:
    activity = context.activity
    person = activity.from_property
    incident_at = None
    if concern.incident_date is not None:
        moment = dt.datetime.combine(concern.incident_date, concern.incident_time or dt.time(0, 0))
        incident_at = moment.replace(tzinfo=ZoneInfo(_LONDON)).astimezone(dt.UTC)
    return CaseCreate(
        source="staff",
        urgent=concern.urgent,
        category=concern.category,
        about=concern.subject_role,
        subject_name=concern.subject_name,
        subject_under_18=concern.under_18,
        description=concern.description,
        incident_when=concern.incident_when_text,
        incident_at=incident_at,
        incident_where=concern.incident_where,
        reporter_aad_id=(aad_object_id(activity) or "").lower() or None,
        reporter_name=person.name if person else None,
        reporter_role="staff",
        reporter_conversation_id=activity.conversation.id,
        contact_ok=True,
        indicators=json.dumps([{"indicator": key, "detail": detail} for key, detail in concern.indicators]),
        action_taken=concern.action_taken,
        others_aware=concern.others_aware,
        incident_time_known=concern.incident_time is not None if incident_at is not None else None,
        spoken_to=concern.spoken_to,
        fears=concern.fears,
        parents_told=concern.parents_told,
        other_agencies=concern.other_agencies,
        online_how=concern.online_how,
    )


class StaffForm:
    def __init__(self, *, roles: RoleDirectory, texts: Texts, indicators: Indicators, intake: ReportIntake) -> None:
        self._roles = roles
        self._texts = texts
        self._indicators = indicators
        self._intake = intake

    def register(self, router: CardActionRouter) -> None:
        router.register(Verb.STAFF_FORM_SUBMIT, self.submit)

    async def offer(self, context: TurnContext, roles: frozenset[Role], argument: str | None = None) -> bool:
        """Flow start override for Report a worry: staff get the form, learners the conversation."""
        if Role.STAFF not in roles:
            return False
        # The intro names the form's own button, so the two cannot drift apart when one is reworded.
        await context.send_activity(
            self._texts.get("staff_form.intro", button=self._texts.get("cards.staff_form.submit"))
        )
        card = staff_form_card(self._texts, self._indicators)
        await context.send_activity(MessageFactory.attachment(CardFactory.adaptive_card(card)))
        return True

    async def submit(self, context: TurnContext, action: CardAction) -> dict[str, Any]:
        if Role.STAFF not in await self._roles.roles_of(aad_object_id(context.activity)):
            log.warning("refused %s to a user without the staff role", action.verb)
            return message_body(self._texts.get("staff_form.only_staff"))
        action_id = f"invoke:{context.activity.id}" if context.activity.id else None
        concern, errors = parse_staff_form(action.data, self._indicators)
        if concern is None:
            values = {k: v for k, v in action.data.items() if isinstance(v, str)}
            card = staff_form_card(self._texts, self._indicators, values=values, errors=errors)
            if card_size(card) <= CARD_BUDGET_BYTES:
                return card_body(card)
            # Too big to send back (a very long account): leave the form as the person has it, typing intact,
            # and list what to fix instead.
            lines = error_lines(self._texts, self._indicators, errors)
            summary = self._texts.get("cards.staff_form.error_summary", count=len(lines))
            return message_body("\n".join([summary, *lines]))
        person = context.activity.from_property
        stored = await self._intake.store(
            _case_from(concern, context),
            actor_aad_id=aad_object_id(context.activity),
            actor_name=person.name if person else None,
            action_id=action_id,
        )
        text = self._texts.get("staff_form.received", reference=stored.reference)
        return card_body(adaptive_card([text_block(text, weight="Bolder")]))
