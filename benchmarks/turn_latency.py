"""Turn latency over loopback: a stock echo bot, the same echo bot with our edge fixes, and Safe Space.

    .venv/bin/python benchmarks/turn_latency.py [--users 16] [--seconds 8] [--postgres [BASE_URL]]

Each bot runs in its own process (one core, as in production); this process runs the fake Bot Connector and
16 simulated users, each in its own 1:1 chat, each sending its next message as soon as the last one was
answered. A turn is timed from the POST to /api/messages until its HTTP response, by which time the bot's
reply has reached the connector.

The bots:
  echo-stock    botbuilder's CloudAdapter as shipped
  echo-cached   the same, with connector clients reused (bot/connector_cache.py): the issue's "fixed" echo
  echo-edge     the same echo bot on Safe Space's own edge: bot/http.py and ConnectorAdapter (cached clients,
                replies sent by bot/connector_sender.py), i.e. everything Safe Space's turn has but the bot
  safespace     Safe Space's menu turn, with state, the conversation log and routing, on a fresh SQLite file
                or, with --postgres, on a fresh database on that server, dropped afterwards
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VARIANTS = ("echo-stock", "echo-cached", "echo-edge", "safespace")


# The servers (run in a child process) ---------------------------------------------------------------------


def serve(variant: str, port: int, database_url: str | None) -> None:
    from botbuilder.core import ActivityHandler, TurnContext
    from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication

    from bot.adapter import _BotConfiguration
    from bot.config import Settings
    from bot.connector_cache import CachingBotFrameworkAuthentication

    if variant == "safespace":
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
        from bot.adapter import ConnectorAdapter
        from bot.http import messages_handler

        edge = web.Application()
        edge.router.add_post("/api/messages", messages_handler(ConnectorAdapter(Settings(_env_file=None)), bot))
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


async def load(port: int, service_url: str, users: int, seconds: float, text: str) -> list[float]:
    url = f"http://127.0.0.1:{port}/api/messages"
    latencies: list[float] = []
    errors = 0
    stop_at = 0.0

    async def user(n: int, http: aiohttp.ClientSession, record: bool) -> None:
        nonlocal errors
        turn = 0
        while time.perf_counter() < stop_at:
            turn += 1
            started = time.perf_counter()
            async with http.post(url, json=activity(n, turn, text, service_url)) as resp:
                await resp.read()
                if resp.status >= 300:
                    errors += 1
            if record:
                latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=users * 2)
    async with aiohttp.ClientSession(connector=connector) as http:
        stop_at = time.perf_counter() + 1.0  # warm-up: connections, caches, the first state rows
        await asyncio.gather(*(user(n, http, False) for n in range(users)))
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


async def main(users: int, seconds: float, postgres: str | None) -> None:
    if postgres is None:
        await run(users, seconds, None)
        return
    from benchmarks.live_quiz import fresh_postgres

    async with fresh_postgres(postgres) as url:
        await run(users, seconds, url)


async def run(users: int, seconds: float, database_url: str | None) -> None:
    connector = Connector()
    service_url = await connector.start()
    results: dict[str, tuple[float, float, float, int]] = {}
    for variant in VARIANTS:
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", variant, "--port", str(port)]
            + (["--database-url", database_url] if database_url else []),
            cwd=ROOT,
            env={**os.environ, "SAFESPACE_LOG_LEVEL": "WARNING"},
        )
        try:
            await wait_ready(port, proc)
            text = "menu" if variant == "safespace" else "hello"
            latencies = await load(port, service_url, users, seconds, text)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        rate = len(latencies) / seconds
        results[variant] = (rate, statistics.median(latencies) * 1000, percentile(latencies, 99) * 1000, len(latencies))
    await connector.runner.cleanup()

    database = "sqlite" if database_url is None else "postgresql"
    print(
        f"\n{users} concurrent users, {seconds:.0f} s per bot, loopback, one bot process each; "
        f"safespace on {database}\n"
    )
    print(f"{'bot':<12} {'turns':>7} {'turns/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for variant, (rate, p50, p99, n) in results.items():
        print(f"{variant:<12} {n:>7} {rate:>9.1f} {p50:>8.2f} {p99:>8.2f}")
    stock, cached, edge, safe = (results[v] for v in VARIANTS)
    print(f"\necho-cached / echo-stock, turns/s : {cached[0] / stock[0]:.1f}x")
    print(f"echo-edge / echo-stock, turns/s   : {edge[0] / stock[0]:.1f}x  (target: at least 5x)")
    print(f"safespace / echo-cached, p50      : {safe[1] / cached[1]:.2f}x")
    print(f"safespace / echo-edge, p50        : {safe[1] / edge[1]:.2f}x  (target: at most 1.5x)")


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
    parser.add_argument("--serve", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.database_url)
    else:
        asyncio.run(main(args.users, args.seconds, args.postgres))
