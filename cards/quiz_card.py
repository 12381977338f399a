"""Cards for the self-paced British values quiz."""

from __future__ import annotations

from dataclasses import dataclass

from cards.elements import Card, adaptive_card, im_back, text_block
from cards.escape import escape_markdown

LETTERS = "ABCDEF"


@dataclass(frozen=True, slots=True)
class Choice:
    label: str
    command: str


def choice_card(prompt: str, hint: str, choices: list[Choice]) -> Card:
    """A question with one button per choice; each button types its command, so typing works too."""
    return adaptive_card(
        body=[text_block(prompt, weight="Bolder"), text_block(hint, is_subtle=True)],
        actions=[im_back(choice.label, choice.command) for choice in choices],
    )


def question_card(heading: str, stem: str, options: list[str], hint: str) -> Card:
    body = [
        text_block(heading, is_subtle=True, size="Small"),
        text_block(escape_markdown(stem), weight="Bolder", size="Medium"),
    ]
    body += [text_block(f"{LETTERS[i]}) {escape_markdown(option)}") for i, option in enumerate(options)]
    body.append(text_block(hint, is_subtle=True))
    return adaptive_card(body=body, actions=[im_back(LETTERS[i], LETTERS[i]) for i in range(len(options))])
