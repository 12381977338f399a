"""A live quiz with a whole year group: 300 learners answer one question within 5 seconds, over loopback.

    .venv/bin/python benchmarks/live_quiz.py [--learners 300] [--within 5] [--postgres [BASE_URL]]

The bot runs in its own process (one core, as in production) on a fresh SQLite file, or with --postgres on a fresh
database created on that server (postgresql://postgres@127.0.0.1:5432/test by default) and dropped afterwards;
this process runs a fake Bot Connector and the learners. A trainer starts a quiz in a group chat and
opens the first question; then every learner presses an answer button once, at a random moment within the
window, each press an Action.Execute invoke. An invoke is timed from the POST to /api/messages until its
HTTP response (the "locked in" reply). Afterwards the answers are counted in the database: every press that was
told "locked in" must be there, exactly once, with the option pressed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TRAINER = "00000000-0000-0000-0000-00000000beef"
CHAT = "19:benchmark-class@thread.v2"
BOT = {"id": "28:safespace-bot", "name": "Safe Space"}


# The server (run in a child process) ------------------------------------------------------------------------------


def serve(port: int, database_url: str) -> None:
    from bot.__main__ import serve as serve_safespace
    from bot.config import Settings

    # Served exactly as `python -m bot` serves it.
    serve_safespace(Settings(_env_file=None, database_url=database_url, port=port, trainer_ids=frozenset({TRAINER})))


# The fake Bot Connector (this process) ----------------------------------------------------------------------------


class Connector:
    def __init__(self) -> None:
        self.posted: list[tuple[str, dict[str, Any]]] = []  # (activity id, body) of every new message
        self.updates: list[tuple[float, str]] = []  # (when, activity id) of every card update
        self._ids = iter(range(1, 10**9))
        self._changed = asyncio.Event()

    async def start(self) -> str:
        async def post(request: web.Request) -> web.Response:
            body = await request.json()
            activity_id = f"m{next(self._ids)}"
            self.posted.append((activity_id, body))
            self._changed.set()
            return web.json_response({"id": activity_id})

        async def put(request: web.Request) -> web.Response:
            await request.read()
            self.updates.append((time.perf_counter(), request.match_info["aid"]))
            return web.json_response({"id": request.match_info["aid"]})

        app = web.Application()
        app.router.add_post("/v3/conversations/{cid}/activities", post)
        app.router.add_post("/v3/conversations/{cid}/activities/{aid}", post)
        app.router.add_put("/v3/conversations/{cid}/activities/{aid}", put)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/"

    async def card_with(self, verb: str, timeout: float = 20.0) -> tuple[str, dict[str, Any]]:
        """The newest posted card with an Action.Execute of `verb`, waiting for it if need be."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for activity_id, body in reversed(self.posted):
                for attachment in body.get("attachments") or []:
                    for action in executes(attachment.get("content")):
                        if action.get("verb") == verb:
                            return activity_id, action
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                break
        raise TimeoutError(f"no card with {verb} arrived")


def executes(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") == "Action.Execute":
            found.append(node)
        for value in node.values():
            found += executes(value)
    elif isinstance(node, list):
        for value in node:
            found += executes(value)
    return found


# The learners (this process) --------------------------------------------------------------------------------------


def person(n: int) -> dict[str, Any]:
    aad = TRAINER if n < 0 else f"00000000-0000-0000-0001-{n:012d}"
    name = "Tara Trainer" if n < 0 else f"Learner{n:03d} Bench"
    return {"id": f"29:{aad}", "name": name, "aadObjectId": aad}


def activity(kind: str, who: int, service_url: str, activity_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "id": activity_id,
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": person(who),
        "conversation": {"id": CHAT, "conversationType": "groupChat", "isGroup": True, "tenantId": "t"},
        "recipient": dict(BOT),
        "channelData": {"tenant": {"id": "t"}},
        **fields,
    }


def press(who: int, service_url: str, verb: str, data: dict[str, Any], activity_id: str) -> dict[str, Any]:
    value = {"action": {"type": "Action.Execute", "verb": verb, "data": data}, "trigger": "manual"}
    return activity("invoke", who, service_url, activity_id, name="adaptiveCard/action", value=value)


async def wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            if proc.poll() is not None:
                raise RuntimeError("server exited")
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError("server did not start")


async def stored_answers(database_url: str, quiz_id: int) -> list[tuple[str, int]]:
    from sqlalchemy import select

    from storage.db import open_database
    from storage.live_quiz import LiveQuizAnswer, LiveQuizParticipant

    database = open_database(database_url)
    try:
        async with database.read_sessions() as session:
            rows = await session.execute(
                select(LiveQuizParticipant.user_key, LiveQuizAnswer.option)
                .join(LiveQuizAnswer, LiveQuizAnswer.participant_id == LiveQuizParticipant.id)
                .where(LiveQuizAnswer.quiz_id == quiz_id, LiveQuizAnswer.question_index == 0)
            )
            return [(str(key), int(option)) for key, option in rows]
    finally:
        await database.dispose()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def fresh_postgres(base_url: str) -> AsyncIterator[str]:
    """A database of the benchmark's own, so it never writes into one that something else uses."""
    import asyncpg
    from sqlalchemy.engine import make_url

    base = make_url(base_url)
    dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"safespace_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(dsn, timeout=5)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        admin = await asyncpg.connect(dsn, timeout=5)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def main(learners: int, within: float, postgres: str | None) -> int:
    if postgres is None:
        return await run(learners, within, f"sqlite:///{Path(tempfile.mkdtemp()) / 'live-quiz-bench.db'}")
    async with fresh_postgres(postgres) as url:
        return await run(learners, within, url)


@dataclass
class Burst:
    """One burst's figures. `cpu` is the bot process's CPU time (all threads) from the first press to the last
    answer, `rss` its resident memory afterwards (MiB)."""

    learners: int
    latencies: list[float]
    told: dict[str, int]  # learner key -> option the bot said was locked in
    stored: list[tuple[str, int]]
    failures: list[str]
    took: float  # s from the first press to the last answer
    updates: int  # redraws of the question card in the burst
    most_updates_in_a_second: int
    cpu: float
    rss: float

    @property
    def lost(self) -> int:
        by_key = dict(self.stored)
        return sum(1 for key, option in self.told.items() if by_key.get(key) != option)

    @property
    def duplicates(self) -> int:
        keys = [key for key, _ in self.stored]
        return len(keys) - len(set(keys))

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicates or self.failures) and len(self.stored) == self.learners


async def run(learners: int, within: float, url: str) -> int:
    burst = await measure_burst(learners, within, url)
    latencies = burst.latencies
    print(f"\n{learners} learners answering one live quiz question within {within:.0f} s, loopback, one bot process")
    print(f"database: {url.split('://')[0]}\n")
    print(f"answers sent            {learners:>8}")
    print(f"told 'locked in'        {len(burst.told):>8}")
    print(f"stored in the database  {len(burst.stored):>8}")
    print(f"answers lost            {burst.lost:>8}  (must be 0)")
    print(f"stored twice            {burst.duplicates:>8}  (must be 0)")
    print(f"last answer sent after  {burst.took:>8.2f} s")
    print(f"invoke p50              {statistics.median(latencies) * 1000:>8.2f} ms")
    print(f"invoke p99              {percentile(latencies, 99) * 1000:>8.2f} ms")
    print(f"invoke max              {max(latencies) * 1000:>8.2f} ms")
    print(f"question card updates   {burst.updates:>8}  (at most {burst.most_updates_in_a_second} in any one second)")
    for failure in burst.failures[:5]:
        print("FAILED", failure)
    return 0 if burst.ok else 1


async def measure_burst(learners: int, within: float, url: str, cpus: set[int] | None = None) -> Burst:
    """The bot in its own process (pinned to `cpus` when given) and one burst of answers; nothing printed."""
    from benchmarks.turn_latency import cpu_seconds, rss_mb

    connector = Connector()
    service_url = await connector.start()
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--port", str(port), "--database-url", url]
        + (["--cpus", ",".join(map(str, sorted(cpus)))] if cpus else []),
        cwd=ROOT,
        env={**os.environ, "SAFESPACE_LOG_LEVEL": "WARNING"},
    )
    bot_url = f"http://127.0.0.1:{port}/api/messages"
    rng = random.Random(2026)
    latencies: list[float] = []
    told: dict[str, int] = {}  # learner key -> option the bot said was locked in
    failures: list[str] = []
    try:
        await wait_ready(port, proc)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=learners + 10)) as http:
            mention = f"<at>{BOT['name']}</at>"
            start = activity(
                "message",
                -1,
                service_url,
                "start-1",
                text=f"{mention} start quiz democracy 1 60s",
                entities=[{"type": "mention", "text": mention, "mentioned": dict(BOT)}],
            )
            async with http.post(bot_url, json=start) as resp:
                assert resp.status == 200, await resp.text()
            _, join = await connector.card_with("live_quiz.join")
            quiz_id = int(join["data"]["quiz_id"])
            begin = press(-1, service_url, "live_quiz.begin", {"quiz_id": quiz_id}, "begin-1")
            async with http.post(bot_url, json=begin) as resp:
                assert resp.status == 200, await resp.text()
            question_activity, _ = await connector.card_with("live_quiz.answer")

            async def learner(n: int, at: float, began: float) -> None:
                await asyncio.sleep(max(0.0, began + at - time.perf_counter()))
                option = rng.randrange(4)
                data = {"quiz_id": quiz_id, "question_index": 0, "option": option}
                payload = press(n, service_url, "live_quiz.answer", data, f"answer-{n}")
                sent = time.perf_counter()
                async with http.post(bot_url, json=payload) as resp:
                    body = await resp.json(content_type=None)
                latencies.append(time.perf_counter() - sent)
                text = body.get("value") if isinstance(body, dict) else None
                if (
                    resp.status == 200
                    and isinstance(text, str)
                    and re.fullmatch(r"Your answer [A-D] is locked in\.", text)
                ):
                    told[person(n)["aadObjectId"]] = option
                else:
                    failures.append(f"learner {n}: HTTP {resp.status} {body!r:.200}")

            moments = sorted(rng.uniform(0, within * 0.9) for _ in range(learners))
            cpu_before = cpu_seconds(proc.pid)
            began = time.perf_counter()
            updates_before = len(connector.updates)
            await asyncio.gather(*(learner(n, at, began) for n, at in enumerate(moments)))
            took = time.perf_counter() - began
            cpu = cpu_seconds(proc.pid) - cpu_before
            await asyncio.sleep(1.5)  # the last coalesced redraw
            window = [t - began for t, aid in connector.updates[updates_before:] if aid == question_activity]
            rss = rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        await connector.runner.cleanup()

    stored = await stored_answers(url, quiz_id)
    per_second = max((sum(1 for t in window if s <= t < s + 1) for s in range(int(took) + 2)), default=0)
    return Burst(
        learners=learners,
        latencies=latencies,
        told=told,
        stored=stored,
        failures=failures,
        took=took,
        updates=len(window),
        most_updates_in_a_second=per_second,
        cpu=cpu,
        rss=rss,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--learners", type=int, default=300)
    parser.add_argument("--within", type=float, default=5.0, help="seconds over which the answers arrive")
    parser.add_argument(
        "--postgres",
        nargs="?",
        const="postgresql://postgres@127.0.0.1:5432/test",
        help="run on a fresh database on this PostgreSQL server instead of SQLite",
    )
    parser.add_argument("--database-url", help=argparse.SUPPRESS)  # for the child process
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int)
    parser.add_argument("--cpus", help=argparse.SUPPRESS)  # for the child: the CPUs to pin itself to
    args = parser.parse_args()
    if args.serve:
        if args.cpus and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {int(cpu) for cpu in args.cpus.split(",")})
        serve(args.port, args.database_url)
    else:
        sys.exit(asyncio.run(main(args.learners, args.within, args.postgres)))
