"""Screenshot a case export (`python -m bot export --format html`) for the README.

    .venv/bin/python scripts/render_export.py [--out docs/screenshots/export-case.png]

Builds a throwaway SQLite case store with one made-up case (every name and event is invented), exports it with
the real command and photographs the page in headless Chromium (Debian's `chromium` package).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storage import cases  # noqa: E402
from storage.db import create_engine, create_sessionmaker  # noqa: E402
from storage.migrate import migrate  # noqa: E402
from storage.models import CaseCreate, ConversationLogEntry  # noqa: E402

LEARNER = "aaaaaaaa-1111-2222-3333-444444444444"
DSO = "dddddddd-1111-2222-3333-444444444444"
START = dt.datetime(2026, 11, 25, 12, 40, tzinfo=dt.UTC)


async def fill(database_url: str) -> str:
    engine = create_engine(database_url)
    await migrate(engine)
    sessions = create_sessionmaker(engine)
    chat = f"a:1on1-{LEARNER}"
    lines = [
        ("in", "report"),
        ("out", "Is anyone in danger right now?"),
        ("in", "no"),
        ("out", "Who is this about?"),
        ("in", "Another learner"),
        ("out", "In your own words, what happened?"),
        ("in", "Jordan keeps sharing videos from a group that says some people don't belong here."),
        ("in", "Done"),
    ]
    async with sessions.begin() as session:
        for n, (direction, text) in enumerate(lines):
            session.add(
                ConversationLogEntry(
                    conversation_id=chat,
                    direction=direction,
                    activity_type="message",
                    channel_id="msteams",
                    conversation_type="personal",
                    user_aad_id=LEARNER if direction == "in" else None,
                    user_name="Alex Learner" if direction == "in" else None,
                    text=text,
                    created_at=START + dt.timedelta(seconds=20 * n),
                )
            )
        case = await cases.create_case(
            session=session,
            case=CaseCreate(
                source="learner",
                category="radicalisation",
                about="learner",
                subject_name="Jordan Example",
                description="Jordan keeps sharing videos from a group that says some people don't belong here.",
                incident_when="Last Tuesday",
                incident_where="Workshop 2 and the class group chat",
                reporter_aad_id=LEARNER,
                reporter_name="Alex Learner",
                reporter_conversation_id=chat,
                contact_ok=True,
                contact_how="Teams chat please",
            ),
            actor_aad_id=LEARNER,
            actor_name="Alex Learner",
            now=START + dt.timedelta(minutes=3),
        )
    assert case.id is not None
    steps = [
        (
            9,
            {"status": "acknowledged", "owner_aad_id": DSO, "owner_name": "Claire Lewis"},
            "acknowledged",
            None,
        ),
        (55, {}, "note", {"text": "Spoke to Alex. Saved the links; spoke to Jordan's trainer."}),
        (
            1500,
            {
                "status": "decided",
                "decision": "internal_support",
                "decision_reason": "Mentoring with the tutor; no referral needed now.",
                "decided_by": "Claire Lewis",
            },
            "decision",
            {"decision": "internal_support"},
        ),
        (
            10080,
            {"status": "closed", "outcome_note": "Jordan engaged with mentoring. Reviewed with the DSO."},
            "closed",
            {"note": "Jordan engaged with mentoring."},
        ),
    ]
    version = case.version
    for minutes, changes, kind, detail in steps:
        at = START + dt.timedelta(minutes=minutes)
        extra = {"acknowledged_at": at} if kind == "acknowledged" else {}
        extra |= {"decided_at": at} if kind == "decision" else {}
        extra |= {"closed_at": at} if kind == "closed" else {}
        async with sessions.begin() as session:
            changed = await cases.change_case(
                session=session,
                case_id=case.id,
                expected_version=version,
                changes={**changes, **extra},
                event_kind=kind,
                actor_aad_id=DSO,
                actor_name="Claire Lewis",
                detail=detail,
                now=at,
            )
        assert changed is not None
        version = changed.version
    await engine.dispose()
    return case.reference


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots" / "export-case.png")
    args = parser.parse_args(argv)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        raise SystemExit("Chromium is not installed: apt-get install -y chromium")
    with tempfile.TemporaryDirectory() as work:
        url = f"sqlite:///{Path(work) / 'example.db'}"
        reference = asyncio.run(fill(url))
        page = Path(work) / "export.html"
        env = {**os.environ, "DATABASE_URL": url, "MicrosoftAppId": ""}
        subprocess.run(  # noqa: S603 - our own command
            [
                sys.executable,
                "-m",
                "bot",
                "export",
                "--case",
                reference,
                "--format",
                "html",
                "--out",
                str(page),
                "--by",
                "Claire Lewis (DSO)",
            ],
            cwd=ROOT,
            env=env,
            check=True,
        )
        subprocess.run(  # noqa: S603 - fixed arguments
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--no-first-run",
                "--force-device-scale-factor=1",
                f"--user-data-dir={Path(work) / 'profile'}",
                "--window-size=900,1500",
                f"--screenshot={args.out}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=90,
        )
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
