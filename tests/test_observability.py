"""What it is doing, visible (issue 12, proof 8): /metrics on its own loopback port, and JSON log lines that carry
a turn id, the conversation's hash and the turn's time, and nothing anybody wrote."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select, text
from sqlmodel import col

from bot.config import Settings
from bot.edge.structured_log import log_handler
from storage.models import Case, OutboxMessage
from tests.conftest import Cast, Rig
from tests.rig.bot_server import BotProcess, free_port
from tests.rig.fake_connector import FakeConnector
from tests.rig.safeguarding import services, walk_report
from tests.rig.teams import Chat

HIGH = "im going to kill myself tonight"
MEDIUM = "ive been feeling really low lately and i cant sleep properly"
DESCRIPTION = "Jordan from plumbing showed me a video praising the attack and said we should do the same"
SAMPLE = re.compile(r"^(?P<key>[a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (?P<value>\S+)$")


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The root logger writing JSON lines, as `SAFESPACE_LOG_FORMAT=json` makes it, into a buffer."""
    stream = io.StringIO()
    handler = log_handler("json", stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def conversation_hash(conversation_id: str) -> str:
    return "conv-" + hashlib.sha256(conversation_id.encode()).hexdigest()[:12]


async def scrape(http: aiohttp.ClientSession, port: int) -> dict[str, float]:
    """Every sample as {'name{labels}': value}, checking the exposition's shape on the way."""
    async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        body = await resp.text()
    samples: dict[str, float] = {}
    typed: set[str] = set()
    for line in body.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name = match["key"].split("{")[0]
        assert any(name == t or name.startswith(t + "_") for t in typed), f"{name} has no # TYPE before it"
        assert match["key"] not in samples, f"{match['key']} twice"
        samples[match["key"]] = float(match["value"])
    return samples


def series(samples: dict[str, float], name: str) -> dict[str, float]:
    return {key: value for key, value in samples.items() if key == name or key.startswith(name + "{")}


async def wait_until(predicate, timeout: float = 10.0) -> None:
    async def poll() -> None:
        while not await predicate():
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), timeout)


async def test_metrics_count_turns_triage_errors_and_the_backlog(
    make_rig, http: aiohttp.ClientSession, json_log: io.StringIO
) -> None:
    port = free_port()
    # No DSO to send cases to: a case waits in the outbox, unacknowledged, as in a misconfigured deployment.
    rig: Rig = await make_rig(metrics_port=port, dso_ids=frozenset(), delivery_poll_seconds=0.05)
    before = await scrape(http, port)
    assert before["safespace_database_up"] == 1
    assert series(before, "safespace_turns_total") == {}
    assert before["safespace_cases_unacknowledged"] == 0
    assert before['safespace_outbox_messages{status="pending"}'] == 0
    assert before["safespace_turn_duration_seconds_count"] == 0
    assert before["process_resident_memory_bytes"] > 10_000_000

    learner = rig.personal(rig.cast.learner)
    await learner.say("help")
    await learner.replies(1)
    await learner.say(MEDIUM)
    await learner.replies(2)
    await learner.say(HIGH)
    await learner.replies(2)

    database = services(rig).database

    async def store_figures() -> tuple[int, int]:
        async with database.sessions() as session:
            waiting = await session.scalar(select(func.count()).where(col(OutboxMessage.status) != "sent"))
            new = await session.scalar(select(func.count()).where(col(Case.status) == "new"))
        return int(waiting or 0), int(new or 0)

    outbox_waiting, unacknowledged = await store_figures()
    assert (outbox_waiting, unacknowledged) == (1, 1), "the urgent case's card, with nowhere to go"
    await asyncio.sleep(0.05)
    after = await scrape(http, port)
    assert after['safespace_turns_total{type="message"}'] == 3
    assert after['safespace_triage_total{severity="none"}'] == 1
    assert after['safespace_triage_total{severity="medium"}'] == 1
    assert after['safespace_triage_total{severity="high"}'] == 1
    assert series(after, "safespace_turn_errors_total") == {}
    assert after["safespace_turn_duration_seconds_count"] == sum(series(after, "safespace_turns_total").values())
    assert after['safespace_turn_duration_seconds_bucket{le="+Inf"}'] == after["safespace_turn_duration_seconds_count"]
    assert after["safespace_turn_duration_seconds_sum"] > 0
    assert after["safespace_cases_unacknowledged"] == 1
    assert after["safespace_case_oldest_unacknowledged_seconds"] > 0
    assert sum(series(after, "safespace_outbox_messages").values()) == outbox_waiting
    assert after["safespace_outbox_oldest_undelivered_seconds"] > 0

    # A turn that fails: the case store refuses the next case. The person is told to try again; it is counted.
    async with database.sessions.begin() as session:
        await session.execute(
            text(
                "CREATE TRIGGER refuse_cases BEFORE INSERT ON safeguarding_case "
                "BEGIN SELECT RAISE(ABORT, 'forced for the test'); END"
            )
        )
    other = rig.personal(rig.cast.other_learner)
    await other.say(HIGH)
    await other.replies(2)
    failed = await scrape(http, port)
    assert failed['safespace_turn_errors_total{type="message"}'] == 1
    assert failed['safespace_turns_total{type="message"}'] == 4
    assert failed['safespace_triage_total{severity="high"}'] == 2
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    [error_turn] = [line for line in lines if line.get("outcome") == "error"]
    [told] = [line for line in lines if line["message"].startswith("turn failed")]
    assert told["turn_id"] == error_turn["turn_id"], "the turn-error handler's line carries the failed turn's id"
    assert told["conversation"] == conversation_hash(other.conversation_id)

    # Only on its own port: the bot's port (the one Teams reaches) has no /metrics.
    async with http.get(f"{rig.server.url}/metrics") as resp:
        assert resp.status == 404


def test_metrics_are_off_unless_a_port_is_given_and_on_loopback_by_default() -> None:
    assert Settings(_env_file=None).metrics_port is None
    assert Settings(_env_file=None, SAFESPACE_METRICS_PORT="").metrics_port is None
    chosen = Settings(_env_file=None, SAFESPACE_METRICS_PORT="9464")
    assert (chosen.metrics_host, chosen.metrics_port) == ("127.0.0.1", 9464)
    assert Settings(_env_file=None).log_format == "text"
    with pytest.raises(ValueError, match="SAFESPACE_LOG_FORMAT"):
        Settings(_env_file=None, SAFESPACE_LOG_FORMAT="xml")


async def test_json_log_lines_carry_the_turn_and_never_what_anybody_wrote(rig: Rig, json_log: io.StringIO) -> None:
    learner = rig.personal(rig.cast.learner)
    await learner.say(HIGH)
    await learner.replies(2)
    await walk_report(learner, DESCRIPTION)
    await asyncio.sleep(0.2)  # the delivery worker's lines too

    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    turns = [line for line in lines if line["logger"] == "bot.edge.turn_observer"]
    assert len(turns) >= 10, "one line per turn: the alarm and every step of the report"
    mine = conversation_hash(learner.conversation_id)
    for line in turns:
        assert set(line) >= {"time", "level", "message", "turn_id", "conversation", "activity_type", "turn_ms"}
        assert re.fullmatch(r"[0-9a-f]{16}", line["turn_id"])
        assert isinstance(line["turn_ms"], float) and line["turn_ms"] > 0
    assert {line["conversation"] for line in turns if line["activity_type"] == "message"} == {mine}
    assert len({line["turn_id"] for line in turns}) == len(turns), "each turn its own id"
    # Lines written inside a turn (the safety net's: the alarm, and the report's account read as it came) carry
    # that turn's id and hash.
    flagged = [line for line in lines if line["message"].startswith("safety net flagged")]
    assert flagged
    assert {line["conversation"] for line in flagged} == {mine}
    assert {line["turn_id"] for line in flagged} <= {line["turn_id"] for line in turns}

    written = json_log.getvalue()
    for secret in (
        HIGH,
        DESCRIPTION,
        "Jordan",
        "praising",
        rig.cast.learner.name,
        rig.cast.learner.aad_object_id,
        learner.conversation_id,
    ):
        assert secret not in written, f"{secret!r} reached the log"


async def test_plain_text_lines_end_with_the_turn_and_the_conversation_hash(rig: Rig) -> None:
    stream = io.StringIO()
    handler = log_handler("text", stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        learner = rig.personal(rig.cast.learner)
        await learner.say(MEDIUM)
        await learner.replies(2)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    tag = rf"\[turn [0-9a-f]{{16}} {conversation_hash(learner.conversation_id)}\]"
    lines = stream.getvalue().splitlines()
    assert any(re.search(r"turn message ok in [0-9.]+ ms " + tag + "$", line) for line in lines)
    assert any(re.search(r"safety net flagged a message: MEDIUM .* " + tag + "$", line) for line in lines)
    assert MEDIUM not in stream.getvalue()


@pytest.mark.slow
async def test_python_m_bot_writes_json_lines_and_serves_metrics(
    cast: Cast, connector: FakeConnector, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    metrics_port = free_port()
    bot = await BotProcess(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'safespace.db'}",
            "MicrosoftAppId": "",
            "SAFESPACE_LOG_LEVEL": "INFO",
            "SAFESPACE_LOG_FORMAT": "json",
            "SAFESPACE_METRICS_PORT": str(metrics_port),
            "SAFESPACE_DSO_IDS": cast.dso.aad_object_id,
        }
    ).start(tmp_path / "bot.log")
    try:
        learner = Chat(
            http=http,
            bot_url=bot.messages_url,
            connector=connector,
            person=cast.learner,
            conversation_id=f"a:1on1-{cast.learner.aad_object_id}",
            conversation_type="personal",
        )
        for typed in ("help", MEDIUM):
            await learner.say(typed)
            await learner.replies(1)
        samples = await scrape(http, metrics_port)
        assert samples['safespace_turns_total{type="message"}'] == 2
        assert samples['safespace_triage_total{severity="medium"}'] == 1
    finally:
        bot.stop()
    assert bot.log_path is not None
    lines = [json.loads(line) for line in bot.log_path.read_text().splitlines() if line.strip()]
    assert any("LOCAL MODE" in line["message"] for line in lines), "start-up lines are JSON too"
    turns = [line for line in lines if line.get("turn_id") and line["logger"] == "bot.edge.turn_observer"]
    assert len(turns) == 2
    assert {line["conversation"] for line in turns} == {conversation_hash(learner.conversation_id)}
    written = bot.log_path.read_text()
    assert MEDIUM not in written and cast.learner.aad_object_id not in written
