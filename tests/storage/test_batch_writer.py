"""Group commit of the conversation log: shared transactions, and one bad turn never fails the others."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from storage.batch_writer import LogBatcher
from storage.db import create_engine
from storage.migrate import migrate
from storage.models import ConversationLogBase, ConversationLogEntry


def _entry(conversation: str, text: str) -> ConversationLogBase:
    return ConversationLogBase(conversation_id=conversation, direction="in", activity_type="message", text=text)


async def test_concurrent_turns_share_commits_and_all_land(database_url: str) -> None:
    engine = create_engine(database_url)
    await migrate(engine)
    writer = LogBatcher(engine)
    await asyncio.gather(*(writer.write([_entry(f"c{i % 5}", f"message {i}")]) for i in range(200)))
    async with engine.connect() as conn:
        stored = (await conn.execute(select(func.count()).select_from(ConversationLogEntry))).scalar_one()
    assert stored == 200
    assert writer.batches_committed < 100, f"expected shared commits, got {writer.batches_committed} for 200 turns"
    await writer.close()
    await engine.dispose()


async def test_a_bad_entry_fails_only_its_own_turn(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    await migrate(engine)
    writer = LogBatcher(engine)
    bad = ConversationLogBase.model_construct(conversation_id=None, direction="in", activity_type="message")
    results = await asyncio.gather(
        writer.write([_entry("a", "one")]),
        writer.write([bad]),
        writer.write([_entry("b", "two")]),
        return_exceptions=True,
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], Exception)
    async with engine.connect() as conn:
        texts = sorted((await conn.execute(select(ConversationLogEntry.text))).scalars())  # type: ignore[arg-type]
    assert texts == ["one", "two"]
    await writer.write([_entry("c", "after")])  # the writer carries on
    await writer.close()
    await engine.dispose()


@pytest.mark.parametrize("count", [0])
async def test_nothing_to_write_is_a_no_op(sqlite_url: str, count: int) -> None:
    engine = create_engine(sqlite_url)
    writer = LogBatcher(engine)
    await writer.write([])
    await writer.close()
    await engine.dispose()
