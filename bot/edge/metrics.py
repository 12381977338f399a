"""`/metrics` in Prometheus' text format (0.0.4), on a port of its own, bound to loopback unless told otherwise.

Turns by activity type, failed turns, how long turns take, what the safety net decided by severity, and (read
from the case store at each scrape) the outbox's depth and lag and the oldest case nobody has acknowledged. Only
counts and times: no text, no names, no ids. Written by hand: the format is a few lines of text, and the client
library would be one more dependency to lock and keep up for five families of numbers.

The port is separate from /api/messages so that it can stay off the internet (a scraper inside the network
reaches it; Teams never needs to), and a scrape never queues behind turns' connections.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from bot import __version__
from storage.backlog import Backlog, read_backlog
from storage.db import Database
from storage.types import utcnow

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Activity types as the Bot Framework defines them; anything else a client sends is counted as "other", so a
# caller cannot grow the series without bound.
ACTIVITY_TYPES = frozenset(
    {
        "message",
        "conversationUpdate",
        "invoke",
        "messageReaction",
        "messageUpdate",
        "messageDelete",
        "installationUpdate",
        "typing",
        "event",
        "endOfConversation",
        "contactRelationUpdate",
        "deleteUserData",
        "trace",
        "handoff",
        "command",
        "commandResult",
        "proactive",  # not the Bot Framework's: a turn the bot started itself (bot/edge/turn_observer.py)
    }
)
SEVERITIES = ("none", "medium", "high")
# Seconds. A help turn takes a few ms; a free-text turn that the model reads tens; a database in trouble, seconds.
TURN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def turn_kind(activity_type: str | None) -> str:
    """The activity type if it is one of ACTIVITY_TYPES, else "other": fit for a label or a log line."""
    return activity_type if activity_type in ACTIVITY_TYPES else "other"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


@dataclass(frozen=True, slots=True)
class Sample:
    value: float
    labels: tuple[tuple[str, str], ...] = ()
    suffix: str = ""  # _bucket, _sum, _count for a histogram's lines

    def line(self, name: str) -> str:
        labels = ",".join(f'{key}="{_escape(value)}"' for key, value in self.labels)
        return (
            f"{name}{self.suffix}{{{labels}}} {_number(self.value)}"
            if labels
            else f"{name}{self.suffix} {_number(self.value)}"
        )


@dataclass(frozen=True, slots=True)
class Family:
    name: str
    kind: str  # counter | gauge | histogram
    help: str
    samples: Sequence[Sample]

    def text(self) -> str:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]
        lines += [sample.line(self.name) for sample in self.samples]
        return "\n".join(lines) + "\n"


@dataclass
class _Histogram:
    buckets: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * len(self.buckets)

    def observe(self, value: float) -> None:
        self.total += value
        self.count += 1
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[i] += 1  # cumulative, as the format wants: each bucket counts everything up to it

    def samples(self) -> list[Sample]:
        lines = [
            Sample(count, (("le", _number(bound)),), "_bucket")
            for bound, count in zip(self.buckets, self.counts, strict=True)
        ]
        lines.append(Sample(self.count, (("le", "+Inf"),), "_bucket"))
        return [*lines, Sample(self.total, (), "_sum"), Sample(self.count, (), "_count")]


Collector = Callable[[], Awaitable[Iterable[Family]]]


class Metrics:
    """This process's counters, and collectors that read the rest when scraped. Not thread-safe: the event loop
    is the only writer."""

    def __init__(self) -> None:
        self.turns: dict[str, int] = {}
        self.turn_errors: dict[str, int] = {}
        self.triage_by_severity: dict[str, int] = dict.fromkeys(SEVERITIES, 0)
        self._turn_seconds = _Histogram(TURN_BUCKETS)
        self._collectors: list[Collector] = []

    def turn(self, activity_type: str | None, seconds: float, *, failed: bool) -> None:
        kind = turn_kind(activity_type)
        self.turns[kind] = self.turns.get(kind, 0) + 1
        if failed:
            self.turn_errors[kind] = self.turn_errors.get(kind, 0) + 1
        self._turn_seconds.observe(seconds)

    def triage(self, severity: str) -> None:
        """One message read by the safety net, by what it decided: none, medium or high."""
        self.triage_by_severity[severity] = self.triage_by_severity.get(severity, 0) + 1

    def add_collector(self, collector: Collector) -> None:
        self._collectors.append(collector)

    def families(self) -> list[Family]:
        return [
            Family("safespace_info", "gauge", "The running version.", [Sample(1, (("version", __version__),))]),
            Family(
                "safespace_turns_total",
                "counter",
                "Turns handled by this instance, by activity type.",
                [Sample(n, (("type", kind),)) for kind, n in sorted(self.turns.items())],
            ),
            Family(
                "safespace_turn_errors_total",
                "counter",
                "Turns that failed with an error (the person was told to try again), by activity type.",
                [Sample(n, (("type", kind),)) for kind, n in sorted(self.turn_errors.items())],
            ),
            Family(
                "safespace_turn_duration_seconds",
                "histogram",
                "How long turns took, from the activity reaching the bot to its last reply being sent.",
                self._turn_seconds.samples(),
            ),
            Family(
                "safespace_triage_total",
                "counter",
                "Messages read by the safety net, by the severity it decided (high: emergency contacts and an "
                "urgent case; medium: an offer to report or talk).",
                [Sample(n, (("severity", severity),)) for severity, n in self.triage_by_severity.items()],
            ),
            *_process_families(),
        ]

    async def exposition(self) -> str:
        families = self.families()
        for collector in self._collectors:
            try:
                families.extend(await collector())
            except Exception as exc:  # a scrape must answer with what it has; the collector says what is missing
                log.warning("a metrics collector failed (%s)", type(exc).__name__)
        return "".join(family.text() for family in families)


def _process_families() -> list[Family]:
    """The process's CPU, memory and start time, under the names Prometheus' own clients use (Linux only)."""
    try:
        stat = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        boot = next(
            float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime")
        )
    except (OSError, ValueError, IndexError, StopIteration):
        return []
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(stat[11]) + int(stat[12])) / ticks  # utime and stime: fields 14 and 15 of proc(5)
    started = boot + int(stat[19]) / ticks  # starttime: field 22
    return [
        Family("process_cpu_seconds_total", "counter", "User and system CPU time.", [Sample(cpu)]),
        Family(
            "process_resident_memory_bytes", "gauge", "Resident memory.", [Sample(pages * os.sysconf("SC_PAGE_SIZE"))]
        ),
        Family("process_start_time_seconds", "gauge", "Start time, seconds since the epoch.", [Sample(started)]),
    ]


def backlog_collector(database: Database, clock: Callable[[], dt.datetime] = utcnow) -> Collector:
    """The outbox and unacknowledged cases, read at each scrape; `safespace_database_up` 0 when that fails."""

    async def collect() -> list[Family]:
        started = time.perf_counter()
        try:
            async with database.read_sessions() as session:
                backlog = await read_backlog(session=session, now=clock())
        except Exception as exc:
            log.warning("metrics could not read the case store (%s)", type(exc).__name__)
            return [Family("safespace_database_up", "gauge", "1 when the case store answered.", [Sample(0)])]
        return [
            Family("safespace_database_up", "gauge", "1 when the case store answered.", [Sample(1)]),
            Family(
                "safespace_backlog_read_seconds",
                "gauge",
                "How long reading the backlog figures took at this scrape.",
                [Sample(time.perf_counter() - started)],
            ),
            *backlog_families(backlog),
        ]

    return collect


def backlog_families(backlog: Backlog) -> list[Family]:
    statuses = {"pending": 0, "sending": 0, **backlog.outbox_by_status}
    return [
        Family(
            "safespace_outbox_messages",
            "gauge",
            "Messages in the outbox not yet sent, by status (pending: waiting or backing off; sending: claimed).",
            [Sample(n, (("status", status),)) for status, n in sorted(statuses.items())],
        ),
        Family(
            "safespace_outbox_oldest_due_seconds",
            "gauge",
            "How long the longest-due outbox message has been due without being taken (0 when none is due).",
            [Sample(backlog.oldest_due_seconds)],
        ),
        Family(
            "safespace_outbox_oldest_undelivered_seconds",
            "gauge",
            "Age of the oldest outbox message not yet delivered (0 when none).",
            [Sample(backlog.oldest_undelivered_seconds)],
        ),
        Family(
            "safespace_cases_unacknowledged",
            "gauge",
            "Cases no DSO has acknowledged yet.",
            [Sample(backlog.unacknowledged_cases)],
        ),
        Family(
            "safespace_case_oldest_unacknowledged_seconds",
            "gauge",
            "How long the oldest unacknowledged case has waited (0 when none).",
            [Sample(backlog.oldest_unacknowledged_seconds)],
        ),
    ]


class MetricsServer:
    """GET /metrics on its own aiohttp runner and port."""

    def __init__(self, metrics: Metrics, host: str, port: int) -> None:
        self._metrics = metrics
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self.port: int | None = None  # as bound (port 0 picks a free one)

    async def start(self) -> None:
        async def scrape(_request: web.Request) -> web.Response:
            return web.Response(
                body=(await self._metrics.exposition()).encode(), headers={"Content-Type": CONTENT_TYPE}
            )

        app = web.Application()
        app.router.add_get("/metrics", scrape)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []  # aiohttp keeps the bound socket there
        self.port = int(sockets[0].getsockname()[1]) if sockets else self._port
        log.info("metrics on http://%s:%s/metrics", self._host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
