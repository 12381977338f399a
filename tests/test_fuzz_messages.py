"""Fuzzing /api/messages (issue 12, proof 2): whatever arrives, the service stays up, kind and unchanged.

Hypothesis sends the real app activities of every type (messages, invokes with card actions, conversation and
installation updates, reactions, made-up types) carrying hostile text (control characters, right-to-left marks,
huge strings, markdown, HTML and card injection), huge, deep, missing and wrongly typed fields, unknown verbs,
stale case ids, and replays of the real buttons of real cards with their data altered. Afterwards: no answer was a
5xx, nothing was logged as an error or with a traceback, no case that existed before changed (a refused press may
only add its "refused" entry to the chronology), and /healthz still answers.

One app serves every example. The run is derandomised (the same activities every time, so CI is repeatable);
SAFESPACE_FUZZ_ACTIVITIES raises the count (the issue's proof is 10,000), SAFESPACE_FUZZ_SEED varies it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.safeguarding.report_intake import ReportIntake
from cards.verbs import Verb
from content.texts import Texts
from storage.models import Case, CaseCreate, CaseEvent, OutboxMessage
from tests.conftest import Rig, new_cast, settings_for
from tests.rig.bot_server import BotServer
from tests.rig.fake_connector import FakeConnector
from tests.rig.safeguarding import member, services
from tests.rig.teams import BOT, TENANT_ID, Person, base_activity

ACTIVITIES = int(os.environ.get("SAFESPACE_FUZZ_ACTIVITIES", "1500"))
SEED = int(os.environ.get("SAFESPACE_FUZZ_SEED", "12"))
BATCH = 10  # activities per example, sent at once: Teams does not wait for one turn before the next
EXAMPLES = max(1, -(-ACTIVITIES // BATCH))

TEAM, CHANNEL = "19:fuzz-team@thread.tacv2", "19:fuzz-cases@thread.tacv2"


# Hostile values -----------------------------------------------------------------------------------------------

HOSTILE_SNIPPETS = [
    "\u202egnp.exe",  # right-to-left override
    "\u200f\u200e\u2066\u2069",  # RTL/LTR marks and isolates
    "\x00\x01\x07\x1b[31m\x7f",  # control characters and a terminal escape
    "\ud800",  # a lone surrogate (json.dumps writes it as \\ud800)
    "<at>Safe Space</at> <at>",
    "<script>alert(1)</script><img src=x onerror=alert(1)>",
    "[click](javascript:alert(1)) ![x](http://127.0.0.1:1/x.png)",
    '{"type": "AdaptiveCard", "body": [{"type": "Action.OpenUrl", "url": "http://evil"}]}',
    "${case.description}{{name}}%s%(x)s{0}",
    "**bold** _it_ `code` ~~s~~ # heading\n> quote\n- list",
    "report",
    "start quiz 10 10s nicknames",
    "register safeguarding channel",
    "stop",
    "SS-2026-0001",
    "i want to hurt someone",
    "' OR 1=1; DROP TABLE safeguarding_case; --",
    "\u0000" * 3,
    "🙂" * 50,
    "ﷺ" * 20 + "\u0301" * 30,  # long ligatures, stacked combining marks
]

hostile_text = st.one_of(
    st.sampled_from(HOSTILE_SNIPPETS),
    st.text(max_size=80),
    st.text(alphabet=st.characters(codec="utf-8", categories=["Cc", "Cf", "Zs", "Mn", "Sm"]), max_size=40),
    st.builds(lambda part, times: part * times, st.sampled_from([*HOSTILE_SNIPPETS, "A", "ab "]), st.integers(1, 4000)),
    st.builds(lambda a, b: f"{a} {b}", st.sampled_from(HOSTILE_SNIPPETS), st.text(max_size=30)),
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    hostile_text,
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


DEEP = "__deep_{}__"  # stands for that many nested lists, spliced into the body as text (see post)
DEEP_RE = re.compile(r'"__deep_(\d+)__"')


def deep(depth: int) -> str:
    return DEEP.format(depth)


wrong_types = st.one_of(
    scalars, st.lists(scalars, max_size=3), st.dictionaries(st.text(max_size=5), scalars, max_size=3)
)
weird_values = st.one_of(wrong_types, json_values, st.integers(1, 3000).map(deep))


# The world the fuzz runs in --------------------------------------------------------------------------------------


@dataclass
class World:
    rig: Rig
    people: list[Person]
    case_ids: list[int]
    replays: list[tuple[str, dict[str, Any]]]  # real buttons from real cards: (verb, data)
    roster: list[dict[str, Any]]  # the safeguarding channel's members
    statuses: Counter[int] = field(default_factory=Counter)
    sent: int = 0

    @property
    def url(self) -> str:
        return self.rig.server.messages_url


class ErrorLog(logging.Handler):
    """Every record at ERROR or above, or carrying a traceback: an unhandled exception shows up as one."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR or record.exc_info:
            self.records.append(record)


def _executes(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [node] if node.get("type") == "Action.Execute" else []
        return found + [a for value in node.values() for a in _executes(value)]
    if isinstance(node, list):
        return [a for value in node for a in _executes(value)]
    return []


async def build_world(tmp_path: Path, http: aiohttp.ClientSession) -> tuple[World, BotServer, FakeConnector]:
    cast = new_cast()
    connector = await FakeConnector().start()
    server = await BotServer(
        settings_for(f"sqlite:///{tmp_path / 'fuzz.db'}", cast, delivery_poll_seconds=0.05)
    ).start()
    rig = Rig(http=http, server=server, connector=connector, cast=cast)
    svc = services(rig)
    connector.set_members(TEAM, [member(p) for p in (cast.dso, cast.deputy, cast.director)], CHANNEL)
    assert await rig.channel(cast.dso, team_id=TEAM, channel_id=CHANNEL).say("register safeguarding channel") == 200

    # Cases that exist before the fuzz, reported by someone the fuzz never plays (so no line of theirs joins one).
    reporter = Person("Rita Reporter")
    intake = ReportIntake(svc.database, Texts.load(svc.settings.content_dir), svc.delivery)
    case_ids = []
    for hidden in (False, True, False):
        stored = await intake.store(
            CaseCreate(
                source="learner",
                category="bullying",
                about="learner",
                description="A worry about a friend.",
                reporter_aad_id=reporter.aad_object_id,
                reporter_name=reporter.name,
                reporter_hidden=hidden,
                contact_ok=True,
            ),
            actor_aad_id=reporter.aad_object_id,
            actor_name=reporter.name,
        )
        assert stored.id is not None
        case_ids.append(stored.id)
    # One case awaiting a director, so the confirm button exists on a real card.
    dso = rig.personal(cast.dso)
    await dso.execute(
        Verb.CASE_DECIDE, {"case_id": case_ids[2], "version": 1, "decision": "channel", "decision_reason": "Views."}
    )
    mark = connector.mark()
    await connector.wait_count(3, after=0, conversation_id=None, timeout=15)

    # A live quiz in a group chat, its lobby's buttons, and the staff form's button.
    trainer = rig.group_chat(cast.trainer, "19:fuzz-class@thread.v2")
    assert await trainer.say("start quiz 3 60s") == 200
    staff = rig.personal(cast.staff)
    assert await staff.say("report") == 200
    await asyncio.sleep(1.0)
    replays: list[tuple[str, dict[str, Any]]] = []
    for sent in connector.sent:
        for card in sent.cards:
            for action in _executes(card):
                replays.append((action["verb"], dict(action.get("data") or {})))
    del mark
    verbs_seen = {verb for verb, _ in replays}
    assert {Verb.CASE_ACKNOWLEDGE, Verb.LIVE_QUIZ_JOIN, Verb.STAFF_FORM_SUBMIT} <= verbs_seen, verbs_seen
    people = [cast.learner, cast.staff, cast.trainer, cast.dso, cast.deputy, cast.director, Person("Uma Unknown")]
    roster = [member(p) for p in (cast.dso, cast.deputy, cast.director)]
    return World(rig=rig, people=people, case_ids=case_ids, replays=replays, roster=roster), server, connector


# Activities -----------------------------------------------------------------------------------------------------

ACTIVITY_TYPES = [
    "message",
    "invoke",
    "conversationUpdate",
    "messageReaction",
    "installationUpdate",
    "typing",
    "event",
    "endOfConversation",
    "messageUpdate",
    "messageDelete",
    "handoff",
    "",
]
INVOKE_NAMES = [
    "adaptiveCard/action",
    "task/fetch",
    "task/submit",
    "composeExtension/query",
    "composeExtension/submitAction",
    "signin/verifyState",
    "signin/tokenExchange",
    "fileConsent/invoke",
    "actionableMessage/executeAction",
    "config/fetch",
    "tab/fetch",
    "healthCheck",
]
UNKNOWN_VERBS = ["case.delete", "case.acknowledge ", "CASE.ACKNOWLEDGE", "", "live_quiz.win", "x" * 300, "__proto__"]


@st.composite
def conversation(draw: st.DrawFn, world: World) -> tuple[dict[str, Any], dict[str, Any]]:
    kind = draw(st.sampled_from(["personal", "groupChat", "channel"]))
    conv_id = draw(
        st.sampled_from(
            [
                f"a:fuzz-{draw(st.integers(0, 30))}",
                "19:fuzz-class@thread.v2",
                f"{CHANNEL};messageid=1000",
                CHANNEL,
                f"19:fuzz-{uuid.uuid4().hex}@thread.v2",
            ]
        )
    )
    conv: dict[str, Any] = {"id": conv_id, "conversationType": kind, "tenantId": TENANT_ID}
    data: dict[str, Any] = {"tenant": {"id": TENANT_ID}}
    if kind != "personal":
        conv["isGroup"] = True
    if kind == "channel":
        data |= {"team": {"id": TEAM}, "channel": {"id": CHANNEL, "membershipType": "standard"}}
    return conv, data


@st.composite
def card_action(draw: st.DrawFn, world: World) -> dict[str, Any]:
    """A real button with its data altered, a stale case id, or an unknown verb. Never a well-formed change: a
    replayed case button always carries a version the case does not have."""
    choice = draw(st.integers(0, 3))
    if choice == 0:
        verb = draw(st.sampled_from([*UNKNOWN_VERBS, draw(st.text(max_size=20))]))
        data: Any = draw(st.one_of(json_values, st.dictionaries(st.text(max_size=12), weird_values, max_size=5)))
    else:
        verb, real = draw(st.sampled_from(world.replays))
        data = dict(real)
        for key in draw(st.lists(st.sampled_from([*real, "case_id", "version", "quiz_id", "option"]), max_size=4)):
            if draw(st.booleans()):
                data.pop(key, None)
            else:
                data[key] = draw(weird_values)
        if "case_id" in data and draw(st.booleans()):
            data["case_id"] = draw(st.sampled_from([*world.case_ids, 0, -1, 999_999, 2**31, "1", "1e400", None]))
        if verb.startswith("case."):
            version = data.get("version")
            stale = draw(st.sampled_from([-1, 0, 99, 2**40, "1", None, [], {}]))
            if isinstance(version, int) and not isinstance(version, bool):
                stale = version - draw(st.integers(1, 3)) if draw(st.booleans()) else version + 50
            data["version"] = stale
            if isinstance(data["version"], str) or data["version"] is None:
                data["version"] = -7  # "1" would parse, and None might be missing on purpose elsewhere
    action: dict[str, Any] = {"type": "Action.Execute", "verb": verb, "data": data}
    if draw(st.integers(0, 9)) == 0:
        action["type"] = draw(st.sampled_from(["Action.Submit", "", None, 3]))
    value: Any = {"action": action, "trigger": "manual"}
    if draw(st.integers(0, 9)) == 0:
        value = draw(weird_values)
    return value


@st.composite
def activity(draw: st.DrawFn, world: World) -> Any:
    person = draw(st.sampled_from(world.people))
    conv, data = draw(conversation(world))
    kind = draw(st.sampled_from([*ACTIVITY_TYPES, draw(st.text(max_size=12))]))
    act = base_activity(kind, person=person, conversation=conv, service_url=world.rig.connector.url, channel_data=data)
    if kind == "message":
        text = draw(hostile_text)
        if conv["conversationType"] != "personal" and draw(st.booleans()):
            at = f"<at>{BOT['name']}</at>"
            text = f"{at} {text}"
            act["entities"] = [{"type": "mention", "text": at, "mentioned": dict(BOT)}]
        act |= {"text": text, "textFormat": draw(st.sampled_from(["plain", "markdown", "xml", 7]))}
        if draw(st.integers(0, 4)) == 0:
            act["value"] = draw(
                st.one_of(card_action(world).map(lambda v: v.get("action") if isinstance(v, dict) else v), json_values)
            )
    elif kind == "invoke":
        act["name"] = draw(st.sampled_from([*INVOKE_NAMES, draw(st.text(max_size=20))]))
        act["value"] = draw(card_action(world)) if act["name"] == "adaptiveCard/action" else draw(json_values)
    elif kind == "conversationUpdate":
        # In the registered channel, someone who joined is someone Teams knows: a member it cannot find is the
        # fail-closed path (503, so Teams sends the event again), tested in tests/safeguarding/test_channel.py.
        joiners = [dict(BOT), *world.roster] if "team" in data else [dict(BOT), person.account(), {}]
        who = draw(st.sampled_from(joiners))
        act[draw(st.sampled_from(["membersAdded", "membersRemoved"]))] = [who]
        if draw(st.booleans()):
            act["channelData"] = {
                **data,
                "eventType": draw(st.sampled_from(["teamMemberAdded", "channelCreated", "x"])),
            }
    elif kind == "messageReaction":
        act["reactionsAdded"] = [{"type": draw(st.sampled_from(["like", "heart", draw(st.text(max_size=8))]))}]
        act["replyToId"] = draw(st.sampled_from(["1000", "1001", draw(st.text(max_size=10))]))
    elif kind == "installationUpdate":
        act["action"] = draw(st.sampled_from(["add", "remove", "add-upgrade", draw(st.text(max_size=8))]))

    # Break it: missing fields, wrong types, huge and deep values, unknown fields.
    for _ in range(draw(st.integers(0, 3))):
        key = draw(
            st.sampled_from(
                ["type", "id", "from", "conversation", "recipient", "serviceUrl", "channelId", "channelData",
                 "text", "value", "name", "entities", "timestamp", "locale", "replyToId", "attachments",
                 draw(st.text(max_size=8))]
            )
        )  # fmt: skip
        if draw(st.booleans()):
            act.pop(key, None)
        else:
            act[key] = draw(weird_values)
    if draw(st.integers(0, 4)) == 0:
        act["from"] = {
            **(act.get("from") if isinstance(act.get("from"), dict) else {}),
            "aadObjectId": draw(wrong_types),
        }
    if draw(st.integers(0, 19)) == 0:
        return draw(weird_values)  # not an activity at all
    return act


async def post(world: World, http: aiohttp.ClientSession, payload: Any) -> int:
    body = DEEP_RE.sub(lambda m: "[" * int(m.group(1)) + "]" * int(m.group(1)), json.dumps(payload))
    async with http.post(world.url, data=body, headers={"Content-Type": "application/json"}) as resp:
        await resp.read()
        return resp.status


async def post_all(world: World, http: aiohttp.ClientSession, batch: list[Any]) -> list[int]:
    return list(await asyncio.gather(*(post(world, http, a) for a in batch)))


# The proof ---------------------------------------------------------------------------------------------------------


async def cases_as_they_are(world: World) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    """The cases that existed before the fuzz, and their chronology without refusals (a refusal is recorded)."""
    async with services(world.rig).database.sessions() as session:
        rows = (await session.execute(select(Case).where(Case.id.in_(world.case_ids)).order_by(Case.id))).scalars()
        found = [tuple(str(v) for v in row.model_dump().values()) for row in rows]
        events = (
            await session.execute(
                select(CaseEvent)
                .where(CaseEvent.case_id.in_(world.case_ids), CaseEvent.kind != "refused")
                .order_by(CaseEvent.id)
            )
        ).scalars()
        chronology = [tuple(str(v) for v in e.model_dump().values()) for e in events]
    return found, chronology


async def quiet(world: World) -> None:
    svc = services(world.rig)
    for _ in range(200):
        async with svc.database.sessions() as session:
            waiting = await session.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status.in_(("pending", "sending")))
            )
        if not waiting:
            return
        await asyncio.sleep(0.05)


def test_fuzzing_api_messages_changes_nothing_and_breaks_nothing(tmp_path: Path) -> None:
    loop = asyncio.new_event_loop()
    errors = ErrorLog()
    root = logging.getLogger()
    http = loop.run_until_complete(_session())
    world, server, connector = loop.run_until_complete(build_world(tmp_path, http))
    try:
        loop.run_until_complete(quiet(world))
        before = loop.run_until_complete(cases_as_they_are(world))
        root.addHandler(errors)
        started = time.monotonic()

        @seed(SEED)
        @settings(
            max_examples=EXAMPLES,
            derandomize="SAFESPACE_FUZZ_SEED" not in os.environ,
            database=None,
            deadline=None,
            phases=[Phase.generate],  # a failure prints its batch; shrinking would take minutes
            suppress_health_check=list(HealthCheck),
        )
        @given(st.lists(activity(world), min_size=BATCH, max_size=BATCH))
        def send(batch: list[Any]) -> None:
            statuses = loop.run_until_complete(post_all(world, http, batch))
            world.sent += len(batch)
            world.statuses.update(statuses)
            failed = [a for a, s in zip(batch, statuses, strict=True) if s >= 500]
            assert not failed, f"5xx for {failed!r:.3000}"
            assert not errors.records, [r.getMessage()[:500] for r in errors.records]

        send()
        elapsed = time.monotonic() - started
        loop.run_until_complete(quiet(world))
        after = loop.run_until_complete(cases_as_they_are(world))
        assert after == before, "a malformed action changed a case"
        assert not errors.records, [r.getMessage()[:500] for r in errors.records]

        async def health() -> int:
            async with http.get(f"{server.url}/healthz") as resp:
                return resp.status

        assert loop.run_until_complete(health()) == 200
        print(
            f"\nfuzz: {world.sent} activities in {elapsed:.1f}s ({world.sent / elapsed:.0f}/s); "
            f"answers {dict(sorted(world.statuses.items()))}"
        )
        assert world.sent >= ACTIVITIES
    finally:
        root.removeHandler(errors)
        loop.run_until_complete(server.stop())
        loop.run_until_complete(connector.stop())
        loop.run_until_complete(http.close())
        loop.close()


async def _session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession()


pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")
