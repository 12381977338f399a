"""Debate polls: the motion, the round, and each vote under a pseudonym. The caller commits.

`debates_held_by_value` is what the directors' report calls: how many debates were held per British value.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Debate, DebateVote
from storage.types import utcnow

CHOICES = ("for", "against", "undecided")
UNTAGGED = "untagged"


async def create_debate(*, session: AsyncSession, debate: Debate) -> Debate:
    session.add(debate)
    await session.flush()
    return debate


async def get_debate(*, session: AsyncSession, debate_id: int) -> Debate | None:
    rows = await session.execute(
        select(Debate).where(col(Debate.id) == debate_id).execution_options(populate_existing=True)
    )
    return rows.scalars().first()


async def cast_vote(
    *, session: AsyncSession, debate_id: int, round: int, voter: str, choice: str, now: dt.datetime | None = None
) -> None:
    """One vote per person per round; voting again in the same round changes it. A retried invoke is the same vote
    again, so it changes nothing."""
    if choice not in CHOICES:
        raise ValueError(f"unknown choice {choice!r}")
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    now = now or utcnow()
    statement = insert(DebateVote).values(debate_id=debate_id, round=round, voter=voter, choice=choice, updated_at=now)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["debate_id", "round", "voter"], set_={"choice": choice, "updated_at": now}
        )
    )


async def counts(*, session: AsyncSession, debate_id: int, round: int) -> dict[str, int]:
    rows = await session.execute(
        select(col(DebateVote.choice), func.count())
        .where(col(DebateVote.debate_id) == debate_id, col(DebateVote.round) == round)
        .group_by(col(DebateVote.choice))
    )
    found = {str(choice): int(n) for choice, n in rows.all()}
    return {choice: found.get(choice, 0) for choice in CHOICES}


async def change(
    *, session: AsyncSession, debate_id: int, expected_version: int, changes: dict[str, Any]
) -> Debate | None:
    """Compare-and-swap: None when someone else moved the debate on first (a double press, another instance)."""
    result = await session.execute(
        update(Debate)
        .where(col(Debate.id) == debate_id, col(Debate.version) == expected_version)
        .values(**changes, version=expected_version + 1)
        .execution_options(synchronize_session=False)
    )
    if cast("CursorResult[Any]", result).rowcount != 1:
        return None
    return await get_debate(session=session, debate_id=debate_id)


async def debates_held_by_value(session: AsyncSession, start: dt.datetime, end: dt.datetime) -> dict[str, int]:
    """Debates started in [start, end), counted per British value ("untagged" when none was given or inferred).

    For the directors' report: policy 3.1.2 asks for debates in every programme.
    """
    rows = await session.execute(
        select(col(Debate.value), func.count())
        .where(col(Debate.created_at) >= start, col(Debate.created_at) < end)
        .group_by(col(Debate.value))
    )
    return {str(value) if value else UNTAGGED: int(n) for value, n in rows.all()}
