"""`python -m bot subject-access`: one person's records and nothing of anyone else's (issue 11)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.db import create_engine, create_sessionmaker
from storage.migrate import migrate
from storage.models import AuditEntry
from tests.commands.records_rig import (
    DSO,
    LEARNER,
    OTHER,
    T0,
    bot,
    dso_note,
    kinds,
    make_case,
    one_line_failure,
    quiz,
    say,
)

pytestmark = pytest.mark.slow


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[tuple[str, async_sessionmaker[AsyncSession]]]:
    engine = create_engine(database_url)
    await migrate(engine)
    yield database_url, create_sessionmaker(engine)
    await engine.dispose()


async def _two_people(sessions: async_sessionmaker[AsyncSession]):
    """Alex (the subject of the request) and Billie: each reports, writes and takes a quiz; Billie reports Alex."""
    alex_chat, billie_chat = f"a:1on1-{LEARNER}", f"a:1on1-{OTHER}"
    alex_case = await make_case(sessions, description="Someone keeps messaging me at night.")
    await dso_note(sessions, alex_case, "Called Alex's aunt, Morgan Vale, who will keep an eye out.")
    billie_case = await make_case(
        sessions,
        reporter=OTHER,
        reporter_name="Billie Learner",
        conversation_id=billie_chat,
        subject_name="alex learner",
        description="Alex Learner said Billie should join a group online. Billie is worried for Alex.",
        now=T0 + dt.timedelta(hours=1),
    )
    await dso_note(sessions, billie_case, "Spoke to Billie Learner about it.")
    unrelated = await make_case(sessions, reporter=OTHER, reporter_name="Billie Learner", subject_name="Sam Other")
    await say(sessions, alex_chat, LEARNER, "Alex Learner", "report")
    await say(sessions, alex_chat, None, None, "Is anyone in danger right now?")
    await say(sessions, alex_chat, LEARNER, "Alex Learner", "no, but it's every night")
    await say(sessions, billie_chat, OTHER, "Billie Learner", "Billie's own words about the group")
    await say(sessions, "19:group", OTHER, "Billie Learner", "Billie in a group chat")
    await quiz(sessions, LEARNER, 7)
    await quiz(sessions, OTHER, 2)
    return alex_case, billie_case, unrelated


async def test_a_person_gets_their_reports_messages_and_quiz_results_and_nothing_of_anyone_elses(store) -> None:
    url, sessions = store
    alex_case, billie_case, unrelated = await _two_people(sessions)
    result = await bot(url, "subject-access", "--user", LEARNER.upper(), "--by", "Data Protection Officer")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    content = document["content"]
    assert content["subject"] == {"aad_id": LEARNER, "names_seen": ["Alex Learner"]}

    [report] = content["reports_made"]
    assert report["reference"] == alex_case.reference
    assert report["description"] == "Someone keeps messaging me at night."
    assert [e["what"] for e in report["history"]] == ["created", "note"]
    assert "detail" not in report["history"][1], "a DSO's note can name third parties: withheld"

    assert [m["text"] for m in content["messages_sent"]] == ["report", "no, but it's every night"]
    [attempt] = content["quiz_results"]
    assert attempt["score"] == 7 and [a["correct"] for a in attempt["answers"]] == [True, False]

    about = content["cases_about_them"]
    assert "Matched by name only" in about["note"]
    [named] = about["cases"]
    assert named["reference"] == billie_case.reference and named["matched_by"] == "name"
    assert (
        named["description"]
        == "Alex Learner said [redacted] should join a group online. [redacted] is worried for Alex."
    )
    assert {e["by"] for e in named["history"]} == {"[redacted]"}
    # In their own report, staff acting on it are named; in someone else's report about them, nobody is.
    assert {e["by"] for e in report["history"]} == {"Alex Learner", "Claire Lewis"}
    assert "Claire Lewis" not in json.dumps(about)

    text = result.stdout
    for someone_elses in (
        "Billie",
        OTHER,
        DSO,
        "Morgan Vale",
        "Billie's own words",
        unrelated.reference,
        "Sam Other",
        '"score": 2',
    ):
        assert someone_elses not in text, someone_elses

    # The run is recorded: the audit log, and each case it disclosed.
    async with sessions() as session:
        [audit] = (await session.execute(select(AuditEntry))).scalars().all()
    detail = json.loads(audit.detail or "{}")
    assert (audit.action, audit.actor, detail["subject_aad_id"]) == (
        "subject_access",
        "Data Protection Officer",
        LEARNER,
    )
    assert (detail["reports"], detail["cases_about"], detail["messages"], detail["quiz_attempts"]) == (1, 1, 2, 1)
    assert detail["sha256"] == document["content_sha256"]
    assert alex_case.id and billie_case.id and unrelated.id
    assert (await kinds(sessions, alex_case.id))[-1] == "subject_access"
    assert (await kinds(sessions, billie_case.id))[-1] == "subject_access"
    assert "subject_access" not in await kinds(sessions, unrelated.id)


async def test_the_html_response_is_escaped_and_a_stranger_gets_an_empty_one(store, tmp_path: Path) -> None:
    url, sessions = store
    await make_case(sessions, description="<script>alert(1)</script> at <b>night</b>")
    out = tmp_path / "sar.html"
    result = await bot(url, "subject-access", "--user", LEARNER, "--format", "html", "--out", str(out))
    assert result.returncode == 0, result.stderr
    page = out.read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; at &lt;b&gt;night&lt;/b&gt;" in page and "<script" not in page
    assert "Qualitrain" in page and "Subject access" in page

    nobody = await bot(url, "subject-access", "--user", "99999999-1111-2222-3333-444444444444")
    assert nobody.returncode == 0, nobody.stderr
    content = json.loads(nobody.stdout)["content"]
    assert content["reports_made"] == [] and content["messages_sent"] == [] and content["quiz_results"] == []
    assert content["cases_about_them"]["cases"] == []


async def test_bad_input_fails_in_one_line(store, tmp_path: Path) -> None:
    url, _ = store
    for args, expected in (
        (("subject-access", "--user", "alex"), "is not an Entra object id"),
        (("subject-access", "--user", LEARNER, "--format", "pdf"), "--format must be json or html"),
        (("subject-access",), "the following arguments are required: --user"),
    ):
        line = one_line_failure(await bot(url, *args))
        assert expected in line, line
    line = one_line_failure(await bot(f"sqlite:///{tmp_path / 'none.db'}", "subject-access", "--user", LEARNER))
    assert "there is no case store" in line
