"""The fundamental British values quiz: question bank, loader and answer matching.

Questions live in `content/quiz/<value>.yaml`, one file per value, so staff can edit or retire a question
without touching code. Everything is checked at load time: a bad file stops the bot starting rather
than showing a learner a wrong answer.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import unicodedata
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, Field, Strict, StringConstraints, ValidationInfo, field_validator

from content.common import (
    DEFAULT_CONTENT_DIR,
    Source,
    StrictModel,
    content_error,
    load_model,
    read_yaml,
)

QUIZ_DIR_NAME = "quiz"

# Every value must be able to fill a full-length quiz on its own, and the shipped bank has exactly 10
# per value: retiring one means adding a replacement first.
MIN_ACTIVE_PER_VALUE = 10


class QuizValue(StrEnum):
    """The four fundamental British values; each value is also the name of its YAML file."""

    DEMOCRACY = "democracy"
    RULE_OF_LAW = "rule_of_law"
    INDIVIDUAL_LIBERTY = "individual_liberty"
    MUTUAL_RESPECT = "mutual_respect"


# The id prefix ties a question to its value, so a question pasted into the wrong file is caught.
_ID_PREFIXES: dict[str, QuizValue] = {
    "D": QuizValue.DEMOCRACY,
    "R": QuizValue.RULE_OF_LAW,
    "L": QuizValue.INDIVIDUAL_LIBERTY,
    "M": QuizValue.MUTUAL_RESPECT,
}
_QUESTION_ID = r"^[DRLM][1-9][0-9]*$"
_SOURCE_KEY = r"^S[0-9]+[a-z]?$"

# Straight and curly apostrophes (and look-alikes) are dropped rather than turned into spaces, so that
# "magistrates courts" matches "magistrates' courts".
_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc`\u00b4]")
_NOT_WORD = re.compile(r"[\W_]+")
_MARKER = re.compile(r"\(?\s*([a-z]|[0-9]+)\s*[).:]?")
_MARKER_THEN_TEXT = re.compile(r"\(?\s*([a-z]|[0-9]+)(?:\s*[).:]\s*|\s+)(.+)")
_DIGIT = re.compile(r"[0-9]")


def normalise_answer(text: str) -> str:
    """Fold `text` for comparison: case, spacing, punctuation and apostrophes do not matter."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = _APOSTROPHES.sub("", folded)
    return " ".join(_NOT_WORD.sub(" ", folded).split())


def _one_line(text: str) -> str:
    # Explanations are shown in a single card line; a stray YAML block scalar would break the layout.
    if "\n" in text or "\r" in text:
        raise ValueError("must be a single line")
    return text


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
OneLine = Annotated[Text, AfterValidator(_one_line)]
SourceKey = Annotated[str, StringConstraints(pattern=_SOURCE_KEY)]


class Question(StrictModel):
    """One multiple-choice question. `answer` is the 0-based index of the correct option."""

    id: Annotated[str, StringConstraints(pattern=_QUESTION_ID)]
    stem: Text
    options: tuple[Text, ...] = Field(min_length=2, max_length=6)
    answer: Annotated[int, Strict()]
    explanation: OneLine
    sources: tuple[SourceKey, ...] = Field(min_length=1)
    review_by: dt.date | None = None
    # validate_default so a review date with no note is caught even when the key is absent.
    review_note: OneLine | None = Field(default=None, validate_default=True)
    retired: Annotated[bool, Strict()] = False

    @property
    def value(self) -> QuizValue:
        return _ID_PREFIXES[self.id[0]]

    @field_validator("options")
    @classmethod
    def _options_distinguishable(cls, options: tuple[str, ...]) -> tuple[str, ...]:
        # Typed answers are matched after folding, so two options that fold alike could never be told apart.
        seen: dict[str, str] = {}
        for option in options:
            folded = normalise_answer(option)
            if not folded:
                raise ValueError(f"option {option!r} has no letters or digits, so it cannot be typed")
            if folded in seen:
                raise ValueError(f"options {seen[folded]!r} and {option!r} differ only in case, spacing or punctuation")
            seen[folded] = option
        return options

    @field_validator("answer")
    @classmethod
    def _answer_in_range(cls, answer: int, info: ValidationInfo) -> int:
        options = info.data.get("options")
        if options is None:  # options already failed; that error is the one to report
            return answer
        if not 0 <= answer < len(options):
            raise ValueError(
                f"answer {answer} is out of range: there are {len(options)} options, "
                f"so it must be 0 to {len(options) - 1} (0 is the first option)"
            )
        return answer

    @field_validator("review_note")
    @classmethod
    def _note_with_date(cls, note: str | None, info: ValidationInfo) -> str | None:
        # A date with no note leaves the reviewer guessing; a note with no date is never surfaced.
        has_date = info.data.get("review_by") is not None
        if has_date and note is None:
            raise ValueError("review_note is required when review_by is set: say what to re-check")
        if note is not None and not has_date and "review_by" in info.data:
            raise ValueError("review_note needs a review_by date, or it will never be flagged")
        return note


class QuizFile(StrictModel):
    """One `content/quiz/<value>.yaml` file."""

    value: QuizValue
    title: Text
    sources: dict[SourceKey, Source]
    questions: tuple[Question, ...] = Field(min_length=1)


class QuestionBank:
    """All quiz questions, validated together. Build it with `QuestionBank.load`."""

    def __init__(self, files: Mapping[QuizValue, QuizFile]) -> None:
        self._files: dict[QuizValue, QuizFile] = {value: files[value] for value in QuizValue}
        self._by_id: dict[str, Question] = {q.id: q for f in self._files.values() for q in f.questions}
        self._active: dict[QuizValue, tuple[Question, ...]] = {
            value: tuple(q for q in f.questions if not q.retired) for value, f in self._files.items()
        }

    @classmethod
    def load(cls, content_dir: Path = DEFAULT_CONTENT_DIR) -> QuestionBank:
        """Load and cross-check all four files; raise ContentError naming file, line and field."""
        files: dict[QuizValue, QuizFile] = {}
        id_seen_in: dict[str, Path] = {}
        url_of_source: dict[str, tuple[str, Path]] = {}
        for value in QuizValue:
            path = content_dir / QUIZ_DIR_NAME / f"{value.value}.yaml"
            quiz = load_model(path, QuizFile)
            # Parsed a second time only to recover line numbers for the cross-file checks below.
            raw = read_yaml(path)
            _check_file(path, raw, quiz, value, id_seen_in, url_of_source)
            files[value] = quiz
        return cls(files)

    def title(self, value: QuizValue) -> str:
        return self._files[value].title

    def questions(self, value: QuizValue | None = None) -> list[Question]:
        """Active questions for `value`, or for every value when it is None, in file order."""
        values = list(QuizValue) if value is None else [value]
        return [q for v in values for q in self._active[v]]

    def get(self, question_id: str) -> Question | None:
        """Look up any question, retired ones included: a quiz in progress may hold one retired since."""
        return self._by_id.get(question_id)

    def draw(self, value: QuizValue | None, count: int, rng: random.Random) -> list[Question]:
        """Pick `count` distinct active questions. A mixed quiz (None) spreads them evenly over the values."""
        if count < 0:
            raise ValueError(f"count must not be negative, got {count}")
        if value is not None:
            pool = self._active[value]
            if count > len(pool):
                raise ValueError(f"asked for {count} {value.value} questions but only {len(pool)} are active")
            return rng.sample(pool, count)
        quotas = _spread(count, {v: len(self._active[v]) for v in QuizValue}, rng)
        drawn = [q for v in QuizValue for q in rng.sample(self._active[v], quotas[v])]
        # Without a shuffle a mixed quiz would run through the values in blocks.
        rng.shuffle(drawn)
        return drawn

    def sources_for(self, question: Question) -> list[Source]:
        sources = self._files[question.value].sources
        return [sources[key] for key in question.sources]

    def overdue_reviews(self, today: dt.date) -> list[Question]:
        """Active questions whose review date is today or earlier: their facts may have changed."""
        return [q for q in self.questions() if q.review_by is not None and q.review_by <= today]


def _spread(count: int, available: Mapping[QuizValue, int], rng: random.Random) -> dict[QuizValue, int]:
    total = sum(available.values())
    if count > total:
        raise ValueError(f"asked for {count} questions but only {total} are active")
    quotas = dict.fromkeys(available, 0)
    # Shuffled so that, when count does not divide evenly, the extra questions do not always go to democracy.
    order = list(available)
    rng.shuffle(order)
    remaining = count
    while remaining:
        for value in order:
            if remaining and quotas[value] < available[value]:
                quotas[value] += 1
                remaining -= 1
    return quotas


def _check_file(
    path: Path,
    raw: Any,
    quiz: QuizFile,
    expected: QuizValue,
    id_seen_in: dict[str, Path],
    url_of_source: dict[str, tuple[str, Path]],
) -> None:
    """Checks that need more than one question or more than one file, so pydantic cannot place them."""
    if quiz.value != expected:
        raise content_error(path, ("value",), f"is {quiz.value.value!r} but this is the {expected.value} file", raw=raw)
    for key, source in quiz.sources.items():
        url = str(source.url)
        earlier = url_of_source.setdefault(key, (url, path))
        # S-keys are shared across the whole brief, so one key must not point at two different pages.
        if earlier[0] != url:
            raise content_error(path, ("sources", key, "url"), f"{key} is {earlier[0]} in {earlier[1].name}", raw=raw)
    for i, question in enumerate(quiz.questions):
        if question.id in id_seen_in:
            other = id_seen_in[question.id]
            where = "earlier in this file" if other == path else f"also in {other.name}"
            raise content_error(path, ("questions", i, "id"), f"duplicate id {question.id} ({where})", raw=raw)
        id_seen_in[question.id] = path
        if question.value != expected:
            raise content_error(
                path,
                ("questions", i, "id"),
                f"{question.id} starts with {question.id[0]}, which is for {question.value.value} questions",
                raw=raw,
            )
        for j, key in enumerate(question.sources):
            if key not in quiz.sources:
                raise content_error(
                    path,
                    ("questions", i, "sources", j),
                    f"unknown source {key}: list it under 'sources:'",
                    raw=raw,
                )
    active = sum(1 for q in quiz.questions if not q.retired)
    if active < MIN_ACTIVE_PER_VALUE:
        raise content_error(
            path,
            ("questions",),
            f"only {active} active questions, need {MIN_ACTIVE_PER_VALUE} (add one before retiring one)",
            raw=raw,
        )


def match_answer(question: Question, typed: str) -> int | None:
    """Return the index of the option a learner typed, or None if it is not clearly one option.

    Accepts the option's text (ignoring case, spacing, punctuation and apostrophes), a letter ("b", "B)",
    "(b)"), a 1-based number, or a letter or number followed by the option's text ("b) youth courts").
    When any option itself contains a number, a bare number is ambiguous ("2" could be "Art 2" or the
    second option), so it only counts as that option's text; the caller should ask for a letter instead.
    """
    folded = normalise_answer(typed)
    if not folded:
        return None
    options = [normalise_answer(option) for option in question.options]
    if folded in options:
        return options.index(folded)
    numbers_are_positions = not any(_DIGIT.search(option) for option in options)
    # Markers are read from the raw text, not the folded one, so that only the usual ways of writing a
    # choice ("b", "B)", "(b)", "2.") count: folding would turn "-1" or "b!!" into a choice too.
    raw = unicodedata.normalize("NFKC", typed).strip().casefold()
    if marker := _MARKER.fullmatch(raw):
        return _position(marker[1], len(options), numbers_are_positions)
    if marker := _MARKER_THEN_TEXT.fullmatch(raw):
        rest = normalise_answer(marker[2])
        if rest not in options:
            return None
        # Both halves must agree, so "b 16" on a question whose B is 18 is rejected, not guessed.
        position = _position(marker[1], len(options), numbers_are_positions=True)
        return position if position == options.index(rest) else None
    return None


def _position(token: str, option_count: int, numbers_are_positions: bool) -> int | None:
    if token.isdigit():
        if not numbers_are_positions:
            return None
        index = int(token) - 1
    else:
        index = ord(token) - ord("a")
    return index if 0 <= index < option_count else None
