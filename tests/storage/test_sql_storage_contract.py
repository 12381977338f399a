"""The botbuilder Storage contract for SqlStorage, on SQLite and on PostgreSQL.

Mirrors botbuilder-testing's StorageBaseTests (which we cannot depend on) plus the concurrency that two
instances sharing one database need.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import jsonpickle
import pytest
from botbuilder.core import CardFactory, ConversationState, MessageFactory, StoreItem
from botbuilder.dialogs import DialogInstance, DialogState
from botbuilder.dialogs.choices import Choice
from botbuilder.dialogs.prompts import PromptOptions
from botbuilder.schema import Activity, InputHints

from bot.edge.sql_storage import SqlStorage
from storage.bot_state import ETagConflictError, StateWrite, read_state, write_state
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


# Plain JSON, and rows that must never run code (security review item 11) ------------------------------------


async def _raw_write(storage: SqlStorage, key: str, data: str) -> None:
    async with storage._sessionmaker.begin() as session:
        await write_state(session=session, writes=[StateWrite(key=key, data=data, expected_etag=None)])


async def _raw_read(storage: SqlStorage, key: str) -> str:
    async with storage._sessionmaker() as session:
        return (await read_state(session=session, keys=[key]))[key][0]


def _py_tags(value: object) -> list[str]:
    if isinstance(value, dict):
        return [k for k in value if str(k).startswith("py/")] + [t for v in value.values() for t in _py_tags(v)]
    if isinstance(value, list):
        return [t for v in value for t in _py_tags(v)]
    return []


def _prompt_state() -> DialogState:
    card = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "Pick one"}]}
    options = PromptOptions(
        prompt=MessageFactory.attachment(CardFactory.adaptive_card(card)),
        retry_prompt=MessageFactory.text("Please pick one of the buttons."),
        choices=[Choice("yes"), Choice("no")],
    )
    options.prompt.input_hint = InputHints.expecting_input  # as the prompt leaves it once sent: an enum
    inner = DialogState([DialogInstance(id="report.yes_no", state={"options": options, "state": {}})])
    return DialogState([DialogInstance(id="report", state={"dialogs": inner, "values": {"draft": {"urgent": False}}})])


def _prompt_of(state: DialogState) -> PromptOptions:
    options = state.dialog_stack[0].state["dialogs"].dialog_stack[0].state["options"]
    assert isinstance(options, PromptOptions)
    return options


async def test_state_is_stored_as_plain_json_and_comes_back_as_the_same_types(storage: SqlStorage) -> None:
    when = dt.datetime(2026, 11, 25, 14, 3, tzinfo=dt.UTC)
    value = {"DialogState": _prompt_state(), "at": when, "pair": ("a", 1), "~type": "not a tag", "n": 1.5}
    await storage.write({"conv/json": value})
    raw = json.loads(await _raw_read(storage, "conv/json"))
    assert _py_tags(raw) == [], "no jsonpickle tags: nothing in the row names a class to import"

    found = (await storage.read(["conv/json"]))["conv/json"]
    assert found["at"] == when and found["pair"] == ("a", 1) and found["~type"] == "not a tag"
    options = _prompt_of(found["DialogState"])
    assert isinstance(options.prompt, Activity) and options.prompt.type == "message"
    assert options.prompt.attachments[0].content["body"][0]["text"] == "Pick one"
    assert options.retry_prompt.text == "Please pick one of the buttons."
    assert [c.value for c in options.choices] == ["yes", "no"]
    assert found["DialogState"].dialog_stack[0].state["values"] == {"draft": {"urgent": False}}


async def test_what_the_codec_cannot_rebuild_is_refused_when_written(storage: SqlStorage) -> None:
    with pytest.raises(TypeError, match="cannot be stored"):
        await storage.write({"k": {"odd": {1, 2}}})
    assert await storage.read(["k"]) == {}


async def test_rows_jsonpickle_wrote_for_dialogs_are_still_read(storage: SqlStorage) -> None:
    """A dialog in progress when Safe Space is upgraded carries on: the old rows hold only allowed types."""
    await _raw_write(storage, "conv/old", jsonpickle.encode({"DialogState": _prompt_state()}, make_refs=False))
    found = (await storage.read(["conv/old"]))["conv/old"]
    options = _prompt_of(found["DialogState"])
    assert options.prompt.type == "message" and options.prompt.input_hint == "expectingInput"
    assert options.prompt.attachment_layout == "list"
    assert options.prompt.attachments[0].content_type == "application/vnd.microsoft.card.adaptive"
    assert [c.value for c in options.choices] == ["yes", "no"]
    await storage.write({"conv/old": found})  # and is written back in the new form
    assert _py_tags(json.loads(await _raw_read(storage, "conv/old"))) == []


class Planted:
    """A class a tampered row could name. Building it would leave a mark."""

    marker: Path | None = None

    def __init__(self) -> None:
        if Planted.marker is not None:
            Planted.marker.touch()

    def __setstate__(self, state: object) -> None:
        if Planted.marker is not None:
            Planted.marker.touch()


@pytest.mark.parametrize(
    "evil",
    [
        {"py/reduce": [{"py/function": "os.system"}, {"py/tuple": ["touch {marker}"]}]},
        {"py/reduce": [{"py/type": "os.system"}, {"py/tuple": ["touch {marker}"]}]},
        {"py/object": f"{__name__}.Planted", "py/state": {"x": 1}},
        {"py/object": f"{__name__}.Planted"},
        {"py/function": "os.system"},
        {"py/repr": "os/os.system('touch {marker}')"},
    ],
    ids=["reduce-function", "reduce-type", "object-with-state", "object", "function", "repr"],
)
async def test_a_row_that_names_code_runs_nothing_and_reads_as_empty_state(
    storage: SqlStorage, tmp_path: Path, caplog: pytest.LogCaptureFixture, evil: dict[str, object]
) -> None:
    marker = tmp_path / "pwned"
    Planted.marker = marker
    try:
        payload = json.dumps({"DialogState": evil}).replace("{marker}", str(marker))
        await _raw_write(storage, "conv/evil", payload)
        with caplog.at_level(logging.WARNING, logger="bot.edge.sql_storage"):
            found = await storage.read(["conv/evil"])
    finally:
        Planted.marker = None
    assert not marker.exists(), "the row ran code"
    assert {k: v for k, v in found["conv/evil"].items() if k != "e_tag"} == {}
    assert "state conv/evil was not read" in caplog.text and "treating it as empty" in caplog.text

    # The conversation starts afresh: the next save replaces the row, with the eTag that was read.
    found["conv/evil"]["n"] = 1
    await storage.write(found)
    assert (await storage.read(["conv/evil"]))["conv/evil"]["n"] == 1
