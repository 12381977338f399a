"""`python -m bot migrate`: apply the database migrations and exit (serving applies them at start-up too)."""

from __future__ import annotations

import asyncio
import logging

from bot.config import Settings
from storage.db import create_engine, describe
from storage.migrate import migrate

log = logging.getLogger("safespace")


def migrate_command(settings: Settings) -> int:
    async def run() -> None:
        engine = create_engine(settings.database_url)
        try:
            await migrate(engine)
            log.info("database %s is up to date", describe(engine))
        finally:
            await engine.dispose()

    asyncio.run(run())
    return 0
