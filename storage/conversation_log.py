"""The conversation log: every activity in and out, per conversation."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import ConversationLogBase, ConversationLogEntry


async def append(*, session: AsyncSession, entries: Sequence[ConversationLogBase]) -> None:
    """Insert entries in one statement; the caller commits."""
    if entries:
        # Core insert on the table: the ORM's bulk path costs more than the write itself at this size.
        table = ConversationLogEntry.__table__  # type: ignore[attr-defined]
        await session.execute(insert(table), [entry.model_dump() for entry in entries])


async def transcript(*, session: AsyncSession, conversation_id: str, limit: int = 1000) -> list[ConversationLogEntry]:
    """A conversation's log, oldest first."""
    rows = await session.execute(
        select(ConversationLogEntry)
        .where(col(ConversationLogEntry.conversation_id) == conversation_id)
        .order_by(col(ConversationLogEntry.created_at), col(ConversationLogEntry.id))
        .limit(limit)
    )
    return list(rows.scalars())
