"""An urgent report abandoned silently is still sent: the learner said someone may be in danger, then went quiet.

The clock is the test's: the sweeper is run as if SAFESPACE_URGENT_DRAFT_MINUTES had passed, never slept through.
"""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select

from bot.safeguarding.case_cards import REPORT_FINISHED
from storage import urgent_drafts
from storage.models import UrgentDraft
from storage.types import utcnow
from tests.conftest import Rig
from tests.rig.safeguarding import all_cases, card_text, events_of, register_channel, services
from tests.rig.teams import Chat

ACCOUNT = "He has been making fun of my accent in the group chat every day"


def after(minutes: float) -> dt.datetime:
    return utcnow() + dt.timedelta(minutes=minutes)


async def _start_urgent_report(learner: Chat, danger: str = "yes") -> None:
    for text in ("report", danger, "Another learner", "Something else", ACCOUNT):
        assert await learner.say(text) == 200


async def _watched(rig: Rig) -> list[UrgentDraft]:
    async with services(rig).database.read_sessions() as session:
        return await urgent_drafts.watched(session=session)


async def test_a_silent_urgent_draft_is_sent_once_as_incomplete_and_the_learner_is_told(make_rig) -> None:
    rig: Rig = await make_rig(delivery_poll_seconds=0.05)
    await register_channel(rig)
    learner = rig.personal(rig.cast.learner)
    await _start_urgent_report(learner)
    sweeper = services(rig).urgent_drafts
    assert sweeper is not None
    [watch] = await _watched(rig)
    assert watch.conversation_id == learner.conversation_id
    assert dt.timedelta(minutes=9) < watch.due_at - utcnow() <= dt.timedelta(minutes=10), "the default: 10 minutes"

    # Nine minutes of silence: not yet.
    assert await sweeper.run_once(now=after(9)) == 0
    assert await all_cases(rig) == []

    mark = rig.connector.mark()
    assert await sweeper.run_once(now=after(11)) == 1
    [case] = await all_cases(rig)
    assert case.urgent and case.incomplete and case.source == "learner"
    assert ACCOUNT in case.description and case.category == "other" and case.about == "learner"
    assert (case.reporter_aad_id, case.reporter_name, case.reporter_conversation_id) == (
        rig.cast.learner.aad_object_id,
        rig.cast.learner.name,
        learner.conversation_id,
    ), "the learner's own case, though Safe Space sent it"
    # The learner is told in their own chat, by a message Safe Space sends itself.
    [told] = [s for s in rig.connector.since(mark, learner.conversation_id) if s.text]
    assert case.reference in told.text and "haven't replied for a while" in told.text and "999" in told.text
    # The DSOs get the card, marked incomplete.
    posted = await rig.connector.wait_for(
        lambda s: s.kind == "create" and bool(s.cards) and case.reference in card_text(s.cards[0]), after=mark
    )
    assert "incomplete" in card_text(posted.cards[0]).lower()

    # Sent once: the watch is gone, and more silence sends nothing more.
    assert await _watched(rig) == []
    assert await sweeper.run_once(now=after(60)) == 0
    assert len(await all_cases(rig)) == 1

    # The learner comes back and finishes: the rest joins the same case, never a second one.
    for text in ("Done", "skip", "Monday", "At the site", "no"):
        assert await learner.say(text) == 200
    assert await learner.say("send it") == 200
    [same] = await all_cases(rig)
    assert same.id == case.id
    assert REPORT_FINISHED in [e.kind for e in await events_of(rig, case.id)]
    assert await _watched(rig) == [], "a finished report is no longer watched"


async def test_each_message_starts_the_silence_again(make_rig) -> None:
    rig: Rig = await make_rig(urgent_draft_minutes=10)
    learner = rig.personal(rig.cast.learner)
    await _start_urgent_report(learner)
    [first] = await _watched(rig)
    await asyncio.sleep(0.01)
    assert await learner.say("and everyone in the group chat laughs along") == 200
    [second] = await _watched(rig)
    assert second.due_at > first.due_at
    # A learner who takes the menu sends the report on there and then (as before): nothing is left to watch.
    assert await learner.say("menu") == 200
    assert await _watched(rig) == []
    assert len(await all_cases(rig)) == 1
    assert await services(rig).urgent_drafts.run_once(now=after(30)) == 0
    assert len(await all_cases(rig)) == 1


async def test_a_draft_that_is_not_urgent_is_never_sent_unasked(make_rig) -> None:
    rig: Rig = await make_rig()
    learner = rig.personal(rig.cast.learner)
    await _start_urgent_report(learner, danger="no")
    assert await _watched(rig) == []
    mark = rig.connector.mark()
    assert await services(rig).urgent_drafts.run_once(now=after(24 * 60)) == 0
    assert await all_cases(rig) == [] and rig.connector.since(mark) == []

    # Urgent, then changed to "no" before going quiet: no longer watched, never sent.
    other = rig.personal(rig.cast.other_learner)
    await _start_urgent_report(other, danger="yes")
    assert len(await _watched(rig)) == 1
    for text in ("Done", "back", "back", "back", "back"):
        assert await other.say(text) == 200
    assert await other.say("no") == 200
    assert await _watched(rig) == []
    assert await services(rig).urgent_drafts.run_once(now=after(24 * 60)) == 0
    assert await all_cases(rig) == []


async def test_two_instances_on_one_postgres_send_it_exactly_once(make_rig, postgres_url: str) -> None:
    one: Rig = await make_rig(database_url=postgres_url)
    two: Rig = await make_rig(database_url=postgres_url)
    learner = one.personal(one.cast.learner)
    await _start_urgent_report(learner)
    mark = one.connector.mark()
    sweepers = [services(rig).urgent_drafts for rig in (one, two)]
    later = after(11)
    tried = await asyncio.gather(*(s.run_once(now=later) for s in sweepers for _ in range(3)))
    assert sum(tried) == 1, "claimed by exactly one instance"
    [case] = await all_cases(one)
    assert case.urgent and case.incomplete
    told = [s for s in one.connector.since(mark, learner.conversation_id) if s.text and case.reference in s.text]
    assert len(told) == 1, "the learner is told once"
    async with services(two).database.read_sessions() as session:
        assert list((await session.execute(select(UrgentDraft))).scalars()) == []


async def test_a_claim_that_ran_out_is_taken_over_without_a_second_case(make_rig, postgres_url: str) -> None:
    # The instance that claimed it stalled after sending (before it could finish): the claim runs out, the other
    # instance sends again, and the draft's own id finds the case already made.
    one: Rig = await make_rig(database_url=postgres_url)
    two: Rig = await make_rig(database_url=postgres_url)
    learner = one.personal(one.cast.learner)
    await _start_urgent_report(learner)
    first, second = (services(rig).urgent_drafts for rig in (one, two))
    async with services(one).database.sessions.begin() as session:
        [claimed] = await urgent_drafts.claim_due(session=session, now=after(11), lease_seconds=60)
    assert await second.run_once(now=after(11.5)) == 0, "someone has it"
    assert await second.run_once(now=after(13)) == 1, "its claim ran out"
    assert len(await all_cases(one)) == 1
    assert claimed.conversation_id == learner.conversation_id
    assert await first.run_once(now=after(14)) == 0
