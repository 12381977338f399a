"""Issue 11: a DSO places (and releases) a legal hold on a closed case from its card; nobody else can."""

from __future__ import annotations

import json

from cards.verbs import Verb
from tests.card_validator import assert_valid_cards
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


async def test_only_a_dso_can_place_and_release_a_legal_hold_and_each_press_is_recorded(make_rig, database_url) -> None:
    rig = await make_rig(database_url=database_url, delivery_poll_seconds=0.05)
    await register_channel(rig)
    reference = reference_from(await walk_report(rig.personal(rig.cast.learner), "It keeps happening."))
    posted = await rig.connector.wait_for(
        lambda s: s.kind == "create" and bool(s.cards) and reference in card_text(s.cards[0])
    )
    dso = rig.channel(
        rig.cast.dso, team_id=TEAM_ID, channel_id=CHANNEL_ID, thread=posted.conversation_id.split("=")[-1]
    )
    dso.conversation_id = posted.conversation_id
    [case] = await all_cases(rig)
    status, _ = await dso.execute(Verb.CASE_CLOSE, {"case_id": case.id, "version": case.version, "close_note": "Done"})
    assert status == 200
    [case] = await all_cases(rig)
    assert case.status == "closed"

    for person in (rig.cast.learner, rig.cast.staff, rig.cast.trainer, rig.cast.director):
        chat = rig.personal(person)
        status, body = await chat.execute(
            Verb.CASE_LEGAL_HOLD, {"case_id": case.id, "version": case.version, "hold_reason": "mine"}
        )
        assert status == 200 and "Only the safeguarding team" in body["value"], person.name
    [unchanged] = await all_cases(rig)
    assert unchanged.legal_hold is False and unchanged.version == case.version
    refused = [e for e in await events_of(rig, case.id) if e.kind == "refused"]
    assert [json.loads(e.detail or "{}")["verb"] for e in refused] == [Verb.CASE_LEGAL_HOLD] * 4
    assert all("mine" not in (e.detail or "") for e in refused)

    status, body = await dso.execute(
        Verb.CASE_LEGAL_HOLD, {"case_id": case.id, "version": case.version, "hold_reason": "Police inquiry ongoing"}
    )
    assert status == 200 and "On legal hold" in card_text(body["value"])
    assert_valid_cards(body["value"])
    [held] = await all_cases(rig)
    assert held.legal_hold is True
    [event] = [e for e in await events_of(rig, case.id) if e.kind == "legal_hold"]
    assert event.actor_aad_id == rig.cast.dso.aad_object_id and "Police inquiry ongoing" in (event.detail or "")

    # Pressing Place again on an old card changes nothing.
    status, body = await dso.execute(
        Verb.CASE_LEGAL_HOLD, {"case_id": case.id, "version": held.version, "hold_reason": "again"}
    )
    assert "already on legal hold" in body["value"]

    deputy = rig.channel(rig.cast.deputy, team_id=TEAM_ID, channel_id=CHANNEL_ID)
    deputy.conversation_id = posted.conversation_id
    status, body = await deputy.execute(
        Verb.CASE_LEGAL_HOLD_RELEASE, {"case_id": case.id, "version": held.version, "hold_reason": "Inquiry closed"}
    )
    assert status == 200 and "On legal hold" not in card_text(body["value"])
    [released] = await all_cases(rig)
    assert released.legal_hold is False
    kinds = [e.kind for e in await events_of(rig, case.id)]
    assert kinds[-2:] == ["legal_hold", "legal_hold_released"]
