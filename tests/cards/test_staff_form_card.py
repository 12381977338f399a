"""The staff concern form: the card in each state, parsing a submission, and the indicator list behind it."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from cards.escape import escape_markdown
from cards.staff_form_card import (
    ERROR_BAD_DATE,
    ERROR_BAD_TIME,
    ERROR_CHOOSE,
    ERROR_FUTURE_DATE,
    ERROR_PARENTS_NEEDED,
    ERROR_REQUIRED,
    ERROR_TICK_NEEDS_TEXT,
    ERROR_TIME_WITHOUT_DATE,
    ERROR_TOO_LONG,
    FIELD_ACTION_TAKEN,
    FIELD_CATEGORY,
    FIELD_DATE,
    FIELD_DESCRIPTION,
    FIELD_FEARS,
    FIELD_ONLINE_HOW,
    FIELD_OTHER_AGENCIES,
    FIELD_PARENTS_TOLD,
    FIELD_SPOKEN_TO,
    FIELD_SUBJECT_NAME,
    FIELD_SUBJECT_ROLE,
    FIELD_TIME,
    FIELD_UNDER_18,
    FIELD_URGENCY,
    StaffConcern,
    group_container_id,
    indicator_detail_id,
    indicator_id,
    parse_staff_form,
    staff_form_card,
)
from cards.verbs import Verb
from content.common import DEFAULT_CONTENT_DIR, ContentError
from content.indicators import INDICATORS_FILE, Indicators
from content.texts import Texts
from tests.card_validator import assert_valid_cards
from tests.cards import HOSTILE, Card, element_ids, executes, input_by_id, inputs, shown_texts, walk


@pytest.fixture(scope="module")
def texts() -> Texts:
    return Texts.load(DEFAULT_CONTENT_DIR)


@pytest.fixture(scope="module")
def indicators() -> Indicators:
    return Indicators.load(DEFAULT_CONTENT_DIR)


def valid_submission(**changes: str) -> dict[str, Any]:
    """What Teams sends for a complete form: every input as a string, unticked toggles as "false"."""
    data: dict[str, Any] = {
        "sf_subject_name": "Riley Example",
        "sf_subject_role": "learner",
        "sf_under_18": "yes",
        "sf_incident_date": "2026-11-25",
        "sf_incident_time": "12:40",
        "sf_incident_when": "",
        "sf_incident_where": "Workshop 2",
        "sf_category": "radicalisation",
        "sf_description": 'He said "people like him are heroes".\nThen he left.',
        "sf_ind_grievance": "true",
        "sf_det_grievance": "Says the centre is against people like him.",
        "sf_ind_peer_pressure": "false",
        "sf_det_peer_pressure": "",
        "sf_fears": "That he will hurt someone.",
        "sf_online_how": "",
        "sf_spoken_to": "director",
        "sf_action_taken": "Told the centre manager.",
        "sf_others_aware": "Centre manager",
        "sf_parents_told": "no",
        "sf_other_agencies": "",
        "sf_urgency": "urgent",
    }
    data.update(changes)
    return data


def error_shown_under(card: Card, field: str, message: str) -> bool:
    """The error text is the element straight after its input, in red."""
    for obj in walk(card):
        for key in ("items", "body"):
            children = obj.get(key)
            if not isinstance(children, list):
                continue
            for before, after in itertools.pairwise(children):
                if before.get("id") == field and after.get("type") == "TextBlock":
                    return bool(after["text"] == message and after.get("color") == "Attention")
    return False


# The card ------------------------------------------------------------------------------------------------------


def test_blank_with_values_and_with_errors_are_all_valid(texts: Texts, indicators: Indicators) -> None:
    data = valid_submission(sf_description="", sf_det_grievance="", sf_under_18="")
    _, errors = parse_staff_form(data, indicators)
    assert errors
    values = {k: v for k, v in data.items() if isinstance(v, str)}
    assert_valid_cards(
        staff_form_card(texts, indicators),
        staff_form_card(texts, indicators, values=values),
        staff_form_card(texts, indicators, values=values, errors=errors),
        staff_form_card(texts, indicators, errors={FIELD_DESCRIPTION: ERROR_REQUIRED}),
    )


def test_inputs_are_prefixed_unique_and_cover_every_indicator(texts: Texts, indicators: Indicators) -> None:
    card = staff_form_card(texts, indicators)
    ids = [i["id"] for i in inputs(card)]
    assert all(i.startswith("sf_") for i in ids)
    assert len(element_ids(card)) == len(set(element_ids(card)))
    for item in indicators.items():
        toggle = input_by_id(card, indicator_id(item.key))
        assert toggle["type"] == "Input.Toggle" and toggle["title"] == item.label
        assert toggle["valueOn"] == "true" and toggle["valueOff"] == "false"
        assert input_by_id(card, indicator_detail_id(item.key))["type"] == "Input.Text"


def test_required_fields_and_limits(texts: Texts, indicators: Indicators) -> None:
    card = staff_form_card(texts, indicators)
    required = sorted(i["id"] for i in inputs(card) if i.get("isRequired"))
    assert required == sorted(
        [
            FIELD_SUBJECT_NAME,
            FIELD_SUBJECT_ROLE,
            FIELD_UNDER_18,
            FIELD_CATEGORY,
            FIELD_DESCRIPTION,
            FIELD_SPOKEN_TO,
            FIELD_URGENCY,
        ]
    )
    description = input_by_id(card, FIELD_DESCRIPTION)
    assert description["isMultiline"] is True and description["maxLength"] == 10_000
    assert input_by_id(card, FIELD_DATE)["type"] == "Input.Date"
    assert input_by_id(card, FIELD_TIME)["type"] == "Input.Time"
    assert [c["value"] for c in input_by_id(card, FIELD_SUBJECT_ROLE)["choices"]] == ["learner", "staff", "visitor"]
    assert [c["value"] for c in input_by_id(card, FIELD_UNDER_18)["choices"]] == ["yes", "no", "not_sure"]
    assert [c["value"] for c in input_by_id(card, FIELD_URGENCY)["choices"]] == ["urgent", "not_urgent"]
    assert len(input_by_id(card, FIELD_CATEGORY)["choices"]) == 6


def test_one_submit_and_the_999_line(texts: Texts, indicators: Indicators) -> None:
    card = staff_form_card(texts, indicators)
    assert [a["verb"] for a in card["actions"]] == [Verb.STAFF_FORM_SUBMIT]
    assert [a["verb"] for a in executes(card)] == [Verb.STAFF_FORM_SUBMIT]
    shown = shown_texts(card)
    assert texts.get("cards.staff_form.emergency") in shown
    assert any(all(flag.label in t for flag in indicators.escalation.flags) for t in shown)


def test_indicator_groups_start_closed_and_open_where_there_is_something(texts: Texts, indicators: Indicators) -> None:
    def visible(card: Card) -> dict[str, bool]:
        return {
            group.key: next(o for o in walk(card) if o.get("id") == group_container_id(group.key))["isVisible"]
            for group in indicators.groups
        }

    assert not any(visible(staff_form_card(texts, indicators)).values())
    card = staff_form_card(
        texts,
        indicators,
        values={"sf_ind_grievance": "true", "sf_det_dark_web": "Uses Tor at break."},
        errors={"sf_det_conspiracy": ERROR_TICK_NEEDS_TEXT},
    )
    assert visible(card) == {"vulnerability": True, "behaviour": False, "views": True, "online": True}


def test_errors_show_under_their_fields_with_a_summary_first(texts: Texts, indicators: Indicators) -> None:
    data = valid_submission(sf_description="   ", sf_det_grievance="", sf_under_18="maybe")
    concern, errors = parse_staff_form(data, indicators)
    assert concern is None
    card = staff_form_card(texts, indicators, values=data, errors=errors)
    assert error_shown_under(card, FIELD_DESCRIPTION, texts.get(ERROR_REQUIRED))
    assert error_shown_under(card, FIELD_UNDER_18, texts.get(ERROR_CHOOSE))
    assert error_shown_under(card, indicator_detail_id("grievance"), texts.get(ERROR_TICK_NEEDS_TEXT))
    summary = next(o for o in walk(card) if o.get("id") == "sf_error_summary")
    lines = [block["text"] for block in summary["items"]]
    assert lines[0] == texts.get("cards.staff_form.error_summary", count=3)
    assert lines[1:] == [
        texts.get(
            "cards.staff_form.error_item",
            field=texts.get("cards.staff_form.under_18"),
            message="Choose one of the options.",
        ),
        texts.get("cards.staff_form.error_item", field="What did you see or hear?", message="This is required."),
        texts.get(
            "cards.staff_form.error_item",
            field=indicators.label("grievance"),
            message=texts.get(ERROR_TICK_NEEDS_TEXT),
        ),
    ]
    assert all(block["color"] == "Attention" for block in summary["items"])
    assert card["body"].index(summary) < card["body"].index(
        next(e for e in card["body"] if e.get("text") == texts.get("cards.staff_form.subject_heading"))
    )


def test_one_error_reads_as_one_thing(texts: Texts, indicators: Indicators) -> None:
    card = staff_form_card(texts, indicators, errors={FIELD_DESCRIPTION: ERROR_REQUIRED})
    summary = next(o for o in walk(card) if o.get("id") == "sf_error_summary")
    assert summary["items"][0]["text"] == texts.get("cards.staff_form.error_summary_one")


def test_values_are_kept_as_typed_even_when_hostile(texts: Texts, indicators: Indicators) -> None:
    values = valid_submission(
        sf_subject_name=HOSTILE[:200], sf_description=HOSTILE, sf_det_grievance=HOSTILE, sf_others_aware=HOSTILE[:100]
    )
    card = staff_form_card(texts, indicators, values=values, errors={FIELD_CATEGORY: ERROR_CHOOSE})
    assert_valid_cards(card)
    assert json.loads(json.dumps(card)) == card
    # An input shows its value literally; escaping it would add backslashes to what the person sends back.
    assert input_by_id(card, FIELD_DESCRIPTION)["value"] == HOSTILE
    assert input_by_id(card, indicator_detail_id("grievance"))["value"] == HOSTILE
    assert input_by_id(card, indicator_id("grievance"))["value"] == "true"
    assert input_by_id(card, FIELD_DATE)["value"] == "2026-11-25"
    assert input_by_id(card, FIELD_TIME)["value"] == "12:40"
    assert input_by_id(card, FIELD_SUBJECT_ROLE)["value"] == "learner"
    # ...but nothing typed ever reaches a TextBlock, where markdown would render.
    assert not any("[link](" in text or "${" in text for text in shown_texts(card))


def test_values_that_are_not_a_choice_or_a_date_are_not_put_back(texts: Texts, indicators: Indicators) -> None:
    values = {FIELD_SUBJECT_ROLE: "admin", FIELD_DATE: "25/11/2026", FIELD_TIME: "noon", "sf_ind_grievance": "yes"}
    card = staff_form_card(texts, indicators, values=values)
    assert_valid_cards(card)
    for field in (FIELD_SUBJECT_ROLE, FIELD_DATE, FIELD_TIME, indicator_id("grievance")):
        assert "value" not in input_by_id(card, field)


def test_an_unknown_error_key_is_shown_escaped(texts: Texts, indicators: Indicators) -> None:
    card = staff_form_card(texts, indicators, errors={FIELD_SUBJECT_NAME: "**Bad** name"})
    assert error_shown_under(card, FIELD_SUBJECT_NAME, escape_markdown("**Bad** name"))


# Parsing -------------------------------------------------------------------------------------------------------


def test_a_valid_submission_becomes_a_staff_concern(indicators: Indicators) -> None:
    concern, errors = parse_staff_form(valid_submission(), indicators)
    assert errors == {}
    assert concern == StaffConcern(
        subject_name="Riley Example",
        subject_role="learner",
        under_18=True,
        incident_date=dt.date(2026, 11, 25),
        incident_time=dt.time(12, 40),
        incident_when_text=None,
        incident_where="Workshop 2",
        category="radicalisation",
        description='He said "people like him are heroes".\nThen he left.',
        indicators=(("grievance", "Says the centre is against people like him."),),
        action_taken="Told the centre manager.",
        others_aware="Centre manager",
        urgent=True,
        spoken_to="director",
        fears="That he will hurt someone.",
        online_how=None,
        parents_told="no",
        other_agencies=None,
    )


def test_the_description_is_kept_verbatim_not_escaped(indicators: Indicators) -> None:
    concern, _ = parse_staff_form(valid_submission(sf_description=HOSTILE), indicators)
    assert concern is not None and concern.description == HOSTILE


def test_missing_description_is_an_error_on_that_field(indicators: Indicators) -> None:
    for empty in ("", "  \n ", None):
        data = valid_submission()
        if empty is None:
            del data[FIELD_DESCRIPTION]
        else:
            data[FIELD_DESCRIPTION] = empty
        concern, errors = parse_staff_form(data, indicators)
        assert concern is None
        assert errors == {FIELD_DESCRIPTION: ERROR_REQUIRED}


def test_a_tick_without_words_is_an_error(indicators: Indicators) -> None:
    concern, errors = parse_staff_form(valid_submission(sf_det_grievance="   "), indicators)
    assert concern is None
    assert errors == {indicator_detail_id("grievance"): ERROR_TICK_NEEDS_TEXT}


def test_words_without_a_tick_are_kept(indicators: Indicators) -> None:
    concern, _ = parse_staff_form(valid_submission(sf_det_peer_pressure="Older lads wait at the gate."), indicators)
    assert concern is not None
    assert ("peer_pressure", "Older lads wait at the gate.") in concern.indicators


def test_no_indicators_is_fine(indicators: Indicators) -> None:
    concern, _ = parse_staff_form(valid_submission(sf_ind_grievance="false", sf_det_grievance=""), indicators)
    assert concern is not None and concern.indicators == ()


@pytest.mark.parametrize(
    ("changes", "field", "error"),
    [
        ({"sf_subject_name": " "}, FIELD_SUBJECT_NAME, ERROR_REQUIRED),
        ({"sf_subject_name": "x" * 201}, FIELD_SUBJECT_NAME, ERROR_TOO_LONG),
        ({"sf_subject_role": "manager"}, FIELD_SUBJECT_ROLE, ERROR_CHOOSE),
        ({"sf_under_18": ""}, FIELD_UNDER_18, ERROR_CHOOSE),
        ({"sf_category": "politics"}, FIELD_CATEGORY, ERROR_CHOOSE),
        ({"sf_urgency": ""}, FIELD_URGENCY, ERROR_CHOOSE),
        ({"sf_description": "x" * 10_001}, FIELD_DESCRIPTION, ERROR_TOO_LONG),
        ({"sf_incident_date": "2026-02-30"}, FIELD_DATE, ERROR_BAD_DATE),
        ({"sf_incident_date": "25/11/2026"}, FIELD_DATE, ERROR_BAD_DATE),
        ({"sf_incident_time": "25:00"}, FIELD_TIME, ERROR_BAD_TIME),
        ({"sf_incident_time": "12:40+01:00"}, FIELD_TIME, ERROR_BAD_TIME),
        ({"sf_incident_date": ""}, FIELD_TIME, ERROR_TIME_WITHOUT_DATE),
        ({"sf_det_grievance": "x" * 2001}, indicator_detail_id("grievance"), ERROR_TOO_LONG),
        ({"sf_spoken_to": ""}, FIELD_SPOKEN_TO, ERROR_CHOOSE),
        ({"sf_spoken_to": "my manager"}, FIELD_SPOKEN_TO, ERROR_CHOOSE),
        ({"sf_parents_told": ""}, FIELD_PARENTS_TOLD, ERROR_PARENTS_NEEDED),
        ({"sf_parents_told": "maybe"}, FIELD_PARENTS_TOLD, ERROR_CHOOSE),
        ({"sf_fears": "x" * 4001}, FIELD_FEARS, ERROR_TOO_LONG),
        ({"sf_online_how": "x" * 2001}, FIELD_ONLINE_HOW, ERROR_TOO_LONG),
        ({"sf_other_agencies": "x" * 1001}, FIELD_OTHER_AGENCIES, ERROR_TOO_LONG),
    ],
)
def test_field_errors(indicators: Indicators, changes: dict[str, str], field: str, error: str) -> None:
    concern, errors = parse_staff_form(valid_submission(**changes), indicators)
    assert concern is None
    assert errors == {field: error}


def test_dates_and_times_are_optional_and_parsed(indicators: Indicators) -> None:
    concern, _ = parse_staff_form(
        valid_submission(sf_incident_date="", sf_incident_time="", sf_incident_when="Last Tuesday"), indicators
    )
    assert concern is not None
    assert (concern.incident_date, concern.incident_time, concern.incident_when_text) == (None, None, "Last Tuesday")
    concern, _ = parse_staff_form(valid_submission(sf_incident_time="09:05:30"), indicators)
    assert concern is not None and concern.incident_time == dt.time(9, 5, 30)


def test_a_future_date_is_refused_when_today_is_known(indicators: Indicators) -> None:
    data = valid_submission(sf_incident_date="2026-11-26")
    assert parse_staff_form(data, indicators, today=dt.date(2026, 11, 25))[1] == {FIELD_DATE: ERROR_FUTURE_DATE}
    assert parse_staff_form(data, indicators, today=dt.date(2026, 11, 26))[1] == {}


@pytest.mark.parametrize(("answer", "expected"), [("yes", True), ("no", False), ("not_sure", None)])
def test_under_18_answers(indicators: Indicators, answer: str, expected: bool | None) -> None:
    concern, _ = parse_staff_form(valid_submission(sf_under_18=answer), indicators)
    assert concern is not None and concern.under_18 is expected


def test_not_urgent(indicators: Indicators) -> None:
    concern, _ = parse_staff_form(valid_submission(sf_urgency="not_urgent"), indicators)
    assert concern is not None and concern.urgent is False


def test_the_parents_question_is_needed_only_for_an_under_18(indicators: Indicators) -> None:
    for under_18 in ("no", "not_sure"):
        concern, errors = parse_staff_form(valid_submission(sf_under_18=under_18, sf_parents_told=""), indicators)
        assert errors == {} and concern is not None and concern.parents_told is None


def test_every_field_has_a_label_of_its_own(texts: Texts, indicators: Indicators) -> None:
    """Issue 16, item 8: "What have you already done?" was a heading over an input with no label."""
    card = staff_form_card(texts, indicators)
    assert input_by_id(card, FIELD_ACTION_TAKEN)["label"] == "What have you already done?"
    for field in (FIELD_SPOKEN_TO, FIELD_FEARS, FIELD_ONLINE_HOW, FIELD_PARENTS_TOLD, FIELD_OTHER_AGENCIES):
        assert input_by_id(card, field)["label"], field
    assert [c["value"] for c in input_by_id(card, FIELD_SPOKEN_TO)["choices"]] == ["dso", "director", "both", "not_yet"]
    labelled = [i for i in inputs(card) if i["type"] != "Input.Toggle" and not i["id"].startswith("sf_det_")]
    assert all(i.get("label") for i in labelled), [i["id"] for i in labelled if not i.get("label")]


def test_junk_from_a_forged_invoke_is_an_error_not_a_crash(indicators: Indicators) -> None:
    concern, errors = parse_staff_form({"sf_description": 42, "sf_subject_name": ["x"], "case_id": 1}, indicators)
    assert concern is None
    assert errors[FIELD_DESCRIPTION] == ERROR_REQUIRED and errors[FIELD_SUBJECT_NAME] == ERROR_REQUIRED


def test_every_error_key_has_wording_and_errors_come_in_form_order(texts: Texts, indicators: Indicators) -> None:
    _, errors = parse_staff_form({"sf_ind_grievance": "true", "sf_incident_time": "bad"}, indicators)
    assert list(errors) == [
        FIELD_SUBJECT_NAME,
        FIELD_SUBJECT_ROLE,
        FIELD_UNDER_18,
        FIELD_TIME,
        FIELD_CATEGORY,
        FIELD_DESCRIPTION,
        indicator_detail_id("grievance"),
        FIELD_SPOKEN_TO,
        FIELD_URGENCY,
    ]
    for key in (
        ERROR_REQUIRED,
        ERROR_CHOOSE,
        ERROR_TOO_LONG,
        ERROR_BAD_DATE,
        ERROR_FUTURE_DATE,
        ERROR_BAD_TIME,
        ERROR_TIME_WITHOUT_DATE,
        ERROR_TICK_NEEDS_TEXT,
        ERROR_PARENTS_NEEDED,
    ):
        assert texts.has(key), key


# The indicator list ------------------------------------------------------------------------------------------


def test_the_shipped_indicators_match_the_brief(indicators: Indicators) -> None:
    assert [g.title for g in indicators.groups] == [
        "Vulnerability and context",
        "Behavioural change",
        "Views expressed",
        "Online",
    ]
    assert [len(g.items) for g in indicators.groups] == [9, 9, 7, 7]
    assert [f.label for f in indicators.escalation.flags] == [
        "Immediate danger to self or others",
        "Planning an offence",
        "Imminent travel to a conflict zone",
    ]
    assert indicators.label("send").startswith("SEND")
    assert "send" in indicators and "nope" not in indicators
    with pytest.raises(KeyError, match="nope"):
        indicators.label("nope")
    for group in indicators.groups:
        assert all(s.checked == dt.date(2026, 11, 1) for s in indicators.sources_for(group))


@pytest.fixture
def content_copy(tmp_path: Path) -> Path:
    shutil.copy(DEFAULT_CONTENT_DIR / INDICATORS_FILE, tmp_path / INDICATORS_FILE)
    return tmp_path


def edit(content_dir: Path, old: str, new: str) -> int:
    """Replace `old` once; return the line it was on."""
    path = content_dir / INDICATORS_FILE
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"test setup: {old!r} should occur once"
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new), encoding="utf-8")
    return line


def load_error(content_dir: Path) -> str:
    with pytest.raises(ContentError) as caught:
        Indicators.load(content_dir)
    return str(caught.value)


def test_a_duplicate_key_names_file_line_and_field(content_copy: Path) -> None:
    line = edit(content_copy, "- key: traumatic_event", "- key: grievance")
    message = load_error(content_copy)
    assert f"{INDICATORS_FILE}:{line}: field 'groups.0.items.4.key': duplicate key grievance" in message


def test_an_unknown_source_is_refused(content_copy: Path) -> None:
    line = edit(content_copy, "sources: [S66, S7]", "sources: [S66, S99]")
    assert f"{INDICATORS_FILE}:{line}: field 'groups.3.sources.1': unknown source S99" in load_error(content_copy)


def test_a_bad_field_is_refused_with_its_line(content_copy: Path) -> None:
    line = edit(content_copy, "- key: weapon_images", "- key: Weapon Images")
    assert f"{INDICATORS_FILE}:{line}: field 'groups.3.items.2.key'" in load_error(content_copy)
    edit(content_copy, "- key: Weapon Images", "- key: weapon_images\n        lable: typo")
    assert "lable" in load_error(content_copy)
