"""A question with one button per answer. Each button types its answer, so typing works just as well."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from cards.elements import Card, Element, adaptive_card, im_back, text_block

# Teams drops actions past six without a word, and the renderer's default host config (which the card checks use)
# allows five: a longer list of answers goes in rows of ROW instead.
ROW: Final = 3
MAX_IN_ONE_ROW: Final = 5


@dataclass(frozen=True, slots=True)
class Choice:
    label: str
    command: str


def choice_card(prompt: str, hint: str, choices: list[Choice], *, preface: list[str] | None = None) -> Card:
    body = [text_block(line) for line in preface or []]
    body.append(text_block(prompt, weight="Bolder"))
    if hint:
        body.append(text_block(hint, is_subtle=True))
    actions = [im_back(choice.label, choice.command) for choice in choices]
    if len(actions) <= MAX_IN_ONE_ROW:
        return adaptive_card(body=body, actions=actions)
    rows: list[Element] = [
        {"type": "ActionSet", "actions": actions[start : start + ROW]} for start in range(0, len(actions), ROW)
    ]
    return adaptive_card(body=body + rows)
