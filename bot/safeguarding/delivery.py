"""The delivery worker: posts what is waiting in the outbox to Teams, retrying until it arrives.

Everything that must reach a person (a new case card, a reminder, a note to a reporter) is written to the
outbox in the same transaction as the change that caused it, and only then sent. A connector failure, a 429,
a crash or a restart leaves the message in the outbox; this worker (on any instance) picks it up again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from botbuilder.core import MessageFactory
from botbuilder.schema import Activity
from sqlalchemy.ext.asyncio import AsyncSession

from bot.edge.background import Periodic
from bot.edge.personal_chats import PersonalChats
from bot.edge.proactive import DeliveryError, Messenger, activity_from_payload, reference_for
from bot.safeguarding.case_cards import CaseCards
from bot.safeguarding.notifier import Alert, Notifier
from dialogs.roles import Role, RoleDirectory
from storage import cases, channels, outbox
from storage.db import Database
from storage.models import Case, OutboxMessage, SafeguardingChannel
from storage.types import utcnow

log = logging.getLogger(__name__)

CASE_CARD = "case_card"  # a new case: a thread in the safeguarding channel, or 1:1 to every DSO without one
CARD_UPDATE = "card_update"  # redraw a case card where it was posted
DIRECT = "direct"  # a 1:1 message to one person, by Entra object id
THREAD_REPLY = "thread_reply"  # a message into a known conversation (a case thread, a group chat)
COPY_UPDATE = "card_copy_update"  # redraw one DSO's 1:1 copy of a case card
# What this worker delivers; claim_due leaves every other kind (alert e-mails) to its own worker.
KINDS: Final = frozenset({CASE_CARD, CARD_UPDATE, DIRECT, THREAD_REPLY, COPY_UPDATE})
# The dedupe keys of a case card's 1:1 copies (no channel; or moved out of one no longer safe), before the case id.
COPY_PREFIXES: Final = ("case-card-dm", "case-card-moved")


def is_card_copy(message: OutboxMessage) -> bool:
    return message.case_id is not None and message.dedupe_key.startswith(
        tuple(f"{prefix}:{message.case_id}:" for prefix in COPY_PREFIXES)
    )


class NotDeliverableYet(Exception):
    """Nothing to deliver to yet (say, a DSO who has never opened a chat with the bot): try again later."""


def case_card_key(case_id: int) -> str:
    return f"case-card:{case_id}"


async def enqueue_redraw(session: AsyncSession, case_id: int, version: int) -> None:
    """Queue the redraw of a case's card after a change that made `version`; the caller commits."""
    await outbox.enqueue(
        session=session,
        dedupe_key=f"card-update:{case_id}:{version}",
        kind=CARD_UPDATE,
        target={"case_id": case_id},
        payload={},
        case_id=case_id,
    )


WITHHELD = json.dumps({"withheld": "the channel is no longer the safeguarding channel"})


class DeliveryWorker:
    def __init__(
        self,
        *,
        database: Database,
        messenger: Messenger,
        cards: CaseCards,
        roles: RoleDirectory,
        notifier: Notifier,
        chats: PersonalChats,
        poll_seconds: float = 1.0,
        lease_seconds: float = 60.0,
        batch: int = 20,
    ) -> None:
        self._db = database
        self._messenger = messenger
        self._cards = cards
        self._roles = roles
        self._notifier = notifier
        self._chats = chats
        # How long a claimed message is left to the instance that claimed it. If that instance dies mid-send,
        # another (or the restarted one) sends it once the lease runs out.
        self._lease = lease_seconds
        self._batch = batch
        self._loop = Periodic("outbox-delivery", self.run_once, poll_seconds)
        # Set by SafeguardingChannels: asked before a case is posted to the channel; False sends it 1:1 instead.
        self.channel_guard: Callable[[SafeguardingChannel], Awaitable[bool]] | None = None

    # Running ---------------------------------------------------------------------------------------------

    def wake(self) -> None:
        """Something was just enqueued: look now rather than at the next poll."""
        self._loop.wake()

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def run_once(self) -> int:
        """Claim what is due and try each once. Returns how many were attempted."""
        async with self._db.sessions.begin() as session:
            due = await outbox.claim_due(
                session=session, kinds=KINDS, now=utcnow(), limit=self._batch, lease_seconds=self._lease
            )
        for message in due:
            await self._attempt(message)
        return len(due)

    async def _attempt(self, message: OutboxMessage) -> None:
        assert message.id is not None
        try:
            result = await self._deliver(message)
        except (DeliveryError, NotDeliverableYet) as exc:
            retry_after = exc.retry_after if isinstance(exc, DeliveryError) else None
            async with self._db.sessions.begin() as session:
                _, newly_escalated = await outbox.mark_failed(
                    session=session, message_id=message.id, error=str(exc)[:2000], retry_after=retry_after
                )
            log.warning("delivery of %s #%s failed (%s); will retry", message.kind, message.id, exc)
            if newly_escalated:
                await self._escalate_delivery(message, str(exc))
            return
        await self._record_sent(message.id, result)

    async def _record_sent(self, message_id: int, result: str | None) -> None:
        """Teams has the message: record it, however long the database takes to come back (a restart, a fail-over).

        Giving up here would leave the message 'sending' until its lease ran out, and then it would be posted a
        second time (found by benchmarks/pg_outage.py). Only an outage longer than the lease can still do that.
        """
        delay = 0.1
        while True:
            try:
                async with self._db.sessions.begin() as session:
                    await outbox.mark_sent(session=session, message_id=message_id, result_id=result)
                return
            except LookupError:
                raise
            except Exception as exc:  # any database failure: the driver's, SQLAlchemy's or the socket's
                log.warning(
                    "could not record delivery of outbox #%s (%s); trying again", message_id, type(exc).__name__
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    async def _escalate_delivery(self, message: OutboxMessage, error: str) -> None:
        reference = category = None
        if message.case_id is not None:
            async with self._db.read_sessions() as session:
                case = await cases.get_case(session=session, case_id=message.case_id)
            if case is not None:
                reference, category = case.reference, case.category
        await self._notifier.alert(
            Alert(
                subject="Teams delivery keeps failing",
                reason=f"{message.kind} not delivered after repeated tries: {error[:200]}",
                reference=reference,
                category=category,
            )
        )

    # Delivering ------------------------------------------------------------------------------------------

    async def _deliver(self, message: OutboxMessage) -> str | None:
        target = outbox.target_of(message)
        payload = outbox.payload_of(message)
        if message.kind == CASE_CARD:
            return await self._deliver_case_card(message)
        if message.kind == CARD_UPDATE:
            return await self._deliver_card_update(message)
        if message.kind == COPY_UPDATE:
            await self._deliver_copy_update(message, target)
            return None
        activity = activity_from_payload(payload["activity"])
        if message.kind == DIRECT and is_card_copy(message):
            # A DSO's copy sent late (their chat was not there yet) shows the case as it is now, not as it was.
            assert message.case_id is not None
            case, events = await self._case_and_events(message.case_id)
            activity = self._cards.activity(case, events)
        if message.kind == DIRECT:
            return await self._deliver_direct(target, activity)
        if message.kind == THREAD_REPLY:
            if await self._withheld_from(target["conversation_id"]):
                return WITHHELD
            reference = reference_for(
                target["conversation_id"],
                target["service_url"],
                tenant_id=target.get("tenant_id"),
                conversation_type=target.get("conversation_type", "channel"),
            )
            posted = await self._messenger.send(reference, activity)
            return posted.activity_id
        raise DeliveryError(f"unknown outbox kind {message.kind!r}", status=None, retry_after=None, retryable=True)

    async def _deliver_direct(self, target: dict[str, Any], activity: Activity) -> str:
        aad_object_id = str(target["aad_object_id"])
        reference = await self._chats.find(aad_object_id)
        if reference is None:
            # Nobody waits for someone to say hello first: the bot opens the 1:1 chat itself, through the
            # service the message came from (or the safeguarding channel's).
            service_url, tenant = target.get("service_url"), target.get("tenant_id")
            if not service_url:
                async with self._db.read_sessions() as session:
                    channel = await channels.active_channel(session=session)
                if channel is not None:
                    service_url, tenant = channel.service_url, channel.tenant_id
            if not service_url:
                raise NotDeliverableYet(f"no 1:1 chat with {aad_object_id} yet, and nowhere to open one")
            reference, _ = await self._chats.open(
                aad_object_id, service_url=service_url, tenant_id=tenant, user_id=target.get("user_id")
            )
        posted = await self._messenger.send(reference, activity)
        return posted.activity_id

    async def _case_and_events(self, case_id: int) -> tuple[Any, list[Any]]:
        async with self._db.read_sessions() as session:
            case = await cases.get_case(session=session, case_id=case_id)
            events = await cases.chronology(session=session, case_id=case_id) if case is not None else []
        if case is None:
            raise DeliveryError(f"case {case_id} not found", status=None, retry_after=None, retryable=True)
        return case, events

    async def _deliver_case_card(self, message: OutboxMessage) -> str:
        assert message.case_id is not None
        case, events = await self._case_and_events(message.case_id)
        async with self._db.read_sessions() as session:
            channel = await channels.active_channel(session=session)
        if channel is not None and self.channel_guard is not None and not await self.channel_guard(channel):
            channel = None  # held or no longer safe: the DSOs get it 1:1 rather than wait
        if channel is None:
            activity = self._cards.activity(case, events)
            # No safeguarding channel: every DSO gets the case in their own 1:1 chat, each delivered and
            # retried on its own.
            dsos = sorted(await self._roles.members(Role.DSO))
            if not dsos:
                # Marking this sent would file the case where nobody sees it. Say so now (not after the usual
                # five failures) and keep it pending: it goes out once a channel or a DSO exists.
                if message.attempts == 0:
                    await self._notifier.alert(
                        Alert(
                            subject="A new case has nobody to go to",
                            reason="no safeguarding channel can take it and no DSO is configured; "
                            "it is kept and sent as soon as there is one",
                            reference=case.reference,
                            category=case.category,
                        )
                    )
                raise NotDeliverableYet("no safeguarding channel and no DSO to send the case to")
            async with self._db.sessions.begin() as session:
                for aad in dsos:
                    await outbox.enqueue(
                        session=session,
                        dedupe_key=f"case-card-dm:{case.id}:{aad}",
                        kind=DIRECT,
                        target={"aad_object_id": aad},
                        payload={"activity": activity.serialize()},
                        case_id=case.id,
                    )
            self.wake()
            return json.dumps({"fanout": "dso-direct"})
        # In the team's channel an urgent card @mentions the DSOs, so Teams tells them at once (1:1 copies
        # notify anyway, and a mention of someone outside a chat is best not sent at all).
        activity = self._cards.activity(case, events, mentions=await self._urgent_mentions(case))
        if channel.channel_id:
            posted = await self._messenger.start_channel_thread(
                service_url=channel.service_url,
                channel_id=channel.channel_id,
                tenant_id=channel.tenant_id,
                activity=activity,
            )
        else:  # a group chat of the safeguarding team: no threads, the card goes into the chat
            reference = reference_for(
                channel.conversation_id, channel.service_url, tenant_id=channel.tenant_id, conversation_type="groupChat"
            )
            posted = await self._messenger.send(reference, activity)
        return json.dumps(
            {
                "conversation_id": posted.conversation_id,
                "activity_id": posted.activity_id,
                "service_url": channel.service_url,
                "tenant_id": channel.tenant_id,
            }
        )

    async def _deliver_card_update(self, message: OutboxMessage) -> str | None:
        assert message.case_id is not None
        if not outbox.payload_of(message).get("moved"):
            await self._redraw_copies(message)
        async with self._db.read_sessions() as session:
            posted = await outbox.result_of(session=session, dedupe_key=case_card_key(message.case_id))
        where = json.loads(posted.result_id) if posted is not None and posted.result_id else None
        if not where or "conversation_id" not in where:
            return None  # the card was never posted to a channel (1:1 fan-out): nothing to redraw there
        reference = reference_for(where["conversation_id"], where["service_url"], tenant_id=where.get("tenant_id"))
        if outbox.payload_of(message).get("moved"):
            # The one redraw allowed into a channel that is no longer safe: the stub that takes the case away.
            await self._messenger.update(reference, where["activity_id"], self._cards.moved_activity())
            return None
        if await self._withheld_from(where["conversation_id"]):
            return WITHHELD
        case, events = await self._case_and_events(message.case_id)
        activity = self._cards.activity(case, events, mentions=await self._urgent_mentions(case))
        await self._messenger.update(reference, where["activity_id"], activity)
        return None

    async def _redraw_copies(self, message: OutboxMessage) -> None:
        """Every DSO's 1:1 copy of the card is redrawn too, each retried on its own, so nobody acts on a stale one."""
        assert message.case_id is not None and message.id is not None
        async with self._db.sessions.begin() as session:
            copies = [
                copy
                for copy in await outbox.sent_for_case(session=session, case_id=message.case_id, kind=DIRECT)
                if is_card_copy(copy) and copy.result_id
            ]
            for copy in copies:
                await outbox.enqueue(
                    session=session,
                    dedupe_key=f"card-copy:{message.id}:{copy.id}",
                    kind=COPY_UPDATE,
                    target={"aad_object_id": outbox.target_of(copy)["aad_object_id"], "activity_id": copy.result_id},
                    payload={},
                    case_id=message.case_id,
                )
        if copies:
            self.wake()

    async def _deliver_copy_update(self, message: OutboxMessage, target: dict[str, Any]) -> None:
        assert message.case_id is not None
        reference = await self._chats.find(str(target["aad_object_id"]))
        if reference is None:
            raise NotDeliverableYet("the DSO's 1:1 chat is no longer known")
        case, events = await self._case_and_events(message.case_id)
        await self._messenger.update(reference, str(target["activity_id"]), self._cards.activity(case, events))

    async def _urgent_mentions(self, case: Case) -> tuple[tuple[str, str], ...]:
        if not case.urgent or case.status != "new":
            return ()
        return self._cards.mentions_of(await self._roles.members(Role.DSO))

    async def _withheld_from(self, conversation_id: str) -> bool:
        """True when a conversation was a safeguarding channel and no longer is: nothing more goes there.

        Raises NotDeliverableYet while it is held (its roster unknown), so the message waits for the check.
        """
        async with self._db.read_sessions() as session:
            channel = await channels.find_by_conversation(
                session=session, conversation_id_or_team_id=conversation_id, include_inactive=True
            )
        if channel is None:
            return False
        if not channel.active:
            return True
        if channel.held_reason is not None:
            raise NotDeliverableYet("the safeguarding channel is held until its roster can be checked")
        return False


def direct_text(text: str) -> dict[str, Any]:
    """Outbox payload for a plain 1:1 message."""
    return {"activity": MessageFactory.text(text).serialize()}
