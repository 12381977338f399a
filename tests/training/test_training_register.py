"""The Single Central Register (issue 13): `python -m bot training-export` as CSV and XLSX, and the weekly upload to
SharePoint through the real msgraph-sdk client against the fake Graph server, through a 429 and an expired token."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import os
import subprocess
import sys
import time
from pathlib import Path

from openpyxl import load_workbook

from bot.app import SERVICES
from bot.config import Settings
from bot.training.staff import uk_today
from storage import training
from storage.db import open_database
from storage.migrate import migrate
from storage.training import TrainingRecordCreate
from storage.training_register import HEADER, RegisterRow, Standing, register_rows, to_csv, to_xlsx
from tests.conftest import Cast, Rig, settings_for
from tests.rig.bot_server import ROOT
from tests.rig.fake_graph import FakeGraph, GraphFailure
from tests.training.conftest import DRIVE, SITE, graph_settings

PATH = "Quality and Compliance/18. Safeguarding Master/Staff training register.xlsx"


async def seed(database_url: str, cast: Cast) -> None:
    database = open_database(database_url)
    try:
        await migrate(database.engine)
        async with database.sessions.begin() as session:
            for person, course, day, by in (
                (cast.staff, "prevent", dt.date(2025, 1, 15), cast.staff),
                (cast.staff, "prevent", dt.date(2024, 1, 10), cast.staff),  # superseded by the later one
                (cast.trainer, "safeguarding", dt.date(2020, 3, 1), cast.dso),  # long overdue, recorded by the DSO
            ):
                await training.add_record(
                    session=session,
                    record=TrainingRecordCreate(
                        person_aad_id=person.aad_object_id,
                        person_name=person.name,
                        course=course,
                        provider='=HYPERLINK("http://evil.example")' if person is cast.trainer else "Home Office",
                        completed_on=day,
                        recorded_by_aad_id=by.aad_object_id,
                        recorded_by_name=by.name,
                    ),
                )
    finally:
        await database.dispose()


def expected(cast: Cast, rows: list[list[str]]) -> None:
    """What the register must say, whatever the file: one row per staff member per course."""
    assert rows[0] == list(HEADER)
    body = {(r[1], r[2]): r for r in rows[1:]}
    staff_ids = [p.aad_object_id for p in (cast.staff, cast.trainer, cast.dso, cast.deputy, cast.director)]
    assert len(rows) - 1 == len(staff_ids) * 2 and {k[0] for k in body} == set(staff_ids)
    assert cast.learner.aad_object_id not in {k[0] for k in body}
    sam = body[(cast.staff.aad_object_id, "Prevent awareness")]
    assert (sam[0], sam[3], sam[4], sam[6], sam[8]) == (
        "Sam Staff",
        "2025-01-15",
        "2027-01-15",
        "Home Office",
        "Sam Staff",
    )
    tara = body[(cast.trainer.aad_object_id, "Safeguarding")]
    assert (tara[3], tara[4], tara[5], tara[8]) == ("2020-03-01", "2021-03-01", "overdue", "Claire Lewis")
    assert tara[6].startswith("'=")  # typed text never becomes a spreadsheet formula
    assert body[(cast.dso.aad_object_id, "Prevent awareness")][5] == "not recorded"


def test_the_export_command_writes_csv_and_xlsx(tmp_path: Path, cast: Cast) -> None:
    url = f"sqlite:///{tmp_path / 'scr.db'}"
    asyncio.run(seed(url, cast))
    settings = settings_for(url, cast)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SAFESPACE_DSO_IDS": ",".join(sorted(settings.dso_ids)),
        "SAFESPACE_DIRECTOR_IDS": ",".join(settings.director_ids),
        "SAFESPACE_STAFF_IDS": ",".join(settings.staff_ids),
        "SAFESPACE_TRAINER_IDS": ",".join(settings.trainer_ids),
    }
    out = subprocess.run(
        [sys.executable, "-m", "bot", "training-export", "--format", "csv"],
        cwd=ROOT, env=env, capture_output=True, check=True, timeout=120,
    )  # fmt: skip
    expected(cast, list(csv.reader(io.StringIO(out.stdout.decode("utf-8-sig")))))
    xlsx = tmp_path / "out" / "scr.xlsx"
    subprocess.run(
        [sys.executable, "-m", "bot", "training-export", "--format", "xlsx", "--out", str(xlsx)],
        cwd=ROOT, env=env, capture_output=True, check=True, timeout=120,
    )  # fmt: skip
    expected(cast, xlsx_rows(xlsx.read_bytes()))


def xlsx_rows(content: bytes) -> list[list[str]]:
    sheet = load_workbook(io.BytesIO(content)).active
    assert sheet is not None
    return [
        ["" if v is None else v.date().isoformat() if isinstance(v, dt.datetime) else str(v) for v in row]
        for row in sheet.iter_rows(values_only=True)
    ]


def test_standing_counts_expiry_day_as_overdue_and_thirty_days_as_due() -> None:
    from content.training import TrainingCourses

    courses = TrainingCourses.load().courses
    record = training.TrainingRecord(
        person_aad_id="a", course="safeguarding", provider="x", completed_on=dt.date(2025, 2, 28), id=1
    )

    def on(day: dt.date) -> RegisterRow:
        [row] = [
            r
            for r in register_rows(
                records=[record], population={"a": "A"}, courses=courses, today=day, due_soon_days=30
            )
            if r.course_id == "safeguarding"
        ]
        return row

    assert on(dt.date(2026, 1, 28)).standing is Standing.CURRENT
    assert on(dt.date(2026, 1, 29)).standing is Standing.DUE_SOON
    assert on(dt.date(2026, 2, 27)).standing is Standing.DUE_SOON
    assert on(dt.date(2026, 2, 28)).standing is Standing.OVERDUE
    assert to_csv([]).decode("utf-8-sig").startswith("Name,")
    assert xlsx_rows(to_xlsx([])) == [list(HEADER)]


# SharePoint ----------------------------------------------------------------------------------------------


async def test_the_weekly_upload_reaches_sharepoint_through_a_429_and_an_expired_token(
    make_rig, fake: FakeGraph, sqlite_url: str, cast: Cast
) -> None:
    await seed(sqlite_url, cast)
    rig: Rig = await make_rig(
        database_url=sqlite_url,
        **graph_settings(fake),
        scr_site_id=SITE,
        scr_drive_path=PATH,
    )
    job = rig.server.app[SERVICES].scr_upload  # type: ignore[index]
    assert job is not None
    # A token is fetched and then expires (Graph refuses it); then the upload itself is throttled once.
    fake.fail_next(GraphFailure(429, {"Retry-After": "1"}, code="TooManyRequests", path_contains="/content"))
    job.clock = lambda: dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.UTC)
    await rig.server.app[SERVICES].graph.client.sites.by_site_id(SITE).drive.get()  # type: ignore[index]
    fake.revoke_tokens()
    tokens_before = len(fake.token_requests)
    calls_before = len(fake.requests)
    started = time.monotonic()
    assert await job.run_once() is True
    assert time.monotonic() - started >= 1.0  # Retry-After was honoured
    assert len(fake.token_requests) == tokens_before + 1  # a fresh token after the 401
    statuses = [(method, status) for method, path, status in fake.requests if "/content" in path]
    assert statuses == [("PUT", 429), ("PUT", 201)]
    # The first call after the token expired was refused (names for the register are read from Graph first).
    assert fake.requests[calls_before][2] == 401
    expected(cast, xlsx_rows(fake.files[(DRIVE, PATH)]))

    # Once a week: the same week again uploads nothing, the next week uploads again.
    assert await job.run_once() is False
    job.clock = lambda: dt.datetime(2026, 12, 14, 8, 0, tzinfo=dt.UTC)
    assert await job.run_once() is True
    assert [s for m, p, s in fake.requests if "/content" in p] == [429, 201, 200]


async def test_a_failed_upload_is_tried_again_later(make_rig, fake: FakeGraph, sqlite_url: str, cast: Cast) -> None:
    rig: Rig = await make_rig(
        database_url=sqlite_url,
        **graph_settings(fake),
        scr_site_id=SITE,
        scr_drive_path="SCR/training.csv",
    )
    job = rig.server.app[SERVICES].scr_upload  # type: ignore[index]
    now = dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.UTC)
    job.clock = lambda: now
    fake.fail_next(GraphFailure(403, code="accessDenied", path_contains="/content"))
    assert await job.run_once() is False
    assert (DRIVE, "SCR/training.csv") not in fake.files
    assert await job.run_once() is False  # not before the retry time
    job.clock = lambda: now + dt.timedelta(minutes=16)
    assert await job.run_once() is True
    rows = list(csv.reader(io.StringIO(fake.files[(DRIVE, "SCR/training.csv")].decode("utf-8-sig"))))
    assert rows[0] == list(HEADER) and len(rows) == 1 + 5 * 2
    assert uk_today(now) == dt.date(2026, 12, 7)


def test_settings_name_the_register_location() -> None:
    settings = Settings(_env_file=None, SAFESPACE_SCR_SITE_ID="s", SAFESPACE_SCR_DRIVE_PATH="a/b.xlsx")
    assert (settings.scr_site_id, settings.scr_drive_path) == ("s", "a/b.xlsx")
