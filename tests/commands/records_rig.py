"""Shared by the records command tests: a migrated store, made-up records in it, and `python -m bot` as a process."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import cases
from storage.models import Case, CaseCreate, CaseEvent, ConversationLogEntry, QuizAnswer, QuizAttempt
from tests.rig.bot_server import ROOT

LEARNER = "aaaaaaaa-1111-2222-3333-444444444444"
OTHER = "bbbbbbbb-1111-2222-3333-444444444444"
DSO = "dddddddd-1111-2222-3333-444444444444"
T0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


def run_bot(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "DATABASE_URL": database_url, "MicrosoftAppId": "", **env}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


async def bot(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(run_bot, database_url, *args, **env)


def one_line_failure(result: subprocess.CompletedProcess[str], *, code: int = 2) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


async def make_case(
    sessions: async_sessionmaker[AsyncSession],
    *,
    reporter: str = LEARNER,
    reporter_name: str = "Alex Learner",
    conversation_id: str | None = None,
    now: dt.datetime = T0,
    **fields: Any,
) -> Case:
    values: dict[str, Any] = {
        "source": "learner",
        "category": "bullying",
        "about": "learner",
        "description": "Someone keeps posting about me in the group chat.",
        "reporter_aad_id": reporter,
        "reporter_name": reporter_name,
        "reporter_conversation_id": conversation_id or f"a:1on1-{reporter}",
    }
    values.update(fields)
    async with sessions.begin() as session:
        return await cases.create_case(
            session=session, case=CaseCreate(**values), actor_aad_id=reporter, actor_name=reporter_name, now=now
        )


async def dso_note(sessions: async_sessionmaker[AsyncSession], case: Case, note: str, at: dt.datetime = T0) -> None:
    assert case.id is not None
    async with sessions.begin() as session:
        await cases.record_event(
            session=session,
            case_id=case.id,
            kind="note",
            actor_aad_id=DSO,
            actor_name="Claire Lewis",
            detail={"text": note},
            now=at,
        )


async def say(
    sessions: async_sessionmaker[AsyncSession],
    conversation_id: str,
    who: str | None,
    name: str | None,
    text_: str,
    at: dt.datetime = T0,
) -> None:
    async with sessions.begin() as session:
        session.add(
            ConversationLogEntry(
                conversation_id=conversation_id,
                direction="in" if who else "out",
                activity_type="message",
                channel_id="msteams",
                conversation_type="personal",
                user_aad_id=who,
                user_name=name,
                text=text_,
                created_at=at,
            )
        )


async def quiz(sessions: async_sessionmaker[AsyncSession], who: str, score: int, at: dt.datetime = T0) -> None:
    async with sessions.begin() as session:
        attempt = QuizAttempt(
            user_aad_id=who,
            conversation_id=f"a:1on1-{who}",
            mode="self",
            value="democracy",
            question_count=2,
            score=score,
            started_at=at,
            finished_at=at,
        )
        session.add(attempt)
        await session.flush()
        assert attempt.id is not None
        session.add(QuizAnswer(attempt_id=attempt.id, question_id="dem-01", value="democracy", chosen=1, correct=True))
        session.add(QuizAnswer(attempt_id=attempt.id, question_id="dem-02", value="democracy", chosen=0, correct=False))


async def kinds(sessions: async_sessionmaker[AsyncSession], case_id: int) -> list[str]:
    async with sessions() as session:
        rows = await session.execute(select(CaseEvent.kind).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq))
        return list(rows.scalars())
