"""The safeguarding channel fails closed (security review items 1 and 2).

Each test drives the scenario the review used: a 503 from Teams' member API while a learner joins the registered
channel, and a DSO's note after the channel was deactivated.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import select, update

from cards.verbs import Verb
from storage.models import Case, SafeguardingChannel
from tests.conftest import Rig
from tests.rig.fake_connector import Failure
from tests.rig.safeguarding import (
    CHANNEL_ID,
    TEAM_ID,
    all_cases,
    card_text,
    member,
    outbox_rows,
    reference_from,
    register_channel,
    services,
    walk_report,
)

MEMBERS_503 = Failure(503, kinds=frozenset({"members"}))


@pytest.fixture
async def fast_rig(make_rig) -> Rig:
    return await make_rig(delivery_poll_seconds=0.05)


async def _channel_row(rig: Rig) -> SafeguardingChannel:
    async with services(rig).database.sessions() as session:
        return (await session.execute(select(SafeguardingChannel))).scalars().one()


async def _learner_joins(rig: Rig, *, roster_fails: int) -> int:
    """The learner is added to the safeguarding team while Teams' member API answers 503 `roster_fails` times."""
    cast = rig.cast
    rig.connector.set_members(TEAM_ID, [member(p) for p in (cast.dso, cast.deputy, cast.learner)], CHANNEL_ID)
    rig.connector.fail_next(*[MEMBERS_503] * roster_fails)
    channel = rig.channel(cast.dso, team_id=TEAM_ID, channel_id=CHANNEL_ID)
    status, _ = await channel.post(channel.activity("conversationUpdate", membersAdded=[cast.learner.account()]))
    return status


async def test_roster_503_while_a_learner_joins_holds_the_channel_and_asks_teams_to_retry(fast_rig: Rig) -> None:
    rig = fast_rig
    await (await register_channel(rig)).replies(1)
    dso_chat = rig.personal(rig.cast.dso)
    await dso_chat.say("hi")
    mark = rig.connector.mark()

    # botbuilder retries a GET itself; Teams' member API stays down through all of those tries.
    assert await _learner_joins(rig, roster_fails=20) == 503, "Teams must resend the event"
    rig.connector.failures.clear()
    held = await _channel_row(rig)
    assert held.active and held.held_reason
    told = await rig.connector.wait_for(
        lambda s: s.conversation_id == dso_chat.conversation_id and "couldn't check" in (s.text or ""), after=mark
    )
    assert "stopped posting cases there" in told.text

    # The next report is not posted into the channel. Before posting, Safe Space asks Teams again; this time it
    # answers, shows the learner, and the channel is deactivated: the card goes to the DSOs 1:1.
    replies = await walk_report(rig.personal(rig.cast.learner), "Someone keeps posting mean things about my friend.")
    reference = reference_from(replies)
    # Each DSO gets a copy (the deputy's in a 1:1 chat Safe Space opens for them): the DSO's is the one to look at.
    in_dso_chat = dso_chat.conversation_id
    dm = await rig.connector.wait_for(
        lambda s: s.conversation_id == in_dso_chat and bool(s.cards) and reference in card_text(s.cards[0]), after=mark
    )
    assert dm.conversation_id == dso_chat.conversation_id
    assert not any(s.kind == "create" for s in rig.connector.since(mark)), "nothing posted in the channel"
    stopped = await rig.connector.wait_for(
        lambda s: s.conversation_id == in_dso_chat and "Alex Learner" in (s.text or ""), after=mark
    )
    assert stopped.conversation_id == dso_chat.conversation_id
    assert not (await _channel_row(rig)).active


async def test_while_teams_cannot_say_who_is_there_new_cases_go_one_to_one(fast_rig: Rig) -> None:
    rig = fast_rig
    await (await register_channel(rig)).replies(1)
    await rig.personal(rig.cast.dso).say("hi")
    await rig.personal(rig.cast.deputy).say("hi")
    assert await _learner_joins(rig, roster_fails=20) == 503
    mark = rig.connector.mark()
    replies = await walk_report(rig.personal(rig.cast.learner), "Roster still unknown.")
    reference = reference_from(replies)
    for dso in (rig.cast.dso, rig.cast.deputy):
        await rig.connector.wait_for(
            lambda s, d=dso: (
                s.conversation_id == f"a:1on1-{d.aad_object_id}"
                and bool(s.cards)
                and reference in card_text(s.cards[0])
            ),
            after=mark,
        )
    assert not any(s.kind == "create" for s in rig.connector.since(mark))
    row = await _channel_row(rig)
    assert row.active and row.held_reason, "still held: never posted, never silently trusted"

    # Teams answers again and the roster is safe once more: the hold lifts and cases go to the channel again.
    rig.connector.failures.clear()
    rig.connector.set_members(TEAM_ID, [member(p) for p in (rig.cast.dso, rig.cast.deputy)], CHANNEL_ID)
    replies = await walk_report(rig.personal(rig.cast.learner), "Roster readable again.")
    reference = reference_from(replies)
    posted = await rig.connector.wait_for(
        lambda s: s.kind == "create" and bool(s.cards) and reference in card_text(s.cards[0]), after=mark
    )
    assert posted.conversation_id.startswith(CHANNEL_ID)
    assert (await _channel_row(rig)).held_reason is None


async def test_scheduled_check_holds_the_channel_when_teams_fails(fast_rig: Rig) -> None:
    rig = fast_rig
    await (await register_channel(rig)).replies(1)
    rig.connector.fail_next(*[MEMBERS_503] * 20)
    await services(rig).channels._scheduled_check()
    assert (await _channel_row(rig)).held_reason
    rig.connector.failures.clear()
    await services(rig).channels._scheduled_check()  # Teams answers: the roster is still safe
    assert (await _channel_row(rig)).held_reason is None


async def test_a_note_after_deactivation_never_reaches_the_old_channel(fast_rig: Rig) -> None:
    rig = fast_rig
    await (await register_channel(rig)).replies(1)
    dso_chat = rig.personal(rig.cast.dso)
    await dso_chat.say("hi")
    description = "My friend keeps getting left out of the group chat by people on our course."
    replies = await walk_report(rig.personal(rig.cast.learner), description)
    reference = reference_from(replies)
    posted = await rig.connector.wait_for(
        lambda s: s.kind == "create" and bool(s.cards) and reference in card_text(s.cards[0])
    )

    mark = rig.connector.mark()
    assert await _learner_joins(rig, roster_fails=0) == 200
    # The card in the channel becomes a neutral stub: no reference, no words, no buttons.
    stub = await rig.connector.wait_for(
        lambda s: s.kind == "update" and s.activity_id == posted.activity_id, after=mark
    )
    shown = card_text(stub.cards[0])
    assert "has moved" in shown and reference not in shown and description not in shown
    assert not stub.cards[0].get("actions")
    # The open case reaches the DSO 1:1, with its buttons.
    copy = await rig.connector.wait_for(
        lambda s: (
            s.conversation_id == dso_chat.conversation_id and bool(s.cards) and reference in card_text(s.cards[0])
        ),
        after=mark,
    )
    assert copy.cards[0].get("actions")

    [case] = await all_cases(rig)
    mark = rig.connector.mark()
    status, body = await dso_chat.execute(
        Verb.CASE_NOTE, {"case_id": case.id, "version": case.version, "note_text": "Spoke to her mum."}
    )
    assert status == 200 and "Spoke to her mum." in card_text(body["value"])
    await asyncio.sleep(0.5)  # time for the outbox to redraw, if it were going to
    into_channel = [s for s in rig.connector.since(mark) if s.conversation_id.startswith(CHANNEL_ID)]
    assert into_channel == [], "nothing more goes into a channel that is no longer safe"
    redraws = [m for m in await outbox_rows(rig) if m.kind == "card_update"]
    assert redraws and all(m.status == "sent" for m in redraws), "withheld, not stuck retrying"

    # Nor does a reminder: it goes to the DSOs 1:1.
    async with services(rig).database.sessions.begin() as session:
        await session.execute(update(Case).values(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=40)))
    mark = rig.connector.mark()
    assert await services(rig).reminders.run_once() == 1
    await rig.connector.wait_for(
        lambda s: s.conversation_id == dso_chat.conversation_id and reference in (s.text or ""), after=mark
    )
    assert not [s for s in rig.connector.since(mark) if s.conversation_id.startswith(CHANNEL_ID)]


@pytest.mark.parametrize("kind", ["shared", "private", None])
async def test_only_a_standard_channel_can_be_registered_and_the_roster_is_not_read_otherwise(
    fast_rig: Rig, kind: str | None
) -> None:
    """Security review item 3: Teams answers a roster request with the *team's* members, so in a shared channel
    (people from outside the team) the check would look at the wrong people. Anything but a channel Teams calls
    standard is refused before the roster is read, even when the team itself is safe."""
    rig = fast_rig
    cast = rig.cast
    rig.connector.set_members(TEAM_ID, [member(p) for p in (cast.dso, cast.deputy, cast.director)], CHANNEL_ID)
    chat = rig.channel(cast.dso, team_id=TEAM_ID, channel_id=CHANNEL_ID, membership_type=kind)
    asked_before = len(rig.connector.requests)
    await chat.say("register safeguarding channel")
    [refused] = await chat.replies(1)
    assert "standard channel of a private team" in refused.text
    assert (f"a {kind} channel" if kind else "what kind of channel") in refused.text
    assert not [path for _, path in rig.connector.requests[asked_before:] if "members" in path]
    async with services(rig).database.sessions() as session:
        assert list((await session.execute(select(SafeguardingChannel))).scalars()) == []

    # The same team's standard channel is registered as before.
    standard = rig.channel(cast.dso, team_id=TEAM_ID, channel_id=CHANNEL_ID)
    await standard.say("register safeguarding channel")
    [registered] = await standard.replies(1)
    assert "New safeguarding cases will now be posted here" in registered.text
