"""What the DSO's card says about how a case came in and where it stands (issue 16, item 12), through the real app."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import update

from cards.verbs import Verb
from storage.models import Case
from tests.card_validator import assert_valid_cards
from tests.conftest import Rig
from tests.rig.safeguarding import (
    CHANNEL_ID,
    TEAM_ID,
    all_cases,
    card_text,
    reference_from,
    register_channel,
    services,
    walk_report,
)
from tests.rig.teams import Chat

# The lexicon reads this as danger on its own, whatever the model makes of it.
HIGH = "im going to kill myself tonight"


@pytest.fixture
async def fast_rig(make_rig) -> Rig:
    return await make_rig(delivery_poll_seconds=0.05)


def facts(card: dict[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "FactSet":
                found.update({fact["title"]: fact["value"] for fact in node["facts"]})
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    return found


def thread(rig: Rig, person, posted) -> Chat:
    chat = rig.channel(person, team_id=TEAM_ID, channel_id=CHANNEL_ID, thread=posted.conversation_id.split("=")[-1])
    chat.conversation_id = posted.conversation_id
    return chat


async def test_a_case_the_safety_net_opened_says_so_and_that_nobody_was_asked_who_it_is_about(fast_rig: Rig) -> None:
    rig = fast_rig
    await register_channel(rig)
    await rig.personal(rig.cast.learner).say(HIGH)
    [case] = await all_cases(rig)
    assert case.source == "triage"
    posted = await rig.connector.wait_for(lambda s: s.kind == "create" and case.reference in card_text(s.cards[0]))
    shown = card_text(posted.cards[0])
    assert "URGENT: Safe Space flagged this message" in shown
    assert "the reporter said someone may be at risk now" not in shown
    assert facts(posted.cards[0])["About"] == "Not asked" and "preferred not to say" not in shown
    assert_valid_cards(*posted.cards)


async def test_waited_is_shown_once_it_is_known_never_frozen_at_posting(fast_rig: Rig) -> None:
    rig = fast_rig
    await register_channel(rig)
    reference = reference_from(await walk_report(rig.personal(rig.cast.learner), "A worry about a friend."))
    posted = await rig.connector.wait_for(lambda s: s.kind == "create" and reference in card_text(s.cards[0]))
    new = facts(posted.cards[0])
    assert "Waited" not in new, "a count drawn at posting would say 0 min for ever"
    assert new["Raised"], "when it came in is on the card instead"

    [case] = [c for c in await all_cases(rig) if c.source == "learner"]
    async with services(rig).database.sessions.begin() as session:
        await session.execute(
            update(Case).where(Case.id == case.id).values(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=12))
        )
    dso = thread(rig, rig.cast.dso, posted)
    _, body = await dso.execute(Verb.CASE_ACKNOWLEDGE, {"case_id": case.id, "version": case.version})
    assert facts(body["value"])["Waited"] == "12 min", "how long it waited to be picked up"
    _, later = await dso.execute(
        Verb.CASE_NOTE, {"case_id": case.id, "version": case.version + 1, "note_text": "Spoke to tutor."}
    )
    assert facts(later["value"])["Waited"] == "12 min", "and it stays true on every redraw"
    assert_valid_cards(body["value"], later["value"])


async def test_a_closed_case_says_who_closed_it_and_when(fast_rig: Rig) -> None:
    rig = fast_rig
    await register_channel(rig)
    reference = reference_from(await walk_report(rig.personal(rig.cast.learner), "A worry about a friend."))
    posted = await rig.connector.wait_for(lambda s: s.kind == "create" and reference in card_text(s.cards[0]))
    [case] = [c for c in await all_cases(rig) if c.source == "learner"]
    dso = thread(rig, rig.cast.dso, posted)
    _, closed = await dso.execute(
        Verb.CASE_CLOSE, {"case_id": case.id, "version": case.version, "close_note": "Spoke to both; resolved."}
    )
    shown = facts(closed["value"])
    assert shown["Closed by"] == "Claire Lewis"
    [after] = [c for c in await all_cases(rig) if c.source == "learner"]
    assert after.closed_at is not None
    assert shown["Closed"] == texts_time(after.closed_at)
    assert_valid_cards(closed["value"])


def texts_time(moment: dt.datetime) -> str:
    from cards.case_card import uk_time
    from content.common import DEFAULT_CONTENT_DIR
    from content.texts import Texts

    return uk_time(moment, Texts.load(DEFAULT_CONTENT_DIR))
