"""The training courses staff record for the Single Central Register, and how long each counts, from
content/training.yaml (checked at start-up)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, StringConstraints

from content.common import DEFAULT_CONTENT_DIR, StrictModel, content_error, load_model

TRAINING_FILE = "training.yaml"

CourseId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
Word = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=60)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]


class Course(StrictModel):
    id: CourseId
    name: Name
    refresher_months: int = Field(ge=1, le=120)
    words: tuple[Word, ...] = Field(min_length=1)


class TrainingFile(StrictModel):
    due_soon_days: int = Field(default=30, ge=1, le=180)
    courses: tuple[Course, ...] = Field(min_length=1)


class TrainingCourses:
    """The courses in file order. Build it with `TrainingCourses.load`."""

    def __init__(self, data: TrainingFile) -> None:
        self._data = data
        self._by_id = {course.id: course for course in data.courses}
        self._by_word = {word: course for course in data.courses for word in (course.id, *course.words)}

    @classmethod
    def load(cls, content_dir: Path = DEFAULT_CONTENT_DIR) -> TrainingCourses:
        path = content_dir / TRAINING_FILE
        data = load_model(path, TrainingFile)
        seen: dict[str, str] = {}
        for i, course in enumerate(data.courses):
            if course.id in seen:
                raise content_error(path, ("courses", i, "id"), f"duplicate course id {course.id}")
            seen[course.id] = course.id
        words: dict[str, str] = {}
        for i, course in enumerate(data.courses):
            for j, word in enumerate((course.id, *course.words)):
                if words.get(word, course.id) != course.id:
                    raise content_error(
                        path, ("courses", i, "words", max(j - 1, 0)), f"'{word}' already names {words[word]}"
                    )
                words[word] = course.id
        return cls(data)

    @property
    def courses(self) -> tuple[Course, ...]:
        return self._data.courses

    @property
    def due_soon_days(self) -> int:
        return self._data.due_soon_days

    def get(self, course_id: str) -> Course | None:
        return self._by_id.get(course_id)

    def find(self, typed: str) -> Course | None:
        """The course someone typed ("prevent", "Safeguarding training"), or None."""
        return self._by_word.get(" ".join(typed.lower().split()))
