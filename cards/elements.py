"""Typed builders for the Adaptive Card elements Safe Space uses. Teams renders schema 1.5 at most."""

from __future__ import annotations

from typing import Any, Literal

CARD_VERSION = "1.5"
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"

Element = dict[str, Any]
Action = dict[str, Any]
Card = dict[str, Any]


def adaptive_card(body: list[Element], actions: list[Action] | None = None) -> Card:
    card: Card = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": CARD_VERSION,
        "body": body,
        "msteams": {"width": "Full"},
    }
    if actions:
        card["actions"] = actions
    return card


def text_block(
    text: str,
    *,
    size: Literal["Small", "Default", "Medium", "Large", "ExtraLarge"] | None = None,
    weight: Literal["Lighter", "Default", "Bolder"] | None = None,
    wrap: bool = True,
    is_subtle: bool = False,
    color: Literal["Default", "Dark", "Light", "Accent", "Good", "Warning", "Attention"] | None = None,
) -> Element:
    block: Element = {"type": "TextBlock", "text": text, "wrap": wrap}
    if size:
        block["size"] = size
    if weight:
        block["weight"] = weight
    if is_subtle:
        block["isSubtle"] = True
    if color:
        block["color"] = color
    return block


def im_back(title: str, value: str) -> Action:
    """A button that posts `value` as if the person typed it, so every button also works by typing."""
    return {
        "type": "Action.Submit",
        "title": title,
        "data": {"msteams": {"type": "imBack", "value": value}},
    }


def open_url(title: str, url: str) -> Action:
    """A button that opens a link: a web page, tel:/mailto:, or a Teams deep link (such as a 1:1 chat)."""
    return {"type": "Action.OpenUrl", "title": title, "url": url}


def execute(title: str, verb: str, data: dict[str, Any], *, style: str | None = None) -> Action:
    """A Universal Action: Teams sends an invoke and the bot answers with the updated card."""
    action: Action = {"type": "Action.Execute", "title": title, "verb": verb, "data": data}
    if style:
        action["style"] = style
    return action
