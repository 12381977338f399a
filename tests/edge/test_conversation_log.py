"""Every activity in and out of a turn lands in the conversation log."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import select

from cards.verbs import Verb
from storage.conversation_log import transcript
from storage.conversation_refs import personal_reference
from storage.db import create_engine, create_sessionmaker
from storage.models import ConversationLogEntry
from tests.conftest import Rig
from tests.rig.safeguarding import (
    CHANNEL_ID,
    all_cases,
    card_text,
    reference_from,
    register_channel,
    services,
    walk_report,
)


async def _log(rig: Rig, conversation_id: str):
    engine = create_engine(rig.server.settings.database_url)
    async with create_sessionmaker(engine)() as session:
        entries = await transcript(session=session, conversation_id=conversation_id)
    await engine.dispose()
    return entries


async def test_messages_cards_and_submits_are_logged_in_order(rig: Rig) -> None:
    learner = rig.cast.learner
    chat = rig.personal(learner)
    await chat.say("purple monkey dishwasher")  # not understood: the closest things and the way to the menu
    await chat.replies(1)
    await chat.submit({"some": "card data"})  # a stray card submit: the menu
    await chat.replies(1)

    entries = await _log(rig, chat.conversation_id)
    assert [(e.direction, e.activity_type) for e in entries] == [
        ("in", "message"),
        ("out", "message"),
        ("in", "message"),
        ("out", "message"),
    ]
    first = entries[0]
    assert first.text == "purple monkey dishwasher"
    assert first.user_aad_id == learner.aad_object_id and first.user_name == learner.name
    assert first.conversation_type == "personal" and first.channel_id == "msteams"
    closest = entries[1]
    assert closest.activity_id in {s.activity_id for s in rig.connector.sent}, "the connector's id is kept"
    assert json.loads(closest.payload)["attachments"][0]["contentType"].endswith("adaptive")
    assert "not sure I understood" in closest.payload
    assert json.loads(entries[2].payload)["value"] == {"some": "card data"}
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
    await chat.say("purple \ud800 monkey")
    replies = await chat.replies(1)
    assert "something went wrong" not in (replies[0].text or "")  # the ordinary "not understood" card

    entries = await _log(rig, chat.conversation_id)
    assert entries[0].text == "purple \ufffd monkey"


async def test_a_case_card_is_logged_as_a_reference_not_a_copy(make_rig) -> None:
    """Security review item 11: every DSO press used to store the whole card (what the reporter wrote) again."""
    rig: Rig = await make_rig(delivery_poll_seconds=0.05)
    await (await register_channel(rig)).replies(1)
    for dso in (rig.cast.dso, rig.cast.deputy):
        await rig.personal(dso).say("hi")
    learner = rig.personal(rig.cast.learner)
    # A worry, not a danger (the safety net reads it as medium), so the report goes through as written.
    description = "Jordan keeps sending me extremist memes"
    reference = reference_from(await walk_report(learner, description))
    posted = await rig.connector.wait_for(lambda s: s.kind == "create" and bool(s.cards))
    assert reference in card_text(posted.cards[0]) and "Jordan" in card_text(posted.cards[0])
    [case] = await all_cases(rig)

    thread = rig.channel(rig.cast.dso, channel_id=CHANNEL_ID, thread=posted.conversation_id.split("=")[-1])
    mark = rig.connector.mark()
    status, body = await thread.execute(Verb.CASE_ACKNOWLEDGE, {"case_id": case.id, "version": case.version})
    assert status == 200 and "Jordan" in card_text(body["value"]), "the DSO still sees the whole card"
    await rig.connector.wait_for(lambda s: s.kind == "update", after=mark)
    await thread.execute(
        Verb.CASE_NOTE, {"case_id": case.id, "version": case.version + 1, "note_text": "Spoke to the tutor."}
    )
    await asyncio.sleep(0.3)

    async with services(rig).database.sessions() as session:
        entries = list((await session.execute(select(ConversationLogEntry))).scalars())
    elsewhere = [e for e in entries if e.conversation_id != learner.conversation_id]
    assert elsewhere, "the channel's side is logged"
    for entry in elsewhere:
        assert "Jordan" not in (entry.payload or "") + (entry.text or ""), (entry.activity_type, entry.payload)

    def card_refs(kind: str) -> list[dict[str, int]]:
        found = []
        for entry in elsewhere:
            payload = json.loads(entry.payload or "{}")
            if entry.activity_type == kind == "invokeResponse":
                found.append(payload["body"]["value"]["case_card"])
            elif entry.activity_type == kind:
                found += [a["case_card"] for a in payload.get("attachments", []) if "case_card" in a]
        return found

    assert card_refs("invokeResponse") == [
        {"case_id": case.id, "version": 2},
        {"case_id": case.id, "version": 3},
    ]
    assert card_refs("messageUpdate") == card_refs("invokeResponse"), "the card redrawn for everyone else"
    # Other cards are kept whole: the learner's own conversation still shows what they were asked.
    mine = [e for e in entries if e.conversation_id == learner.conversation_id and e.payload]
    assert any("content" in a for e in mine for a in json.loads(e.payload).get("attachments", []))
