"""`python -m bot verify-restore` checks a restored case store without writing to it (security review item 9).

It replaces the old advice to start a local-mode (unauthenticated) Safe Space against a restored backup.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.db import create_engine
from storage.migrate import migrate
from tests.conftest import Rig
from tests.rig.bot_server import ROOT
from tests.rig.safeguarding import reference_from, walk_report

pytestmark = pytest.mark.slow


def _verify(database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "MicrosoftAppId": ""}
    return subprocess.run(
        [sys.executable, "-m", "bot", "verify-restore"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def verify(database_url: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(_verify, database_url)


def _files(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir()) if p.is_file()}


async def _rows(database_url: str) -> list[tuple[str, int, str]]:
    """Every table's row count and a digest of its rows: what a write would change."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            tables = ["bot_state", "conversation_log", "safeguarding_case", "case_event", "outbox", "alembic_version"]
            found = []
            for table in tables:
                rows = (await conn.execute(text(f"SELECT * FROM {table}"))).all()
                digest = hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()
                found.append((table, len(rows), digest))
            return found
    finally:
        await engine.dispose()


def _one_line_failure(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("safespace: verify-restore failed: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


async def test_a_good_restore_is_reported_and_nothing_is_written(make_rig, database_url: str) -> None:
    rig: Rig = await make_rig(database_url=database_url, delivery_poll_seconds=0.05)
    for dso in (rig.cast.dso, rig.cast.deputy):
        await rig.personal(dso).say("hi")
    reference = reference_from(await walk_report(rig.personal(rig.cast.learner), "Checking the backup works."))
    await asyncio.sleep(0.5)  # the card's outbox rows
    await rig.server.stop()
    rig.server._runner = None  # stopped here, not again at teardown

    sqlite_dir = Path(database_url.removeprefix("sqlite:///")).parent if database_url.startswith("sqlite") else None
    before_files = _files(sqlite_dir) if sqlite_dir else {}
    before_rows = await _rows(database_url)

    result = await verify(database_url)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "nothing was written" in out and "at the newest migration" in out
    assert "cases:   1, every one readable; newest " + reference in out
    assert "events:  1" in out and "outbox:  " in out and out.rstrip().endswith("OK")
    assert "listening" not in out + result.stderr

    assert await _rows(database_url) == before_rows
    if sqlite_dir:
        assert _files(sqlite_dir) == before_files, "not a byte written, not even -wal or -shm files"


async def test_a_missing_file_fails_in_one_line_and_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "restored" / "safespace.db"
    line = _one_line_failure(await verify(f"sqlite:///{missing}"))
    assert "no database file" in line
    assert not missing.exists() and not missing.parent.exists()


async def test_an_old_schema_fails_in_one_line(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    await migrate(engine)
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = '0004'"))
    await engine.dispose()
    line = _one_line_failure(await verify(sqlite_url))
    assert "revision 0004, not the newest" in line and "python -m bot migrate" in line


async def test_a_case_that_does_not_load_fails_naming_it(make_rig, sqlite_url: str) -> None:
    rig: Rig = await make_rig(database_url=sqlite_url)
    await walk_report(rig.personal(rig.cast.learner), "First.")
    await walk_report(rig.personal(rig.cast.other_learner), "Second.")
    await rig.server.stop()
    rig.server._runner = None
    engine = create_engine(sqlite_url)
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE safeguarding_case SET created_at = 'last Tuesday' WHERE id = 2"))
    await engine.dispose()
    line = _one_line_failure(await verify(sqlite_url))
    assert "case id 2 cannot be read" in line


async def test_an_unreachable_server_fails_in_one_line() -> None:
    line = _one_line_failure(await verify("postgresql://safespace:secret-pw@127.0.0.1:1/safespace"))
    assert "could not read the database" in line and "secret-pw" not in line
