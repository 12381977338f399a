"""Render example cards with the official Adaptive Cards renderer and screenshot them for the README.

    .venv/bin/python scripts/render_cards.py [--out docs/screenshots] [--keep-html DIR]

Needs Node (tests/cardcheck/node_modules is installed on first use, as the card tests do) and Chromium
(`apt-get install -y chromium chromium-l10n`). Every name, reference and event below is made up.

Each card is validated first with the same check the tests use, then turned into an HTML page by
tests/cardcheck/render.js. Chromium loads each page twice: once to measure the rendered card, once to take
a screenshot cropped to that height.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.commands.report import render_html  # noqa: E402
from cards.case_card import CaseCardView, case_card  # noqa: E402 - needs the repository on sys.path first
from cards.case_history_card import HistoryOptions, history_card  # noqa: E402
from cards.case_queue_card import queue_card  # noqa: E402
from cards.choice_card import Choice, choice_card  # noqa: E402
from cards.debate_card import DebateView, debate_card  # noqa: E402
from cards.elements import Card  # noqa: E402
from cards.menu_card import MenuEntry, menu_card  # noqa: E402
from cards.quiz_card import question_card  # noqa: E402
from cards.report_card import report_card  # noqa: E402
from cards.signpost_card import signpost_card  # noqa: E402
from cards.staff_form_card import parse_staff_form, staff_form_card  # noqa: E402
from cards.survey_card import QuestionResult, QuestionView, ResultsView  # noqa: E402
from cards.survey_card import question_card as survey_question_card  # noqa: E402
from cards.survey_card import results_card as survey_results_card  # noqa: E402
from content.common import DEFAULT_CONTENT_DIR  # noqa: E402
from content.directory import Directory  # noqa: E402
from content.indicators import Indicators  # noqa: E402
from content.quiz_bank import QuestionBank, QuizValue  # noqa: E402
from content.surveys import SurveyBook  # noqa: E402
from content.texts import Texts  # noqa: E402
from dialogs.report_worry_dialog import EMERGENCY_ENTRIES, ReportWorryDialog  # noqa: E402
from storage.case_report import Count, ReportFigures, ValueScore  # noqa: E402
from storage.case_views import HistoryPage, QueuePage, QueueRow  # noqa: E402
from storage.models import Case, CaseEvent  # noqa: E402
from tests.card_validator import (  # noqa: E402
    CARDCHECK_DIR,
    assert_valid_cards,
    ensure_node_modules,
    with_chart_fallbacks,
)

RENDER_JS = CARDCHECK_DIR / "render.js"
DEFAULT_OUT = ROOT / "docs" / "screenshots"
WIDTH = 640  # about the width of a card in a Teams channel on a laptop
PAGE_MARGIN = 24
MAX_HEIGHT = 4000
_HEIGHT = re.compile(r'data-height="(\d+)"')
_TIMEOUT_S = 60
# Date and time inputs as a UK viewer sees them (25/11/2026, 12:40). Chromium on Linux takes its locale from
# these variables, not from --lang alone, and needs the en-GB pack from the chromium-l10n package.
_UK_LOCALE_ENV = {"LANGUAGE": "en_GB", "LANG": "en_GB.UTF-8"}


@dataclass(frozen=True)
class Page:
    name: str
    card: Card
    expand: tuple[str, ...] = field(default=())


def example_pages(texts: Texts, indicators: Indicators, bank: QuestionBank) -> list[Page]:
    reported = CaseCardView(
        case_id=42,
        version=1,
        reference="SS-2026-0042",
        category="radicalisation",
        urgent=True,
        incomplete=False,
        source="learner",
        about="learner",
        subject_name="Riley Example",
        subject_under_18=True,
        reporter_display=None,
        reporter_hidden=True,
        raised_at=dt.datetime(2026, 11, 25, 15, 4, tzinfo=dt.UTC),
        waited="12 min",
        description=(
            "At lunch Riley showed me a video on his phone of a man with a gun and said "
            '"people like him are heroes, someone should do the same here".\n'
            "He said the tutors wouldn't understand and told me not to tell anyone. "
            "He's been in a new group chat every night and doesn't talk to us any more."
        ),
        incident_when="Today at lunch",
        incident_where="Example Street centre, common room",
        status="new",
        owner_name=None,
        decision=None,
        decision_reason=None,
        decided_by=None,
        decision_confirmed_by=None,
        outcome_note=None,
        dso_choices=(
            ("00000000-0000-0000-0000-000000000001", "Pat Example (DSO)"),
            ("00000000-0000-0000-0000-000000000002", "Chris Sample (Deputy DSO)"),
        ),
        # Urgent and not picked up yet: the card @mentions the DSO and deputy as it is posted.
        mentions=(
            ("00000000-0000-0000-0000-000000000001", "Pat Example"),
            ("00000000-0000-0000-0000-000000000002", "Chris Sample"),
        ),
    )
    acknowledged = replace(
        reported,
        version=2,
        status="acknowledged",
        owner_name="Pat Example",
        mentions=(),
        reveals=(("Pat Example", "Wed 25 Nov 2026, 15:12"),),
        notes=(
            (
                "Pat Example",
                "Wed 25 Nov, 15:19",
                "Spoke to Riley's tutor: Riley is on site until 16:30. Meeting Riley with the centre manager at 15:45.",
            ),
        ),
    )

    form_values = {
        "sf_subject_name": "Riley Example",
        "sf_subject_role": "learner",
        "sf_incident_date": "2026-11-25",
        "sf_incident_time": "12:40",
        "sf_incident_where": "Example Street centre, workshop 2",
        "sf_category": "radicalisation",
        "sf_ind_grievance": "true",
        "sf_ind_discrimination_bullying": "true",
        "sf_det_discrimination_bullying": "Said twice this week that other learners call him names on the bus.",
        "sf_urgency": "urgent",
    }
    _, form_errors = parse_staff_form(form_values, indicators)

    question = bank.questions(QuizValue.DEMOCRACY)[0]
    quiz = question_card(
        texts.get("quiz.question_heading", number=1, total=5),
        question.stem,
        list(question.options),
        texts.get("quiz.answer_hint"),
    )
    menu = menu_card(
        texts.get("menu.title"),
        texts.get("menu.hint"),
        [
            MenuEntry(label=texts.get("report.menu"), command="report"),
            MenuEntry(label=texts.get("quiz.menu"), command="quiz"),
            MenuEntry(label=texts.get("menu.entries.help"), command="help"),
        ],
    )
    directory = Directory.load()
    dialog = ReportWorryDialog(texts, directory)
    yes_no = [
        Choice(texts.get("report.yes"), "yes"),
        Choice(texts.get("report.no"), "no"),
        Choice(texts.get("report.not_sure"), "not sure"),
    ]
    learner_start = choice_card(
        texts.get("report.danger"), texts.get("report.danger_hint"), yes_no, preface=[texts.get("report.intro")]
    )
    learner_emergency = signpost_card(
        texts.get("report.emergency_title"),
        texts.get("report.emergency_intro"),
        [directory.entry(e) for e in EMERGENCY_ENTRIES],
    )
    draft = {
        "urgent": True,
        "about": "learner",
        "category": "radicalisation",
        "lines": ["My friend keeps sending me videos from a group that says we should fight back."],
        "when": "Since last week",
        "where": "On WhatsApp",
        "contact_ok": True,
        "contact_how": "Teams chat",
        "name_shown": False,
    }
    learner_summary = choice_card(
        texts.get("report.confirm"),
        "",
        [
            Choice(texts.get("report.confirm_send"), "send it"),
            Choice(texts.get("report.confirm_change"), "change something"),
            Choice(texts.get("report.confirm_cancel"), "don't send"),
        ],
        preface=dialog.summary(draft),
    )
    return [
        Page("learner-report-start", learner_start),
        Page("learner-report-emergency", learner_emergency),
        Page("learner-report-summary", learner_summary),
        Page("case-urgent-new", case_card(reported, texts)),
        Page("case-acknowledged", case_card(acknowledged, texts)),
        Page(
            "case-record-decision",
            case_card(acknowledged, texts),
            expand=(texts.get("cards.case.actions.decide"),),
        ),
        Page("staff-form-errors", staff_form_card(texts, indicators, form_values, form_errors)),
        Page("quiz-question", quiz),
        Page("menu", menu),
        *records_pages(texts),
    ]


def training_pages(texts: Texts) -> list[Page]:
    """Staff training (issue 13): the DSO's form, a member of staff's status and the compliance card."""
    from cards.training_card import compliance_card, status_card, training_form_card
    from content.training import TrainingCourses
    from storage.training import TrainingRecord
    from storage.training_register import compliance, register_rows

    courses = TrainingCourses.load(DEFAULT_CONTENT_DIR)
    today = dt.date(2026, 12, 3)
    people = {"a1": "Sam Staff", "a2": "Tara Trainer", "a3": "Claire Lewis", "a4": "Alan Bates", "a5": "Priya Shah"}
    done = [
        ("a1", "prevent", dt.date(2025, 1, 2)),
        ("a1", "safeguarding", dt.date(2026, 9, 12)),
        ("a2", "prevent", dt.date(2024, 11, 20)),
        ("a2", "safeguarding", dt.date(2025, 12, 20)),
        ("a3", "prevent", dt.date(2026, 2, 2)),
        ("a3", "safeguarding", dt.date(2026, 2, 2)),
        ("a4", "prevent", dt.date(2025, 6, 30)),
    ]
    records = [
        TrainingRecord(
            id=i,
            person_aad_id=a,
            course=c,
            provider="Home Office Prevent e-learning" if c == "prevent" else "Local authority safeguarding course",
            completed_on=d,
        )
        for i, (a, c, d) in enumerate(done)
    ]
    rows = register_rows(records=records, population=people, courses=courses.courses, today=today, due_soon_days=30)
    form = training_form_card(texts, courses, today=today, people=sorted(people.items(), key=lambda p: p[1]))
    return [
        Page("training-form-dso", form),
        Page("training-status", status_card(texts, [r for r in rows if r.person_aad_id == "a1"])),
        Page(
            "training-compliance",
            compliance_card(texts, courses=compliance(rows, courses.courses), rows=rows, as_of=today, due_soon_days=30),
        ),
    ]


def voice_pages(texts: Texts) -> list[Page]:
    """Learner voice: a survey's first screen, its results (the renderer draws each chart's table fallback; Teams
    draws the chart), and a debate poll after the second vote."""
    survey = SurveyBook.load(DEFAULT_CONTENT_DIR).get("feeling_safe")
    assert survey is not None
    closes = "Friday 16 July 2027 at 17:00"
    first = survey_question_card(
        QuestionView(run_id=1, survey=survey, question=survey.questions[0], number=1, first_screen=True, closes=closes),
        texts,
    )
    q = survey.questions
    results = survey_results_card(
        ResultsView(
            survey=survey,
            invited=64,
            respondents=41,
            closes=closes,
            closed=False,
            questions=(
                QuestionResult(q[0], 41, (1, 2, 6, 14, 18)),
                QuestionResult(q[1], 40, (2, 3, 9, 15, 11)),
                QuestionResult(q[2], 4, (3, 1, 0)),
                QuestionResult(q[3], 12, (), comments=12, flagged=1),
            ),
        ),
        texts,
    )
    debate = debate_card(
        DebateView(
            debate_id=7,
            motion="Voting should be compulsory at 16",
            value_label=texts.get("voice.debates.values.democracy"),
            round=2,
            ended=False,
            before={"for": 9, "against": 11, "undecided": 6},
            after={"for": 13, "against": 10, "undecided": 2},
        ),
        texts,
    )
    return [
        Page("survey-first-screen", first),
        Page("survey-results", results),
        Page("debate-poll", debate),
    ]


def _example_figures() -> ReportFigures:
    return ReportFigures(
        start=dt.datetime(2026, 9, 30, 23, 0, tzinfo=dt.UTC),
        end=dt.datetime(2026, 10, 31, 23, 59, tzinfo=dt.UTC),
        cases=17,
        urgent=3,
        by_category=(Count("bullying", 7), Count("online_safety", 4), Count("radicalisation", 3),
                     Count("wellbeing", 3)),
        by_status=(Count("closed", 9), Count("decided", 3), Count("acknowledged", 3), Count("new", 2)),
        by_decision=(Count("none", 5), Count("internal_support", 6), Count("signposted", 3), Count("channel", 2),
                     Count("police", 1)),
        acknowledged=15,
        median_minutes_to_acknowledge=12.5,
        p90_minutes_to_acknowledge=41.0,
        overdue=2,
        escalated=1,
        channel_referrals=2,
        channel_confirmed=1,
        quiz_attempts=148,
        quiz_participants=61,
        value_scores=(ValueScore("democracy", 220, 171), ValueScore("individual_liberty", 160, 118),
                      ValueScore("mutual_respect", 150, 127), ValueScore("rule_of_law", 190, 122)),
        debates_by_value=(Count("democracy", 4), Count("rule_of_law", 2), Count("untagged", 1)),
    )  # fmt: skip


def records_pages(texts: Texts) -> list[Page]:
    """Issue 11: the DSO's queue, a case's history, and the directors' report as a client without charts shows it
    (the official renderer has no chart elements, so it draws each chart's fallback table)."""
    now = dt.datetime(2026, 11, 25, 16, 0, tzinfo=dt.UTC)
    rows = (
        QueueRow(43, "SS-2026-0043", "radicalisation", "new", True, True, now - dt.timedelta(minutes=17), None, None,
                 1),
        QueueRow(41, "SS-2026-0041", "bullying", "new", False, True, now - dt.timedelta(minutes=52), None, None, 1),
        QueueRow(38, "SS-2026-0038", "online_safety", "acknowledged", False, False, now - dt.timedelta(days=2),
                 "Claire Lewis", "c", 3),
        QueueRow(35, "SS-2026-0035", "wellbeing", "awaiting_director", False, False, now - dt.timedelta(days=6),
                 "Andrea Lagerberg", "a", 6),
    )  # fmt: skip
    queue = queue_card(QueuePage(rows, total=14, overdue=2, page=0, page_size=4), texts, now=now, mine=False)
    case = Case(
        id=35, reference="SS-2026-0035", source="staff", category="wellbeing", about="learner", description="-",
        status="awaiting_director", owner_name="Andrea Lagerberg", decision="channel", decided_by="Andrea Lagerberg",
        created_at=now - dt.timedelta(days=6), reporter_conversation_id="a:1", version=6,
    )  # fmt: skip
    steps = [
        ("Sam Staff", "created", {}),
        ("Andrea Lagerberg", "acknowledged", {}),
        ("Andrea Lagerberg", "note", {"text": "Spoke to the learner with their trainer; agreed a check-in on Friday."}),
        (None, "reminder", {}),
        ("Andrea Lagerberg", "decision_proposed", {"decision": "channel", "reason": "Repeated extremist posts."}),
        ("Claire Lewis", "viewed", {"via": "button"}),
    ]
    events = tuple(
        CaseEvent(id=n, case_id=35, at=case.created_at + dt.timedelta(hours=5 * n), actor_name=who,
                  actor_aad_id=None if who is None else who.lower(), kind=kind, detail=json.dumps(detail))
        for n, (who, kind, detail) in enumerate(steps)
    )  # fmt: skip
    history = history_card(HistoryPage(case, events, total=9, page=0, page_size=6), texts, HistoryOptions(True))
    report = report_card(_example_figures(), texts, period="October 2026", generated=now)
    return [Page("records-queue", queue), Page("records-history", history), Page("report-card-fallback", report)]


def write_pages(pages: list[Page], html_dir: Path) -> dict[str, Path]:
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node is not on PATH")
    ensure_node_modules()
    # The renderer knows no Teams charts: it draws what a client without charts shows, each chart's fallback table.
    payload = [
        {"name": p.name, "card": with_chart_fallbacks(p.card), "width": WIDTH, "expand": list(p.expand)} for p in pages
    ]
    proc = subprocess.run(  # noqa: S603 - fixed arguments, our own script
        [node, str(RENDER_JS), str(html_dir)],
        cwd=CARDCHECK_DIR,
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=_TIMEOUT_S,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"render.js failed:\n{proc.stderr}")
    written = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return {item["name"]: Path(item["path"]) for item in written}


def chromium_command(profile: Path) -> list[str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        raise SystemExit("Chromium is not installed: apt-get install -y chromium chromium-l10n")
    return [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        "--lang=en-GB",
        f"--user-data-dir={profile}",
    ]


def measure(page: Path, profile: Path) -> int:
    """The rendered card's height in CSS pixels, read from the data-height the page sets on <body>."""
    proc = subprocess.run(  # noqa: S603 - fixed arguments
        [*chromium_command(profile), f"--window-size={WIDTH + PAGE_MARGIN},{MAX_HEIGHT}", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=_TIMEOUT_S,
        check=False,
        env={**os.environ, **_UK_LOCALE_ENV},
    )
    match = _HEIGHT.search(proc.stdout)
    if match is None:
        raise SystemExit(f"{page.name} did not render (no data-height):\n{proc.stderr[-2000:]}")
    return min(int(match[1]), MAX_HEIGHT)


def screenshot(page: Path, out: Path, height: int, profile: Path) -> None:
    proc = subprocess.run(  # noqa: S603 - fixed arguments
        [
            *chromium_command(profile),
            f"--window-size={WIDTH + PAGE_MARGIN},{height}",
            f"--screenshot={out}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=_TIMEOUT_S,
        check=False,
        env={**os.environ, **_UK_LOCALE_ENV},
    )
    if proc.returncode != 0 or not out.exists():
        raise SystemExit(f"screenshot of {page.name} failed:\n{proc.stderr[-2000:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the PNGs go")
    parser.add_argument("--keep-html", type=Path, help="also keep the HTML pages here, to open in a browser")
    parser.add_argument("--only", nargs="*", default=[], help="render only the pages whose names start with these")
    args = parser.parse_args(argv)

    texts = Texts.load(DEFAULT_CONTENT_DIR)
    indicators = Indicators.load(DEFAULT_CONTENT_DIR)
    pages = example_pages(texts, indicators, QuestionBank.load(DEFAULT_CONTENT_DIR))
    pages += training_pages(texts) + voice_pages(texts)
    if args.only:
        pages = [page for page in pages if any(page.name.startswith(only) for only in args.only)]
    assert_valid_cards(*(page.card for page in pages))

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="safe-space-cards-") as tmp:
        html_dir = args.keep_html or Path(tmp) / "html"
        html = write_pages(pages, html_dir)
        for page in pages:
            # A fresh profile per run keeps Chromium from reusing state between pages.
            profile = Path(tempfile.mkdtemp(prefix="profile-", dir=tmp))
            height = measure(html[page.name], profile)
            out = args.out / f"{page.name}.png"
            screenshot(html[page.name], out, height, profile)
            shown = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
            print(f"{shown}: {WIDTH + PAGE_MARGIN}x{height}, {out.stat().st_size // 1024} KB")
        if not args.only or "report-html" in args.only:
            # The governors' pack page (`python -m bot report`), with the same charts drawn as inline SVG.
            page = Path(tmp) / "report.html"
            generated = dt.datetime(2026, 11, 25, 16, 0, tzinfo=dt.UTC)
            page.write_text(
                render_html(_example_figures(), texts, period="October 2026", generated=generated, exact=False)
            )
            out = args.out / "report-html.png"
            screenshot(page, out, 2450, Path(tempfile.mkdtemp(prefix="profile-", dir=tmp)))
            print(f"{out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}: report page")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
