"""Tests for the Adaptive Card validation harness (tests/card_validator.py + tests/cardcheck/validate.js)."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.card_validator import CardResult, assert_valid_cards, ensure_node_modules, validate_cards

Card = dict[str, Any]


def good_card() -> Card:
    """A 1.5 card using every feature the bot relies on; each bad card below breaks exactly one thing."""
    return {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.5",
        "msteams": {"width": "Full"},
        "body": [
            {"type": "TextBlock", "text": "How are you feeling?", "wrap": True, "weight": "Bolder"},
            {"type": "FactSet", "facts": [{"title": "Helpline", "value": "0800 000 000"}]},
            {
                "type": "ColumnSet",
                "columns": [
                    {"type": "Column", "width": "auto", "items": [{"type": "TextBlock", "text": "Left"}]},
                    {"type": "Column", "width": "stretch", "items": [{"type": "TextBlock", "text": "Right"}]},
                ],
            },
            {"type": "Input.Text", "id": "note", "label": "Anything to add?", "isMultiline": True},
            {
                "type": "Input.ChoiceSet",
                "id": "mood",
                "label": "Mood",
                "choices": [{"title": "Good", "value": "good"}, {"title": "Low", "value": "low"}],
            },
            {
                "type": "ActionSet",
                "actions": [
                    {"type": "Action.Execute", "title": "Check in", "verb": "checkIn", "data": {"step": 1}},
                ],
            },
        ],
        "actions": [
            {"type": "Action.Submit", "title": "Send", "data": {"action": "send"}},
            {"type": "Action.OpenUrl", "title": "Get help", "url": "https://example.org/help"},
        ],
    }


def _unknown_element(card: Card) -> None:
    card["body"].append({"type": "Input.Slider", "id": "s"})


def _input_without_id(card: Card) -> None:
    del card["body"][3]["id"]


def _duplicate_input_ids(card: Card) -> None:
    card["body"][4]["id"] = "note"


def _choice_without_value(card: Card) -> None:
    del card["body"][4]["choices"][1]["value"]


def _unknown_action(card: Card) -> None:
    card["actions"].append({"type": "Action.Launch", "title": "Go"})


def _version_1_6(card: Card) -> None:
    card["version"] = "1.6"


def _execute_without_verb(card: Card) -> None:
    del card["body"][5]["actions"][0]["verb"]


# (breakage, substring the errors must contain)
BAD_CARDS: dict[str, tuple[Callable[[Card], None], str]] = {
    "unknown element type": (_unknown_element, 'Unknown element type "Input.Slider"'),
    "Input.Text without id": (_input_without_id, "All inputs must have a unique Id"),
    "duplicate input ids": (_duplicate_input_ids, 'Duplicate Id "note"'),
    "choice without value": (_choice_without_value, "must have their title and value properties set"),
    "unknown action type": (_unknown_action, 'Unknown action type "Action.Launch"'),
    "version 1.6": (_version_1_6, '"version" 1.6 is above 1.5'),
    "Action.Execute without verb": (_execute_without_verb, "Action.Execute at $.body[5].actions[0] needs"),
}


def _bad(name: str) -> Card:
    card = good_card()
    BAD_CARDS[name][0](card)
    return card


def test_node_modules_installed() -> None:
    assert (ensure_node_modules() / "adaptivecards" / "dist" / "adaptivecards.js").is_file()


def test_good_card_passes() -> None:
    [result] = validate_cards([good_card()])
    assert result == CardResult(ok=True, errors=(), warnings=())
    assert_valid_cards(good_card())


@pytest.mark.parametrize("name", list(BAD_CARDS))
def test_bad_card_fails_with_useful_message(name: str) -> None:
    [result] = validate_cards([_bad(name)])
    assert not result.ok
    expected = BAD_CARDS[name][1]
    assert any(expected in error for error in result.errors), result.errors


def test_batch_keeps_order_and_is_fast() -> None:
    names = list(BAD_CARDS)
    cards = [good_card() if i % 2 == 0 else _bad(names[i // 2 % len(names)]) for i in range(20)]
    ensure_node_modules()
    start = time.perf_counter()
    results = validate_cards(cards)
    elapsed = time.perf_counter() - start
    assert [r.ok for r in results] == [i % 2 == 0 for i in range(20)]
    assert elapsed < 10, f"validating 20 cards took {elapsed:.2f}s"


def test_assert_valid_cards_names_card_index_and_errors() -> None:
    with pytest.raises(AssertionError) as excinfo:
        assert_valid_cards(good_card(), _bad("duplicate input ids"), good_card(), _bad("unknown action type"))
    message = str(excinfo.value)
    assert "2 of 4" in message
    assert "card[1]:" in message and 'Duplicate Id "note"' in message
    assert "card[3]:" in message and 'Unknown action type "Action.Launch"' in message
    assert "card[0]" not in message and "card[2]" not in message


def test_version_missing_or_malformed_is_an_error() -> None:
    missing, numeric = good_card(), good_card()
    del missing["version"]
    numeric["version"] = 1.5
    for card, expected in ((missing, '"version" is missing'), (numeric, 'must be a string like "1.5"')):
        [result] = validate_cards([card])
        assert not result.ok
        assert any(expected in error for error in result.errors), result.errors


def test_older_version_is_fine_but_newer_features_are_not() -> None:
    old = good_card()
    old["version"] = "1.4"  # everything in the good card exists in 1.4 (Action.Execute is 1.4, labels 1.3)
    assert validate_cards([old])[0].ok
    too_new = copy.deepcopy(old)
    too_new["body"].append({"type": "Table", "columns": [{"width": 1}], "rows": []})
    [result] = validate_cards([too_new])
    assert any('"Table" needs Adaptive Cards 1.5' in error for error in result.errors), result.errors


def test_required_input_without_label_is_only_a_warning() -> None:
    card = good_card()
    card["body"].append({"type": "Input.Text", "id": "required", "isRequired": True})
    [result] = validate_cards([card])
    assert result.ok, result.errors
    assert any("RequiredInputsShouldHaveLabel" in warning for warning in result.warnings)


def test_non_object_data_and_missing_data_are_fine() -> None:
    card = good_card()
    card["actions"][0]["data"] = "send"
    del card["body"][5]["actions"][0]["data"]
    assert_valid_cards(card)


def test_not_json_serialisable_card_is_reported_without_breaking_the_batch() -> None:
    bad = good_card()
    bad["body"][0]["text"] = {1, 2}
    results = validate_cards([bad, good_card()])
    assert not results[0].ok and "not JSON-serialisable" in results[0].errors[0]
    assert results[1].ok
