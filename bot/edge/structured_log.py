"""The application log: plain text for a person at a terminal, or one JSON object per line for a log collector.

Every line written during a turn carries that turn's id and the conversation's hash (`conv-` and 12 hex digits
of its SHA-256, as `teams_context.conversation_tag` writes it): never the conversation's id, which in a 1:1 chat
names the person, and never what anybody wrote. The line that ends a turn adds its activity type, outcome and
time in ms. The hash lets whoever holds a conversation id (the DSO, from the case store) find its lines, and
nobody reading the log alone can turn it back into an id.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import sys
from dataclasses import dataclass
from typing import Literal, TextIO

LogFormat = Literal["text", "json"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Attributes every LogRecord has; anything else on a record was given with `extra=` and goes into the JSON line.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


@dataclass(frozen=True, slots=True)
class TurnTag:
    turn_id: str
    conversation: str  # the hash, never the id


current_turn: contextvars.ContextVar[TurnTag | None] = contextvars.ContextVar("safespace_turn", default=None)


class TurnTagFilter(logging.Filter):
    """Stamps each record with the turn it was written in, if any (a handler filter: it sees every logger)."""

    def filter(self, record: logging.LogRecord) -> bool:
        tag = current_turn.get()
        if tag is not None and not hasattr(record, "turn_id"):
            record.turn_id = tag.turn_id
            record.conversation = tag.conversation
        return True


class TextFormatter(logging.Formatter):
    """The usual line, with the turn id and conversation hash at the end when there are any."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        turn_id = getattr(record, "turn_id", None)
        if turn_id is None:
            return line
        first, newline, rest = line.partition("\n")  # after the message, before any traceback
        return f"{first} [turn {turn_id} {getattr(record, 'conversation', '?')}]{newline}{rest}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the turn's fields, and any `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, str | int | float | bool) or value is None else str(value)
        if record.exc_info:
            entry["exception"] = type(record.exc_info[1]).__name__
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def log_handler(log_format: LogFormat, stream: TextIO | None = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(TurnTagFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    return handler


def configure_logging(level: str, log_format: LogFormat) -> None:
    """The root logger writes to stderr in the chosen format; called once by `python -m bot`."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(log_handler(log_format))
    root.setLevel(level.upper())
    logging.captureWarnings(True)  # a library's warning is a log line too, not a stray line that is not JSON
