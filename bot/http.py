"""The /api/messages endpoint, written by hand around `process_activity`.

botbuilder 4.17.1's CloudAdapter.process answers HTTP 500 to every turn with a response body (every invoke and
expectReplies: botbuilder-python #2156), and turns malformed input into 500s too. This handler checks the
request itself, answers 4xx for bad input, and writes invoke bodies as plain JSON.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import jwt
from aiohttp import web
from botbuilder.core import Bot, InvokeResponse
from botbuilder.schema import Activity

from bot.adapter import ConnectorAdapter

log = logging.getLogger(__name__)

# Only a \u escape can put a surrogate into a parsed string (raw UTF-8 cannot encode one), so bodies without one
# skip the walk.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _problem(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _serialisable(body: Any) -> Any:
    if hasattr(body, "serialize"):
        return body.serialize()
    return body


def without_lone_surrogates(value: Any) -> Any:
    """JSON lets a client write half of a UTF-16 pair (\\ud800); such a string cannot be stored or sent as
    UTF-8, so it would fail the conversation log and the reply. Each half is replaced by U+FFFD, keeping the rest
    of what the person wrote (a report must never be lost over one broken character)."""
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, dict):
        return {without_lone_surrogates(k): without_lone_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_lone_surrogates(v) for v in value]
    return value


def parse_activity(payload: Any) -> Activity | str:
    """The activity, or why it cannot be one."""
    if not isinstance(payload, dict):
        return "the body must be a JSON object"
    if not isinstance(payload.get("type"), str) or not payload["type"]:
        return "an activity needs a 'type'"
    try:
        activity = Activity().deserialize(payload)
    except Exception:  # msrest raises several unrelated types for shapes it cannot read
        return "the body is not a Bot Framework activity"
    if not activity.conversation or not activity.conversation.id:
        return "an activity needs a 'conversation.id'"
    if not activity.service_url:
        return "an activity needs a 'serviceUrl'"
    return activity


def messages_handler(adapter: ConnectorAdapter, bot: Bot) -> Any:
    async def messages(request: web.Request) -> web.StreamResponse:
        if request.content_type != "application/json":
            return _problem(415, "send the activity as application/json")
        try:
            body = await request.read()
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return _problem(400, "the body is not valid JSON")
        if _SURROGATE_ESCAPE.search(body):
            payload = without_lone_surrogates(payload)
        parsed = parse_activity(payload)
        if isinstance(parsed, str):
            return _problem(400, parsed)
        auth_header = request.headers.get("Authorization", "")
        try:
            response: InvokeResponse | None = await adapter.process_activity(auth_header, parsed, bot.on_turn)
        except (PermissionError, jwt.PyJWTError):
            # A missing, malformed, expired or foreign token: refused before the bot sees the activity.
            return _problem(401, "unauthorised")
        except Exception:
            # The turn handler already replied to the person if it could; here only the database or the
            # connector can have failed, so say "try again" rather than blame the request.
            log.exception("could not process %s activity", parsed.type)
            return _problem(503, "the service could not process this activity; try again")
        if response is not None:
            return web.json_response(_serialisable(response.body), status=response.status)
        return web.Response(status=200)

    return messages
