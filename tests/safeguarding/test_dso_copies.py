"""Every DSO's copy stays true: with no channel registered each DSO gets the case card 1:1, and when one of them
acts, every copy is redrawn (updateActivity on each), so nobody acts on a stale card."""

from __future__ import annotations

from cards.verbs import Verb
from tests.conftest import Rig
from tests.rig.fake_connector import Sent
from tests.rig.safeguarding import all_cases, card_text, reference_from, walk_report

FAST = {"delivery_poll_seconds": 0.05}


async def _copy_for(rig: Rig, chat_id: str, reference: str, mark: int) -> Sent:
    return await rig.connector.wait_for(
        lambda s: (
            s.kind in ("send", "reply")
            and s.conversation_id == chat_id
            and bool(s.cards)
            and reference in card_text(s.cards[0])
        ),
        after=mark,
    )


async def test_when_one_dso_acts_every_dsos_copy_is_redrawn(make_rig) -> None:
    rig: Rig = await make_rig(**FAST)
    dsos = (rig.cast.dso, rig.cast.deputy)
    chats = {dso.aad_object_id: rig.personal(dso) for dso in dsos}
    for chat in chats.values():
        assert await chat.say("hi") == 200  # each DSO has opened a chat with Safe Space once
    mark = rig.connector.mark()
    reference = reference_from(await walk_report(rig.personal(rig.cast.learner), "Someone keeps posting mean things."))
    copies = {aad: await _copy_for(rig, chat.conversation_id, reference, mark) for aad, chat in chats.items()}
    assert copies[rig.cast.dso.aad_object_id].activity_id != copies[rig.cast.deputy.aad_object_id].activity_id
    [case] = await all_cases(rig)

    # Claire acknowledges from her own copy.
    claire = chats[rig.cast.dso.aad_object_id]
    mark = rig.connector.mark()
    status, body = await claire.execute(
        Verb.CASE_ACKNOWLEDGE,
        {"case_id": case.id, "version": case.version},
        reply_to_id=copies[rig.cast.dso.aad_object_id].activity_id,
    )
    assert status == 200 and "Claire Lewis" in card_text(body["value"])

    # Both copies are redrawn where they are, showing who has it: the deputy's too.
    for aad, copy in copies.items():
        updated = await rig.connector.wait_for(
            lambda s, c=copy: (
                s.kind == "update" and s.conversation_id == c.conversation_id and s.activity_id == c.activity_id
            ),
            after=mark,
        )
        assert "Claire Lewis" in card_text(updated.cards[0]), aad

    # The deputy, pressing on their copy as first drawn, is told who has it, and nothing changes.
    andrea = chats[rig.cast.deputy.aad_object_id]
    status, body = await andrea.execute(Verb.CASE_ACKNOWLEDGE, {"case_id": case.id, "version": case.version})
    assert status == 200 and "Claire Lewis" in str(body)
    [after] = await all_cases(rig)
    assert after.owner_aad_id == rig.cast.dso.aad_object_id


async def test_a_copy_sent_after_the_case_changed_shows_it_as_it_is_now(make_rig) -> None:
    # The deputy had no chat with Safe Space when the case arrived (so nowhere to send their copy yet); by the time
    # they open one, Claire has acknowledged it: their copy arrives showing that, not the case as it first was.
    rig: Rig = await make_rig(**FAST)
    claire = rig.personal(rig.cast.dso)
    assert await claire.say("hi") == 200
    mark = rig.connector.mark()
    reference = reference_from(await walk_report(rig.personal(rig.cast.learner), "Someone keeps posting mean things."))
    copy = await _copy_for(rig, claire.conversation_id, reference, mark)
    [case] = await all_cases(rig)
    status, _ = await claire.execute(
        Verb.CASE_ACKNOWLEDGE, {"case_id": case.id, "version": case.version}, reply_to_id=copy.activity_id
    )
    assert status == 200
    andrea = rig.personal(rig.cast.deputy)
    mark = rig.connector.mark()
    assert await andrea.say("hi") == 200
    late = await _copy_for(rig, andrea.conversation_id, reference, mark)
    shown = card_text(late.cards[0])
    assert "Picked up" in shown and "Nobody yet" not in shown
