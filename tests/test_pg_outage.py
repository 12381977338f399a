"""PostgreSQL restarted under load (issue 12, proof 3), as a short run of benchmarks/pg_outage.py.

A private PostgreSQL server (initdb/pg_ctl in a temporary directory, never the shared one) is stopped for a few
seconds while 16 learners report and take quizzes against a real `python -m bot`. Every turn is answered (never a
5xx trace), the outbox resumes, and every report acknowledged to a learner is in the store with one card posted.
"""

from __future__ import annotations

import shutil

import pytest

from benchmarks.pg_outage import run

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("initdb") is None or shutil.which("pg_ctl") is None, reason="needs initdb"),
]


async def test_a_postgresql_restart_under_load_loses_and_doubles_nothing() -> None:
    result = await run(users=16, seconds=16, outage_at=5, down=3)
    assert result.ok, result.problems
    assert result.outage_turns, "no turn overlapped the outage: the test proved nothing"
    assert result.acknowledged > 0
    assert result.recovery_seconds < 15 and result.outbox_resumed_seconds < 30
