"""The botbuilder Storage contract for SqlStorage, on SQLite and on PostgreSQL.

Mirrors botbuilder-testing's StorageBaseTests (which we cannot depend on) plus the concurrency that two
instances sharing one database need.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from botbuilder.core import ConversationState, StoreItem
from botbuilder.dialogs import DialogInstance, DialogState

from bot.sql_storage import SqlStorage
from storage.bot_state import ETagConflictError
from storage.db import create_engine, create_sessionmaker
from storage.migrate import migrate


@pytest.fixture
async def storage(database_url: str) -> AsyncIterator[SqlStorage]:
    engine = create_engine(database_url)
    await migrate(engine)
    yield SqlStorage(create_sessionmaker(engine), engine)
    await engine.dispose()


async def test_read_of_missing_keys_is_empty(storage: SqlStorage) -> None:
    assert await storage.read(["nope", "also-nope"]) == {}
    assert await storage.read([]) == {}


async def test_create_then_read_round_trips_plain_data(storage: SqlStorage) -> None:
    value = {"name": "Alex", "nested": {"list": [1, "two", None], "emoji": "🙂", "rtl": "مرحبا"}}
    await storage.write({"user/1": dict(value)})
    found = await storage.read(["user/1"])
    assert {k: v for k, v in found["user/1"].items() if k != "e_tag"} == value
    assert found["user/1"]["e_tag"]


async def test_store_items_and_dialog_state_objects_round_trip(storage: SqlStorage) -> None:
    state = DialogState([DialogInstance(id="quiz", state={"values": {"value": "democracy"}})])
    await storage.write({"conv/1": {"DialogState": state}, "item/1": StoreItem(colour="blue")})
    found = await storage.read(["conv/1", "item/1"])
    restored = found["conv/1"]["DialogState"]
    assert isinstance(restored, DialogState)
    assert restored.dialog_stack[0].id == "quiz"
    assert restored.dialog_stack[0].state == {"values": {"value": "democracy"}}
    assert found["item/1"].colour == "blue" and found["item/1"].e_tag


async def test_write_with_the_etag_read_succeeds_and_changes_the_etag(storage: SqlStorage) -> None:
    await storage.write({"k": {"n": 1}})
    first = (await storage.read(["k"]))["k"]
    first["n"] = 2
    await storage.write({"k": first})
    second = (await storage.read(["k"]))["k"]
    assert second["n"] == 2 and second["e_tag"] != first.get("old", None)
    assert first["e_tag"] == second["e_tag"], "the caller's copy carries the new eTag after a write"


async def test_stale_etag_is_refused_and_nothing_changes(storage: SqlStorage) -> None:
    await storage.write({"k": {"n": 1}})
    mine = (await storage.read(["k"]))["k"]
    theirs = (await storage.read(["k"]))["k"]
    theirs["n"] = 2
    await storage.write({"k": theirs})
    mine["n"] = 3
    with pytest.raises(ETagConflictError):
        await storage.write({"k": mine})
    assert (await storage.read(["k"]))["k"]["n"] == 2


async def test_wildcard_etag_overwrites(storage: SqlStorage) -> None:
    await storage.write({"k": {"n": 1}})
    await storage.write({"k": {"n": 9, "e_tag": "*"}})
    assert (await storage.read(["k"]))["k"]["n"] == 9


async def test_empty_etag_is_an_error(storage: SqlStorage) -> None:
    with pytest.raises(ValueError, match="empty eTag"):
        await storage.write({"k": {"n": 1, "e_tag": ""}})


async def test_delete_then_read_and_recreate_with_a_stale_etag(storage: SqlStorage) -> None:
    await storage.write({"k": {"n": 1}})
    stale = (await storage.read(["k"]))["k"]
    await storage.delete(["k", "never-existed"])
    assert await storage.read(["k"]) == {}
    await storage.write({"k": stale})  # a record deleted meanwhile may be written again
    assert (await storage.read(["k"]))["k"]["n"] == 1


async def test_concurrent_writers_with_the_same_etag_exactly_one_wins(storage: SqlStorage) -> None:
    await storage.write({"k": {"n": 0}})
    copies = [(await storage.read(["k"]))["k"] for _ in range(8)]
    for i, copy in enumerate(copies):
        copy["n"] = i + 1

    results = await asyncio.gather(*(storage.write({"k": c}) for c in copies), return_exceptions=True)
    winners = [i for i, r in enumerate(results) if r is None]
    assert len(winners) == 1
    assert all(isinstance(r, ETagConflictError) for r in results if r is not None)
    assert (await storage.read(["k"]))["k"]["n"] == winners[0] + 1


async def test_conversation_state_uses_it_end_to_end(storage: SqlStorage) -> None:
    from botbuilder.core import TurnContext
    from botbuilder.core.adapters import TestAdapter
    from botbuilder.schema import Activity, ChannelAccount, ConversationAccount

    state = ConversationState(storage)
    prop = state.create_property("counter")
    activity = Activity(
        type="message",
        channel_id="msteams",
        conversation=ConversationAccount(id="c1"),
        from_property=ChannelAccount(id="u1"),
        recipient=ChannelAccount(id="b"),
    )
    for expected in (1, 2, 3):
        context = TurnContext(TestAdapter(), activity)
        await state.load(context)
        counter = await prop.get(context, lambda: {"n": 0})
        counter["n"] += 1
        await prop.set(context, counter)
        await state.save_changes(context)
        assert counter["n"] == expected
