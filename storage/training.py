"""Staff and associate training records (policy 4.2 and 5.1), and the weekly upload of the Single Central Register.

Keyword-only async functions over an AsyncSession; the caller commits. A record is never edited: a refresher is a
new record, and the latest completion of each course is the one that counts.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import Column, CursorResult, Date, Index, Text, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col

from storage.cases import clean_text
from storage.models import ConversationRefRecord
from storage.types import UTCDateTime, utcnow


class TrainingRecordBase(SQLModel):
    person_aad_id: str = Field(max_length=64)  # lower case
    person_name: str | None = Field(default=None, sa_column=Column(Text))
    course: str = Field(max_length=32)  # a course id from content/training.yaml
    provider: str = Field(sa_column=Column(Text, nullable=False))
    completed_on: dt.date = Field(sa_column=Column(Date, nullable=False))
    certificate_url: str | None = Field(default=None, sa_column=Column(Text))
    # Who recorded it: the person themselves, or the DSO on their behalf.
    recorded_by_aad_id: str | None = Field(default=None, max_length=64)
    recorded_by_name: str | None = Field(default=None, sa_column=Column(Text))


class TrainingRecordCreate(TrainingRecordBase):
    pass


class TrainingRecord(TrainingRecordBase, table=True):
    __tablename__ = "training_record"
    __table_args__ = (Index("ix_training_record_person_course", "person_aad_id", "course"),)

    id: int | None = Field(default=None, primary_key=True)
    recorded_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    # Teams retries an invoke it did not hear back from: the same press is recorded once.
    action_id: str | None = Field(default=None, max_length=128, unique=True)

    @property
    def recorded_for_someone_else(self) -> bool:
        return bool(self.recorded_by_aad_id) and self.recorded_by_aad_id != self.person_aad_id


class ScrUpload(SQLModel, table=True):
    """One row per week: which instance is uploading the register, and when it last arrived in SharePoint."""

    __tablename__ = "scr_upload"

    week: str = Field(primary_key=True, max_length=16)  # ISO week, "2026-W49"
    status: str = Field(default="claimed", max_length=16)  # claimed | uploaded
    claimed_until: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    attempts: int = 0
    uploaded_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    rows: int | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text))


def _insert(session: AsyncSession) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


async def add_record(
    *, session: AsyncSession, record: TrainingRecordCreate, action_id: str | None = None
) -> tuple[TrainingRecord, bool]:
    """Store a completion; returns (record, created). The same `action_id` again returns the first record."""
    if action_id is not None:
        rows = await session.execute(select(TrainingRecord).where(col(TrainingRecord.action_id) == action_id))
        existing = rows.scalars().first()
        if existing is not None:
            return existing, False
    values = record.model_dump()
    values["person_aad_id"] = values["person_aad_id"].strip().lower()
    values["provider"] = clean_text(values["provider"])
    stored = TrainingRecord(**values, action_id=action_id)
    session.add(stored)
    await session.flush()
    return stored, True


async def records_of(*, session: AsyncSession, person_aad_id: str) -> list[TrainingRecord]:
    """One person's records, newest completion first."""
    rows = await session.execute(
        select(TrainingRecord)
        .where(col(TrainingRecord.person_aad_id) == person_aad_id.strip().lower())
        .order_by(col(TrainingRecord.completed_on).desc(), col(TrainingRecord.id).desc())
    )
    return list(rows.scalars())


async def all_records(*, session: AsyncSession) -> list[TrainingRecord]:
    rows = await session.execute(
        select(TrainingRecord).order_by(col(TrainingRecord.person_aad_id), col(TrainingRecord.completed_on))
    )
    return list(rows.scalars())


# The weekly upload ---------------------------------------------------------------------------------------


async def claim_upload(*, session: AsyncSession, week: str, now: dt.datetime, lease_seconds: float) -> bool:
    """Take this week's upload unless it is done or another instance holds it; the caller commits at once."""
    until = now + dt.timedelta(seconds=lease_seconds)
    inserted = await session.execute(
        _insert(session)(ScrUpload)
        .values(week=week, status="claimed", claimed_until=until, attempts=0)
        .on_conflict_do_nothing(index_elements=["week"])
    )
    if cast("CursorResult[Any]", inserted).rowcount == 1:
        return True
    taken = await session.execute(
        update(ScrUpload)
        .where(col(ScrUpload.week) == week, col(ScrUpload.status) != "uploaded", col(ScrUpload.claimed_until) < now)
        .values(claimed_until=until)
        .execution_options(synchronize_session=False)
    )
    return cast("CursorResult[Any]", taken).rowcount == 1


async def finish_upload(
    *, session: AsyncSession, week: str, now: dt.datetime, rows: int | None, error: str | None, retry_seconds: float
) -> None:
    """Record the outcome: uploaded, or failed with the claim shortened so the next pass tries again."""
    values: dict[str, Any]
    if error is None:
        values = {"status": "uploaded", "uploaded_at": now, "rows": rows, "last_error": None}
    else:
        values = {"claimed_until": now + dt.timedelta(seconds=retry_seconds), "last_error": clean_text(error)[:2000]}
    await session.execute(
        update(ScrUpload)
        .where(col(ScrUpload.week) == week)
        .values(attempts=ScrUpload.attempts + 1, **values)
        .execution_options(synchronize_session=False)
    )


async def upload_of(*, session: AsyncSession, week: str) -> ScrUpload | None:
    rows = await session.execute(
        select(ScrUpload).where(col(ScrUpload.week) == week).execution_options(populate_existing=True)
    )
    return rows.scalars().first()


async def people_seen(*, session: AsyncSession) -> list[str]:
    """Everyone who has a 1:1 chat with Safe Space (Entra object ids, lower case): whose roles to check when
    counting staff the roles configuration does not list one by one."""
    rows = await session.execute(
        select(col(ConversationRefRecord.user_aad_id))
        .where(col(ConversationRefRecord.user_aad_id).is_not(None))
        .distinct()
    )
    return sorted(str(aad) for aad in rows.scalars() if aad)
