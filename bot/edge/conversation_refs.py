"""Remember where each conversation lives, so the bot can write to it later (proactive messages)."""

from __future__ import annotations

import json

from botbuilder.core import TurnContext
from botbuilder.schema import Activity
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.edge.teams_context import aad_object_id, conversation_type
from storage.conversation_refs import save_reference
from storage.models import ConversationRefRecord

_MAX_REMEMBERED = 50_000


class ReferenceRecorder:
    """Writes a reference when a conversation is first seen or its service URL moves; not on every turn."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self._seen: dict[str, str] = {}

    async def record(self, activity: Activity) -> None:
        conversation_id = activity.conversation.id if activity.conversation else None
        if not conversation_id or not activity.service_url:
            return
        if self._seen.get(conversation_id) == activity.service_url:
            return
        reference = TurnContext.get_conversation_reference(activity)
        kind = conversation_type(activity)
        record = ConversationRefRecord(
            conversation_id=conversation_id,
            conversation_type=kind,
            user_aad_id=(aad_object_id(activity) or "").lower() or None if kind == "personal" else None,
            tenant_id=activity.conversation.tenant_id if activity.conversation else None,
            service_url=activity.service_url,
            reference=json.dumps(reference.serialize()),
        )
        async with self._sessionmaker.begin() as session:
            await save_reference(session=session, record=record)
        if len(self._seen) >= _MAX_REMEMBERED:
            self._seen.clear()
        self._seen[conversation_id] = activity.service_url
