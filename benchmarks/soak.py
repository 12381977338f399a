"""Two instances, one PostgreSQL, a soak (issue 12, proof 4).

    .venv/bin/python benchmarks/soak.py [--minutes 10] [--users 1000] [--pause 10]

Starts a private PostgreSQL server (initdb/pg_ctl in a temporary directory, never the machine's own), two
`python -m bot` processes on it and the fake Bot Connector, registers the safeguarding channel, then for
`--minutes` runs `--users` simulated learners whose every message goes to either instance at random: they report
worries, take quizzes and ask for help, pausing about `--pause` seconds between messages as people do. A trainer
runs a live quiz in a group chat again and again that 20 of them join and answer; a DSO acknowledges, notes and
closes the cases as they come in, except three "timer" cases reported at the start, left alone so their reminder and
escalation fire (the timers are shortened: SAFESPACE_ACK_MINUTES=1, so the reminder is due after a minute and the
escalation after two).

Every minute it prints each process's resident memory (VmRSS), the turns of that minute and their p50/p99. At the
end, once the outbox has drained and the timer cases have escalated, it checks: every case has exactly one card in
the channel and every acknowledged report is a case (no card lost, none posted twice), and each timer case got
exactly one reminder and one escalation (in its chronology, and as messages at the connector), no case more than
one of either. Exit status 0 when every check holds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.pg_outage import Staff, cards_posted, outbox_waiting, register_channel  # noqa: E402
from benchmarks.private_postgres import PrivatePostgres  # noqa: E402
from benchmarks.simulated_users import Learner, learner_chat_factory, percentile  # noqa: E402
from cards.live_quiz_card import FROM_CLOSED  # noqa: E402
from cards.verbs import Verb  # noqa: E402
from tests.rig.bot_server import BotProcess  # noqa: E402
from tests.rig.fake_connector import FakeConnector  # noqa: E402
from tests.rig.teams import Chat, Person  # noqa: E402

TIMER_LABEL = "TIMERCASE"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def executes(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [node] if node.get("type") == "Action.Execute" else []
        return found + [a for value in node.values() for a in executes(value)]
    if isinstance(node, list):
        return [a for value in node for a in executes(value)]
    return []


class Soak:
    def __init__(self, *, users: int, minutes: float, pause: float) -> None:
        self.users = users
        self.minutes = minutes
        self.pause = pause
        self.staff = Staff()
        self.stop = asyncio.Event()
        self.dso_stop = asyncio.Event()  # set once the learners are done, so the last reports are picked up too
        self.problems: list[str] = []
        self.dso_actions = 0
        self.dso_seconds: list[float] = []
        self.live_quizzes = 0
        self.live_answers = 0

    # The people ---------------------------------------------------------------------------------------------

    async def learner_life(self, learner: Learner) -> None:
        await asyncio.sleep(learner.rng.uniform(0, self.pause * 2))  # people arrive over time
        while not self.stop.is_set():
            roll = learner.rng.random()
            try:
                if roll < 0.3:
                    await learner.report()
                elif roll < 0.8:
                    await learner.quiz()
                else:
                    await learner.say("help")
            except RuntimeError as exc:
                self.problems.append(str(exc))
            await asyncio.sleep(learner.rng.uniform(0, self.pause * 2))

    async def dso_life(self, http: aiohttp.ClientSession, connector: FakeConnector, urls: list[str], db: str) -> None:
        """Picks up new cases (never the timer cases): acknowledge, then a note, then close."""
        rng = random.Random(7)
        while not self.dso_stop.is_set():
            await asyncio.sleep(3)
            conn = await asyncpg.connect(db)
            try:
                rows = await conn.fetch(
                    "SELECT id, version, status FROM safeguarding_case WHERE status <> 'closed' "
                    "AND description NOT LIKE $1 ORDER BY id",
                    f"%{TIMER_LABEL}%",
                )
            finally:
                await conn.close()
            for row in rows:
                chat = Chat(
                    http=http,
                    bot_url=rng.choice(urls),
                    connector=connector,
                    person=self.staff.dso,
                    conversation_id=f"a:1on1-{self.staff.dso.aad_object_id}",
                    conversation_type="personal",
                )
                data = {"case_id": row["id"], "version": row["version"]}
                if row["status"] == "new":
                    verb = Verb.CASE_ACKNOWLEDGE
                elif rng.random() < 0.5:
                    verb, data = Verb.CASE_NOTE, {**data, "note_text": "Spoke to the learner."}
                else:
                    verb, data = Verb.CASE_CLOSE, {**data, "close_note": "Resolved with the learner."}
                began = time.monotonic()
                status, _ = await chat.execute(verb, data)
                self.dso_seconds.append(time.monotonic() - began)
                if status != 200:
                    self.problems.append(f"DSO {verb} answered {status}")
                self.dso_actions += 1

    async def live_quiz_life(self, http: aiohttp.ClientSession, connector: FakeConnector, urls: list[str],
                             players: list[Person]) -> None:  # fmt: skip
        rng = random.Random(11)
        conversation = "19:soak-class@thread.v2"

        def chat(person: Person) -> Chat:
            return Chat(http=http, bot_url=rng.choice(urls), connector=connector, person=person,
                        conversation_id=conversation, conversation_type="groupChat")  # fmt: skip

        while not self.stop.is_set():
            mark = connector.mark()
            await chat(self.staff.trainer).say("start quiz 2 10s")
            try:
                lobby = await connector.wait_for(
                    lambda s: s.conversation_id == conversation and bool(s.cards)
                    and any(a["verb"] == Verb.LIVE_QUIZ_JOIN for a in executes(s.cards)),
                    after=mark, timeout=30,
                )  # fmt: skip
            except TimeoutError:
                self.problems.append("a live quiz's lobby card never arrived")
                continue
            quiz_id = next(a for a in executes(lobby.cards) if a["verb"] == Verb.LIVE_QUIZ_JOIN)["data"]["quiz_id"]
            await asyncio.gather(*(chat(p).execute(Verb.LIVE_QUIZ_JOIN, {"quiz_id": quiz_id}) for p in players))
            await chat(self.staff.trainer).execute(Verb.LIVE_QUIZ_BEGIN, {"quiz_id": quiz_id})
            for index in range(2):
                answers = [
                    chat(p).execute(
                        Verb.LIVE_QUIZ_ANSWER, {"quiz_id": quiz_id, "question_index": index, "option": rng.randrange(3)}
                    )
                    for p in players
                ]
                results = await asyncio.gather(*answers)
                self.live_answers += sum(1 for status, _ in results if status == 200)
                await asyncio.sleep(11)  # the question's timer closes it
                await chat(self.staff.trainer).execute(
                    Verb.LIVE_QUIZ_NEXT, {"quiz_id": quiz_id, "question_index": index, "from": FROM_CLOSED}
                )
            self.live_quizzes += 1
            await asyncio.sleep(5)

    # The run ------------------------------------------------------------------------------------------------

    async def run(self) -> int:
        pg = PrivatePostgres().init()
        pg.start()
        log_dir = Path(tempfile.mkdtemp(prefix="safespace-soak-"))
        connector = await FakeConnector().start()
        bots: list[BotProcess] = []
        try:
            db = pg.create_database()
            env = {
                **self.staff.env(),
                "DATABASE_URL": db,
                "MicrosoftAppId": "",
                "SAFESPACE_DELIVERY_POLL_SECONDS": "0.5",
                "SAFESPACE_REPORT_PAUSE_SECONDS": "3600",
                "SAFESPACE_ACK_MINUTES": "1",
                "SAFESPACE_URGENT_ACK_MINUTES": "1",
                "SAFESPACE_REMINDER_CHECK_SECONDS": "5",
                "SAFESPACE_LOG_LEVEL": "WARNING",
            }
            # One after the other: the first creates the schema.
            for index in range(2):
                bots.append(await BotProcess(env).start(log_dir / f"bot{index}.log", timeout=90))
            urls = [b.messages_url for b in bots]
            connector_timeout = aiohttp.ClientTimeout(total=120)
            async with aiohttp.ClientSession(
                timeout=connector_timeout, connector=aiohttp.TCPConnector(limit=0)
            ) as http:
                await register_channel(http, connector, urls[0], self.staff)
                chat_for = learner_chat_factory(http, connector, urls)
                learners = [
                    Learner(Person(f"Learner {i:04d}"), chat_for, len(urls), pause=self.pause)
                    for i in range(self.users)
                ]
                for index, learner in enumerate(learners):
                    learner.rng.seed(index)
                timer_learner = Learner(Person("Timer Learner"), chat_for, len(urls))
                for _ in range(3):
                    await timer_learner.report(label=TIMER_LABEL)
                timer_refs = set(timer_learner.reports.values())

                started = time.monotonic()
                tasks = [asyncio.create_task(self.learner_life(learner)) for learner in learners]
                tasks.append(asyncio.create_task(self.dso_life(http, connector, urls, db)))
                tasks.append(
                    asyncio.create_task(self.live_quiz_life(http, connector, urls, [lr.person for lr in learners[:20]]))
                )
                print("minute  turns   p50 ms   p99 ms   " + "   ".join(f"RSS bot{i} MB" for i in range(len(bots))))
                minute = 0
                rows: list[tuple[float, float]] = []
                while time.monotonic() - started < self.minutes * 60:
                    await asyncio.sleep(min(60.0, self.minutes * 60 - (time.monotonic() - started)))
                    minute += 1
                    window_end = time.monotonic()
                    window = [
                        t.ended - t.started
                        for lr in learners
                        for t in lr.turns
                        if window_end - 60 <= t.ended < window_end
                    ]
                    p50, p99 = percentile(window, 50) * 1000, percentile(window, 99) * 1000
                    rows.append((p50, p99))
                    rss = "   ".join(f"{rss_mb(b.proc.pid):12.0f}" for b in bots if b.proc)
                    print(f"{minute:6d}  {len(window):5d}  {p50:7.0f}  {p99:7.0f}   {rss}", flush=True)
                self.stop.set()
                for learner in learners:
                    learner.pause = 0.0  # finish what each was doing at once, so the checks start promptly
                await asyncio.gather(*tasks[:-2])
                await asyncio.sleep(5)  # the DSO looks once more at the last reports
                self.dso_stop.set()
                await asyncio.gather(*tasks[-2:])

                # The timers: the reminder after a minute, the escalation after two; then time for a second to
                # (wrongly) fire.
                deadline = time.monotonic() + 240
                while time.monotonic() < deadline:
                    conn = await asyncpg.connect(db)
                    try:
                        waiting = await conn.fetchval(
                            "SELECT count(*) FROM safeguarding_case WHERE description LIKE $1 AND escalated_at IS NULL",
                            f"%{TIMER_LABEL}%",
                        )
                    finally:
                        await conn.close()
                    if waiting == 0 and await outbox_waiting(db) == 0:
                        break
                    await asyncio.sleep(2)
                await asyncio.sleep(15)  # three more reminder passes on each instance
                await self.check(db, connector, [*learners, timer_learner], timer_refs)

            turns = [t for lr in learners for t in lr.turns]
            failed = [t for t in turns if t.failed]
            quizzes, reports = sum(lr.quizzes for lr in learners), sum(len(lr.reports) for lr in learners)
            spread = Counter(t.instance for t in turns)
            print("turns per instance: " + ", ".join(f"bot{i} {spread[i]}" for i in range(len(bots))))
            print(
                f"\n{self.users} users, {len(turns)} turns ({len(failed)} failed and retried), {quizzes} quizzes, "
                f"{reports} reports, {self.live_quizzes} live quizzes ({self.live_answers} answers), "
                f"{self.dso_actions} DSO actions (p50 {percentile(self.dso_seconds, 50) * 1000:.0f} ms, "
                f"max {max(self.dso_seconds, default=0) * 1000:.0f} ms)"
            )
            print("checks: " + ("all hold" if not self.problems else "FAILED\n  " + "\n  ".join(self.problems[:50])))
            return 0 if not self.problems else 1
        finally:
            for bot in bots:
                bot.stop()
            await connector.stop()
            pg.cleanup()
            print(f"(bot logs: {log_dir})")

    async def check(self, db: str, connector: FakeConnector, learners: list[Learner], timer_refs: set[str]) -> None:
        conn = await asyncpg.connect(db)
        try:
            cases = await conn.fetch("SELECT id, reference FROM safeguarding_case ORDER BY id")
            events = await conn.fetch(
                "SELECT c.reference, e.kind, count(*) AS n FROM case_event e JOIN safeguarding_case c "
                "ON c.id = e.case_id WHERE e.kind IN ('reminder', 'escalated') GROUP BY c.reference, e.kind"
            )
        finally:
            await conn.close()
        posted = cards_posted(connector).cards_by_reference
        stored = {row["reference"] for row in cases}
        for ref in sorted(stored):
            if posted[ref] != 1:
                self.problems.append(f"{ref}: its card was posted {posted[ref]} times")
        for learner in learners:
            for ref in learner.reports.values():
                if ref not in stored:
                    self.problems.append(f"{ref} was acknowledged but is not in the store")
        fired = {(row["reference"], row["kind"]): row["n"] for row in events}
        for (ref, kind), n in fired.items():
            if n > 1:
                self.problems.append(f"{ref}: {kind} fired {n} times")
        messages: Counter[str] = Counter()
        reporters = {f"a:1on1-{learner.person.aad_object_id}" for learner in learners}
        for sent in connector.sent:
            text = sent.text or ""
            if sent.cards or not text or sent.conversation_id in reporters:
                continue  # the reporter's own "your reference is ..." is not a timer's message
            for ref in timer_refs:
                if ref in text:
                    messages[ref] += 1
        for ref in sorted(timer_refs):
            if fired.get((ref, "reminder")) != 1 or fired.get((ref, "escalated")) != 1:
                self.problems.append(
                    f"timer case {ref}: reminder {fired.get((ref, 'reminder'), 0)}, "
                    f"escalation {fired.get((ref, 'escalated'), 0)} (each should be 1)"
                )
            # One reminder in the case's thread and one message to the one director.
            if messages[ref] != 2:
                self.problems.append(f"timer case {ref}: {messages[ref]} reminder/escalation messages (should be 2)")
        print(
            f"\ncases {len(stored)}, case cards posted {sum(posted[r] for r in stored)}; "
            f"timer cases {sorted(timer_refs)}: "
            + json.dumps({r: {k: fired.get((r, k), 0) for k in ("reminder", "escalated")} for r in sorted(timer_refs)})
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--pause", type=float, default=10.0, help="mean seconds between one person's messages")
    args = parser.parse_args()
    return asyncio.run(Soak(users=args.users, minutes=args.minutes, pause=args.pause).run())


if __name__ == "__main__":
    sys.exit(main())
