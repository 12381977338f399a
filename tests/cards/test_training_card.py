"""The staff training cards (issue 13): valid in every form, and nothing typed can restyle them."""

from __future__ import annotations

import datetime as dt

import pytest

from cards.training_card import compliance_card, parse_training_form, recorded_card, status_card, training_form_card
from content.common import DEFAULT_CONTENT_DIR
from content.texts import Texts
from content.training import TrainingCourses
from storage.training import TrainingRecord
from storage.training_register import compliance, register_rows
from tests.card_validator import assert_valid_cards
from tests.cards import HOSTILE, input_by_id, shown_texts

TODAY = dt.date(2026, 12, 3)


@pytest.fixture(scope="module")
def texts() -> Texts:
    return Texts.load(DEFAULT_CONTENT_DIR)


@pytest.fixture(scope="module")
def courses() -> TrainingCourses:
    return TrainingCourses.load(DEFAULT_CONTENT_DIR)


def test_every_card_is_valid_and_hostile_text_stays_text(texts: Texts, courses: TrainingCourses) -> None:
    records = [
        TrainingRecord(id=1, person_aad_id="a", course="prevent", provider=HOSTILE, completed_on=dt.date(2024, 12, 1)),
        TrainingRecord(id=2, person_aad_id="b", course="safeguarding", provider="x", completed_on=dt.date(2026, 1, 1)),
    ]
    rows = register_rows(
        records=records, population={"a": HOSTILE, "b": "Bo"}, courses=courses.courses, today=TODAY, due_soon_days=30
    )
    people = [("a", HOSTILE), ("b", "Bo")]
    values = {"tr_person": "b", "tr_course": "prevent", "tr_provider": HOSTILE, "tr_date": "2999-01-01"}
    _, errors = parse_training_form(values, courses, today=TODAY, people=dict(people))
    cards = [
        training_form_card(texts, courses, today=TODAY),
        training_form_card(texts, courses, today=TODAY, people=people, values=values, errors=errors),
        status_card(texts, [r for r in rows if r.person_aad_id == "a"]),
        compliance_card(texts, courses=compliance(rows, courses.courses), rows=rows, as_of=TODAY, due_soon_days=30),
        recorded_card(texts, name=HOSTILE, course="Prevent", completed_on=TODAY, expires_on=TODAY),
    ]
    assert_valid_cards(*cards)
    for card in cards[2:]:
        for text in shown_texts(card):
            assert "**x**" not in text and "[link](" not in text and "${x}" not in text
    # Typed values go back into inputs as typed (inputs do not render markdown).
    assert input_by_id(cards[1], "tr_provider")["value"] == HOSTILE[:200]
    assert "tr_date" in errors and "value" not in input_by_id(cards[1], "tr_date")


@pytest.mark.parametrize(
    ("changes", "field", "error"),
    [
        ({"tr_course": "knitting"}, "tr_course", "training.errors.choose"),
        ({"tr_provider": " "}, "tr_provider", "training.errors.required"),
        ({"tr_provider": "x" * 201}, "tr_provider", "training.errors.too_long"),
        ({"tr_date": "12/09/2026"}, "tr_date", "training.errors.bad_date"),
        ({"tr_date": "2026-02-30"}, "tr_date", "training.errors.bad_date"),
        ({"tr_date": "2026-12-04"}, "tr_date", "training.errors.future_date"),
        ({"tr_date": "1999-12-31"}, "tr_date", "training.errors.too_old"),
        ({"tr_certificate": "http://certs.example/1"}, "tr_certificate", "training.errors.bad_url"),
        ({"tr_certificate": "javascript:alert(1)"}, "tr_certificate", "training.errors.bad_url"),
        ({"tr_certificate": "https:///nohost"}, "tr_certificate", "training.errors.bad_url"),
    ],
)
def test_the_form_is_checked_again_on_the_server(
    courses: TrainingCourses, changes: dict[str, str], field: str, error: str
) -> None:
    good = {"tr_course": "prevent", "tr_provider": "Home Office", "tr_date": "2026-12-03", "tr_certificate": ""}
    entry, errors = parse_training_form(good, courses, today=TODAY, people=None)
    assert entry is not None and errors == {} and entry.certificate_url is None
    entry, errors = parse_training_form({**good, **changes}, courses, today=TODAY, people=None)
    assert entry is None and errors == {field: error}
