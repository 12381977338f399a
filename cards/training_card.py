"""Staff Prevent and safeguarding training: the form to record a completion, a person's own status, and the
compliance card for the DSO and directors.

`parse_training_form` returns errors as wording keys (training.errors.*), so the wording stays in
content/en.training.yaml; the form is sent back with what was typed kept and each problem under its field.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from cards.elements import Card, Element, adaptive_card, execute, im_back, text_block
from cards.escape import escape_markdown, truncate
from cards.verbs import Verb
from content.texts import Texts
from content.training import TrainingCourses
from storage.training_register import CourseCompliance, RegisterRow, Standing

FIELD_PERSON: Final = "tr_person"
FIELD_COURSE: Final = "tr_course"
FIELD_PROVIDER: Final = "tr_provider"
FIELD_DATE: Final = "tr_date"
FIELD_CERTIFICATE: Final = "tr_certificate"

PROVIDER_MAX: Final = 200
CERTIFICATE_MAX: Final = 2000
EARLIEST: Final = dt.date(2000, 1, 1)
# How many names the compliance card lists under each heading before "and N more" (the register has them all).
LIST_LIMIT: Final = 25

ERROR_REQUIRED: Final = "training.errors.required"
ERROR_CHOOSE: Final = "training.errors.choose"
ERROR_TOO_LONG: Final = "training.errors.too_long"
ERROR_BAD_DATE: Final = "training.errors.bad_date"
ERROR_FUTURE_DATE: Final = "training.errors.future_date"
ERROR_TOO_OLD: Final = "training.errors.too_old"
ERROR_BAD_URL: Final = "training.errors.bad_url"

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True, slots=True)
class TrainingEntry:
    person_aad_id: str | None  # None: the person pressing the button
    course_id: str
    provider: str
    completed_on: dt.date
    certificate_url: str | None


def check_date(value: str, today: dt.date) -> tuple[dt.date | None, str | None]:
    """A completion date from the card (YYYY-MM-DD): (date, None), or (None, the error's wording key)."""
    if not _DATE.fullmatch(value.strip()):
        return None, ERROR_BAD_DATE
    try:
        day = dt.date.fromisoformat(value.strip())
    except ValueError:
        return None, ERROR_BAD_DATE
    if day > today:
        return None, ERROR_FUTURE_DATE
    if day < EARLIEST:
        return None, ERROR_TOO_OLD
    return day, None


def certificate_ok(value: str) -> bool:
    """An https link with a host, nothing else: the register shows it to the DSO and inspectors."""
    if any(ch.isspace() for ch in value) or len(value) > CERTIFICATE_MAX:
        return False
    parts = urlsplit(value)
    return parts.scheme == "https" and bool(parts.hostname)


def parse_training_form(
    data: Mapping[str, Any], courses: TrainingCourses, *, today: dt.date, people: Mapping[str, str] | None
) -> tuple[TrainingEntry | None, dict[str, str]]:
    """The submitted form: (entry, {}) or (None, {field: error key}). `people` is the DSO's picker, else None."""
    values = {k: v.strip() for k, v in data.items() if isinstance(v, str)}
    errors: dict[str, str] = {}
    person: str | None = None
    if people is not None:
        person = values.get(FIELD_PERSON, "").lower()
        if person not in people:
            errors[FIELD_PERSON] = ERROR_CHOOSE
    course = courses.get(values.get(FIELD_COURSE, ""))
    if course is None:
        errors[FIELD_COURSE] = ERROR_CHOOSE
    provider = values.get(FIELD_PROVIDER, "")
    if not provider:
        errors[FIELD_PROVIDER] = ERROR_REQUIRED
    elif len(provider) > PROVIDER_MAX:
        errors[FIELD_PROVIDER] = ERROR_TOO_LONG
    completed_on, date_error = check_date(values.get(FIELD_DATE, ""), today)
    if not values.get(FIELD_DATE):
        errors[FIELD_DATE] = ERROR_REQUIRED
    elif date_error is not None:
        errors[FIELD_DATE] = date_error
    certificate = values.get(FIELD_CERTIFICATE, "")
    if certificate and not certificate_ok(certificate):
        errors[FIELD_CERTIFICATE] = ERROR_BAD_URL
    if errors or course is None or completed_on is None:
        return None, errors
    return TrainingEntry(
        person_aad_id=person,
        course_id=course.id,
        provider=provider,
        completed_on=completed_on,
        certificate_url=certificate or None,
    ), {}


def _error(texts: Texts, errors: Mapping[str, str], field: str) -> list[Element]:
    if field not in errors:
        return []
    return [{**text_block(texts.get(errors[field]), color="Attention", size="Small"), "spacing": "None"}]


def training_form_card(
    texts: Texts,
    courses: TrainingCourses,
    *,
    today: dt.date,
    people: Sequence[tuple[str, str]] | None = None,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
) -> Card:
    """The form. With `people` (the DSO's (object id, name) list) it records for someone else."""
    values = values or {}
    errors = errors or {}
    body: list[Element] = [
        text_block(texts.get("training.form.title"), size="Medium", weight="Bolder"),
        text_block(texts.get("training.form.intro"), is_subtle=True),
    ]
    if errors:
        body.append(text_block(texts.get("training.form.fix"), weight="Bolder", color="Attention"))
    if people is not None:
        picker: Element = {
            "type": "Input.ChoiceSet",
            "id": FIELD_PERSON,
            "label": texts.get("training.form.person"),
            "style": "filtered",
            "isRequired": True,
            "errorMessage": texts.get(ERROR_CHOOSE),
            # A choice's title is shown as typed: no markdown in an input.
            "choices": [{"title": truncate(name, 120), "value": aad} for aad, name in people],
        }
        if values.get(FIELD_PERSON) in {aad for aad, _ in people}:
            picker["value"] = values[FIELD_PERSON]
        body += [picker, *_error(texts, errors, FIELD_PERSON)]
    course_input: Element = {
        "type": "Input.ChoiceSet",
        "id": FIELD_COURSE,
        "label": texts.get("training.form.course"),
        "style": "expanded",
        "isRequired": True,
        "errorMessage": texts.get(ERROR_CHOOSE),
        "choices": [{"title": course.name, "value": course.id} for course in courses.courses],
    }
    if courses.get(values.get(FIELD_COURSE, "")) is not None:
        course_input["value"] = values[FIELD_COURSE]
    provider_input: Element = {
        "type": "Input.Text",
        "id": FIELD_PROVIDER,
        "label": texts.get("training.form.provider"),
        "placeholder": texts.get("training.form.provider_hint"),
        "maxLength": PROVIDER_MAX,
        "isRequired": True,
        "errorMessage": texts.get(ERROR_REQUIRED),
    }
    date_input: Element = {
        "type": "Input.Date",
        "id": FIELD_DATE,
        "label": texts.get("training.form.date"),
        "max": today.isoformat(),
        "isRequired": True,
        "errorMessage": texts.get(ERROR_REQUIRED),
    }
    certificate_input: Element = {
        "type": "Input.Text",
        "id": FIELD_CERTIFICATE,
        "label": texts.get("training.form.certificate"),
        "placeholder": "https://",
        "style": "Url",
        "maxLength": CERTIFICATE_MAX,
    }
    # What was typed goes back as typed: inputs show text literally.
    for element in (provider_input, certificate_input):
        if values.get(element["id"]):
            element["value"] = values[element["id"]][: element["maxLength"]]
    if values.get(FIELD_DATE) and check_date(values[FIELD_DATE], today)[1] is None:
        date_input["value"] = values[FIELD_DATE]
    body += [
        course_input,
        *_error(texts, errors, FIELD_COURSE),
        provider_input,
        *_error(texts, errors, FIELD_PROVIDER),
        date_input,
        *_error(texts, errors, FIELD_DATE),
        certificate_input,
        *_error(texts, errors, FIELD_CERTIFICATE),
    ]
    return adaptive_card(body, [execute(texts.get("training.form.submit"), Verb.TRAINING_RECORD, {}, style="positive")])


def _day(day: dt.date | None) -> str:
    return f"{day.day} {day:%b %Y}" if day is not None else ""


def _standing(texts: Texts, row: RegisterRow) -> str:
    key = {
        Standing.CURRENT: "current",
        Standing.DUE_SOON: "due_soon",
        Standing.OVERDUE: "overdue",
        Standing.NOT_RECORDED: "not_recorded",
    }[row.standing]
    return texts.get(f"training.standing.{key}", expires=_day(row.expires_on))


def recorded_card(texts: Texts, *, name: str, course: str, completed_on: dt.date, expires_on: dt.date) -> Card:
    """What replaces the form once a completion is stored."""
    return adaptive_card(
        [
            text_block(texts.get("training.recorded_card.title"), weight="Bolder", color="Good"),
            {
                "type": "FactSet",
                "facts": [
                    {"title": texts.get("training.recorded_card.person"), "value": escape_markdown(name)},
                    {"title": texts.get("training.recorded_card.course"), "value": escape_markdown(course)},
                    {"title": texts.get("training.recorded_card.completed"), "value": _day(completed_on)},
                    {"title": texts.get("training.recorded_card.expires"), "value": _day(expires_on)},
                ],
            },
        ]
    )


def status_card(texts: Texts, rows: Sequence[RegisterRow]) -> Card:
    """A member of staff's own standing per course, with a button to record another completion."""
    body: list[Element] = [text_block(texts.get("training.status.title"), size="Medium", weight="Bolder")]
    for row in rows:
        facts = [{"title": texts.get("training.status.standing"), "value": _standing(texts, row)}]
        if row.completed_on is not None:
            facts.append({"title": texts.get("training.status.completed"), "value": _day(row.completed_on)})
        if row.provider:
            facts.append({"title": texts.get("training.status.provider"), "value": escape_markdown(row.provider)})
        color = {Standing.OVERDUE: "Attention", Standing.NOT_RECORDED: "Attention", Standing.DUE_SOON: "Warning"}
        body += [
            text_block(escape_markdown(row.course), weight="Bolder", color=color.get(row.standing)),  # type: ignore[arg-type]
            {"type": "FactSet", "facts": facts, "spacing": "None"},
        ]
    return adaptive_card(
        body, [im_back(texts.get("training.status.record"), texts.get("training.status.record_command"))]
    )


def _names(texts: Texts, rows: Sequence[RegisterRow]) -> list[Element]:
    items = [
        {
            **text_block(
                texts.get(
                    "training.compliance.person_line",
                    name=escape_markdown(row.name),
                    course=escape_markdown(row.course),
                    standing=_standing(texts, row),
                ),
                size="Small",
            ),
            "spacing": "None",
        }
        for row in rows[:LIST_LIMIT]
    ]
    if len(rows) > LIST_LIMIT:
        items.append(text_block(texts.get("training.compliance.more", count=len(rows) - LIST_LIMIT), is_subtle=True))
    return items


def compliance_card(
    texts: Texts,
    *,
    courses: Sequence[CourseCompliance],
    rows: Sequence[RegisterRow],
    as_of: dt.date,
    due_soon_days: int,
) -> Card:
    """For the DSO and directors: % current per course, then who is overdue and who is due soon."""
    overdue = [r for r in rows if r.standing in (Standing.OVERDUE, Standing.NOT_RECORDED)]
    due = [r for r in rows if r.standing is Standing.DUE_SOON]
    body: list[Element] = [
        text_block(texts.get("training.compliance.title"), size="Medium", weight="Bolder"),
        text_block(texts.get("training.compliance.as_of", day=_day(as_of)), is_subtle=True, size="Small"),
        {
            "type": "FactSet",
            "facts": [
                {
                    "title": escape_markdown(course.course),
                    "value": texts.get(
                        "training.compliance.percent",
                        percent=course.percent,
                        current=course.current,
                        people=course.people,
                    ),
                }
                for course in courses
            ],
        },
        text_block(texts.get("training.compliance.overdue_heading", count=len(overdue)), weight="Bolder"),
    ]
    body += _names(texts, overdue) or [text_block(texts.get("training.compliance.nobody"), is_subtle=True)]
    body.append(
        text_block(texts.get("training.compliance.due_heading", count=len(due), days=due_soon_days), weight="Bolder")
    )
    body += _names(texts, due) or [text_block(texts.get("training.compliance.nobody"), is_subtle=True)]
    body.append(text_block(texts.get("training.compliance.export_hint"), is_subtle=True, size="Small"))
    return adaptive_card(body)
