"""/api/messages and /healthz as a client sees them: 2xx for good activities, 4xx for bad ones, never 500."""

from __future__ import annotations

import json
import logging
import time

import jwt
import pytest
from aiohttp import web
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from bot.app import SERVICES
from bot.edge.adapter import _BotConfiguration
from bot.edge.http import is_loopback_host
from cards.verbs import Verb
from tests.conftest import Rig
from tests.rig.databases import fresh_pg_database
from tests.rig.safeguarding import services

APP_ID = "00000000-0000-0000-0000-00000000b07d"


async def test_healthz_reports_database_and_version(rig: Rig) -> None:
    async with rig.http.get(f"{rig.server.url}/healthz") as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body["status"] == "ok"
    assert body["version"]
    # The kind of database only: never the file's path (or a server's name) to whoever can reach /healthz.
    assert body["database"] == "sqlite"
    assert "safespace.db" not in json.dumps(body) and str(rig.server.settings.database_url) not in json.dumps(body)


@pytest.mark.parametrize("group", ["", "00000000-0000-0000-0000-0000000000d5"])
async def test_without_a_dso_start_up_logs_an_error_and_healthz_says_degraded(
    make_rig, caplog: pytest.LogCaptureFixture, group: str
) -> None:
    # An Entra group without Microsoft Graph configured is no DSO either: roles then come from the ID lists.
    caplog.set_level(logging.ERROR)
    rig = await make_rig(dso_ids=frozenset(), dso_group_id=group)
    assert [r for r in caplog.records if r.levelno == logging.ERROR and "no DSO is configured" in r.getMessage()]
    async with rig.http.get(f"{rig.server.url}/healthz") as resp:
        assert resp.status == 200, "still in service: a load balancer must not drop it"
        body = await resp.json()
    assert body["status"] == "degraded" and "no DSO is configured" in body["reason"]
    assert body["database"] == "sqlite"


async def test_healthz_is_503_when_the_database_stops_answering(make_rig, postgres_url: str) -> None:
    pytest.importorskip("asyncpg")
    async with fresh_pg_database() as doomed_url:
        rig = await make_rig(database_url=doomed_url)
        async with rig.http.get(f"{rig.server.url}/healthz") as resp:
            assert resp.status == 200
    # The database is dropped (connections terminated) while the bot keeps running.
    async with rig.http.get(f"{rig.server.url}/healthz") as resp:
        assert resp.status == 503
        body = await resp.json()
    assert body["status"] == "unavailable" and body["database"] == "postgresql"


async def test_adaptive_card_action_invoke_answers_200_with_a_body(rig: Rig) -> None:
    chat = rig.personal(rig.cast.learner)
    status, body = await chat.execute("no.such.verb", {"x": 1})
    assert status == 200
    assert body["statusCode"] == 400
    assert body["type"] == "application/vnd.microsoft.error"
    assert "no longer available" in body["value"]["message"]


async def test_task_fetch_invoke_answers_200_with_a_body(rig: Rig) -> None:
    chat = rig.personal(rig.cast.learner)
    status, body = await chat.invoke("task/fetch", {"data": {"type": "task/fetch"}})
    assert status == 200
    assert body["task"]["type"] == "message" and body["task"]["value"]


async def test_expect_replies_delivery_answers_200_with_the_replies(rig: Rig) -> None:
    chat = rig.personal(rig.cast.learner)
    payload = chat.message("help")
    payload["deliveryMode"] = "expectReplies"
    status, body = await chat.post(payload)
    assert status == 200
    assert "Type **menu**" in json.dumps(body["activities"][0])  # help: its text and the menu's buttons, one card


async def test_stock_cloud_adapter_process_answers_500_to_an_invoke(rig: Rig) -> None:
    """The botbuilder defect our handler works around (#2156): kept as a canary should the SDK change."""
    stock = CloudAdapter(ConfigurationBotFrameworkAuthentication(_BotConfiguration("", "", "MultiTenant", "")))
    assert rig.server.app is not None
    services = rig.server.app[SERVICES]

    async def handler(request: web.Request) -> web.StreamResponse:
        return await stock.process(request, services.bot)

    app = web.Application()
    app.router.add_post("/api/messages", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        chat = rig.personal(rig.cast.learner)
        chat.bot_url = f"http://127.0.0.1:{port}/api/messages"
        status, _ = await chat.execute("no.such.verb")
        assert status == 500
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("text/plain", "hello", 415),
        ("application/x-www-form-urlencoded", "type=message", 415),
        ("application/json", "{not json", 400),
        ("application/json", "[]", 400),
        ("application/json", '"just a string"', 400),
        ("application/json", "{}", 400),
        ("application/json", '{"type": ""}', 400),
        ("application/json", '{"type": "message", "text": "no conversation"}', 400),
        ("application/json", '{"type": "message", "conversation": {"id": "c"}}', 400),
        ("application/json", '{"type": 7, "conversation": {"id": "c"}, "serviceUrl": "http://127.0.0.1:9"}', 400),
        ("application/json", "\xff\xfe", 400),
    ],
)
async def test_bad_requests_get_4xx(rig: Rig, content_type: str, body: str, status: int) -> None:
    chat = rig.personal(rig.cast.learner)
    got, answer = await chat.post(body.encode("latin-1"), content_type=content_type)
    assert got == status
    assert isinstance(answer, dict) and answer["error"]


async def test_oversized_body_is_413_not_500(rig: Rig) -> None:
    chat = rig.personal(rig.cast.learner)
    payload = chat.message("x" * (3 * 1024 * 1024))
    status, _ = await chat.post(json.dumps(payload))
    assert status == 413


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=30),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
        max_leaves=20,
    ),
    st.sampled_from(["message", "invoke", "conversationUpdate", "messageReaction", "event", "typing"]),
)
async def test_no_activity_shape_gets_a_500(rig: Rig, junk, kind: str) -> None:
    chat = rig.personal(rig.cast.learner)
    payload = chat.activity(
        kind,
        text=junk if isinstance(junk, str) else None,
        value=junk,
        name=junk,
        entities=junk if isinstance(junk, list) else None,
    )
    status, _ = await chat.post(json.dumps(payload))
    assert status < 500, payload


# With credentials configured ---------------------------------------------------------------------------------


@pytest.fixture
async def secured(make_rig) -> Rig:
    return await make_rig(app_id=APP_ID, app_password="not-a-real-secret")


async def test_unsigned_post_gets_401_when_an_app_id_is_set(secured: Rig) -> None:
    chat = secured.personal(secured.cast.learner)
    status, _ = await chat.post(chat.message("hello"))
    assert status == 401
    assert secured.connector.sent == [], "nothing may reach the person for an unauthenticated request"


@pytest.mark.parametrize("header", ["Bearer", "Bearer not.a.jwt", "Basic dXNlcjpwYXNz", "Bearer " + "a" * 5000])
async def test_malformed_tokens_get_401(secured: Rig, header: str) -> None:
    chat = secured.personal(secured.cast.learner)
    status, _ = await chat.post(chat.message("hello"), headers={"Authorization": header})
    assert status == 401


async def test_token_from_an_unknown_issuer_gets_401(secured: Rig) -> None:
    # Signed, well formed, but not issued by the Bot Framework: refused without fetching any signing keys.
    token = jwt.encode(
        {"iss": "https://attacker.invalid", "aud": APP_ID, "exp": int(time.time()) + 600, "serviceurl": "x"},
        "shared-secret-the-attacker-knows-and-is-long-enough",
        algorithm="HS256",
    )
    chat = secured.personal(secured.cast.learner)
    status, _ = await chat.post(chat.message("hello"), headers={"Authorization": f"Bearer {token}"})
    assert status == 401


async def test_invoke_without_a_token_gets_401_too(secured: Rig) -> None:
    chat = secured.personal(secured.cast.learner)
    status, _ = await chat.execute("no.such.verb")
    assert status == 401


async def test_without_a_token_the_body_is_never_read_or_parsed(secured: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """Security review item 8: an unauthenticated caller gets its 401 for the price of a header check."""
    parsed: list[object] = []
    monkeypatch.setattr("bot.edge.http.parse_activity", lambda payload: parsed.append(payload) or "not reached")
    chat = secured.personal(secured.cast.learner)
    for body, headers in [
        (b"{not json", {}),
        (b"[" * 100_000, {}),
        (json.dumps(chat.message("x" * (1024 * 1024))).encode(), {}),  # past the body limit too
        (json.dumps(chat.message("hello")).encode(), {"Authorization": "Bearer not.a.jwt"}),
    ]:
        status, answer = await chat.post(body, headers=headers)
        assert status == 401 and answer == {"error": "unauthorised"}
    assert parsed == []
    assert secured.connector.sent == []


async def test_the_body_limit_is_256_kb(rig: Rig) -> None:
    chat = rig.personal(rig.cast.learner)
    status, _ = await chat.post(json.dumps(chat.message("x" * (300 * 1024))))
    assert status == 413
    status, _ = await chat.post(json.dumps(chat.message("y" * (200 * 1024))))
    assert status == 200


def _nested(depth: int) -> dict[str, object]:
    value: dict[str, object] = {"leaf": True}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize("shape", ["array bomb", "deep value"])
async def test_deeply_nested_json_gets_400_not_500(rig: Rig, shape: str) -> None:
    chat = rig.personal(rig.cast.learner)
    if shape == "array bomb":
        body = b"[" * 50_000 + b"]" * 50_000  # json.loads itself raises RecursionError
    else:
        body = json.dumps(chat.activity("message", text="hi", value=_nested(200))).encode()
    status, answer = await chat.post(body)
    assert status == 400 and "nests too deeply" in answer["error"]
    # Nesting a real activity needs is fine.
    status, _ = await chat.post(json.dumps(chat.activity("message", text="hi", value=_nested(20))))
    assert status == 200


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.1:3978", True),
        ("localhost:3978", True),
        ("LocalHost", True),
        ("[::1]:3978", True),
        ("[::1]", True),
        ("evil.example", False),
        ("evil.example:3978", False),
        ("127.0.0.1.evil.example:3978", False),
        ("localhost.evil.example", False),
        ("127.0.0.1:3978@evil.example", False),
        ("[::1]evil", False),
        ("10.1.2.3:3978", False),
        ("", False),
        (None, False),
    ],
)
def test_loopback_host_names(host: str | None, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


async def test_local_mode_refuses_requests_addressed_to_another_host_name(rig: Rig) -> None:
    """Security review item 9: a web page that rebinds its own name to 127.0.0.1 cannot press DSO buttons."""
    chat = rig.personal(rig.cast.dso)
    for host in ("rebind.attacker.example:3978", "192.168.1.20:3978"):
        status, answer = await chat.post(chat.message("help"), headers={"Host": host})
        assert status == 403 and "local mode" in answer["error"]
    status, answer = await chat.post(
        chat.activity(
            "invoke",
            name="adaptiveCard/action",
            value={"action": {"type": "Action.Execute", "verb": Verb.CASE_ACKNOWLEDGE, "data": {"case_id": 1}}},
        ),
        headers={"Host": "rebind.attacker.example"},
    )
    assert status == 403
    assert rig.connector.sent == []
    for host in ("localhost:3978", "[::1]:3978", "127.0.0.1"):
        assert (await chat.post(chat.message("help"), headers={"Host": host}))[0] == 200


async def test_with_credentials_the_host_name_is_not_what_counts(secured: Rig) -> None:
    chat = secured.personal(secured.cast.learner)
    status, _ = await chat.post(chat.message("hello"), headers={"Host": "safespace.example.ac.uk"})
    assert status == 401  # the token decides, as behind any reverse proxy


@pytest.mark.parametrize("channel", ["webchat", "directline", "slack", "", None])
async def test_activities_from_other_channels_are_refused_before_any_state_is_read(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, channel: str | None
) -> None:
    storage = services(rig).state_storage
    reads: list[list[str]] = []
    original = storage.read

    async def spying_read(keys: list[str]) -> dict[str, object]:
        reads.append(keys)
        return await original(keys)

    monkeypatch.setattr(storage, "read", spying_read)
    chat = rig.personal(rig.cast.learner)
    payload = chat.message("help")
    if channel is None:
        del payload["channelId"]
    else:
        payload["channelId"] = channel
    status, answer = await chat.post(payload)
    assert status == 403 and "Microsoft Teams" in answer["error"]
    assert reads == [] and rig.connector.sent == []
    engine = services(rig).database.engine
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM conversation_log"))).scalar_one() == 0

    # Teams itself, and in local mode the Bot Framework Emulator, are answered.
    for allowed in ("msteams", "emulator"):
        payload = chat.message("help")
        payload["channelId"] = allowed
        assert (await chat.post(payload))[0] == 200
    assert reads
