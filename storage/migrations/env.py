"""Alembic environment. The app runs migrations itself at start-up (storage/migrate.py) on its own connection."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, engine_from_config, pool
from sqlmodel import SQLModel

import storage.live_quiz  # registers the live quiz tables on SQLModel.metadata too
import storage.models  # registers the tables on SQLModel.metadata
import storage.training  # noqa: F401 - registers the training tables too

target_metadata = SQLModel.metadata
config = context.config


def run_with_connection(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode rebuilds tables instead
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run_with_connection(connection)
else:
    # `alembic revision --autogenerate` from the command line, against a sync URL.
    engine = engine_from_config(config.get_section(config.config_ini_section, {}), poolclass=pool.NullPool)
    with engine.connect() as conn:
        run_with_connection(conn)
