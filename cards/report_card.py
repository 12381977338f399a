"""The directors' report as an Adaptive Card: cases by category, status and decision, time to pick up, overdue and
escalated cases, Channel referrals and the British values quiz, for one period.

The charts are Teams' own chart elements (Chart.Donut, Chart.VerticalBar). Each carries a `fallback`: the same
figures as a table, so a client that cannot draw charts (an older Teams, the web renderer, a screen reader's
view) still shows every number. The card holds figures only: nobody's name and nothing anyone wrote.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Final

from cards.case_card import uk_time
from cards.case_queue_card import label
from cards.elements import Card, Element, adaptive_card, text_block
from content.texts import Texts
from storage.case_report import NO_DECISION, Count, ReportFigures

CHART_TYPES: Final = frozenset({"Chart.Donut", "Chart.VerticalBar"})


def _table(title: str, rows: Sequence[tuple[str, str]]) -> Element:
    """What a client without charts shows instead: a heading and a two-column table of the same figures."""
    return {
        "type": "Container",
        "items": [
            text_block(title, weight="Bolder"),
            {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in rows]},
        ],
    }


def donut(title: str, points: Sequence[tuple[str, int]]) -> Element:
    return {
        "type": "Chart.Donut",
        "title": title,
        "data": [{"legend": name, "value": value} for name, value in points],
        "fallback": _table(title, [(name, str(value)) for name, value in points]),
    }


def bar_chart(
    title: str, points: Sequence[tuple[str, float]], *, y_title: str, shown: Sequence[str] | None = None
) -> Element:
    values = [str(v) for _, v in points] if shown is None else list(shown)
    return {
        "type": "Chart.VerticalBar",
        "title": title,
        "yAxisTitle": y_title,
        "showBarValues": True,
        "data": [{"x": name, "y": value} for name, value in points],
        "fallback": _table(title, [(name, text) for (name, _), text in zip(points, values, strict=True)]),
    }


def _labelled(texts: Texts, prefix: str, counts: Sequence[Count]) -> list[tuple[str, int]]:
    out = []
    for count in counts:
        if prefix == "cards.case.decisions" and count.key == NO_DECISION:
            out.append((texts.get("records.report.decision_none"), count.count))
        else:
            out.append((label(texts, prefix, count.key), count.count))
    return out


def _minutes(texts: Texts, value: float | None) -> str:
    return texts.get("records.report.none") if value is None else texts.get("records.report.minutes", minutes=value)


def report_card(
    figures: ReportFigures, texts: Texts, *, period: str, generated: dt.datetime, intro: str | None = None
) -> Card:
    t = texts.get
    body: list[Element] = [
        text_block(t("records.report.title", period=period), size="Medium", weight="Bolder"),
    ]
    if intro:
        body.append(text_block(intro))
    body.append(text_block(t("records.report.intro"), is_subtle=True))
    body.append(
        {
            "type": "FactSet",
            "facts": [
                {"title": t("records.report.cases"), "value": str(figures.cases)},
                {"title": t("records.report.urgent"), "value": str(figures.urgent)},
                {"title": t("records.report.overdue"), "value": str(figures.overdue)},
                {"title": t("records.report.escalated"), "value": str(figures.escalated)},
            ],
        }
    )
    if figures.cases == 0:
        body.append(text_block(t("records.report.no_cases")))
    else:
        body.append(donut(t("records.report.by_category"), _labelled(texts, "cards.categories", figures.by_category)))
        body.append(
            bar_chart(
                t("records.report.by_status"),
                _labelled(texts, "cards.case.status", figures.by_status),
                y_title=t("records.report.count_axis"),
            )
        )
        body.append(
            bar_chart(
                t("records.report.by_decision"),
                _labelled(texts, "cards.case.decisions", figures.by_decision),
                y_title=t("records.report.count_axis"),
            )
        )
    body.append(text_block(t("records.report.acknowledge_heading"), weight="Bolder"))
    body.append(
        {
            "type": "FactSet",
            "facts": [
                {"title": t("records.report.acknowledged"), "value": str(figures.acknowledged)},
                {"title": t("records.report.median"), "value": _minutes(texts, figures.median_minutes_to_acknowledge)},
                {"title": t("records.report.p90"), "value": _minutes(texts, figures.p90_minutes_to_acknowledge)},
            ],
        }
    )
    body.append(text_block(t("records.report.channel_heading"), weight="Bolder"))
    body.append(
        {
            "type": "FactSet",
            "facts": [
                {"title": t("records.report.channel_referrals"), "value": str(figures.channel_referrals)},
                {"title": t("records.report.channel_confirmed"), "value": str(figures.channel_confirmed)},
            ],
        }
    )
    body.append(text_block(t("records.report.quiz_heading"), weight="Bolder"))
    body.append(
        {
            "type": "FactSet",
            "facts": [
                {"title": t("records.report.quiz_attempts"), "value": str(figures.quiz_attempts)},
                {"title": t("records.report.quiz_participants"), "value": str(figures.quiz_participants)},
            ],
        }
    )
    if figures.value_scores:
        body.append(
            bar_chart(
                t("records.report.value_scores"),
                [(label(texts, "quiz.values", s.value), s.percent) for s in figures.value_scores],
                y_title=t("records.report.percent_axis"),
                shown=[
                    t("records.report.value_line", percent=s.percent, answered=s.answered) for s in figures.value_scores
                ],
            )
        )
    else:
        body.append(text_block(t("records.report.no_quiz"), is_subtle=True))
    body.append(text_block(t("records.report.debates_heading"), weight="Bolder"))
    if figures.debates_by_value:
        facts = [{"title": debate_value(texts, c.key), "value": str(c.count)} for c in figures.debates_by_value]
        body.append({"type": "FactSet", "facts": facts})
    else:
        body.append(text_block(t("records.report.no_debates"), is_subtle=True))
    body.append(text_block(t("records.report.generated", when=uk_time(generated, texts)), is_subtle=True, size="Small"))
    return adaptive_card(body)


def debate_value(texts: Texts, key: str) -> str:
    """A British value's name, or what an untagged debate is called."""
    return texts.get("records.report.debates_untagged") if key == "untagged" else label(texts, "quiz.values", key)
