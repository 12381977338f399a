"""The Single Central Register's training columns: who has done which course, when it runs out, and whether each
person is current, due soon or overdue; written as CSV or XLSX.

Pure functions over the stored records and the staff population, so the command line, the weekly SharePoint upload
and the DSO's compliance card all count the same way.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from storage.training import TrainingRecord


class CourseTerms(Protocol):
    """What the register needs of a course (content.training.Course satisfies it)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def refresher_months(self) -> int: ...


class Standing(StrEnum):
    CURRENT = "current"
    DUE_SOON = "due soon"
    OVERDUE = "overdue"
    NOT_RECORDED = "not recorded"


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later; the 31st becomes the month's last day (29 Feb + 12 months is 28 Feb)."""
    total = day.month - 1 + months
    year, month = day.year + total // 12, total % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True, slots=True)
class RegisterRow:
    person_aad_id: str
    name: str
    course_id: str
    course: str
    standing: Standing
    completed_on: dt.date | None = None
    expires_on: dt.date | None = None
    provider: str = ""
    certificate_url: str = ""
    recorded_by: str = ""
    recorded_at: dt.datetime | None = None

    @property
    def counts_as_current(self) -> bool:
        return self.standing in (Standing.CURRENT, Standing.DUE_SOON)


def standing(expires_on: dt.date, today: dt.date, due_soon_days: int) -> Standing:
    """Expired on the day itself: a course that ran out today must be redone today."""
    if expires_on <= today:
        return Standing.OVERDUE
    if (expires_on - today).days <= due_soon_days:
        return Standing.DUE_SOON
    return Standing.CURRENT


def latest(records: Iterable[TrainingRecord]) -> dict[tuple[str, str], TrainingRecord]:
    """The latest completion of each (person, course); a later recording of the same day wins."""
    found: dict[tuple[str, str], TrainingRecord] = {}
    for record in records:
        key = (record.person_aad_id, record.course)
        held = found.get(key)
        if held is None or (record.completed_on, record.id or 0) > (held.completed_on, held.id or 0):
            found[key] = record
    return found


def register_rows(
    *,
    records: Iterable[TrainingRecord],
    population: Mapping[str, str | None],
    courses: Sequence[CourseTerms],
    today: dt.date,
    due_soon_days: int,
) -> list[RegisterRow]:
    """One row per person in `population` (Entra object id -> name) per course, sorted by name.

    Someone with records who is no longer in the population (they left) is still listed with what they did: the
    register is a record, not a roll call.
    """
    latest_records = latest(records)
    people = {aad.lower(): name for aad, name in population.items()}
    for person_aad_id, _ in latest_records:
        people.setdefault(person_aad_id, None)
    names = {aad: name or _record_name(latest_records, aad) or aad for aad, name in people.items()}
    rows: list[RegisterRow] = []
    for aad in sorted(people, key=lambda a: (names[a].lower(), a)):
        for course in courses:
            record = latest_records.get((aad, course.id))
            if record is None:
                rows.append(
                    RegisterRow(
                        person_aad_id=aad,
                        name=names[aad],
                        course_id=course.id,
                        course=course.name,
                        standing=Standing.NOT_RECORDED,
                    )
                )
                continue
            expires = add_months(record.completed_on, course.refresher_months)
            rows.append(
                RegisterRow(
                    person_aad_id=aad,
                    name=names[aad],
                    course_id=course.id,
                    course=course.name,
                    standing=standing(expires, today, due_soon_days),
                    completed_on=record.completed_on,
                    expires_on=expires,
                    provider=record.provider,
                    certificate_url=record.certificate_url or "",
                    recorded_by=record.recorded_by_name or record.recorded_by_aad_id or "",
                    recorded_at=record.recorded_at,
                )
            )
    return rows


def _record_name(latest_records: Mapping[tuple[str, str], TrainingRecord], aad: str) -> str | None:
    return next((r.person_name for (person, _), r in latest_records.items() if person == aad and r.person_name), None)


@dataclass(frozen=True, slots=True)
class CourseCompliance:
    course_id: str
    course: str
    people: int
    current: int

    @property
    def percent(self) -> int:
        """Whole per cent, rounded down: 99.6% current is not everyone."""
        return (100 * self.current) // self.people if self.people else 100


def compliance(rows: Sequence[RegisterRow], courses: Sequence[CourseTerms]) -> list[CourseCompliance]:
    return [
        CourseCompliance(
            course_id=course.id,
            course=course.name,
            people=sum(1 for row in rows if row.course_id == course.id),
            current=sum(1 for row in rows if row.course_id == course.id and row.counts_as_current),
        )
        for course in courses
    ]


# Files ---------------------------------------------------------------------------------------------------

HEADER = (
    "Name",
    "Entra object id",
    "Course",
    "Completed",
    "Expires",
    "Status",
    "Provider",
    "Certificate",
    "Recorded by",
    "Recorded at (UTC)",
)


def _cells(row: RegisterRow) -> list[str | dt.date | None]:
    return [
        row.name,
        row.person_aad_id,
        row.course,
        row.completed_on,
        row.expires_on,
        row.standing.value,
        row.provider,
        row.certificate_url,
        row.recorded_by,
        row.recorded_at.strftime("%Y-%m-%d %H:%M") if row.recorded_at else None,
    ]


def _safe(value: str) -> str:
    # A cell starting with = + - @ (or a tab/CR) is a formula to Excel: typed text must never run as one.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def to_csv(rows: Sequence[RegisterRow]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for row in rows:
        writer.writerow(
            [
                "" if cell is None else cell.isoformat() if isinstance(cell, dt.date) else _safe(cell)
                for cell in _cells(row)
            ]
        )
    # With a byte-order mark, Excel opens UTF-8 names (Zoë, Siân) correctly.
    return out.getvalue().encode("utf-8-sig")


def to_xlsx(rows: Sequence[RegisterRow]) -> bytes:
    from openpyxl import Workbook  # imported here: only the export and the weekly upload need it

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Training"
    sheet.append(list(HEADER))
    for row in rows:
        sheet.append([_safe(cell) if isinstance(cell, str) else cell for cell in _cells(row)])
    for column in ("D", "E"):
        for cell in sheet[column][1:]:
            cell.number_format = "yyyy-mm-dd"
    sheet.freeze_panes = "A2"
    for letter, width in zip("ABCDEFGHIJ", (28, 38, 22, 12, 12, 13, 28, 40, 24, 18), strict=True):
        sheet.column_dimensions[letter].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def register_file(rows: Sequence[RegisterRow], file_format: str) -> bytes:
    if file_format == "csv":
        return to_csv(rows)
    if file_format == "xlsx":
        return to_xlsx(rows)
    raise ValueError(f"unknown register format {file_format!r}: csv or xlsx")
