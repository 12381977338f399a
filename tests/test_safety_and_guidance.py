"""Triage on every message, "Who can I talk to?", staying safe online, free-text routing and "my reports"."""

from __future__ import annotations

import asyncio

import pytest

from content.directory import Directory
from tests.card_validator import assert_valid_cards
from tests.conftest import Rig
from tests.rig.safeguarding import all_cases, card_text, register_channel, walk_report

DIRECTORY = Directory.load()


@pytest.fixture
async def fast_rig(make_rig) -> Rig:
    return await make_rig(delivery_poll_seconds=0.05)


def _buttons(card: dict) -> list[str]:
    return [a["data"]["msteams"]["value"] for a in card.get("actions", []) if a["type"] == "Action.Submit"]


@pytest.mark.parametrize(
    ("typed", "expect"),
    [
        ("I'm worried about my mate", "Is anyone in danger right now?"),
        ("im really worried about my friend tbh", "Is anyone in danger right now?"),
        ("how do I make a strong password", "Passwords and 2-step verification"),
        ("quiz", "Which British value"),
        ("who can I talk to", "Who can I talk to?"),
        ("I need help", "Who can I talk to?"),
        ("hi", "What would you like to do?"),
        ("Is the canteen open today", "I'm not sure I understood that."),
    ],
)
async def test_free_text_goes_where_it_means(rig: Rig, typed: str, expect: str) -> None:
    chat = rig.personal(rig.cast.learner)
    await chat.say(typed)
    replies = await chat.replies(1)
    shown = "\n".join((r.text or "") + "\n" + "\n".join(card_text(c) for c in r.cards) for r in replies)
    assert expect in shown
    assert_valid_cards(*[c for r in replies for c in r.cards])


async def test_who_can_i_talk_to_puts_999_first_then_the_dso_with_tap_to_call(rig: Rig) -> None:
    chat = rig.personal(rig.cast.learner)
    await chat.say("who can I talk to")
    [reply] = await chat.replies(1)
    card = reply.cards[0]
    assert_valid_cards(card)
    blocks = [b for b in card["body"] if b["type"] == "Container"]
    names = [b["items"][0]["text"] for b in blocks]
    assert names[0] == DIRECTORY.entry("emergency_999").name
    assert DIRECTORY.entry("dso").name in names
    assert "Regional Prevent" not in " ".join(names), "staff-only entries are not shown to learners"
    urls = [a["url"] for b in blocks for a in b["items"][-1]["actions"]]
    assert "tel:999" in urls and "tel:01773417340" in urls
    assert any(u.startswith("mailto:") for u in urls)
    assert "bullying" in " ".join(_buttons(card))
    shown = card_text(card)
    for entry in (DIRECTORY.entry(e) for e in ("emergency_999", "dso")):
        for contact in entry.contacts:
            assert contact.value in shown, "numbers come from signposting.yaml"


async def test_staff_see_the_regional_prevent_coordinator(rig: Rig) -> None:
    chat = rig.personal(rig.cast.staff)
    await chat.say("who can I talk to about radicalisation")
    [reply] = await chat.replies(1)
    shown = card_text(reply.cards[0])
    assert DIRECTORY.entry("regional_prevent_coordinator").name in shown


async def test_online_safety_topics_and_a_topic_with_its_next_steps(rig: Rig) -> None:
    chat = rig.personal(rig.cast.learner)
    await chat.say("online safety")
    [listing] = await chat.replies(1)
    assert_valid_cards(*listing.cards)
    titles = card_text(listing.cards[0])
    for topic in DIRECTORY.topics():
        assert topic.title in titles
    await chat.press_im_back("online safety sextortion")
    [topic_reply] = await chat.replies(1)
    card = topic_reply.cards[0]
    assert_valid_cards(card)
    assert DIRECTORY.topic("sextortion").body in card_text(card)
    assert "Source:" in card_text(card)
    assert _buttons(card) == ["report about sextortion", "who can I talk to about sextortion"]


async def test_talk_to_someone_from_a_topic_prefills_the_report(fast_rig: Rig) -> None:
    rig = fast_rig
    chat = rig.personal(rig.cast.learner)
    for text in ("report about sextortion", "no", "Me"):
        await chat.say(text)
        await chat.replies(1)
    [describe] = chat.replies_so_far()
    assert "In your own words" in describe.text, "the category question is skipped"
    for text in ("Someone keeps posting mean things.", "Done", "skip", "skip", "no", "yes", "send it"):
        await chat.say(text)
        await chat.replies(1)
    [case] = [c for c in await all_cases(rig) if c.source == "learner"]  # the safety net may add its own
    assert case.category == "online_safety"


async def test_high_risk_message_mid_quiz_shows_help_tells_the_team_and_keeps_the_quiz(fast_rig: Rig) -> None:
    rig = fast_rig
    await register_channel(rig)
    chat = rig.personal(rig.cast.learner)
    for text in ("quiz", "democracy", "5"):
        await chat.say(text)
        await chat.replies(1)
    await chat.say("im going to kill myself tonight")
    await asyncio.sleep(0.2)
    replies = chat.replies_so_far()
    emergency = replies[0]
    shown = card_text(emergency.cards[0])
    assert "999" in shown and "116 123" in shown and "85258" in shown  # Samaritans and Shout
    assert "told Qualitrain's safeguarding team" in replies[1].text
    assert len(replies) == 2, "botbuilder's prompt stays quiet on a turn that already answered"
    [case] = await all_cases(rig)
    assert case.urgent and case.source == "triage" and case.category == "wellbeing"
    assert case.description == "im going to kill myself tonight"
    await rig.connector.wait_for(lambda s: s.kind == "create" and case.reference in card_text(s.cards[0]))
    await chat.say("A")  # the quiz carries on from the same question
    feedback, next_question = await chat.replies(2)
    assert feedback.text.startswith(("Correct!", "Not quite."))
    assert "Question 2 of 5" in card_text(next_question.cards[0])


async def test_medium_risk_offers_help_without_opening_a_case(fast_rig: Rig) -> None:
    rig = fast_rig
    chat = rig.personal(rig.cast.learner)
    await chat.say("ive been feeling really low lately and i cant sleep properly")
    emergency, offer = (await chat.replies(2))[:2]
    assert "999" in card_text(emergency.cards[0])
    assert _buttons(offer.cards[0]) == ["report", "who can I talk to"]
    assert await all_cases(rig) == []


@pytest.mark.parametrize(
    "idiom",
    [
        "this assignment is killing me",
        "I bombed that exam",
        "the party was fire",
        "I could murder a pizza",
        "lol im dead 😂",
    ],
)
async def test_idioms_do_not_raise_the_alarm(rig: Rig, idiom: str) -> None:
    chat = rig.personal(rig.cast.learner)
    await chat.say(idiom)
    replies = await chat.replies(1)
    assert not any("999" in card_text(c) for r in replies for c in r.cards if "Help right now" in card_text(c))
    assert await all_cases(rig) == []


async def test_my_reports_shows_only_my_own(fast_rig: Rig) -> None:
    rig = fast_rig
    mine = rig.personal(rig.cast.learner)
    theirs = rig.personal(rig.cast.other_learner)
    await walk_report(mine, "Mine.")
    await walk_report(theirs, "Theirs.")
    cases = await all_cases(rig)
    await mine.say("my reports")
    [listing] = await mine.replies(1)
    own = next(c for c in cases if c.reporter_aad_id == rig.cast.learner.aad_object_id)
    other = next(c for c in cases if c.reporter_aad_id != rig.cast.learner.aad_object_id)
    assert own.reference.replace("-", "\\-") in listing.text
    assert other.reference.replace("-", "\\-") not in listing.text
    assert "waiting to be picked up" in listing.text
