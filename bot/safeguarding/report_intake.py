"""Turn a finished (or abandoned urgent) report into a stored case, then tell the reporter.

The order is the promise: the case and the message that will put it in front of the DSOs are committed in one
transaction first; only then does the reporter hear it was received. What a reporter adds to a case already sent
(the rest of a report that went early because someone may be in danger, or a line typed after sending) becomes an
entry in that case's chronology and its card is redrawn, in one transaction too.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from botbuilder.core import TurnContext

from bot.edge.teams_context import CANCEL_HANDLED, aad_object_id
from bot.safeguarding.case_cards import REPORT_FINISHED
from bot.safeguarding.delivery import CASE_CARD, DeliveryWorker, case_card_key, enqueue_redraw
from content.texts import Texts
from dialogs.report_worry_dialog import DANGER_NOT_SURE, contact_wording, description_of, summary_lines
from storage import cases, outbox
from storage.db import Database
from storage.models import Case, CaseCreate
from storage.types import utcnow

log = logging.getLogger(__name__)

_VERSION_RETRIES = 5
# A case the safety net opened this long before a report began is taken to be what led to it.
TRIAGE_LEADS_WITHIN = dt.timedelta(hours=1)


def _draft_action(draft: dict[str, Any]) -> str | None:
    """One case per draft: sending again after a turn that failed once the case was stored finds that case (found
    by benchmarks/pg_outage.py). Drafts begun before drafts had ids have none."""
    draft_id = draft.get("id")
    return f"report:{draft_id}" if isinstance(draft_id, str) and draft_id else None


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

    async def add_to_case(
        self,
        context: TurnContext,
        case_id: int,
        kind: str,
        text: str,
        *,
        action_id: str | None = None,
        fill_blanks: dict[str, Any] | None = None,
    ) -> Case | None:
        """The reporter's further words as a chronology entry, and the card redrawn to show them.

        None when the case is gone; a DSO acting at the same moment only makes this try again on the new version.
        """
        person = context.activity.from_property
        for _ in range(_VERSION_RETRIES):
            async with self._db.sessions.begin() as session:
                current = await cases.get_case(session=session, case_id=case_id)
                if current is None:
                    return None
                if action_id is not None and await cases.action_recorded(session=session, action_id=action_id):
                    return current  # the same message again (Teams resent it): added once
                changed = await cases.change_case(
                    session=session,
                    case_id=case_id,
                    expected_version=current.version,
                    changes={},
                    event_kind=kind,
                    actor_aad_id=aad_object_id(context.activity),
                    actor_name=person.name if person else None,
                    detail={"text": text},
                    action_id=action_id,
                    fill_blanks=fill_blanks,
                )
                if changed is not None:
                    await enqueue_redraw(session, case_id, changed.version)
            if changed is not None:
                self._delivery.wake()
                return changed
        raise RuntimeError(f"case {case_id} kept changing while the reporter's words were added")

    def _learner_case(self, context: TurnContext, draft: dict[str, Any]) -> CaseCreate:
        activity = context.activity
        person = activity.from_property
        return CaseCreate(
            source="learner",
            urgent=bool(draft.get("urgent")),
            incomplete=bool(draft.get("incomplete")),
            category=draft.get("category") or "other",
            about=draft.get("about") or "not_say",
            subject_name=draft.get("subject_name") or None,
            description=description_of(draft),
            incident_when=draft.get("when") or draft.get("when_where") or None,
            incident_where=draft.get("where") or None,
            reporter_aad_id=(aad_object_id(activity) or "").lower() or None,
            reporter_name=person.name if person else None,
            reporter_role="learner",
            reporter_conversation_id=activity.conversation.id,
            reporter_hidden=not draft.get("name_shown", True),
            contact_ok=bool(draft.get("contact_ok")),
            contact_how=draft.get("contact_how") or None,
        )

    def _answers_to_fill(self, context: TurnContext, draft: dict[str, Any]) -> dict[str, Any]:
        """The report's answers a case it joins may lack (who, when, where, how to make contact), so the card
        shows them as facts as well as in the chronology."""
        case = self._learner_case(context, draft)
        return {name: getattr(case, name) for name in cases.FILLABLE}

    @staticmethod
    def _detail(draft: dict[str, Any]) -> dict[str, Any]:
        # "Not sure" is urgent but unconfirmed: the card says so, from the created event.
        return {"danger": draft["danger"]} if draft.get("danger") == DANGER_NOT_SURE else {}

    def _answers_text(self, draft: dict[str, Any]) -> str:
        """The report's answers as plain text, for a case that already holds its first part (and its name)."""
        lines = summary_lines(self._texts, draft, markdown=False)
        lines.append(self._texts.get("report.summary_contact", contact=contact_wording(self._texts, draft)))
        return "\n".join(lines)

    async def _join_triage_case(self, context: TurnContext, draft: dict[str, Any]) -> None:
        """A report that follows (or was interrupted by) a case the safety net opened for this person joins that
        case: one worry, one case. The triage case went to the team at once, so nothing urgent waited for this."""
        if isinstance(draft.get("sent_case_id"), int):
            return
        reporter = (aad_object_id(context.activity) or "").lower()
        if not reporter:
            return
        try:
            started = dt.datetime.fromisoformat(str(draft.get("started")))
        except ValueError:
            started = utcnow()
        async with self._db.read_sessions() as session:
            case = await cases.triage_case_of(
                session=session, reporter_aad_id=reporter, since=min(started, utcnow()) - TRIAGE_LEADS_WITHIN
            )
        if case is not None and case.id is not None:
            draft["sent_case_id"], draft["sent_reference"] = case.id, case.reference

    async def completed(self, context: TurnContext, draft: Any) -> None:
        """Flow.on_complete for Report a worry: `draft` is None when the reporter chose not to send."""
        if not isinstance(draft, dict):
            return
        await self._join_triage_case(context, draft)
        if isinstance(draft.get("sent_case_id"), int):
            # The first part went early (someone may be in danger): the rest joins that case, not a second card.
            added = await self.add_to_case(
                context,
                draft["sent_case_id"],
                REPORT_FINISHED,
                self._answers_text(draft),
                fill_blanks=self._answers_to_fill(context, draft),
            )
            if added is not None:
                await context.send_activity(self._texts.get("report.finished_added", reference=added.reference))
                return
        person = context.activity.from_property
        stored = await self.store(
            self._learner_case(context, draft),
            actor_aad_id=aad_object_id(context.activity),
            actor_name=person.name if person else None,
            action_id=_draft_action(draft),
            detail=self._detail(draft),
        )
        if not stored.contact_ok:
            contact = "received_contact_no"
        else:
            contact = "received_contact_yes" if stored.contact_how else "received_contact_teams"
        # An urgent report is not "normally within a working day": the DSOs are alerted and reminded in minutes.
        await context.send_activity(
            self._texts.get(
                "report.received_urgent" if stored.urgent else "report.received",
                reference=stored.reference,
                contact_line=self._texts.get(f"report.{contact}"),
            )
        )

    async def abandoned(self, context: TurnContext, draft: dict[str, Any]) -> tuple[int, str]:
        """An urgent report stopped (or put aside) part-way still goes to the DSOs, marked incomplete.

        Returns the case's id and reference; the dialog tells the reporter. A report whose first part already went
        adds what is new since to that case.
        """
        context.turn_state[CANCEL_HANDLED] = True
        await self._join_triage_case(context, draft)
        sent = draft.get("sent_case_id")
        if isinstance(sent, int):
            text = self._answers_text(draft)
            if text != draft.get("sent_answers"):
                added = await self.add_to_case(
                    context, sent, REPORT_FINISHED, text, fill_blanks=self._answers_to_fill(context, draft)
                )
                if added is not None:
                    draft["sent_answers"] = text
                    return sent, added.reference
            return sent, str(draft.get("sent_reference") or "")
        person = context.activity.from_property
        case = self._learner_case(context, {**draft, "incomplete": True})
        if not case.description:
            case.description = self._texts.get("cases.no_description")
        stored = await self.store(
            case,
            actor_aad_id=aad_object_id(context.activity),
            actor_name=person.name if person else None,
            # Sent on twice (the sweeper's claim ran out on a stalled instance; a turn retried after its state
            # failed to save), the draft finds the case it already made.
            action_id=_draft_action(draft),
            detail=self._detail(draft),
        )
        assert stored.id is not None
        draft["sent_answers"] = self._answers_text(draft)
        return stored.id, stored.reference
