"""One worry, one case: the safety net's urgent case and the report that goes with it reach the DSO as one case and
one card, the report joining the triage case's chronology (and the card redrawn), never a second card."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from bot.safeguarding.case_cards import REPORT_FINISHED
from storage.models import Case
from tests.conftest import Rig
from tests.rig.fake_connector import Sent
from tests.rig.safeguarding import (
    CHANNEL_ID,
    all_cases,
    card_text,
    events_of,
    reference_from,
    register_channel,
    services,
    walk_report,
)

HIGH = "he has a knife and said he will stab someone tomorrow"


@pytest.fixture
async def fast_rig(make_rig) -> Rig:
    return await make_rig(delivery_poll_seconds=0.05)


def _cards_posted(rig: Rig) -> list[Sent]:
    """New case cards in the safeguarding channel (each a new thread)."""
    return [s for s in rig.connector.sent if s.kind == "create" and s.conversation_id.startswith(CHANNEL_ID)]


async def _card_redrawn_with(rig: Rig, posted: Sent, words: str) -> Sent:
    return await rig.connector.wait_for(
        lambda s: (
            s.kind == "update"
            and s.activity_id == posted.activity_id
            and words in card_text(s.cards[0] if s.cards else {})
        )
    )


async def test_a_high_risk_line_inside_a_report_gives_one_case(fast_rig: Rig) -> None:
    rig = fast_rig
    await register_channel(rig)
    learner = rig.personal(rig.cast.learner)
    for text in ("report", "no", "Another learner", "Something else"):
        assert await learner.say(text) == 200
    # Typed as the account: the safety net puts it in front of the team at once, as an urgent case.
    assert await learner.say(HIGH) == 200
    [triage] = await all_cases(rig)
    assert triage.source == "triage" and triage.urgent
    posted = await rig.connector.wait_for(lambda s: s.kind == "create" and triage.reference in card_text(s.cards[0]))

    for text in ("Done", "skip", "Yesterday", "At the site", "no", "send it"):
        assert await learner.say(text) == 200
    finished = [r.text for r in learner.replies_so_far() if r.text]
    assert any(triage.reference in t and "added the rest of your report" in t for t in finished), finished

    # One case in the store, one card in the channel, redrawn with the report in the case's chronology.
    [case] = await all_cases(rig)
    assert case.id == triage.id
    kinds = [e.kind for e in await events_of(rig, case.id)]
    assert kinds[0] == "created" and REPORT_FINISHED in kinds
    redrawn = await _card_redrawn_with(rig, posted, "At the site")
    assert len(_cards_posted(rig)) == 1
    # What the triage case could not know, the report answers: on the card as facts, not only in the chronology.
    facts = {f["title"]: f["value"] for b in redrawn.cards[0]["body"] if b["type"] == "FactSet" for f in b["facts"]}
    assert facts["When it happened"] == "Yesterday" and facts["Where"] == "At the site"
    assert (case.about, case.incident_when, case.incident_where, case.description) == (
        "learner",
        "Yesterday",
        "At the site",
        HIGH,
    ), "blanks filled in; the words that raised the alarm unchanged"


async def test_a_triage_case_and_the_report_it_led_to_are_one_case(fast_rig: Rig) -> None:
    rig = fast_rig
    await register_channel(rig)
    learner = rig.personal(rig.cast.learner)
    assert await learner.say(HIGH) == 200
    [triage] = await all_cases(rig)
    posted = await rig.connector.wait_for(lambda s: s.kind == "create" and triage.reference in card_text(s.cards[0]))

    # Told "if you want to tell them more, type report", they do. (Their name is already on the case, so the name
    # question is not asked: the last two answers are both taken as "send it".)
    mark = rig.connector.mark()
    await walk_report(learner, "It was my mate Jay, he showed me the knife in the car park", how="here")
    said = [s.text or "" for s in rig.connector.since(mark, learner.conversation_id)]
    assert any(triage.reference in t and "added the rest of your report" in t for t in said), said
    [case] = await all_cases(rig)
    assert case.id == triage.id and case.source == "triage"
    finished = [e for e in await events_of(rig, case.id) if e.kind == REPORT_FINISHED]
    assert len(finished) == 1 and "he showed me the knife" in (finished[0].detail or "")
    await _card_redrawn_with(rig, posted, "he showed me the knife in the car park")
    assert len(_cards_posted(rig)) == 1


async def test_a_report_after_a_closed_triage_case_is_a_case_of_its_own(fast_rig: Rig) -> None:
    rig = fast_rig
    await register_channel(rig)
    learner = rig.personal(rig.cast.learner)
    assert await learner.say(HIGH) == 200
    [triage] = await all_cases(rig)
    async with services(rig).database.sessions.begin() as session:
        await session.execute(update(Case).where(Case.id == triage.id).values(status="closed"))
    # The DSO dealt with that and closed it: a new report is a new case, with its own card.
    replies = await walk_report(learner, "He has been making fun of my accent in the group chat every day")
    reference = reference_from(replies)
    assert reference != triage.reference
    first, second = await all_cases(rig)
    assert (first.id, second.source, second.reference) == (triage.id, "learner", reference)
    await rig.connector.wait_for(lambda s: s.kind == "create" and reference in card_text(s.cards[0]))
    assert len(_cards_posted(rig)) == 2
