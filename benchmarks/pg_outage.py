"""PostgreSQL restarted under load (issue 12, proof 3): nothing acknowledged is lost, nothing is doubled.

    .venv/bin/python benchmarks/pg_outage.py [--users 16] [--seconds 40] [--outage-at 10] [--down 5] [--mode fast]

Starts a private PostgreSQL server (initdb/pg_ctl in a temporary directory, on a free port; never the machine's
own), one `python -m bot` on it and the fake Bot Connector, registers the safeguarding channel, then runs
`--users` learners who report worries and take quizzes, each sending the same words again when told a turn went
wrong, as a person would. `--outage-at` seconds in, PostgreSQL is stopped (`--mode fast`: sessions ended, a clean
shutdown; `immediate`: like a crash) for `--down` seconds and started again.

It prints how the turns during the outage were answered (never a 5xx with a trace, always some answer), the
recovery time (from PostgreSQL answering again to the first turn that worked, and to the outbox being empty), and
checks, once the outbox has drained, that every report acknowledged to a learner ("Your reference is SS-...") is a
case in the store with exactly one card posted in the channel, and that no report was stored twice.
Exit status 0 when every check holds.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.private_postgres import PrivatePostgres  # noqa: E402
from benchmarks.simulated_users import Learner, Turn, learner_chat_factory  # noqa: E402
from tests.rig.bot_server import BotProcess  # noqa: E402
from tests.rig.fake_connector import FakeConnector  # noqa: E402
from tests.rig.safeguarding import card_text, member  # noqa: E402
from tests.rig.teams import Chat, Person  # noqa: E402

TEAM, CHANNEL = "19:outage-team@thread.tacv2", "19:outage-cases@thread.tacv2"


@dataclass
class Staff:
    dso: Person = field(default_factory=lambda: Person("Claire Lewis"))
    deputy: Person = field(default_factory=lambda: Person("Andrea Lagerberg"))
    director: Person = field(default_factory=lambda: Person("Alan Bates"))
    trainer: Person = field(default_factory=lambda: Person("Tara Trainer"))

    def env(self) -> dict[str, str]:
        return {
            "SAFESPACE_DSO_IDS": f"{self.dso.aad_object_id},{self.deputy.aad_object_id}",
            "SAFESPACE_DIRECTOR_IDS": self.director.aad_object_id,
            "SAFESPACE_TRAINER_IDS": self.trainer.aad_object_id,
        }


@dataclass
class Delivered:
    """What reached the fake connector, read once the run is over."""

    cards_by_reference: Counter[str]  # case cards posted in the channel, per reference


def cards_posted(connector: FakeConnector) -> Delivered:
    counts: Counter[str] = Counter()
    for sent in connector.sent:
        if sent.kind == "create" and sent.conversation_id.startswith(CHANNEL) and sent.cards:
            text = card_text(sent.cards[0])
            for word in text.split():
                if word.startswith("SS-") and word[3:7].isdigit():
                    counts[word.strip(".,:;()")] += 1
                    break
    return Delivered(counts)


async def outbox_waiting(database_url: str) -> int | None:
    try:
        conn = await asyncpg.connect(database_url, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return None
    try:
        return int(await conn.fetchval("SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')"))
    except asyncpg.PostgresError:
        return None
    finally:
        await conn.close()


async def stored_cases(database_url: str) -> list[tuple[str, str]]:
    conn = await asyncpg.connect(database_url, timeout=5)
    try:
        # A report can join a case the safety net opened for a line typed inside it (one worry, one case): its
        # account is then in that case's chronology (the rest of the report, or a line flagged again), not its
        # description. Either is where it is stored; a case holding it twice still counts once.
        rows = await conn.fetch(
            "SELECT c.reference, c.description || ' ' || coalesce(string_agg(e.detail, ' '), '') AS stored"
            " FROM safeguarding_case c LEFT JOIN case_event e ON e.case_id = c.id GROUP BY c.id ORDER BY c.id"
        )
    finally:
        await conn.close()
    return [(r["reference"], r["stored"]) for r in rows]


async def register_channel(http: aiohttp.ClientSession, connector: FakeConnector, url: str, staff: Staff) -> None:
    connector.set_members(TEAM, [member(p) for p in (staff.dso, staff.deputy, staff.director)], CHANNEL)
    chat = Chat(
        http=http,
        bot_url=url,
        connector=connector,
        person=staff.dso,
        conversation_id=CHANNEL,
        conversation_type="channel",
        team_id=TEAM,
        channel_id=CHANNEL,
        membership_type="standard",
    )
    for _ in range(20):
        await chat.say("register safeguarding channel")
        if any("will now be posted here" in (s.text or "") for s in chat.replies_so_far()):
            return
        await asyncio.sleep(0.5)
    raise RuntimeError("could not register the safeguarding channel")


@dataclass
class Result:
    turns: int
    outage_turns: list[Turn]
    recovery_seconds: float
    outbox_resumed_seconds: float
    acknowledged: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


async def run(
    *, users: int = 16, seconds: float = 40.0, outage_at: float = 10.0, down: float = 5.0, mode: str = "fast"
) -> Result:
    pg = PrivatePostgres().init()
    pg.start()
    log_dir = Path(tempfile.mkdtemp(prefix="safespace-outage-"))
    connector = await FakeConnector().start()
    staff = Staff()
    bot: BotProcess | None = None
    try:
        database_url = pg.create_database()
        env = {
            **staff.env(),
            "DATABASE_URL": database_url,
            "MicrosoftAppId": "",
            "SAFESPACE_DELIVERY_POLL_SECONDS": "0.2",
            "SAFESPACE_REPORT_PAUSE_SECONDS": "3600",
            "SAFESPACE_LOG_LEVEL": "WARNING",
        }
        bot = await BotProcess(env).start(log_dir / "bot.log", timeout=60)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
            await register_channel(http, connector, bot.messages_url, staff)
            chat_for = learner_chat_factory(http, connector, [bot.messages_url])
            learners = [Learner(Person(f"Learner {i:02d}"), chat_for, 1) for i in range(users)]
            for index, learner in enumerate(learners):
                learner.rng.seed(index)
            stop = asyncio.Event()

            async def live(learner: Learner) -> None:
                while not stop.is_set():
                    await (learner.report() if learner.rng.random() < 0.6 else learner.quiz())

            started = time.monotonic()
            tasks = [asyncio.create_task(live(learner)) for learner in learners]
            await asyncio.sleep(outage_at)
            print(f"stopping PostgreSQL ({mode}) for {down:.0f}s ...", flush=True)
            went_down, came_up = await asyncio.to_thread(pg.restart, down, mode)
            print(f"PostgreSQL answers again after {came_up - went_down:.1f}s", flush=True)
            # The outbox resumes when the first case card after the outage reaches the channel.
            cards_before = len(cards_posted(connector).cards_by_reference)
            resumed_at: float | None = None
            while resumed_at is None and time.monotonic() - came_up < 60:
                if len(cards_posted(connector).cards_by_reference) > cards_before:
                    resumed_at = time.monotonic()
                await asyncio.sleep(0.05)
            await asyncio.sleep(max(0.0, seconds - (time.monotonic() - started)))
            stop.set()
            await asyncio.gather(*tasks)

            drained_at = None
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                if await outbox_waiting(database_url) == 0:
                    drained_at = time.monotonic()
                    break
                await asyncio.sleep(0.2)
            await asyncio.sleep(1.0)  # the last cards' HTTP calls to the connector

        turns = [t for learner in learners for t in learner.turns]
        during = [t for t in turns if t.ended >= went_down and t.started <= came_up]
        worked_after = [t.ended for t in turns if t.started >= came_up and not t.failed]
        recovery = (min(worked_after) - came_up) if worked_after else float("inf")
        drained = (drained_at - came_up) if drained_at else float("inf")
        resumed = (resumed_at - came_up) if resumed_at else float("inf")

        problems: list[str] = []
        if any((t.status >= 500 and t.status != 503) or t.trace for t in turns):
            problems.append(f"{sum(t.status >= 500 and t.status != 503 for t in turns)} turns answered 5xx or a trace")
        silent = [t for t in during if not t.answered]
        if silent:
            statuses = dict(Counter(t.status for t in silent))
            problems.append(f"{len(silent)} turns during the outage got no answer at all (HTTP {statuses})")
        if resumed_at is None:
            problems.append("no case card was posted within 60 s of PostgreSQL answering again")
        if drained_at is None:
            problems.append("the outbox did not drain within 120 s of the end")

        cases = await stored_cases(database_url)
        references = Counter(ref for ref, _ in cases)
        posted = cards_posted(connector).cards_by_reference
        acknowledged = {ref: token for learner in learners for token, ref in learner.reports.items()}
        for ref, token in sorted(acknowledged.items()):
            if ref not in references:
                problems.append(f"{ref} was acknowledged but is not in the store")
            if posted[ref] != 1:
                problems.append(f"{ref} was acknowledged and its card was posted {posted[ref]} times")
            stored_twice = sum(token in description for _, description in cases)
            if stored_twice != 1:
                problems.append(f"{ref}'s report is stored {stored_twice} times")
        unacknowledged = [ref for ref, description in cases if ref not in acknowledged]
        for ref in unacknowledged:
            if posted[ref] != 1:
                problems.append(f"{ref} (stored, never acknowledged) has {posted[ref]} cards posted")

        print(f"\n{users} learners, {len(turns)} turns in {seconds:.0f}s; PostgreSQL down {came_up - went_down:.1f}s")
        print(f"turns overlapping the outage: {len(during)}, answered with something: {len(during) - len(silent)}, "
              f"HTTP statuses {dict(Counter(t.status for t in during))}")  # fmt: skip
        print(
            f"recovery: first turn that worked {recovery:.2f}s after PostgreSQL answered again; the outbox "
            f"posted its first card {resumed:.2f}s after; empty {drained:.2f}s after (once the load had ended)"
        )
        print(
            f"reports acknowledged: {len(acknowledged)}, cases stored: {len(cases)} "
            f"({len(unacknowledged)} stored but never acknowledged), case cards posted: {sum(posted.values())}"
        )
        print(f"quizzes finished: {sum(learner.quizzes for learner in learners)}")
        print("checks: " + ("all hold" if not problems else "FAILED\n  " + "\n  ".join(problems)))
        return Result(len(turns), during, recovery, resumed, len(acknowledged), problems)
    finally:
        if bot is not None:
            bot.stop()
        await connector.stop()
        pg.cleanup()
        if bot is not None and bot.log_path is not None:
            tail = bot.log_path.read_text(errors="replace")[-3000:]
            print(f"(bot log: {bot.log_path})" if tail else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=40.0, help="how long the load runs")
    parser.add_argument("--outage-at", type=float, default=10.0, help="seconds into the load")
    parser.add_argument("--down", type=float, default=5.0, help="how long PostgreSQL stays stopped")
    parser.add_argument("--mode", choices=("fast", "immediate"), default="fast")
    args = parser.parse_args()
    result = asyncio.run(
        run(users=args.users, seconds=args.seconds, outage_at=args.outage_at, down=args.down, mode=args.mode)
    )
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
