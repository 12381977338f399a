"""Links into Teams for a case card posted in the safeguarding channel or group chat."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from bot.edge.deep_links import message_link


def test_a_channel_thread_links_to_its_first_post() -> None:
    link = message_link("19:cases@thread.tacv2;messageid=1001", "1001", tenant_id="tenant-1")
    assert link is not None
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "teams.microsoft.com",
        "/l/message/19%3Acases%40thread.tacv2/1001",
    )
    assert parse_qs(parts.query) == {"parentMessageId": ["1001"], "tenantId": ["tenant-1"]}


def test_a_group_chat_message_links_with_the_chat_context() -> None:
    link = message_link("19:abc@thread.v2", "1700000000000")
    assert link is not None
    parts = urlsplit(link)
    assert parts.path == "/l/message/19%3Aabc%40thread.v2/1700000000000"
    assert parse_qs(parts.query) == {"context": ['{"contextType":"chat"}']}


def test_nothing_to_link_to() -> None:
    assert message_link("19:abc@thread.v2", "") is None
    assert message_link("", "") is None
