"""The safeguarding cards: the DSO's case card and the staff concern form. Helpers to look inside cards."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Card = dict[str, Any]

# Strings a hostile reporter might type: markdown, a link, template syntax, quotes, backslashes, emoji,
# right-to-left scripts, control characters and line breaks.
HOSTILE = (
    "**x** [link](http://evil.example) ${x} \"quoted\" 'single' back\\slash "
    "🙂🚨 مرحبا שלום \u202eevil\u202c line one\nline two\r\nline three _em_ `code` <b>html</b> # heading \x07"
)


def walk(value: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in a card, nested ShowCards included, except opaque `data` payloads."""
    if isinstance(value, dict):
        yield value
        for key, child in value.items():
            if key != "data":
                yield from walk(child)
    elif isinstance(value, list):
        for child in value:
            yield from walk(child)


def inputs(card: Card) -> list[dict[str, Any]]:
    return [obj for obj in walk(card) if str(obj.get("type", "")).startswith("Input.")]


def input_by_id(card: Card, input_id: str) -> dict[str, Any]:
    found = [obj for obj in inputs(card) if obj.get("id") == input_id]
    assert len(found) == 1, f"expected one input {input_id!r}, found {len(found)}"
    return found[0]


def element_ids(card: Card) -> list[str]:
    return [obj["id"] for obj in walk(card) if "id" in obj and "type" in obj]


def shown_texts(card: Card) -> list[str]:
    """Everything a TextBlock or FactSet puts on screen (these render markdown in Teams)."""
    out: list[str] = []
    for obj in walk(card):
        if obj.get("type") == "TextBlock":
            out.append(obj["text"])
        elif obj.get("type") == "FactSet":
            out += [fact["title"] for fact in obj["facts"]] + [fact["value"] for fact in obj["facts"]]
    return out


def executes(value: Any) -> list[dict[str, Any]]:
    return [obj for obj in walk(value) if obj.get("type") == "Action.Execute"]
