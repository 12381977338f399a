"""What people wrote never reaches the application log, even when the database fails (security review item 5)."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text

from tests.conftest import Rig
from tests.rig.safeguarding import services, walk_report

DESCRIPTION = "Jordan from plumbing showed me a video praising the attack and said we should do the same"


async def test_a_failed_case_insert_logs_the_error_type_not_the_report(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    async with services(rig).database.sessions.begin() as session:
        await session.execute(
            text(
                "CREATE TRIGGER refuse_cases BEFORE INSERT ON safeguarding_case "
                "BEGIN SELECT RAISE(ABORT, 'forced for the test'); END"
            )
        )
    caplog.set_level(logging.DEBUG)
    learner = rig.personal(rig.cast.learner)
    replies = await walk_report(learner, DESCRIPTION)
    assert not any("Your report has been received" in (r.text or "") for r in replies), "not stored, not claimed"
    assert "database error: IntegrityError during INSERT INTO" in caplog.text
    logged = caplog.text + "\n".join(
        logging.Formatter().formatException(r.exc_info) for r in caplog.records if r.exc_info
    )
    for secret in (DESCRIPTION, "Jordan", rig.cast.learner.name, rig.cast.learner.aad_object_id, "Teams chat please"):
        assert secret not in logged, f"{secret!r} reached the log"
