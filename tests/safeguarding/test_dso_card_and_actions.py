"""Issue 16, items 8-11: the staff form's referral, Reveal, a Channel referral waiting for a director, and urgent
cases @mentioning the DSOs. Each runs through the real app and the fake Bot Connector, as people press buttons."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cards.verbs import Verb
from tests.card_validator import assert_valid_cards
from tests.conftest import Rig
from tests.rig.fake_connector import Failure, Sent
from tests.rig.safeguarding import (
    CHANNEL_ID,
    TEAM_ID,
    all_cases,
    card_text,
    events_of,
    reference_from,
    register_channel,
    walk_report,
)
from tests.rig.teams import TENANT_ID, Chat


@pytest.fixture
async def fast_rig(make_rig) -> Rig:
    return await make_rig(delivery_poll_seconds=0.05)


def facts(card: dict[str, Any]) -> dict[str, str]:
    """Every FactSet line on a card, title -> value, with markdown escapes read as the characters they show."""
    found: dict[str, str] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "FactSet":
                found.update({f["title"]: card_text({"text": f["value"]}) for f in node["facts"]})
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    return found


async def _posted_card(rig: Rig, reference: str) -> Sent:
    return await rig.connector.wait_for(
        lambda s: s.kind == "create" and bool(s.cards) and reference in card_text(s.cards[0])
    )


async def _latest_card(rig: Rig, posted: Sent, must_show: str) -> dict[str, Any]:
    """The case card as the channel now shows it: the newest redraw that shows `must_show`."""
    update = await rig.connector.wait_for(
        lambda s: (
            s.kind == "update"
            and s.conversation_id == posted.conversation_id
            and bool(s.cards)
            and must_show in card_text(s.cards[0])
        )
    )
    return update.cards[0]


def _in_thread(rig: Rig, person, posted: Sent) -> Chat:
    chat = rig.channel(person, team_id=TEAM_ID, channel_id=CHANNEL_ID, thread=posted.conversation_id.split("=")[-1])
    chat.conversation_id = posted.conversation_id
    return chat


def _creates_for(rig: Rig, person, after: int = 0) -> list[dict[str, Any]]:
    """Every 1:1 chat the bot created with `person` (Teams takes their Teams id or their Entra object id)."""
    return [
        params
        for params in rig.connector.created[after:]
        if [m.get("id") for m in params.get("members") or []] in ([person.aad_object_id], [person.teams_id])
    ]


# Item 8: the staff form ----------------------------------------------------------------------------------------

STAFF_SUBMISSION = {
    "sf_subject_name": "Jo Bloggs",
    "sf_subject_role": "learner",
    "sf_under_18": "yes",
    "sf_incident_date": "2026-11-25",
    "sf_incident_time": "12:40",
    "sf_incident_where": "Workshop 2",
    "sf_category": "radicalisation",
    "sf_description": 'He said "they all deserve it" about a group.',
    "sf_fears": "That he will act on it at the weekend.",
    "sf_online_how": "A learner showed me his posts on her phone.",
    "sf_spoken_to": "director",
    "sf_action_taken": "Told the centre manager and kept the screenshots.",
    "sf_others_aware": "Centre manager",
    "sf_parents_told": "no",
    "sf_other_agencies": "His employer's HR team.",
    "sf_urgency": "not_urgent",
}


async def test_the_staff_forms_referral_reaches_the_card_whole(make_rig, database_url: str) -> None:
    """On SQLite and PostgreSQL: the new columns (migration 0006) keep every answer."""
    rig: Rig = await make_rig(database_url=database_url, delivery_poll_seconds=0.05)
    await register_channel(rig)
    staff = rig.personal(rig.cast.staff)
    await staff.say("report")
    intro, form = await staff.replies(2)
    # The intro names the button the form really has.
    assert "Send to the DSO" in intro.text and "press submit" not in intro.text
    [submit] = form.cards[0]["actions"]
    assert submit["title"] == "Send to the DSO"
    ids = set()

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            if str(node.get("type", "")).startswith("Input.") and node.get("id"):
                ids.add(node["id"])
                if node["id"] == "sf_action_taken":
                    assert node.get("label") == "What have you already done?", "a real label, not a heading"
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(form.cards[0])
    assert set(STAFF_SUBMISSION) <= ids, f"the form has no inputs for {set(STAFF_SUBMISSION) - ids}"

    status, body = await staff.execute(Verb.STAFF_FORM_SUBMIT, STAFF_SUBMISSION)
    assert status == 200 and "received" in card_text(body["value"])
    [case] = await all_cases(rig)
    assert (case.spoken_to, case.parents_told) == ("director", "no")
    assert case.fears == "That he will act on it at the weekend."
    card = (await _posted_card(rig, case.reference)).cards[0]
    assert_valid_cards(card)
    shown = facts(card)
    # 12:40 on 25 November is GMT: the time typed is the time shown.
    assert shown["When it happened"] == "Wed 25 Nov 2026, 12:40"
    assert shown["About"] == "A learner", "not 'Another learner': a member of staff is not a learner"
    assert shown["Spoken to the DSO or a director"] == "Yes, a director"
    assert shown["Parents or carers told (under 18)"] == "No, not yet"
    text = card_text(card)
    assert "In their own words" not in text and "What the member of staff saw or heard" in text
    for typed in (
        "That he will act on it at the weekend.",
        "A learner showed me his posts on her phone.",
        "His employer's HR team.",
        "Told the centre manager and kept the screenshots.",
    ):
        assert typed in text


async def test_a_day_without_a_time_is_shown_as_the_day_alone(fast_rig: Rig) -> None:
    rig = fast_rig
    await register_channel(rig)
    staff = rig.personal(rig.cast.staff)
    data = {**STAFF_SUBMISSION, "sf_incident_date": "2026-07-01", "sf_incident_time": "", "sf_incident_when": "break"}
    status, _ = await staff.execute(Verb.STAFF_FORM_SUBMIT, data)
    assert status == 200
    [case] = await all_cases(rig)
    card = (await _posted_card(rig, case.reference)).cards[0]
    assert facts(card)["When it happened"] == "Wed 1 Jul 2026 (break)", "no made-up 00:00 (or 01:00 BST)"
    assert case.incident_time_known is False


async def test_an_under_18_needs_the_parents_answer_and_nothing_is_stored_without_it(fast_rig: Rig) -> None:
    rig = fast_rig
    staff = rig.personal(rig.cast.staff)
    status, body = await staff.execute(Verb.STAFF_FORM_SUBMIT, {**STAFF_SUBMISSION, "sf_parents_told": ""})
    assert status == 200 and "parents or carers have been told" in card_text(body["value"])
    assert await all_cases(rig) == []


# Item 9: Reveal --------------------------------------------------------------------------------------------------


async def _hidden_report(rig: Rig) -> tuple[Sent, Any]:
    await register_channel(rig)
    reference = reference_from(
        await walk_report(rig.personal(rig.cast.learner), "Please don't say it was me.", name_shown="no")
    )
    posted = await _posted_card(rig, reference)
    [case] = [c for c in await all_cases(rig) if c.source == "learner"]
    return posted, case


async def test_reveal_opens_a_1to1_chat_when_the_dso_has_none_and_the_card_says_who_saw_it(fast_rig: Rig) -> None:
    rig = fast_rig
    posted, case = await _hidden_report(rig)
    dso = _in_thread(rig, rig.cast.dso, posted)  # Claire has never written to Safe Space 1:1
    mark = rig.connector.mark()
    created = len(rig.connector.created)
    status, body = await dso.execute(
        Verb.CASE_REVEAL, {"case_id": case.id, "version": case.version, "reveal_reason": "Need to speak to them"}
    )
    assert status == 200 and "started a 1:1 chat" in body["value"]
    [opened] = _creates_for(rig, rig.cast.dso, created)
    # botbuilder writes the tenant as "tenantID"; Teams reads channelData.tenant.id.
    assert opened.get("isGroup") is False and opened["channelData"]["tenant"]["id"] == TENANT_ID
    named = await rig.connector.wait_for(lambda s: "the reporter is Alex Learner" in (s.text or ""), after=mark)
    assert named.conversation_id.startswith("a:personal-"), "sent into the chat the bot opened"
    assert "Need to speak to them" in named.text

    # The deputy looking at the channel sees that it happened, by whom and when; never the name.
    card = await _latest_card(rig, posted, "The reporter's name was sent to Claire Lewis")
    assert "Alex Learner" not in card_text(card)
    assert_valid_cards(card)
    [reveal] = [e for e in await events_of(rig, case.id) if e.kind == "reporter_revealed"]
    assert reveal.actor_aad_id == rig.cast.dso.aad_object_id and "Need to speak to them" in (reveal.detail or "")

    # The chat is remembered: a second reveal (by the same DSO) goes straight to it, no new chat.
    created = len(rig.connector.created)
    [now] = [c for c in await all_cases(rig) if c.source == "learner"]
    status, body = await dso.execute(
        Verb.CASE_REVEAL, {"case_id": case.id, "version": now.version, "reveal_reason": "Again, for the file"}
    )
    assert "I've sent you the reporter's name in our 1:1 chat" in body["value"]
    assert _creates_for(rig, rig.cast.dso, created) == []


async def test_reveal_says_plainly_when_it_cannot_open_a_chat_and_records_nothing(fast_rig: Rig) -> None:
    rig = fast_rig
    posted, case = await _hidden_report(rig)
    dso = _in_thread(rig, rig.cast.dso, posted)
    mark = rig.connector.mark()
    rig.connector.fail_next(Failure(403, kinds=frozenset({"create"})))  # the app is not available to Claire
    status, body = await dso.execute(
        Verb.CASE_REVEAL, {"case_id": case.id, "version": case.version, "reveal_reason": "Need to speak to them"}
    )
    assert status == 200 and "couldn't open a 1:1 chat" in body["value"] and "haven't sent" in body["value"]
    assert "I've sent" not in body["value"]
    assert not [e for e in await events_of(rig, case.id) if e.kind == "reporter_revealed"]
    [same] = [c for c in await all_cases(rig) if c.source == "learner"]
    assert same.version == case.version
    assert not [s for s in rig.connector.since(mark) if "Alex Learner" in json.dumps(s.activity)]


# Item 10: a Channel referral waits for a director ---------------------------------------------------------------


async def test_a_channel_referral_tells_the_directors_who_can_confirm_from_the_message(fast_rig: Rig) -> None:
    rig = fast_rig
    await register_channel(rig)
    # A worry, not a danger: the safety net reads it as medium, so the report goes through as written.
    reference = reference_from(await walk_report(rig.personal(rig.cast.learner), "My friend shares extremist videos."))
    posted = await _posted_card(rig, reference)
    [case] = await all_cases(rig)
    dso = _in_thread(rig, rig.cast.dso, posted)
    mark = rig.connector.mark()
    _, proposed = await dso.execute(
        Verb.CASE_DECIDE,
        {"case_id": case.id, "version": case.version, "decision": "channel", "decision_reason": "Views hardening."},
    )
    # On the card everyone shares, the button says whose it is.
    confirm = [a for a in proposed["value"]["actions"] if a.get("verb") == Verb.CASE_CONFIRM_DECISION]
    assert [a["title"] for a in confirm] == ["Director confirms Channel referral"]

    # Alan, the director, has never written to Safe Space: it opens his 1:1 chat and tells him there.
    told = await rig.connector.wait_for(
        lambda s: bool(s.cards) and "needs a director: case" in card_text(s.cards[0]), after=mark
    )
    assert told.conversation_id.startswith("a:personal-")
    assert _creates_for(rig, rig.cast.director), "the director's 1:1 chat was opened"
    message = told.cards[0]
    assert_valid_cards(message)
    shown = card_text(message)
    assert reference in shown and "Claire Lewis" in shown and "extremist videos" not in shown
    [link] = [a["url"] for a in message["actions"] if a["type"] == "Action.OpenUrl"]
    thread = posted.conversation_id.partition(";messageid=")[2]
    assert link.startswith("https://teams.microsoft.com/l/message/") and thread in link and "19%3Acases" in link
    [press] = [a for a in message["actions"] if a["type"] == "Action.Execute"]
    assert press["verb"] == Verb.CASE_CONFIRM_DECISION
    # Nobody else is told: the DSOs already know, and the proposer cannot confirm their own referral.
    assert not [s for s in rig.connector.since(mark) if s.cards and "needs a director: case" in card_text(s.cards[0])][
        1:
    ]
    [proposal] = [e for e in await events_of(rig, case.id) if e.kind == "decision_proposed"]
    assert json.loads(proposal.detail or "{}")["directors_told"] == [rig.cast.director.aad_object_id]

    # He confirms from his own chat; the message says so, and the case is decided.
    director = rig.personal(rig.cast.director)
    status, body = await director.execute(press["verb"], press["data"])
    assert status == 200 and "You confirmed the Channel referral" in card_text(body["value"])
    [decided] = await all_cases(rig)
    assert decided.status == "decided" and decided.decision_confirmed_by == "Alan Bates"


async def test_the_confirm_button_in_a_directors_message_still_refuses_everyone_else(fast_rig: Rig) -> None:
    rig = fast_rig
    await register_channel(rig)
    reference = reference_from(await walk_report(rig.personal(rig.cast.learner), "A worry."))
    posted = await _posted_card(rig, reference)
    [case] = await all_cases(rig)
    await _in_thread(rig, rig.cast.dso, posted).execute(
        Verb.CASE_DECIDE,
        {"case_id": case.id, "version": case.version, "decision": "channel", "decision_reason": "Views hardening."},
    )
    told = await rig.connector.wait_for(lambda s: bool(s.cards) and "needs a director: case" in card_text(s.cards[0]))
    [press] = [a for a in told.cards[0]["actions"] if a["type"] == "Action.Execute"]
    for who in (rig.cast.learner, rig.cast.deputy):
        status, body = await rig.personal(who).execute(press["verb"], press["data"])
        assert status == 200 and isinstance(body["value"], str) and "Your attempt has been recorded" in body["value"]
    [still] = await all_cases(rig)
    assert still.status == "awaiting_director"


# Item 11: urgent cases @mention the DSO and deputy when posted --------------------------------------------------


async def test_an_urgent_case_mentions_the_dso_and_deputy_as_it_is_posted(fast_rig: Rig) -> None:
    rig = fast_rig
    await register_channel(rig)
    reference = reference_from(
        await walk_report(rig.personal(rig.cast.learner), "They keep leaving me out of the group chat.", danger="yes")
    )
    card = (await _posted_card(rig, reference)).cards[0]
    assert_valid_cards(card)
    entities = card["msteams"]["entities"]
    mentioned = {e["mentioned"]["id"]: e for e in entities}
    assert set(mentioned) == {rig.cast.dso.aad_object_id, rig.cast.deputy.aad_object_id}
    shown = json.dumps(card["body"])
    for person in (rig.cast.dso, rig.cast.deputy):
        entity = mentioned[person.aad_object_id]
        assert entity["type"] == "mention" and entity["mentioned"]["name"] == person.name
        assert entity["text"] == f"<at>{person.name}</at>" and entity["text"] in shown, "the tag is on the card"


async def test_an_ordinary_case_mentions_nobody(fast_rig: Rig) -> None:
    rig = fast_rig
    await register_channel(rig)
    reference = reference_from(await walk_report(rig.personal(rig.cast.learner), "A worry, not urgent."))
    card = (await _posted_card(rig, reference)).cards[0]
    assert "entities" not in card.get("msteams", {}) and "<at>" not in json.dumps(card)
