"""Turn latency over loopback: stock echo bots, the Agents SDK's echo bot, and Safe Space; and Safe Space's start-up.

    .venv/bin/pip install -e '.[bench]'    # the Microsoft 365 Agents SDK, for agents-echo
    .venv/bin/python benchmarks/turn_latency.py [--users 16] [--seconds 8] [--postgres [BASE_URL]]

Each bot runs in its own process; this process runs the fake Bot Connector and 16 simulated users, each in its
own 1:1 chat, each sending its next message as soon as the last one was answered. A turn is timed from the POST
to /api/messages until its HTTP response, by which time the bot's reply has reached the connector. For each bot
it prints turns, turns/s, p50 and p99, the bot process's resident memory at the end (VmRSS) and its CPU time
(user + system, all threads) per measured turn, and how many activities reached the connector per turn.

The bots:
  echo-stock      botbuilder's CloudAdapter as shipped
  echo-cached     the same, with connector clients reused (bot/edge/connector_cache.py): the issue's "fixed" echo
  echo-edge       the same echo bot on Safe Space's own edge: bot/edge/http.py and ConnectorAdapter (cached clients,
                  replies sent by bot/edge/sender.py), i.e. everything Safe Space's turn has but the bot
  agents-echo     the Microsoft 365 Agents SDK's echo bot (microsoft-agents-hosting-aiohttp, the `bench` extra),
                  wired as the SDK's quickstart sample wires it and started anonymously (no app id)
  safespace       Safe Space's `help` turn, with state, the conversation log, routing and the safety net (the
                  same text every turn, so the reader's cache answers after the first), on a fresh SQLite file
                  or, with --postgres, on a fresh database on that server, dropped afterwards
  safespace-text  Safe Space answering a 25-word everyday message that is no command: every turn's text is
                  new (FREE_TEXT below), so the safety net's model runs on every turn, then the question
                  matcher; the texts are benign, and the run checks that no case was opened
  aiohttp-floor   (benchmarks/run_all.py only) a bare aiohttp handler: read the activity, post the echo to the
                  connector with one shared client session, answer 200; no SDK, no authentication, no state

Start-up is timed from launching `python -m bot` (settings from the environment, a fresh SQLite file) until
GET /healthz answers 200, then again on the database the first start made.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VARIANTS = ("echo-stock", "echo-cached", "echo-edge", "agents-echo", "safespace", "safespace-text")
# Not in this script's own table, but served here for benchmarks/run_all.py: the floor under every bot.
FLOOR = "aiohttp-floor"
SAFESPACE = ("safespace", "safespace-text")

# Everyday 25-word messages that are no command, name no online-safety topic and carry no risk words. Six
# templates × 7 × 8⁴ fillers make 172,032 different texts, taken in order, so no text repeats in a run and the
# reader's cache (4,096 texts) never answers: the model reads every one.
FREE_TEXT_TEMPLATES = (
    "on {day} i visited the {place} with my {person} and we talked about {topic} and {things} for ages before "
    "getting chips on the way home",
    "my {person} reckons {topic} is the best thing ever so on {day} we are going to the {place} to look at some "
    "{things} after lunch",
    "does anyone know if the {place} near college is open on {day} because my {person} wants to look at the "
    "{things} and chat about {topic}",
    "just got back from the {place} where my {person} spent the whole {day} afternoon chatting about {topic} and "
    "{things} with everyone who walked past us",
    "on {day} morning the {place} was busy so me and my {person} had a cup of tea talking about {topic} and then "
    "looked at {things}",
    "cannot wait for {day} because my {person} is taking me to the {place} to see the {things} and we might talk "
    "about {topic} over lunch",
)
FREE_TEXT_FILLERS = (
    ("day", ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")),
    ("place", ("library", "market", "park", "museum", "bakery", "station", "allotment", "cinema")),
    ("person", ("cousin", "sister", "brother", "neighbour", "aunt", "uncle", "mate", "grandad")),
    ("things", ("trainers", "bikes", "films", "cakes", "recipes", "timetables", "puzzles", "plants")),
    ("topic", ("football", "cooking", "holidays", "music", "gardening", "weather", "painting", "cycling")),
)
FREE_TEXT_WORDS = 25


def free_text(n: int) -> str:
    """The n-th everyday message: consecutive ones differ in template and, every sixth, in their fillers."""
    template = FREE_TEXT_TEMPLATES[n % len(FREE_TEXT_TEMPLATES)]
    n //= len(FREE_TEXT_TEMPLATES)
    fillers = {}
    for name, words in FREE_TEXT_FILLERS:
        fillers[name] = words[n % len(words)]
        n //= len(words)
    text = template.format(**fillers)
    assert len(text.split()) == FREE_TEXT_WORDS, text
    return text


def texts_for(variant: str) -> Callable[[], str]:
    """What the users type, turn after turn, shared by all of them."""
    if variant == "safespace-text":
        counter = itertools.count()
        return lambda: free_text(next(counter))
    text = "help" if variant == "safespace" else "hello"
    return lambda: text


# The servers (run in a child process) ---------------------------------------------------------------------


def serve(variant: str, port: int, database_url: str | None) -> None:
    if variant == "agents-echo":
        serve_agents_echo(port)
        return
    if variant == FLOOR:
        serve_floor(port)
        return

    from botbuilder.core import ActivityHandler, TurnContext
    from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication

    from bot.config import Settings
    from bot.edge.adapter import _BotConfiguration
    from bot.edge.connector_cache import CachingBotFrameworkAuthentication

    if variant in SAFESPACE:
        from bot.__main__ import serve as serve_safespace

        url = database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
        # Served exactly as `python -m bot` serves it.
        serve_safespace(Settings(_env_file=None, database_url=url, port=port))
        return

    class EchoBot(ActivityHandler):
        async def on_message_activity(self, turn_context: TurnContext) -> None:
            await turn_context.send_activity(f"echo: {turn_context.activity.text}")

    bot = EchoBot()
    if variant == "echo-edge":
        from bot.edge.adapter import ConnectorAdapter
        from bot.edge.http import messages_handler

        edge = web.Application()
        connector_adapter = ConnectorAdapter(Settings(_env_file=None))
        handler = messages_handler(connector_adapter, bot, local_mode=True)
        edge.router.add_post("/api/messages", handler)

        async def close(_app: web.Application) -> None:
            await connector_adapter.close()

        edge.on_cleanup.append(close)
        web.run_app(edge, host="127.0.0.1", port=port, print=None, access_log=None)
        return

    auth = ConfigurationBotFrameworkAuthentication(_BotConfiguration("", "", "MultiTenant", ""))
    adapter = CloudAdapter(CachingBotFrameworkAuthentication(auth) if variant == "echo-cached" else auth)

    async def messages(request: web.Request) -> web.StreamResponse:
        response = await adapter.process(request, bot)
        return response or web.Response(status=201)

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def serve_agents_echo(port: int) -> None:
    """The Agents SDK's echo bot, wired as its quickstart sample is (configuration from the environment, an
    MSAL connection manager, CloudAdapter, AgentApplication with state in MemoryStorage, the JWT middleware and
    start_agent_process), with the sample's local, anonymous configuration: no app id, anonymous requests allowed.
    """
    from microsoft_agents.activity import load_configuration_from_env
    from microsoft_agents.authentication.msal import MsalConnectionManager
    from microsoft_agents.hosting.aiohttp import CloudAdapter, jwt_authorization_middleware, start_agent_process
    from microsoft_agents.hosting.core import AgentApplication, Authorization, MemoryStorage, TurnContext, TurnState

    environ = {**os.environ, "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__ANONYMOUS_ALLOWED": "True"}
    config = load_configuration_from_env(environ)
    # Without an app id the SDK warns on every turn that its UserTokenClient has none: thousands of lines in this
    # script's output, and a deployed bot, having an app id, would not write them.
    logging.getLogger("microsoft_agents.hosting.core.connector.client.user_token_client").setLevel(logging.ERROR)
    storage = MemoryStorage()
    connection_manager = MsalConnectionManager(**config)
    adapter = CloudAdapter(connection_manager=connection_manager)
    authorization = Authorization(storage, connection_manager, **config)
    agent_app = AgentApplication[TurnState](storage=storage, authorization=authorization, **config)

    @agent_app.activity("message")
    async def on_message(context: TurnContext, _state: TurnState) -> None:
        await context.send_activity(f"echo: {context.activity.text}")

    async def entry_point(request: web.Request) -> web.StreamResponse | None:
        return await start_agent_process(request, agent_app, adapter)

    app = web.Application(middlewares=[jwt_authorization_middleware])
    app.router.add_post("/api/messages", entry_point)
    app["agent_configuration"] = connection_manager.get_default_connection_configuration()
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def serve_floor(port: int) -> None:
    """What any bot must do for an echo turn, and nothing else: the floor under every bot in the table."""
    session: aiohttp.ClientSession | None = None

    async def messages(request: web.Request) -> web.Response:
        nonlocal session
        if session is None:
            session = aiohttp.ClientSession()
        try:
            incoming = await request.json()
        except ValueError:
            return web.Response(status=400)  # wait_ready's probe
        conversation = incoming["conversation"]["id"]
        reply = {
            "type": "message",
            "text": f"echo: {incoming.get('text')}",
            "from": incoming["recipient"],
            "recipient": incoming["from"],
            "conversation": incoming["conversation"],
            "replyToId": incoming.get("id"),
        }
        url = f"{incoming['serviceUrl'].rstrip('/')}/v3/conversations/{conversation}/activities/{incoming['id']}"
        async with session.post(url, json=reply) as resp:
            await resp.read()
        return web.Response(status=200)

    async def close(_app: web.Application) -> None:
        if session is not None:
            await session.close()

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    app.on_cleanup.append(close)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# The load (this process) ----------------------------------------------------------------------------------


class Connector:
    def __init__(self) -> None:
        self.received = 0

    async def start(self) -> str:
        async def send(request: web.Request) -> web.Response:
            await request.read()
            self.received += 1
            return web.json_response({"id": str(self.received)})

        app = web.Application()
        app.router.add_post("/v3/conversations/{cid}/activities", send)
        app.router.add_post("/v3/conversations/{cid}/activities/{aid}", send)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/"


def activity(user: int, turn: int, text: str, service_url: str) -> dict:
    return {
        "type": "message",
        "id": f"m{user}-{turn}",
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": {
            "id": f"29:user-{user}",
            "name": f"User {user}",
            "aadObjectId": f"00000000-0000-0000-0000-{user:012d}",
        },
        "conversation": {"id": f"a:bench-{user}", "conversationType": "personal", "tenantId": "t"},
        "recipient": {"id": "28:bot", "name": "Safe Space"},
        "text": text,
        "textFormat": "plain",
        "channelData": {"tenant": {"id": "t"}},
    }


async def wait_ready(port: int, proc: subprocess.Popen) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            if proc.poll() is not None:
                raise RuntimeError("server exited")
            try:
                async with http.post(f"http://127.0.0.1:{port}/api/messages", data=b"x") as resp:
                    if resp.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError("server did not start")


async def load(
    port: int,
    service_url: str,
    users: int,
    seconds: float,
    next_text: Callable[[], str],
    measuring: Callable[[], None],
) -> list[float]:
    """`measuring` is called once warm-up is over, just before the measured turns start."""
    url = f"http://127.0.0.1:{port}/api/messages"
    latencies: list[float] = []
    errors = 0
    stop_at = 0.0

    async def user(n: int, http: aiohttp.ClientSession, record: bool) -> None:
        nonlocal errors
        turn = 0
        while time.perf_counter() < stop_at:
            turn += 1
            body = activity(n, turn, next_text(), service_url)
            started = time.perf_counter()
            async with http.post(url, json=body) as resp:
                await resp.read()
                if resp.status >= 300:
                    errors += 1
            if record:
                latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=users * 2)
    async with aiohttp.ClientSession(connector=connector) as http:
        stop_at = time.perf_counter() + 1.0  # warm-up: connections, caches, the first state rows
        await asyncio.gather(*(user(n, http, False) for n in range(users)))
        measuring()
        stop_at = time.perf_counter() + seconds
        await asyncio.gather(*(user(n, http, True) for n in range(users)))
    if errors:
        raise RuntimeError(f"{errors} turns failed")
    return latencies


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def rss_mb(pid: int) -> float:
    """Resident memory of a process now (VmRSS), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5), counted after the name
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    turns: int
    rate: float  # turns/s
    p50: float  # ms
    p99: float  # ms
    rss: float  # MiB, at the end
    cpu: float  # ms of the bot's CPU per turn
    replies: float  # activities that reached the connector per turn


async def count_cases(database_url: str) -> int:
    from sqlalchemy import text

    from storage.db import create_engine

    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(text("SELECT count(*) FROM safeguarding_case"))).scalar_one())
    finally:
        await engine.dispose()


async def time_startup(database_url: str, log: Path) -> float:
    """Seconds from launching `python -m bot` until GET /healthz answers 200."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "SAFESPACE_LOG_LEVEL": "WARNING",
    }
    with log.open("wb") as stderr:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "bot"], cwd=ROOT, env=env, stderr=stderr)
    try:
        async with aiohttp.ClientSession() as http:
            while time.perf_counter() - started < 60:
                if proc.poll() is not None:
                    raise RuntimeError(f"python -m bot exited with {proc.returncode}: see {log}")
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                        if resp.status == 200:
                            return time.perf_counter() - started
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.02)
        raise TimeoutError("python -m bot did not answer /healthz within 60 s")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def pin_here(cpus: set[int] | None) -> None:
    """Keep this process (and the threads it starts from now on) on these CPUs, where the machine allows it."""
    if cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cpus)


async def measure(
    variant: str,
    users: int,
    seconds: float,
    database_url: str | None,
    connector: Connector,
    service_url: str,
    cpus: set[int] | None = None,
) -> Result:
    """One bot in its own process (pinned to `cpus` when given), `users` users for `seconds` after a warm-up."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", variant, "--port", str(port)]
        + (["--database-url", database_url] if database_url else [])
        + (["--cpus", ",".join(map(str, sorted(cpus)))] if cpus else []),
        cwd=ROOT,
        env={**os.environ, "SAFESPACE_LOG_LEVEL": "WARNING"},
    )
    before: dict[str, float] = {}

    def measuring() -> None:
        before["cpu"] = cpu_seconds(proc.pid)
        before["received"] = connector.received

    try:
        await wait_ready(port, proc)
        latencies = await load(port, service_url, users, seconds, texts_for(variant), measuring)
        cpu = cpu_seconds(proc.pid) - before["cpu"]
        received = connector.received - before["received"]
        rss = rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    n = len(latencies)
    return Result(
        turns=n,
        rate=n / seconds,
        p50=statistics.median(latencies) * 1000,
        p99=percentile(latencies, 99) * 1000,
        rss=rss,
        cpu=cpu / n * 1000,
        replies=received / n,
    )


async def main(users: int, seconds: float, postgres: str | None) -> None:
    if postgres is None:
        await run(users, seconds, None)
        return
    from benchmarks.live_quiz import fresh_postgres

    async with fresh_postgres(postgres) as url:
        await run(users, seconds, url)


async def run(users: int, seconds: float, database_url: str | None) -> None:
    load_before = os.getloadavg()[0]  # other work on the machine skews every number here: say how much there was
    scratch = Path(tempfile.mkdtemp(prefix="safespace-bench-"))
    startup_url = f"sqlite:///{scratch / 'startup.db'}"
    # A fresh file (migrations run), then the file that start made.
    startup = [await time_startup(startup_url, scratch / f"startup-{n}.log") for n in (1, 2)]

    connector = Connector()
    service_url = await connector.start()
    results: dict[str, Result] = {}
    cases: dict[str, int] = {}
    for variant in VARIANTS:
        url = database_url
        if variant in SAFESPACE and url is None:
            url = f"sqlite:///{scratch / (variant + '.db')}"
        results[variant] = await measure(variant, users, seconds, url, connector, service_url)
        if variant in SAFESPACE and url is not None:
            cases[variant] = await count_cases(url)
    await connector.runner.cleanup()

    database = "sqlite" if database_url is None else "postgresql"
    print(
        f"\n{users} concurrent users, {seconds:.0f} s per bot, loopback, one bot process each; "
        f"safespace on {database}; {os.cpu_count()} CPUs shared by the bot and this load; "
        f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after\n"
    )
    print(
        f"{'bot':<15} {'turns':>7} {'turns/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'RSS MiB':>8} "
        f"{'CPU ms/turn':>12} {'replies/turn':>13}"
    )
    for variant, r in results.items():
        print(
            f"{variant:<15} {r.turns:>7} {r.rate:>9.1f} {r.p50:>8.2f} {r.p99:>8.2f} {r.rss:>8.1f} "
            f"{r.cpu:>12.2f} {r.replies:>13.2f}"
        )
    stock, cached, edge, agents, safe, text = (results[v] for v in VARIANTS)
    print(f"\necho-cached / echo-stock, turns/s       : {cached.rate / stock.rate:.1f}x")
    print(f"echo-edge / echo-stock, turns/s         : {edge.rate / stock.rate:.1f}x  (target: at least 5x)")
    print(f"safespace / echo-cached, p50            : {safe.p50 / cached.p50:.2f}x")
    print(f"safespace / echo-edge, p50              : {safe.p50 / edge.p50:.2f}x  (target: at most 1.5x)")
    print(f"safespace (help) / agents-echo, turns/s : {safe.rate / agents.rate:.2f}x  (target: at least 1.0x)")
    print(f"safespace-text p99                      : {text.p99:.1f} ms  (target: at most 150 ms)")
    print(
        f"start-up, python -m bot to /healthz 200 : {startup[0]:.2f} s on a new database, "
        f"{startup[1]:.2f} s on an existing one  (target: under 10 s)"
    )
    opened = cases.get("safespace-text", 0) - cases.get("safespace", 0) if database_url else cases["safespace-text"]
    print(f"cases opened by safespace-text          : {opened}  (must be 0: its texts are benign)")
    if opened:
        raise SystemExit(f"safespace-text opened cases: a text the bench sends is not benign (see {scratch})")
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument(
        "--postgres",
        nargs="?",
        const="postgresql://postgres@127.0.0.1:5432/test",
        help="run Safe Space on a fresh database on this PostgreSQL server instead of SQLite",
    )
    parser.add_argument("--serve", choices=(*VARIANTS, FLOOR), help=argparse.SUPPRESS)
    parser.add_argument("--cpus", help=argparse.SUPPRESS)  # for the child: the CPUs to pin itself to
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        pin_here({int(cpu) for cpu in args.cpus.split(",")} if args.cpus else None)
        serve(args.serve, args.port, args.database_url)
    else:
        asyncio.run(main(args.users, args.seconds, args.postgres))
