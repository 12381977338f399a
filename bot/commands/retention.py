"""`python -m bot retention --dry-run | --apply`: apply the retention schedule from the configuration now.

--dry-run prints what would be removed and writes nothing. --apply removes it and records the run (counts only)
in the case store's retention_run table; each removed case leaves a stub (reference, category, dates). The
service also runs this daily (bot/safeguarding/retention.py).
"""

from __future__ import annotations

import argparse

from bot.commands.store import one_line_errors, open_store, run_command, who_ran
from bot.config import Settings, retention_schedule
from storage.retention import apply_schedule
from storage.types import utcnow


def add_retention_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = one_line_errors(
        commands.add_parser(
            "retention",
            help="remove records past the retention schedule (--dry-run to see what would go)",
            description="Apply the retention schedule: closed cases past their period (never under legal hold), "
            "conversation logs no case links to, old quiz answers.",
        )
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--dry-run", action="store_true", help="say what would be removed; change nothing")
    mode.add_argument("--apply", action="store_true", help="remove it, and record the run")
    parser.add_argument("--by", metavar="NAME", help="who is running it (default: the operating-system user)")


def retention_command(settings: Settings, args: argparse.Namespace) -> int:
    async def work() -> int:
        schedule = retention_schedule(settings)
        async with open_store(settings.database_url) as sessions, sessions.begin() as session:
            counts = await apply_schedule(
                session=session,
                schedule=schedule,
                now=utcnow(),
                dry_run=bool(args.dry_run),
                trigger="command",
                actor=who_ran(args.by),
            )
        assert counts is not None  # only a keyed (daily) run can find itself already done
        verb = "would remove" if args.dry_run else "removed"
        print(
            f"Retention ({'dry run: nothing changed' if args.dry_run else 'applied and recorded'}). Schedule: cases "
            f"{schedule.years_after_closed} years after closing or {schedule.years_from_birth} years from the "
            f"subject's birth, whichever is later; unlinked conversations {schedule.unlinked_log_days} days; quiz "
            f"answers {schedule.quiz_years} years."
        )
        print(
            f"  cases {verb}:               {counts.cases_removed}"
            + (f" ({', '.join(counts.references)})" if counts.references else "")
        )
        print(f"  chronology events {verb}:   {counts.events_removed}")
        print(f"  outbox messages {verb}:     {counts.outbox_removed}")
        print(f"  conversation log {verb}:    {counts.conversation_log_removed}")
        print(f"  quiz attempts {verb}:       {counts.quiz_attempts_removed} ({counts.quiz_answers_removed} answers)")
        print(f"  live quiz answers {verb}:   {counts.live_quiz_answers_removed}")
        print(f"  cases kept under legal hold: {counts.held_cases_kept}")
        return 0

    return run_command("retention", work)
