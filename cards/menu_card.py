"""The main menu: one button per feature that exists, each also reachable by typing its command."""

from __future__ import annotations

from dataclasses import dataclass

from cards.elements import Card, adaptive_card, im_back, text_block


@dataclass(frozen=True, slots=True)
class MenuEntry:
    label: str
    command: str  # what the button "types"; the router understands it like any typed message


def menu_card(title: str, hint: str, entries: list[MenuEntry]) -> Card:
    return adaptive_card(
        body=[text_block(title, size="Medium", weight="Bolder"), text_block(hint, is_subtle=True)],
        actions=[im_back(entry.label, entry.command) for entry in entries],
    )
