"""Commands people can find (issue 16, item 13): help where it is asked, group-chat quiz words, the way to a private
chat, "my reports" in help, and small talk. Each message is typed exactly as the issue quotes it."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from cards.verbs import Verb
from storage.live_quiz import LiveQuiz
from tests.card_validator import assert_valid_cards
from tests.conftest import Rig
from tests.learning.test_live_quiz import posted_question, start_quiz
from tests.rig.safeguarding import all_cases, card_text, register_channel, services
from tests.rig.teams import BOT, Chat

PRIVATE_CHAT = f"https://teams.microsoft.com/l/chat/0/0?users={BOT['id']}"
FAST = {"delivery_poll_seconds": 0.05}
OLD_GROUP_HELP = 'Mention me with a command, for example "@Safe Space help"'


def _links(card: dict[str, Any]) -> list[str]:
    return [a["url"] for a in card.get("actions", []) if a["type"] == "Action.OpenUrl"]


def _buttons(card: dict[str, Any]) -> list[str]:
    return [a["data"]["msteams"]["value"] for a in card.get("actions", []) if a["type"] == "Action.Submit"]


async def _quizzes(rig: Rig) -> list[LiveQuiz]:
    async with services(rig).database.sessions() as session:
        return list((await session.execute(select(LiveQuiz).order_by(LiveQuiz.id))).scalars())


async def _text_reply(chat: Chat, typed: str) -> str:
    """What the bot said back in words; a quiz's cards may be redrawn in the same chat meanwhile."""
    mark = chat.connector.mark()
    await chat.say(typed)
    said = await chat.connector.wait_for(
        lambda s: s.conversation_id == chat.conversation_id and s.kind != "update" and bool(s.text), after=mark
    )
    return str(said.text)


async def _one_card(chat: Chat, text: str) -> dict[str, Any]:
    await chat.say(text)
    [reply] = await chat.replies(1)
    assert len(reply.cards) == 1, reply.activity
    assert_valid_cards(*reply.cards)
    return reply.cards[0]


async def test_help_in_the_safeguarding_channel_lists_the_commands_there(rig: Rig) -> None:
    channel = await register_channel(rig)
    await channel.replies(1)
    card = await _one_card(channel, "help")  # "@Safe Space help": the rig puts the @mention in front
    shown = card_text(card)
    assert OLD_GROUP_HELP not in shown
    assert "register safeguarding channel" in shown
    assert "Each new safeguarding case arrives here as a card" in shown
    assert "start quiz" not in shown, "the safeguarding team's channel is not for quizzes"
    assert PRIVATE_CHAT in _links(card)

    # In any other channel a DSO also learns how to register one; a learner is not told about it.
    elsewhere = rig.channel(rig.cast.dso, team_id="19:team-class@thread.tacv2", channel_id="19:class@thread.tacv2")
    shown = card_text(await _one_card(elsewhere, "help"))
    assert "register safeguarding channel" in shown and "start quiz" in shown
    learner = elsewhere.as_person(rig.cast.learner)
    assert "register safeguarding channel" not in card_text(await _one_card(learner, "help"))


async def test_help_in_a_group_chat_lists_start_quiz_its_options_and_ending_it(rig: Rig) -> None:
    chat = rig.group_chat(rig.cast.learner)
    card = await _one_card(chat, "help")
    shown = card_text(card)
    assert OLD_GROUP_HELP not in shown
    for said in ("start quiz", "democracy, rule of law, individual liberty, mutual respect or mixed", "1 to 10"):
        assert said in shown, said
    for said in ("10 to 60", "nicknames", "start quiz democracy 5 20s", "end quiz", "stop", "my reports"):
        assert said in shown, said
    assert PRIVATE_CHAT in _links(card)


async def test_start_a_quiz_quiz_and_end_quiz_are_understood_in_a_group_chat(make_rig) -> None:
    rig: Rig = await make_rig(**FAST)
    trainer = rig.group_chat(rig.cast.trainer)
    for typed in ("start a quiz", "quiz"):
        mark = rig.connector.mark()
        await trainer.say(typed)
        lobby = await rig.connector.wait_for(
            lambda s: (
                s.conversation_id == trainer.conversation_id and bool(s.cards) and "Join" in card_text(s.cards[0])
            ),
            after=mark,
        )
        assert "British values live quiz" in card_text(lobby.cards[0]), typed
        # Someone else typing "end quiz" is told who can; the quiz carries on.
        learner = trainer.as_person(rig.cast.learner)
        refused = await _text_reply(learner, "end quiz")
        assert refused.startswith("Only a trainer can run the quiz"), refused
        assert (await _quizzes(rig))[-1].state == "lobby"
        assert await _text_reply(trainer, "end quiz") == "OK, I've ended the live quiz.", typed
        assert (await _quizzes(rig))[-1].state == "finished"
    assert len(await _quizzes(rig)) == 2

    assert (await _text_reply(trainer, "end quiz")).startswith("There's no live quiz running here.")


async def test_stop_during_a_live_quiz_ends_it_early_for_the_trainer(make_rig) -> None:
    rig: Rig = await make_rig(**FAST)
    trainer = rig.group_chat(rig.cast.trainer)
    quiz_id, _ = await start_quiz(rig, trainer, "democracy 3 60s")
    await trainer.execute(Verb.LIVE_QUIZ_BEGIN, {"quiz_id": quiz_id})
    await posted_question(rig, trainer, quiz_id, 0)

    learner = trainer.as_person(rig.cast.learner)
    assert (await _text_reply(learner, "stop")).startswith("Only a trainer can run the quiz")
    assert (await _quizzes(rig))[0].state == "question"

    mark = rig.connector.mark()
    assert await _text_reply(trainer, "stop") == "OK, I've ended the live quiz."
    assert (await _quizzes(rig))[0].state == "finished"
    podium = await rig.connector.wait_for(
        lambda s: (
            s.conversation_id == trainer.conversation_id and bool(s.cards) and "Final results" in card_text(s.cards[0])
        ),
        after=mark,
    )
    assert "ended early, after 1 question" in card_text(podium.cards[0])

    # With no quiz running, "stop" means what it means anywhere.
    assert await _text_reply(trainer, "stop") == "There was nothing to cancel."


async def test_report_in_a_group_says_message_me_privately_with_a_button_to_the_1to1_chat(rig: Rig) -> None:
    chat = rig.group_chat(rig.cast.learner)
    card = await _one_card(chat, "report")  # "@Safe Space report"
    shown = card_text(card)
    assert "message me privately" in shown.lower() and "Sorry, I'm not sure" not in shown
    assert _links(card) == [PRIVATE_CHAT]
    assert [a["title"] for a in card["actions"]] == ["Message me privately"]
    await asyncio.sleep(0.2)
    assert len(chat.replies_so_far()) == 1, "one message: no menu, no 'not sure what you meant'"
    assert await all_cases(rig) == [], "nothing was reported from the group"

    card = await _one_card(chat, "my reports")
    assert "my reports" in card_text(card) and _links(card) == [PRIVATE_CHAT]


async def test_my_reports_appears_in_help(rig: Rig) -> None:
    chat = rig.personal(rig.cast.learner)
    card = await _one_card(chat, "help")
    assert "my reports" in card_text(card)
    assert "my reports" in _buttons(card)


async def test_thank_you_and_bye_get_a_short_kind_reply(rig: Rig) -> None:
    for chat in (rig.personal(rig.cast.learner), rig.group_chat(rig.cast.learner)):
        await chat.say("thank you")
        [thanks] = await chat.replies(1)
        assert thanks.text == "You're welcome. I'm here whenever you need me." and not thanks.cards
        await chat.say("bye")
        [bye] = await chat.replies(1)
        assert bye.text == "Bye for now, take care. I'm here whenever you want to talk." and not bye.cards
        await asyncio.sleep(0.2)
        assert len(chat.replies_so_far()) == 1
