"""What people write, understood through the real bot: danger first anywhere, look-alikes left alone, questions
answered from sourced content, and never a bare "didn't understand"."""

from __future__ import annotations

import asyncio

import pytest

from tests.card_validator import assert_valid_cards
from tests.conftest import Rig
from tests.rig.safeguarding import all_cases, card_text, events_of, register_channel

# Written for these tests, in the voices of the corpus but not taken from it.
HIGH = "my mate said hes bringing his brothers blade to college tomorrow to sort out the lad who jumped him"
LOOKALIKE = "we got absolutely slaughtered in ranked last night, my team was dead weight"


@pytest.fixture
async def fast_rig(make_rig) -> Rig:
    return await make_rig(delivery_poll_seconds=0.05)


def _shown(replies) -> str:
    return "\n".join((r.text or "") + "\n" + "\n".join(card_text(c) for c in r.cards) for r in replies)


def _is_emergency(reply) -> bool:
    return any("Help right now" in card_text(card) and "999" in card_text(card) for card in reply.cards)


async def test_high_risk_at_the_menu_shows_help_first_and_opens_a_case_with_the_reason(fast_rig: Rig) -> None:
    rig = fast_rig
    await (await register_channel(rig)).replies(1)
    chat = rig.personal(rig.cast.learner)
    await chat.say(HIGH)
    await asyncio.sleep(0.2)
    replies = chat.replies_so_far()
    assert _is_emergency(replies[0]), "emergency contacts come first"
    assert "told Qualitrain's safeguarding team" in _shown(replies)
    [case] = await all_cases(rig)
    assert case.urgent and case.source == "triage" and case.description == HIGH
    [created] = [e for e in await events_of(rig, case.id) if e.kind == "created"]
    assert "model:" in (created.detail or "") or "lexicon:" in (created.detail or "")
    posted = await rig.connector.wait_for(lambda s: s.kind == "create" and case.reference in card_text(s.cards[0]))
    assert "Why Safe Space flagged it" in card_text(posted.cards[0])
    assert_valid_cards(*posted.cards, *[c for r in replies for c in r.cards])


async def test_high_risk_mid_report_shows_help_first_and_the_report_carries_on(fast_rig: Rig) -> None:
    rig = fast_rig
    chat = rig.personal(rig.cast.learner)
    for text in ("report", "no", "Another learner"):
        await chat.say(text)
        await chat.replies(1)
    await chat.say(HIGH)
    await asyncio.sleep(0.2)
    replies = chat.replies_so_far()
    assert _is_emergency(replies[0]) and "told Qualitrain's safeguarding team" in _shown(replies)
    await chat.say("Bullying or harassment")  # the report carries on from the question it was at
    assert "In your own words" in _shown(await chat.replies(1))


async def test_high_risk_in_a_group_chat_gives_neutral_help_there_and_the_reference_privately(fast_rig: Rig) -> None:
    rig = fast_rig
    group = rig.group_chat(rig.cast.learner)
    await rig.personal(rig.cast.learner).say("hi")
    mark = rig.connector.mark()
    await group.say(HIGH)
    await asyncio.sleep(0.3)
    in_group = group.replies_so_far()
    assert _is_emergency(in_group[0])
    [case] = await all_cases(rig)
    assert case.reference not in _shown(in_group), "no case reference in a group"
    assert "told Qualitrain's safeguarding team" not in _shown(in_group)
    told = await rig.connector.wait_for(
        lambda s: s.conversation_id == f"a:1on1-{rig.cast.learner.aad_object_id}" and case.reference in (s.text or ""),
        after=mark,
    )
    assert "safeguarding team" in told.text


async def test_a_look_alike_gets_no_emergency_route(rig: Rig) -> None:
    chat = rig.personal(rig.cast.learner)
    await chat.say(LOOKALIKE)
    await asyncio.sleep(0.2)
    assert not any(_is_emergency(r) for r in chat.replies_so_far())
    assert await all_cases(rig) == []


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("who's our DSO?", "Claire Lewis"),
        ("can you keep a secret?", "can't promise"),
        ("number for the samaritans?", "116 123"),
        ("what does Channel mean", "Channel"),
    ],
)
async def test_plain_questions_get_their_sourced_answer(rig: Rig, question: str, expected: str) -> None:
    chat = rig.personal(rig.cast.learner)
    await chat.say(question)
    replies = await chat.replies(1)
    shown = _shown(replies)
    assert expected in shown and "Where this comes from:" in shown
    assert "didn't understand" not in shown
    assert_valid_cards(*[c for r in replies for c in r.cards])


@pytest.mark.parametrize("typed", ["What time does the canteen open", "purple monkey dishwasher"])
async def test_an_unknown_message_never_gets_a_bare_fallback(rig: Rig, typed: str) -> None:
    chat = rig.personal(rig.cast.learner)
    await chat.say(typed)
    await asyncio.sleep(0.2)
    replies = chat.replies_so_far()
    shown = _shown(replies)
    assert "Sorry, I didn't understand" not in shown
    assert any(len(c.get("actions", [])) >= 2 for r in replies for c in r.cards), "something to press"


async def test_the_reviews_class_channel_message_exposes_nobody(fast_rig: Rig) -> None:
    """Security review item 6: "@Safe Space im going to kill myself" in a class channel."""
    rig = fast_rig
    learner = rig.cast.learner
    await rig.personal(learner).say("hi")
    channel = rig.channel(learner, team_id="19:team-plumbing@thread.tacv2", channel_id="19:class@thread.tacv2")
    mark = rig.connector.mark()
    await channel.say("im going to kill myself")
    await asyncio.sleep(0.3)
    in_channel = channel.replies_so_far()
    [case] = await all_cases(rig)
    shown = _shown(in_channel)
    assert _is_emergency(in_channel[0])
    assert case.reference not in shown and "told Qualitrain" not in shown and "I'm worried about what you" not in shown
    told = await rig.connector.wait_for(
        lambda s: s.conversation_id == f"a:1on1-{learner.aad_object_id}" and case.reference in (s.text or ""),
        after=mark,
    )
    assert "safeguarding team" in told.text
