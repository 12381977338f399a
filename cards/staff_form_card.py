"""The staff "Reporting an Incident and Safeguarding Form" (Prevent policy 4.4) as one Adaptive Card.

Indicators are prompts, never a score (domain brief, section 7): each tick needs the member of staff's own
account of what they saw, and nothing here adds ticks up. When a submission has problems the same card is
sent back with what was typed kept and each problem shown under its field.

`parse_staff_form` returns errors as wording keys (cards.staff_form.errors.*), not sentences, so the
wording stays in content/en.cards.yaml; `staff_form_card(errors=...)` turns them into text.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from cards.elements import Card, Element, adaptive_card, execute, text_block
from cards.escape import escape_markdown
from cards.verbs import Verb
from content.indicators import Indicator, Indicators
from content.texts import Texts

FIELD_SUBJECT_NAME: Final = "sf_subject_name"
FIELD_SUBJECT_ROLE: Final = "sf_subject_role"
FIELD_UNDER_18: Final = "sf_under_18"
FIELD_DATE: Final = "sf_incident_date"
FIELD_TIME: Final = "sf_incident_time"
FIELD_WHEN: Final = "sf_incident_when"
FIELD_WHERE: Final = "sf_incident_where"
FIELD_CATEGORY: Final = "sf_category"
FIELD_DESCRIPTION: Final = "sf_description"
FIELD_ACTION_TAKEN: Final = "sf_action_taken"
FIELD_OTHERS_AWARE: Final = "sf_others_aware"
FIELD_URGENCY: Final = "sf_urgency"
# The rest of a referral's content (policy 4.4, and DfE's list in the domain brief, section 1).
FIELD_FEARS: Final = "sf_fears"
FIELD_ONLINE_HOW: Final = "sf_online_how"
FIELD_SPOKEN_TO: Final = "sf_spoken_to"
FIELD_PARENTS_TOLD: Final = "sf_parents_told"
FIELD_OTHER_AGENCIES: Final = "sf_other_agencies"

ROLES: Final = ("learner", "staff", "visitor")
UNDER_18_CHOICES: Final = ("yes", "no", "not_sure")
CATEGORIES: Final = ("radicalisation", "bullying", "online_safety", "abuse", "wellbeing", "other")
URGENCY_CHOICES: Final = ("urgent", "not_urgent")
SPOKEN_TO_CHOICES: Final = ("dso", "director", "both", "not_yet")
PARENTS_TOLD_CHOICES: Final = ("yes", "no", "not_applicable")
TOGGLE_ON: Final = "true"
TOGGLE_OFF: Final = "false"

# Teams enforces maxLength in the client, but the invoke can be replayed or forged: the parser checks again.
MAX_LENGTHS: Final[Mapping[str, int]] = {
    FIELD_SUBJECT_NAME: 200,
    FIELD_WHEN: 500,
    FIELD_WHERE: 500,
    FIELD_DESCRIPTION: 10_000,
    FIELD_ACTION_TAKEN: 4000,
    FIELD_OTHERS_AWARE: 1000,
    FIELD_FEARS: 4000,
    FIELD_ONLINE_HOW: 2000,
    FIELD_OTHER_AGENCIES: 1000,
}
INDICATOR_DETAIL_MAX: Final = 2000

# What Input.Date and Input.Time send, whatever the viewer's locale (some clients add seconds). Anything
# else fromisoformat would accept (week dates, time zones) is not from the card, so it is refused.
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{2}:\d{2}(?::\d{2})?")

ERROR_REQUIRED: Final = "cards.staff_form.errors.required"
ERROR_CHOOSE: Final = "cards.staff_form.errors.choose"
ERROR_TOO_LONG: Final = "cards.staff_form.errors.too_long"
ERROR_BAD_DATE: Final = "cards.staff_form.errors.bad_date"
ERROR_FUTURE_DATE: Final = "cards.staff_form.errors.future_date"
ERROR_BAD_TIME: Final = "cards.staff_form.errors.bad_time"
ERROR_TIME_WITHOUT_DATE: Final = "cards.staff_form.errors.time_without_date"
ERROR_TICK_NEEDS_TEXT: Final = "cards.staff_form.errors.tick_needs_text"
ERROR_PARENTS_NEEDED: Final = "cards.staff_form.errors.parents_needed"

# Which wording names each field in the error summary.
_FIELD_LABELS: Final[Mapping[str, str]] = {
    FIELD_SUBJECT_NAME: "cards.staff_form.subject_name",
    FIELD_SUBJECT_ROLE: "cards.staff_form.subject_role",
    FIELD_UNDER_18: "cards.staff_form.under_18",
    FIELD_DATE: "cards.staff_form.incident_date",
    FIELD_TIME: "cards.staff_form.incident_time",
    FIELD_WHEN: "cards.staff_form.incident_when",
    FIELD_WHERE: "cards.staff_form.incident_where",
    FIELD_CATEGORY: "cards.staff_form.category",
    FIELD_DESCRIPTION: "cards.staff_form.description",
    FIELD_ACTION_TAKEN: "cards.staff_form.action_taken",
    FIELD_OTHERS_AWARE: "cards.staff_form.others_aware",
    FIELD_URGENCY: "cards.staff_form.urgency",
    FIELD_FEARS: "cards.staff_form.fears",
    FIELD_ONLINE_HOW: "cards.staff_form.online_how",
    FIELD_SPOKEN_TO: "cards.staff_form.spoken_to",
    FIELD_PARENTS_TOLD: "cards.staff_form.parents_told",
    FIELD_OTHER_AGENCIES: "cards.staff_form.other_agencies",
}


def indicator_id(key: str) -> str:
    """The tick box for one indicator."""
    return f"sf_ind_{key}"


def indicator_detail_id(key: str) -> str:
    # A different prefix, not a suffix, so no indicator key can produce another's id.
    return f"sf_det_{key}"


def group_container_id(key: str) -> str:
    return f"sf_group_{key}"


@dataclass(frozen=True, slots=True)
class StaffConcern:
    """A valid submission. Text is as typed: escaping happens only when it is put on a card."""

    subject_name: str
    subject_role: str  # learner | staff | visitor
    under_18: bool | None  # None: not sure
    incident_date: dt.date | None
    incident_time: dt.time | None
    incident_when_text: str | None
    incident_where: str | None
    category: str
    description: str  # verbatim
    indicators: tuple[tuple[str, str], ...]  # (indicator key, what the member of staff saw)
    action_taken: str | None
    others_aware: str | None
    urgent: bool
    spoken_to: str = "not_yet"  # dso | director | both | not_yet
    fears: str | None = None
    online_how: str | None = None
    parents_told: str | None = None  # yes | no | not_applicable; None: not answered (only allowed at 18 or over)
    other_agencies: str | None = None


# The card ------------------------------------------------------------------------------------------------------


def staff_form_card(
    texts: Texts,
    indicators: Indicators,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
) -> Card:
    """The blank form, or the form again with `values` (input id -> as typed) kept and `errors` shown.

    `errors` maps an input id to a wording key such as `parse_staff_form` returns.
    """
    form = _Form(texts, indicators, values or {}, errors or {})
    body: list[Element] = [
        text_block(texts.get("cards.staff_form.title"), size="Large", weight="Bolder"),
        text_block(texts.get("cards.staff_form.intro"), is_subtle=True),
        form.emergency(),
    ]
    body += form.error_summary()
    body += form.subject()
    body += form.incident()
    body += form.concern()
    body += form.indicators()
    body += form.follow_up()
    submit = execute(texts.get("cards.staff_form.submit"), Verb.STAFF_FORM_SUBMIT, {}, style="positive")
    return adaptive_card(body=body, actions=[submit])


class _Form:
    """One rendering of the form: knows the typed values and errors, so each field can show its own."""

    def __init__(
        self, texts: Texts, indicators: Indicators, values: Mapping[str, str], errors: Mapping[str, str]
    ) -> None:
        self.texts = texts
        self.catalogue = indicators
        self.values = values
        self.errors = errors

    def emergency(self) -> Element:
        flags = "\n".join(f"- {flag.label}" for flag in self.catalogue.escalation.flags)
        return {
            "type": "Container",
            "style": "attention",
            "items": [
                text_block(self.texts.get("cards.staff_form.emergency")),
                text_block(f"{self.catalogue.escalation.title}\n\n{flags}", size="Small"),
            ],
        }

    def error_summary(self) -> list[Element]:
        if not self.errors:
            return []
        count = len(self.errors)
        heading = (
            self.texts.get("cards.staff_form.error_summary_one")
            if count == 1
            else self.texts.get("cards.staff_form.error_summary", count=count)
        )
        items = [text_block(heading, weight="Bolder", color="Attention")]
        items += [
            {
                **text_block(
                    self.texts.get(
                        "cards.staff_form.error_item", field=self._field_name(field), message=self._message(field)
                    ),
                    color="Attention",
                    size="Small",
                ),
                "spacing": "None",
            }
            for field in self.errors
        ]
        return [{"type": "Container", "id": "sf_error_summary", "items": items}]

    def subject(self) -> list[Element]:
        return [
            _heading(self.texts.get("cards.staff_form.subject_heading")),
            *self._text(FIELD_SUBJECT_NAME, required=True),
            *self._choices(FIELD_SUBJECT_ROLE, "cards.staff_form.roles", ROLES, required=True),
            *self._choices(FIELD_UNDER_18, "cards.staff_form.under_18_choices", UNDER_18_CHOICES, required=True),
        ]

    def incident(self) -> list[Element]:
        date_input: Element = {
            "type": "Input.Date",
            "id": FIELD_DATE,
            "label": self.texts.get(_FIELD_LABELS[FIELD_DATE]),
        }
        if _parse_date(self.values.get(FIELD_DATE, "")) is not None:
            date_input["value"] = self.values[FIELD_DATE]
        time_input: Element = {
            "type": "Input.Time",
            "id": FIELD_TIME,
            "label": self.texts.get(_FIELD_LABELS[FIELD_TIME]),
        }
        typed_time = _parse_time(self.values.get(FIELD_TIME, ""))
        if typed_time is not None:
            time_input["value"] = typed_time.strftime("%H:%M")
        columns = {
            "type": "ColumnSet",
            "columns": [
                {"type": "Column", "width": "stretch", "items": [date_input, *self._error(FIELD_DATE)]},
                {"type": "Column", "width": "stretch", "items": [time_input, *self._error(FIELD_TIME)]},
            ],
        }
        return [
            _heading(self.texts.get("cards.staff_form.incident_heading")),
            columns,
            *self._text(FIELD_WHEN, placeholder="cards.staff_form.incident_when_placeholder"),
            *self._text(FIELD_WHERE, placeholder="cards.staff_form.incident_where_placeholder"),
        ]

    def concern(self) -> list[Element]:
        return [
            _heading(self.texts.get("cards.staff_form.concern_heading")),
            *self._choices(
                FIELD_CATEGORY,
                "cards.categories",
                CATEGORIES,
                required=True,
                compact=True,
                placeholder="cards.staff_form.category_placeholder",
            ),
            *self._text(
                FIELD_DESCRIPTION,
                required=True,
                multiline=True,
                placeholder="cards.staff_form.description_placeholder",
            ),
            *self._text(FIELD_FEARS, multiline=True, placeholder="cards.staff_form.fears_placeholder"),
            *self._text(FIELD_ONLINE_HOW, multiline=True, placeholder="cards.staff_form.online_how_placeholder"),
        ]

    def indicators(self) -> list[Element]:
        elements: list[Element] = [
            _heading(self.texts.get("cards.staff_form.indicators_heading")),
            text_block(self.texts.get("cards.staff_form.indicators_intro"), is_subtle=True),
        ]
        for group in self.catalogue.groups:
            # Collapsed to keep the card short, but open wherever something was typed or needs fixing.
            open_ = any(self._touched(item) for item in group.items)
            toggle = {
                "type": "Action.ToggleVisibility",
                "title": self.texts.get("cards.staff_form.indicators_show", group=group.title),
                "targetElements": [group_container_id(group.key)],
            }
            # The whole header row is the toggle, so the group title is not repeated on a button.
            header = {
                "type": "ColumnSet",
                "selectAction": toggle,
                "columns": [
                    {"type": "Column", "width": "stretch", "items": [text_block(group.title, weight="Bolder")]},
                    {
                        "type": "Column",
                        "width": "auto",
                        "verticalContentAlignment": "Center",
                        "items": [text_block(self.texts.get("cards.staff_form.indicators_toggle"), color="Accent")],
                    },
                ],
            }
            elements.append(
                {
                    "type": "Container",
                    "separator": True,
                    "spacing": "Medium",
                    "items": [
                        header,
                        {
                            "type": "Container",
                            "id": group_container_id(group.key),
                            "isVisible": open_,
                            "items": [element for item in group.items for element in self._indicator(item)],
                        },
                    ],
                }
            )
        return elements

    def follow_up(self) -> list[Element]:
        return [
            _heading(self.texts.get("cards.staff_form.follow_up_heading")),
            # Policy 4.4: staff talk to a director or the DSO as well as filling in the form.
            *self._choices(FIELD_SPOKEN_TO, "cards.staff_form.spoken_to_choices", SPOKEN_TO_CHOICES, required=True),
            *self._text(FIELD_ACTION_TAKEN, multiline=True, placeholder="cards.staff_form.action_taken_placeholder"),
            *self._text(FIELD_OTHERS_AWARE),
            # Not required on the card (it cannot depend on the under-18 answer); the parser asks for it then.
            *self._choices(FIELD_PARENTS_TOLD, "cards.staff_form.parents_told_choices", PARENTS_TOLD_CHOICES),
            *self._text(FIELD_OTHER_AGENCIES, placeholder="cards.staff_form.other_agencies_placeholder"),
            *self._choices(FIELD_URGENCY, "cards.staff_form.urgency_choices", URGENCY_CHOICES, required=True),
            text_block(self.texts.get("cards.staff_form.emergency"), size="Small"),
        ]

    # Fields -------------------------------------------------------------------------------------------------

    def _indicator(self, item: Indicator) -> list[Element]:
        toggle: Element = {
            "type": "Input.Toggle",
            "id": indicator_id(item.key),
            "title": item.label,
            "valueOn": TOGGLE_ON,
            "valueOff": TOGGLE_OFF,
            "wrap": True,
            "spacing": "Medium",
        }
        if self.values.get(indicator_id(item.key)) in (TOGGLE_ON, TOGGLE_OFF):
            toggle["value"] = self.values[indicator_id(item.key)]
        detail: Element = {
            "type": "Input.Text",
            "id": indicator_detail_id(item.key),
            "placeholder": self.texts.get("cards.staff_form.indicator_detail"),
            "isMultiline": True,
            "maxLength": INDICATOR_DETAIL_MAX,
            "spacing": "Small",
        }
        typed = self.values.get(indicator_detail_id(item.key))
        if typed:
            detail["value"] = typed
        return [toggle, detail, *self._error(indicator_detail_id(item.key))]

    def _text(
        self,
        field: str,
        *,
        required: bool = False,
        multiline: bool = False,
        placeholder: str | None = None,
    ) -> list[Element]:
        element: Element = {
            "type": "Input.Text",
            "id": field,
            "label": self.texts.get(_FIELD_LABELS[field]),
            "maxLength": MAX_LENGTHS[field],
        }
        if required:
            element["isRequired"] = True
            element["errorMessage"] = self.texts.get(ERROR_REQUIRED)
        if multiline:
            element["isMultiline"] = True
        if placeholder:
            element["placeholder"] = self.texts.get(placeholder)
        # Typed text goes back as typed: an input shows it literally, and escaping would add backslashes to
        # what the member of staff sends next time.
        if self.values.get(field):
            element["value"] = self.values[field]
        return [element, *self._error(field)]

    def _choices(
        self,
        field: str,
        wording: str,
        keys: tuple[str, ...],
        *,
        required: bool = False,
        compact: bool = False,
        placeholder: str | None = None,
    ) -> list[Element]:
        element: Element = {
            "type": "Input.ChoiceSet",
            "id": field,
            "label": self.texts.get(_FIELD_LABELS[field]),
            "style": "compact" if compact else "expanded",
            "choices": [{"title": self.texts.get(f"{wording}.{key}"), "value": key} for key in keys],
        }
        if required:
            element["isRequired"] = True
            element["errorMessage"] = self.texts.get(ERROR_CHOOSE)
        if placeholder:
            element["placeholder"] = self.texts.get(placeholder)
        if self.values.get(field) in keys:
            element["value"] = self.values[field]
        return [element, *self._error(field)]

    def _error(self, field: str) -> list[Element]:
        if field not in self.errors:
            return []
        return [{**text_block(self._message(field), color="Attention", size="Small"), "spacing": "None"}]

    def _message(self, field: str) -> str:
        key = self.errors[field]
        if self.texts.has(key):
            return self.texts.get(key, limit=f"{MAX_LENGTHS.get(field, INDICATOR_DETAIL_MAX):,}")
        # A caller passing its own sentence still gets it shown, made safe like any other text.
        return escape_markdown(key)

    def _field_name(self, field: str) -> str:
        if field in _FIELD_LABELS:
            return self.texts.get(_FIELD_LABELS[field])
        for item in self.catalogue.items():
            if field in (indicator_id(item.key), indicator_detail_id(item.key)):
                return item.label
        return escape_markdown(field)

    def _touched(self, item: Indicator) -> bool:
        ids = (indicator_id(item.key), indicator_detail_id(item.key))
        return (
            self.values.get(ids[0]) == TOGGLE_ON
            or bool(self.values.get(ids[1], "").strip())
            or any(i in self.errors for i in ids)
        )


def _heading(text: str) -> Element:
    return {**text_block(text, weight="Bolder"), "separator": True, "spacing": "Large"}


# Parsing -------------------------------------------------------------------------------------------------------


def parse_staff_form(
    data: Mapping[str, Any], indicators: Indicators, *, today: dt.date | None = None
) -> tuple[StaffConcern | None, dict[str, str]]:
    """Check a submission; return the concern, or None and {input id: wording key} for every problem.

    Pass `today` (UK date) to reject incident dates in the future.
    """
    errors: dict[str, str] = {}

    def text(field: str, *, required: bool = False, limit: int | None = None) -> str:
        raw = data.get(field)
        value = raw if isinstance(raw, str) else ""
        if required and not value.strip():
            errors[field] = ERROR_REQUIRED
        elif len(value) > (limit or MAX_LENGTHS.get(field, INDICATOR_DETAIL_MAX)):
            errors[field] = ERROR_TOO_LONG
        return value

    def choice(field: str, keys: tuple[str, ...]) -> str:
        raw = data.get(field)
        value = raw.strip() if isinstance(raw, str) else ""
        if value not in keys:
            errors[field] = ERROR_CHOOSE
        return value

    subject_name = text(FIELD_SUBJECT_NAME, required=True).strip()
    subject_role = choice(FIELD_SUBJECT_ROLE, ROLES)
    under_18 = choice(FIELD_UNDER_18, UNDER_18_CHOICES)

    raw_date = text(FIELD_DATE, limit=20).strip()
    incident_date = _parse_date(raw_date)
    if raw_date and incident_date is None:
        errors[FIELD_DATE] = ERROR_BAD_DATE
    elif incident_date is not None and today is not None and incident_date > today:
        errors[FIELD_DATE] = ERROR_FUTURE_DATE
    raw_time = text(FIELD_TIME, limit=20).strip()
    incident_time = _parse_time(raw_time)
    if raw_time and incident_time is None:
        errors[FIELD_TIME] = ERROR_BAD_TIME
    elif incident_time is not None and not raw_date:
        # A time with no day cannot be placed in the chronology.
        errors[FIELD_TIME] = ERROR_TIME_WITHOUT_DATE

    when_text = text(FIELD_WHEN).strip()
    where = text(FIELD_WHERE).strip()
    category = choice(FIELD_CATEGORY, CATEGORIES)
    description = text(FIELD_DESCRIPTION, required=True)
    fears = text(FIELD_FEARS).strip()
    online_how = text(FIELD_ONLINE_HOW).strip()

    noted: list[tuple[str, str]] = []
    for item in indicators.items():
        ticked = data.get(indicator_id(item.key)) == TOGGLE_ON
        detail_field = indicator_detail_id(item.key)
        detail = text(detail_field, limit=INDICATOR_DETAIL_MAX).strip()
        if ticked and not detail:
            errors[detail_field] = ERROR_TICK_NEEDS_TEXT
        elif detail:
            # Words without the tick are kept too: the account is the evidence, the tick only a prompt.
            noted.append((item.key, detail))

    spoken_to = choice(FIELD_SPOKEN_TO, SPOKEN_TO_CHOICES)
    action_taken = text(FIELD_ACTION_TAKEN).strip()
    others_aware = text(FIELD_OTHERS_AWARE).strip()
    raw_parents = data.get(FIELD_PARENTS_TOLD)
    parents_told = raw_parents.strip() if isinstance(raw_parents, str) else ""
    if parents_told and parents_told not in PARENTS_TOLD_CHOICES:
        errors[FIELD_PARENTS_TOLD] = ERROR_CHOOSE
    elif not parents_told and under_18 == "yes":
        # DfE: for an under-18 the referral says what parents or carers know; the DSO must not have to ask.
        errors[FIELD_PARENTS_TOLD] = ERROR_PARENTS_NEEDED
    other_agencies = text(FIELD_OTHER_AGENCIES).strip()
    urgency = choice(FIELD_URGENCY, URGENCY_CHOICES)

    if errors:
        return None, _in_form_order(errors, indicators)
    concern = StaffConcern(
        subject_name=subject_name,
        subject_role=subject_role,
        under_18={"yes": True, "no": False}.get(under_18),
        incident_date=incident_date,
        incident_time=incident_time,
        incident_when_text=when_text or None,
        incident_where=where or None,
        category=category,
        description=description,
        indicators=tuple(noted),
        action_taken=action_taken or None,
        others_aware=others_aware or None,
        urgent=urgency == "urgent",
        spoken_to=spoken_to,
        fears=fears or None,
        online_how=online_how or None,
        parents_told=parents_told or None,
        other_agencies=other_agencies or None,
    )
    return concern, {}


def _in_form_order(errors: dict[str, str], indicators: Indicators) -> dict[str, str]:
    # The summary lists problems top to bottom, as the member of staff will scroll through them.
    order = [
        FIELD_SUBJECT_NAME,
        FIELD_SUBJECT_ROLE,
        FIELD_UNDER_18,
        FIELD_DATE,
        FIELD_TIME,
        FIELD_WHEN,
        FIELD_WHERE,
        FIELD_CATEGORY,
        FIELD_DESCRIPTION,
        FIELD_FEARS,
        FIELD_ONLINE_HOW,
        *(indicator_detail_id(item.key) for item in indicators.items()),
        FIELD_SPOKEN_TO,
        FIELD_ACTION_TAKEN,
        FIELD_OTHERS_AWARE,
        FIELD_PARENTS_TOLD,
        FIELD_OTHER_AGENCIES,
        FIELD_URGENCY,
    ]
    return {field: errors[field] for field in order if field in errors}


def _parse_date(raw: str) -> dt.date | None:
    if not _DATE.fullmatch(raw.strip()):
        return None
    try:
        return dt.date.fromisoformat(raw.strip())
    except ValueError:  # 2026-02-30
        return None


def _parse_time(raw: str) -> dt.time | None:
    if not _TIME.fullmatch(raw.strip()):
        return None
    try:
        return dt.time.fromisoformat(raw.strip())
    except ValueError:  # 25:00
        return None


def error_lines(texts: Texts, indicators: Indicators, errors: Mapping[str, str]) -> list[str]:
    """The errors as plain lines ("Field – what to fix"), for when the form itself is too big to send back."""
    form = _Form(texts, indicators, {}, errors)
    return [
        texts.get("cards.staff_form.error_item", field=form._field_name(f), message=form._message(f)) for f in errors
    ]
