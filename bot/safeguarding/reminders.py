"""Nudges for cases nobody has picked up: a reminder in the case's thread, then the directors and an alert.

The clock is the case store's: `created_at`, `reminded_at` and `escalated_at` are columns, so a restart (or
another instance) carries on where the last check left off.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from botbuilder.core import MessageFactory
from botbuilder.schema import ChannelAccount, Mention
from sqlalchemy.ext.asyncio import AsyncSession

from bot.edge.background import Periodic
from bot.edge.people import People
from bot.safeguarding.case_cards import waited
from bot.safeguarding.delivery import DIRECT, THREAD_REPLY, DeliveryWorker, case_card_key, direct_text
from bot.safeguarding.notifier import Alert, Notifier
from content.texts import Texts
from dialogs.roles import Role, RoleDirectory
from storage import cases, channels, outbox
from storage.db import Database
from storage.models import Case
from storage.types import utcnow

log = logging.getLogger(__name__)


class Reminders:
    def __init__(
        self,
        *,
        database: Database,
        roles: RoleDirectory,
        texts: Texts,
        delivery: DeliveryWorker,
        notifier: Notifier,
        people: People,
        ack_minutes: int,
        urgent_ack_minutes: int,
        check_seconds: float,
    ) -> None:
        self._db = database
        self._roles = roles
        self._texts = texts
        self._delivery = delivery
        self._notifier = notifier
        self._people = people
        self._ack = ack_minutes
        self._urgent_ack = urgent_ack_minutes
        self._loop = Periodic("case-reminders", self._pass, check_seconds)

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _pass(self) -> int:
        # Always wait the full interval: a case whose change lost a race stays due, and must not spin the loop.
        await self.run_once()
        return 0

    async def run_once(self) -> int:
        now = utcnow()
        async with self._db.read_sessions() as session:
            due = await cases.due_for_reminder(
                session=session, now=now, ack_minutes=self._ack, urgent_ack_minutes=self._urgent_ack
            )
        for case, action in due:
            if action == "remind":
                await self._remind(case)
            else:
                await self._escalate(case)
        if due:
            self._delivery.wake()
        return len(due)

    async def _remind(self, case: Case) -> None:
        assert case.id is not None
        dsos = sorted(await self._roles.members(Role.DSO))
        how_long = waited(case, utcnow())
        async with self._db.sessions.begin() as session:
            changed = await cases.change_case(
                session=session,
                case_id=case.id,
                expected_version=case.version,
                changes={"reminded_at": utcnow()},
                event_kind="reminder",
                actor_aad_id=None,
                actor_name="Safe Space",
            )
            if changed is None:
                return  # picked up (or reminded by another instance) meanwhile
            posted = await outbox.result_of(session=session, dedupe_key=case_card_key(case.id))
            where = json.loads(posted.result_id) if posted is not None and posted.result_id else {}
            if "conversation_id" in where and await self._channel_still_safe(session, where["conversation_id"]):
                await outbox.enqueue(
                    session=session,
                    dedupe_key=f"reminder:{case.id}",
                    kind=THREAD_REPLY,
                    target={k: where.get(k) for k in ("conversation_id", "service_url", "tenant_id")},
                    payload=self._mention_payload(case, dsos, how_long),
                    case_id=case.id,
                )
            else:
                text = self._texts.get("reminders.direct", reference=case.reference, waited=how_long)
                for aad in dsos:
                    await outbox.enqueue(
                        session=session,
                        dedupe_key=f"reminder:{case.id}:{aad}",
                        kind=DIRECT,
                        target={"aad_object_id": aad},
                        payload=direct_text(text),
                        case_id=case.id,
                    )
        log.info("reminder sent for case %s", case.reference)

    @staticmethod
    async def _channel_still_safe(session: AsyncSession, conversation_id: str) -> bool:
        """A reminder goes into the case's thread only while that channel is active and not held."""
        channel = await channels.find_by_conversation(
            session=session, conversation_id_or_team_id=conversation_id, include_inactive=True
        )
        return channel is not None and channel.active and channel.held_reason is None

    def _mention_payload(self, case: Case, dsos: list[str], how_long: str) -> dict[str, Any]:
        mentions = []
        tags = []
        for aad in dsos:
            name = self._people.name_of(aad) or "DSO"
            tag = f"<at>{name}</at>"
            tags.append(tag)
            mentions.append(Mention(mentioned=ChannelAccount(id=aad, name=name), text=tag, type="mention"))
        activity = MessageFactory.text(
            self._texts.get("reminders.thread", mentions=" ".join(tags), reference=case.reference, waited=how_long)
        )
        activity.entities = mentions
        return {"activity": activity.serialize()}

    async def _escalate(self, case: Case) -> None:
        assert case.id is not None
        directors = sorted(await self._roles.members(Role.DIRECTOR))
        how_long = waited(case, utcnow())
        urgent = self._texts.get("reminders.urgent_marker") if case.urgent else ""
        text = self._texts.get(
            "reminders.director", reference=case.reference, category=case.category, urgent=urgent, waited=how_long
        )
        async with self._db.sessions.begin() as session:
            changed = await cases.change_case(
                session=session,
                case_id=case.id,
                expected_version=case.version,
                changes={"escalated_at": utcnow()},
                event_kind="escalated",
                actor_aad_id=None,
                actor_name="Safe Space",
                detail={"directors": directors},
            )
            if changed is None:
                return
            for aad in directors:
                await outbox.enqueue(
                    session=session,
                    dedupe_key=f"escalation:{case.id}:{aad}",
                    kind=DIRECT,
                    target={"aad_object_id": aad},
                    payload=direct_text(text),
                    case_id=case.id,
                )
        await self._notifier.alert(
            Alert(
                subject="Safeguarding case not acknowledged",
                reason=f"waited {how_long} with nobody assigned",
                reference=case.reference,
                category=case.category,
            )
        )
        log.warning("case %s escalated to directors", case.reference)
