"""Cards for the self-paced British values quiz."""

from __future__ import annotations

from cards.elements import Card, adaptive_card, im_back, text_block
from cards.escape import escape_markdown

LETTERS = "ABCDEF"


def question_card(heading: str, stem: str, options: list[str], hint: str) -> Card:
    body = [
        text_block(heading, is_subtle=True, size="Small"),
        text_block(escape_markdown(stem), weight="Bolder", size="Medium"),
    ]
    body += [text_block(f"{LETTERS[i]}) {escape_markdown(option)}") for i, option in enumerate(options)]
    body.append(text_block(hint, is_subtle=True))
    return adaptive_card(body=body, actions=[im_back(LETTERS[i], LETTERS[i]) for i in range(len(options))])
