"""The British values quiz bank: shipped content, loader errors, draws and answer matching."""

from __future__ import annotations

import random
import shutil
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
import yaml
from hypothesis import assume, given
from hypothesis import strategies as st
from pydantic import ValidationError

from content.common import DEFAULT_CONTENT_DIR, ContentError
from content.quiz_bank import MIN_ACTIVE_PER_VALUE, Question, QuestionBank, QuizValue, match_answer
from tests.content_files import edit, line_of

QUIZ_DIR = DEFAULT_CONTENT_DIR / "quiz"


@pytest.fixture(scope="module")
def bank() -> QuestionBank:
    return QuestionBank.load(DEFAULT_CONTENT_DIR)


@pytest.fixture
def content_copy(tmp_path: Path) -> Path:
    shutil.copytree(QUIZ_DIR, tmp_path / "quiz")
    return tmp_path


def load_error(content_dir: Path) -> str:
    with pytest.raises(ContentError) as caught:
        QuestionBank.load(content_dir)
    return str(caught.value)


def make_question(options: list[str], answer: int = 0) -> Question:
    return Question(id="D1", stem="Stem?", options=tuple(options), answer=answer, explanation="Why.", sources=("S1",))


# --- the shipped bank ---------------------------------------------------------------------------------


def test_shipped_bank_loads(bank: QuestionBank) -> None:
    assert len(bank.questions()) >= 40


@pytest.mark.parametrize("value", list(QuizValue))
def test_each_value_has_exactly_ten_active_questions(bank: QuestionBank, value: QuizValue) -> None:
    questions = bank.questions(value)
    assert len(questions) == MIN_ACTIVE_PER_VALUE == 10
    assert all(q.value is value and not q.retired for q in questions)


def test_every_question_source_resolves_to_a_web_page(bank: QuestionBank) -> None:
    for question in bank.questions():
        sources = bank.sources_for(question)
        assert len(sources) == len(question.sources) >= 1
        for source in sources:
            assert source.url.scheme in ("https", "http"), question.id
            assert source.title.strip(), question.id


def test_no_two_question_ids_clash() -> None:
    # Read the raw files: the bank indexes by id, so a clash could hide inside it.
    ids = [q["id"] for path in sorted(QUIZ_DIR.glob("*.yaml")) for q in yaml.safe_load(path.read_text())["questions"]]
    assert len(ids) == len(set(ids)) >= 40


def test_no_review_is_overdue(bank: QuestionBank) -> None:
    # Meant to start failing on the review date: someone must re-check these facts, then move the date on.
    overdue = {q.id: q.review_note for q in bank.overdue_reviews(date.today())}
    assert overdue == {}


def test_time_sensitive_questions_carry_a_review_date(bank: QuestionBank) -> None:
    for question_id in ("D1", "R9", "M6"):
        question = bank.get(question_id)
        assert question is not None
        assert question.review_by is not None and question.review_note
    assert {"D1", "R9", "M6"} <= {q.id for q in bank.overdue_reviews(date(2027, 5, 1))}


def test_shipped_answers_match_by_letter_number_and_text(bank: QuestionBank) -> None:
    for question in bank.questions():
        assert match_answer(question, "ABCDEF"[question.answer]) == question.answer, question.id
        assert match_answer(question, question.options[question.answer]) == question.answer, question.id


# --- draw ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(20))
def test_draw_one_value_has_no_repeats(bank: QuestionBank, seed: int) -> None:
    drawn = bank.draw(QuizValue.RULE_OF_LAW, 5, random.Random(seed))
    assert len(drawn) == len({q.id for q in drawn}) == 5
    assert all(q.value is QuizValue.RULE_OF_LAW for q in drawn)


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize(("count", "expected_spread"), [(4, [1, 1, 1, 1]), (8, [2, 2, 2, 2]), (10, [3, 3, 2, 2])])
def test_draw_mixed_spreads_evenly(bank: QuestionBank, seed: int, count: int, expected_spread: list[int]) -> None:
    drawn = bank.draw(None, count, random.Random(seed))
    assert len({q.id for q in drawn}) == count
    assert sorted(Counter(q.value for q in drawn).values(), reverse=True) == expected_spread


def test_draw_everything_then_too_many(bank: QuestionBank) -> None:
    everything = bank.draw(None, 40, random.Random(0))
    assert {q.id for q in everything} == {q.id for q in bank.questions()}
    with pytest.raises(ValueError, match="only 10"):
        bank.draw(QuizValue.DEMOCRACY, 11, random.Random(0))
    with pytest.raises(ValueError, match="only 40"):
        bank.draw(None, 41, random.Random(0))


def test_draw_is_repeatable_for_a_seed(bank: QuestionBank) -> None:
    assert bank.draw(None, 6, random.Random(7)) == bank.draw(None, 6, random.Random(7))


# --- match_answer --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("B", 1),
        ("b", 1),
        ("b)", 1),
        ("(B)", 1),
        (" c. ", 2),
        ("1", 0),
        ("2", 1),
        ("4", 3),
        ("youth courts", 1),
        ("  YOUTH   Courts!! ", 1),
        ("adult magistrates courts", 0),  # apostrophe left out
        ("Adult magistrates\u2019 courts", 0),  # curly apostrophe
        ("b) youth courts", 1),
        ("2. youth courts", 1),
    ],
)
def test_match_answer_accepts(bank: QuestionBank, typed: str, expected: int) -> None:
    question = bank.get("R7")  # options: adult magistrates' courts, youth courts, no court, military courts
    assert question is not None
    assert match_answer(question, typed) == expected


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "?!",
        "e",
        "5",
        "0",
        "-1",
        "youth",
        "youth courts please",
        "the court",
        "a) youth courts",
        "ab",
    ],
)
def test_match_answer_rejects_junk(bank: QuestionBank, typed: str) -> None:
    question = bank.get("R7")
    assert question is not None
    assert match_answer(question, typed) is None


def test_bare_number_is_option_text_when_options_are_numbers(bank: QuestionBank) -> None:
    # R4 (fair trial): options 3, 6, 9, 11. "3" means Article 3, not the third option.
    question = bank.get("R4")
    assert question is not None
    assert match_answer(question, "3") == 0
    assert match_answer(question, "6") == 1
    # "2" could be "Article 2" or "option B"; guessing could mark a wrong belief as right.
    assert match_answer(question, "2") is None
    assert match_answer(question, "b") == 1
    assert match_answer(question, "b 6") == 1
    assert match_answer(question, "b 3") is None  # letter and text disagree


@given(st.lists(st.text(min_size=1, max_size=30), min_size=2, max_size=6), st.data())
def test_each_option_text_matches_its_own_index(options: list[str], data: st.DataObject) -> None:
    try:
        question = make_question(options)
    except ValidationError:
        assume(False)  # options the loader would reject (indistinguishable or untypeable)
        raise
    index = data.draw(st.integers(0, len(question.options) - 1))
    assert match_answer(question, question.options[index]) == index


@given(st.text(max_size=40))
def test_match_answer_never_returns_an_out_of_range_index(typed: str) -> None:
    question = make_question(["alpha", "beta", "gamma"])
    result = match_answer(question, typed)
    assert result is None or 0 <= result < 3


# --- retiring and broken files -------------------------------------------------------------------------


def test_retired_question_is_loaded_but_not_served(content_copy: Path) -> None:
    path = content_copy / "quiz" / "democracy.yaml"
    edit(path, "  - id: D10\n", "  - id: D10\n    retired: true\n")
    with path.open("a", encoding="utf-8") as f:
        f.write(
            "\n  - id: D11\n"
            '    stem: "Which House is directly elected?"\n'
            '    options: ["Lords", "Commons"]\n'
            "    answer: 1\n"
            '    explanation: "The House of Commons is directly elected."\n'
            "    sources: [S74]\n"
        )
    bank = QuestionBank.load(content_copy)
    served = {q.id for q in bank.questions(QuizValue.DEMOCRACY)}
    assert "D10" not in served and "D11" in served and len(served) == 10
    retired = bank.get("D10")
    assert retired is not None and retired.retired
    assert all(q.id != "D10" for q in bank.draw(QuizValue.DEMOCRACY, 10, random.Random(0)))


def test_bad_answer_index_names_file_and_line(content_copy: Path) -> None:
    path = content_copy / "quiz" / "rule_of_law.yaml"
    text = edit(
        path,
        'options: ["3", "6", "9", "11"]\n    answer: 1\n',
        'options: ["3", "6", "9", "11"]\n    answer: 4\n',
    )
    message = load_error(content_copy)
    assert f"rule_of_law.yaml:{line_of(text, 'answer: 4')}:" in message
    assert "questions.3.answer" in message and "out of range" in message


def test_negative_answer_index_is_rejected(content_copy: Path) -> None:
    path = content_copy / "quiz" / "democracy.yaml"
    text = edit(
        path,
        '["Lords", "Commons", "Both", "Neither"]\n    answer: 1',
        '["Lords", "Commons", "Both", "Neither"]\n    answer: -1',
    )
    assert f"democracy.yaml:{line_of(text, 'answer: -1')}:" in load_error(content_copy)


def test_unknown_source_key_names_file_and_line(content_copy: Path) -> None:
    path = content_copy / "quiz" / "rule_of_law.yaml"
    text = edit(path, "sources: [S78b]", "sources: [S99]")
    message = load_error(content_copy)
    assert f"rule_of_law.yaml:{line_of(text, 'sources: [S99]')}:" in message
    assert "S99" in message


def test_missing_field_names_file_and_question_line(content_copy: Path) -> None:
    path = content_copy / "quiz" / "individual_liberty.yaml"
    text = edit(path, '    explanation: "Respect for private and family life is Article 8."\n', "")
    message = load_error(content_copy)
    assert f"individual_liberty.yaml:{line_of(text, '- id: L3')}:" in message
    assert "explanation" in message


def test_bad_yaml_names_file_and_line(content_copy: Path) -> None:
    path = content_copy / "quiz" / "democracy.yaml"
    text = edit(path, "    sources: [S84]", "    sources: S84: [S84]")
    message = load_error(content_copy)
    assert f"democracy.yaml:{line_of(text, 'sources: S84: [S84]')}:" in message
    assert "not valid YAML" in message


def test_duplicate_id_across_files_names_both_files(content_copy: Path) -> None:
    path = content_copy / "quiz" / "rule_of_law.yaml"
    text = edit(path, "  - id: R3\n", "  - id: D3\n")
    message = load_error(content_copy)
    assert f"rule_of_law.yaml:{line_of(text, '- id: D3')}:" in message
    assert "duplicate id D3" in message and "democracy.yaml" in message


def test_question_in_the_wrong_file_is_rejected(content_copy: Path) -> None:
    path = content_copy / "quiz" / "mutual_respect.yaml"
    text = edit(path, "  - id: M4\n", "  - id: L11\n")
    message = load_error(content_copy)
    assert f"mutual_respect.yaml:{line_of(text, '- id: L11')}:" in message


def test_missing_file_is_named(content_copy: Path) -> None:
    (content_copy / "quiz" / "mutual_respect.yaml").unlink()
    assert "mutual_respect.yaml" in load_error(content_copy)


def test_fewer_than_ten_active_questions_is_rejected(content_copy: Path) -> None:
    path = content_copy / "quiz" / "mutual_respect.yaml"
    text = edit(path, "  - id: M10\n", "  - id: M10\n    retired: true\n")
    message = load_error(content_copy)
    assert f"mutual_respect.yaml:{line_of(text, 'questions:')}:" in message
    assert "only 9 active" in message


def test_review_date_without_note_is_rejected(content_copy: Path) -> None:
    path = content_copy / "quiz" / "rule_of_law.yaml"
    text = path.read_text(encoding="utf-8")
    note = next(line for line in text.splitlines() if line.startswith("    review_note:"))
    text = edit(path, note + "\n", "")
    message = load_error(content_copy)
    assert f"rule_of_law.yaml:{line_of(text, '- id: R9')}:" in message
    assert "review_note" in message


def test_options_that_differ_only_in_punctuation_are_rejected() -> None:
    with pytest.raises(ValidationError, match="differ only"):
        make_question(["Youth courts", "youth courts!"])


def test_unknown_field_is_rejected(content_copy: Path) -> None:
    path = content_copy / "quiz" / "democracy.yaml"
    text = edit(path, "  - id: D5\n", "  - id: D5\n    anwser: 2\n")
    message = load_error(content_copy)
    assert f"democracy.yaml:{line_of(text, 'anwser: 2')}:" in message
