"""Report a worry end to end: learner, case store, the DSO's channel, the card's buttons, the reporter told."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import update

from cards.verbs import Verb
from storage.models import OutboxMessage
from storage.types import utcnow
from tests.card_validator import assert_valid_cards
from tests.conftest import Rig
from tests.rig.fake_connector import Failure
from tests.rig.safeguarding import (
    CHANNEL_ID,
    all_cases,
    card_text,
    events_of,
    member,
    outbox_rows,
    reference_from,
    register_channel,
    services,
    walk_report,
)
from tests.rig.teams import Chat

FAST = {"delivery_poll_seconds": 0.05}


@pytest.fixture
async def fast_rig(make_rig) -> Rig:
    return await make_rig(**FAST)


async def _posted_card(rig: Rig, reference: str, timeout: float = 10.0):
    return await rig.connector.wait_for(
        lambda s: s.kind == "create" and s.cards and reference in card_text(s.cards[0]), timeout=timeout
    )


def _thread_chat(rig: Rig, person, posted) -> Chat:
    chat = rig.channel(
        person,
        team_id="19:team-safeguarding@thread.tacv2",
        channel_id=CHANNEL_ID,
        thread=posted.conversation_id.split("=")[-1],
    )
    chat.conversation_id = posted.conversation_id
    return chat


async def test_learner_reports_dso_acknowledges_learner_is_told(fast_rig: Rig) -> None:
    rig = fast_rig
    channel = await register_channel(rig)
    [registered] = await channel.replies(1)
    assert "New safeguarding cases will now be posted here" in registered.text

    learner = rig.personal(rig.cast.learner)
    mark = rig.connector.mark()
    replies = await walk_report(learner, "Someone keeps posting mean things about my friend in the group chat.")
    intro = next(s for s in rig.connector.since(mark, learner.conversation_id) if s.cards)
    intro_text = card_text(intro.cards[0])
    assert "Designated Safeguarding Officer" in intro_text and "can't promise to keep it secret" in intro_text
    assert replies[0].text.startswith("Your report has been received. Your reference is SS-2026-")
    reference = reference_from(replies)

    [case] = await all_cases(rig)  # stored before the learner was told
    assert case.reference == reference and case.status == "new" and not case.urgent
    assert case.description == "Someone keeps posting mean things about my friend in the group chat."
    assert (case.category, case.about, case.reporter_aad_id) == ("bullying", "learner", rig.cast.learner.aad_object_id)
    assert (case.incident_when, case.incident_where) == ("Last Tuesday", "In the canteen at lunch")
    assert case.contact_how == "Teams chat please"

    posted = await _posted_card(rig, reference)
    assert posted.conversation_id.startswith(CHANNEL_ID + ";messageid=")
    assert "Alex Learner" in card_text(posted.cards[0])
    assert_valid_cards(*posted.cards, *intro.cards)

    dso = _thread_chat(rig, rig.cast.dso, posted)
    mark = rig.connector.mark()
    status, body = await dso.execute(Verb.CASE_ACKNOWLEDGE, {"case_id": case.id, "version": case.version})
    assert status == 200 and body["type"] == "application/vnd.microsoft.card.adaptive"
    assert "Claire Lewis" in card_text(body["value"])
    assert_valid_cards(body["value"])

    updated = await rig.connector.wait_for(lambda s: s.kind == "update", after=mark)
    assert updated.conversation_id == posted.conversation_id and updated.activity_id == posted.activity_id
    assert "Claire Lewis" in card_text(updated.cards[0])
    told = await rig.connector.wait_for(
        lambda s: s.conversation_id == learner.conversation_id and "picked up" in (s.text or ""), after=mark
    )
    assert reference in told.text and "bullying" not in told.text.lower()

    [case] = await all_cases(rig)
    assert case.status == "acknowledged" and case.owner_aad_id == rig.cast.dso.aad_object_id
    kinds = [e.kind for e in await events_of(rig, case.id)]
    assert kinds == ["created", "acknowledged"]


async def test_non_dso_pressing_a_case_button_is_refused_recorded_and_changes_nothing(fast_rig: Rig) -> None:
    rig = fast_rig
    await register_channel(rig)
    learner = rig.personal(rig.cast.learner)
    replies = await walk_report(learner, "I am worried about a friend.")
    reference = reference_from(replies)
    posted = await _posted_card(rig, reference)
    [case] = await all_cases(rig)

    for person in (rig.cast.learner, rig.cast.staff, rig.cast.trainer):
        chat = _thread_chat(rig, person, posted)
        mark = rig.connector.mark()
        for verb, extra in [
            (Verb.CASE_ACKNOWLEDGE, {}),
            (Verb.CASE_CLOSE, {"close_note": "nothing to see"}),
            (Verb.CASE_NOTE, {"note_text": "x"}),
        ]:
            status, body = await chat.execute(verb, {"case_id": case.id, "version": case.version, **extra})
            assert status == 200 and body["type"] == "application/vnd.microsoft.activity.message"
            assert "Only the safeguarding team" in body["value"]
        await asyncio.sleep(0.3)
        assert [s for s in rig.connector.since(mark) if s.kind == "update"] == [], "card must not change"

    [after] = await all_cases(rig)
    assert (after.status, after.version, after.owner_aad_id) == ("new", case.version, None)
    refused = [e for e in await events_of(rig, case.id) if e.kind == "refused"]
    assert len(refused) == 9
    assert {e.actor_aad_id for e in refused} == {
        p.aad_object_id for p in (rig.cast.learner, rig.cast.staff, rig.cast.trainer)
    }


async def test_two_dsos_acknowledge_at_once_exactly_one_owns_it(fast_rig: Rig) -> None:
    rig = fast_rig
    await register_channel(rig)
    replies = await walk_report(rig.personal(rig.cast.learner), "Please help.")
    reference = reference_from(replies)
    posted = await _posted_card(rig, reference)
    [case] = await all_cases(rig)

    claire, andrea = _thread_chat(rig, rig.cast.dso, posted), _thread_chat(rig, rig.cast.deputy, posted)
    data = {"case_id": case.id, "version": case.version}
    (s1, b1), (s2, b2) = await asyncio.gather(
        claire.execute(Verb.CASE_ACKNOWLEDGE, data), andrea.execute(Verb.CASE_ACKNOWLEDGE, data)
    )
    assert s1 == s2 == 200
    [after] = await all_cases(rig)
    winner = rig.cast.dso if after.owner_aad_id == rig.cast.dso.aad_object_id else rig.cast.deputy
    loser_body = b2 if winner is rig.cast.dso else b1
    assert loser_body["type"] == "application/vnd.microsoft.activity.message"
    assert loser_body["value"] == f"{winner.name} already has this case."
    assert [e.kind for e in await events_of(rig, case.id)].count("acknowledged") == 1


async def test_repeated_invoke_has_no_second_effect(fast_rig: Rig) -> None:
    rig = fast_rig
    await register_channel(rig)
    replies = await walk_report(rig.personal(rig.cast.learner), "Something happened.")
    reference = reference_from(replies)
    posted = await _posted_card(rig, reference)
    [case] = await all_cases(rig)
    dso = _thread_chat(rig, rig.cast.dso, posted)
    payload = dso.activity(
        "invoke",
        name="adaptiveCard/action",
        value={
            "action": {
                "type": "Action.Execute",
                "verb": Verb.CASE_NOTE,
                "data": {"case_id": case.id, "version": case.version, "note_text": "Spoke to tutor."},
            }
        },
    )
    first = await dso.post(payload)
    again = await dso.post(payload)  # Teams retries with the same activity id
    assert first[0] == again[0] == 200
    assert card_text(again[1]["value"]).count("Spoke to tutor.") == 1
    assert [e.kind for e in await events_of(rig, case.id)].count("note") == 1


async def test_connector_503_503_429_then_200_posts_the_card_exactly_once(fast_rig: Rig) -> None:
    rig = fast_rig
    await register_channel(rig)
    rig.connector.fail_next(
        Failure(503, kinds=frozenset({"create"})),
        Failure(503, kinds=frozenset({"create"})),
        Failure(429, {"Retry-After": "1"}, kinds=frozenset({"create"})),
    )
    replies = await walk_report(rig.personal(rig.cast.learner), "Worried about someone.")
    reference = reference_from(replies)
    await _posted_card(rig, reference, timeout=30)
    await asyncio.sleep(0.5)
    creates = [s for s in rig.connector.sent if s.kind == "create"]
    assert len(creates) == 1
    assert [p for m, p in rig.connector.requests if p == "/v3/conversations"].__len__() == 4
    [case] = await all_cases(rig)
    assert case.description == "Worried about someone." and case.status == "new"


async def test_urgent_answer_shows_emergency_numbers_and_marks_the_case(fast_rig: Rig) -> None:
    rig = fast_rig
    await register_channel(rig)
    learner = rig.personal(rig.cast.learner)
    await learner.say("report")
    await learner.replies(1)
    await learner.say("yes")
    emergency, about = await learner.replies(2)
    text = card_text(emergency.cards[0])
    for number in ("999", "0800 789 321", "116 123"):
        assert number in text
    assert any(
        a.get("url") == "tel:999" for a in json.loads(json.dumps(emergency.cards[0]))["body"][2]["items"][-1]["actions"]
    )
    assert "Who is this about?" in card_text(about.cards[0])
    assert_valid_cards(emergency.cards[0], about.cards[0])


async def test_cancel_after_danger_yes_sends_an_incomplete_urgent_report(fast_rig: Rig) -> None:
    rig = fast_rig
    await register_channel(rig)
    learner = rig.personal(rig.cast.learner)
    for text in ("report", "yes", "Me"):
        await learner.say(text)
        await learner.replies(1)
    await learner.say("cancel")
    stopped, _menu = await learner.replies(2)
    assert "urgent report, reference SS-2026-" in stopped.text
    [case] = await all_cases(rig)
    assert case.urgent and case.incomplete and case.about == "self"
    posted = await _posted_card(rig, case.reference)
    assert "incomplete" in card_text(posted.cards[0]).lower()


async def test_cancel_without_danger_leaves_nothing(fast_rig: Rig) -> None:
    rig = fast_rig
    learner = rig.personal(rig.cast.learner)
    for text in ("report", "no", "Me", "Something else"):
        await learner.say(text)
        await learner.replies(1)
    await learner.say("cancel")
    stopped, _ = await learner.replies(2)
    assert stopped.text == "OK, I've stopped that. Nothing was sent."
    assert await all_cases(rig) == []


async def test_dont_send_at_the_summary_stores_nothing(fast_rig: Rig) -> None:
    rig = fast_rig
    replies = await walk_report(rig.personal(rig.cast.learner), "Changed my mind", confirm="don't send")
    assert any(r.text == "OK, I haven't sent it. Nothing was stored as a report." for r in replies)
    # The safety net reads every message on its own and may flag one (its own case, source "triage"); the report
    # itself is not stored.
    assert [c for c in await all_cases(rig) if c.source == "learner"] == []


async def test_hidden_reporter_is_told_the_truth_and_kept_off_the_card(fast_rig: Rig) -> None:
    rig = fast_rig
    await register_channel(rig)
    learner = rig.personal(rig.cast.learner)
    replies = await walk_report(learner, "Please don't say it was me.", name_shown="no")
    truth = next(r.text for r in learner.connector.sent if r.text and "your name is still stored" in r.text)
    assert "can see it if they need to" in truth
    reference = reference_from(replies)
    posted = await _posted_card(rig, reference)
    shown = card_text(posted.cards[0])
    assert "Alex Learner" not in shown and "asked not to be named" in shown.lower()
    [case] = [c for c in await all_cases(rig) if c.source == "learner"]
    assert case.reporter_hidden and case.reporter_name == "Alex Learner"

    dso = _thread_chat(rig, rig.cast.dso, posted)
    await rig.personal(rig.cast.dso).say("hi")  # the DSO's 1:1 chat, where the name will be sent
    mark = rig.connector.mark()
    status, body = await dso.execute(
        Verb.CASE_REVEAL,
        {"case_id": case.id, "version": case.version, "reveal_reason": "Risk of harm, need to speak to them"},
    )
    assert status == 200 and "1:1 chat" in body["value"]
    dm = await rig.connector.wait_for(lambda s: "the reporter is Alex Learner" in (s.text or ""), after=mark)
    assert dm.conversation_id == f"a:1on1-{rig.cast.dso.aad_object_id}"
    reveal = [e for e in await events_of(rig, case.id) if e.kind == "reporter_revealed"]
    assert len(reveal) == 1 and "Risk of harm" in reveal[0].detail


async def test_decision_channel_waits_for_a_director_then_close_tells_the_reporter(fast_rig: Rig) -> None:
    rig = fast_rig
    await register_channel(rig)
    learner = rig.personal(rig.cast.learner)
    replies = await walk_report(learner, "They keep saying extremist things in class.")
    reference = reference_from(replies)
    posted = await _posted_card(rig, reference)
    [case] = await all_cases(rig)
    dso = _thread_chat(rig, rig.cast.dso, posted)
    director = _thread_chat(rig, rig.cast.director, posted)

    _, proposed = await dso.execute(
        Verb.CASE_DECIDE,
        {
            "case_id": case.id,
            "version": case.version,
            "decision": "channel",
            "decision_reason": "Shares extremist videos",
        },
    )
    assert "director" in card_text(proposed["value"]).lower(), "the card says it waits for a director"
    [case] = await all_cases(rig)
    assert case.status == "awaiting_director" and case.decision == "channel"
    # The DSO cannot confirm their own Channel referral; a director can.
    _, refused = await dso.execute(Verb.CASE_CONFIRM_DECISION, {"case_id": case.id, "version": case.version})
    assert "Only a director" in refused["value"]
    _, confirmed = await director.execute(Verb.CASE_CONFIRM_DECISION, {"case_id": case.id, "version": case.version})
    assert confirmed["type"] == "application/vnd.microsoft.card.adaptive"
    [case] = await all_cases(rig)
    assert case.status == "decided" and case.decision_confirmed_by == "Alan Bates"

    mark = rig.connector.mark()
    _, closed = await dso.execute(
        Verb.CASE_CLOSE,
        {"case_id": case.id, "version": case.version, "close_note": "Referred; Channel panel took it on."},
    )
    assert_valid_cards(closed["value"])
    told = await rig.connector.wait_for(
        lambda s: s.conversation_id == learner.conversation_id and "closed" in (s.text or ""), after=mark
    )
    assert "Channel" not in told.text and "panel" not in told.text, "the reporter hears no decision details"
    kinds = [e.kind for e in await events_of(rig, case.id)]
    assert kinds == ["created", "decision_proposed", "refused", "decision_confirmed", "closed"]


async def test_registration_refused_when_a_learner_can_see_the_channel(fast_rig: Rig) -> None:
    rig = fast_rig
    chat = await register_channel(rig, members=[rig.cast.dso, rig.cast.deputy, rig.cast.learner])
    [refused] = await chat.replies(1)
    assert "I can't post cases here" in refused.text and "Alex Learner" in refused.text
    assert "Claire Lewis" not in refused.text


async def test_only_a_dso_can_register_the_channel(fast_rig: Rig) -> None:
    rig = fast_rig
    chat = await register_channel(rig, by=rig.cast.director)
    [refused] = await chat.replies(1)
    assert "Only the Designated Safeguarding Officer" in refused.text


async def test_member_added_to_the_channel_stops_posting_and_tells_the_dsos(fast_rig: Rig) -> None:
    rig = fast_rig
    await register_channel(rig)
    await rig.personal(rig.cast.dso).say("hi")
    rig.connector.set_members(
        "19:team-safeguarding@thread.tacv2",
        [member(p) for p in (rig.cast.dso, rig.cast.deputy, rig.cast.staff)],
        CHANNEL_ID,
    )
    channel = rig.channel(rig.cast.dso, team_id="19:team-safeguarding@thread.tacv2", channel_id=CHANNEL_ID)
    mark = rig.connector.mark()
    await channel.post(channel.activity("conversationUpdate", membersAdded=[rig.cast.staff.account()]))
    told = await rig.connector.wait_for(lambda s: "stopped posting cases" in (s.text or ""), after=mark)
    assert told.conversation_id == f"a:1on1-{rig.cast.dso.aad_object_id}" and "Sam Staff" in told.text

    # New cases now go to the DSOs 1:1 instead of the channel.
    replies = await walk_report(rig.personal(rig.cast.learner), "Another worry.")
    reference = reference_from(replies)
    dm = await rig.connector.wait_for(lambda s: s.cards and reference in card_text(s.cards[0]), after=mark)
    assert dm.conversation_id == f"a:1on1-{rig.cast.dso.aad_object_id}"
    assert not any(s.kind == "create" for s in rig.connector.since(mark))


async def test_staff_get_the_form_and_an_incomplete_form_stores_nothing(fast_rig: Rig) -> None:
    rig = fast_rig
    staff = rig.personal(rig.cast.staff)
    await staff.say("report")
    intro, form = await staff.replies(2)
    assert "safeguarding form" in intro.text
    assert_valid_cards(*form.cards)
    status, body = await staff.execute(Verb.STAFF_FORM_SUBMIT, {"sf_subject_name": "Jo Bloggs"})
    assert status == 200 and body["type"] == "application/vnd.microsoft.card.adaptive"
    errors_card = body["value"]
    assert_valid_cards(errors_card)
    assert "Jo Bloggs" in json.dumps(errors_card), "what was typed stays on the card"
    assert await all_cases(rig) == []


HOSTILE = (
    "**bold** _it_ [click me](http://evil.example) ![img](http://evil.example/x.png) ${x} ${{x}} "
    "\"quotes\" 'single' back\\slash `code` <at>Claire</at> <script>alert(1)</script> # heading\n"
    "- list\n> quote\n😀🧕🏽 مرحبا بالعالم שלום "
) + "x" * 9000


async def test_hostile_text_is_stored_verbatim_and_shown_literally(fast_rig: Rig) -> None:
    rig = fast_rig
    await register_channel(rig)
    learner = rig.personal(rig.cast.learner)
    replies = await walk_report(learner, HOSTILE)
    reference = reference_from(replies)
    [case] = await all_cases(rig)
    assert case.description == HOSTILE, "kept exactly as typed"
    posted = await _posted_card(rig, reference)
    card = posted.cards[0]
    assert_valid_cards(card)
    raw = json.dumps(card, ensure_ascii=False)
    assert "[click me](" not in raw and "![img](" not in raw and "**bold**" not in raw
    assert "${x}" not in raw
    shown = card_text(card)
    assert "[click me](http://evil.example)" in shown, "the reader sees the characters, not a link"
    assert "${x}" in shown and "مرحبا بالعالم" in shown and "🧕🏽" in shown
    summary = next(
        s for s in learner.connector.sent if s.cards and "Send this to the safeguarding team" in card_text(s.cards[0])
    )
    assert "[click me](" not in json.dumps(summary.cards[0], ensure_ascii=False)
    assert_valid_cards(summary.cards[0])


async def test_unacknowledged_cases_are_reminded_then_escalated(fast_rig: Rig) -> None:
    import datetime as dt

    from sqlalchemy import update

    from storage.models import Case

    rig = fast_rig
    await register_channel(rig)
    await rig.personal(rig.cast.director).say("hi")
    replies = await walk_report(rig.personal(rig.cast.learner), "Nobody has answered.", danger="yes")
    reference = reference_from(replies)
    posted = await _posted_card(rig, reference)
    svc = services(rig)
    async with svc.database.sessions.begin() as session:  # urgent: 5 minutes, so 6 minutes ago needs a nudge
        await session.execute(update(Case).values(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=6)))
    mark = rig.connector.mark()
    assert await svc.reminders.run_once() == 1
    nudge = await rig.connector.wait_for(
        lambda s: s.conversation_id == posted.conversation_id and "without being picked up" in (s.text or ""),
        after=mark,
    )
    mentioned = {e["mentioned"]["id"] for e in nudge.activity["entities"]}
    assert mentioned == {rig.cast.dso.aad_object_id, rig.cast.deputy.aad_object_id}
    assert await svc.reminders.run_once() == 0, "reminded once, not every check"

    async with svc.database.sessions.begin() as session:
        await session.execute(update(Case).values(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=11)))
    assert await svc.reminders.run_once() == 1
    told = await rig.connector.wait_for(
        lambda s: s.conversation_id == f"a:1on1-{rig.cast.director.aad_object_id}" and reference in (s.text or ""),
        after=mark,
    )
    assert "nobody in the safeguarding team has picked it up" in told.text
    assert "Nobody has answered" not in told.text, "no learner words outside the case card"
    assert [a.subject for a in svc.notifier.sent] == ["Safeguarding case not acknowledged"]
    [case] = await all_cases(rig)
    kinds = [e.kind for e in await events_of(rig, case.id)]
    assert kinds == ["created", "reminder", "escalated"]


async def test_staff_form_complete_submission_reaches_the_channel(fast_rig: Rig) -> None:
    rig = fast_rig
    await register_channel(rig)
    staff = rig.personal(rig.cast.staff)
    await staff.say("report")
    _, form = await staff.replies(2)
    inputs = {}

    def collect(node):
        if isinstance(node, dict):
            if str(node.get("type", "")).startswith("Input.") and node.get("id"):
                inputs[node["id"]] = node
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(form.cards[0])
    data = {
        "sf_subject_name": "Jo Bloggs",
        "sf_subject_role": "learner",
        "sf_under_18": "yes",
        "sf_category": "radicalisation",
        "sf_description": 'He said "they all deserve it" about a group.',
        "sf_spoken_to": "dso",
        "sf_parents_told": "yes",
        "sf_urgency": "not_urgent",
    }
    from cards.staff_form_card import indicator_detail_id, indicator_id

    data[indicator_id("grievance")] = "true"
    data[indicator_detail_id("grievance")] = "Said it twice in class on Monday."
    missing = set(data) - set(inputs)
    assert not missing, f"form has no inputs {missing}; it has {sorted(inputs)}"
    status, body = await staff.execute(Verb.STAFF_FORM_SUBMIT, data)
    assert status == 200 and "received" in card_text(body["value"])
    [case] = await all_cases(rig)
    assert (case.source, case.subject_name, case.subject_under_18) == ("staff", "Jo Bloggs", True)
    assert case.description == 'He said "they all deserve it" about a group.'
    posted = await _posted_card(rig, case.reference)
    assert "Said it twice in class on Monday." in card_text(posted.cards[0])
    again = await staff.post(
        staff.activity(
            "invoke",
            name="adaptiveCard/action",
            id="retry-1",
            value={"action": {"type": "Action.Execute", "verb": Verb.STAFF_FORM_SUBMIT, "data": data}},
        )
    )
    again2 = await staff.post(
        staff.activity(
            "invoke",
            name="adaptiveCard/action",
            id="retry-1",
            value={"action": {"type": "Action.Execute", "verb": Verb.STAFF_FORM_SUBMIT, "data": data}},
        )
    )
    assert again[0] == again2[0] == 200
    assert len(await all_cases(rig)) == 2, "a retried invoke (same id) stores once"


async def test_without_a_channel_every_dso_gets_the_card_one_to_one(fast_rig: Rig) -> None:
    rig = fast_rig
    for dso in (rig.cast.dso, rig.cast.deputy):
        await rig.personal(dso).say("hi")
    mark = rig.connector.mark()
    replies = await walk_report(rig.personal(rig.cast.learner), "No channel yet.")
    reference = reference_from(replies)
    for dso in (rig.cast.dso, rig.cast.deputy):
        await rig.connector.wait_for(
            lambda s, d=dso: (
                s.conversation_id == f"a:1on1-{d.aad_object_id}" and s.cards and reference in card_text(s.cards[0])
            ),
            after=mark,
        )


async def test_with_no_channel_and_no_dso_a_case_raises_an_alert_at_once_and_waits(make_rig) -> None:
    """Security review item 7: a card fanned out to nobody was marked sent, and the case filed where nobody
    looks. Now it is undeliverable: one alert straight away, and the outbox keeps it for a retry."""
    rig: Rig = await make_rig(dso_ids=frozenset(), **FAST)
    alerts = services(rig).notifier.sent
    reference = reference_from(await walk_report(rig.personal(rig.cast.learner), "Nobody is set up yet."))

    async def alerted() -> None:
        while not [a for a in alerts if a.reference == reference]:
            await asyncio.sleep(0.02)

    await asyncio.wait_for(alerted(), 10)
    [alert] = [a for a in alerts if a.reference == reference]
    assert alert.subject == "A new case has nobody to go to" and alert.category == "bullying"
    [card] = [m for m in await outbox_rows(rig) if m.kind == "case_card"]
    assert (card.status, card.sent_at, card.result_id) == ("pending", None, None)
    assert card.attempts == 1 and "no DSO" in (card.last_error or "")
    learner_chat = f"a:1on1-{rig.cast.learner.aad_object_id}"
    assert not [s for s in rig.connector.sent if s.conversation_id != learner_chat], "the card went nowhere"

    # Retried later, still nobody: it stays pending, and the alert is not repeated on every try.
    async with services(rig).database.sessions.begin() as session:
        await session.execute(update(OutboxMessage).where(OutboxMessage.id == card.id).values(next_attempt_at=utcnow()))
    await services(rig).delivery.run_once()
    [again] = [m for m in await outbox_rows(rig) if m.kind == "case_card"]
    assert (again.status, again.attempts) == ("pending", 2)
    assert len([a for a in alerts if a.reference == reference]) == 1
