"""Cards for group chats and channels: what Safe Space can do there, and the way to a private chat with it."""

from __future__ import annotations

from collections.abc import Sequence

from cards.elements import Action, Card, Element, adaptive_card, open_url, text_block


def group_card(
    lines: Sequence[str], *, title: str | None = None, footnote: str | None = None, link: tuple[str, str] | None = None
) -> Card:
    """`lines` are paragraphs (markdown); `link` is (button title, URL), e.g. the deep link to the 1:1 chat."""
    body: list[Element] = [text_block(title, size="Medium", weight="Bolder")] if title else []
    body += [text_block(line) for line in lines]
    if footnote:
        body.append(text_block(footnote, is_subtle=True, size="Small"))
    actions: list[Action] = [open_url(*link)] if link else []
    return adaptive_card(body, actions=actions)
