"""`python -m bot` (or `safespace`): serve the bot. Sub-commands hold the admin tasks."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from aiohttp import web

from bot import __version__
from bot.config import InsecureHostError, Settings, check_startup_safety
from bot.package import add_package_parser, package_command
from content.common import ContentError
from storage.db import DatabaseUrlError, create_engine, describe
from storage.migrate import migrate

log = logging.getLogger("safespace")

LOCAL_MODE_WARNING = """
**********************************************************************************************
  LOCAL MODE: MicrosoftAppId is not set, so Bot Framework authentication is OFF.
  Anyone who can reach %s:%s can talk to this bot as anyone. Use this only on your own machine.
**********************************************************************************************"""


def _serve(settings: Settings) -> int:
    from bot.app import create_app  # imported late so `--help` stays fast

    check_startup_safety(settings)
    if settings.local_mode:
        log.warning(LOCAL_MODE_WARNING, settings.host, settings.port)
    app = create_app(settings)
    log.info("Safe Space %s listening on http://%s:%s/api/messages", __version__, settings.host, settings.port)
    web.run_app(app, host=settings.host, port=settings.port, print=None, access_log=None)
    return 0


def _migrate(settings: Settings) -> int:
    async def run() -> None:
        engine = create_engine(settings.database_url)
        try:
            await migrate(engine)
            log.info("database %s is up to date", describe(engine))
        finally:
            await engine.dispose()

    asyncio.run(run())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Safe Space Teams bot")
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="serve the bot (the default)")
    commands.add_parser("migrate", help="apply database migrations and exit")
    add_package_parser(commands)
    args = parser.parse_args(argv)

    try:
        settings = Settings()
    except Exception as exc:  # pydantic's message names the setting that is wrong
        print(f"safespace: bad configuration: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "migrate":
            return _migrate(settings)
        if args.command == "package":
            return package_command(settings, args.out)
        return _serve(settings)
    except (InsecureHostError, ContentError, DatabaseUrlError) as exc:
        print(f"safespace: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
