"""The records commands (issue 11): `verify`, `export`, `retention` and `subject-access`, added to `python -m bot`."""

from __future__ import annotations

import argparse

from bot.config import Settings


def add_records_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from bot.commands.export import add_export_parser
    from bot.commands.retention import add_retention_parser
    from bot.commands.subject_access import add_subject_access_parser
    from bot.commands.verify import add_verify_parser

    add_verify_parser(commands)
    add_export_parser(commands)
    add_retention_parser(commands)
    add_subject_access_parser(commands)


RECORDS_COMMANDS = frozenset({"verify", "export", "retention", "subject-access"})


def records_command(settings: Settings, args: argparse.Namespace) -> int:
    # Imported per command, so `--help` and serving stay fast.
    if args.command == "verify":
        from bot.commands.verify import verify_command

        return verify_command(settings.database_url)
    if args.command == "export":
        from bot.commands.export import export_command

        return export_command(settings.database_url, args, settings.provider_name)
    if args.command == "retention":
        from bot.commands.retention import retention_command

        return retention_command(settings, args)
    if args.command == "subject-access":
        from bot.commands.subject_access import subject_access_command

        return subject_access_command(settings.database_url, args, settings.provider_name)
    raise AssertionError(args.command)
