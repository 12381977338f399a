"""ConnectorSender: the same wire JSON as msrest, the same URLs and headers, retries, and tokens.

The HTTP side runs against a small aiohttp server on 127.0.0.1 that records each request and answers from a
script, as the Bot Connector would.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from botbuilder import schema
from botbuilder.core import CardFactory, MessageFactory, TurnContext
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    CardAction,
    ChannelAccount,
    ConversationAccount,
    HeroCard,
    Mention,
    SuggestedActions,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from msrest import Serializer

from bot.edge.proactive import delivery_error
from bot.edge.sender import ConnectorError, ConnectorSender, to_json, wire_json
from cards.menu_card import MenuEntry, menu_card

# The models map botbuilder's ConnectorClient gives its serializer.
MSREST = Serializer({name: value for name, value in vars(schema).items() if isinstance(value, type)})


def msrest_json(activity: Activity) -> Any:
    """What botbuilder's own ConnectorClient would put on the wire."""
    return MSREST.body(activity, "Activity")


def _reply(text: str = "hello") -> Activity:
    incoming = Activity(
        type=ActivityTypes.message,
        id="1700000000000",
        channel_id="msteams",
        service_url="http://127.0.0.1/",
        from_property=ChannelAccount(id="29:learner", name="Sam Learner", aad_object_id="aad-sam"),
        recipient=ChannelAccount(id="28:bot", name="Safe Space"),
        conversation=ConversationAccount(id="a:1xyz", conversation_type="personal", tenant_id="t"),
    )
    reply = MessageFactory.text(text)
    return TurnContext.apply_conversation_reference(reply, TurnContext.get_conversation_reference(incoming))


def test_a_menu_card_reply_serialises_as_msrest_does() -> None:
    card = menu_card("What would you like to do?", "Or type it", [MenuEntry("Report a worry", "report")])
    activity = _reply()
    activity.attachments = [CardFactory.adaptive_card(card)]
    activity.text = None
    assert json.loads(wire_json(activity)) == msrest_json(activity)


def test_models_inside_plain_values_and_subclasses_serialise_as_msrest_does() -> None:
    activity = _reply("<at>Claire</at> a new case")
    activity.entities = [
        Mention(mentioned=ChannelAccount(id="29:claire", name="Claire"), text="<at>Claire</at>", type="mention")
    ]
    activity.attachments = [CardFactory.hero_card(HeroCard(title="Hi", buttons=[CardAction(type="imBack", value="x")]))]
    activity.suggested_actions = SuggestedActions(actions=[CardAction(type="imBack", title="Menu", value="menu")])
    activity.channel_data = {"notification": {"alert": True}, "nested": [{"a": 1}, None, 2.5]}
    activity.timestamp = dt.datetime(2026, 11, 25, 17, 46, 9, 123456, tzinfo=dt.UTC)
    activity.local_timestamp = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=-8)))
    assert to_json(activity) == msrest_json(activity)
    assert to_json(activity)["entities"][0]["mentioned"] == {"id": "29:claire", "name": "Claire"}


def test_any_text_a_client_can_send_can_be_sent_back() -> None:
    # JSON lets a client send a lone surrogate; it cannot be written as UTF-8, so it must go back escaped.
    activity = _reply('emoji 😀, right-to-left \u202e, a lone surrogate \ud800, a quote " and a backslash \\')
    assert json.loads(wire_json(activity)) == msrest_json(activity)
    assert wire_json(activity).isascii()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(text=st.none() | st.text(max_size=200), content=JSON, channel_data=JSON, value=JSON)
def test_any_json_content_serialises_as_msrest_does(
    text: str | None, content: Any, channel_data: Any, value: Any
) -> None:
    activity = _reply()
    activity.text = text
    activity.attachments = [CardFactory.adaptive_card({"type": "AdaptiveCard", "body": content})]
    activity.channel_data = channel_data
    activity.value = value
    assert to_json(activity) == msrest_json(activity)


# The HTTP side -------------------------------------------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeChannel:
    """Answers each request with the next scripted (status, headers), then 200 {"id": ...}."""

    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append(
            Seen(request.method, request.raw_path, dict(request.headers), json.loads(await request.read()))
        )
        if self.script:
            status, headers = self.script.pop(0)
            return web.json_response({"error": {"code": "Throttled"}}, status=status, headers=headers)
        return web.json_response({"id": f"id-{len(self.seen)}"})


@pytest.fixture
async def channel() -> AsyncIterator[FakeChannel]:
    fake = FakeChannel()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/"  # type: ignore[union-attr]
    yield fake
    await runner.cleanup()


def _token(expires_in: float) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part({'exp': time.time() + expires_in, 'n': time.monotonic_ns()})}.sig"


class AppCredentials:
    """The two members of botbuilder's AppCredentials the sender uses, with an app id and a token counter."""

    def __init__(self, app_id: str = "app-id", lifetime: float = 3600.0) -> None:
        self.app_id = app_id
        self.lifetime = lifetime
        self.issued: list[str] = []

    def _should_set_token(self, _session: object) -> bool:
        return bool(self.app_id)

    def get_access_token(self, force_refresh: bool = False) -> str:
        self.issued.append(_token(self.lifetime))
        return self.issued[-1]


def _sender() -> ConnectorSender:
    return ConnectorSender(max_retry_after=2.0, backoff_factor=0.01)


async def test_a_reply_goes_to_the_escaped_conversation_url_with_botbuilders_headers(channel: FakeChannel) -> None:
    sender = _sender()
    activity = _reply("hello")
    activity.conversation.id = "19:abc@thread.tacv2;messageid=1700"
    activity.reply_to_id = "1700"
    response = await sender.send(None, channel.url, activity)
    new = _reply("hi")
    new.reply_to_id = None
    await sender.send(None, channel.url.rstrip("/"), new)
    await sender.close()

    assert response.id == "id-1"
    first, second = channel.seen
    assert first.method == "POST"
    assert first.path == "/v3/conversations/19%3Aabc%40thread.tacv2%3Bmessageid%3D1700/activities/1700"
    assert first.headers["x-ms-conversation-id"] == "19:abc@thread.tacv2;messageid=1700"
    assert first.headers["Content-Type"] == "application/json; charset=utf-8"
    assert "Authorization" not in first.headers  # local mode: no app id, no token, as botbuilder does
    assert first.body == msrest_json(activity)
    assert second.path == "/v3/conversations/a%3A1xyz/activities"


async def test_an_update_is_a_put_to_the_activity(channel: FakeChannel) -> None:
    sender = _sender()
    activity = _reply("updated")
    activity.id = "card-7"
    response = await sender.update(None, channel.url, activity)
    await sender.close()
    assert response.id == "id-1"
    assert (channel.seen[0].method, channel.seen[0].path) == ("PUT", "/v3/conversations/a%3A1xyz/activities/card-7")


async def test_a_post_answered_503_is_not_repeated_it_may_have_been_posted(channel: FakeChannel) -> None:
    channel.script = [(503, {})]
    sender = _sender()
    with pytest.raises(ConnectorError) as raised:
        await sender.send(None, channel.url, _reply())
    await sender.close()
    assert raised.value.status == 503 and len(channel.seen) == 1
    assert delivery_error(raised.value).retryable  # the outbox worker tries again later


async def test_a_post_answered_429_waits_and_is_sent_once(channel: FakeChannel) -> None:
    channel.script = [(429, {"Retry-After": "0.2"})]
    sender = _sender()
    started = time.monotonic()
    response = await sender.send(None, channel.url, _reply())
    await sender.close()
    assert time.monotonic() - started >= 0.2
    assert response.id == "id-2" and len(channel.seen) == 2


async def test_an_update_is_retried_through_5xx_and_a_long_retry_after_goes_back_to_the_caller(
    channel: FakeChannel,
) -> None:
    channel.script = [(503, {}), (502, {}), (500, {})]
    sender = _sender()
    activity = _reply()
    activity.id = "card"
    assert (await sender.update(None, channel.url, activity)).id == "id-4"

    channel.script = [(429, {"Retry-After": "60"})]
    with pytest.raises(ConnectorError) as raised:
        await sender.update(None, channel.url, activity)
    await sender.close()
    assert raised.value.retry_after == 60.0 and raised.value.status == 429
    assert len(channel.seen) == 5  # no waiting a minute inside a turn
    assert delivery_error(raised.value).retry_after == 60.0


async def test_four_failures_in_a_row_give_up(channel: FakeChannel) -> None:
    channel.script = [(503, {})] * 4
    sender = _sender()
    activity = _reply()
    activity.id = "card"
    with pytest.raises(ConnectorError):
        await sender.update(None, channel.url, activity)
    await sender.close()
    assert len(channel.seen) == 4  # the first try and three retries, as msrest


async def test_nobody_listening_is_a_connector_error_after_retries() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    sender = _sender()
    with pytest.raises(ConnectorError) as raised:
        await sender.send(None, f"http://127.0.0.1:{port}/", _reply())
    await sender.close()
    assert raised.value.status is None and delivery_error(raised.value).retryable


async def test_a_token_is_sent_reused_until_near_expiry_and_renewed_once_on_401(channel: FakeChannel) -> None:
    credentials = AppCredentials()
    sender = _sender()
    await sender.send(credentials, channel.url, _reply())
    await sender.send(credentials, channel.url, _reply())
    assert len(credentials.issued) == 1
    assert channel.seen[0].headers["Authorization"] == f"Bearer {credentials.issued[0]}"
    assert channel.seen[1].headers["Authorization"] == f"Bearer {credentials.issued[0]}"

    channel.script = [(401, {})]
    await sender.send(credentials, channel.url, _reply())
    assert len(credentials.issued) == 2
    assert channel.seen[-1].headers["Authorization"] == f"Bearer {credentials.issued[1]}"

    channel.script = [(401, {}), (401, {})]
    with pytest.raises(ConnectorError) as raised:
        await sender.send(credentials, channel.url, _reply())
    assert raised.value.status == 401 and len(credentials.issued) == 3  # one fresh token, then the answer stands

    short = AppCredentials(lifetime=120.0)  # inside the renewal margin: never reused
    await sender.send(short, channel.url, _reply())
    await sender.send(short, channel.url, _reply())
    await sender.close()
    assert len(short.issued) == 2


async def test_an_outbound_proxy_from_the_environment_is_used_and_no_proxy_is_honoured(
    channel: FakeChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The loopback channel stands in for the college's proxy: a request for a host that does not exist
    # reaches it only if the sender went through the proxy.
    monkeypatch.setenv("HTTP_PROXY", channel.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    sender = _sender()
    await sender.send(None, "http://smba.example.invalid/emea/", _reply())
    await sender.send(None, channel.url, _reply())  # a NO_PROXY host: straight there
    await sender.close()
    assert channel.seen[0].headers["Host"] == "smba.example.invalid"
    # A request through a proxy names the whole URL (absolute form).
    assert channel.seen[0].path == "http://smba.example.invalid/emea/v3/conversations/a%3A1xyz/activities/1700000000000"
    assert channel.seen[1].headers["Host"].startswith("127.0.0.1:")
