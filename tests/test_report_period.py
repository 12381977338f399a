"""Which days a directors' report covers (dialogs/report_period.py): months, terms and typed ranges, in UK days."""

from __future__ import annotations

import datetime as dt

import pytest

from dialogs.report_period import DEFAULT_TERMS, PeriodError, parse_period, parse_terms

TERMS = parse_terms(DEFAULT_TERMS)
TODAY = dt.date(2026, 12, 3)


def days(text: str | None, today: dt.date = TODAY) -> tuple[dt.date, dt.date, str]:
    period = parse_period(text, today=today, terms=TERMS)
    return period.first_day, period.last_day, period.label


def test_months_terms_and_ranges() -> None:
    assert days("") == (dt.date(2026, 12, 1), dt.date(2026, 12, 31), "December 2026")
    assert days("last month")[:2] == (dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    assert days("term") == (dt.date(2026, 9, 1), dt.date(2026, 12, 31), "Autumn term 2026")
    assert days("last term", dt.date(2027, 2, 10))[:2] == (dt.date(2026, 9, 1), dt.date(2026, 12, 31))
    assert days("term", dt.date(2027, 5, 1))[:2] == (dt.date(2027, 4, 1), dt.date(2027, 8, 31))
    assert days("2026-09..2026-11") == (dt.date(2026, 9, 1), dt.date(2026, 11, 30), "September 2026 to November 2026")
    assert days("2026-02")[:2] == (dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    assert days("2026-09-15 to 2026-10-02")[:2] == (dt.date(2026, 9, 15), dt.date(2026, 10, 2))


def test_bounds_are_uk_midnights() -> None:
    start, end = parse_period("2026-10", today=TODAY, terms=TERMS).bounds()
    assert start == dt.datetime(2026, 9, 30, 23, 0, tzinfo=dt.UTC)  # BST
    assert end == dt.datetime(2026, 11, 1, 0, 0, tzinfo=dt.UTC)  # GMT


@pytest.mark.parametrize("text", ["2026-13", "2026-11..2026-09", "banana", "2026-09..2040-01", "2026-02-30"])
def test_nonsense_is_refused(text: str) -> None:
    with pytest.raises(PeriodError):
        parse_period(text, today=TODAY, terms=TERMS)


def test_terms_configuration_is_checked() -> None:
    with pytest.raises(ValueError, match="autumn=09-01"):
        parse_terms("autumn=september")
    with pytest.raises(ValueError):
        parse_terms("autumn=13-01..12-31")
    winter = parse_terms("winter=11-01..02-28")  # across the new year
    assert parse_period("term", today=dt.date(2027, 1, 15), terms=winter).first_day == dt.date(2026, 11, 1)
