"""content/training.yaml: the courses and refresher periods, checked at start-up with file, line and field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.app import create_app
from content.common import DEFAULT_CONTENT_DIR, ContentError
from content.training import TRAINING_FILE, TrainingCourses
from tests.conftest import Cast, settings_for
from tests.content_files import edit, line_of


@pytest.fixture
def content(tmp_path: Path) -> Path:
    copy = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT_DIR, copy, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return copy


def test_the_shipped_courses_are_prevent_every_24_months_and_safeguarding_every_12() -> None:
    courses = TrainingCourses.load()
    prevent, safeguarding = courses.get("prevent"), courses.get("safeguarding")
    assert prevent is not None and prevent.refresher_months == 24
    assert safeguarding is not None and safeguarding.refresher_months == 12
    assert courses.find("Prevent  Awareness") is prevent and courses.find("knitting") is None
    assert courses.due_soon_days == 30


def test_a_bad_refresher_period_stops_start_up_naming_the_line(content: Path, cast: Cast, tmp_path: Path) -> None:
    text = edit(content / TRAINING_FILE, "refresher_months: 24", "refresher_months: two years")
    with pytest.raises(ContentError) as caught:
        create_app(settings_for(f"sqlite:///{tmp_path / 'x.db'}", cast, content_dir=content))
    message = str(caught.value)
    assert (
        f"{TRAINING_FILE}:{line_of(text, 'refresher_months: two years')}" in message and "refresher_months" in message
    )


def test_a_word_naming_two_courses_is_refused(content: Path) -> None:
    edit(content / TRAINING_FILE, "words: [safeguarding, safeguarding training]", "words: [safeguarding, prevent]")
    with pytest.raises(ContentError, match="already names prevent"):
        TrainingCourses.load(content)
