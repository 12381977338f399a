"""A question with one button per answer. Each button types its answer, so typing works just as well."""

from __future__ import annotations

from dataclasses import dataclass

from cards.elements import Card, adaptive_card, im_back, text_block


@dataclass(frozen=True, slots=True)
class Choice:
    label: str
    command: str


def choice_card(prompt: str, hint: str, choices: list[Choice], *, preface: list[str] | None = None) -> Card:
    body = [text_block(line) for line in preface or []]
    body.append(text_block(prompt, weight="Bolder"))
    if hint:
        body.append(text_block(hint, is_subtle=True))
    return adaptive_card(body=body, actions=[im_back(choice.label, choice.command) for choice in choices])
