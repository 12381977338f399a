"""`python -m bot report`: the directors' report as a standalone HTML page (issue 11), on SQLite and PostgreSQL.

Run as a real process. Counts under 5 read "fewer than 5" unless --exact; nothing is loaded from elsewhere (no
script, no external link); bad input exits 2 with one line on standard error.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from storage import cases
from storage.db import create_engine, create_sessionmaker
from storage.migrate import migrate
from storage.models import CaseCreate
from tests.rig.bot_server import ROOT

pytestmark = pytest.mark.slow


def _run(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "MicrosoftAppId": ""}
    return subprocess.run(
        [sys.executable, "-m", "bot", "report", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def run(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(_run, database_url, *args)


async def _fill(database_url: str) -> None:
    engine = create_engine(database_url)
    await migrate(engine)
    sessions = create_sessionmaker(engine)
    async with sessions.begin() as session:
        at = dt.datetime(2026, 10, 5, 10, 0, tzinfo=dt.UTC)
        for n in range(9):
            category = "bullying" if n < 7 else "radicalisation"  # 7 and 2: one over the threshold, one under
            await cases.create_case(
                session=session,
                case=CaseCreate(source="staff", category=category, about="learner", description="<script>x</script>"),
                actor_aad_id=None,
                actor_name=None,
                now=at + dt.timedelta(hours=n),
            )
    await engine.dispose()


async def test_the_report_page_is_standalone_and_hides_small_counts(database_url: str, tmp_path: Path) -> None:
    await _fill(database_url)
    done = await run(database_url, "--from", "2026-10-01", "--to", "2026-10-31", "--format", "html")
    assert done.returncode == 0, done.stderr
    page = done.stdout
    assert page.startswith("<!doctype html>") and "October 2026" in page
    assert "<svg" in page and "<script" not in page.lower(), "charts inline, and no script at all"
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page), "nothing loaded from elsewhere"
    assert "Bullying, harassment or hate</th><td>7" in page
    assert "Radicalisation or extremism</th><td>fewer than 5" in page
    assert ">2<" not in page.split("Cases by category")[1].split("</table>")[0]

    out = tmp_path / "report.html"
    exact = await run(database_url, "--from", "2026-10", "--to", "2026-10", "--exact", "--out", str(out))
    assert exact.returncode == 0 and exact.stdout == ""
    assert "Radicalisation or extremism</th><td>2" in out.read_text(encoding="utf-8")


async def test_bad_input_exits_non_zero_with_one_line(sqlite_url: str, tmp_path: Path) -> None:
    await _fill(sqlite_url)
    for args, says in (
        (("--from", "2026-13-01", "--to", "2026-12-01"), "is not a date"),
        (("--from", "2026-11-01", "--to", "2026-10-01"), "before"),
        (("--to", "2026-10-01"), "--from DATE"),
    ):
        done = await run(sqlite_url, *args)
        assert done.returncode == 2 and says in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and done.stdout == ""
    missing = await run(f"sqlite:///{tmp_path / 'nothing-here.db'}", "--from", "2026-10-01", "--to", "2026-10-31")
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "nothing-here.db").exists(), "a missing store is not created"
