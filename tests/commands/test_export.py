"""`python -m bot export`: a case as JSON or a printable HTML document, the case list as CSV (issue 11)."""

from __future__ import annotations

import csv
import getpass
import io
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.commands.export import canonical_sha256
from storage.db import create_engine, create_sessionmaker
from storage.migrate import migrate
from storage.models import AuditEntry, CaseEvent
from tests.commands.records_rig import (
    DSO,
    LEARNER,
    T0,
    bot,
    dso_note,
    kinds,
    make_case,
    one_line_failure,
    say,
)

pytestmark = pytest.mark.slow

HOSTILE = 'He said <script>alert("x")</script> & <img src=x onerror=alert(1)> in the chat'


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[tuple[str, async_sessionmaker[AsyncSession]]]:
    engine = create_engine(database_url)
    await migrate(engine)
    yield database_url, create_sessionmaker(engine)
    await engine.dispose()


async def _a_case(sessions: async_sessionmaker[AsyncSession]):
    case = await make_case(sessions, description=HOSTILE, subject_name="<b>Jordan</b>", incident_where="Canteen")
    conversation = case.reporter_conversation_id or ""
    await say(sessions, conversation, LEARNER, "Alex Learner", "report")
    await say(sessions, conversation, None, None, "Is anyone in danger right now?")
    await say(sessions, conversation, LEARNER, "Alex Learner", HOSTILE)
    await dso_note(sessions, case, "Spoke to Alex </td></tr></table><h1>forged</h1>")
    return case


async def test_a_case_exports_as_json_with_its_chronology_and_conversation_and_the_export_is_recorded(store) -> None:
    url, sessions = store
    case = await _a_case(sessions)
    result = await bot(url, "export", "--case", case.reference.lower(), "--by", "Claire Lewis (DSO)")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    content = document["content"]
    assert document["reference"] == case.reference and document["provider"] == "Qualitrain"
    assert document["generated_by"] == "Claire Lewis (DSO)"
    assert document["content_sha256"] == canonical_sha256(content)
    assert content["case"]["description"] == HOSTILE and content["case"]["reference"] == case.reference
    assert [e["kind"] for e in content["chronology"]] == ["created", "note"]
    assert content["chronology"][1]["detail"]["text"].startswith("Spoke to Alex")
    assert content["chain"] == {"intact": True}
    assert [m["text"] for m in content["conversation"]] == ["report", "Is anyone in danger right now?", HOSTILE]

    assert case.id is not None
    assert await kinds(sessions, case.id) == ["created", "note", "exported"]
    async with sessions() as session:
        exported = (
            await session.execute(select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == "exported"))
        ).scalar_one()
    assert exported.actor_name == "Claire Lewis (DSO)" and exported.actor_aad_id is None
    assert json.loads(exported.detail or "{}")["sha256"] == document["content_sha256"]
    assert json.loads(exported.detail or "{}")["format"] == "json"

    # Without --by, the operating-system user is who exported it; the export shows the first export too.
    again = await bot(url, "export", "--case", case.reference)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["generated_by"] == getpass.getuser()
    assert [e["kind"] for e in json.loads(again.stdout)["content"]["chronology"]][-1] == "exported"


def _chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        pytest.skip("Chromium is not installed")
    return subprocess.run(
        [
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
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


async def test_the_html_export_is_a_standalone_document_that_opens_in_chromium(store, tmp_path: Path) -> None:
    url, sessions = store
    case = await _a_case(sessions)
    out = tmp_path / "case.html"
    result = await bot(url, "export", "--case", case.reference, "--format", "html", "--out", str(out), "--by", "DSO")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # all of it went to the file
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    assert "Qualitrain" in page and f"Safeguarding case {case.reference}" in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page and "<script" not in page
    assert "<img" not in page and "<h1>forged</h1>" not in page and "&lt;b&gt;Jordan&lt;/b&gt;" in page
    for external in ("http://", "https://", "src=", "@import", "url("):
        assert external not in page.replace("src=x", ""), external
    assert case.id is not None
    async with sessions() as session:
        exported = (
            await session.execute(select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == "exported"))
        ).scalar_one()
    sha = json.loads(exported.detail or "{}")["sha256"]
    assert sha in page

    with tempfile.TemporaryDirectory() as profile:
        dom = _chromium("--dump-dom", out.as_uri(), profile=Path(profile))
        assert dom.returncode == 0, dom.stderr[-2000:]
        # What the browser built: the learner's words are text in a cell, not elements.
        assert "<script" not in dom.stdout and "<img" not in dom.stdout
        assert "Spoke to Alex &lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;&lt;h1&gt;forged&lt;/h1&gt;" in dom.stdout
        png = tmp_path / "export.png"
        shot = _chromium("--window-size=900,1400", f"--screenshot={png}", out.as_uri(), profile=Path(profile))
    assert shot.returncode == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    if target := os.environ.get("SAFESPACE_EXPORT_SCREENSHOT"):
        shutil.copyfile(png, target)


async def test_the_case_list_exports_as_csv_and_is_audited(store) -> None:
    url, sessions = store
    first = await make_case(sessions, category="radicalisation", urgent=True)
    await make_case(sessions, reporter=DSO, reporter_name="Claire Lewis", now=T0.replace(hour=10))
    result = await bot(url, "export", "--cases", "--format", "csv", "--by", '=HYPERLINK("x")')
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["reference"] for r in rows] == [first.reference, "SS-2026-0002"]
    assert rows[0]["category"] == "radicalisation" and rows[0]["urgent"] == "True" and rows[0]["status"] == "new"
    assert rows[0]["created_at"] == "2026-11-25T09:00:00+00:00" and "description" not in rows[0]
    async with sessions() as session:
        audit = (await session.execute(select(AuditEntry))).scalar_one()
    assert audit.action == "export_case_list" and json.loads(audit.detail or "{}")["cases"] == 2
    assert audit.actor == '=HYPERLINK("x")'


async def test_bad_input_fails_in_one_line_and_records_nothing(store, tmp_path: Path) -> None:
    url, sessions = store
    case = await make_case(sessions)
    checks = [
        ((url, "export", "--case", "SS-2026-9999"), "there is no case SS-2026-9999"),
        ((url, "export", "--case", "42; drop table"), "is not a case reference"),
        ((url, "export", "--case", case.reference, "--format", "pdf"), "--format must be json or html"),
        ((url, "export", "--cases", "--format", "html"), "--cases gives CSV only"),
        ((url, "export", "--case", case.reference, "--out", str(tmp_path / "no" / "x.html")), "there is no folder"),
        ((f"sqlite:///{tmp_path / 'missing.db'}", "export", "--case", case.reference), "there is no case store"),
    ]
    for args, expected in checks:
        line = one_line_failure(await bot(*args))
        assert line.startswith("safespace export: ") and expected in line, line
    assert not (tmp_path / "missing.db").exists()
    unreachable = await bot("postgresql://safespace:pw-secret@127.0.0.1:1/x", "export", "--case", case.reference)
    line = one_line_failure(unreachable)
    assert "could not open the case store" in line and "pw-secret" not in line
    assert case.id is not None
    assert await kinds(sessions, case.id) == ["created"]
