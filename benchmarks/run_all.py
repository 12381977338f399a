"""Every turn benchmark in one run, one table: Safe Space against the stock bots and the floor under them all.

    .venv/bin/python benchmarks/run_all.py                   # the full run: 15 s per bot, about 6 minutes
    .venv/bin/python benchmarks/run_all.py --write-readme    # the same, then the README's performance section
    .venv/bin/python benchmarks/run_all.py --quick           # a few seconds per bot, to see that it all works

`python3 dev.py test` installs what it needs (requirements/test.lock has the `bench` extra: the Microsoft 365
Agents SDK). PostgreSQL rows use a fresh database per row on --postgres (postgresql://postgres@127.0.0.1:5432/test
by default), dropped afterwards; `--no-postgres` leaves them out.

Rows (each bot in its own process, started fresh):
  safespace help         Safe Space's `help` turn: state, the conversation log, routing, the safety net
  safespace text         a new 25-word everyday message every turn: the safety net's model reads each one
  live-quiz burst        benchmarks/live_quiz.py: a year group answers one live-quiz question in a burst of
                         invokes in one group chat (its own shape: the users column says how many)
  echo-stock             botbuilder 4.17.1's echo bot as shipped
  echo-cached            the same, with connector clients reused (bot/edge/connector_cache.py)
  echo-edge              the echo bot on Safe Space's own edge: everything Safe Space's turn has but the bot
  agents-echo            the Microsoft 365 Agents SDK 1.9 echo bot, wired as its quickstart, anonymous
  aiohttp-floor          a bare aiohttp handler that reads the activity and posts the echo: the floor

The 16 users each have their own 1:1 conversation and send their next message as soon as the last is answered
(turn_latency.py's load, reused). Where the machine has two or more CPUs, each bot is pinned to the last one and
this process (the users and the fake Bot Connector) to the others, so the bot's numbers are one core's. CPU per
turn is the bot process's user + system time (all threads, from /proc) over the measured turns; RSS is its
resident memory at the end. The ratio columns divide by agents-echo's row.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import re
import shutil
import statistics
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.live_quiz import fresh_postgres, measure_burst, percentile  # noqa: E402
from benchmarks.turn_latency import FLOOR, Connector, count_cases, measure, pin_here, time_startup  # noqa: E402

README = ROOT / "README.md"
START = "<!-- benchmarks/run_all.py: start -->"
END = "<!-- benchmarks/run_all.py: end -->"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
USERS = 16
REFERENCE = "agents-echo"


@dataclass(frozen=True)
class Row:
    bot: str
    database: str  # "" for bots with no database
    users: int
    turns: int
    rate: float  # turns/s
    p50: float  # ms
    p99: float  # ms
    cpu: float  # ms of the bot's CPU per turn
    rss: float  # MiB
    paced: bool = False  # turns/s is the rate the answers were sent at, not what the bot could take


@dataclass(frozen=True)
class Plan:
    seconds: float  # measured per bot, after turn_latency's 1 s warm-up
    learners: int  # in the live-quiz burst
    within: float  # seconds the burst's answers arrive over
    startup: bool


FULL = Plan(seconds=15.0, learners=300, within=5.0, startup=True)
QUICK = Plan(seconds=3.0, learners=60, within=2.0, startup=False)


def cpu_split() -> tuple[set[int] | None, set[int] | None]:
    """(the bot's CPUs, this process's CPUs): the last allowed CPU for the bot, the rest for the load."""
    if not hasattr(os, "sched_getaffinity"):
        return None, None
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return None, None
    return {allowed[-1]}, set(allowed[:-1])


@asynccontextmanager
async def database(kind: str, scratch: Path, name: str, postgres: str) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{scratch / (name + '.db')}"
        return
    async with fresh_postgres(postgres) as url:
        yield url


async def turn_row(
    bot: str, variant: str, kind: str, plan: Plan, cpus: set[int] | None, scratch: Path, postgres: str
) -> Row:
    connector = Connector()
    service_url = await connector.start()
    try:
        if variant.startswith("safespace"):
            async with database(kind, scratch, variant, postgres) as url:
                result = await measure(variant, USERS, plan.seconds, url, connector, service_url, cpus)
                if variant == "safespace-text" and (opened := await count_cases(url)):
                    raise SystemExit(f"safespace-text opened {opened} cases: a text the bench sends is not benign")
        else:
            result = await measure(variant, USERS, plan.seconds, None, connector, service_url, cpus)
    finally:
        await connector.runner.cleanup()
    return Row(bot, kind, USERS, result.turns, result.rate, result.p50, result.p99, result.cpu, result.rss)


async def burst_row(kind: str, plan: Plan, cpus: set[int] | None, scratch: Path, postgres: str) -> Row:
    async with database(kind, scratch, "live-quiz", postgres) as url:
        burst = await measure_burst(plan.learners, plan.within, url, cpus)
    if not burst.ok:
        raise SystemExit(f"the live-quiz burst lost or doubled answers: {burst.failures[:3]}")
    n = len(burst.latencies)
    return Row(
        "live-quiz burst",
        kind,
        plan.learners,
        n,
        n / burst.took,
        statistics.median(burst.latencies) * 1000,
        percentile(burst.latencies, 99) * 1000,
        burst.cpu / n * 1000,
        burst.rss,
        paced=True,
    )


def table(rows: list[Row], markdown: bool) -> str:
    reference = next((r for r in rows if r.bot == REFERENCE), None)
    head = ["bot", "database", "users", "turns", "turns/s", "p50 ms", "p99 ms", "CPU ms/turn", "RSS MiB"]
    head += [f"turns/s ÷ {REFERENCE}", f"CPU/turn ÷ {REFERENCE}"]
    lines = []
    for r in rows:
        ratios = ["", ""]
        if reference is not None:
            ratios = ["-" if r.paced else f"{r.rate / reference.rate:.2f}x", f"{r.cpu / reference.cpu:.2f}x"]
        lines.append(
            [
                r.bot,
                r.database or "-",
                str(r.users),
                str(r.turns),
                f"{r.rate:.0f}",
                f"{r.p50:.1f}",
                f"{r.p99:.1f}",
                f"{r.cpu:.2f}",
                f"{r.rss:.0f}",
                *ratios,
            ]
        )
    if markdown:
        out = [
            "| " + " | ".join(head) + " |",
            "|" + "|".join("---" if i < 2 else "---:" for i in range(len(head))) + "|",
        ]
        return "\n".join(out + ["| " + " | ".join(line) + " |" for line in lines])
    widths = [max(len(head[i]), *(len(line[i]) for line in lines)) for i in range(len(head))]

    def fmt(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join([fmt(head), *(fmt(line) for line in lines)])


def readme_section(rows: list[Row], context: str, startup: list[float] | None) -> str:
    lines = [
        START,
        "",
        f"`benchmarks/run_all.py`, {context}:",
        "",
        table(rows, markdown=True),
        "",
        f"Each bot in its own process; {USERS} users, each in their own 1:1 conversation, send their next message "
        "as soon as the last one is answered; the live-quiz burst is its own shape (the users column: one group "
        "chat answering one question, sent over a few seconds, so its turns/s is the pace they were sent at, not a "
        "capacity). CPU per turn is the bot process's, all threads. Ratios are against the "
        "Microsoft 365 Agents SDK 1.9 echo bot.",
    ]
    if startup:
        lines += [
            "",
            f"Start-up, `python -m bot` to `/healthz` 200: {startup[0]:.1f} s on a new database, "
            f"{startup[1]:.1f} s on an existing one. The model's time per message on one core: "
            "`benchmarks/understanding_latency.py`.",
        ]
    return "\n".join([*lines, "", END])


def write_readme(section: str) -> None:
    text = README.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"README.md has no {START} ... {END} markers")
    README.write_text(pattern.sub(lambda _: section, text, count=1), encoding="utf-8")


async def run(plan: Plan, postgres: str | None, quick: bool, readme: bool) -> None:
    bot_cpus, load_cpus = cpu_split()
    pin_here(load_cpus)
    load_before = os.getloadavg()[0]
    scratch = Path(tempfile.mkdtemp(prefix="safespace-run-all-"))
    kinds = ["sqlite", *(["postgresql"] if postgres else [])]
    jobs: list[tuple[str, Callable[[], Awaitable[Row]]]] = []
    for kind in kinds:
        for bot, variant in (("safespace help", "safespace"), ("safespace text", "safespace-text")):
            jobs.append(
                (
                    f"{bot} on {kind}",
                    lambda b=bot, v=variant, k=kind: turn_row(b, v, k, plan, bot_cpus, scratch, postgres or ""),
                )
            )
    for kind in kinds:
        jobs.append(
            (f"live-quiz burst on {kind}", lambda k=kind: burst_row(k, plan, bot_cpus, scratch, postgres or ""))
        )
    for variant in ("echo-stock", "echo-cached", "echo-edge", REFERENCE, FLOOR):
        jobs.append((variant, lambda v=variant: turn_row(v, v, "", plan, bot_cpus, scratch, "")))

    rows: list[Row] = []
    for label, job in jobs:
        print(f"[run_all] {label} ...", file=sys.stderr, flush=True)
        rows.append(await job())
    startup = None
    if plan.startup:
        url = f"sqlite:///{scratch / 'startup.db'}"
        startup = [await time_startup(url, scratch / f"startup-{n}.log") for n in (1, 2)]
    shutil.rmtree(scratch, ignore_errors=True)

    pinned = f"bot pinned to CPU {min(bot_cpus)}, load on {sorted(load_cpus or [])}" if bot_cpus else "not pinned"
    context = (
        f"{dt.date.today().isoformat()}, {os.cpu_count()} CPUs ({pinned}), "
        f"{'--quick, ' if quick else ''}{plan.seconds:.0f} s per bot, "
        f"load average {load_before:.2f} before and {os.getloadavg()[0]:.2f} after"
    )
    print(f"\n{context}\n")
    print(table(rows, markdown=False))
    if startup:
        print(
            f"\nstart-up, python -m bot to /healthz 200: {startup[0]:.2f} s new database, {startup[1]:.2f} s existing"
        )
    if readme:
        write_readme(readme_section(rows, context, startup))
        print(f"\nwrote the performance section of {README.relative_to(ROOT)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a few seconds per bot: checks it works, proves nothing")
    parser.add_argument("--seconds", type=float, help="measured seconds per bot (overrides the plan)")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="PostgreSQL server for the PostgreSQL rows")
    parser.add_argument("--no-postgres", action="store_true", help="leave the PostgreSQL rows out")
    parser.add_argument("--write-readme", action="store_true", help="regenerate README.md's performance section")
    args = parser.parse_args()
    if args.write_readme and (args.quick or args.seconds is not None):
        parser.error("--write-readme takes the full run only: a short run's figures do not go in the README")
    plan = QUICK if args.quick else FULL
    if args.seconds is not None:
        plan = Plan(args.seconds, plan.learners, plan.within, plan.startup)
    asyncio.run(run(plan, None if args.no_postgres else args.postgres, args.quick, args.write_readme))


if __name__ == "__main__":
    main()
