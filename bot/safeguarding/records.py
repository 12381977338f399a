"""The safeguarding team's records in Teams: the queue of open cases, a case's history, the conversation behind a
case, and the directors' report.

Who and where: only DSOs (and the deputy) and directors, and only in the registered safeguarding channel or a 1:1
chat with Safe Space, never a group chat or any other channel. Anyone else is told kindly that they can't, and the
attempt is recorded: in the log always (never with what they typed), and in the case's chronology when it named a
case. Opening a case's history and reading the conversation behind it are chronology events too: who looked, when.

The conversation behind a case goes only to the DSO who pressed "Show conversation", in their own 1:1 chat, through
the outbox (as a revealed reporter's name does): never into the shared channel, and never as an invoke response
that replaces the card everyone sees.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any, Final

from botbuilder.core import CardFactory, MessageFactory, TurnContext

from bot.edge.card_actions import CardAction, CardActionRouter, card_body, message_body
from bot.edge.personal_chats import PersonalChats
from bot.edge.proactive import DeliveryError
from bot.edge.teams_context import aad_object_id, is_personal, tenant_id
from bot.safeguarding.channel import SafeguardingChannels
from bot.safeguarding.delivery import DIRECT, DeliveryWorker, direct_text
from cards.case_card import uk_time
from cards.case_history_card import HistoryOptions, history_card
from cards.case_queue_card import queue_card
from cards.elements import Card
from cards.escape import escape_markdown
from cards.report_card import report_card
from cards.verbs import Verb
from content.texts import Texts
from dialogs.report_period import UK, PeriodError, ReportPeriod, Term, parse_period
from dialogs.roles import Role, RoleDirectory
from storage import case_report, case_views, cases, outbox
from storage.db import Database
from storage.models import Case
from storage.types import utcnow

log = logging.getLogger(__name__)

TEAM: Final = frozenset({Role.DSO, Role.DIRECTOR})
QUEUE_PAGE: Final = 10
HISTORY_PAGE: Final = 12
CONVERSATION_MAX: Final = 2000  # entries sent; a longer log says how many more the store holds
CONVERSATION_PART_CHARS: Final = 15_000  # one 1:1 message each, well under Teams' ~28 KB
REFUSALS_RECORDED: Final = 10  # per person and case per hour, as for the case card's buttons
_REFERENCE = re.compile(r"\b(ss-\d{4}-\d{4,})\b", re.IGNORECASE)

REQUIRED_TEXTS: Final = (
    "records.not_allowed",
    "records.not_allowed_conversation",
    "records.wrong_place",
    "records.not_found",
    "records.no_reference",
    "records.queue.title",
    "records.history.title",
    "records.conversation.sent",
    "records.conversation.sent_new_chat",
    "records.conversation.no_chat",
    "records.conversation.none",
    "records.conversation.header",
    "records.conversation.line",
    "records.report.title",
    "records.report.bad_period",
)


def reference_in(text: str | None) -> str | None:
    match = _REFERENCE.search(text or "")
    return match.group(1).upper() if match else None


class CaseRecords:
    def __init__(
        self,
        *,
        database: Database,
        roles: RoleDirectory,
        texts: Texts,
        channels: SafeguardingChannels,
        chats: PersonalChats,
        delivery: DeliveryWorker,
        ack_minutes: int,
        urgent_ack_minutes: int,
        terms: tuple[Term, ...],
    ) -> None:
        texts.require(*REQUIRED_TEXTS)
        self._db = database
        self._roles = roles
        self._texts = texts
        self._channels = channels
        self._chats = chats
        self._delivery = delivery
        self._ack = ack_minutes
        self._urgent_ack = urgent_ack_minutes
        self._terms = terms

    def register(self, router: CardActionRouter) -> None:
        router.register(Verb.RECORDS_QUEUE, self.queue_action)
        router.register(Verb.RECORDS_CASE, self.case_action)
        router.register(Verb.RECORDS_CONVERSATION, self.conversation_action)

    def _t(self, key: str, **values: object) -> str:
        return self._texts.get(f"records.{key}", **values)

    # Who and where --------------------------------------------------------------------------------------

    async def _refuse(self, context: TurnContext, what: str, case: Case | None = None) -> None:
        """Record a refusal: the log always (what was asked, never the text), the case's chronology if any."""
        roles = await self._roles.roles_of(aad_object_id(context.activity))
        log.warning("refused %s for a user without a safeguarding role (%s)", what, ",".join(sorted(roles)))
        if case is None or case.id is None:
            return
        presser = aad_object_id(context.activity)
        person = context.activity.from_property
        async with self._db.sessions.begin() as session:
            recent = await cases.count_events(
                session=session,
                case_id=case.id,
                kind="refused",
                actor_aad_id=presser,
                since=utcnow() - dt.timedelta(hours=1),
            )
            if recent < REFUSALS_RECORDED:
                await cases.record_event(
                    session=session,
                    case_id=case.id,
                    kind="refused",
                    actor_aad_id=presser,
                    actor_name=person.name if person else None,
                    detail={"asked": what, "roles": sorted(roles)},
                    action_id=self._action_id(context, "refused"),
                )

    async def _allowed(self, context: TurnContext, what: str, *, need: frozenset[Role] = TEAM) -> bool:
        """The presser holds one of `need`, and this is a 1:1 chat or the safeguarding channel; else say why not."""
        roles = await self._roles.roles_of(aad_object_id(context.activity))
        if not roles & need:
            await self._refuse(context, what)
            await context.send_activity(self._t("not_allowed"))
            return False
        if not await self._right_place(context):
            log.info("%s asked for outside the safeguarding channel and 1:1 chats: refused", what)
            await context.send_activity(self._t("wrong_place"))
            return False
        return True

    async def _right_place(self, context: TurnContext) -> bool:
        return is_personal(context.activity) or await self._channels.is_registered_here(context)

    async def _action_allowed(
        self, context: TurnContext, action: CardAction, *, need: frozenset[Role] = TEAM, case: Case | None = None
    ) -> dict[str, Any] | None:
        """For a button: None when the press may go ahead, else the answer to give (the refusal is recorded)."""
        roles = await self._roles.roles_of(aad_object_id(context.activity))
        if not roles & need:
            await self._refuse(context, action.verb, case)
            key = "not_allowed_conversation" if need == frozenset({Role.DSO}) and roles & TEAM else "not_allowed"
            return message_body(self._t(key))
        if not await self._right_place(context):
            log.info("%s pressed outside the safeguarding channel and 1:1 chats: refused", action.verb)
            return message_body(self._t("wrong_place"))
        return None

    @staticmethod
    def _action_id(context: TurnContext, kind: str) -> str | None:
        activity_id = context.activity.id
        return f"{kind}:{activity_id}"[:128] if activity_id else None

    # The queue ------------------------------------------------------------------------------------------

    async def _queue(self, context: TurnContext, *, mine: bool, page: int) -> Card:
        now = utcnow()
        async with self._db.read_sessions() as session:
            found = await case_views.open_queue(
                session=session,
                now=now,
                ack_minutes=self._ack,
                urgent_ack_minutes=self._urgent_ack,
                page=page,
                page_size=QUEUE_PAGE,
                owner_aad_id=aad_object_id(context.activity),
                mine=mine,
            )
        return queue_card(found, self._texts, now=now, mine=mine)

    async def open_cases(self, context: TurnContext, _rest: str = "") -> bool:
        if await self._allowed(context, "open cases"):
            await _send_card(context, await self._queue(context, mine=False, page=0))
        return True

    async def my_cases(self, context: TurnContext, _rest: str = "") -> bool:
        if await self._allowed(context, "my cases"):
            await _send_card(context, await self._queue(context, mine=True, page=0))
        return True

    async def queue_action(self, context: TurnContext, action: CardAction) -> dict[str, Any]:
        if (refused := await self._action_allowed(context, action)) is not None:
            return refused
        page = _small_int(action.data.get("page"))
        return card_body(await self._queue(context, mine=action.data.get("mine") is True, page=page))

    # A case's history -----------------------------------------------------------------------------------

    async def _history(self, case_id: int, page: int) -> Card | None:
        async with self._db.read_sessions() as session:
            found = await case_views.history(session=session, case_id=case_id, page=page, page_size=HISTORY_PAGE)
        if found is None:
            return None
        options = HistoryOptions(show_conversation=bool(found.case.reporter_conversation_id))
        return history_card(found, self._texts, options)

    async def _record_view(self, context: TurnContext, case: Case, via: str) -> None:
        assert case.id is not None
        person = context.activity.from_property
        async with self._db.sessions.begin() as session:
            await cases.record_event(
                session=session,
                case_id=case.id,
                kind="viewed",
                actor_aad_id=aad_object_id(context.activity),
                actor_name=person.name if person else None,
                detail={"via": via},
                action_id=self._action_id(context, "viewed"),
            )

    async def case_history(self, context: TurnContext, rest: str = "") -> bool:
        """`case SS-2026-0042`: the case's history card, its first page."""
        reference = reference_in(rest)
        async with self._db.read_sessions() as session:
            case = await cases.get_by_reference(session=session, reference=reference) if reference else None
        roles = await self._roles.roles_of(aad_object_id(context.activity))
        if not roles & TEAM:
            await self._refuse(context, "case history", case)
            await context.send_activity(self._t("not_allowed"))
            return True
        if not await self._allowed(context, "case history"):
            return True
        if reference is None:
            await context.send_activity(self._t("no_reference"))
            return True
        if case is None or case.id is None:
            await context.send_activity(self._t("not_found", reference=escape_markdown(reference)))
            return True
        await self._record_view(context, case, "command")
        card = await self._history(case.id, 0)
        assert card is not None
        await _send_card(context, card)
        return True

    async def case_command(self, context: TurnContext, rest: str) -> bool:
        """The group-chat form of `case REF`: anything else starting with "case" is not for us."""
        if reference_in(rest) is None and not await self._channels.is_registered_here(context):
            return False
        return await self.case_history(context, rest)

    async def case_action(self, context: TurnContext, action: CardAction) -> dict[str, Any]:
        case_id = _small_int(action.data.get("case_id"), default=-1)
        async with self._db.read_sessions() as session:
            case = await cases.get_case(session=session, case_id=case_id) if case_id >= 0 else None
        if (refused := await self._action_allowed(context, action, case=case)) is not None:
            return refused
        if case is None or case.id is None:
            return message_body(self._t("not_found", reference="?"))
        page = _small_int(action.data.get("page"))
        if page == 0:
            await self._record_view(context, case, "button")  # opening it; later pages are the same look
        card = await self._history(case.id, page)
        assert card is not None
        return card_body(card)

    # The conversation behind a case ---------------------------------------------------------------------

    async def conversation_action(self, context: TurnContext, action: CardAction) -> dict[str, Any]:
        case_id = _small_int(action.data.get("case_id"), default=-1)
        async with self._db.read_sessions() as session:
            case = await cases.get_case(session=session, case_id=case_id) if case_id >= 0 else None
        refused = await self._action_allowed(context, action, need=frozenset({Role.DSO}), case=case)
        if refused is not None:
            return refused
        if case is None or case.id is None:
            return message_body(self._t("not_found", reference="?"))
        if not case.reporter_conversation_id:
            return message_body(self._t("conversation.none", reference=case.reference))
        presser = aad_object_id(context.activity) or ""
        person = context.activity.from_property
        try:
            _, opened = await self._chats.open(
                presser,
                service_url=context.activity.service_url,
                tenant_id=tenant_id(context.activity),
                user_id=person.id if person else None,
            )
        except DeliveryError as exc:
            log.warning("no 1:1 chat to send case %s's conversation to (%s)", case.reference, exc.status or "no answer")
            return message_body(self._t("conversation.no_chat"))
        async with self._db.read_sessions() as session:
            entries, total = await case_views.conversation_of(
                session=session, conversation_id=case.reporter_conversation_id, limit=CONVERSATION_MAX
            )
        parts = self._conversation_parts(case, entries, total)
        target = {
            "aad_object_id": presser,
            "service_url": context.activity.service_url,
            "tenant_id": tenant_id(context.activity),
        }
        stamp = self._action_id(context, "conversation") or f"conversation:{utcnow().timestamp()}"
        async with self._db.sessions.begin() as session:
            recorded = await cases.record_event(
                session=session,
                case_id=case.id,
                kind="conversation_shown",
                actor_aad_id=presser,
                actor_name=person.name if person else None,
                detail={"entries": len(entries), "total": total, "sent_to": "1:1 chat"},
                action_id=stamp,
            )
            if recorded:  # a retried invoke sends nothing twice
                for number, text in enumerate(parts, start=1):
                    await outbox.enqueue(
                        session=session,
                        dedupe_key=f"{stamp}:{number}"[:128],
                        kind=DIRECT,
                        target=target,
                        payload=direct_text(text),
                        case_id=case.id,
                    )
        self._delivery.wake()
        return message_body(
            self._t("conversation.sent_new_chat" if opened else "conversation.sent", reference=case.reference)
        )

    def _conversation_parts(self, case: Case, entries: list[Any], total: int) -> list[str]:
        """The log as 1:1 messages, oldest first. Nobody is named: the reporter is "Reporter" (their name is
        revealed only through Reveal, with a recorded reason)."""
        lines = []
        for entry in entries:
            if entry.text:
                text = escape_markdown(entry.text)
            elif entry.activity_type == "message" or entry.payload:
                text = self._t("conversation.card")
            else:
                continue  # typing indicators, installs and the like say nothing
            who = self._t("conversation.bot") if entry.direction == "out" else self._t("conversation.person")
            lines.append(self._t("conversation.line", when=uk_time(entry.created_at, self._texts), who=who, text=text))
        chunks: list[list[str]] = [[]]
        size = 0
        for line in lines:
            if chunks[-1] and size + len(line) > CONVERSATION_PART_CHARS:
                chunks.append([])
                size = 0
            chunks[-1].append(line[:CONVERSATION_PART_CHARS])
            size += len(line) + 2
        parts = []
        for number, chunk in enumerate(chunks, start=1):
            header = self._t(
                "conversation.header", reference=case.reference, part=number, parts=len(chunks), count=len(lines)
            )
            parts.append("\n\n".join([header, *chunk]))
        if total > len(entries):
            parts[-1] += "\n\n" + self._t("conversation.more_than_shown", total=total, shown=len(entries))
        return parts

    # The directors' report ------------------------------------------------------------------------------

    async def report_card(
        self, period: ReportPeriod, *, intro: str | None = None, now: dt.datetime | None = None
    ) -> Card:
        now = now or utcnow()
        start, end = period.bounds()
        async with self._db.read_sessions() as session:
            figures = await case_report.report_figures(
                session=session,
                start=start,
                end=end,
                now=now,
                ack_minutes=self._ack,
                urgent_ack_minutes=self._urgent_ack,
            )
        return report_card(figures, self._texts, period=period.label, generated=now, intro=intro)

    async def report(self, context: TurnContext, rest: str | None = "") -> bool:
        """`report`, `report term`, `report 2026-09..2026-11`: the summary card, here."""
        if not await self._allowed(context, "report"):
            return True
        today = utcnow().astimezone(UK).date()
        try:
            period = parse_period(rest, today=today, terms=self._terms)
        except PeriodError:
            await context.send_activity(self._t("report.bad_period"))
            return True
        await _send_card(context, await self.report_card(period))
        return True

    async def report_command(self, context: TurnContext, rest: str) -> bool:
        """In a group chat or channel "report" means the directors' report only in the safeguarding channel;
        anywhere else it is the learner's "report a worry", which belongs in a 1:1 chat."""
        if not await self._channels.is_registered_here(context):
            return False
        return await self.report(context, rest)

    # As 1:1 flows (dialogs.flow.Flow.start_override and on_refused) -----------------------------------

    async def open_cases_flow(self, context: TurnContext, _roles: frozenset[Role], _argument: str | None) -> bool:
        return await self.open_cases(context)

    async def my_cases_flow(self, context: TurnContext, _roles: frozenset[Role], _argument: str | None) -> bool:
        return await self.my_cases(context)

    async def case_flow(self, context: TurnContext, _roles: frozenset[Role], argument: str | None) -> bool:
        return await self.case_history(context, argument or "")

    async def report_flow(self, context: TurnContext, _roles: frozenset[Role], argument: str | None) -> bool:
        return await self.report(context, argument or "")

    async def refused(self, context: TurnContext, _roles: frozenset[Role], argument: str | None) -> None:
        """Someone outside the team typed one of these commands in their 1:1 chat."""
        reference = reference_in(argument)
        case = None
        if reference:
            async with self._db.read_sessions() as session:
                case = await cases.get_by_reference(session=session, reference=reference)
        await self._refuse(context, "case records", case)
        await context.send_activity(self._t("not_allowed"))


def _small_int(value: object, *, default: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return default
    try:
        number = int(value)
    except ValueError:
        return default
    return number if 0 <= number < 2**31 else default


async def _send_card(context: TurnContext, card: Card) -> None:
    await context.send_activity(MessageFactory.attachment(CardFactory.adaptive_card(card)))
