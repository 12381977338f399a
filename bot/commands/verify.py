"""`python -m bot verify`: check every case's chronology against its hash chain (storage/chain.py).

Prints one line per case whose chain fails, naming its first broken event, and exits 1 if any does. The last
line is a digest of every chain's head: kept somewhere else, it shows later whether history was rewritten whole.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from bot.commands.store import one_line_errors, open_store, run_command
from storage.chain import check_store


def add_verify_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    one_line_errors(
        commands.add_parser(
            "verify",
            help="check every case's chronology against its hash chain; exit 1 naming the first broken event",
        )
    )


def verify_command(database_url: str) -> int:
    async def work() -> int:
        async with open_store(database_url) as sessions, sessions() as session:
            report = await check_store(session)
        for reference, found in report.broken:
            at = f", {found.at.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC" if found.at else ""
            event = f"event {found.seq}" + (f" (id {found.event_id}, {found.kind}{at})" if found.event_id else "")
            print(f"BROKEN {reference}: {event}: {found.reason}")
        print(f"{report.cases} cases, {report.events} events checked; chain heads digest {report.heads_digest}")
        if report.broken:
            print(f"safespace verify: {len(report.broken)} case(s) with a broken chronology", file=sys.stderr)
            return 1
        print("OK: every chronology is intact")
        return 0

    return run_command("verify", work)
