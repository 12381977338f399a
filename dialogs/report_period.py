"""Which days a directors' report covers: a month, a term, or a range someone typed ("2026-09..2026-11").

Days are UK days (Europe/London), so a case raised at 00:30 BST on 1 October counts in October. Terms come from
configuration (SAFESPACE_REPORT_TERMS), by default the further-education year's three terms: autumn from
September, spring from January, summer from April (to the end of August, so every day falls in a term).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo

UK: Final = ZoneInfo("Europe/London")
DEFAULT_TERMS: Final = "autumn=09-01..12-31,spring=01-01..03-31,summer=04-01..08-31"
MAX_DAYS: Final = 3660  # ten years: anything longer is a typing mistake


class PeriodError(ValueError):
    """Text that names no period we can report on; the message says what would work."""


@dataclass(frozen=True, slots=True)
class Term:
    name: str
    start: tuple[int, int]  # (month, day)
    end: tuple[int, int]  # inclusive

    def containing(self, day: dt.date) -> tuple[dt.date, dt.date] | None:
        """This term's dates in the academic year around `day`, if `day` falls in it."""
        for year in (day.year - 1, day.year):
            first = dt.date(year, *self.start)
            last_year = year + 1 if self.end < self.start else year
            last = dt.date(last_year, *self.end)
            if first <= day <= last:
                return first, last
        return None


@dataclass(frozen=True, slots=True)
class ReportPeriod:
    label: str
    first_day: dt.date
    last_day: dt.date  # inclusive

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """[start, end) in UTC: midnight UK time at the start of the first day and after the last."""
        start = dt.datetime.combine(self.first_day, dt.time(), tzinfo=UK)
        end = dt.datetime.combine(self.last_day + dt.timedelta(days=1), dt.time(), tzinfo=UK)
        return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def parse_terms(spec: str) -> tuple[Term, ...]:
    """ "autumn=09-01..12-31,spring=01-01..03-31,..." -> terms; raises ValueError naming the bad part."""
    terms: list[Term] = []
    for part in (p.strip() for p in spec.split(",")):
        match = re.fullmatch(r"([a-z]+)\s*=\s*(\d{2})-(\d{2})\s*\.\.\s*(\d{2})-(\d{2})", part.lower())
        if match is None:
            raise ValueError(f"term {part!r} is not like autumn=09-01..12-31")
        name, m1, d1, m2, d2 = match.groups()
        start, end = (int(m1), int(d1)), (int(m2), int(d2))
        for month, day in (start, end):
            dt.date(2024, month, day)  # a leap year, so 02-29 is allowed; raises ValueError for 13-01 or 02-30
        terms.append(Term(name=name, start=start, end=end))
    if not terms:
        raise ValueError("no terms given")
    return tuple(terms)


def month_period(year: int, month: int) -> ReportPeriod:
    first = dt.date(year, month, 1)
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return ReportPeriod(label=f"{first:%B %Y}", first_day=first, last_day=following - dt.timedelta(days=1))


def between(first: dt.date, last: dt.date) -> ReportPeriod:
    if last < first:
        raise PeriodError(f"{last:%Y-%m-%d} is before {first:%Y-%m-%d}: give the earlier date first")
    if (last - first).days > MAX_DAYS:
        raise PeriodError("that is more than ten years: give a shorter period")
    if first.day == 1 and (last + dt.timedelta(days=1)).day == 1:
        label = (
            f"{first:%B %Y}"
            if (first.year, first.month) == (last.year, last.month)
            else f"{first:%B %Y} to {last:%B %Y}"
        )
    else:
        label = f"{first.day} {first:%B %Y} to {last.day} {last:%B %Y}"
    return ReportPeriod(label=label, first_day=first, last_day=last)


def _term_period(terms: tuple[Term, ...], day: dt.date) -> ReportPeriod:
    for term in terms:
        found = term.containing(day)
        if found is not None:
            first, last = found
            label = f"{term.name.capitalize()} term {first.year}" + (f"/{last:%y}" if last.year != first.year else "")
            return ReportPeriod(label=label, first_day=first, last_day=last)
    raise PeriodError(f"{day:%d %B %Y} is in none of the configured terms")


def _date(text: str, *, end: bool) -> dt.date:
    try:
        if re.fullmatch(r"\d{4}-\d{2}", text):
            year, month = map(int, text.split("-"))
            return month_period(year, month).last_day if end else dt.date(year, month, 1)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise PeriodError(f"{text!r} is not a date like 2026-09 or 2026-09-15") from None


_RANGE = re.compile(r"(\d{4}-\d{2}(?:-\d{2})?)\s*(?:\.\.|to|–|—)\s*(\d{4}-\d{2}(?:-\d{2})?)")


def parse_period(text: str | None, *, today: dt.date, terms: tuple[Term, ...]) -> ReportPeriod:
    """What follows "report": nothing or "month" (this month), "last month", "term", "last term",
    "2026-09", "2026-09..2026-11" or "2026-09-01..2026-10-15"."""
    said = re.sub(r"\s+", " ", (text or "").strip().lower())
    if said in ("", "month", "this month"):
        return month_period(today.year, today.month)
    if said == "last month":
        previous = today.replace(day=1) - dt.timedelta(days=1)
        return month_period(previous.year, previous.month)
    if said in ("term", "this term"):
        return _term_period(terms, today)
    if said in ("last term", "previous term"):
        current = _term_period(terms, today)
        return _term_period(terms, current.first_day - dt.timedelta(days=1))
    if match := _RANGE.fullmatch(said):
        return between(_date(match[1], end=False), _date(match[2], end=True))
    if re.fullmatch(r"\d{4}-\d{2}(?:-\d{2})?", said):
        return between(_date(said, end=False), _date(said, end=True))
    raise PeriodError(
        'I can report on "this month", "last month", "term", "last term", a month such as 2026-09, '
        "or a range such as 2026-09..2026-11"
    )
