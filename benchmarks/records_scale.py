"""How fast the safeguarding team's records answer at scale (issue 11): `open cases`, `case REF` and `report`.

PostgreSQL: creates its own database on the local server (SAFESPACE_TEST_DATABASE_URL, default
postgresql://postgres@127.0.0.1:5432/test names the server), migrates it, fills it with generate_series (100,000
cases and 1,000,000 chronology events by default, about 5 % of cases open, five years of history, quiz attempts),
times each view through the same storage functions the bot calls, and drops the database afterwards.
SQLite: the same at 10,000 cases (rows made in Python; SQLite has no generate_series).

    .venv/bin/python benchmarks/records_scale.py                      # 100,000 cases on PostgreSQL, 10,000 on SQLite
    .venv/bin/python benchmarks/records_scale.py --cases 10000 --sqlite-cases 2000 --repeat 20   # a short run

Each view is run --repeat times after one warm-up; p50 and p99 are printed in milliseconds. The target is 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
from sqlalchemy import insert, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storage import case_report, case_views, cases
from storage.db import Database, open_database
from storage.migrate import migrate
from storage.models import Case, CaseEvent, QuizAnswer, QuizAttempt
from storage.types import utcnow

CATEGORIES = ("radicalisation", "bullying", "online_safety", "abuse", "wellbeing", "other")
DECISIONS = ("channel", "social_care", "police", "internal_support", "signposted", "no_further_action")
MINUTES_APART = 26  # 100,000 cases over about five years
TARGET_MS = 200


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def fill_postgres(url: str, n_cases: int, events_per_case: int) -> None:
    conn = await asyncpg.connect(_dsn(url))
    try:
        now = utcnow()
        await conn.execute(
            """
            INSERT INTO safeguarding_case (source, urgent, incomplete, category, about, description, reporter_aad_id,
                reporter_role, reporter_hidden, contact_ok, reference, status, created_at, owner_aad_id, owner_name,
                acknowledged_at, decision, decided_by, decision_confirmed_by, closed_at, escalated_at, version)
            SELECT 'learner', g % 7 = 0, false, ($3::text[])[1 + g % 6], 'self', 'benchmark case ' || g,
                'learner-' || (g % 5000), 'learner', g % 4 = 0, true,
                'SS-' || (2000 + g / 1000000) || '-' || lpad((g % 1000000)::text, 6, '0'),
                CASE WHEN g % 20 <> 0 THEN 'closed' WHEN g % 40 = 0 THEN 'new' ELSE 'acknowledged' END,
                $1::timestamptz - (g * interval '1 minute' * $2::int),
                CASE WHEN g % 40 = 0 THEN NULL ELSE 'dso-' || (g % 3) END,
                CASE WHEN g % 40 = 0 THEN NULL ELSE 'DSO ' || (g % 3) END,
                CASE WHEN g % 40 = 0 THEN NULL
                     ELSE $1::timestamptz - (g * interval '1 minute' * $2::int) + ((g % 90) * interval '1 minute') END,
                CASE WHEN g % 20 <> 0 THEN ($4::text[])[1 + g % 6] END,
                CASE WHEN g % 20 <> 0 THEN 'DSO 1' END,
                CASE WHEN g % 20 <> 0 AND g % 6 = 5 THEN 'Director' END,
                CASE WHEN g % 20 <> 0
                     THEN $1::timestamptz - (g * interval '1 minute' * $2::int) + interval '3 days' END,
                CASE WHEN g % 97 = 0 THEN $1::timestamptz - (g * interval '1 minute' * $2::int) + interval '1 hour' END,
                4
            FROM generate_series(1, $5::int) AS g
            """,
            now,
            MINUTES_APART,
            list(CATEGORIES),
            list(DECISIONS),
            n_cases,
        )
        await conn.execute(
            """
            INSERT INTO case_event (case_id, at, actor_aad_id, actor_name, kind, detail)
            SELECT c.id, c.created_at + k * interval '37 minutes', 'dso-1', 'DSO 1',
                CASE WHEN k = 1 THEN 'created' ELSE 'note' END,
                '{"text": "benchmark note ' || k || '"}'
            FROM safeguarding_case c, generate_series(1, $1::int) AS k
            """,
            events_per_case,
        )
        await conn.execute(
            """
            INSERT INTO quiz_attempt (user_aad_id, conversation_id, mode, value, question_count, score, started_at,
                finished_at)
            SELECT 'learner-' || (g % 5000), 'conv-' || g, 'self', 'mixed', 4, 2,
                $1::timestamptz - g * interval '90 minutes', $1::timestamptz - g * interval '90 minutes'
            FROM generate_series(1, $2::int) AS g
            """,
            now,
            max(1, n_cases // 4),
        )
        await conn.execute(
            """
            INSERT INTO quiz_answer (attempt_id, question_id, value, chosen, correct)
            SELECT a.id, 'q' || k, (ARRAY['democracy','rule_of_law','individual_liberty','mutual_respect'])[k],
                0, (a.id + k) % 3 <> 0
            FROM quiz_attempt a, generate_series(1, 4) AS k
            """
        )
        # What autovacuum does soon after a bulk load in production: statistics, and the visibility map that lets
        # the queue read its partial index alone.
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def fill_sqlite(database: Database, n_cases: int, events_per_case: int) -> None:
    now = utcnow()
    case_rows = []
    for g in range(1, n_cases + 1):
        created = now - dt.timedelta(minutes=MINUTES_APART * g)
        is_new, is_open = g % 40 == 0, g % 20 == 0
        case_rows.append(
            {
                "id": g,
                "source": "learner",
                "urgent": g % 7 == 0,
                "incomplete": False,
                "category": CATEGORIES[g % 6],
                "about": "self",
                "description": f"benchmark case {g}",
                "reporter_aad_id": f"learner-{g % 5000}",
                "reporter_role": "learner",
                "reporter_hidden": g % 4 == 0,
                "contact_ok": True,
                "reference": f"SS-2000-{g:06d}",
                "status": "new" if is_new else "acknowledged" if is_open else "closed",
                "created_at": created,
                "owner_aad_id": None if is_new else f"dso-{g % 3}",
                "owner_name": None if is_new else f"DSO {g % 3}",
                "acknowledged_at": None if is_new else created + dt.timedelta(minutes=g % 90),
                "decision": None if is_open else DECISIONS[g % 6],
                "escalated_at": created + dt.timedelta(hours=1) if g % 97 == 0 else None,
                "version": 4,
            }
        )
    async with database.sessions.begin() as session:
        for start in range(0, len(case_rows), 2000):
            await session.execute(insert(Case), case_rows[start : start + 2000])
        event_rows = [
            {
                "case_id": row["id"],
                "at": row["created_at"] + dt.timedelta(minutes=37 * k),
                "actor_aad_id": "dso-1",
                "actor_name": "DSO 1",
                "kind": "created" if k == 1 else "note",
                "detail": f'{{"text": "benchmark note {k}"}}',
            }
            for row in case_rows
            for k in range(1, events_per_case + 1)
        ]
        for start in range(0, len(event_rows), 5000):
            await session.execute(insert(CaseEvent), event_rows[start : start + 5000])
        attempts = [
            {
                "id": g,
                "user_aad_id": f"learner-{g % 5000}",
                "conversation_id": f"conv-{g}",
                "mode": "self",
                "value": "mixed",
                "question_count": 4,
                "score": 2,
                "started_at": now - dt.timedelta(minutes=90 * g),
                "finished_at": now - dt.timedelta(minutes=90 * g),
            }
            for g in range(1, max(1, n_cases // 4) + 1)
        ]
        await session.execute(insert(QuizAttempt), attempts)
        values = ("democracy", "rule_of_law", "individual_liberty", "mutual_respect")
        answers = [
            {
                "attempt_id": a["id"],
                "question_id": f"q{k}",
                "value": values[k],
                "chosen": 0,
                "correct": (a["id"] + k) % 3 != 0,
            }
            for a in attempts
            for k in range(4)
        ]
        for start in range(0, len(answers), 5000):
            await session.execute(insert(QuizAnswer), answers[start : start + 5000])
    async with database.engine.begin() as conn:
        await conn.execute(text("ANALYZE"))


async def timed(label: str, repeat: int, job) -> tuple[str, float, float]:
    await job(0)  # warm-up: plans, connections
    samples = []
    for n in range(repeat):
        started = time.perf_counter()
        await job(n + 1)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p50 = statistics.median(samples)
    p99 = samples[min(len(samples) - 1, round(0.99 * (len(samples) - 1)))]
    return label, p50, p99


async def measure(database: Database, n_cases: int, repeat: int) -> list[tuple[str, float, float]]:
    async with database.read_sessions() as session:
        references = [r for (r,) in await session.execute(select(Case.reference).order_by(Case.id).limit(n_cases))]
    today = utcnow()
    month_end = today.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    month_start = (month_end - dt.timedelta(days=1)).replace(day=1)
    year_start = month_end - dt.timedelta(days=365)

    async def queue(_: int) -> None:
        async with database.read_sessions() as session:
            await case_views.open_queue(session=session, now=utcnow(), ack_minutes=30, urgent_ack_minutes=5)

    async def my_cases(_: int) -> None:
        async with database.read_sessions() as session:
            await case_views.open_queue(
                session=session, now=utcnow(), ack_minutes=30, urgent_ack_minutes=5, owner_aad_id="dso-1", mine=True
            )

    async def case_ref(n: int) -> None:
        reference = references[(n * 7919) % len(references)]
        async with database.sessions.begin() as session:  # what `case REF` does: find, record the look, read a page
            found = await cases.get_by_reference(session=session, reference=reference)
            assert found is not None and found.id is not None
            await cases.record_event(
                session=session, case_id=found.id, kind="viewed", actor_aad_id="dso-1", actor_name="DSO 1"
            )
        async with database.read_sessions() as session:
            await case_views.history(session=session, case_id=found.id)

    def report(start: dt.datetime):
        async def run(_: int) -> None:
            async with database.read_sessions() as session:
                await case_report.report_figures(
                    session=session, start=start, end=month_end, now=utcnow(), ack_minutes=30, urgent_ack_minutes=5
                )

        return run

    return [
        await timed("open cases", repeat, queue),
        await timed("my cases", repeat, my_cases),
        await timed("case REF", repeat, case_ref),
        await timed("report (a month)", repeat, report(month_start)),
        await timed("report (a year)", repeat, report(year_start)),
    ]


def show(title: str, rows: list[tuple[str, float, float]]) -> None:
    print(f"\n{title}")
    print(f"  {'view':<18} {'p50 ms':>8} {'p99 ms':>8}")
    for label, p50, p99 in rows:
        flag = "" if p99 < TARGET_MS else f"  (over {TARGET_MS} ms)"
        print(f"  {label:<18} {p50:8.1f} {p99:8.1f}{flag}")


async def run_postgres(n_cases: int, events_per_case: int, repeat: int) -> None:
    base = os.environ.get("SAFESPACE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    name = f"safespace_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(_dsn(base))
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    database = open_database(url)
    try:
        await migrate(database.engine)
        started = time.perf_counter()
        await fill_postgres(url, n_cases, events_per_case)
        filled = time.perf_counter() - started
        rows = await measure(database, n_cases, repeat)
        show(f"PostgreSQL: {n_cases:,} cases, {n_cases * events_per_case:,} events (filled in {filled:.1f} s)", rows)
    finally:
        await database.dispose()
        admin = await asyncpg.connect(_dsn(base))
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def run_sqlite(n_cases: int, events_per_case: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        database = open_database(f"sqlite:///{Path(folder) / 'bench.db'}")
        try:
            await migrate(database.engine)
            started = time.perf_counter()
            await fill_sqlite(database, n_cases, events_per_case)
            filled = time.perf_counter() - started
            rows = await measure(database, n_cases, repeat)
            show(f"SQLite: {n_cases:,} cases, {n_cases * events_per_case:,} events (filled in {filled:.1f} s)", rows)
        finally:
            await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000, help="cases on PostgreSQL (default 100,000)")
    parser.add_argument("--events-per-case", type=int, default=10, help="chronology events per case (default 10)")
    parser.add_argument("--sqlite-cases", type=int, default=10_000, help="cases on SQLite (default 10,000; 0 skips)")
    parser.add_argument("--repeat", type=int, default=100, help="timed runs of each view (default 100)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args()
    if not args.no_postgres and args.cases > 0:
        asyncio.run(run_postgres(args.cases, args.events_per_case, args.repeat))
    if args.sqlite_cases > 0:
        asyncio.run(run_sqlite(args.sqlite_cases, args.events_per_case, args.repeat))


if __name__ == "__main__":
    main()
