"""Simulated people for the outage and soak benchmarks: learners reporting worries and taking quizzes, over real
HTTP to one or more `python -m bot` processes, with the fake Bot Connector (tests/rig) receiving every answer.

A learner acts as a person would: when a turn fails they are told "please try that again", so they send the same
words again after a moment. Every turn is timed and kept, with whether the person got any answer.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

from tests.rig.fake_connector import FakeConnector
from tests.rig.teams import Chat, Person

RECEIVED = re.compile(r"reference is (SS-\d{4}-\d{4,})")
TURN_ERROR_START = "Sorry, something went wrong"  # content/en.yaml errors.turn
# content/en.yaml hardening.outage_retry: the case store was unreachable, so the turn did nothing and must be retried.
OUTAGE_RETRY_START = "Sorry, I can't reach my records right now"
_tokens = itertools.count(1)


@dataclass
class Turn:
    started: float
    ended: float
    status: int
    answered: bool  # the person saw some answer (a reply reached the connector in their chat)
    failed: bool  # the turn did not do what was asked (non-200, or the bot said it went wrong)
    trace: bool  # the HTTP answer carried a stack trace
    instance: int


@dataclass
class Learner:
    person: Person
    chat_for: Callable[[Person, int], Chat]  # the chat on the instance with that index
    instances: int
    turns: list[Turn] = field(default_factory=list)
    reports: dict[str, str] = field(default_factory=dict)  # token in the account -> reference acknowledged
    sent_reports: list[str] = field(default_factory=list)  # tokens of reports confirmed with "send it"
    quizzes: int = 0
    pause: float = 0.0  # mean seconds a person takes before each message (reading, typing)
    rng: random.Random = field(default_factory=random.Random)

    async def say(self, text: str, *, retries: int = 30) -> list[str]:
        """Send `text` until the bot takes it; returns the texts of the replies to the accepted turn."""
        if self.pause:
            await asyncio.sleep(self.rng.uniform(0, 2 * self.pause))
        for _ in range(retries):
            instance = self.rng.randrange(self.instances)
            chat = self.chat_for(self.person, instance)
            started = time.monotonic()
            try:
                status, body = await chat.post(chat.message(text))
            except (aiohttp.ClientError, TimeoutError):
                status, body = 599, None
            ended = time.monotonic()
            replies = [s.text or "" for s in chat.replies_so_far()]
            failed = status != 200 or any(r.startswith((TURN_ERROR_START, OUTAGE_RETRY_START)) for r in replies)
            trace = "Traceback" in str(body)
            self.turns.append(Turn(started, ended, status, bool(replies), failed, trace, instance))
            if not failed:
                return replies
            await asyncio.sleep(0.5 + self.rng.random())
        raise RuntimeError(f"{self.person.name} gave up on a turn after {retries} tries")

    async def report(self, label: str = "") -> None:
        token = f"{label}R{next(_tokens):06d}{self.rng.randrange(10**6):06d}"
        script = [
            "report",
            "no",
            "Another learner",
            "Bullying or harassment",
            f"Someone keeps posting mean things about my friend ({token}).",
            "Done",
            "skip",
            "Last Tuesday",
            "In the canteen at lunch",
            "yes",
            "Teams chat please",
            "yes",
        ]
        for text in script:
            await self.say(text)
        self.sent_reports.append(token)
        replies = await self.say("send it")
        for reply in replies:
            if match := RECEIVED.search(reply):
                self.reports[token] = match.group(1)

    async def quiz(self) -> None:
        await self.say("quiz")
        await self.say(self.rng.choice(["democracy", "rule of law", "individual liberty", "mutual respect"]))
        await self.say("5")
        for _ in range(5):
            await self.say(self.rng.choice("abc"))
        self.quizzes += 1


def learner_chat_factory(
    http: aiohttp.ClientSession, connector: FakeConnector, urls: list[str]
) -> Callable[[Person, int], Chat]:
    def chat_for(person: Person, instance: int) -> Chat:
        return Chat(
            http=http,
            bot_url=urls[instance],
            connector=connector,
            person=person,
            conversation_id=f"a:1on1-{person.aad_object_id}",
            conversation_type="personal",
        )

    return chat_for


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]
