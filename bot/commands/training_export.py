"""`python -m bot training-export --format csv|xlsx [--out FILE]`: the Single Central Register's training rows.

Staff come from the roles configuration (SAFESPACE_*_IDS) and everyone with a record; names are the ones stored
with the records. The running bot's weekly SharePoint upload also counts staff from Entra groups and people seen.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.config import Settings
from content.training import TrainingCourses
from dialogs.roles import Role, StaticRoleDirectory
from storage import training
from storage.db import open_database
from storage.migrate import migrate
from storage.training_register import register_file, register_rows


def add_training_export_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("training-export", help="write the staff training register (csv or xlsx)")
    parser.add_argument("--format", choices=("csv", "xlsx"), default="csv", dest="file_format")
    parser.add_argument("--out", type=Path, default=None, help="file to write (default: standard output)")


async def build_register(settings: Settings, file_format: str, today: dt.date | None = None) -> tuple[bytes, int]:
    courses = TrainingCourses.load(settings.content_dir)
    roles = StaticRoleDirectory(
        dso_ids=settings.dso_ids,
        director_ids=settings.director_ids,
        staff_ids=settings.staff_ids,
        trainer_ids=settings.trainer_ids,
    )
    population: dict[str, str | None] = {}
    for role in (Role.STAFF, Role.TRAINER, Role.DSO, Role.DIRECTOR):
        population.update({aad.lower(): None for aad in await roles.members(role)})
    database = open_database(settings.database_url)
    try:
        await migrate(database.engine)
        async with database.read_sessions() as session:
            records = await training.all_records(session=session)
    finally:
        await database.dispose()
    rows = register_rows(
        records=records,
        population=population,
        courses=courses.courses,
        today=today or dt.datetime.now(ZoneInfo("Europe/London")).date(),
        due_soon_days=courses.due_soon_days,
    )
    return register_file(rows, file_format), len(rows)


def training_export_command(settings: Settings, file_format: str, out: Path | None) -> int:
    content, rows = asyncio.run(build_register(settings, file_format))
    if out is None:
        if file_format == "xlsx" and sys.stdout.isatty():
            print("safespace: an xlsx file is binary: give --out FILE", file=sys.stderr)
            return 2
        sys.stdout.buffer.write(content)
        sys.stdout.buffer.flush()
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(content)
        print(f"wrote {rows} rows to {out}", file=sys.stderr)
    return 0
