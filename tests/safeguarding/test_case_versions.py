"""Stale and forged presses never change a case; Channel needs two people; closed means closed (review item 4)."""

from __future__ import annotations

import pytest

from cards.verbs import Verb
from tests.conftest import Rig
from tests.rig.safeguarding import all_cases, card_text, events_of, reference_from, register_channel, walk_report

STALE = "Nothing was changed: your card was out of date"


@pytest.fixture
async def fast_rig(make_rig) -> Rig:
    return await make_rig(delivery_poll_seconds=0.05)


async def _case(rig: Rig):
    await (await register_channel(rig)).replies(1)
    reference_from(await walk_report(rig.personal(rig.cast.learner), "A worry about a friend."))
    [case] = await all_cases(rig)
    return case


async def test_a_deputys_old_card_cannot_overwrite_a_police_decision(fast_rig: Rig) -> None:
    rig = fast_rig
    case = await _case(rig)
    dso, deputy = rig.personal(rig.cast.dso), rig.personal(rig.cast.deputy)
    old_version = case.version  # the deputy's card was drawn now and left open
    status, body = await dso.execute(
        Verb.CASE_DECIDE,
        {"case_id": case.id, "version": case.version, "decision": "police", "decision_reason": "Weapon mentioned."},
    )
    assert status == 200 and body["type"] == "application/vnd.microsoft.card.adaptive"

    status, body = await deputy.execute(
        Verb.CASE_DECIDE,
        {"case_id": case.id, "version": old_version, "decision": "no_further_action", "decision_reason": "old"},
    )
    assert status == 200 and body["type"] == "application/vnd.microsoft.card.adaptive", "the current card comes back"
    shown = card_text(body["value"])
    assert STALE in shown and "Weapon mentioned." in shown
    [after] = await all_cases(rig)
    assert (after.decision, after.decision_reason) == ("police", "Weapon mentioned.")


@pytest.mark.parametrize("forged", [-999, None, "x", 10**30])
async def test_a_forged_version_changes_nothing(fast_rig: Rig, forged) -> None:
    rig = fast_rig
    case = await _case(rig)
    data = {"case_id": case.id, "close_note": "forged"}
    if forged is not None:
        data["version"] = forged
    status, body = await rig.personal(rig.cast.dso).execute(Verb.CASE_CLOSE, data)
    assert status == 200 and STALE in card_text(body["value"])
    [after] = await all_cases(rig)
    assert (after.status, after.version) == ("new", case.version)


async def test_one_person_with_both_roles_cannot_propose_and_confirm_channel_alone(make_rig, cast) -> None:
    rig = await make_rig(
        delivery_poll_seconds=0.05, director_ids=frozenset({cast.director.aad_object_id, cast.dso.aad_object_id})
    )
    case = await _case(rig)
    dso = rig.personal(rig.cast.dso)
    await dso.execute(
        Verb.CASE_DECIDE,
        {"case_id": case.id, "version": case.version, "decision": "channel", "decision_reason": "Views hardening."},
    )
    [proposed] = await all_cases(rig)
    assert proposed.status == "awaiting_director"
    status, body = await dso.execute(Verb.CASE_CONFIRM_DECISION, {"case_id": case.id, "version": proposed.version})
    assert status == 200 and "needs a second person" in body["value"]
    [still] = await all_cases(rig)
    assert still.status == "awaiting_director" and still.decision_confirmed_by is None

    status, body = await rig.personal(rig.cast.director).execute(
        Verb.CASE_CONFIRM_DECISION, {"case_id": case.id, "version": proposed.version}
    )
    assert status == 200
    [confirmed] = await all_cases(rig)
    assert confirmed.status == "decided" and confirmed.decision_confirmed_by == rig.cast.director.name


async def test_a_closed_case_changes_only_through_a_recorded_reopen(fast_rig: Rig) -> None:
    rig = fast_rig
    case = await _case(rig)
    dso = rig.personal(rig.cast.dso)
    await dso.execute(Verb.CASE_CLOSE, {"case_id": case.id, "version": case.version, "close_note": "Resolved."})
    [closed] = await all_cases(rig)
    assert closed.status == "closed"

    _, body = await dso.execute(
        Verb.CASE_DECIDE,
        {"case_id": case.id, "version": closed.version, "decision": "police", "decision_reason": "after closing"},
    )
    assert "this case is closed" in card_text(body["value"])
    _, body = await dso.execute(Verb.CASE_NOTE, {"case_id": case.id, "version": closed.version, "note_text": "x"})
    assert "this case is closed" in card_text(body["value"])
    [same] = await all_cases(rig)
    assert (same.version, same.decision) == (closed.version, None)

    await dso.execute(
        Verb.CASE_REOPEN, {"case_id": case.id, "version": closed.version, "reopen_reason": "New information."}
    )
    [reopened] = await all_cases(rig)
    assert reopened.status in ("new", "acknowledged") and reopened.closed_at is None
    reopen_event = [e for e in await events_of(rig, case.id) if e.kind == "reopened"]
    assert len(reopen_event) == 1 and reopen_event[0].actor_aad_id == rig.cast.dso.aad_object_id
    await dso.execute(
        Verb.CASE_DECIDE,
        {"case_id": case.id, "version": reopened.version, "decision": "police", "decision_reason": "New info."},
    )
    [decided] = await all_cases(rig)
    assert decided.decision == "police"


@pytest.mark.parametrize("case_id", [999_999, 10**30, "1e400", None])
async def test_a_missing_case_answers_a_learner_exactly_like_a_refused_one(fast_rig: Rig, case_id) -> None:
    rig = fast_rig
    case = await _case(rig)
    learner = rig.personal(rig.cast.learner)
    refused = await learner.execute(Verb.CASE_NOTE, {"case_id": case.id, "version": case.version, "note_text": "x"})
    missing = await learner.execute(Verb.CASE_NOTE, {"case_id": case_id, "version": 1, "note_text": "x"})
    assert refused == missing and refused[0] == 200


async def test_forged_presses_cannot_flood_the_chronology(fast_rig: Rig) -> None:
    from bot.safeguarding.case_actions import REFUSALS_RECORDED

    rig = fast_rig
    case = await _case(rig)
    learner = rig.personal(rig.cast.learner)
    for _ in range(REFUSALS_RECORDED + 5):
        status, body = await learner.execute(Verb.CASE_NOTE, {"case_id": case.id, "version": case.version})
        assert status == 200 and "Only the safeguarding team" in body["value"]
    refused = [e for e in await events_of(rig, case.id) if e.kind == "refused"]
    assert len(refused) == REFUSALS_RECORDED
