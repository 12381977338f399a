"""Helpers for the safeguarding flows: register the team's channel, walk a learner through a report."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from bot.app import SERVICES
from storage.models import Case, CaseEvent, OutboxMessage
from tests.rig.fake_connector import Sent
from tests.rig.teams import Chat, Person

TEAM_ID = "19:team-safeguarding@thread.tacv2"
CHANNEL_ID = "19:cases@thread.tacv2"


def member(person: Person) -> dict[str, Any]:
    return {
        "id": person.teams_id,
        "name": person.name,
        "aadObjectId": person.aad_object_id,
        "userPrincipalName": f"{person.name.split()[0].lower()}@qualitrain.example",
    }


async def register_channel(rig, by: Person | None = None, members: list[Person] | None = None) -> Chat:
    cast = rig.cast
    roster = members if members is not None else [cast.dso, cast.deputy, cast.director]
    rig.connector.set_members(TEAM_ID, [member(p) for p in roster], CHANNEL_ID)
    chat = rig.channel(by or cast.dso, team_id=TEAM_ID, channel_id=CHANNEL_ID)
    await chat.say("register safeguarding channel")
    return chat


LEARNER_ANSWERS = [
    ("report", "Is anyone in danger right now?"),
    ("no", "Who is this about?"),
    ("Another learner", "What is it about?"),
    ("Bullying or harassment", "In your own words"),
]


async def walk_report(
    chat: Chat,
    description: str,
    *,
    danger: str = "no",
    subject: str = "skip",
    when: str = "Last Tuesday",
    where: str = "In the canteen at lunch",
    name_shown: str = "yes",
    contact: str = "yes",
    how: str = "Teams chat please",
    confirm: str = "send it",
) -> list[Sent]:
    """Answer every step of Report a worry; returns the bot's replies to the final step.

    The account is one message, then "Done"; the person's name is skipped unless `subject` gives one.
    """
    script = [
        "report",
        danger,
        "Another learner",
        "Bullying or harassment",
        description,
        "Done",
        subject,
        when,
        where,
        contact,
    ]
    if contact == "yes":
        script.append(how)
    script += [name_shown, confirm]
    for text in script:
        # The bot answers within the turn, before the request returns: nothing to wait for. (A turn may also answer
        # nothing at all: a second line of an account is taken quietly.)
        assert await chat.say(text) == 200
    return chat.replies_so_far()


def reference_from(replies: list[Sent]) -> str:
    """The case reference in the bot's "received" message."""
    for reply in replies:
        match = re.search(r"reference is (SS-\d{4}-\d{4,})", reply.text or "")
        if match:
            return match.group(1)
    raise AssertionError(f"no reference in {[r.text for r in replies]}")


def services(rig):
    assert rig.server.app is not None
    return rig.server.app[SERVICES]


async def all_cases(rig) -> list[Case]:
    async with services(rig).database.sessions() as session:
        return list((await session.execute(select(Case).order_by(Case.id))).scalars())


async def events_of(rig, case_id: int) -> list[CaseEvent]:
    async with services(rig).database.sessions() as session:
        rows = await session.execute(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id))
        return list(rows.scalars())


async def outbox_rows(rig) -> list[OutboxMessage]:
    async with services(rig).database.sessions() as session:
        return list((await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars())


def card_text(card: dict[str, Any]) -> str:
    """Every text in a card, flattened, for assertions about what a person sees."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in ("text", "title", "value"):
                if isinstance(node.get(key), str):
                    found.append(node[key])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    # Markdown escapes render as the plain character; compare what a person sees.
    return re.sub(r"\\(.)", r"\1", "\n".join(found))
