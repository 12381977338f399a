"""Training reminders (issue 13): 30 days before expiry and on expiry, once each, whatever how often or on how
many instances the check runs; the DSO's weekly list of who is overdue. The clock is the test's."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select

from bot.app import SERVICES
from storage import training
from storage.models import OutboxMessage
from storage.training import TrainingRecordCreate
from tests.card_validator import assert_valid_cards
from tests.cards import shown_texts
from tests.conftest import Rig
from tests.rig.fake_connector import Sent
from tests.rig.teams import Chat


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T09:00:00+00:00")


async def delivered(rig: Rig) -> None:
    """Wait until the outbox has nothing left to send."""
    services = rig.server.app[SERVICES]  # type: ignore[index]
    for _ in range(200):
        async with services.database.read_sessions() as session:
            waiting = (
                (await session.execute(select(OutboxMessage).where(OutboxMessage.status != "sent"))).scalars().all()
            )
        if not waiting:
            return
        services.delivery.wake()
        await asyncio.sleep(0.05)
    raise AssertionError("the outbox did not empty")


def received(rig: Rig, chat: Chat) -> list[Sent]:
    return rig.connector.since(0, chat.conversation_id)


async def test_each_reminder_fires_once_and_the_dso_hears_weekly(make_rig, database_url: str) -> None:
    rig: Rig = await make_rig(database_url=database_url)
    services = rig.server.app[SERVICES]  # type: ignore[index]
    cast = rig.cast
    chats = {p: rig.personal(p) for p in (cast.staff, cast.trainer, cast.dso, cast.deputy)}
    for chat in chats.values():
        await chat.say("hi")
        await chat.replies(1)
    async with services.database.sessions.begin() as session:
        for person, course, day in (
            (cast.staff, "prevent", dt.date(2025, 1, 15)),  # runs out 15 Jan 2027
            (cast.trainer, "safeguarding", dt.date(2026, 1, 20)),  # runs out 20 Jan 2027
            (cast.trainer, "prevent", dt.date(2026, 6, 1)),  # current throughout
        ):
            await training.add_record(
                session=session,
                record=TrainingRecordCreate(
                    person_aad_id=person.aad_object_id,
                    person_name=person.name,
                    course=course,
                    provider="Home Office",
                    completed_on=day,
                    recorded_by_aad_id=person.aad_object_id,
                ),
            )
    baseline = {p: len(received(rig, c)) for p, c in chats.items()}

    def new(person) -> list[str]:
        return [s.text or "" for s in received(rig, chats[person])[baseline[person] :]]

    reminders = services.training_reminders
    # Two instances checking at once, on the same store, count as one.
    second = type(reminders)(
        database=services.database,
        roles=services.bot._roles,
        texts=services.training._texts,
        courses=services.training._courses,
        service=services.training,
        delivery=services.delivery,
        check_seconds=3600,
    )
    timeline = ["2026-12-10", "2026-12-16", "2026-12-16", "2026-12-21", "2027-01-15", "2027-01-16", "2027-01-20"]
    for day in timeline:
        reminders.clock = second.clock = lambda day=day: at(day)
        await asyncio.gather(reminders.run_once(), second.run_once())
        await delivered(rig)

    staff_heard = new(cast.staff)
    assert len(staff_heard) == 2, staff_heard
    assert "runs out on 15 Jan 2027" in staff_heard[0] and "training done prevent" in staff_heard[0]
    assert "ran out on 15 Jan 2027" in staff_heard[1]
    trainer_heard = new(cast.trainer)
    assert len(trainer_heard) == 2, trainer_heard
    assert "Safeguarding" in trainer_heard[0] and "runs out on 20 Jan 2027" in trainer_heard[0]
    assert "ran out on 20 Jan 2027" in trainer_heard[1]
    assert not any("Prevent" in text for text in trainer_heard)

    # The DSO: one list a week in which someone was overdue or had no record (weeks 50, 51, 52, 2 and 3; the
    # 16th and 21st of December fall in weeks 51 and 52, the 15th-16th and 20th of January in weeks 2 and 3).
    weekly = [s for s in received(rig, chats[cast.dso])[baseline[cast.dso] :] if s.cards]
    assert len(weekly) == 5, [s.text for s in weekly]
    assert_valid_cards(*[s.cards[0] for s in weekly])
    last = " ".join(shown_texts(weekly[-1].cards[0]))
    assert "Sam Staff: Prevent awareness, Overdue: ran out 15 Jan 2027" in last
    assert "Tara Trainer: Safeguarding, Overdue: ran out 20 Jan 2027" in last


async def test_the_check_runs_by_itself(make_rig) -> None:
    rig: Rig = await make_rig(training_check_seconds=0.3, delivery_poll_seconds=0.05)
    dso = rig.personal(rig.cast.dso)
    await dso.say("hi")
    await dso.replies(1)
    # Nobody has a record yet, so this week's list reaches the DSO without anyone asking.
    found = await rig.connector.wait_for(
        lambda sent: (
            sent.conversation_id == dso.conversation_id and bool(sent.cards) and "training check" in (sent.text or "")
        ),
        timeout=15,
    )
    assert "Staff training compliance" in " ".join(shown_texts(found.cards[0]))
