"""Unauthenticated load: can callers without a token slow Safe Space down? (security review item 8)

    .venv/bin/python benchmarks/unauthenticated_load.py [--requests 20] [--repeats 10]

Safe Space runs in its own process with an app id configured, as in production (`python -m bot`'s own serve,
on a fresh SQLite file, on 127.0.0.1). This process then, for two bodies of exactly 1 MiB, each a well-formed
activity sent with no Authorization header:

  text       one 1 MiB message text
  entities   1 MiB of small mention entities, the most work for msrest's deserializer per byte

measures how long one such request takes to be answered, then keeps `--requests` of them in flight at once for
`--seconds` (from a separate process, so sending them does not slow the measuring side) and measures GET
/healthz meanwhile, against /healthz on an idle server. Every answer should be 401.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.live_quiz import wait_ready  # noqa: E402

APP_ID = "00000000-0000-0000-0000-00000000b07d"
BODY_BYTES = 1024 * 1024
SHAPES = ("text", "entities")


# The server (run in a child process) ----------------------------------------------------------------------


def serve(port: int) -> None:
    from bot.__main__ import serve as serve_safespace
    from bot.config import Settings

    database_url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    settings = Settings(
        _env_file=None,
        app_id=APP_ID,
        app_password="benchmark-not-a-secret",
        app_type="SingleTenant",
        app_tenant_id="00000000-0000-0000-0000-0000000000aa",
        database_url=database_url,
        dso_ids=frozenset({"00000000-0000-0000-0000-0000000000d5"}),
        host="127.0.0.1",
        port=port,
    )
    serve_safespace(settings)


# The bodies ---------------------------------------------------------------------------------------------------


def _activity(text: str, entities: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "message",
        "id": "bench-1",
        "timestamp": "2026-11-25T14:03:00.000Z",
        "serviceUrl": "https://smba.trafficmanager.net/uk/",
        "channelId": "msteams",
        "from": {"id": "29:someone", "name": "Someone", "aadObjectId": "00000000-0000-0000-0000-000000000001"},
        "conversation": {"id": "a:bench", "conversationType": "personal", "tenantId": "t"},
        "recipient": {"id": "28:bot", "name": "Safe Space"},
        "text": text,
        "textFormat": "plain",
        "entities": entities,
        "channelData": {"tenant": {"id": "t"}},
    }


def body(shape: str) -> bytes:
    """A well-formed activity of exactly BODY_BYTES bytes."""
    entities: list[dict[str, Any]] = []
    if shape == "entities":
        mention = {"type": "mention", "text": "<at>Safe Space</at>", "mentioned": {"id": "28:bot", "name": "x"}}
        size = len(json.dumps(mention)) + 2
        entities = [dict(mention) for _ in range((BODY_BYTES - 1024) // size)]
    empty = len(json.dumps(_activity("", entities)).encode())
    data = json.dumps(_activity("x" * (BODY_BYTES - empty), entities)).encode()
    assert len(data) == BODY_BYTES, len(data)
    return data


# Measuring ----------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def post_unauthenticated(http: aiohttp.ClientSession, base: str, data: bytes) -> tuple[int, float]:
    started = time.perf_counter()
    async with http.post(f"{base}/api/messages", data=data, headers={"Content-Type": "application/json"}) as resp:
        await resp.read()
        return resp.status, (time.perf_counter() - started) * 1000


async def flood(base: str, shape: str, requests: int, seconds: float) -> None:
    """Run in its own process, so sending 20 MiB at a time does not slow this side's /healthz probe: keep
    `requests` unauthenticated posts in flight for `seconds`, then print what happened as JSON."""
    data = body(shape)
    answers: list[tuple[int, float]] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=requests)) as http:
        print("ready", flush=True)
        stop_at = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < stop_at:
                answers.append(await post_unauthenticated(http, base, data))

        await asyncio.gather(*(worker() for _ in range(requests)))
    print(json.dumps(answers), flush=True)


async def healthz_latencies(
    http: aiohttp.ClientSession, base: str, *, n: int = 0, while_running: Any = None
) -> list[float]:
    """GET /healthz one after another: `n` times, or for as long as the process `while_running` runs."""
    found: list[float] = []
    while (while_running is None and len(found) < n) or (
        while_running is not None and while_running.returncode is None
    ):
        started = time.perf_counter()
        async with http.get(f"{base}/healthz") as resp:
            await resp.read()
            assert resp.status == 200, resp.status
        found.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.005)  # a probe, not a second flood
    return found


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    median = statistics.median(ordered)
    return f"p50 {median:8.2f} ms   p99 {p99:8.2f} ms   max {ordered[-1]:8.2f} ms   (n={len(ordered)})"


async def measure(base: str, requests: int, repeats: int, seconds: float) -> None:
    async with aiohttp.ClientSession() as probe:
        idle = await healthz_latencies(probe, base, n=200)
    print(f"\nSafe Space with an app id, on 127.0.0.1; bodies of exactly {BODY_BYTES:,} bytes, no Authorization\n")
    print(f"/healthz, idle server                     {summary(idle)}")
    for shape in SHAPES:
        data = body(shape)
        async with aiohttp.ClientSession() as http:
            single = [await post_unauthenticated(http, base, data) for _ in range(repeats)]
        print(f"\n[{shape}] one request at a time, answered {sorted({status for status, _ in single})}")
        print(f"  time to the answer                      {summary([ms for _, ms in single])}")

        crowd = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--flood",
            shape,
            "--port",
            base.rsplit(":", 1)[1],
            "--requests",
            str(requests),
            "--seconds",
            str(seconds),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
        )
        assert crowd.stdout is not None
        assert (await crowd.stdout.readline()).strip() == b"ready"
        async with aiohttp.ClientSession() as probe:
            waiter = asyncio.ensure_future(crowd.wait())
            during = await healthz_latencies(probe, base, while_running=crowd)
            await waiter
        answers = json.loads((await crowd.stdout.read()).decode())
        print(
            f"[{shape}] {requests} requests kept in flight for {seconds:.0f} s, answered "
            f"{sorted({status for status, _ in answers})}"
        )
        print(f"  time to each answer                     {summary([ms for _, ms in answers])}")
        print(f"  answers per second                      {len(answers) / seconds:8.1f}")
        print(f"  /healthz meanwhile                      {summary(during)}")


async def main(requests: int, repeats: int, seconds: float) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "SAFESPACE_LOG_LEVEL": "ERROR"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(port, proc)
        await measure(base, requests, repeats, seconds)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20, help="unauthenticated requests kept in flight at once")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long they are kept in flight, per body")
    parser.add_argument("--repeats", type=int, default=10, help="requests sent one at a time, per body")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--flood", choices=SHAPES, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.port)
    elif args.flood:
        asyncio.run(flood(f"http://127.0.0.1:{args.port}", args.flood, args.requests, args.seconds))
    else:
        asyncio.run(main(args.requests, args.repeats, args.seconds))
