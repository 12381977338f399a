"""Where to reach one person in their own 1:1 chat with Safe Space, opening that chat if they never wrote.

A DSO or director who has only ever seen Safe Space in the safeguarding channel has no 1:1 chat with it yet.
Teams lets a bot start one with anyone in the tenant the app is available to, so a message meant for them
(a hidden reporter's name, a referral waiting for a director) is not held back until they happen to say hello.
"""

from __future__ import annotations

import json
import logging

from botbuilder.schema import ConversationReference
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.edge.proactive import Messenger, reference_from_json
from storage.conversation_refs import personal_reference, save_reference
from storage.models import ConversationRefRecord

log = logging.getLogger(__name__)


class PersonalChats:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], messenger: Messenger) -> None:
        self._sessionmaker = sessionmaker
        self._messenger = messenger

    async def find(self, aad_object_id: str) -> ConversationReference | None:
        """The newest 1:1 chat the bot knows with this person, or None."""
        async with self._sessionmaker() as session:
            record = await personal_reference(session=session, user_aad_id=aad_object_id)
        return reference_from_json(record.reference) if record is not None else None

    async def open(
        self, aad_object_id: str, *, service_url: str, tenant_id: str | None, user_id: str | None = None
    ) -> tuple[ConversationReference, bool]:
        """This person's 1:1 chat, and whether it had to be opened now. Raises DeliveryError if Teams refuses.

        An opened chat is remembered like one the person started, so later messages go straight to it.
        """
        known = await self.find(aad_object_id)
        if known is not None:
            return known, False
        reference = await self._messenger.open_personal_chat(
            service_url=service_url, tenant_id=tenant_id, aad_object_id=aad_object_id, user_id=user_id
        )
        record = ConversationRefRecord(
            conversation_id=reference.conversation.id,
            conversation_type="personal",
            user_aad_id=aad_object_id.lower(),
            tenant_id=tenant_id,
            service_url=service_url,
            reference=json.dumps(reference.serialize()),
        )
        async with self._sessionmaker.begin() as session:
            await save_reference(session=session, record=record)
        log.info("opened a 1:1 chat for a message that had nowhere to go")
        return reference, True
