"""Issue 11's cards: the queue, a case's history and the directors' report, checked by the card checker. The
report's charts are Teams' Chart.* elements, which the checker accepts only with a fallback table."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest

from cards.case_history_card import HistoryOptions, history_card
from cards.case_queue_card import queue_card
from cards.report_card import report_card
from content.common import DEFAULT_CONTENT_DIR
from content.texts import Texts
from storage.case_report import Count, ReportFigures, ValueScore
from storage.case_views import HistoryPage, QueuePage, QueueRow
from storage.models import Case, CaseEvent
from tests.card_validator import assert_valid_cards, validate_cards
from tests.cards import HOSTILE, walk

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def texts() -> Texts:
    return Texts.load(DEFAULT_CONTENT_DIR)


def figures(**changes: object) -> ReportFigures:
    values: dict = {
        "start": NOW - dt.timedelta(days=30),
        "end": NOW,
        "cases": 14,
        "urgent": 3,
        "by_category": (Count("bullying", 8), Count("radicalisation", 4), Count("something_new", 2)),
        "by_status": (Count("closed", 9), Count("new", 5)),
        "by_decision": (Count("none", 6), Count("channel", 3), Count("police", 5)),
        "acknowledged": 12,
        "median_minutes_to_acknowledge": 14.5,
        "p90_minutes_to_acknowledge": 61.2,
        "overdue": 2,
        "escalated": 1,
        "channel_referrals": 3,
        "channel_confirmed": 2,
        "quiz_attempts": 40,
        "quiz_participants": 22,
        "value_scores": (ValueScore("democracy", 50, 41), ValueScore("rule_of_law", 30, 12)),
    }
    values.update(changes)
    return ReportFigures(**values)


def test_the_report_card_is_valid_with_charts_and_their_fallback_tables(texts: Texts) -> None:
    card = report_card(figures(), texts, period="October 2026", generated=NOW)
    empty = report_card(
        figures(cases=0, by_category=(), by_status=(), by_decision=(), value_scores=(), acknowledged=0,
                median_minutes_to_acknowledge=None, p90_minutes_to_acknowledge=None),
        texts, period="October 2026", generated=NOW,
    )  # fmt: skip
    assert_valid_cards(card, empty)
    charts = [e for e in walk(card) if str(e.get("type", "")).startswith("Chart.")]
    assert {c["type"] for c in charts} == {"Chart.Donut", "Chart.VerticalBar"}
    for chart in charts:
        # Each chart's fallback holds the same figures as a table.
        facts = [f for e in walk(chart["fallback"]) if e.get("type") == "FactSet" for f in e["facts"]]
        assert len(facts) == len(chart["data"])
    donut = next(c for c in charts if c["type"] == "Chart.Donut")
    assert donut["data"][0] == {"legend": "Bullying, harassment or hate", "value": 8}
    values = next(c for c in charts if "British value" in c["title"])
    assert [p["y"] for p in values["data"]] == [82.0, 40.0]


def test_the_checker_refuses_a_chart_without_fallback_or_with_bad_data(texts: Texts) -> None:
    card = report_card(figures(), texts, period="October 2026", generated=NOW)
    index = next(i for i, e in enumerate(card["body"]) if e.get("type") == "Chart.Donut")
    no_fallback = copy.deepcopy(card)
    del no_fallback["body"][index]["fallback"]
    bad_data = copy.deepcopy(card)
    bad_data["body"][index]["data"][0] = {"legend": "x", "value": "eight"}
    bad_fallback = copy.deepcopy(card)
    bad_fallback["body"][index]["fallback"]["items"][0]["size"] = "Enormous"
    unknown = copy.deepcopy(card)
    unknown["body"][index]["type"] = "Chart.Bogus"
    good, *bad = validate_cards([card, no_fallback, bad_data, bad_fallback, unknown])
    assert good.ok  # the checker hands the library each chart's fallback in its place
    assert [r.ok for r in bad] == [False, False, False, False]
    assert any("ChartFallback" in e for e in bad[0].errors)
    assert any("ChartData" in e for e in bad[1].errors)
    assert any("Enormous" in e for e in bad[2].errors)
    assert any("Chart.Bogus" in e for e in bad[3].errors)


def _case(**changes: object) -> Case:
    values: dict = {
        "id": 42,
        "reference": "SS-2026-0042",
        "source": "learner",
        "category": "radicalisation",
        "about": "learner",
        "description": HOSTILE,
        "reporter_aad_id": "aaaa",
        "reporter_name": "Alex Learner",
        "reporter_hidden": True,
        "reporter_conversation_id": "a:1on1",
        "status": "awaiting_director",
        "owner_name": HOSTILE,
        "decision": "channel",
        "decided_by": "Claire Lewis",
        "created_at": NOW - dt.timedelta(days=2),
        "version": 5,
    }
    values.update(changes)
    return Case(**values)


def test_queue_and_history_escape_what_people_wrote_and_hide_a_hidden_reporter(texts: Texts) -> None:
    row = QueueRow(
        42, "SS-2026-0042", "radicalisation", "new", True, True, NOW - dt.timedelta(hours=3), HOSTILE, "x", 1
    )
    queue = queue_card(QueuePage((row,), total=31, overdue=1, page=1, page_size=10), texts, now=NOW, mine=False)
    case = _case()
    events = tuple(
        CaseEvent(id=n, case_id=42, at=NOW - dt.timedelta(hours=10 - n), actor_aad_id=aad, actor_name=name, kind=kind,
                  detail=json.dumps(detail))
        for n, (aad, name, kind, detail) in enumerate([
            ("AAAA", "Alex Learner", "created", {}),
            ("dso", "Claire Lewis", "note", {"text": HOSTILE * 40}),
            ("dso", "Claire Lewis", "decision_proposed", {"decision": "channel", "reason": HOSTILE}),
            ("AAAA", "Alex Learner", "reporter_added", {"text": "and another thing"}),
        ])
    )  # fmt: skip
    history = history_card(HistoryPage(case, events, total=40, page=0, page_size=4), texts, HistoryOptions(True))
    assert_valid_cards(queue, history)
    for card in (queue, history):
        raw = json.dumps(card)
        assert "**x**" not in raw and "[link](" not in raw and "\u202e" not in raw
    raw = json.dumps(history)
    assert "Alex" not in raw, "a reporter who asked not to be named is not named by the history either"
    assert "Not confirmed yet" in raw and "Events 1 to 4 of 40" in raw and "More history (36 more)" in raw
    assert "shortened here" in raw, "a long note is cut visibly, never silently"
    assert "Showing 11 to 11 of 31" in json.dumps(queue) and "Previous" in json.dumps(queue)
