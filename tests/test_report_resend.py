"""Sending a report again after a turn that failed once the case was stored makes no second case.

benchmarks/pg_outage.py found it: PostgreSQL went away between storing the case and saving the dialog's state, so
the learner, told "please try that again", sent "send it" again from the summary and a second case was stored.
Here the failed save is reproduced exactly: the dialog's state is put back as it was before "send it".
"""

from __future__ import annotations

from sqlalchemy import select, update

from storage.models import BotStateRecord
from tests.conftest import Rig
from tests.rig.safeguarding import all_cases, reference_from, services


async def _state(rig: Rig) -> dict[str, tuple[str, str]]:
    async with services(rig).database.sessions() as session:
        rows = (await session.execute(select(BotStateRecord))).scalars()
        return {row.key: (row.data, row.etag) for row in rows}


async def _put_back(rig: Rig, saved: dict[str, tuple[str, str]]) -> None:
    async with services(rig).database.sessions.begin() as session:
        for key, (data, etag) in saved.items():
            await session.execute(update(BotStateRecord).where(BotStateRecord.key == key).values(data=data, etag=etag))


async def test_send_it_again_after_the_state_was_not_saved_finds_the_same_case(rig: Rig) -> None:
    learner = rig.personal(rig.cast.learner)
    account = "Someone keeps making fun of my friend's accent in class."
    for text in ["report", "no", "Another learner", "Bullying or harassment", account, "Done", "skip",
                 "Last Tuesday", "In the canteen", "yes", "Teams chat please", "yes"]:  # fmt: skip
        assert await learner.say(text) == 200  # up to the summary, not sent yet
    before_send = await _state(rig)

    assert await learner.say("send it") == 200
    first = reference_from(learner.replies_so_far())
    await _put_back(rig, before_send)  # as if saving the dialog's state had failed after the case was stored

    assert await learner.say("send it") == 200
    again = reference_from(learner.replies_so_far())
    assert again == first
    stored = [c for c in await all_cases(rig) if c.source == "learner"]
    assert [c.reference for c in stored] == [first]  # (the safety net's own triage case aside)
