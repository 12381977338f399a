"""What a director receives, in their own 1:1 chat, when a Channel referral waits for their confirmation.

Policy 4.5: the DSO decides on a Channel referral together with a director. The card says which case, who
proposed it and where the case card is, and carries the confirm button itself: a director can act from here even
when the case card was only ever sent to the DSOs' 1:1 chats. It holds no words from the report, only the
reference, the category and the proposer, like every other message outside the case card.
"""

from __future__ import annotations

from cards.elements import Action, Card, adaptive_card, execute, open_url, text_block
from cards.escape import escape_markdown
from cards.verbs import Verb
from content.texts import Texts

# Marks a press made on this card rather than on the case card, so the answer replaces this card in kind.
DIRECTOR_MESSAGE = "director_message"


def referral_waiting_card(
    texts: Texts,
    *,
    case_id: int,
    version: int,
    reference: str,
    category: str,
    proposed_by: str,
    link: str | None,
) -> Card:
    """`version` is the case's after the proposal, so a press after any later change is refused as stale."""
    body = [
        text_block(
            texts.get("cards.referral.title", reference=escape_markdown(reference)), size="Medium", weight="Bolder"
        ),
        text_block(
            texts.get(
                "cards.referral.text",
                who=escape_markdown(proposed_by),
                reference=escape_markdown(reference),
                category=texts.get(f"cards.categories.{category}")
                if texts.has(f"cards.categories.{category}")
                else escape_markdown(category),
            )
        ),
        text_block(texts.get("cards.referral.where" if link else "cards.referral.no_link"), is_subtle=True),
    ]
    actions: list[Action] = []
    if link:
        actions.append(open_url(texts.get("cards.referral.open"), link))
    actions.append(
        execute(
            texts.get("cards.referral.confirm"),
            Verb.CASE_CONFIRM_DECISION,
            {"case_id": case_id, "version": version, "via": DIRECTOR_MESSAGE},
            style="positive",
        )
    )
    return adaptive_card(body, actions)


def referral_confirmed_card(texts: Texts, *, reference: str) -> Card:
    """What the director's message becomes once they have confirmed from it."""
    return adaptive_card(
        [
            text_block(
                texts.get("cards.referral.confirmed", reference=escape_markdown(reference)),
                weight="Bolder",
                color="Good",
            )
        ]
    )
