"""The triage engine: accuracy on labelled messages, idioms, normalisation, robustness and loader errors."""

from __future__ import annotations

import shutil
import statistics
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# The benchmark and the tests count recall and precision the same way, so they share one scorer.
from benchmarks.triage_eval import Labelled, load_labelled, score
from content.common import DEFAULT_CONTENT_DIR, ContentError
from content.directory import Directory
from tests.content.test_directory import edit, line_of
from understanding.lexicon import DEFAULT_TRIAGE_PATH, Assessment, Severity, Triage

MIN_LABELLED = 200


@pytest.fixture(scope="module")
def triage() -> Triage:
    return Triage.load(DEFAULT_TRIAGE_PATH)


@pytest.fixture(scope="module")
def labelled() -> list[Labelled]:
    return load_labelled()


@pytest.fixture(scope="module")
def results(triage: Triage, labelled: list[Labelled]) -> list[Assessment]:
    return [triage.assess(m.text) for m in labelled]


# --- accuracy on the labelled messages ----------------------------------------------------------------


def test_labelled_set_is_big_and_balanced(labelled: list[Labelled]) -> None:
    counts = {s: sum(m.severity is s for m in labelled) for s in Severity}
    assert len(labelled) >= MIN_LABELLED
    assert counts[Severity.HIGH] >= 70
    assert counts[Severity.MEDIUM] >= 60
    assert counts[Severity.NONE] >= 80
    assert all(m.category is not None for m in labelled if m.severity is not Severity.NONE)
    assert all(m.category is None for m in labelled if m.severity is Severity.NONE)


def test_labelled_categories_are_real(triage: Triage, labelled: list[Labelled]) -> None:
    assert {m.category for m in labelled if m.category} <= set(triage.categories())


def test_high_recall_and_precision(labelled: list[Labelled], results: list[Assessment]) -> None:
    s = score(labelled, results)
    # A HIGH for a medium or benign message counts against precision.
    assert s.high_recall >= 0.95, s
    assert s.high_precision >= 0.8, s


def test_medium_recall(labelled: list[Labelled], results: list[Assessment]) -> None:
    # Found means flagged at all: a medium message assessed HIGH still reaches the DSO.
    assert score(labelled, results).medium_recall >= 0.8


def test_flagged_messages_carry_the_labelled_category(labelled: list[Labelled], results: list[Assessment]) -> None:
    assert score(labelled, results).category_agreement >= 0.9


def test_typical_messages_take_well_under_a_millisecond(triage: Triage, labelled: list[Labelled]) -> None:
    timings = []
    for m in labelled:
        start = time.perf_counter()
        triage.assess(m.text)
        timings.append(time.perf_counter() - start)
    assert statistics.median(timings) < 0.001


# --- idioms that must not fire ----------------------------------------------------------------------------

IDIOMS = [
    "this assignment is killing me",
    "I bombed that exam",
    "the party was fire",
    "I could murder a pizza",
    "you're killing it",
    "killing it at work today",
    "I was dying of laughter",
    "shoot me a message later",
    "this tune slaps",
    "I'm dead 😂",
    "my mum's gonna kill me if I'm late",
    "I'd kill for a nap",
    "we're killing time before the bus",
    "my feet are killing me",
    "that joke killed me",
    "she's drop dead gorgeous",
    "im so dead tired",
    "we smashed it",
    "this song hits different",
    "hit me up when you're free",
    "my brother beat me at fifa",
    "I had a panic attack",
    "attack on titan is peak",
    "i need a bath bomb",
    "we did a photo shoot",
    "im going to blow up balloons",
    "i want to die of embarrassment",
    "im gonna kill it in the interview",
    "i'm killing myself laughing",
    "we're going to attack the problem",
    "i'm going to cut him off, he talks too much",
    "she's ending it with her boyfriend tonight",
    "we did knife skills in catering",
    "gonna kill u on cod tonight",
    "gonna batter him at pool tomorrow",
    "im going to kill my sister she ate my leftover pizza",
    "took all nans old tablets back to the chemist",
    "gonna jump scare him tonight with the mask",
]

# The same words with nothing to make them banter stay high.
STILL_THREATS = [
    "im gonna kill him tonight",
    "im going to kill my sister tonight",
    "i'm going to kill him at the park tonight",
    "i took all my tablets",
    "gonna batter him after college",
]


@pytest.mark.parametrize("text", STILL_THREATS)
def test_the_words_of_an_idiom_without_it_are_still_high(triage: Triage, text: str) -> None:
    assert triage.assess(text).severity is Severity.HIGH, triage.assess(text)


def test_idiom_list_is_long_enough() -> None:
    assert len(IDIOMS) >= 20


@pytest.mark.parametrize("text", IDIOMS)
def test_idioms_do_not_fire(triage: Triage, text: str) -> None:
    assert triage.assess(text).severity is Severity.NONE, triage.assess(text)


# --- negation -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "i would never kill myself",
        "im not going to kill myself dont worry",
        "i'm not suicidal",
        "i dont want to die",
        "i would never hurt myself",
        "I'm not going to hurt him",
    ],
)
def test_negated_statements_do_not_fire(triage: Triage, text: str) -> None:
    assert triage.assess(text).severity is Severity.NONE


@pytest.mark.parametrize(
    ("text", "severity"),
    [
        ("i dont want to live anymore", Severity.MEDIUM),
        ("im not ok. im going to kill myself", Severity.HIGH),
        ("im not ok i want to kill myself", Severity.MEDIUM),
        ("no one would care if i died", Severity.MEDIUM),
    ],
)
def test_negation_that_is_part_of_the_risk_still_fires(triage: Triage, text: str, severity: Severity) -> None:
    assert triage.assess(text).severity is severity


# --- normalisation --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("I'm gonna", "i am going to"),
        ("I’m GONNA", "i am going to"),
        ("im sooo tired", "i am so tired"),
        ("pleeeease", "please"),
        ("KMS", "kill myself"),
        ("kys", "kill yourself"),
        ("unalive myself", "kill myself"),
        ("dont   wanna", "do not want to"),
        ("u r", "you are"),
        ("ive gotta", "i have got to"),
        ("2nite or tmrw", "tonight or tomorrow"),
        ("café naïve", "cafe naive"),
        ("k1ll mys3lf", "kill myself"),
        ("sucide", "suicide"),
        ("tommorow", "tomorrow"),
        ("plannin", "planning"),
        ("kil my self", "kill myself"),
        ("she's", "she is"),
        ("🔪", "knife"),
        ("im fine. really!", "i am fine . really"),
        ("i want to... die", "i want to die"),
        ("ｆｕｌｌｗｉｄｔｈ", "fullwidth"),
        # Real words one letter from a lexicon word are left alone.
        ("strange", "strange"),
        ("filling", "filling"),
        ("prison", "prison"),
    ],
)
def test_normalisation(triage: Triage, text: str, normalised: str) -> None:
    assert triage.normalise(text) == normalised


def test_text_speak_and_typos_still_match(triage: Triage) -> None:
    for text in ("IM GONNA KMS 2NITE", "im goin 2 kil my self tonite", "i am g0nna k1ll mys3lf tonight"):
        assert triage.assess(text).severity is Severity.HIGH, text


# --- the result -------------------------------------------------------------------------------------------


def test_assessment_orders_categories_by_severity_and_names_patterns(triage: Triage) -> None:
    result = triage.assess("i want to die. im going to stab him tomorrow")
    assert result.severity is Severity.HIGH
    # Both HIGH categories come before the MEDIUM one (ties keep the order of triage.yaml).
    assert set(result.categories[:2]) == {"weapons_attack", "harm_to_others"}
    assert result.categories[2] == "self_harm"
    assert result.matched and all(isinstance(m, str) for m in result.matched)
    assert result.flagged


def test_no_risk_is_empty(triage: Triage) -> None:
    result = triage.assess("what time is the quiz?")
    assert result == Assessment(Severity.NONE, (), ())
    assert not result.flagged


def test_same_text_same_answer(triage: Triage) -> None:
    text = "ive got a knife and im going to stab him tomorrow"
    assert triage.assess(text) == triage.assess(text)


# --- robustness -------------------------------------------------------------------------------------------

_RTL = ["مرحبا بالعالم", "أنا بخير", "שלום עולם", "\u202eim going to\u202c", "\u200f"]
_EMOJI = ["😂", "💀", "🔪", "👩‍👩‍👧", "🏳️‍🌈", "\ufe0f", "🫠"]
_WORDS = [
    "i",
    "am",
    "going",
    "to",
    "kill",
    "myself",
    "him",
    "tonight",
    "not",
    "knife",
    "bomb",
    "the",
    "lol",
    "im",
    "gonna",
    "kms",
    "...",
    "!!!",
    "'",
    "’s",
    "sooooo",
    "\n",
    "  ",
]
_FRAGMENTS = st.one_of(st.sampled_from(_RTL + _EMOJI + _WORDS), st.text(max_size=20))


def _check(triage: Triage, result: Assessment) -> None:
    assert isinstance(result.severity, Severity)
    assert set(result.categories) <= set(triage.categories())
    assert len(set(result.categories)) == len(result.categories)
    assert (result.severity is Severity.NONE) == (not result.categories) == (not result.matched)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(st.text(max_size=300), st.lists(_FRAGMENTS, max_size=60).map(" ".join)))
def test_assess_never_raises_on_arbitrary_text(triage: Triage, text: str) -> None:
    start = time.perf_counter()
    result = triage.assess(text)
    assert time.perf_counter() - start < 0.05
    _check(triage, result)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    text=st.lists(_FRAGMENTS, min_size=400, max_size=800)
    .map(" ".join)
    .map(lambda s: (s * (10_000 // max(1, len(s)) + 1))[:10_000])
)
def test_ten_thousand_characters_stay_within_limits(triage: Triage, text: str) -> None:
    assert len(text) == 10_000
    start = time.perf_counter()
    result = triage.assess(text)
    # Generous: measured at about 3 to 15 ms; this only guards against something going quadratic.
    assert time.perf_counter() - start < 0.5
    _check(triage, result)


def test_danger_at_the_end_of_a_long_message_is_found(triage: Triage) -> None:
    text = "blah " * 2000 + "im going to kill myself tonight"
    assert triage.assess(text).severity is Severity.HIGH


# --- the file ---------------------------------------------------------------------------------------------


def test_every_emergency_entry_id_exists_in_signposting(triage: Triage) -> None:
    signposting = yaml.safe_load((DEFAULT_CONTENT_DIR / "signposting.yaml").read_text(encoding="utf-8"))
    entries = {e["id"]: e for e in signposting["entries"]}
    for category in triage.categories():
        ids = triage.emergency_entry_ids(category)
        assert ids, category
        for entry_id in ids:
            assert entry_id in entries, f"{category}: {entry_id}"
            assert entries[entry_id]["audience"] != "staff", f"{category}: {entry_id} is staff-only"


def test_directory_and_triage_agree_on_categories(triage: Triage) -> None:
    assert Directory.load(DEFAULT_CONTENT_DIR).categories() == triage.categories()


@pytest.fixture
def triage_copy(tmp_path: Path) -> Path:
    path = tmp_path / "triage.yaml"
    shutil.copy(DEFAULT_TRIAGE_PATH, path)
    return path


def _load_error(path: Path) -> str:
    with pytest.raises(ContentError) as caught:
        Triage.load(path)
    return str(caught.value)


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        (
            'pattern: "@i_will ~2 @kill_self"}',
            'pattern: "@i_wil ~2 @kill_self"}',
            "@i_wil ",
            "unknown lexicon group",
        ),
        (
            'pattern: "@i_will ~2 @kill_self"}',
            'pattern: "(@i_will ~2 @kill_self"}',
            'pattern: "(@i_will ~2',
            "unbalanced",
        ),
        ('pattern: "@i_will ~2 @kill_self"}', 'pattern: "~2 @kill_self"}', 'pattern: "~2 @kill_self"', "gap"),
        (
            "{id: sh.high.intent, category: self_harm,",
            "{id: sh.high.intent, category: self_hurt,",
            "self_hurt",
            "unknown category",
        ),
        (
            "{id: sh.high.intent_bare,",
            "{id: sh.high.intent,",
            '{id: sh.high.intent, category: self_harm, severity: high, pattern: "@bare',
            "duplicate id",
        ),
        (
            "all_of: [sh_ideation, plan_soon]",
            "all_of: [sh_ideation, plan_later]",
            "plan_later",
            "no pattern sets tag",
        ),
        (
            'severity: high, pattern: "@i_will ~2 @kill_self"}',
            'severity: urgent, pattern: "@i_will ~2 @kill_self"}',
            "severity: urgent",
            "severity",
        ),
    ],
)
def test_broken_lexicon_names_file_and_line(triage_copy: Path, old: str, new: str, needle: str, message: str) -> None:
    text = edit(triage_copy, old, new)
    error = _load_error(triage_copy)
    assert f"triage.yaml:{line_of(text, needle)}" in error
    assert message in error


def test_broken_lexicon_group_names_file_and_line(triage_copy: Path) -> None:
    text = edit(triage_copy, '    - "i will|shall"\n', '    - "i will|Shall"\n')
    error = _load_error(triage_copy)
    assert f"triage.yaml:{line_of(text, '  i_will:')}" in error
    assert "lower-case word" in error
