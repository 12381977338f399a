"""Cards for the live quiz: the lobby, each question (open, then with its results), and the podium.

Teams does not reliably refresh a card on its own, so nothing here counts down: a question card shows its
close time, and the bot redraws the card when something changes. Answer buttons carry the quiz id and question
number, so a press on an old card is refused by the bot rather than counted against the wrong question.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo

from cards.elements import Action, Card, Element, adaptive_card, execute, text_block
from cards.escape import escape_markdown
from cards.verbs import Verb
from content.texts import Texts

UK_TIME: Final = ZoneInfo("Europe/London")
LETTERS: Final = "ABCDEF"
# The official renderer's default host config allows five actions in any one set, and Teams six: five suits both.
MAX_ACTIONS_PER_SET: Final = 5
ANSWER_BUTTONS_PER_ROW: Final = 4
LOBBY_NAMES_SHOWN: Final = 40
LEADERBOARD_SHOWN: Final = 5
PODIUM_LEADERBOARD_SHOWN: Final = 10
NAMES_PER_PLACE: Final = 8

# What the trainer's buttons say they are moving on from, so a retried or stale press does nothing twice.
FROM_QUESTION: Final = "question"
FROM_CLOSED: Final = "closed"
LOBBY_SLOT: Final = -1


@dataclass(frozen=True, slots=True)
class Standing:
    place: int  # standard competition ranking: 1, 1, 3
    name: str  # as stored: escaped here
    points: int


@dataclass(frozen=True, slots=True)
class QuizHeader:
    quiz_id: int
    topic: str
    questions: int
    seconds: int
    trainer: str | None


@dataclass(frozen=True, slots=True)
class LobbyView:
    header: QuizHeader
    state: str  # lobby | running | finished
    joined: tuple[str, ...]
    nicknames: bool


@dataclass(frozen=True, slots=True)
class QuestionView:
    header: QuizHeader
    index: int
    topic: str  # the question's own value, which matters in a mixed quiz
    stem: str
    options: tuple[str, ...]
    deadline: dt.datetime
    answered: int
    participants: int
    controls: bool  # whether the trainer's buttons belong on this card (it is the current one)


@dataclass(frozen=True, slots=True)
class ResultsView:
    header: QuizHeader
    index: int
    stem: str
    options: tuple[str, ...]
    counts: tuple[int, ...]
    answer: int
    explanation: str
    standings: tuple[Standing, ...]
    controls: bool  # Next and End, only while this is the question the quiz is on
    last: bool


@dataclass(frozen=True, slots=True)
class PodiumView:
    header: QuizHeader
    standings: tuple[Standing, ...]
    took_part: int
    answered: int = 0  # answers given in the whole quiz: says whether nobody answered or nobody was right
    asked: int = 0  # questions put to the group; fewer than the header's when the trainer ended it early


def _t(texts: Texts, key: str, **values: object) -> str:
    return texts.get(f"live_quiz.cards.{key}", **values)


def questions_phrase(count: int, texts: Texts) -> str:
    """The count and its noun, from the wording file: "1 question", "5 questions"."""
    return texts.plural("live_quiz.cards.questions", count)


def ordinal(place: int, texts: Texts) -> str:
    key = "other"
    if place % 100 not in (11, 12, 13):
        key = {1: "first", 2: "second", 3: "third"}.get(place % 10, "other")
    return _t(texts, "ordinal", place=place, suffix=_t(texts, f"ordinal_suffixes.{key}"))


def uk_clock(moment: dt.datetime, texts: Texts) -> str:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
    return _t(texts, "deadline_format", when=aware.astimezone(UK_TIME))


def _head(header: QuizHeader, texts: Texts) -> Element:
    items: list[Element] = [
        text_block(_t(texts, "title"), size="Large", weight="Bolder"),
        text_block(
            _t(
                texts,
                "topic",
                topic=escape_markdown(header.topic),
                questions=questions_phrase(header.questions, texts),
                seconds=header.seconds,
            ),
            is_subtle=True,
        ),
    ]
    if header.trainer:
        items.append(
            text_block(_t(texts, "host", trainer=escape_markdown(header.trainer)), is_subtle=True, size="Small")
        )
    return {"type": "Container", "style": "emphasis", "bleed": True, "items": items}


def _end_action(header: QuizHeader, texts: Texts, slot: int) -> Action:
    return execute(
        _t(texts, "end"), Verb.LIVE_QUIZ_END, {"quiz_id": header.quiz_id, "question_index": slot}, style="destructive"
    )


def _names(names: Sequence[str], shown: int, texts: Texts) -> str:
    listed = ", ".join(escape_markdown(name) for name in names[:shown])
    if len(names) > shown:
        listed += ", " + _t(texts, "lobby.more", count=len(names) - shown)
    return listed


# The lobby ---------------------------------------------------------------------------------------------------


def lobby_card(view: LobbyView, texts: Texts) -> Card:
    body: list[Element] = [_head(view.header, texts)]
    actions: list[Action] = []
    if view.state == "lobby":
        body.append(text_block(_t(texts, "lobby.intro")))
        if view.nicknames:
            body.append(text_block(_t(texts, "lobby.nicknames"), is_subtle=True, size="Small"))
        if view.joined:
            names = _names(view.joined, LOBBY_NAMES_SHOWN, texts)
            body.append(text_block(_t(texts, "lobby.joined", count=len(view.joined), names=names)))
        else:
            body.append(text_block(_t(texts, "lobby.joined_none"), is_subtle=True))
        data = {"quiz_id": view.header.quiz_id}
        actions = [
            execute(_t(texts, "lobby.join"), Verb.LIVE_QUIZ_JOIN, dict(data), style="positive"),
            execute(_t(texts, "lobby.begin"), Verb.LIVE_QUIZ_BEGIN, dict(data)),
            _end_action(view.header, texts, LOBBY_SLOT),
        ]
    elif view.state == "running":
        body.append(text_block(_t(texts, "lobby.running")))
    else:
        body.append(text_block(_t(texts, "lobby.finished"), weight="Bolder"))
    return adaptive_card(body=body, actions=actions)


# A question, open ---------------------------------------------------------------------------------------------


def question_card(view: QuestionView, texts: Texts) -> Card:
    header = view.header
    body: list[Element] = [
        text_block(
            _t(
                texts,
                "question.heading",
                number=view.index + 1,
                total=header.questions,
                topic=escape_markdown(view.topic),
            ),
            is_subtle=True,
        ),
        text_block(escape_markdown(view.stem), size="Medium", weight="Bolder"),
    ]
    body += [
        text_block(_t(texts, "question.option", letter=LETTERS[i], text=escape_markdown(option)))
        for i, option in enumerate(view.options)
    ]
    # Answer buttons sit in the body, in rows, so a six-option question and the trainer's buttons both fit.
    buttons = [
        execute(
            LETTERS[i],
            Verb.LIVE_QUIZ_ANSWER,
            {"quiz_id": header.quiz_id, "question_index": view.index, "option": i},
        )
        for i in range(len(view.options))
    ]
    for start in range(0, len(buttons), ANSWER_BUTTONS_PER_ROW):
        body.append({"type": "ActionSet", "actions": buttons[start : start + ANSWER_BUTTONS_PER_ROW]})
    body.append(
        text_block(_t(texts, "question.timing", seconds=header.seconds, deadline=uk_clock(view.deadline, texts)))
    )
    if view.answered:
        answered = texts.plural("live_quiz.cards.question.answered", view.answered, participants=view.participants)
        body.append(text_block(answered))
    else:
        body.append(text_block(_t(texts, "question.answered_none"), is_subtle=True))
    body.append(text_block(_t(texts, "question.no_refresh"), is_subtle=True, size="Small"))
    actions: list[Action] = []
    if view.controls:
        actions = [
            execute(
                _t(texts, "question.close"),
                Verb.LIVE_QUIZ_NEXT,
                {"quiz_id": header.quiz_id, "question_index": view.index, "from": FROM_QUESTION},
            ),
            _end_action(header, texts, view.index),
        ]
    return adaptive_card(body=body, actions=actions)


# A question, closed -------------------------------------------------------------------------------------------


def _percent(part: int, whole: int) -> int:
    return round(100 * part / whole) if whole else 0


def _leaderboard(standings: Sequence[Standing], shown: int, texts: Texts) -> Element:
    return {
        "type": "FactSet",
        "facts": [
            {
                "title": ordinal(s.place, texts),
                "value": _t(texts, "results.entry", name=escape_markdown(s.name), points=f"{s.points:,}"),
            }
            for s in standings[:shown]
        ],
    }


def results_card(view: ResultsView, texts: Texts) -> Card:
    header = view.header
    answered = sum(view.counts)
    body: list[Element] = [
        text_block(_t(texts, "results.heading", number=view.index + 1, total=header.questions), is_subtle=True),
        text_block(escape_markdown(view.stem), size="Medium", weight="Bolder"),
    ]
    for i, option in enumerate(view.options):
        count = view.counts[i] if i < len(view.counts) else 0
        values = {
            "letter": LETTERS[i],
            "text": escape_markdown(option),
            "count": count,
            "percent": _percent(count, answered),
        }
        if i == view.answer:
            body.append(text_block(_t(texts, "results.correct_option", **values), weight="Bolder", color="Good"))
        else:
            body.append(text_block(_t(texts, "results.option", **values)))
    correct = view.counts[view.answer] if view.answer < len(view.counts) else 0
    body += [
        text_block(
            _t(texts, "results.answer", letter=LETTERS[view.answer], text=escape_markdown(view.options[view.answer])),
            weight="Bolder",
        ),
        text_block(_t(texts, "results.explanation", explanation=escape_markdown(view.explanation))),
        text_block(
            _t(texts, "results.summary", answered=answered, correct=correct)
            if answered
            else _t(texts, "results.summary_none"),
            is_subtle=True,
        ),
        {**text_block(_t(texts, "results.leaderboard"), weight="Bolder"), "separator": True},
    ]
    if view.standings:
        body.append(_leaderboard(view.standings, LEADERBOARD_SHOWN, texts))
    else:
        body.append(text_block(_t(texts, "results.leaderboard_none"), is_subtle=True))
    actions: list[Action] = []
    if view.controls:
        actions = [
            execute(
                _t(texts, "results.podium" if view.last else "results.next"),
                Verb.LIVE_QUIZ_NEXT,
                {"quiz_id": header.quiz_id, "question_index": view.index, "from": FROM_CLOSED},
                style="positive",
            ),
            _end_action(header, texts, view.index),
        ]
    return adaptive_card(body=body, actions=actions)


# The podium ---------------------------------------------------------------------------------------------------


def podium_card(view: PodiumView, texts: Texts) -> Card:
    body: list[Element] = [
        _head(view.header, texts),
        text_block(_t(texts, "podium.title"), size="Large", weight="Bolder"),
    ]
    scored = [s for s in view.standings if s.points > 0]
    if not scored:
        # Answers that were all wrong are still taking part: say so kindly, never "nobody answered".
        body.append(text_block(_t(texts, "podium.nobody_right" if view.answered else "podium.nobody_answered")))
    medals = {1: "first", 2: "second", 3: "third"}
    for place in sorted({s.place for s in scored if s.place <= 3}):
        at_place = [s for s in scored if s.place == place]
        body.append(
            text_block(
                _t(
                    texts,
                    "podium.place_line",
                    medal=_t(texts, f"podium.medals.{medals[place]}"),
                    place=ordinal(place, texts),
                    names=_names([s.name for s in at_place], NAMES_PER_PLACE, texts),
                    points=f"{at_place[0].points:,}",  # a shared place means the same points
                ),
                size="Medium",
                weight="Bolder" if place == 1 else None,
            )
        )
    if view.standings:
        body.append({**text_block(_t(texts, "podium.leaderboard"), weight="Bolder"), "separator": True})
        body.append(_leaderboard(view.standings, PODIUM_LEADERBOARD_SHOWN, texts))
    if 0 < view.asked < view.header.questions:
        ended = _t(texts, "podium.ended_early", questions=questions_phrase(view.asked, texts))
        body.append(text_block(ended, is_subtle=True))
    if view.took_part:
        body.append(text_block(_t(texts, "podium.took_part", count=view.took_part), is_subtle=True))
    return adaptive_card(body=body)
