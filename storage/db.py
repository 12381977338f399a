"""The async engine: one per process, SQLite (WAL) by default, PostgreSQL through DATABASE_URL."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


class DatabaseUrlError(ValueError):
    """DATABASE_URL names a database this service cannot use."""


def async_url(database_url: str) -> URL:
    """Accept the ordinary SQLAlchemy forms and pick the async driver ourselves."""
    try:
        url = make_url(database_url)
    except Exception as exc:
        raise DatabaseUrlError(f"DATABASE_URL is not a database URL: {exc}") from exc
    backend = url.get_backend_name()
    if backend == "sqlite":
        return url.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        query = dict(url.query)
        if "sslmode" in query:
            # libpq's name (what the Azure portal writes); asyncpg calls it ssl and takes the same values.
            query["ssl"] = query.pop("sslmode")
        return url.set(drivername="postgresql+asyncpg", query=query)
    raise DatabaseUrlError(f"DATABASE_URL must be sqlite or postgresql, not {backend!r}")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers carry on while one writer commits; busy_timeout makes writers queue instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_engine(database_url: str) -> AsyncEngine:
    url = async_url(database_url)
    # Parameters are what people wrote: never in an exception's text, so never in the log.
    kwargs: dict[str, Any] = {"pool_pre_ping": True, "hide_parameters": True}
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # One connection: SQLite allows one writer at a time anyway, and queueing for the pool in-process is
        # far cheaper than SQLite's busy handler, which sleeps and retries (measured: p99 2 s under 16 users).
        kwargs = {"pool_size": 1, "max_overflow": 0, "pool_timeout": 30, "hide_parameters": True}
    else:
        kwargs.update(pool_size=10, max_overflow=10)
    engine = create_async_engine(url, **kwargs)
    if url.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@dataclass
class Database:
    """Where the service reads and writes.

    On SQLite, writes go through one connection (SQLite has one writer anyway) and reads through a small pool
    of their own: in WAL mode readers never wait for the writer, so a turn's state read does not queue behind
    another turn's log write. On PostgreSQL both are the same pooled engine.
    """

    engine: AsyncEngine
    read_engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    read_sessions: async_sessionmaker[AsyncSession]

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()


def open_database(database_url: str) -> Database:
    engine = create_engine(database_url)
    read_engine = engine
    if engine.url.get_backend_name() == "sqlite" and (engine.url.database or ":memory:") != ":memory:":
        # No rollback when a read connection goes back to the pool: sqlite3 opens a transaction only for
        # writes, and nothing writes through this engine, so that rollback was a thread hand-over for nothing.
        read_engine = create_async_engine(
            engine.url, pool_size=4, max_overflow=0, pool_timeout=30, pool_reset_on_return=None, hide_parameters=True
        )
        event.listen(read_engine.sync_engine, "connect", _sqlite_pragmas)
    return Database(
        engine=engine,
        read_engine=read_engine,
        sessions=create_sessionmaker(engine),
        read_sessions=create_sessionmaker(read_engine),
    )


async def ping(engine: AsyncEngine) -> bool:
    """True when the database answers a trivial query."""
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception:  # any failure means "not answering" for a health check
        return False


def is_unreachable(error: BaseException) -> bool:
    """Whether a failure (or anything it was raised from) says the database could not be reached or dropped the
    connection, rather than that a statement was wrong: refused or lost connections, timeouts, a server shutting
    down."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OperationalError | InterfaceError | DisconnectionError | PoolTimeoutError):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, OSError | TimeoutError):
            return True
        # asyncpg's own: the connection closed under a query, or the server refusing connections while it stops.
        if type(current).__name__ in ("ConnectionDoesNotExistError", "CannotConnectNowError", "AdminShutdownError"):
            return True
        current = current.__cause__ or current.__context__
    return False


def describe(engine: AsyncEngine) -> str:
    """The database kind and name, never the password, for logs and /healthz."""
    url = engine.url
    return f"{url.get_backend_name()}:{url.database or ''}"
