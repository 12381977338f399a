"""The safeguarding channel: where new cases are posted. One is active at a time."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.cases import clean_text
from storage.models import SafeguardingChannel
from storage.types import utcnow

# An arbitrary constant: registrations take this lock so two at once cannot both end up active.
_PG_REGISTER_LOCK = 0x5AFEC4A7


def base_conversation_id(conversation_id: str) -> str:
    """A channel thread ("19:abc@thread.tacv2;messageid=123") belongs to its channel ("19:abc@thread.tacv2")."""
    return conversation_id.split(";", 1)[0].strip()


def _optional(value: str | None) -> str | None:
    return clean_text(value) if value else None


async def register_channel(
    *,
    session: AsyncSession,
    conversation_id: str,
    team_id: str | None,
    channel_id: str | None,
    service_url: str,
    tenant_id: str | None,
    registered_by: str | None,
    now: dt.datetime | None = None,
) -> SafeguardingChannel:
    """Make this conversation the safeguarding channel, replacing any other; the caller commits.

    Registering from inside a thread registers the channel itself: new cases must start threads of their own.
    """
    base = base_conversation_id(conversation_id)
    if not base:
        raise ValueError("conversation_id is empty")
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_REGISTER_LOCK})
    rows = await session.execute(
        select(SafeguardingChannel)
        .where(col(SafeguardingChannel.conversation_id) == base)
        .order_by(col(SafeguardingChannel.id).desc())
        .limit(1)
        .execution_options(populate_existing=True)
    )
    row = rows.scalars().first()
    others = update(SafeguardingChannel).where(col(SafeguardingChannel.active).is_(True))
    if row is not None:
        others = others.where(col(SafeguardingChannel.id) != row.id)
    await session.execute(
        others.values(active=False, deactivated_reason="replaced").execution_options(synchronize_session=False)
    )
    if row is None:
        row = SafeguardingChannel(conversation_id=base, service_url=service_url)
    row.team_id = _optional(team_id)
    row.channel_id = _optional(base_conversation_id(channel_id) if channel_id else None)
    row.service_url = service_url
    row.tenant_id = _optional(tenant_id)
    row.registered_by = _optional(registered_by)
    row.registered_at = now or utcnow()
    row.active = True
    row.deactivated_reason = None
    row.held_reason = None
    row.roster_checked_at = row.registered_at  # registering is itself a successful roster check
    session.add(row)
    await session.flush()
    return row


async def active_channel(*, session: AsyncSession) -> SafeguardingChannel | None:
    rows = await session.execute(
        select(SafeguardingChannel)
        .where(col(SafeguardingChannel.active).is_(True))
        .order_by(col(SafeguardingChannel.registered_at).desc(), col(SafeguardingChannel.id).desc())
        .limit(1)
        .execution_options(populate_existing=True)
    )
    return rows.scalars().first()


async def deactivate(*, session: AsyncSession, channel_row_id: int, reason: str) -> None:
    """Stop posting cases to a channel (the bot was removed, or it is no longer DSO-only); the caller commits."""
    await session.execute(
        update(SafeguardingChannel)
        .where(col(SafeguardingChannel.id) == channel_row_id)
        .values(active=False, deactivated_reason=clean_text(reason))
        .execution_options(synchronize_session=False)
    )


async def hold(*, session: AsyncSession, channel_row_id: int, reason: str) -> None:
    """Nobody can say who is in the channel: post nothing there until a roster check succeeds; the caller commits."""
    await session.execute(
        update(SafeguardingChannel)
        .where(col(SafeguardingChannel.id) == channel_row_id)
        .values(held_reason=clean_text(reason))
        .execution_options(synchronize_session=False)
    )


async def roster_confirmed(*, session: AsyncSession, channel_row_id: int, now: dt.datetime | None = None) -> None:
    """A roster check found only DSOs and directors: lift any hold and remember when; the caller commits."""
    await session.execute(
        update(SafeguardingChannel)
        .where(col(SafeguardingChannel.id) == channel_row_id)
        .values(held_reason=None, roster_checked_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )


def is_safe_now(channel: SafeguardingChannel, *, now: dt.datetime, max_age: dt.timedelta) -> bool:
    """Active, not held, and its roster checked recently enough to post without asking Teams again."""
    checked = channel.roster_checked_at
    return channel.active and channel.held_reason is None and checked is not None and now - checked <= max_age


async def find_by_conversation(
    *, session: AsyncSession, conversation_id_or_team_id: str, include_inactive: bool = False
) -> SafeguardingChannel | None:
    """The registered channel a conversation, thread or team id belongs to.

    An exact conversation or channel match wins over a match on the team alone, since a team's other channels
    may have members who are not DSOs. Only active registrations unless `include_inactive`.
    """
    wanted = conversation_id_or_team_id.strip()
    base = base_conversation_id(wanted)
    if not base:
        return None
    for match in (
        or_(
            col(SafeguardingChannel.conversation_id).in_({wanted, base}),
            col(SafeguardingChannel.channel_id).in_({wanted, base}),
        ),
        col(SafeguardingChannel.team_id).in_({wanted, base}),
    ):
        stmt = select(SafeguardingChannel).where(match)
        if not include_inactive:
            stmt = stmt.where(col(SafeguardingChannel.active).is_(True))
        rows = await session.execute(
            stmt.order_by(
                col(SafeguardingChannel.active).desc(),
                col(SafeguardingChannel.registered_at).desc(),
                col(SafeguardingChannel.id).desc(),
            )
            .limit(1)
            .execution_options(populate_existing=True)
        )
        found = rows.scalars().first()
        if found is not None:
            return found
    return None
