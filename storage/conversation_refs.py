"""Conversation references, so the bot can message a person or a channel later without them writing first."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import ConversationRefRecord
from storage.types import utcnow


async def save_reference(*, session: AsyncSession, record: ConversationRefRecord) -> None:
    insert: Any = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    values = record.model_dump()
    values["updated_at"] = utcnow()
    stmt = insert(ConversationRefRecord).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["conversation_id"],
        set_={k: v for k, v in values.items() if k != "conversation_id"},
    )
    await session.execute(stmt)


async def personal_reference(*, session: AsyncSession, user_aad_id: str) -> ConversationRefRecord | None:
    """The newest 1:1 chat with this person, if the bot has ever been in one."""
    rows = await session.execute(
        select(ConversationRefRecord)
        .where(
            col(ConversationRefRecord.user_aad_id) == user_aad_id.lower(),
            col(ConversationRefRecord.conversation_type) == "personal",
        )
        .order_by(col(ConversationRefRecord.updated_at).desc())
        .limit(1)
    )
    return rows.scalars().first()
