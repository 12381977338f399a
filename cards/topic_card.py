"""Staying-safe-online cards: the list of topics, and one topic with how to reach who it names, its sources and two
next steps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cards.elements import Card, Element, adaptive_card, im_back, text_block
from cards.signpost_card import entry_block
from content.directory import Entry, Topic


def topics_card(title: str, intro: str, topics: Sequence[Topic], command_prefix: str) -> Card:
    """Every topic as a tappable row (rows, not buttons: more topics than Teams shows buttons)."""
    body: list[Element] = [text_block(title, size="Medium", weight="Bolder"), text_block(intro, is_subtle=True)]
    for topic in topics:
        select: dict[str, Any] = im_back(topic.title, f"{command_prefix} {topic.id}")
        body.append(
            {
                "type": "Container",
                "separator": True,
                "selectAction": select,
                "items": [text_block(f"**{topic.title}**", color="Accent")],
            }
        )
    return adaptive_card(body)


def topic_card(
    topic: Topic,
    source_line: str,
    *,
    contacts: tuple[str, Sequence[Entry]],
    talk: tuple[str, str],
    who: tuple[str, str],
) -> Card:
    """`contacts` is (heading, the services the advice names); `talk` and `who` are (button title, what it types)."""
    heading, entries = contacts
    body: list[Element] = [
        text_block(topic.title, size="Medium", weight="Bolder"),
        text_block(topic.body),
    ]
    if entries:
        body.append({**text_block(heading, weight="Bolder"), "spacing": "Large"})
        for entry in entries:
            body.extend(entry_block(entry))
    body.append({**text_block(source_line, is_subtle=True, size="Small"), "separator": True})
    return adaptive_card(body, actions=[im_back(*talk), im_back(*who)])
