"""Apply Alembic migrations at start-up, safely when several instances start at once."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# An arbitrary constant: every Safe Space instance takes the same advisory lock before migrating.
_PG_MIGRATION_LOCK = 0x5AFE5BACE


def alembic_config(sync_url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if sync_url:
        config.set_main_option("sqlalchemy.url", sync_url)
    return config


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision. Alembic is synchronous, so it runs on the engine's worker."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)
