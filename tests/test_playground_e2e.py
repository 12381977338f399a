"""Safe Space end to end in the real Microsoft 365 Agents Playground (npm @microsoft/m365agentsplayground, pinned
in tests/playground), driven through the playground's own HTTP API and WebSocket, as its web page drives it.

`python -m bot` runs as a real process and the playground as a real Node process, each on a free port on
127.0.0.1, with the people of `.m365agentsplayground.yml` and the roles scripts/try_locally.py gives them.

What the playground 0.2.28 can and cannot do, read from its source and checked here:

* Every person in its config is a member of the team and of every channel; a channel cannot have fewer
  members than its team. So when the DSO asks Safe Space to register "Cases", Safe Space reads the roster from
  the playground's connector (`/v3/conversations/{team}/pagedmembers`), finds the learner, the staff member
  and the trainer there, and refuses. The test checks that refusal, then registers the channel in the case
  store, as scripts/try_locally.py does. Registering a safe roster is covered by tests/test_report_worry.py.
* `POST /_conversation/v1/conversations/{id}/messages` always sends the activity from the config's current
  user (Alex Learner), whatever `from.id` says. So the DSO's channel message goes in as a "custom activity"
  (`POST /_internal/v1/customActivities`, the page's "Mock an Activity"), which is passed to the bot as is.
* `POST /_conversation/v1/invoke` does send the invoke from `from.id`, with that person's aadObjectId: any
  member of the conversation can press an Action.Execute button, and the bot's reply comes back in the HTTP
  response. Card updates and the bot's new threads arrive on the WebSocket.

Skipped only when Node.js is missing; `npm ci` runs in tests/playground on first use.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import pytest

from cards.verbs import Verb
from tests.card_validator import assert_valid_cards
from tests.rig.bot_server import ROOT, BotProcess, free_port
from tests.rig.safeguarding import card_text

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is needed to run the Agents Playground"),
]

WAIT = 20.0  # seconds for any one thing to happen; the whole test takes about ten


def _load_try_locally() -> ModuleType:
    """scripts/ is not a package: load the script the way `python3 scripts/try_locally.py` would find it."""
    spec = importlib.util.spec_from_file_location("safespace_try_locally", ROOT / "scripts" / "try_locally.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


try_locally = _load_try_locally()


# The playground process and its API ---------------------------------------------------------------------------


class Playground:
    def __init__(self, http: aiohttp.ClientSession, port: int) -> None:
        self.http = http
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.events: list[dict[str, Any]] = []
        self._changed = asyncio.Condition()
        self._reader: asyncio.Task[None] | None = None

    # The WebSocket the page listens on: every message the bot sends or updates --------------------------------

    async def listen(self) -> None:
        ws = await self.http.ws_connect(f"ws://127.0.0.1:{self.port}/_ws_conversation/v1/conversations/stream")

        async def read() -> None:
            async for message in ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    continue
                async with self._changed:
                    self.events.append(json.loads(message.data))
                    self._changed.notify_all()

        self._reader = asyncio.create_task(read())

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    def mark(self) -> int:
        return len(self.events)

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], *, after: int = 0, what: str = "a bot message"
    ) -> dict[str, Any]:
        async def found() -> dict[str, Any]:
            async with self._changed:
                while True:
                    for event in self.events[after:]:
                        if predicate(event):
                            return event
                    await self._changed.wait()

        try:
            return await asyncio.wait_for(found(), WAIT)
        except TimeoutError:
            seen = "\n".join(f"  {event_text(e)[:200]!r}" for e in self.events[after:])
            raise AssertionError(f"no {what} within {WAIT:.0f} s; the bot sent:\n{seen}") from None

    # The HTTP API the page calls -----------------------------------------------------------------------------

    async def config(self) -> dict[str, Any]:
        async with self.http.get(f"{self.url}/_internal/v1/config") as response:
            assert response.status == 200
            return dict(await response.json())

    async def say(self, conversation_id: str, user_id: str, text: str) -> None:
        """Type in the page: the playground sends it to the bot from the current user."""
        body = {"from": {"id": user_id}, "text": text, "textFormat": "plain"}
        url = f"{self.url}/_conversation/v1/conversations/{conversation_id}/messages"
        async with self.http.post(url, json=body) as response:
            assert response.status == 200, await response.text()

    async def custom_activity(self, activity: dict[str, Any]) -> None:
        """The page's "Mock an Activity": the playground posts the activity to the bot unchanged."""
        async with self.http.post(f"{self.url}/_internal/v1/customActivities", json=activity) as response:
            assert response.status == 200, await response.text()

    async def press(self, user_id: str, conversation_id: str, message_id: str, action: dict[str, Any]) -> Any:
        """Press an Action.Execute button on a card, as the page does; returns the bot's invoke response."""
        body = {
            "name": "adaptiveCard/action",
            "value": {
                "action": {
                    "type": "Action.Execute",
                    "title": action.get("title"),
                    "verb": action["verb"],
                    "data": action.get("data", {}),
                }
            },
            "from": {"id": user_id},
            "conversation": {"id": conversation_id},
            "replyToId": message_id,
        }
        async with self.http.post(f"{self.url}/_conversation/v1/invoke", json=body) as response:
            assert response.status == 200, await response.text()
            return await response.json()


def event_text(event: dict[str, Any]) -> str:
    """What a person sees in one message the bot sent: its text and the text on its cards."""
    message = event.get("message") or {}
    parts = [str(message.get("text") or "")]
    for attachment in message.get("attachments") or []:
        if isinstance(attachment.get("content"), dict):
            parts.append(card_text(attachment["content"]))
    return "\n".join(parts)


def first_card(event: dict[str, Any]) -> dict[str, Any]:
    [attachment] = event["message"]["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    return dict(attachment["content"])


def find_action(card: Any, verb: str) -> dict[str, Any]:
    if isinstance(card, dict):
        if card.get("type") == "Action.Execute" and card.get("verb") == verb:
            return card
        children: list[Any] = list(card.values())
    elif isinstance(card, list):
        children = card
    else:
        children = []
    for child in children:
        with contextlib.suppress(LookupError):
            return find_action(child, verb)
    raise LookupError(verb)


def _listening_port(output: Path) -> int | None:
    match = re.search(r"Listening on (\d+)", output.read_text(errors="replace")) if output.exists() else None
    return int(match.group(1)) if match else None


@contextlib.asynccontextmanager
async def running_playground(http: aiohttp.ClientSession, bot_url: str, tmp_path: Path) -> AsyncIterator[Playground]:
    cli = try_locally.ensure_playground()
    port = free_port()
    output = tmp_path / "playground.out"
    with output.open("wb") as out:
        process = subprocess.Popen(
            try_locally.playground_command(cli, bot_url=bot_url, port=port),
            cwd=tmp_path,
            env=try_locally.playground_environment(log_file=tmp_path / "playground.log"),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    playground = Playground(http, port)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise AssertionError(f"the playground exited early:\n{output.read_text(errors='replace')[-3000:]}")
            listening = _listening_port(output)
            if listening is not None and listening != port:
                raise AssertionError(f"port {port} was taken; the playground moved to {listening}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{playground.url}/_debug/ping") as response:
                    if response.status == 200 and "pong" in await response.text():
                        break
            if time.monotonic() > deadline:
                raise AssertionError(f"the playground did not answer:\n{output.read_text(errors='replace')[-3000:]}")
            await asyncio.sleep(0.1)
        await playground.listen()
        yield playground
    finally:
        await playground.close()
        try_locally.stop(process)


# The test -------------------------------------------------------------------------------------------------------

DESCRIPTION = "Someone in my group keeps posting mean things about my friend in our class chat."
LEARNER_STEPS = [
    ("report", "Is anyone in danger right now?"),
    ("no", "Who is this about?"),
    ("Another learner", "What is it about?"),
    ("Bullying or harassment", "In your own words"),
    (DESCRIPTION, "Keep going if there's more"),
    ("Done", "What's their name, if you know it?"),
    ("skip", "When did it happen?"),
    ("last Tuesday", "Where did it happen?"),
    ("In the canteen at lunch", "Can the safeguarding team contact you"),
    ("yes", "How would you like them to contact you?"),
    ("Teams chat please", "Can your name be shown on it?"),
    ("yes", "Send this to the safeguarding team?"),
    ("send it", "Your report has been received. Your reference is SS-"),
]


def dso_says_in_channel(config: dict[str, Any], playground: Playground, person_id: str, text: str) -> dict[str, Any]:
    """The activity Teams sends when someone @mentions the bot in a channel (what "Mock an Activity" sends)."""
    person = try_locally.people(config)[person_id]
    channel = try_locally.cases_channel(config)
    bot = config["bot"]
    at = f"<at>{bot['name']}</at>"
    now = dt.datetime.now(dt.UTC).isoformat()
    return {
        "type": "message",
        "id": str(uuid.uuid4()),
        "timestamp": now,
        "localTimestamp": now,
        "channelId": "msteams",
        "serviceUrl": try_locally.service_url(playground.port),
        "from": {"id": person["id"], "name": person["name"], "aadObjectId": person["aadObjectId"]},
        "recipient": {"id": bot["id"], "name": bot["name"]},
        "conversation": {
            "id": channel["id"],
            "isGroup": True,
            "conversationType": "channel",
            "tenantId": config["tenantId"],
        },
        "text": f"{at} {text}",
        "textFormat": "plain",
        "entities": [{"type": "mention", "text": at, "mentioned": {"id": bot["id"], "name": bot["name"]}}],
        "channelData": {
            "tenant": {"id": config["tenantId"]},
            "team": {"id": config["team"]["id"]},
            "channel": {"id": channel["id"], "membershipType": "standard"},
        },
    }


async def test_learner_reports_in_the_playground_and_the_dso_picks_it_up(tmp_path: Path) -> None:
    config = try_locally.read_config()
    database_url = f"sqlite:///{tmp_path / 'safespace.db'}"
    port = free_port()
    env = {
        **try_locally.bot_environment(config, database_url=database_url, port=port),
        "SAFESPACE_DELIVERY_POLL_SECONDS": "0.05",
    }
    bot = await BotProcess(env, port=port).start(tmp_path / "bot.log")
    try:
        async with aiohttp.ClientSession() as http, running_playground(http, bot.messages_url, tmp_path) as pg:
            await _scenario(config, database_url, pg)
    finally:
        bot.stop()


async def _scenario(config: dict[str, Any], database_url: str, pg: Playground) -> None:
    learner = config["currentUser"]
    claire = try_locally.people(config)["29:claire-lewis"]
    personal = config["personalChat"]["id"]
    cases = try_locally.cases_channel(config)["id"]

    loaded = await pg.config()  # the playground read the repository's .m365agentsplayground.yml
    assert loaded["config"]["currentUser"]["name"] == "Alex Learner"
    assert loaded["config"]["teams"][0]["name"] == "Safeguarding"
    assert [c["name"] for c in loaded["config"]["teams"][0]["channels"]] == ["General", "Cases"]

    # 1. The DSO asks Safe Space to post cases in "Cases". The playground's roster for the team holds everyone
    #    in its config, so Safe Space refuses and names who should not see cases.
    mark = pg.mark()
    await pg.custom_activity(dso_says_in_channel(config, pg, claire["id"], "register safeguarding channel"))
    refused = await pg.wait_for(
        lambda e: e["actionConversationId"].startswith(cases) and "I can't post cases here" in event_text(e),
        after=mark,
        what="refusal to register Cases",
    )
    refusal = event_text(refused)
    for outsider in ("Alex Learner", "Sam Staff", "Tara Trainer"):
        assert outsider in refusal
    for member in ("Claire Lewis", "Andrea Lagerberg", "Alan Bates"):
        assert member not in refusal
    # What a private team of the DSO, deputy and directors would allow; the playground cannot model that team.
    await try_locally.register_cases_channel(database_url, config, try_locally.service_url(pg.port))

    # 2. The learner reports a worry in their 1:1 chat, every step typed as in the page.
    replies: list[dict[str, Any]] = []
    for answer, prompt in LEARNER_STEPS:
        mark = pg.mark()
        await pg.say(personal, learner["id"], answer)
        replies.append(
            await pg.wait_for(
                lambda e, p=prompt: e["actionConversationId"] == personal and p in event_text(e),
                after=mark,
                what=f"prompt {prompt!r} after {answer!r}",
            )
        )
    intro = event_text(replies[0])
    assert "Designated Safeguarding Officer" in intro and "can't promise to keep it secret" in intro
    summary = event_text(replies[-2])
    assert DESCRIPTION in summary and "Teams chat please" in summary
    match = re.search(r"reference is (SS-\d{4}-\d{4,})", event_text(replies[-1]))
    assert match, event_text(replies[-1])
    reference = match.group(1)

    # 3. The case card arrives in the Cases channel as a new thread.
    posted = await pg.wait_for(
        lambda e: e["action"] == "createMessage" and e["actionConversationId"] == cases and reference in event_text(e),
        what=f"case card {reference} in Cases",
    )
    card = first_card(posted)
    assert_valid_cards(card)
    shown = card_text(card)
    assert "Alex Learner" in shown and DESCRIPTION in shown and "New, not picked up yet" in shown
    message_id = posted["message"]["messageId"]
    thread = posted["message"].get("postConversationId") or f"{cases};messageid={message_id}"
    assert thread == f"{cases};messageid={message_id}"
    acknowledge = find_action(card, Verb.CASE_ACKNOWLEDGE)

    # 4. In the playground the learner is in that channel too. Their press is refused and changes nothing.
    mark = pg.mark()
    answer = await pg.press(learner["id"], thread, message_id, acknowledge)
    assert answer["type"] == "application/vnd.microsoft.activity.message"
    assert "Only the safeguarding team" in answer["value"]

    # 5. Claire Lewis (DSO) presses "I've got this": the card she sees, the card in the channel, and the learner.
    answer = await pg.press(claire["id"], thread, message_id, acknowledge)
    assert answer["type"] == "application/vnd.microsoft.card.adaptive", answer
    assert_valid_cards(answer["value"])
    assert "Claire Lewis" in card_text(answer["value"]) and "Picked up" in card_text(answer["value"])

    updated = await pg.wait_for(
        lambda e: (
            e["action"] == "updateMessage"
            and e["message"]["messageId"] == message_id
            and "Claire Lewis" in event_text(e)
        ),
        after=mark,
        what="the case card updated in Cases",
    )
    assert "Picked up" in event_text(updated)
    told = await pg.wait_for(
        lambda e: e["actionConversationId"] == personal and "has been picked up" in event_text(e),
        after=mark,
        what="the learner told their report was picked up",
    )
    assert reference in event_text(told) and "Bullying" not in event_text(told)
    redrawn = [e for e in pg.events if e["action"] == "updateMessage" and e["message"]["messageId"] == message_id]
    assert all("Claire Lewis" in event_text(e) for e in redrawn), "the learner's press redrew nothing"
