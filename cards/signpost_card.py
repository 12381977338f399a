"""Who to contact: one block per service, with tap-to-call, text, email and web buttons."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cards.elements import Card, Element, adaptive_card, text_block
from content.directory import Entry


def _open_url(title: str, url: str) -> dict[str, Any]:
    return {"type": "Action.OpenUrl", "title": title, "url": url}


def entry_block(entry: Entry) -> list[Element]:
    lines = [text_block(entry.name, weight="Bolder"), text_block(entry.purpose, is_subtle=True)]
    details = [f"{contact.label}: {contact.value}" for contact in entry.contacts]
    if entry.hours:
        details.append(entry.hours)
    if entry.note:
        details.append(entry.note)
    lines.append(text_block("  \n".join(details)))
    buttons = [_open_url(f"{contact.label}: {contact.value}", contact.href) for contact in entry.contacts[:3]]
    lines.append({"type": "ActionSet", "actions": buttons})
    return [{"type": "Container", "separator": True, "spacing": "Medium", "items": lines}]


def signpost_card(
    title: str, intro: str, entries: Sequence[Entry], *, sections: Sequence[tuple[str, Sequence[Entry]]] = ()
) -> Card:
    """`sections` are further routes after the main ones, each (heading, entries): the bullying card's hate crime."""
    body: list[Element] = [text_block(title, size="Medium", weight="Bolder", color="Attention")]
    if intro:
        body.append(text_block(intro))
    for entry in entries:
        body.extend(entry_block(entry))
    for heading, more in sections:
        body.append({**text_block(heading, weight="Bolder"), "separator": True, "spacing": "Large"})
        for entry in more:
            body.extend(entry_block(entry))
    return adaptive_card(body=body)
