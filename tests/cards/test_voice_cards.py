"""The learner-voice cards: every variant validates with the card checker; names never appear; small counts masked."""

from __future__ import annotations

import pytest

from cards.debate_card import DebateView, debate_card, shift_text
from cards.survey_card import (
    QuestionResult,
    QuestionView,
    ResultsView,
    done_card,
    question_card,
    results_card,
    shown_count,
)
from content.common import DEFAULT_CONTENT_DIR
from content.surveys import SurveyBook
from content.texts import Texts
from tests.card_validator import assert_valid_cards, validate_cards
from tests.rig.safeguarding import card_text

TEXTS = Texts.load(DEFAULT_CONTENT_DIR)
BOOK = SurveyBook.load()


def test_every_question_of_every_survey_validates() -> None:
    cards = []
    for survey in BOOK:
        for number, question in enumerate(survey.questions, start=1):
            view = QuestionView(1, survey, question, number, first_screen=number == 1, closes="Friday")
            cards.append(question_card(view, TEXTS))
        cards += [done_card(survey, TEXTS), done_card(survey, TEXTS, closed=True)]
    assert_valid_cards(*cards)
    assert "with your name" in card_text(cards[0])


def test_results_mask_small_groups_and_chart_the_rest() -> None:
    survey = BOOK.get("british_values")
    assert survey is not None
    q = survey.questions
    view = ResultsView(
        survey=survey,
        invited=30,
        respondents=12,
        closes="Friday",
        closed=True,
        questions=(
            QuestionResult(q[0], 12, (0, 1, 3, 4, 4)),
            QuestionResult(q[1], 3, (0, 0, 1, 1, 1)),
            QuestionResult(q[2], 12, (4, 3, 2, 2, 1)),
            QuestionResult(q[3], 0, (0, 0, 0, 0, 0)),
            QuestionResult(q[4], 2, (), comments=2, flagged=0),
        ),
    )
    card = results_card(view, TEXTS)
    assert_valid_cards(card)
    text = card_text(card)
    assert text.count("Fewer than 5 people answered this question") == 2
    assert "fewer than 5 comments" in text
    kinds = [e["type"] for c in card["body"] if c["type"] == "Container" for e in c["items"]]
    assert kinds.count("Chart.VerticalBar") == 1 and kinds.count("Chart.Donut") == 1
    assert [shown_count(n, TEXTS) for n in (0, 1, 4, 5)] == ["0", "fewer than 5", "fewer than 5", "5"]


def test_a_chart_without_a_fallback_fails_the_checker() -> None:
    card = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "Chart.Donut", "data": [{"value": 1}]}]}
    [result] = validate_cards([card])
    assert not result.ok and any("fallback" in e and "Chart.Donut" in e for e in result.errors)


@pytest.mark.parametrize("round_, ended", [(1, False), (2, False), (2, True), (1, True)])
def test_debate_cards_validate_and_escape_the_motion(round_: int, ended: bool) -> None:
    view = DebateView(
        debate_id=3,
        motion="**Bold** [link](http://example.com) ${x}",
        value_label=None,
        round=round_,
        ended=ended,
        before={"for": 3, "against": 1, "undecided": 0},
        after={"for": 1, "against": 3, "undecided": 0} if round_ == 2 else None,
    )
    card = debate_card(view, TEXTS)
    assert_valid_cards(card)
    motion = card["body"][1]["text"]
    assert motion.startswith("\\*\\*Bold") and "\\[link\\]" in motion and "\\$" in motion
    assert ("debate.vote_again" in str(card.get("actions"))) == (round_ == 1 and not ended)


def test_shift_is_in_percentage_points() -> None:
    assert shift_text({"for": 1, "against": 1}, {"for": 3, "against": 1}, "for") == "+25 pts"
    assert shift_text({"for": 0}, {"for": 0}, "for") == "0 pts"
