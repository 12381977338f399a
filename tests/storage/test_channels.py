"""The safeguarding channel registry on SQLite and PostgreSQL: one active channel, threads match their channel."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from storage import channels
from storage.models import SafeguardingChannel

TEAM = "19:team-safeguarding@thread.tacv2"
CASES = "19:cases@thread.tacv2"
OTHER = "19:other@thread.tacv2"
SERVICE = "https://smba.trafficmanager.net/emea/"


async def register(
    sessions: async_sessionmaker[AsyncSession], conversation_id: str, *, team_id: str | None = TEAM, by: str = "dso"
) -> SafeguardingChannel:
    async with sessions() as session:
        row = await channels.register_channel(
            session=session,
            conversation_id=conversation_id,
            team_id=team_id,
            channel_id=channels.base_conversation_id(conversation_id) if team_id else None,
            service_url=SERVICE,
            tenant_id="tenant-1",
            registered_by=by,
        )
        await session.commit()
    return row


async def all_rows(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, bool, str | None]]:
    async with sessions() as session:
        rows = await session.execute(select(SafeguardingChannel).order_by(col(SafeguardingChannel.id)))
        return [(r.conversation_id, r.active, r.deactivated_reason) for r in rows.scalars()]


async def test_registering_makes_a_channel_active(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        assert await channels.active_channel(session=session) is None
    row = await register(sessions, CASES)
    async with sessions() as session:
        active = await channels.active_channel(session=session)
    assert active is not None and active.id == row.id
    assert (active.conversation_id, active.team_id, active.channel_id, active.service_url, active.tenant_id) == (
        CASES,
        TEAM,
        CASES,
        SERVICE,
        "tenant-1",
    )
    assert active.registered_by == "dso" and active.deactivated_reason is None


async def test_a_new_registration_replaces_the_old_and_re_registering_reactivates(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first = await register(sessions, CASES)
    await register(sessions, OTHER)
    assert await all_rows(sessions) == [(CASES, False, "replaced"), (OTHER, True, None)]
    again = await register(sessions, CASES, by="deputy")
    assert again.id == first.id, "the same conversation keeps its row"
    assert await all_rows(sessions) == [(CASES, True, None), (OTHER, False, "replaced")]
    await register(sessions, CASES)
    assert await all_rows(sessions) == [(CASES, True, None), (OTHER, False, "replaced")], "idempotent"
    async with sessions() as session:
        active = await channels.active_channel(session=session)
    assert active is not None and active.registered_by == "dso"


async def test_registering_from_a_thread_registers_the_channel(sessions: async_sessionmaker[AsyncSession]) -> None:
    await register(sessions, f"{CASES};messageid=1732520000000")
    await register(sessions, f"{CASES};messageid=1732529999999")
    assert await all_rows(sessions) == [(CASES, True, None)]


async def test_deactivate_stops_posting(sessions: async_sessionmaker[AsyncSession]) -> None:
    row = await register(sessions, CASES)
    assert row.id is not None
    async with sessions() as session:
        await channels.deactivate(session=session, channel_row_id=row.id, reason="bot removed from team")
        await session.commit()
        assert await channels.active_channel(session=session) is None
    assert await all_rows(sessions) == [(CASES, False, "bot removed from team")]


async def test_find_by_conversation_thread_channel_or_team(sessions: async_sessionmaker[AsyncSession]) -> None:
    row = await register(sessions, CASES)
    async with sessions() as session:
        for wanted in (CASES, f"{CASES};messageid=123", TEAM, f" {CASES} "):
            found = await channels.find_by_conversation(session=session, conversation_id_or_team_id=wanted)
            assert found is not None and found.id == row.id, wanted
        assert await channels.find_by_conversation(session=session, conversation_id_or_team_id=OTHER) is None
        assert await channels.find_by_conversation(session=session, conversation_id_or_team_id=" ") is None


async def test_a_group_chat_registration_matches_only_itself(sessions: async_sessionmaker[AsyncSession]) -> None:
    chat = "19:dso-chat@thread.v2"
    row = await register(sessions, chat, team_id=None)
    async with sessions() as session:
        found = await channels.find_by_conversation(session=session, conversation_id_or_team_id=chat)
        assert found is not None and found.id == row.id
        assert await channels.find_by_conversation(session=session, conversation_id_or_team_id=TEAM) is None


async def test_an_exact_match_wins_over_a_team_match(sessions: async_sessionmaker[AsyncSession]) -> None:
    # OTHER was registered most recently in the same team, but a message from CASES belongs to CASES' row.
    cases_row = await register(sessions, CASES)
    other_row = await register(sessions, OTHER)
    async with sessions() as session:
        found = await channels.find_by_conversation(session=session, conversation_id_or_team_id=CASES)
        assert found is None, "CASES was replaced, and an inactive registration is not a safeguarding channel"
        found = await channels.find_by_conversation(
            session=session, conversation_id_or_team_id=f"{CASES};messageid=9", include_inactive=True
        )
        assert found is not None and found.id == cases_row.id and not found.active
        found = await channels.find_by_conversation(session=session, conversation_id_or_team_id=TEAM)
        assert found is not None and found.id == other_row.id


async def test_concurrent_registrations_leave_exactly_one_active(sessions: async_sessionmaker[AsyncSession]) -> None:
    ids = [f"19:channel-{i}@thread.tacv2" for i in range(6)]
    await asyncio.gather(*(register(sessions, conversation) for conversation in ids))
    async with sessions() as session:
        active = (
            await session.execute(
                select(func.count()).select_from(SafeguardingChannel).where(col(SafeguardingChannel.active))
            )
        ).scalar_one()
    assert active == 1
    assert len(await all_rows(sessions)) == 6
