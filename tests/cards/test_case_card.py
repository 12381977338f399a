"""The DSO's case card: every state validates, the right actions per status, and user text cannot restyle it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import pytest

from cards.case_card import (
    CARD_BUDGET_BYTES,
    DECISIONS,
    DESCRIPTION_PREVIEW_CHARS,
    INPUT_ASSIGN_TO,
    INPUT_CLOSE_NOTE,
    INPUT_DECISION,
    INPUT_DECISION_REASON,
    INPUT_NOTE,
    INPUT_REVEAL_REASON,
    MAX_TOP_LEVEL_ACTIONS,
    STATUSES,
    CaseCardView,
    card_size,
    case_card,
)
from cards.escape import escape_markdown
from cards.verbs import Verb
from content.common import DEFAULT_CONTENT_DIR
from content.indicators import Indicators
from content.texts import Texts
from tests.card_validator import assert_valid_cards
from tests.cards import HOSTILE, Card, element_ids, executes, input_by_id, inputs, shown_texts, walk

TEAMS_MAX_ACTIONS = 6


@pytest.fixture(scope="module")
def texts() -> Texts:
    return Texts.load(DEFAULT_CONTENT_DIR)


def make_view(**changes: Any) -> CaseCardView:
    view = CaseCardView(
        case_id=42,
        version=3,
        reference="SS-2026-0042",
        category="radicalisation",
        urgent=False,
        incomplete=False,
        source="learner",
        about="learner",
        subject_name="Riley Example",
        subject_under_18=False,
        reporter_display="Sam Learner",
        reporter_hidden=False,
        raised_at=dt.datetime(2026, 11, 25, 15, 4, tzinfo=dt.UTC),
        waited="12 min",
        description="Riley said something worrying at lunch.",
        incident_when="Today at lunch",
        incident_where="Common room",
        status="new",
        owner_name=None,
        decision=None,
        decision_reason=None,
        decided_by=None,
        decision_confirmed_by=None,
        outcome_note=None,
        dso_choices=(("aad-dso", "Pat Example"), ("aad-deputy", "Chris Sample")),
    )
    return dataclasses.replace(view, **changes)


def state(status: str, **changes: Any) -> CaseCardView:
    """A view as the store would hold it in `status`: later states carry an owner, a decision, an outcome."""
    fields: dict[str, Any] = {"status": status}
    if status != "new":
        fields["owner_name"] = "Pat Example"
    if status in ("awaiting_director", "decided", "closed"):
        fields.update(decision="channel", decision_reason="Views and material shared.", decided_by="Pat Example")
    if status in ("decided", "closed"):
        fields["decision_confirmed_by"] = "Alan Director"
    if status == "closed":
        fields["outcome_note"] = "Referred; Channel panel offered support."
    fields.update(changes)
    return make_view(**fields)


def top_level(card: Card) -> list[dict[str, Any]]:
    return list(card.get("actions", []))


def verb_of(action: dict[str, Any]) -> str:
    """The verb an action ends in: its own, or the submit inside its ShowCard."""
    if action["type"] == "Action.Execute":
        return str(action["verb"])
    (submit,) = executes(action["card"])
    return str(submit["verb"])


def reveal_actions(card: Card) -> list[dict[str, Any]]:
    return [a for a in executes(card) if a["verb"] == Verb.CASE_REVEAL]


def all_variants() -> list[CaseCardView]:
    variants = [
        state(status, reporter_hidden=hidden, reporter_display=None if hidden else "Sam Learner")
        for status in STATUSES
        for hidden in (False, True)
    ]
    variants += [
        make_view(urgent=True),
        make_view(incomplete=True, urgent=True, description="I need help now"),
        make_view(subject_under_18=True),
        make_view(subject_under_18=None, subject_name=None),
        make_view(
            source="staff",
            about="visitor",
            indicators=(("Grievance or injustice narrative", "Said twice the centre is against people like him."),),
            action_taken="Spoke to the centre manager.",
            others_aware="Centre manager",
        ),
        make_view(
            source="staff",
            about="learner",
            incident_at=dt.datetime(2026, 11, 25, 12, 40, tzinfo=dt.UTC),
            incident_time_known=True,
            spoken_to="both",
            fears="That he hurts someone.",
            online_how="Saw it on a shared screen.",
            parents_told="no",
            other_agencies="Police Prevent team",
        ),
        make_view(reporter_hidden=True, reporter_display=None, reveals=(("Pat Example", "25 Nov, 15:10"),)),
        make_view(urgent=True, mentions=(("aad-dso", "Pat Example"), ("aad-deputy", "Chris <Sample>"))),
        make_view(dso_choices=()),
        make_view(notes=tuple((f"Person {i}", f"2{i} Nov, 10:0{i}", f"Note {i}") for i in range(8))),
        make_view(incident_when=None, incident_where=None),
        make_view(category="something_new", about="somebody_new", source="elsewhere", status="acknowledged"),
        state("decided", decision="no_further_action", decision_confirmed_by=None),
    ]
    return variants


# Validity --------------------------------------------------------------------------------------------------


def test_every_variant_is_a_valid_card(texts: Texts) -> None:
    assert_valid_cards(*(case_card(view, texts) for view in all_variants()))


def test_every_variant_fits_teams_limits_and_has_unique_input_ids(texts: Texts) -> None:
    for view in all_variants():
        card = case_card(view, texts)
        assert len(top_level(card)) <= MAX_TOP_LEVEL_ACTIONS <= TEAMS_MAX_ACTIONS
        ids = element_ids(card)
        assert len(ids) == len(set(ids)), f"duplicate ids in {view.status}: {ids}"
        assert json.loads(json.dumps(card)) == card


# Actions per status -------------------------------------------------------------------------------------------

EXPECTED_VERBS = {
    "new": [Verb.CASE_ACKNOWLEDGE, Verb.CASE_ASSIGN, Verb.CASE_NOTE, Verb.CASE_DECIDE, Verb.CASE_CLOSE],
    "acknowledged": [Verb.CASE_ASSIGN, Verb.CASE_NOTE, Verb.CASE_DECIDE, Verb.CASE_CLOSE],
    "awaiting_director": [
        Verb.CASE_CONFIRM_DECISION,
        Verb.CASE_ASSIGN,
        Verb.CASE_NOTE,
        Verb.CASE_DECIDE,
        Verb.CASE_CLOSE,
    ],
    "decided": [Verb.CASE_ASSIGN, Verb.CASE_NOTE, Verb.CASE_DECIDE, Verb.CASE_CLOSE],
    "closed": [Verb.CASE_REOPEN, Verb.CASE_LEGAL_HOLD],
}


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("hidden", [False, True])
def test_actions_follow_the_status(texts: Texts, status: str, hidden: bool) -> None:
    card = case_card(state(status, reporter_hidden=hidden, reporter_display=None if hidden else "Sam"), texts)
    assert [verb_of(a) for a in top_level(card)] == EXPECTED_VERBS[status]
    # Reveal sits in the body beside "Raised by", so a hidden reporter never pushes Teams past its limit.
    assert len(reveal_actions(card)) == (1 if hidden and status != "closed" else 0)


def test_acknowledge_and_confirm_are_single_presses_with_their_own_wording(texts: Texts) -> None:
    new = top_level(case_card(state("new"), texts))[0]
    assert new["type"] == "Action.Execute"
    assert new["title"] == texts.get("cards.case.actions.acknowledge") == "I've got this"
    awaiting = top_level(case_card(state("awaiting_director"), texts))[0]
    assert awaiting["type"] == "Action.Execute"
    assert awaiting["title"] == texts.get("cards.case.actions.confirm")


def test_every_action_carries_case_id_and_version(texts: Texts) -> None:
    for view in all_variants():
        for action in executes(case_card(view, texts)):
            assert action["data"] == {"case_id": view.case_id, "version": view.version}
            assert action["verb"] in set(Verb)


def test_closed_card_shows_the_outcome_and_offers_only_reopen_and_the_legal_hold(texts: Texts) -> None:
    card = case_card(state("closed"), texts)
    assert [a["verb"] for a in executes(card)] == [Verb.CASE_REOPEN, Verb.CASE_LEGAL_HOLD]
    assert [i["id"] for i in inputs(card)] == ["reopen_reason", "hold_reason"]
    assert any("Channel panel offered support" in text for text in shown_texts(card))
    assert texts.get("cards.case.closed_heading") in shown_texts(card)
    assert texts.get("records.hold.on_card") not in shown_texts(card)


def test_a_held_case_says_so_and_offers_the_release(texts: Texts) -> None:
    card = case_card(dataclasses.replace(state("closed"), legal_hold=True), texts)
    assert [a["verb"] for a in executes(card)] == [Verb.CASE_REOPEN, Verb.CASE_LEGAL_HOLD_RELEASE]
    assert texts.get("records.hold.on_card") in shown_texts(card)
    assert_valid_cards(card)


def test_assign_is_left_out_when_nobody_can_be_chosen(texts: Texts) -> None:
    card = case_card(make_view(dso_choices=()), texts)
    assert Verb.CASE_ASSIGN not in [verb_of(a) for a in top_level(card)]


# Inputs ------------------------------------------------------------------------------------------------------


def test_inputs_have_prefixed_ids_and_are_required(texts: Texts) -> None:
    card = case_card(make_view(reporter_hidden=True, reporter_display=None), texts)
    assert sorted(i["id"] for i in inputs(card)) == sorted(
        [INPUT_ASSIGN_TO, INPUT_NOTE, INPUT_REVEAL_REASON, INPUT_DECISION, INPUT_DECISION_REASON, INPUT_CLOSE_NOTE]
    )
    assert all(i["isRequired"] is True and i["errorMessage"] and i["label"] for i in inputs(card))
    note = input_by_id(card, INPUT_NOTE)
    assert note["type"] == "Input.Text" and note["isMultiline"] is True and note["maxLength"] == 4000
    assign = input_by_id(card, INPUT_ASSIGN_TO)
    assert assign["choices"] == [
        {"title": "Pat Example", "value": "aad-dso"},
        {"title": "Chris Sample", "value": "aad-deputy"},
    ]
    # No input in the body: otherwise every button on the card would insist it was filled in.
    assert not [e for e in card["body"] if str(e.get("type", "")).startswith("Input.")]


def test_decision_offers_the_six_decisions_and_says_channel_needs_a_director(texts: Texts) -> None:
    card = case_card(make_view(), texts)
    decision = input_by_id(card, INPUT_DECISION)
    assert [c["value"] for c in decision["choices"]] == list(DECISIONS)
    assert [c["title"] for c in decision["choices"]] == [texts.get(f"cards.case.decisions.{d}") for d in DECISIONS]
    (decide,) = [a for a in top_level(card) if verb_of(a) == Verb.CASE_DECIDE]
    shown = shown_texts(decide["card"])
    assert texts.get("cards.case.actions.channel_needs_director") in shown
    assert texts.get("cards.case.actions.under_18_prompt") not in shown


@pytest.mark.parametrize(("under_18", "prompted"), [(True, True), (False, False), (None, False)])
def test_under_18_subjects_prompt_children_social_care(texts: Texts, under_18: bool | None, prompted: bool) -> None:
    card = case_card(make_view(subject_under_18=under_18), texts)
    (decide,) = [a for a in top_level(card) if verb_of(a) == Verb.CASE_DECIDE]
    assert (texts.get("cards.case.actions.under_18_prompt") in shown_texts(decide["card"])) is prompted


def test_a_recorded_decision_is_preselected_when_changing_it(texts: Texts) -> None:
    card = case_card(state("decided", decision="police"), texts)
    assert input_by_id(card, INPUT_DECISION)["value"] == "police"


# What the card shows -----------------------------------------------------------------------------------------


def facts(card: Card, texts: Texts) -> dict[str, str]:
    fact_set = next(obj for obj in walk(card) if obj.get("type") == "FactSet")
    return {fact["title"]: fact["value"] for fact in fact_set["facts"]}


def test_header_marks_urgent_and_incomplete_reports(texts: Texts) -> None:
    plain = case_card(make_view(), texts)
    marked = case_card(make_view(urgent=True, incomplete=True), texts)
    header = marked["body"][0]["items"]
    urgent = [b for b in header if b["text"] == texts.get("cards.case.urgent")]
    assert urgent and urgent[0]["color"] == "Attention" and urgent[0]["weight"] == "Bolder"
    assert texts.get("cards.case.incomplete") in [b["text"] for b in header]
    assert texts.get("cards.case.urgent") not in shown_texts(plain)
    assert texts.get("cards.case.incomplete") not in shown_texts(plain)
    assert header[0]["text"] == "Safeguarding concern SS\\-2026\\-0042"


def test_facts_name_everything_the_dso_needs_first(texts: Texts) -> None:
    shown = facts(case_card(make_view(subject_under_18=True), texts), texts)
    assert shown == {
        "Category": "Radicalisation or extremism",
        "About": "Another learner",
        "Person concerned": "Riley Example",
        "Under 18": "Yes",
        "Raised by": "Sam Learner",
        "Raised": "Wed 25 Nov 2026, 15:04",
        "Waited": "12 min",
        "Status": texts.get("cards.case.status.new"),
        "Owner": texts.get("cards.case.owner_none"),
        "Decision": texts.get("cards.case.decision_none"),
    }


def test_a_reporter_who_asked_not_to_be_named_is_not_named(texts: Texts) -> None:
    card = case_card(make_view(reporter_display=None, reporter_hidden=True), texts)
    assert facts(card, texts)["Raised by"] == "Reporter asked not to be named"
    assert not any("Sam Learner" in text for text in shown_texts(card))


def test_raised_at_is_shown_in_uk_time_across_daylight_saving(texts: Texts) -> None:
    summer = make_view(raised_at=dt.datetime(2026, 7, 1, 11, 30, tzinfo=dt.UTC))
    assert facts(case_card(summer, texts), texts)["Raised"] == "Wed 1 Jul 2026, 12:30"


def test_long_descriptions_are_cut_with_a_pointer_to_the_case_store(texts: Texts) -> None:
    card = case_card(make_view(description="a" * 10_000), texts)
    body_texts = shown_texts(card)
    (shown,) = [t for t in body_texts if t.startswith("aaa")]
    assert len(shown) == DESCRIPTION_PREVIEW_CHARS
    assert texts.get("cards.case.description_truncated", limit="1,500") in body_texts
    short = case_card(make_view(description="a" * DESCRIPTION_PREVIEW_CHARS), texts)
    assert texts.get("cards.case.description_truncated", limit="1,500") not in shown_texts(short)


def test_only_the_latest_five_notes_are_shown(texts: Texts) -> None:
    notes = tuple((f"Person {i}", f"{i} Dec", f"Note number {i}") for i in range(1, 8))
    shown = shown_texts(case_card(make_view(notes=notes), texts))
    assert [t for t in shown if t.startswith("Note number")] == [f"Note number {i}" for i in range(3, 8)]
    assert texts.get("cards.case.notes_more", shown=5, total=7) in shown


def test_staff_indicators_each_come_with_their_free_text(texts: Texts) -> None:
    view = make_view(
        source="staff",
        indicators=(("Secretive behaviour", "Hides his screen."), ("Peer pressure", "Group waits outside.")),
        action_taken="Told the centre manager.",
        others_aware="Centre manager",
    )
    shown = shown_texts(case_card(view, texts))
    for label, detail in view.indicators:
        assert shown[shown.index(label) + 1] == escape_markdown(detail)
    assert "Told the centre manager\\." in shown and "Centre manager" in shown


def test_awaiting_director_says_so(texts: Texts) -> None:
    shown = shown_texts(case_card(state("awaiting_director"), texts))
    assert texts.get("cards.case.awaiting_director") in shown
    assert "Refer to Channel (Prevent)" in shown


def test_unknown_keys_show_raw_rather_than_fail(texts: Texts) -> None:
    card = case_card(make_view(category="new_thing", about="someone_else", status="reviewing"), texts)
    shown = facts(card, texts)
    assert shown["Category"] == "new\\_thing" and shown["Status"] == "reviewing"


# Hostile text --------------------------------------------------------------------------------------------------


def test_hostile_text_is_escaped_everywhere_and_the_card_still_validates(texts: Texts) -> None:
    long_hostile = (HOSTILE * 200)[:10_000]
    view = make_view(
        reference="SS-2026-0042 **x**",
        subject_name=HOSTILE,
        reporter_display=HOSTILE,
        owner_name=HOSTILE,
        waited=HOSTILE,
        description=long_hostile,
        incident_when=HOSTILE,
        incident_where=HOSTILE,
        decision="channel",
        decision_reason=HOSTILE,
        decided_by=HOSTILE,
        decision_confirmed_by=HOSTILE,
        notes=((HOSTILE, HOSTILE, HOSTILE),),
        indicators=((HOSTILE, HOSTILE),),
        action_taken=HOSTILE,
        others_aware=HOSTILE,
        status="decided",
    )
    closed = dataclasses.replace(view, status="closed", outcome_note=HOSTILE)
    cards = [case_card(view, texts), case_card(closed, texts)]
    assert_valid_cards(*cards)
    for card in cards:
        assert json.loads(json.dumps(card)) == card
        for text in shown_texts(card):
            assert "[link](" not in text
            assert "${" not in text
            assert "**x**" not in text
            assert "\x07" not in text
        assert any("\\*\\*x\\*\\* \\[link\\]\\(http://evil\\.example\\) \\$\\{x\\}" in t for t in shown_texts(card))
        assert any("back\\\\slash" in t for t in shown_texts(card))
        assert any("🙂🚨 مرحبا שלום" in t for t in shown_texts(card))


# Size ------------------------------------------------------------------------------------------------------------

PROSE = "He said the tutors don't understand (again), and that people like him are right. " * 200


@pytest.mark.parametrize("filler", [PROSE, HOSTILE * 400, "🙂" * 20_000], ids=["prose", "hostile", "emoji"])
def test_the_biggest_possible_case_still_fits_in_a_teams_message(texts: Texts, filler: str) -> None:
    every_indicator = tuple((item.label, filler[:2000]) for item in Indicators.load(DEFAULT_CONTENT_DIR).items())
    view = state(
        "awaiting_director",
        subject_name=filler[:200],
        reporter_display=None,
        reporter_hidden=True,
        description=filler[:10_000],
        incident_when=filler[:500],
        incident_where=filler[:500],
        decision_reason=filler[:4000],
        notes=tuple(("Pat Example", "25 Nov, 15:00", filler[:4000]) for _ in range(5)),
        indicators=every_indicator,
        action_taken=filler[:4000],
        others_aware=filler[:1000],
        fears=filler[:4000],
        online_how=filler[:2000],
        other_agencies=filler[:1000],
        spoken_to="both",
        parents_told="not_applicable",
        incident_at=dt.datetime(2026, 11, 25, 12, 40, tzinfo=dt.UTC),
        reveals=tuple(("Pat Example", "25 Nov, 15:00") for _ in range(10)),
        mentions=(("aad-dso", filler[:200]), ("aad-deputy", "Chris Sample")),
    )
    card = case_card(view, texts)
    assert card_size(card) <= CARD_BUDGET_BYTES
    assert_valid_cards(card)


def test_an_ordinary_case_is_not_cut_to_fit(texts: Texts) -> None:
    view = make_view(description=PROSE[:1400], notes=(("Pat", "25 Nov", PROSE[:450]),))
    shown = shown_texts(case_card(view, texts))
    assert escape_markdown(PROSE[:1400]) in shown
    assert escape_markdown(PROSE[:450]) in shown


# Issue 16, items 8, 9 and 11 -------------------------------------------------------------------------------------


def all_facts(card: Card) -> dict[str, str]:
    return {f["title"]: f["value"] for obj in walk(card) if obj.get("type") == "FactSet" for f in obj["facts"]}


def test_a_staff_case_says_what_the_person_is_and_whose_account_it_is(texts: Texts) -> None:
    card = case_card(make_view(source="staff", about="learner"), texts)
    assert all_facts(card)["About"] == "A learner"
    shown = shown_texts(card)
    assert "What the member of staff saw or heard" in shown and "In their own words" not in shown
    learner = case_card(make_view(source="learner", about="learner"), texts)
    assert all_facts(learner)["About"] == "Another learner" and "In their own words" in shown_texts(learner)


@pytest.mark.parametrize(
    ("at", "known", "words", "shown"),
    [
        (dt.datetime(2026, 11, 25, 12, 40, tzinfo=dt.UTC), True, None, "Wed 25 Nov 2026, 12:40"),
        (dt.datetime(2026, 7, 1, 11, 30, tzinfo=dt.UTC), True, None, "Wed 1 Jul 2026, 12:30"),  # BST
        (dt.datetime(2026, 6, 30, 23, 0, tzinfo=dt.UTC), False, None, "Wed 1 Jul 2026"),  # midnight BST
        (dt.datetime(2026, 11, 25, 0, 0, tzinfo=dt.UTC), False, "after lunch", "Wed 25 Nov 2026 (after lunch)"),
        (None, None, "Last Tuesday", "Last Tuesday"),
    ],
)
def test_the_incident_day_and_time_are_shown_in_uk_time(
    texts: Texts, at: dt.datetime | None, known: bool | None, words: str | None, shown: str
) -> None:
    view = make_view(incident_at=at, incident_time_known=known, incident_when=words, incident_where=None)
    assert all_facts(case_card(view, texts))["When it happened"] == shown


def test_the_staff_forms_referral_answers_are_on_the_card(texts: Texts) -> None:
    view = make_view(
        source="staff",
        spoken_to="not_yet",
        parents_told="yes",
        fears="That he hurts someone.",
        online_how="Saw it on a shared screen.",
        other_agencies="Police Prevent team",
    )
    card = case_card(view, texts)
    answers = all_facts(card)
    assert answers["Spoken to the DSO or a director"] == "Not yet"
    assert answers["Parents or carers told (under 18)"] == "Yes"
    shown = shown_texts(card)
    for heading, text in (
        ("What they fear may happen", "That he hurts someone\\."),
        ("How the online activity came to light", "Saw it on a shared screen\\."),
        ("Other agencies involved", "Police Prevent team"),
    ):
        assert shown[shown.index(heading) + 1] == text


def test_a_reveal_is_shown_by_whom_and_when_never_the_name(texts: Texts) -> None:
    view = make_view(reporter_display=None, reporter_hidden=True, reveals=(("Pat Example", "Wed 25 Nov 2026, 15:10"),))
    card = case_card(view, texts)
    expected = texts.get("cards.case.revealed_to", who="Pat Example", when="Wed 25 Nov 2026, 15:10")
    assert any(expected.replace(".", "") in text.replace("\\", "").replace(".", "") for text in shown_texts(card))
    assert not any("Sam Learner" in text for text in shown_texts(card))


def test_mentions_are_teams_entities_whose_tags_are_on_the_card(texts: Texts) -> None:
    view = make_view(urgent=True, mentions=(("aad-dso", "Pat Example"), ("aad-deputy", "Chris <Sample>")))
    card = case_card(view, texts)
    entities = card["msteams"]["entities"]
    assert card["msteams"]["width"] == "Full"
    assert [(e["mentioned"]["id"], e["text"]) for e in entities] == [
        ("aad-dso", "<at>Pat Example</at>"),
        ("aad-deputy", "<at>Chris Sample</at>"),
    ]
    header = " ".join(shown_texts(card["body"][0]))
    assert all(e["text"] in header for e in entities)
    assert "entities" not in case_card(make_view(urgent=True), texts)["msteams"]


def test_the_confirm_button_says_it_is_the_directors(texts: Texts) -> None:
    [confirm] = [
        a for a in executes(case_card(state("awaiting_director"), texts)) if a["verb"] == Verb.CASE_CONFIRM_DECISION
    ]
    assert confirm["title"] == "Director confirms Channel referral"
