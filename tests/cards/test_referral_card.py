"""The director's 1:1 message when a Channel referral waits for them (issue 16, item 10)."""

from __future__ import annotations

import pytest

from cards.referral_card import DIRECTOR_MESSAGE, referral_confirmed_card, referral_waiting_card
from cards.verbs import Verb
from content.common import DEFAULT_CONTENT_DIR
from content.texts import Texts
from tests.card_validator import assert_valid_cards
from tests.cards import HOSTILE, executes, shown_texts

LINK = "https://teams.microsoft.com/l/message/19%3Acases%40thread.tacv2/1001?parentMessageId=1001"


@pytest.fixture(scope="module")
def texts() -> Texts:
    return Texts.load(DEFAULT_CONTENT_DIR)


def waiting(texts: Texts, **changes: object) -> dict:
    fields: dict = {
        "case_id": 7,
        "version": 4,
        "reference": "SS-2026-0007",
        "category": "radicalisation",
        "proposed_by": "Claire Lewis",
        "link": LINK,
    }
    fields.update(changes)
    return referral_waiting_card(texts, **fields)


def test_every_form_of_the_message_is_a_valid_card(texts: Texts) -> None:
    assert_valid_cards(
        waiting(texts),
        waiting(texts, link=None),
        waiting(texts, proposed_by=HOSTILE, category="something_new"),
        referral_confirmed_card(texts, reference="SS-2026-0007"),
    )


def test_it_links_to_the_case_card_and_carries_a_confirm_press_for_this_version(texts: Texts) -> None:
    card = waiting(texts)
    [open_card, confirm] = card["actions"]
    assert open_card == {"type": "Action.OpenUrl", "title": "Open the case card", "url": LINK}
    assert confirm["verb"] == Verb.CASE_CONFIRM_DECISION
    assert confirm["data"] == {"case_id": 7, "version": 4, "via": DIRECTOR_MESSAGE}
    shown = " ".join(shown_texts(card))
    assert "Claire Lewis" in shown and "SS\\-2026\\-0007" in shown and "Radicalisation or extremism" in shown


def test_without_a_channel_it_says_where_the_details_are(texts: Texts) -> None:
    card = waiting(texts, link=None)
    assert [a["type"] for a in card["actions"]] == ["Action.Execute"]
    assert texts.get("cards.referral.no_link") in shown_texts(card)


def test_a_proposers_name_cannot_restyle_the_message(texts: Texts) -> None:
    card = waiting(texts, proposed_by="**Boss** [x](http://evil.example)")
    assert not any("[x](" in text or "**Boss**" in text for text in shown_texts(card))
    assert len(executes(card)) == 1
