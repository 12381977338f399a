"""Every activity in and out of a turn lands in the conversation log."""

from __future__ import annotations

import json

from storage.conversation_log import transcript
from storage.conversation_refs import personal_reference
from storage.db import create_engine, create_sessionmaker
from tests.conftest import Rig


async def _log(rig: Rig, conversation_id: str):
    engine = create_engine(rig.server.settings.database_url)
    async with create_sessionmaker(engine)() as session:
        entries = await transcript(session=session, conversation_id=conversation_id)
    await engine.dispose()
    return entries


async def test_messages_cards_and_submits_are_logged_in_order(rig: Rig) -> None:
    learner = rig.cast.learner
    chat = rig.personal(learner)
    await chat.say("hello there")  # not understood: an apology, then the menu
    await chat.replies(2)
    await chat.submit({"some": "card data"})  # a stray card submit: the menu
    await chat.replies(1)

    entries = await _log(rig, chat.conversation_id)
    assert [(e.direction, e.activity_type) for e in entries] == [
        ("in", "message"),
        ("out", "message"),
        ("out", "message"),
        ("in", "message"),
        ("out", "message"),
    ]
    first = entries[0]
    assert first.text == "hello there"
    assert first.user_aad_id == learner.aad_object_id and first.user_name == learner.name
    assert first.conversation_type == "personal" and first.channel_id == "msteams"
    assert entries[1].text.startswith("Sorry")
    menu = entries[2]
    assert menu.activity_id in {s.activity_id for s in rig.connector.sent}, "the connector's id is kept"
    assert json.loads(menu.payload)["attachments"][0]["contentType"].endswith("adaptive")
    assert json.loads(entries[3].payload)["value"] == {"some": "card data"}
    assert all(e.created_at.tzinfo is not None for e in entries)


async def test_invokes_and_their_responses_are_logged(rig: Rig) -> None:
    chat = rig.personal(rig.cast.learner)
    await chat.execute("no.such.verb", {"case": "x"})
    entries = await _log(rig, chat.conversation_id)
    assert [(e.direction, e.activity_type) for e in entries] == [("in", "invoke"), ("out", "invokeResponse")]
    assert json.loads(entries[0].payload)["value"]["action"]["verb"] == "no.such.verb"
    response = json.loads(entries[1].payload)
    assert response["status"] == 200 and response["body"]["statusCode"] == 400


async def test_channel_chatter_not_meant_for_the_bot_is_not_kept(rig: Rig) -> None:
    chat = rig.group_chat(rig.cast.learner)
    await chat.say("private chat between learners", mention=False)
    await chat.say("help", mention=True)
    entries = await _log(rig, chat.conversation_id)
    assert [e.text for e in entries if e.direction == "in"] == ["<at>Safe Space</at> help"]


async def test_a_personal_chat_is_remembered_for_proactive_messages(rig: Rig) -> None:
    dso = rig.cast.dso
    chat = rig.personal(dso)
    await chat.say("hi")
    engine = create_engine(rig.server.settings.database_url)
    async with create_sessionmaker(engine)() as session:
        ref = await personal_reference(session=session, user_aad_id=dso.aad_object_id.upper())
    await engine.dispose()
    assert ref is not None
    assert ref.conversation_id == chat.conversation_id and ref.service_url == rig.connector.url
    assert json.loads(ref.reference)["conversation"]["id"] == chat.conversation_id


async def test_a_broken_character_does_not_lose_the_message(rig: Rig) -> None:
    # A client can send half of a UTF-16 pair as a JSON escape; it cannot be stored as UTF-8. The message is kept
    # and answered, with the broken half shown as U+FFFD.
    chat = rig.personal(rig.cast.learner)
    await chat.say("hello \ud800 there")
    replies = await chat.replies(2)
    assert replies[0].text.startswith("Sorry")  # the ordinary "not understood", not "something went wrong"

    entries = await _log(rig, chat.conversation_id)
    assert entries[0].text == "hello \ufffd there"
