"""Training records and the weekly upload's claim, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt

from storage import training
from storage.db import open_database
from storage.migrate import migrate
from storage.training import TrainingRecordCreate


def record(person: str, course: str, day: dt.date, provider: str = "Home Office") -> TrainingRecordCreate:
    return TrainingRecordCreate(person_aad_id=person, course=course, provider=provider, completed_on=day)


async def test_records_are_kept_once_per_press_and_read_newest_first(database_url: str) -> None:
    database = open_database(database_url)
    try:
        await migrate(database.engine)
        async with database.sessions.begin() as session:
            first, created = await training.add_record(
                session=session, record=record("ABC", "prevent", dt.date(2024, 1, 1)), action_id="invoke:1"
            )
            again, created_again = await training.add_record(
                session=session, record=record("abc", "prevent", dt.date(2030, 1, 1)), action_id="invoke:1"
            )
            await training.add_record(
                session=session, record=record("abc", "prevent", dt.date(2026, 1, 1), provider="nul\x00byte")
            )
        assert created and not created_again and again.id == first.id
        async with database.read_sessions() as session:
            mine = await training.records_of(session=session, person_aad_id="ABC")
        assert [r.completed_on for r in mine] == [dt.date(2026, 1, 1), dt.date(2024, 1, 1)]
        assert mine[0].provider == "nulbyte" and mine[1].person_aad_id == "abc"
    finally:
        await database.dispose()


async def test_one_instance_takes_a_weeks_upload(database_url: str) -> None:
    database = open_database(database_url)
    now = dt.datetime(2026, 12, 7, 8, tzinfo=dt.UTC)
    try:
        await migrate(database.engine)

        async def claim(at: dt.datetime) -> bool:
            async with database.sessions.begin() as session:
                return await training.claim_upload(session=session, week="2026-W50", now=at, lease_seconds=600)

        assert sorted(await asyncio.gather(*(claim(now) for _ in range(4)))) == [False, False, False, True]
        assert await claim(now + dt.timedelta(minutes=5)) is False  # still held
        assert await claim(now + dt.timedelta(minutes=11)) is True  # the holder died: taken over
        async with database.sessions.begin() as session:
            await training.finish_upload(
                session=session, week="2026-W50", now=now, rows=10, error=None, retry_seconds=900
            )
        assert await claim(now + dt.timedelta(days=1)) is False  # done for the week
        async with database.read_sessions() as session:
            done = await training.upload_of(session=session, week="2026-W50")
        assert done is not None and (done.status, done.rows, done.attempts) == ("uploaded", 10, 1)
    finally:
        await database.dispose()
