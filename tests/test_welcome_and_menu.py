"""Welcome, menu, help, cancel and @mention handling in 1:1 chats, group chats and channels."""

from __future__ import annotations

from tests.card_validator import assert_valid_cards
from tests.conftest import Rig
from tests.rig.safeguarding import card_text


def _menu_commands(card: dict) -> list[str]:
    return [a["data"]["msteams"]["value"] for a in card["actions"]]


async def test_personal_install_welcomes_says_who_reads_and_shows_the_menu(rig: Rig) -> None:
    chat = rig.personal(rig.cast.learner)
    assert await chat.install() == 200
    welcome, menu = await chat.replies(2)
    assert welcome.text.startswith("Hi Alex,")
    assert "Designated Safeguarding Officer" in welcome.text
    assert "kept in Qualitrain's records" in welcome.text
    assert "can't promise to keep secrets" in welcome.text
    assert "999" in welcome.text
    assert _menu_commands(menu.cards[0]) == ["report", "online safety", "quiz", "who can i talk to", "help"]
    assert_valid_cards(*menu.cards)


async def test_welcome_escapes_a_display_name_with_markdown(rig: Rig) -> None:
    from tests.rig.teams import Person

    chat = rig.personal(Person("**Bold**[x](http://evil.example)"))
    await chat.install()
    welcome, _ = await chat.replies(2)
    assert welcome.text.startswith("Hi \\*\\*Bold\\*\\*\\[x\\]\\(http:")


async def test_group_install_says_hello_without_a_menu(rig: Rig) -> None:
    chat = rig.group_chat(rig.cast.trainer)
    await chat.install()
    [hello] = await chat.replies(1)
    assert "Mention me" in hello.text and not hello.cards


async def test_every_menu_button_can_be_typed(rig: Rig) -> None:
    chat = rig.personal(rig.cast.learner)
    await chat.say("menu")
    [menu] = await chat.replies(1)
    for command in _menu_commands(menu.cards[0]):
        await chat.say("menu")
        await chat.replies(1)
        await chat.press_im_back(command)
        by_button = [(r.text, bool(r.cards)) for r in await chat.replies(1)]
        await chat.say("cancel")
        await chat.replies(1)
        await chat.say(command.upper() + " ")
        by_typing = [(r.text, bool(r.cards)) for r in await chat.replies(1)]
        assert by_button == by_typing, command
        await chat.say("cancel")
        await chat.replies(1)


async def test_help_mid_dialog_keeps_the_dialog(rig: Rig) -> None:
    chat = rig.personal(rig.cast.learner)
    await chat.say("quiz")
    await chat.replies(1)
    await chat.say("help")
    help_text, reprompt = await chat.replies(2)
    assert "Type **menu**" in help_text.text
    assert "Which British value" in reprompt.cards[0]["body"][0]["text"]
    await chat.say("democracy")
    [length] = await chat.replies(1)
    assert "How many questions" in length.cards[0]["body"][0]["text"]


async def test_menu_mid_dialog_stops_it_and_shows_the_menu(rig: Rig) -> None:
    chat = rig.personal(rig.cast.learner)
    await chat.say("quiz")
    await chat.replies(1)
    await chat.say("Menu")
    stopped, menu = await chat.replies(2)
    assert stopped.text == "OK, I've stopped that. Nothing was sent."
    assert menu.cards
    await chat.say("democracy")  # no dialog now: not a quiz answer but a question, answered from the sources
    replies = await chat.replies(1)
    assert "Where this comes from" in card_text(replies[0].cards[0])


async def test_cancel_with_nothing_to_cancel(rig: Rig) -> None:
    chat = rig.personal(rig.cast.learner)
    await chat.say("cancel")
    nothing, menu = await chat.replies(2)
    assert nothing.text == "There was nothing to cancel." and menu.cards


async def test_unknown_text_gets_a_kind_answer_and_the_menu(rig: Rig) -> None:
    chat = rig.personal(rig.cast.learner)
    await chat.say("is the canteen open today")
    [closest] = await chat.replies(1)
    shown = card_text(closest.cards[0])
    assert shown.startswith("I'm not sure I understood that.") and "Sorry, I didn't understand" not in shown
    assert [a["data"]["msteams"]["value"] for a in closest.cards[0]["actions"]][-1] == "menu"


async def test_greeting_gets_the_menu(rig: Rig) -> None:
    chat = rig.personal(rig.cast.learner)
    await chat.say("Hiya!")
    [menu] = await chat.replies(1)
    assert menu.cards


async def test_group_chat_answers_only_when_mentioned(rig: Rig) -> None:
    chat = rig.group_chat(rig.cast.learner)
    assert await chat.say("help", mention=False) == 200
    assert chat.replies_so_far() == []
    await chat.say("help", mention=True)
    [reply] = await chat.replies(1)
    assert "What I can do here" in card_text(reply.cards[0])


async def test_channel_mention_is_stripped_before_routing(rig: Rig) -> None:
    chat = rig.channel(rig.cast.staff)
    await chat.say("  help  ", mention=True)
    [reply] = await chat.replies(1)
    assert "What I can do here" in card_text(reply.cards[0])


async def test_the_self_paced_quiz_is_not_started_in_a_group(rig: Rig) -> None:
    chat = rig.group_chat(rig.cast.learner)
    await chat.say("quiz")  # in a group "quiz" is the live quiz, which only a trainer starts
    [reply] = await chat.replies(1)
    assert reply.text.startswith("Only trainers can start a live quiz.") and "message me on your own" in reply.text
    await chat.say("menu")
    [menu] = await chat.replies(1)
    assert "quiz" not in [a["data"]["msteams"]["value"] for a in menu.cards[0]["actions"]]


async def test_malformed_mention_entity_does_not_break_the_turn(rig: Rig) -> None:
    chat = rig.group_chat(rig.cast.learner)
    payload = chat.message("help", mention=True)
    payload["entities"].append({"type": "mention"})  # no "mentioned" at all
    payload["entities"].append({"type": "mention", "mentioned": "not an object"})
    status, _ = await chat.post(payload)
    assert status == 200
    [reply] = await chat.replies(1)
    assert "Mention me" in card_text(reply.cards[0])


async def test_help_says_what_safe_space_does_with_buttons_in_one_message(rig: Rig) -> None:
    chat = rig.personal(rig.cast.learner)
    await chat.say("help")
    [card] = await chat.replies(1)
    shown = card_text(card.cards[0])
    assert "Type **menu**" in shown or "Type menu" in shown
    assert len(card.cards[0]["actions"]) >= 4
    assert_valid_cards(*card.cards)
