"""Turn errors are kind: with the case store unreachable mid-conversation, the person still gets the emergency
numbers and "please try again in a minute", never silence, and Teams gets an answer, never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.engine import make_url

from tests.card_validator import assert_valid_cards
from tests.conftest import Rig, require_postgres
from tests.rig.databases import fresh_pg_database, pg_base_url
from tests.rig.safeguarding import card_text
from tests.rig.tcp_proxy import TcpProxy


@pytest.fixture
async def proxied_postgres() -> AsyncIterator[tuple[str, TcpProxy]]:
    """A fresh database on the test server, reached only through a proxy the test can cut."""
    await require_postgres()
    base = make_url(pg_base_url())
    proxy = await TcpProxy(base.host or "127.0.0.1", base.port or 5432).start()
    async with fresh_pg_database() as url:
        yield make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False), proxy
    await proxy.stop()


async def test_postgres_unreachable_mid_report_still_gives_the_emergency_numbers(
    make_rig, proxied_postgres: tuple[str, TcpProxy]
) -> None:
    url, proxy = proxied_postgres
    rig: Rig = await make_rig(database_url=url)
    chat = rig.personal(rig.cast.learner)
    assert await chat.say("report") == 200
    assert await chat.say("no") == 200
    assert "Who is this about" in card_text((await chat.replies(1))[-1].cards[0])

    await proxy.cut()  # PostgreSQL is gone: open connections dropped, new ones refused
    status, body = await chat.post(chat.message("he said he is going to hurt someone tonight"))
    assert status == 200, body
    replies = chat.connector.since(0, chat.conversation_id)[-2:]
    emergency = card_text(replies[0].cards[0]) if replies[0].cards else ""
    assert "999" in emergency and "Samaritans" in emergency and "0800 789 321" in emergency
    assert "try again in a minute" in (replies[1].text or "")
    assert_valid_cards(replies[0].cards[0])

    # Again, for a plain command: every message while it is down gets the same, not silence.
    assert await chat.say("menu") == 200
    again = await chat.replies(2)
    assert "999" in card_text(again[0].cards[0]) and "try again in a minute" in (again[1].text or "")

    # Back again: the report carries on from its last good turn, nothing lost.
    await proxy.restore()
    assert await chat.say("Another learner") == 200
    assert "What is it about" in card_text((await chat.replies(1))[-1].cards[0])
