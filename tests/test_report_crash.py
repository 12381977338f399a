"""A crash between storing a case and posting its card: the card is posted after the restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import Cast
from tests.rig.bot_server import BotProcess
from tests.rig.fake_connector import Failure, FakeConnector
from tests.rig.safeguarding import CHANNEL_ID, TEAM_ID, card_text, member, reference_from, walk_report
from tests.rig.teams import Chat

pytestmark = pytest.mark.slow


def _env(database_url: str, cast: Cast) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "MicrosoftAppId": "",
        "SAFESPACE_LOG_LEVEL": "WARNING",
        "SAFESPACE_DELIVERY_POLL_SECONDS": "0.1",
        # A crash mid-send leaves the message leased to the dead process until this runs out.
        "SAFESPACE_DELIVERY_LEASE_SECONDS": "3",
        "SAFESPACE_DSO_IDS": f"{cast.dso.aad_object_id},{cast.deputy.aad_object_id}",
        "SAFESPACE_DIRECTOR_IDS": cast.director.aad_object_id,
    }


async def test_card_is_posted_after_a_crash_and_restart(
    database_url: str, cast: Cast, connector: FakeConnector, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    first = await BotProcess(_env(database_url, cast)).start(tmp_path / "first.log")
    try:
        connector.set_members(TEAM_ID, [member(p) for p in (cast.dso, cast.deputy)], CHANNEL_ID)
        channel = Chat(
            http=http,
            bot_url=first.messages_url,
            connector=connector,
            person=cast.dso,
            conversation_id=CHANNEL_ID,
            conversation_type="channel",
            team_id=TEAM_ID,
            channel_id=CHANNEL_ID,
            membership_type="standard",
        )
        await channel.say("register safeguarding channel")
        await channel.replies(1)

        # Teams is down: every attempt to post the card fails until the process dies.
        connector.fail_next(*[Failure(503, kinds=frozenset({"create"})) for _ in range(1000)])
        learner = Chat(
            http=http,
            bot_url=first.messages_url,
            connector=connector,
            person=cast.learner,
            conversation_id=f"a:1on1-{cast.learner.aad_object_id}",
            conversation_type="personal",
        )
        reference = reference_from(await walk_report(learner, "Stored before the crash."))
        for _ in range(100):
            if any(path == "/v3/conversations" for _, path in connector.requests):
                break
            await asyncio.sleep(0.05)
        first.kill()
    finally:
        first.stop()
    assert not any(s.kind == "create" for s in connector.sent)

    connector.failures.clear()
    second = await BotProcess(_env(database_url, cast)).start(tmp_path / "second.log")
    try:
        posted = await connector.wait_for(
            lambda s: s.kind == "create" and reference in card_text(s.cards[0]), timeout=30
        )
        assert posted.conversation_id.startswith(CHANNEL_ID)
        await asyncio.sleep(1.0)
        assert len([s for s in connector.sent if s.kind == "create"]) == 1
    finally:
        second.stop()
