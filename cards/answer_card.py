"""An answer from the knowledge base: the answer, how to reach the services it names, and where it comes from."""

from __future__ import annotations

from collections.abc import Sequence

from cards.elements import Card, Element, adaptive_card, text_block
from cards.signpost_card import entry_block
from content.directory import Entry


def answer_card(title: str, answer: str, entries: Sequence[Entry], sources_line: str) -> Card:
    """`answer` is content written for this card (markdown allowed); `sources_line` says where it comes from."""
    body: list[Element] = [text_block(title, size="Medium", weight="Bolder"), text_block(answer)]
    for entry in entries:
        body.extend(entry_block(entry))
    body.append(text_block(sources_line, is_subtle=True, size="Small"))
    return adaptive_card(body=body)
