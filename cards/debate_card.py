"""The debate poll card: a motion, anonymous For / Against / Undecided buttons, and counts, never names.

Round 1 is the vote before the debate. When the trainer presses "Vote again", round 2 opens and the card shows the
first round's counts beside the second's, and the shift between them. Every button carries the debate and the
round, so a press on a round that has ended is refused by the bot rather than counted in the wrong round.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from cards.elements import Card, Element, adaptive_card, execute, text_block
from cards.escape import escape_markdown
from cards.verbs import Verb
from content.texts import Texts

CHOICES: Final = ("for", "against", "undecided")


def _t(texts: Texts, key: str, **values: object) -> str:
    return texts.get(f"voice.debates.card.{key}", **values)


@dataclass(frozen=True, slots=True)
class DebateView:
    debate_id: int
    motion: str  # as the trainer typed it: escaped here
    value_label: str | None
    round: int
    ended: bool
    before: Mapping[str, int]
    after: Mapping[str, int] | None  # None until "Vote again"


def percent(part: int, whole: int) -> int:
    return round(100 * part / whole) if whole else 0


def shift_text(before: Mapping[str, int], after: Mapping[str, int], choice: str) -> str:
    """The change in a choice's share of the vote, in percentage points: "+12", "-5", "0"."""
    change = percent(after.get(choice, 0), sum(after.values())) - percent(before.get(choice, 0), sum(before.values()))
    return f"{change:+d} pts" if change else "0 pts"


def _column(text: str, *, bold: bool = False, width: str = "stretch") -> Element:
    return {"type": "Column", "width": width, "items": [text_block(text, weight="Bolder" if bold else None)]}


def _row(cells: list[str], *, bold: bool = False) -> Element:
    return {"type": "ColumnSet", "columns": [_column(c, bold=bold) for c in cells], "spacing": "Small"}


def debate_card(view: DebateView, texts: Texts) -> Card:
    body: list[Element] = [
        text_block(_t(texts, "title"), size="Small", weight="Bolder", is_subtle=True),
        text_block(escape_markdown(view.motion), size="Large", weight="Bolder"),
        text_block(
            _t(texts, "value", value=view.value_label) if view.value_label else _t(texts, "untagged"),
            size="Small",
            is_subtle=True,
        ),
    ]
    if view.ended:
        body.append(text_block(_t(texts, "ended")))
    else:
        body.append(text_block(_t(texts, "round_before" if view.round == 1 else "round_after")))
    labels = {choice: _t(texts, choice) for choice in CHOICES}
    if view.after is None:
        body.append(_row(["", _t(texts, "votes", count=sum(view.before.values()))], bold=True))
        body += [_row([labels[c], str(view.before.get(c, 0))]) for c in CHOICES]
    else:
        body.append(_row(["", _t(texts, "before"), _t(texts, "after"), _t(texts, "shift")], bold=True))
        for choice in CHOICES:
            body.append(
                _row(
                    [
                        labels[choice],
                        str(view.before.get(choice, 0)),
                        str(view.after.get(choice, 0)),
                        shift_text(view.before, view.after, choice),
                    ]
                )
            )
        body.append(
            _row(
                [
                    "",
                    _t(texts, "votes", count=sum(view.before.values())),
                    _t(texts, "votes", count=sum(view.after.values())),
                    "",
                ]
            )
        )
    actions = []
    if not view.ended:
        data = {"debate_id": view.debate_id, "round": view.round}
        body.append(
            {
                "type": "ActionSet",
                "actions": [execute(labels[c], Verb.DEBATE_VOTE, {**data, "choice": c}) for c in CHOICES],
            }
        )
        body.append(text_block(_t(texts, "trainer_controls"), size="Small", is_subtle=True))
        if view.round == 1:
            actions.append(execute(_t(texts, "vote_again"), Verb.DEBATE_VOTE_AGAIN, data))
        actions.append(execute(_t(texts, "end"), Verb.DEBATE_END, data))
    return adaptive_card(body, actions)
