"""Cards for pulse surveys: one question at a time in a learner's 1:1 chat, and the results for directors and the DSO.

A question card answers itself: each button is an Action.Execute carrying the survey run and question, and the
bot's reply to the press is the next question's card (or the thank-you), so the learner can stop and come back
later. The first screen says how answers are kept, and the one case in which a name goes with them.

The results card draws a chart per question with Teams' Chart.VerticalBar (a 1-5 scale) or Chart.Donut (a choice);
each chart carries a table as its fallback, for clients without charts. Any question fewer than five people
answered shows "fewer than 5" and nothing else, so a small group's answers cannot be told apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from cards.elements import Card, Element, adaptive_card, execute, text_block
from cards.verbs import Verb
from content.surveys import CHOICE, SCALE, Survey, SurveyQuestion
from content.texts import Texts

MASK_BELOW: Final = 5
COMMENT_INPUT: Final = "comment"


def _t(texts: Texts, key: str, **values: object) -> str:
    return texts.get(f"voice.surveys.card.{key}", **values)


@dataclass(frozen=True, slots=True)
class QuestionView:
    run_id: int
    survey: Survey
    question: SurveyQuestion
    number: int  # 1-based, of the questions still to answer plus those answered
    first_screen: bool  # the privacy notice goes on the first card a learner sees
    closes: str  # already worded


def _answer(view: QuestionView, title: str, **data: object) -> dict[str, object]:
    return execute(title, Verb.SURVEY_ANSWER, {"run_id": view.run_id, "question_id": view.question.id, **data})


def question_card(view: QuestionView, texts: Texts) -> Card:
    survey, question = view.survey, view.question
    body: list[Element] = [text_block(survey.title, size="Medium", weight="Bolder")]
    if view.first_screen:
        body.append(text_block(survey.intro))
        body.append(
            {
                "type": "Container",
                "style": "emphasis",
                "items": [text_block(_t(texts, "first_screen"), size="Small")],
            }
        )
    body.append(
        text_block(_t(texts, "progress", number=view.number, total=len(survey.questions)), size="Small", is_subtle=True)
    )
    body.append(text_block(question.prompt, weight="Bolder"))
    actions: list[dict[str, object]] = []
    if question.kind == SCALE:
        body.append(text_block(_t(texts, "scale_hint", low=question.low, high=question.high), size="Small"))
        actions = [_answer(view, str(n), value=n) for n in range(1, 6)]
    elif question.kind == CHOICE:
        # One button a line: choices are phrases, and five of them side by side would be cut off on a phone.
        body.append(
            {
                "type": "ActionSet",
                "actions": [_answer(view, option, value=index) for index, option in enumerate(question.options)],
            }
        )
    else:
        body.append(
            {
                "type": "Input.Text",
                "id": COMMENT_INPUT,
                "isMultiline": True,
                "maxLength": 2000,
                "placeholder": _t(texts, "comment_placeholder"),
                "label": question.prompt,
            }
        )
        actions = [_answer(view, _t(texts, "send")), _answer(view, _t(texts, "skip"), skip=True)]
    if question.kind == CHOICE:
        actions = [_answer(view, _t(texts, "skip"), skip=True)]
    elif question.kind == SCALE:
        body.append({"type": "ActionSet", "actions": actions})
        actions = [_answer(view, _t(texts, "skip"), skip=True)]
    body.append(text_block(_t(texts, "typing_hint") + " " + _t(texts, "closes", closes=view.closes), size="Small"))
    return adaptive_card(body, actions)


def done_card(survey: Survey, texts: Texts, *, closed: bool = False) -> Card:
    return adaptive_card(
        [
            text_block(survey.title if closed else _t(texts, "done_title"), size="Medium", weight="Bolder"),
            text_block(_t(texts, "closed" if closed else "done", title=survey.title)),
        ]
    )


@dataclass(frozen=True, slots=True)
class QuestionResult:
    question: SurveyQuestion
    respondents: int  # who answered it (not skipped)
    counts: tuple[int, ...]  # per scale point (1-5) or per option; empty for free text
    comments: int = 0
    flagged: int = 0


@dataclass(frozen=True, slots=True)
class ResultsView:
    survey: Survey
    invited: int
    respondents: int
    closes: str
    closed: bool
    questions: Sequence[QuestionResult]


def shown_count(count: int, texts: Texts) -> str:
    """A count as the card shows it: below five it is "fewer than 5" (nought stays nought: it identifies nobody)."""
    return _t(texts, "fewer_than_five") if 0 < count < MASK_BELOW else str(count)


def _labels(result: QuestionResult) -> list[str]:
    if result.question.kind == SCALE:
        return [str(n) for n in range(1, 6)]
    return list(result.question.options)


def _table(result: QuestionResult, texts: Texts) -> Element:
    def row(cells: Sequence[str], bold: bool = False) -> Element:
        return {
            "type": "TableRow",
            "cells": [
                {"type": "TableCell", "items": [text_block(cell, weight="Bolder" if bold else None)]} for cell in cells
            ],
        }

    rows = [row([_t(texts, "option"), _t(texts, "count")], bold=True)]
    rows += [row([label, str(count)]) for label, count in zip(_labels(result), result.counts, strict=True)]
    return {"type": "Table", "columns": [{"width": 3}, {"width": 1}], "firstRowAsHeader": True, "rows": rows}


def _chart(result: QuestionResult, texts: Texts) -> Element:
    labels = _labels(result)
    if result.question.kind == SCALE:
        chart: Element = {
            "type": "Chart.VerticalBar",
            "title": result.question.prompt,
            "data": [{"x": label, "y": count} for label, count in zip(labels, result.counts, strict=True)],
        }
    else:
        chart = {
            "type": "Chart.Donut",
            "title": result.question.prompt,
            "data": [{"legend": label, "value": count} for label, count in zip(labels, result.counts, strict=True)],
        }
    chart["fallback"] = _table(result, texts)
    return chart


def results_card(view: ResultsView, texts: Texts) -> Card:
    survey = view.survey
    summary = "results_summary_closed" if view.closed else "results_summary"
    body: list[Element] = [
        text_block(_t(texts, "results_title", title=survey.title), size="Medium", weight="Bolder"),
        text_block(
            _t(
                texts,
                summary,
                respondents=shown_count(view.respondents, texts),
                invited=view.invited,
                closes=view.closes,
            )
        ),
    ]
    for number, result in enumerate(view.questions, start=1):
        items: list[Element] = [
            text_block(f"{number}. {result.question.prompt}", weight="Bolder"),
            text_block(
                _t(texts, "answered", count=shown_count(result.respondents, texts)), size="Small", is_subtle=True
            ),
        ]
        if result.question.kind in (SCALE, CHOICE):
            if result.respondents < MASK_BELOW:
                items.append(text_block(_t(texts, "question_masked"), size="Small"))
            else:
                items.append(_chart(result, texts))
        else:
            items.append(text_block(_t(texts, "comments", count=shown_count(result.comments, texts), name=survey.name)))
            if result.flagged:
                items.append(
                    text_block(_t(texts, "comments_flagged", count=shown_count(result.flagged, texts)), size="Small")
                )
        body.append({"type": "Container", "separator": True, "spacing": "Medium", "items": items})
    return adaptive_card(body)
