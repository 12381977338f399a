"""Guidance that says how to reach who it names (issue 16, item 14): topic cards with numbers and links, a hate-crime
route on "Bullying or hate", no unchecked advice, and one supportive card for "Feeling low or self-harm"."""

from __future__ import annotations

import asyncio

import pytest

from content.directory import Directory
from tests.card_validator import assert_valid_cards
from tests.conftest import Rig
from tests.rig.safeguarding import all_cases, card_text

DIRECTORY = Directory.load()


def _contacts(entry_id: str) -> list[str]:
    return [contact.value for contact in DIRECTORY.entry(entry_id).contacts]


@pytest.mark.parametrize(
    ("topic_id", "named", "entry_id"),
    [
        ("online_radicalisation", "call ACT Early", "act_early"),
        ("scams", "report it to Report Fraud", "report_fraud"),
        ("grooming", "you can report to CEOP", "ceop"),
        ("sextortion", "Report to CEOP", "ceop"),
        ("where_to_report", "then to Report Harmful Content", "report_harmful_content"),
    ],
)
async def test_a_topic_card_gives_the_number_or_link_of_each_service_it_names(
    rig: Rig, topic_id: str, named: str, entry_id: str
) -> None:
    chat = rig.personal(rig.cast.learner)
    await chat.press_im_back(f"online safety {topic_id}")
    [reply] = await chat.replies(1)
    card = reply.cards[0]
    assert_valid_cards(card)
    shown = card_text(card)
    assert named in shown
    for value in _contacts(entry_id):
        assert value in shown, (entry_id, value)
    # Every service the topic relates gets its own block, with tap-to-call or open-link buttons.
    urls = {a["url"] for node in card["body"] for a in _open_urls(node)}
    for related in DIRECTORY.topic(topic_id).related:
        assert DIRECTORY.entry(related).contacts[0].href in urls, related


def _open_urls(node: object) -> list[dict]:
    found: list[dict] = []
    if isinstance(node, dict):
        if node.get("type") == "Action.OpenUrl":
            found.append(node)
        for value in node.values():
            found += _open_urls(value)
    elif isinstance(node, list):
        for value in node:
            found += _open_urls(value)
    return found


async def test_the_iwf_is_never_named_without_a_way_to_reach_it(rig: Rig) -> None:
    chat = rig.personal(rig.cast.learner)
    await chat.press_im_back("online safety where_to_report")
    [reply] = await chat.replies(1)
    shown = card_text(reply.cards[0])
    assert "report them to the IWF" not in shown, "the brief gives no address for the IWF's own hotline"
    # The IWF is still there, as half of Report Remove, with Report Remove's link.
    assert DIRECTORY.entry("report_remove").name in shown
    assert _contacts("report_remove")[0] in shown


async def test_bullying_or_hate_offers_a_hate_crime_route(rig: Rig) -> None:
    chat = rig.personal(rig.cast.learner)
    await chat.say("who can I talk to")
    [listing] = await chat.replies(1)
    [button] = [a for a in listing.cards[0]["actions"] if a["title"] == "Bullying or hate"]
    await chat.press_im_back(button["data"]["msteams"]["value"])
    [reply] = await chat.replies(1)
    card = reply.cards[0]
    assert_valid_cards(card)
    shown = card_text(card)
    assert "If it's hate:" in shown and "hate crime" in shown
    hate_route = shown.split("If it's hate:")[1]
    for entry_id in ("stop_hate_uk", "police_101"):
        assert DIRECTORY.entry(entry_id).name in hate_route, entry_id
        for value in _contacts(entry_id):
            assert value in hate_route, (entry_id, value)
    assert DIRECTORY.entry("report_harmful_content").name in shown, "the bullying route is still there"


async def test_no_topic_shows_advice_nobody_checked(rig: Rig) -> None:
    chat = rig.personal(rig.cast.learner)
    await chat.say("online safety")
    [listing] = await chat.replies(1)
    shown = card_text(listing.cards[0])
    assert "Privacy settings" not in shown
    for topic in DIRECTORY.topics():
        await chat.press_im_back(f"online safety {topic.id}")
        [reply] = await chat.replies(1)
        shown = card_text(reply.cards[0])
        assert "has not been checked" not in shown, topic.id
        assert "Source:" in shown, topic.id


async def test_feeling_low_or_self_harm_shows_one_supportive_card_with_the_contacts(rig: Rig) -> None:
    chat = rig.personal(rig.cast.learner)
    await chat.say("who can I talk to")
    [listing] = await chat.replies(1)
    [button] = [a for a in listing.cards[0]["actions"] if a["title"] == "Feeling low or self-harm"]
    await chat.press_im_back(button["data"]["msteams"]["value"])
    await chat.replies(1)
    await asyncio.sleep(0.5)  # anything else the bot was going to send has arrived by now
    replies = chat.replies_so_far()
    assert len(replies) == 1, [card_text(c) for r in replies for c in r.cards]
    card = replies[0].cards[0]
    assert_valid_cards(card)
    shown = card_text(card)
    assert "It sounds like something difficult" not in shown, "that is for a message the safety net flagged"
    assert "You don't have to cope with this on your own" in shown
    for entry_id in ("emergency_999", "samaritans", "shout", "safeguarding_team"):
        for value in _contacts(entry_id):
            assert value in shown, (entry_id, value)
    assert await all_cases(rig) == []
