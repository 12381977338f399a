"""What happens when someone presses a button on a case card.

Every press is checked against the presser's role, recorded in the case's chronology with who and when, and
answered with the card as it now stands (the invoke response) while the outbox redraws it for everyone.
Teams retries an invoke it did not hear back from in time: the invoke's id makes a retry a no-op.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping
from typing import Any

from botbuilder.core import CardFactory, MessageFactory, TurnContext

from bot.edge.card_actions import CardAction, CardActionRouter, card_body, message_body
from bot.edge.deep_links import message_link
from bot.edge.people import People
from bot.edge.personal_chats import PersonalChats
from bot.edge.proactive import DeliveryError
from bot.edge.teams_context import aad_object_id, tenant_id
from bot.safeguarding.case_cards import CaseCards
from bot.safeguarding.delivery import DIRECT, DeliveryWorker, case_card_key, direct_text, enqueue_redraw
from cards.case_card import notice_block
from cards.escape import escape_markdown
from cards.referral_card import DIRECTOR_MESSAGE, referral_confirmed_card, referral_waiting_card
from cards.verbs import Verb
from content.texts import Texts
from dialogs.roles import Role, RoleDirectory
from storage import cases, outbox
from storage.db import Database
from storage.models import Case
from storage.types import utcnow

log = logging.getLogger(__name__)

DECISIONS = ("channel", "social_care", "police", "internal_support", "signposted", "no_further_action")
NEEDS_DIRECTOR = frozenset({"channel"})
_MAX_TEXT = 4000
_ROLES_KEY = "safespace.case_actions.roles"
REFUSALS_RECORDED = 10  # refusals recorded per person and case within REFUSALS_WINDOW
REFUSALS_WINDOW = dt.timedelta(hours=1)
# What a closed case's card offers: reopening it, and holding it back from retention (or releasing the hold).
_CLOSED_CASE_VERBS = frozenset({Verb.CASE_REOPEN, Verb.CASE_LEGAL_HOLD, Verb.CASE_LEGAL_HOLD_RELEASE})


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value.strip()[:_MAX_TEXT] if isinstance(value, str) else ""


_MAX_ID = 2**31 - 1  # ids and versions are 32-bit in the store; anything larger is forged


def _int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        number = int(value)
    except ValueError:
        return None
    return number if -_MAX_ID <= number <= _MAX_ID else None


class CaseActions:
    def __init__(
        self,
        *,
        database: Database,
        roles: RoleDirectory,
        texts: Texts,
        cards: CaseCards,
        delivery: DeliveryWorker,
        people: People,
        chats: PersonalChats,
    ) -> None:
        self._db = database
        self._roles = roles
        self._texts = texts
        self._cards = cards
        self._delivery = delivery
        self._people = people
        self._chats = chats

    def register(self, router: CardActionRouter) -> None:
        router.register(Verb.CASE_ACKNOWLEDGE, self.acknowledge)
        router.register(Verb.CASE_ASSIGN, self.assign)
        router.register(Verb.CASE_NOTE, self.note)
        router.register(Verb.CASE_REVEAL, self.reveal)
        router.register(Verb.CASE_DECIDE, self.decide)
        router.register(Verb.CASE_CONFIRM_DECISION, self.confirm_decision)
        router.register(Verb.CASE_CLOSE, self.close)
        router.register(Verb.CASE_REOPEN, self.reopen)
        router.register(Verb.CASE_REFRESH, self.refresh)
        router.register(Verb.CASE_LEGAL_HOLD, self.legal_hold)
        router.register(Verb.CASE_LEGAL_HOLD_RELEASE, self.release_legal_hold)

    def _t(self, key: str, **values: object) -> str:
        return self._texts.get(f"cases.{key}", **values)

    # Shared steps --------------------------------------------------------------------------------------

    async def _authorised(self, context: TurnContext, action: CardAction, role: Role) -> tuple[bool, Case | None]:
        """Load the case and check the role; a refusal is itself recorded in the case's chronology."""
        case_id = _int(action.data, "case_id")
        async with self._db.read_sessions() as session:
            case = await cases.get_case(session=session, case_id=case_id) if case_id is not None else None
        roles = await self._roles.roles_of(aad_object_id(context.activity))
        context.turn_state[_ROLES_KEY] = roles
        if case is None:
            return False, None
        if role in roles:
            return True, case
        person = context.activity.from_property
        presser = aad_object_id(context.activity)
        async with self._db.sessions.begin() as session:
            recent = await cases.count_events(
                session=session,
                case_id=case.id or 0,
                kind="refused",
                actor_aad_id=presser,
                since=utcnow() - REFUSALS_WINDOW,
            )
            # Every refusal is recorded up to a limit per person and case; past it, forged presses would only
            # flood the chronology, so they are refused without another entry (and still logged).
            if recent < REFUSALS_RECORDED:
                await cases.record_event(
                    session=session,
                    case_id=case.id or 0,
                    kind="refused",
                    actor_aad_id=presser,
                    actor_name=person.name if person else None,
                    detail={"verb": action.verb, "roles": sorted(roles)},
                    action_id=self._action_id(context),
                )
        log.warning("refused %s on case %s for a user without the %s role", action.verb, case.reference, role)
        return False, case

    @staticmethod
    def _action_id(context: TurnContext) -> str | None:
        activity_id = context.activity.id
        return f"invoke:{activity_id}"[:128] if activity_id else None

    async def _change(
        self,
        context: TurnContext,
        case: Case,
        changes: dict[str, Any],
        kind: str,
        detail: dict[str, Any] | None = None,
        *,
        extra: list[tuple[str, str, dict[str, Any], dict[str, Any]]] | None = None,
    ) -> Case | None:
        """Compare-and-swap the case, then queue the redraw (and any 1:1 messages) in the same transaction."""
        assert case.id is not None
        person = context.activity.from_property
        async with self._db.sessions.begin() as session:
            changed = await cases.change_case(
                session=session,
                case_id=case.id,
                expected_version=case.version,
                changes=changes,
                event_kind=kind,
                actor_aad_id=aad_object_id(context.activity),
                actor_name=person.name if person else None,
                detail=detail,
                action_id=self._action_id(context),
            )
            if changed is not None:
                await enqueue_redraw(session, case.id, changed.version)
                for key, out_kind, target, payload in extra or []:
                    await outbox.enqueue(
                        session=session, dedupe_key=key, kind=out_kind, target=target, payload=payload, case_id=case.id
                    )
        if changed is not None:
            self._delivery.wake()
        return changed

    async def _current_card(self, case_id: int, notice: str | None = None) -> dict[str, Any]:
        async with self._db.read_sessions() as session:
            case = await cases.get_case(session=session, case_id=case_id)
            events = await cases.chronology(session=session, case_id=case_id)
        assert case is not None
        card = self._cards.card(case, events)
        if notice:
            card = {**card, "body": [notice_block(notice), *card["body"]]}
        return card_body(card)

    async def _blocked(self, case: Case, action: CardAction) -> dict[str, Any] | None:
        """Refuse a press made on a card older than the case, or on a closed case; answer with the case as it is.

        The version is the one the pressed card was drawn from. Without this check an old card could overwrite
        a newer decision (two DSOs, or a card left open in another window), or a made-up version could act.
        """
        assert case.id is not None
        if case.status == "closed" and action.verb not in _CLOSED_CASE_VERBS:
            return await self._current_card(case.id, self._t("closed_first_reopen"))
        if _int(action.data, "version") != case.version:
            log.info("stale press of %s on case %s refused", action.verb, case.reference)
            return await self._current_card(case.id, self._t("stale_card"))
        return None

    async def _after(self, changed: Case | None, case: Case, context: TurnContext) -> dict[str, Any]:
        """The presser's view: the new card, or (when the change lost a race or was a retry) the latest one."""
        assert case.id is not None
        if changed is None:
            async with self._db.read_sessions() as session:
                replayed = await cases.action_recorded(session=session, action_id=self._action_id(context) or "")
            if not replayed:
                return message_body(self._t("changed_meanwhile"))
        return await self._current_card(case.id)

    def _refusal(self, context: TurnContext, case: Case | None, text_key: str = "not_allowed") -> dict[str, Any]:
        # Someone outside the safeguarding team gets the same answer whether or not the case exists, so forged
        # presses cannot find out which case ids do.
        if case is None and Role.DSO in context.turn_state.get(_ROLES_KEY, frozenset()):
            return message_body(self._t("not_found"))
        return message_body(self._t(text_key))

    @staticmethod
    def _reach(context: TurnContext, aad: str) -> dict[str, Any]:
        """A DIRECT target, with where to open a 1:1 chat should this person not have one yet."""
        activity = context.activity
        return {"aad_object_id": aad, "service_url": activity.service_url, "tenant_id": tenant_id(activity)}

    async def _card_link(self, case: Case) -> str | None:
        """A Teams link to the case's card, when it was posted to a channel or group chat."""
        async with self._db.read_sessions() as session:
            posted = await outbox.result_of(session=session, dedupe_key=case_card_key(case.id or 0))
        where = json.loads(posted.result_id) if posted is not None and posted.result_id else {}
        if not isinstance(where, dict) or "conversation_id" not in where:
            return None  # not posted yet, or sent to the DSOs 1:1
        return message_link(where["conversation_id"], where.get("activity_id", ""), tenant_id=where.get("tenant_id"))

    async def _directors_told(
        self, context: TurnContext, case: Case
    ) -> tuple[list[str], list[tuple[str, str, dict[str, Any], dict[str, Any]]]]:
        """Every director but the proposer, and a 1:1 message for each: a Channel referral waits for them."""
        assert case.id is not None
        presser = aad_object_id(context.activity) or ""
        directors = sorted(d for d in await self._roles.members(Role.DIRECTOR) if d.lower() != presser.lower())
        person = context.activity.from_property
        card = referral_waiting_card(
            self._texts,
            case_id=case.id,
            version=case.version + 1,  # the proposal is the next change: change_case bumps by one
            reference=case.reference,
            category=case.category,
            proposed_by=(person.name if person else None) or "A DSO",
            link=await self._card_link(case),
        )
        payload = {"activity": MessageFactory.attachment(CardFactory.adaptive_card(card)).serialize()}
        messages = [
            (f"referral:{case.id}:{case.version + 1}:{aad}", DIRECT, self._reach(context, aad), payload)
            for aad in directors
        ]
        return directors, messages

    def _reveal_contact(self, case: Case) -> str:
        """How the hidden reporter asked to be contacted: kept with their name, so it comes with the name."""
        if case.source != "learner":
            return ""
        if not case.contact_ok:
            return " " + self._t("reveal_contact_no")
        said = (case.contact_how or "").strip()
        how = escape_markdown(said) if said else None
        # The learner's own words, in a message Teams renders as markdown: escaped, so they cannot become a link.
        return " " + self._t("reveal_contact", how=how or self._texts.get("report.contact_teams"))

    def _reporter_note(
        self, case: Case, key: str, text_key: str
    ) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
        if not case.reporter_aad_id:
            return []
        text = self._t(text_key, reference=case.reference)
        return [(key, DIRECT, {"aad_object_id": case.reporter_aad_id}, direct_text(text))]

    # Verbs -----------------------------------------------------------------------------------------------

    async def acknowledge(self, context: TurnContext, action: CardAction) -> dict[str, Any]:
        allowed, case = await self._authorised(context, action, Role.DSO)
        if not allowed or case is None:
            return self._refusal(context, case)
        if case.status not in ("new", "closed"):
            return message_body(self._t("already_owned", owner=case.owner_name or "Someone"))
        if (blocked := await self._blocked(case, action)) is not None:
            return blocked
        person = context.activity.from_property
        changed = await self._change(
            context,
            case,
            {
                "status": "acknowledged",
                "owner_aad_id": aad_object_id(context.activity),
                "owner_name": person.name if person else None,
                "acknowledged_at": utcnow(),
            },
            "acknowledged",
            extra=self._reporter_note(case, f"reporter-ack:{case.id}", "reporter_acknowledged"),
        )
        if changed is None:
            async with self._db.read_sessions() as session:
                latest = await cases.get_case(session=session, case_id=case.id or 0)
            if latest is not None and latest.status != "new" and latest.owner_aad_id != aad_object_id(context.activity):
                return message_body(self._t("already_owned", owner=latest.owner_name or "Someone"))
        return await self._after(changed, case, context)

    async def assign(self, context: TurnContext, action: CardAction) -> dict[str, Any]:
        allowed, case = await self._authorised(context, action, Role.DSO)
        if not allowed or case is None:
            return self._refusal(context, case)
        if (blocked := await self._blocked(case, action)) is not None:
            return blocked
        to = _text(action.data, "assign_to").lower()
        if Role.DSO not in await self._roles.roles_of(to):
            return message_body(self._t("need_dso"))
        name = self._people.name_of(to) or to
        changes: dict[str, Any] = {"owner_aad_id": to, "owner_name": name}
        if case.status == "new":
            changes.update(status="acknowledged", acknowledged_at=utcnow())
        person = context.activity.from_property
        by = person.name if person else "a colleague"
        note = direct_text(self._t("assigned_to_you", reference=case.reference, by=by))
        extra = [(f"assigned:{case.id}:{case.version}", DIRECT, {"aad_object_id": to}, note)]
        if case.status == "new":
            extra += self._reporter_note(case, f"reporter-ack:{case.id}", "reporter_acknowledged")
        changed = await self._change(context, case, changes, "assigned", {"to": to, "to_name": name}, extra=extra)
        return await self._after(changed, case, context)

    async def note(self, context: TurnContext, action: CardAction) -> dict[str, Any]:
        allowed, case = await self._authorised(context, action, Role.DSO)
        if not allowed or case is None:
            return self._refusal(context, case)
        if (blocked := await self._blocked(case, action)) is not None:
            return blocked
        text = _text(action.data, "note_text")
        if not text:
            return message_body(self._t("need_text"))
        changed = await self._change(context, case, {}, "note", {"text": text})
        return await self._after(changed, case, context)

    async def reveal(self, context: TurnContext, action: CardAction) -> dict[str, Any]:
        allowed, case = await self._authorised(context, action, Role.DSO)
        if not allowed or case is None:
            return self._refusal(context, case)
        if (blocked := await self._blocked(case, action)) is not None:
            return blocked
        if not case.reporter_hidden:
            return message_body(self._t("not_hidden"))
        reason = _text(action.data, "reveal_reason")
        if not reason:
            return message_body(self._t("need_text"))
        presser = aad_object_id(context.activity) or ""
        person = context.activity.from_property
        try:
            # Open the DSO's 1:1 chat now if they have none, so the answer below is true, or say it is not.
            _, opened = await self._chats.open(
                presser,
                service_url=context.activity.service_url,
                tenant_id=tenant_id(context.activity),
                user_id=person.id if person else None,
            )
        except DeliveryError as exc:
            log.warning("no 1:1 chat for a reveal on case %s (%s)", case.reference, exc.status or "no answer")
            return message_body(self._t("reveal_no_chat"))
        secret = direct_text(
            self._t(
                "reveal_message",
                reference=case.reference,
                name=case.reporter_name or case.reporter_aad_id or "unknown",
                reason=reason,
            )
            + self._reveal_contact(case)
        )
        # Only to the DSO who asked, in their own 1:1 chat; the card shows that it happened, never the name.
        changed = await self._change(
            context,
            case,
            {},
            "reporter_revealed",
            {"reason": reason, "sent_to": "1:1 chat"},
            extra=[(f"reveal:{case.id}:{presser}:{case.version}", DIRECT, self._reach(context, presser), secret)],
        )
        if changed is None:
            return await self._after(changed, case, context)
        return message_body(self._t("reveal_sent_new_chat" if opened else "reveal_sent"))

    async def decide(self, context: TurnContext, action: CardAction) -> dict[str, Any]:
        allowed, case = await self._authorised(context, action, Role.DSO)
        if not allowed or case is None:
            return self._refusal(context, case)
        if (blocked := await self._blocked(case, action)) is not None:
            return blocked
        decision = _text(action.data, "decision")
        reason = _text(action.data, "decision_reason")
        if decision not in DECISIONS or not reason:
            return message_body(self._t("need_text"))
        person = context.activity.from_property
        changes: dict[str, Any] = {
            "decision": decision,
            "decision_reason": reason,
            "decided_by": person.name if person else None,
            "decision_confirmed_by": None,
        }
        detail: dict[str, Any] = {"decision": decision, "reason": reason}
        extra: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = []
        if decision in NEEDS_DIRECTOR:
            # Policy 4.5: the DSO decides on a Channel referral together with a Director, who is told now.
            changes.update(status="awaiting_director", decided_at=None)
            kind = "decision_proposed"
            detail["directors_told"], extra = await self._directors_told(context, case)
        else:
            changes.update(status="decided", decided_at=utcnow())
            kind = "decision"
        if case.owner_aad_id is None:
            changes.update(owner_aad_id=aad_object_id(context.activity), owner_name=person.name if person else None)
            changes.setdefault("acknowledged_at", case.acknowledged_at or utcnow())
        changed = await self._change(context, case, changes, kind, detail, extra=extra)
        return await self._after(changed, case, context)

    async def confirm_decision(self, context: TurnContext, action: CardAction) -> dict[str, Any]:
        allowed, case = await self._authorised(context, action, Role.DIRECTOR)
        if not allowed or case is None:
            return self._refusal(context, case, "not_director")
        if (blocked := await self._blocked(case, action)) is not None:
            return blocked
        if case.status != "awaiting_director":
            return message_body(self._t("not_awaiting"))
        if await self._proposed_by(case) == aad_object_id(context.activity):
            # Policy 4.5: a Channel referral is decided by two people. Holding both roles is not enough.
            return message_body(self._t("second_person_needed"))
        person = context.activity.from_property
        changed = await self._change(
            context,
            case,
            {"status": "decided", "decision_confirmed_by": person.name if person else None, "decided_at": utcnow()},
            "decision_confirmed",
            {"decision": case.decision},
        )
        if changed is not None and action.data.get("via") == DIRECTOR_MESSAGE:
            # Pressed on the director's own 1:1 message: that message says it is done, rather than becoming a
            # copy of the case card that nothing keeps up to date.
            return card_body(referral_confirmed_card(self._texts, reference=case.reference))
        return await self._after(changed, case, context)

    async def close(self, context: TurnContext, action: CardAction) -> dict[str, Any]:
        allowed, case = await self._authorised(context, action, Role.DSO)
        if not allowed or case is None:
            return self._refusal(context, case)
        if (blocked := await self._blocked(case, action)) is not None:
            return blocked
        note = _text(action.data, "close_note")
        if not note:
            return message_body(self._t("need_text"))
        changed = await self._change(
            context,
            case,
            {"status": "closed", "closed_at": utcnow(), "outcome_note": note},
            "closed",
            {"note": note},
            extra=self._reporter_note(case, f"reporter-closed:{case.id}", "reporter_closed"),
        )
        return await self._after(changed, case, context)

    async def _proposed_by(self, case: Case) -> str | None:
        async with self._db.read_sessions() as session:
            events = await cases.chronology(session=session, case_id=case.id or 0)
        proposals = [e for e in events if e.kind == "decision_proposed"]
        return proposals[-1].actor_aad_id if proposals else None

    async def reopen(self, context: TurnContext, action: CardAction) -> dict[str, Any]:
        allowed, case = await self._authorised(context, action, Role.DSO)
        if not allowed or case is None:
            return self._refusal(context, case)
        if case.status != "closed":
            return await self._current_card(case.id or 0)
        if (blocked := await self._blocked(case, action)) is not None:
            return blocked
        reason = _text(action.data, "reopen_reason")
        if not reason:
            return message_body(self._t("need_text"))
        changes: dict[str, Any] = {"status": "acknowledged" if case.owner_aad_id else "new", "closed_at": None}
        changed = await self._change(context, case, changes, "reopened", {"reason": reason})
        return await self._after(changed, case, context)

    async def refresh(self, context: TurnContext, action: CardAction) -> dict[str, Any]:
        allowed, case = await self._authorised(context, action, Role.DSO)
        if not allowed or case is None:
            return self._refusal(context, case)
        return await self._current_card(case.id or 0)

    # Records (issue 11): a legal hold keeps a case from the retention schedule until a DSO releases it.

    async def legal_hold(self, context: TurnContext, action: CardAction) -> dict[str, Any]:
        return await self._set_hold(context, action, hold=True)

    async def release_legal_hold(self, context: TurnContext, action: CardAction) -> dict[str, Any]:
        return await self._set_hold(context, action, hold=False)

    async def _set_hold(self, context: TurnContext, action: CardAction, *, hold: bool) -> dict[str, Any]:
        allowed, case = await self._authorised(context, action, Role.DSO)
        if not allowed or case is None:
            return self._refusal(context, case)
        if (blocked := await self._blocked(case, action)) is not None:
            return blocked
        if case.legal_hold == hold:
            return message_body(self._texts.get("records.hold.already_held" if hold else "records.hold.not_held"))
        reason = _text(action.data, "hold_reason")
        if not reason:
            return message_body(self._t("need_text"))
        kind = "legal_hold" if hold else "legal_hold_released"
        changed = await self._change(context, case, {"legal_hold": hold}, kind, {"reason": reason})
        return await self._after(changed, case, context)
