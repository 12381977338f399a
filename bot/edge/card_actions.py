"""Adaptive Card Universal Actions (Action.Execute): one handler per verb, answered with a proper body.

Teams gives an invoke five seconds and then retries it, so every handler must be idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from botbuilder.core import TurnContext

log = logging.getLogger(__name__)

CARD_RESPONSE = "application/vnd.microsoft.card.adaptive"
MESSAGE_RESPONSE = "application/vnd.microsoft.activity.message"
ERROR_RESPONSE = "application/vnd.microsoft.error"


@dataclass(frozen=True, slots=True)
class CardAction:
    verb: str
    data: dict[str, Any]


Handler = Callable[[TurnContext, CardAction], Awaitable[dict[str, Any]]]


def card_body(card: dict[str, Any]) -> dict[str, Any]:
    """The invoke body that replaces the card in place for everyone who sees it."""
    return {"statusCode": 200, "type": CARD_RESPONSE, "value": card}


def message_body(text: str) -> dict[str, Any]:
    """The invoke body that shows a short message to the person who pressed, leaving the card as it was."""
    return {"statusCode": 200, "type": MESSAGE_RESPONSE, "value": text}


def error_body(status: int, message: str) -> dict[str, Any]:
    code = {400: "BadRequest", 403: "Forbidden", 404: "NotFound"}.get(status, "InternalError")
    return {"statusCode": status, "type": ERROR_RESPONSE, "value": {"code": code, "message": message}}


class CardActionRouter:
    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def register(self, verb: str, handler: Handler) -> None:
        if verb in self._handlers:
            raise ValueError(f"card verb {verb!r} registered twice")
        self._handlers[verb] = handler

    def verbs(self) -> frozenset[str]:
        return frozenset(self._handlers)

    async def dispatch(self, context: TurnContext, value: Any) -> dict[str, Any]:
        action = value.get("action") if isinstance(value, dict) else None
        if not isinstance(action, dict) or action.get("type") != "Action.Execute":
            return error_body(400, "This button is not one I recognise.")
        verb = action.get("verb")
        data = action.get("data")
        handler = self._handlers.get(verb) if isinstance(verb, str) else None
        if handler is None:
            log.info("card action with unknown verb %r", verb)
            return error_body(400, 'This button is no longer available. Type "menu" to start again.')
        return await handler(context, CardAction(verb=str(verb), data=data if isinstance(data, dict) else {}))
