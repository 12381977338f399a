"""Turn a finished (or abandoned urgent) report into a stored case, then tell the reporter.

The order is the promise: the case and the message that will put it in front of the DSOs are committed in one
transaction first; only then does the reporter hear it was received.
"""

from __future__ import annotations

import logging
from typing import Any

from botbuilder.core import TurnContext

from bot.edge.teams_context import CANCEL_HANDLED, aad_object_id
from bot.safeguarding.delivery import CASE_CARD, DeliveryWorker, case_card_key
from content.texts import Texts
from storage import cases, outbox
from storage.db import Database
from storage.models import Case, CaseCreate

log = logging.getLogger(__name__)


class ReportIntake:
    def __init__(self, database: Database, texts: Texts, delivery: DeliveryWorker) -> None:
        self._db = database
        self._texts = texts
        self._delivery = delivery

    async def store(
        self,
        case: CaseCreate,
        *,
        actor_aad_id: str | None,
        actor_name: str | None,
        action_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> Case:
        async with self._db.sessions.begin() as session:
            # With an action id (a form's invoke), a retried submit gets the case the first one made.
            stored = await cases.create_case(
                session=session,
                case=case,
                actor_aad_id=actor_aad_id,
                actor_name=actor_name,
                action_id=action_id,
                detail=detail,
            )
            assert stored.id is not None
            await outbox.enqueue(
                session=session,
                dedupe_key=case_card_key(stored.id),
                kind=CASE_CARD,
                target={"case_id": stored.id},
                payload={},
                case_id=stored.id,
            )
        self._delivery.wake()
        log.info("case %s stored (%s%s)", stored.reference, stored.category, ", urgent" if stored.urgent else "")
        return stored

    def _learner_case(self, context: TurnContext, draft: dict[str, Any]) -> CaseCreate:
        activity = context.activity
        person = activity.from_property
        return CaseCreate(
            source="learner",
            urgent=bool(draft.get("urgent")),
            incomplete=bool(draft.get("incomplete")),
            category=draft.get("category") or "other",
            about=draft.get("about") or "not_say",
            description=draft.get("description") or "",
            incident_when=draft.get("when_where"),
            reporter_aad_id=(aad_object_id(activity) or "").lower() or None,
            reporter_name=person.name if person else None,
            reporter_role="learner",
            reporter_conversation_id=activity.conversation.id,
            reporter_hidden=not draft.get("name_shown", True),
            contact_ok=bool(draft.get("contact_ok")),
            contact_how=draft.get("contact_how"),
        )

    async def completed(self, context: TurnContext, draft: Any) -> None:
        """Flow.on_complete for Report a worry: `draft` is None when the reporter chose not to send."""
        if not isinstance(draft, dict):
            return
        person = context.activity.from_property
        stored = await self.store(
            self._learner_case(context, draft),
            actor_aad_id=aad_object_id(context.activity),
            actor_name=person.name if person else None,
        )
        contact = "received_contact_yes" if stored.contact_ok else "received_contact_no"
        await context.send_activity(
            self._texts.get(
                "report.received", reference=stored.reference, contact_line=self._texts.get(f"report.{contact}")
            )
        )

    async def abandoned(self, context: TurnContext, draft: dict[str, Any]) -> None:
        """An urgent report stopped part-way still goes to the DSOs, marked incomplete."""
        person = context.activity.from_property
        case = self._learner_case(context, draft)
        if not case.description:
            case.description = self._texts.get("cases.no_description")
        stored = await self.store(
            case, actor_aad_id=aad_object_id(context.activity), actor_name=person.name if person else None
        )
        context.turn_state[CANCEL_HANDLED] = True
        await context.send_activity(self._texts.get("report.incomplete_sent", reference=stored.reference))
