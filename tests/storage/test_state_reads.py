"""Shared state reads: turns reading together share one query, each gets only its own keys, nothing stale."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine

from storage import bot_state
from storage.bot_state import StateWrite
from storage.db import create_engine, create_sessionmaker
from storage.migrate import migrate
from storage.state_reads import StateReader


async def _write(engine: AsyncEngine, key: str, data: str) -> str:
    async with create_sessionmaker(engine).begin() as session:
        etags = await bot_state.write_state(session=session, writes=[StateWrite(key, data, None)])
    return etags[key]


async def test_reads_that_arrive_together_share_queries_and_get_their_own_keys(database_url: str) -> None:
    engine = create_engine(database_url)
    await migrate(engine)
    for n in range(100):
        await _write(engine, f"conv/{n}", f'{{"n": {n}}}')
    reader = StateReader(engine)

    results = await asyncio.gather(*(reader.read([f"conv/{n}", f"user/{n}"]) for n in range(100)))

    for n, found in enumerate(results):
        assert list(found) == [f"conv/{n}"]  # the missing user key is simply absent
        assert found[f"conv/{n}"][0] == f'{{"n": {n}}}'
    assert reader.queries < 20, f"expected shared queries, got {reader.queries} for 100 reads"
    await reader.close()
    await engine.dispose()


async def test_a_read_sees_every_write_made_before_it_was_asked(database_url: str) -> None:
    engine = create_engine(database_url)
    await migrate(engine)
    reader = StateReader(engine)
    for n in range(30):
        etag = await _write(engine, "conv/a", f'{{"step": {n}}}')
        # Other reads keep the reader busy, so this one often joins a batch that is already queued.
        noise = [asyncio.ensure_future(reader.read([f"conv/other-{i}"])) for i in range(5)]
        found = await reader.read(["conv/a"])
        assert found["conv/a"] == (f'{{"step": {n}}}', etag)
        await asyncio.gather(*noise)
    await reader.close()
    await engine.dispose()


async def test_a_failed_query_fails_its_readers_and_the_reader_carries_on(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    reader = StateReader(engine)
    # No migration yet: the table does not exist, so the query fails.
    results = await asyncio.gather(*(reader.read([f"k{n}"]) for n in range(5)), return_exceptions=True)
    assert all(isinstance(result, Exception) for result in results)

    await migrate(engine)
    await _write(engine, "k1", "{}")
    assert list(await reader.read(["k1", "k2"])) == ["k1"]
    assert await reader.read([]) == {}
    await reader.close()
    await engine.dispose()
