"""Pulse surveys (policy 3.1.1, "learner surveys are completed and analysed"): one YAML file each in surveys/.

A survey has a title, an audience (every learner, or a learner group named in the roles configuration), a window
(opens, closes) and a few short questions: a 1-5 scale, a choice, or free text. The file's name is the survey's
name, as typed in "start survey NAME". Every file is checked at start-up; a mistake names the file, line and field.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from content.common import DEFAULT_CONTENT_DIR, ContentError, Source, StrictModel, load_model

SURVEYS_DIR = "surveys"
SCALE: Literal["scale"] = "scale"
CHOICE: Literal["choice"] = "choice"
TEXT: Literal["text"] = "text"
ALL_LEARNERS = "all"

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
# Names are typed by people ("start survey feeling_safe") and travel in card data, so they stay short and plain.
NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,47}$"


class SurveyQuestion(StrictModel):
    id: Key
    kind: Literal["scale", "choice", "text"]
    prompt: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    # A scale's words for 1 and 5 ("Not at all safe", "Completely safe").
    low: Text | None = None
    high: Text | None = None
    options: tuple[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)], ...] = ()

    @model_validator(mode="after")
    def _fits_kind(self) -> SurveyQuestion:
        if self.kind == CHOICE and not 2 <= len(self.options) <= 6:
            raise ValueError("a choice question needs 2 to 6 options")
        if self.kind == CHOICE and len({o.casefold() for o in self.options}) != len(self.options):
            raise ValueError("a choice question's options must differ")
        if self.kind != CHOICE and self.options:
            raise ValueError(f"a {self.kind} question has no options")
        if self.kind == SCALE and (self.low is None or self.high is None):
            raise ValueError("a scale question needs the words for 1 (low) and 5 (high)")
        if self.kind != SCALE and (self.low is not None or self.high is not None):
            raise ValueError(f"a {self.kind} question has no low/high words")
        return self


class Survey(StrictModel):
    name: str = ""  # filled in from the file name
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
    intro: Text
    policy: Text  # the policy section it answers, e.g. "3.1.1"
    # "all", or "group:<name>" with the group defined in SAFESPACE_LEARNER_GROUPS.
    audience: Annotated[str, StringConstraints(pattern=r"^(all|group:[a-z][a-z0-9_-]{0,47})$")] = ALL_LEARNERS
    opens: dt.datetime
    closes: dt.datetime
    # The one reminder goes this long before the window closes, to everyone who has not finished.
    remind_hours_before: int = Field(default=48, ge=1, le=24 * 14)
    questions: tuple[SurveyQuestion, ...] = Field(min_length=1, max_length=10)
    sources: tuple[Source, ...] = ()

    @model_validator(mode="after")
    def _window(self) -> Survey:
        for moment in (self.opens, self.closes):
            if moment.tzinfo is None:
                raise ValueError("opens and closes need a time zone, e.g. 2026-09-01T09:00:00+01:00")
        if self.closes <= self.opens:
            raise ValueError("closes must be after opens")
        ids = [q.id for q in self.questions]
        if len(set(ids)) != len(ids):
            raise ValueError("question ids must be unique")
        return self

    @property
    def group(self) -> str | None:
        return self.audience.partition(":")[2] or None

    def question(self, question_id: str) -> SurveyQuestion | None:
        return next((q for q in self.questions if q.id == question_id), None)

    def is_open(self, now: dt.datetime) -> bool:
        return self.opens <= now < self.closes

    def remind_at(self) -> dt.datetime:
        return self.closes - dt.timedelta(hours=self.remind_hours_before)


class SurveyBook:
    def __init__(self, surveys: dict[str, Survey]) -> None:
        self._surveys = surveys

    @classmethod
    def load(cls, content_dir: Path = DEFAULT_CONTENT_DIR) -> SurveyBook:
        surveys: dict[str, Survey] = {}
        folder = content_dir / SURVEYS_DIR
        for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
            name = path.stem
            if not re.match(NAME_PATTERN, name):
                raise ContentError(f"{path}: the file name is the survey's name: lower case, digits, - and _ only")
            survey = load_model(path, Survey)
            surveys[name] = survey.model_copy(update={"name": name})
        return cls(surveys)

    def get(self, name: str) -> Survey | None:
        return self._surveys.get(name.strip().lower().replace(" ", "_"))

    def names(self) -> list[str]:
        return sorted(self._surveys)

    def __iter__(self) -> Iterator[Survey]:
        return iter(self._surveys.values())

    def check_groups(self, groups: frozenset[str]) -> None:
        """Start-up: a survey for a group nobody defined would reach nobody, silently."""
        for survey in self:
            if survey.group is not None and survey.group not in groups:
                raise ContentError(
                    f"{SURVEYS_DIR}/{survey.name}.yaml: audience names group {survey.group!r}, which is not in "
                    f"SAFESPACE_LEARNER_GROUPS"
                )
