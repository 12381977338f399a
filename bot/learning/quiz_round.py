"""The rules of a live quiz round, with no Teams and no database: what "start quiz ..." asks for, the names the cards
show, the places on the leaderboard, and what each move of the round changes.

A round moves lobby -> question -> closed -> question ... -> finished; storage.live_quiz keeps its state (every move
a compare-and-swap on the quiz's version) and bot.learning.live_quiz is the Teams service that runs it.

Scoring is Kahoot's: a correct answer earns round((1 - (response_time / timer) / 2) * 1000) points, a wrong or
missing one 0 (storage.live_quiz.kahoot_points). Places use standard competition ranking, so ties share a place
and the next place is skipped (1, 1, 3).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from cards.live_quiz_card import FROM_CLOSED, FROM_QUESTION, LOBBY_SLOT, Standing
from content.quiz_bank import QuizValue
from storage.live_quiz import CLOSED, LOBBY, NAMES_FIRST, NAMES_NICKNAMES, QUESTION, LiveQuiz, LiveQuizParticipant

DEFAULT_QUESTIONS: Final = 5
MAX_QUESTIONS: Final = 10
DEFAULT_SECONDS: Final = 20
MIN_SECONDS: Final = 10
MAX_SECONDS: Final = 60
MIXED: Final = "mixed"


# Reading "start quiz ..." ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StartOptions:
    value: QuizValue | None  # None: mixed
    questions: int = DEFAULT_QUESTIONS
    seconds: int = DEFAULT_SECONDS
    names: str = NAMES_FIRST


class StartError(ValueError):
    """What the trainer typed cannot start a quiz; `key` and `values` say why, in the wording file's terms."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


_VALUE_PHRASES: Final = (
    ("mutual respect and tolerance", QuizValue.MUTUAL_RESPECT),
    ("mutual respect", QuizValue.MUTUAL_RESPECT),
    ("rule of law", QuizValue.RULE_OF_LAW),
    ("individual liberty", QuizValue.INDIVIDUAL_LIBERTY),
    ("liberty", QuizValue.INDIVIDUAL_LIBERTY),
    ("democracy", QuizValue.DEMOCRACY),
    ("mixed", None),
    ("mix", None),
)
_NAME_PHRASES: Final = (
    ("nicknames", NAMES_NICKNAMES),
    ("nickname", NAMES_NICKNAMES),
    ("first names", NAMES_FIRST),
    ("first name", NAMES_FIRST),
    ("names", NAMES_FIRST),
)
_SECONDS_WORDS: Final = frozenset({"s", "sec", "secs", "second", "seconds"})
_COUNT_WORDS: Final = frozenset({"q", "qs", "question", "questions"})
_NUMBER_WITH_UNIT = re.compile(r"^(\d+)([a-z]+)$")
# Words people naturally put around the options ("5 questions of 30 seconds each, with nicknames").
_FILLER: Final = frozenset(
    {"a", "an", "the", "and", "with", "of", "on", "about", "each", "per", "for", "quiz", "using", "use", "timer"}
)


def parse_start(rest: str) -> StartOptions:
    """Read the value, question count, seconds per question and names option, in any order."""
    said = " " + re.sub(r"[,;]+", " ", rest.lower()) + " "
    value: QuizValue | None = None
    for phrase, found in _VALUE_PHRASES:
        if f" {phrase} " in said:
            value = found
            said = said.replace(f" {phrase} ", " ", 1)
            break
    names = NAMES_FIRST
    for phrase, mode in _NAME_PHRASES:
        if f" {phrase} " in said:
            names = mode
            said = said.replace(f" {phrase} ", " ", 1)
            break
    tokens = said.split()
    count: int | None = None
    seconds: int | None = None
    unknown: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        number: int | None = None
        unit: str | None = None
        if token.isdigit():
            number = int(token)
            if i + 1 < len(tokens) and tokens[i + 1] in _SECONDS_WORDS | _COUNT_WORDS:
                unit = tokens[i + 1]
                i += 1
        elif (match := _NUMBER_WITH_UNIT.match(token)) and match[2] in _SECONDS_WORDS | _COUNT_WORDS:
            number, unit = int(match[1]), match[2]
        elif token not in _FILLER and token not in _COUNT_WORDS:
            unknown.append(token)
        if number is not None:
            if unit in _SECONDS_WORDS or (unit is None and count is not None and seconds is None):
                if seconds is not None:
                    unknown.append(token)
                seconds = number
            elif count is None:
                count = number
            else:
                unknown.append(token)
        i += 1
    if unknown:
        raise StartError("not_understood", words=" ".join(unknown))
    count = DEFAULT_QUESTIONS if count is None else count
    seconds = DEFAULT_SECONDS if seconds is None else seconds
    if not 1 <= count <= MAX_QUESTIONS:
        raise StartError("bad_count", most=MAX_QUESTIONS)
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise StartError("bad_seconds", least=MIN_SECONDS, most=MAX_SECONDS)
    return StartOptions(value=value, questions=count, seconds=seconds, names=names)


# Names and places -----------------------------------------------------------------------------------------------


def nickname(user_key: str, colours: Sequence[str], animals: Sequence[str]) -> str:
    """A friendly pseudonym ("Blue Otter") that is always the same for the same person."""
    number = int.from_bytes(hashlib.sha256(user_key.encode()).digest()[:8], "big")
    return f"{colours[number % len(colours)]} {animals[(number // len(colours)) % len(animals)]}"


def first_name(display_name: str | None) -> str:
    words = (display_name or "").split()
    return words[0] if words else "?"


def competition_ranking(points_by_name: Iterable[tuple[str, int]]) -> list[Standing]:
    """Highest first; equal points share a place and the places after them are skipped (1, 1, 3)."""
    ordered = sorted(points_by_name, key=lambda entry: (-entry[1], entry[0].casefold(), entry[0]))
    standings: list[Standing] = []
    for position, (name, points) in enumerate(ordered, start=1):
        place = standings[-1].place if standings and standings[-1].points == points else position
        standings.append(Standing(place=place, name=name, points=points))
    return standings


def shown_name(quiz: LiveQuiz, participant: LiveQuizParticipant, colours: Sequence[str], animals: Sequence[str]) -> str:
    if quiz.names == NAMES_NICKNAMES:
        return nickname(participant.user_key, colours, animals)
    return participant.first_name


def shown_names(
    quiz: LiveQuiz, people: Sequence[LiveQuizParticipant], colours: Sequence[str], animals: Sequence[str]
) -> dict[int, str]:
    """Each participant's shown name; a second "Alex" (or "Blue Otter") becomes "Alex 2", in joining order."""
    shown: dict[int, str] = {}
    seen: dict[str, int] = {}
    for person in sorted(people, key=lambda p: p.id or 0):
        base = shown_name(quiz, person, colours, animals)
        seen[base.casefold()] = seen.get(base.casefold(), 0) + 1
        number = seen[base.casefold()]
        shown[person.id or 0] = base if number == 1 else f"{base} {number}"
    return shown


# Moving the round on -------------------------------------------------------------------------------------------

# What the trainer's "next" button asks for: close the open question, open the next one, or finish after the last.
NextMove = Literal["close", "open_next", "finish"]


def next_move(quiz: LiveQuiz, index: int, moving_from: object) -> NextMove | None:
    """What "next" pressed on question `index`'s card does now; None when the round has already moved on.

    The button says which it means (`moving_from`), so a retried or double press cannot skip a question.
    """
    if quiz.question_index != index:
        return None
    if moving_from == FROM_QUESTION and quiz.state == QUESTION:
        return "close"
    if moving_from == FROM_CLOSED and quiz.state == CLOSED:
        return "open_next" if index + 1 < len(quiz.questions()) else "finish"
    return None


# Cards ----------------------------------------------------------------------------------------------------------

CardKey = tuple[int, int]  # (quiz id, slot): LOBBY_SLOT or a question index


def lobby_key(quiz_id: int) -> str:
    return f"live-quiz:{quiz_id}:lobby"


def question_key(quiz_id: int, index: int) -> str:
    return f"live-quiz:{quiz_id}:q{index}"


def posted_key(quiz_id: int, slot: int) -> str:
    return lobby_key(quiz_id) if slot == LOBBY_SLOT else question_key(quiz_id, slot)


def transition_cards(quiz: LiveQuiz) -> list[CardKey]:
    """The cards that look different after the quiz entered its current state (new cards are posted anew)."""
    assert quiz.id is not None
    lobby: CardKey = (quiz.id, LOBBY_SLOT)
    index = quiz.question_index
    if quiz.state == LOBBY:
        return [lobby]
    if quiz.state == QUESTION:
        return [lobby] if index == 0 else [(quiz.id, index - 1)]
    if quiz.state == CLOSED:
        return [(quiz.id, index)]
    return [lobby, (quiz.id, index)] if index >= 0 else [lobby]
