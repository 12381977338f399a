"""Report a worry as people really type it (issue 16, items 1-7): no false urgent reports, no lost words.

Each test types what was typed when the problem was seen, through the real app over loopback. The safety net reads
every message first and may answer some of them on its own (a card, sometimes a case of its own, source "triage");
these tests look at what the report itself does, so they read the learner's own case and whole turns of replies.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from cards.verbs import Verb
from storage.models import Case
from tests.card_validator import assert_valid_cards
from tests.conftest import Rig
from tests.rig.fake_connector import Sent
from tests.rig.safeguarding import (
    all_cases,
    card_text,
    events_of,
    reference_from,
    register_channel,
    walk_report,
)
from tests.rig.teams import Chat

FAST = {"delivery_poll_seconds": 0.05}
DANGER = "Is anyone in danger right now?"
ABOUT = "Who is this about?"
CATEGORY = "What is it about?"
ACCOUNT = "In your own words"
NAME = "What's their name, if you know it?"
WHEN = "When did it happen?"
WHERE = "Where did it happen?"
CONTACT = "Can the safeguarding team contact you about this?"
HOW = "How would you like them to contact you?"
NAME_ON_CARD = "Can your name be shown on it?"
SUMMARY = "Send this to the safeguarding team?"
EMERGENCY = "If anyone is in danger right now, get help now"


@pytest.fixture
async def fast_rig(make_rig) -> Rig:
    return await make_rig(**FAST)


def shown(replies: list[Sent]) -> str:
    """Everything a person sees in these replies: texts and the text on cards."""
    parts: list[str] = []
    for reply in replies:
        parts.append(reply.text or "")
        parts.extend(card_text(card) for card in reply.cards)
    return "\n".join(parts)


async def turn(chat: Chat, text: str) -> list[Sent]:
    """Type `text`; the replies of that turn (the bot answers before the HTTP request returns)."""
    assert await chat.say(text) == 200
    replies = chat.replies_so_far()
    assert_valid_cards(*[card for reply in replies for card in reply.cards])
    return replies


async def says(chat: Chat, text: str) -> str:
    return shown(await turn(chat, text))


def buttons(replies: list[Sent]) -> list[str]:
    """What each button on the last card types."""
    card = [r for r in replies if r.cards][-1].cards[0]
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "Action.Submit":
                found.append(node["data"]["msteams"]["value"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    return found


async def learner_cases(rig: Rig) -> list[Case]:
    return [case for case in await all_cases(rig) if case.source == "learner"]


async def answer_all(chat: Chat, answers: list[str]) -> str:
    said = ""
    for text in answers:
        said = await says(chat, text)
    return said


# Item 1: only a clear yes or no answers a yes/no question ----------------------------------------------------------


async def test_ok_to_the_notice_is_not_yes_and_the_question_comes_again_with_its_buttons(fast_rig: Rig) -> None:
    rig = fast_rig
    chat = rig.personal(rig.cast.learner)
    start = await turn(chat, "report")
    assert "can't promise to keep it secret" in shown(start) and "You don't need to reply to this" in shown(start)
    for typed in ("ok", "okay", "sure"):
        replies = await turn(chat, typed)
        said = shown(replies)
        assert EMERGENCY not in said, f"{typed!r} is not yes: no emergency route"
        assert DANGER in said and "You don't need to reply to it" in said, typed
        assert buttons(replies) == ["yes", "no", "not sure"], "asked again with the question and its buttons"
    assert ABOUT in await says(chat, "no")
    assert "OK, I've stopped that. Nothing was sent." in await says(chat, "cancel")
    assert await all_cases(rig) == [], "nothing was urgent, so nothing was sent"


async def test_anything_else_at_a_yes_no_question_is_asked_again_not_taken(fast_rig: Rig) -> None:
    rig = fast_rig
    chat = rig.personal(rig.cast.learner)
    await answer_all(chat, ["report", "no", "Me", "Something else", "It keeps happening at break.", "Done"])
    await answer_all(chat, ["skip", "skip"])
    replies = await turn(chat, "sure")
    assert "Please answer yes or no." in shown(replies) and CONTACT in shown(replies)
    assert buttons(replies) == ["yes", "no"]


# Item 2: an account in bursts, an editable summary, and a line after sending ----------------------------------------


async def test_an_account_typed_in_bursts_is_kept_whole_until_done(fast_rig: Rig) -> None:
    rig = fast_rig
    await register_channel(rig)
    chat = rig.personal(rig.cast.learner)
    await answer_all(chat, ["report", "no", "Another learner", "Bullying or harassment"])
    first = await turn(chat, "so basically")
    assert "Keep going if there's more" in shown(first) and buttons(first) == ["done"]
    second = await turn(chat, "my mate jordan has been acting weird")
    assert WHEN not in shown(second) and NAME not in shown(second), "the next line is not taken as another answer"
    await turn(chat, "and everyone in the group chat laughs along")
    assert NAME in await says(chat, "Done")
    assert WHEN in await says(chat, "Jordan")
    assert WHERE in await says(chat, "last tuesday")
    assert CONTACT in await says(chat, "in the break room")
    assert NAME_ON_CARD in await says(chat, "no")
    summary = await says(chat, "yes")
    assert SUMMARY in summary
    for line in ("so basically", "my mate jordan has been acting weird", "and everyone in the group chat laughs along"):
        assert line in summary
    reference = reference_from(await turn(chat, "send it"))
    [case] = await learner_cases(rig)
    assert case.reference == reference
    assert case.description == (
        "so basically\nmy mate jordan has been acting weird\nand everyone in the group chat laughs along"
    )
    assert (case.subject_name, case.incident_when, case.incident_where) == (
        "Jordan",
        "last tuesday",
        "in the break room",
    )
    posted = await rig.connector.wait_for(lambda s: s.kind == "create" and reference in card_text(s.cards[0]))
    assert "and everyone in the group chat laughs along" in card_text(posted.cards[0])


async def test_a_pause_in_the_account_brings_a_check_in_with_done(make_rig) -> None:
    rig: Rig = await make_rig(report_pause_seconds=0.3, **FAST)
    chat = rig.personal(rig.cast.learner)
    await answer_all(chat, ["report", "no", "Me", "Something else", "so basically"])
    mark = rig.connector.mark()
    await turn(chat, "it started last month")
    nudge = await rig.connector.wait_for(
        lambda s: s.conversation_id == chat.conversation_id and "Is that everything?" in shown([s]), after=mark
    )
    assert buttons([nudge]) == ["done"]
    assert_valid_cards(*nudge.cards)
    await asyncio.sleep(0.5)
    assert len([s for s in rig.connector.since(mark) if "Is that everything?" in shown([s])]) == 1, "checks in once"
    assert WHEN in await says(chat, "done"), "and carries on after Done"


async def test_change_something_at_the_summary_answers_one_question_again(fast_rig: Rig) -> None:
    rig = fast_rig
    chat = rig.personal(rig.cast.learner)
    await answer_all(
        chat, ["report", "no", "Me", "Something else", "Someone keeps posting mean things.", "Done", "yesterday"]
    )
    summary = await answer_all(chat, ["the car park", "no", "yes"])
    assert "When: yesterday" in summary and buttons(chat.replies_so_far()) == [
        "send it",
        "change something",
        "don't send",
    ]
    pick = await turn(chat, "Change something")
    assert "What would you like to change?" in shown(pick) and "When it happened" in buttons(pick)
    assert WHEN in await says(chat, "When it happened")
    again = await says(chat, "last Friday")
    assert SUMMARY in again and "When: last Friday" in again and "When: yesterday" not in again
    assert ACCOUNT not in await says(chat, "change something")
    assert "add to what happened" in (await says(chat, "Add to what happened")).lower()
    await turn(chat, "He keeps making jokes about my accent.")
    assert SUMMARY in await says(chat, "Done")
    await turn(chat, "send it")
    [case] = await learner_cases(rig)
    assert case.incident_when == "last Friday"
    assert case.description == "Someone keeps posting mean things.\nHe keeps making jokes about my accent.", (
        "added to, never replaced"
    )


async def test_a_line_sent_after_the_report_joins_the_same_case_and_its_card(fast_rig: Rig) -> None:
    rig = fast_rig
    await register_channel(rig)
    chat = rig.personal(rig.cast.learner)
    reference = reference_from(
        await walk_report(chat, "Someone keeps posting mean things about my friend in the group chat.")
    )
    [case] = await learner_cases(rig)
    await rig.connector.wait_for(lambda s: s.kind == "create" and reference in card_text(s.cards[0]))

    mark = rig.connector.mark()
    knife = await turn(chat, "oh and he said he has a knife")
    said = shown(knife)
    assert "999" in said, "the safety net answers first: emergency contacts"
    assert reference in said and "Sorry" not in said and "not sure I understood" not in said
    redrawn = await rig.connector.wait_for(
        lambda s: s.kind == "update" and "oh and he said he has a knife" in card_text(s.cards[0]), after=mark
    )
    assert reference in card_text(redrawn.cards[0])

    mark = rig.connector.mark()
    later = await says(chat, "also it happened twice")
    assert f"I've added that to your report {reference}" in later
    redrawn = await rig.connector.wait_for(
        lambda s: s.kind == "update" and "also it happened twice" in card_text(s.cards[0]), after=mark
    )
    assert "Added by the reporter after sending: also it happened twice" in card_text(redrawn.cards[0])
    assert_valid_cards(*redrawn.cards)
    added = [e for e in await events_of(rig, case.id) if e.kind == "reporter_added"]
    assert [json.loads(e.detail)["text"] for e in added] == ["also it happened twice"]
    assert [c.reference for c in await learner_cases(rig)] == [reference], "no second report"


async def test_a_line_after_the_case_was_closed_is_not_added_to_it(fast_rig: Rig) -> None:
    rig = fast_rig
    chat = rig.personal(rig.cast.learner)
    reference_from(await walk_report(chat, "A worry about my friend."))
    from sqlalchemy import update

    from tests.rig.safeguarding import services

    async with services(rig).database.sessions.begin() as session:
        # Every case of theirs (the safety net may have opened one of its own on the way).
        await session.execute(update(Case).values(status="closed"))
    said = await says(chat, "also it happened twice")
    assert "I've added that" not in said
    for case in await all_cases(rig):
        assert "reporter_added" not in [e.kind for e in await events_of(rig, case.id)]


# Item 3: back, menu and cancel keep what was typed -----------------------------------------------------------------


async def test_back_goes_back_one_question_and_then_on_to_where_you_were(fast_rig: Rig) -> None:
    rig = fast_rig
    chat = rig.personal(rig.cast.learner)
    await answer_all(chat, ["report", "no", "Another learner"])
    back = await says(chat, "back")
    assert "back one question" in back and ABOUT in back and "Nothing was sent" not in back
    assert CATEGORY in await says(chat, "Me"), "answered again, then on"
    await answer_all(chat, ["Something else", "so basically"])
    back = await says(chat, "back")
    assert CATEGORY in back
    again = await says(chat, "Bullying or harassment")
    assert ACCOUNT in again and "so basically" in again, "the account so far is kept"
    assert WHEN in await says(chat, "Done")
    await answer_all(chat, ["skip", "skip", "no", "yes", "send it"])
    [case] = await learner_cases(rig)
    assert (case.about, case.category, case.description) == ("self", "bullying", "so basically")


async def test_menu_mid_report_shows_the_menu_and_keeps_the_draft(fast_rig: Rig) -> None:
    rig = fast_rig
    chat = rig.personal(rig.cast.learner)
    await answer_all(chat, ["report", "no", "Me", "Something else", "so basically"])
    replies = await turn(chat, "menu")
    said = shown(replies)
    assert "What would you like to do?" in said and "You have an unfinished report" in said
    assert "Nothing was sent" not in said and "stopped" not in said
    assert buttons(replies) == ["carry on with my report", "don't send my report"]
    assert await all_cases(rig) == []
    # Something else in between; the draft waits, and every menu mentions it.
    assert "Which British value" in await says(chat, "quiz")
    await says(chat, "cancel")
    assert "You have an unfinished report" in await says(chat, "hi")
    resumed = await says(chat, "carry on with my report")
    assert "Carrying on with your report" in resumed and "so basically" in resumed
    await turn(chat, "it was at lunch")
    assert WHEN in await says(chat, "Done")
    await answer_all(chat, ["skip", "skip", "no", "yes", "send it"])
    [case] = await learner_cases(rig)
    assert case.description == "so basically\nit was at lunch"
    assert "You have an unfinished report" not in await says(chat, "menu")


async def test_dont_send_on_the_unfinished_report_discards_it_and_says_so(fast_rig: Rig) -> None:
    rig = fast_rig
    chat = rig.personal(rig.cast.learner)
    await answer_all(chat, ["report", "no", "Me", "Something else", "so basically", "menu"])
    said = await says(chat, "don't send my report")
    assert "OK, I haven't sent it. Nothing was stored as a report." in said
    assert "You have an unfinished report" not in await says(chat, "menu")
    assert await all_cases(rig) == []


async def test_cancel_after_typing_asks_before_anything_is_thrown_away(fast_rig: Rig) -> None:
    rig = fast_rig
    chat = rig.personal(rig.cast.learner)
    await answer_all(chat, ["report", "no", "Me", "Something else", "so basically"])
    stop = await turn(chat, "cancel")
    assert "Stop this report without sending it?" in shown(stop) and buttons(stop) == ["carry on", "don't send"]
    assert "so basically" in await says(chat, "carry on"), "back at the account, with what was typed"
    await turn(chat, "cancel")
    assert "OK, I haven't sent it." in await says(chat, "don't send")
    assert await all_cases(rig) == []


async def test_menu_after_someone_is_in_danger_sends_what_there_is_and_the_rest_joins_it(fast_rig: Rig) -> None:
    rig = fast_rig
    await register_channel(rig)
    chat = rig.personal(rig.cast.learner)
    await answer_all(chat, ["report", "yes", "Me"])
    parked = await says(chat, "menu")
    assert "You have an unfinished report" in parked and "urgent report, reference SS-" in parked
    [case] = await learner_cases(rig)
    assert case.urgent and case.incomplete, "someone may be in danger: the team does not wait for the rest"
    resumed = await says(chat, "carry on with my report")
    assert case.reference in resumed and CATEGORY in resumed
    await answer_all(chat, ["Something else", "Someone said they'd hurt me after class.", "Done", "skip", "skip"])
    summary = await answer_all(chat, ["no"])
    assert SUMMARY in summary and NAME_ON_CARD not in summary
    finished = await says(chat, "send it")
    assert f"I've added the rest of your report to {case.reference}" in finished
    [after] = await learner_cases(rig)
    assert after.id == case.id, "one case, not two"
    [rest] = [e for e in await events_of(rig, case.id) if e.kind == "report_finished"]
    assert "Someone said they'd hurt me after class." in json.loads(rest.detail)["text"]


# Item 4: stuck prompts -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["not sure", "i dont know", "no but im worried"])
async def test_not_sure_is_an_answer_urgent_but_unconfirmed(fast_rig: Rig, typed: str) -> None:
    rig = fast_rig
    await register_channel(rig)
    chat = rig.personal(rig.cast.learner)
    await turn(chat, "report")
    replies = await turn(chat, typed)
    said = shown(replies)
    assert "Please answer" not in said and ABOUT in said
    assert EMERGENCY in said and "tell them you weren't sure" in said
    summary = await answer_all(chat, ["Me", "Something else", "I'm worried about what I saw.", "Done"])
    summary = await answer_all(chat, ["skip", "skip", "no", "yes"])
    assert "you weren't sure whether someone is in danger" in summary
    received = await says(chat, "send it")
    assert "normally within a working day" not in received
    [case] = await learner_cases(rig)
    assert case.urgent
    [created] = await events_of(rig, case.id)
    assert json.loads(created.detail)["danger"] == "not_sure"
    posted = await rig.connector.wait_for(lambda s: s.kind == "create" and case.reference in card_text(s.cards[0]))
    text = card_text(posted.cards[0])
    assert "URGENT, not confirmed" in text and "the reporter said someone may be at risk now" not in text


@pytest.mark.parametrize(
    ("typed", "step_answers", "question"),
    [
        ("is this anonymous", [], DANGER),
        ("who will see this", ["no"], ABOUT),
        ("will they know its me", ["no", "Me", "Something else"], ACCOUNT),
    ],
)
async def test_privacy_questions_get_the_honest_answer_then_the_question_again(
    rig: Rig, typed: str, step_answers: list[str], question: str
) -> None:
    chat = rig.personal(rig.cast.learner)
    await answer_all(chat, ["report", *step_answers])
    replies = await turn(chat, typed)
    said = shown(replies)
    assert "isn't anonymous" in said and "your name is stored" in said and "can't promise" in said
    assert question in said
    assert said.index("isn't anonymous") < said.index(question), "the answer, then the question"


@pytest.mark.parametrize(
    ("typed", "about"),
    [("my mate", "learner"), ("my manager", "outside"), ("my trainer", "staff")],
)
async def test_who_is_this_about_understands_how_people_say_it(fast_rig: Rig, typed: str, about: str) -> None:
    rig = fast_rig
    chat = rig.personal(rig.cast.learner)
    await answer_all(chat, ["report", "no"])
    assert CATEGORY in await says(chat, typed)
    await answer_all(chat, ["Something else", "They keep shouting at me.", "Done", "skip", "skip", "skip", "no"])
    await answer_all(chat, ["yes", "send it"])
    [case] = await learner_cases(rig)
    assert case.about == about


async def test_hi_mid_report_says_where_we_were_and_asks_again(rig: Rig) -> None:
    chat = rig.personal(rig.cast.learner)
    await answer_all(chat, ["report", "no"])
    said = await says(chat, "hi")
    assert "Welcome back" in said and "nothing has been sent yet" in said and ABOUT in said


# Item 5: what the card needs -----------------------------------------------------------------------------------------


async def test_the_card_has_their_name_when_and_where_apart_and_teams_chat_for_a_skipped_method(
    fast_rig: Rig,
) -> None:
    rig = fast_rig
    await register_channel(rig)
    chat = rig.personal(rig.cast.learner)
    replies = await walk_report(
        chat,
        "He keeps making jokes about my accent.",
        subject="Jordan",
        when="last tuesday",
        where="in the break room",
        how="skip",
    )
    summary = next(shown([r]) for r in chat.connector.sent if SUMMARY in shown([r]))
    assert "Contact: Teams chat" in summary and "Contact: Yes" not in summary
    assert "They may get in touch with you in a Teams chat." in shown(replies)
    reference = reference_from(replies)
    [case] = await learner_cases(rig)
    assert (case.subject_name, case.incident_when, case.incident_where) == (
        "Jordan",
        "last tuesday",
        "in the break room",
    )
    posted = await rig.connector.wait_for(lambda s: s.kind == "create" and reference in card_text(s.cards[0]))
    facts = {f["title"]: f["value"] for b in posted.cards[0]["body"] if b["type"] == "FactSet" for f in b["facts"]}
    assert facts["Person concerned"] == "Jordan" and facts["Contact"] == "Teams chat"
    assert facts["When it happened"] == "last tuesday" and facts["Where"] == "in the break room"


async def test_an_urgent_report_is_not_told_normally_within_a_working_day(fast_rig: Rig) -> None:
    rig = fast_rig
    replies = await walk_report(
        rig.personal(rig.cast.learner), "They keep leaving me out of the group chat.", danger="yes"
    )
    said = shown(replies)
    assert "Your report has been received" in said and "marked urgent" in said
    assert "normally within a working day" not in said


# Item 6 ----------------------------------------------------------------------------------------------------------


async def test_can_i_report_anonymously_gets_the_honest_answer(rig: Rig) -> None:
    chat = rig.personal(rig.cast.learner)
    said = await says(chat, "can i report anonymously")
    assert "your name not to be shown on the card" in said and "still stored" in said
    assert "Where to report something online" not in said


# Item 7: the contact preference reaches the DSO ---------------------------------------------------------------------


async def test_the_contact_preference_is_on_the_card_when_named(fast_rig: Rig) -> None:
    rig = fast_rig
    await register_channel(rig)
    chat = rig.personal(rig.cast.learner)
    reference = reference_from(
        await walk_report(chat, "He keeps posting mean comments about me.", how="call me on 07700 900123 after 5pm")
    )
    posted = await rig.connector.wait_for(lambda s: s.kind == "create" and reference in card_text(s.cards[0]))
    assert "call me on 07700 900123 after 5pm" in card_text(posted.cards[0])


async def test_a_hidden_reporter_keeps_the_contact_preference_with_their_name(fast_rig: Rig) -> None:
    rig = fast_rig
    await register_channel(rig)
    chat = rig.personal(rig.cast.learner)
    reference = reference_from(
        await walk_report(
            chat,
            "They keep leaving me out of the group chat.",
            how="call me on 07700 900123 after 5pm",
            name_shown="no",
        )
    )
    posted = await rig.connector.wait_for(lambda s: s.kind == "create" and reference in card_text(s.cards[0]))
    card = card_text(posted.cards[0])
    assert "07700 900123" not in card and "Alex Learner" not in card
    assert "how is kept with their name" in card
    [case] = await learner_cases(rig)
    await rig.personal(rig.cast.dso).say("hi")
    dso = rig.channel(rig.cast.dso, thread=posted.conversation_id.split("=")[-1])
    dso.conversation_id = posted.conversation_id
    mark = rig.connector.mark()
    status, _ = await dso.execute(
        Verb.CASE_REVEAL, {"case_id": case.id, "version": case.version, "reveal_reason": "Need to call them"}
    )
    assert status == 200
    told = await rig.connector.wait_for(lambda s: "the reporter is Alex Learner" in (s.text or ""), after=mark)
    assert "call me on 07700 900123 after 5pm" in told.text
