"""Keep what people wrote out of the application log when the database fails.

SQLAlchemy puts a failing statement's parameters into its exception, and some drivers quote the offending value
in their own message: a learner's words, name or Entra id could reach the log through a traceback. The engines
hide parameters (`hide_parameters=True`), and every log record that carries a database exception is rewritten to
name the error's type and the failing operation only, with no traceback. The drivers' own DEBUG logging, which
writes every statement with its parameters, stays off whatever the log level.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import SQLAlchemyError, StatementError

_installed = False


def _database_error(exc: BaseException | None) -> SQLAlchemyError | None:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, SQLAlchemyError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def describe_database_error(error: SQLAlchemyError) -> str:
    """ "IntegrityError during INSERT INTO safeguarding_case": the kind of failure and where, nothing said."""
    orig = getattr(error, "orig", None)
    kind = type(orig).__name__ if orig is not None else type(error).__name__
    words = error.statement.split() if isinstance(error, StatementError) and error.statement else []
    if not words:
        return kind
    verb = words[0].upper()
    # The verb and its table ("INSERT INTO x", "DELETE FROM x", "UPDATE x"); a SELECT names only itself.
    operation = words[:3] if verb in ("INSERT", "DELETE") else words[:2] if verb == "UPDATE" else words[:1]
    return f"{kind} during {' '.join(operation)}"


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    exc = record.exc_info[1] if record.exc_info else None
    database = _database_error(exc)
    if database is None:
        return record
    record.msg = f"{record.getMessage()} [database error: {describe_database_error(database)}]"
    record.args = ()
    record.exc_info = None
    record.exc_text = None
    return record


def install_log_redaction() -> None:
    """Rewrite every log record made from now on in this process (idempotent)."""
    global _installed
    # These loggers write every statement with its parameters at DEBUG: never let a log level turn that on.
    for noisy in ("aiosqlite", "sqlalchemy.engine", "sqlalchemy.pool"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if _installed:
        return
    make_record = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact_record(make_record(*args, **kwargs))

    logging.setLogRecordFactory(factory)
    _installed = True
