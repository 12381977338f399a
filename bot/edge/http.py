"""The /api/messages endpoint, written by hand around `process_activity`.

botbuilder 4.17.1's CloudAdapter.process answers HTTP 500 to every turn with a response body (every invoke and
expectReplies: botbuilder-python #2156), and turns malformed input into 500s too. This handler checks the
request itself, answers 4xx for bad input, and writes invoke bodies as plain JSON.

The cheap refusals come first, so nobody who may not talk to the bot can make it work hard: in local mode a Host
that is not this machine (403), with credentials a missing or invalid token (401) before the body is even read;
then the body's size (413), its JSON and nesting depth (400), the channel it says it comes from (403) and its
Microsoft 365 tenant (403 unless allowed, when an allow-list is set).
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

from bot.edge.adapter import ConnectorAdapter

log = logging.getLogger(__name__)

# Only a \u escape can put a surrogate into a parsed string (raw UTF-8 cannot encode one), so bodies without one
# skip the walk.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")

# Teams' own activities are a few KB (a message is at most about 28 KB); create_app gives aiohttp this limit.
MAX_BODY_BYTES = 256 * 1024
# Real activities nest a dozen levels at most. Deeper JSON would only exercise recursion: in json itself, in
# msrest's deserializer, in everything after it.
MAX_JSON_DEPTH = 64
TEAMS_CHANNEL = "msteams"
# Local mode also talks to the Bot Framework Emulator; the Agents Playground sends "msteams".
LOCAL_CHANNELS = frozenset({TEAMS_CHANNEL, "emulator"})
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})
_TENANT_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


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


def is_loopback_host(host: str | None) -> bool:
    """True for a Host header naming this machine by a loopback name: 127.0.0.1, localhost or [::1], any port.

    A web page can make a browser post to 127.0.0.1 under its own host name (DNS rebinding), but the browser
    still sends that host name, so checking it keeps local mode's unauthenticated buttons to local clients.
    """
    if not host:
        return False
    host = host.strip().lower()
    if host.startswith("["):
        name, bracket, port = host.partition("]")
        name += bracket
    else:
        name, colon, port = host.partition(":")
        port = colon + port
    if port and not (port.startswith(":") and port[1:].isdigit()):
        return False
    return name in _LOOPBACK_HOSTS


def nested_deeper_than(value: Any, limit: int) -> bool:
    """True when lists and objects nest more than `limit` levels. A loop, not recursion, so depth cannot hurt."""
    stack: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def parse_activity(payload: Any) -> Activity | str:
    """The activity, or why it cannot be one."""
    if not isinstance(payload, dict):
        return "the body must be a JSON object"
    if not isinstance(payload.get("type"), str) or not payload["type"]:
        return "an activity needs a 'type'"
    if payload.get("channelData") is not None and not isinstance(payload["channelData"], dict):
        # botbuilder's Teams handler reads it as TeamsChannelData mid-turn and fails there (found by fuzzing).
        return "'channelData' must be an object"
    if (
        payload.get("channelId") == "msteams"
        and payload["type"] == "conversationUpdate"
        and not payload.get("channelData")
    ):
        return "a Teams conversationUpdate needs its 'channelData'"  # botbuilder reads its team unchecked
    try:
        activity = Activity().deserialize(payload)
    except Exception:  # msrest raises several unrelated types for shapes it cannot read
        return "the body is not a Bot Framework activity"
    if not activity.conversation or not activity.conversation.id:
        return "an activity needs a 'conversation.id'"
    # Entra object ids are GUIDs and Teams' types short words; the store keeps them in short columns, so longer
    # ones would fail mid-turn rather than here (found by fuzzing).
    if len(activity.type) > 64 or len(activity.conversation.conversation_type or "") > 32:
        return "the activity's type or conversation type is not one Teams sends"
    for members in (activity.members_added, activity.members_removed):
        if any(not getattr(m, "id", None) for m in members or ()):
            return "each member added or removed needs an 'id'"  # botbuilder fails the turn looking one up
    if activity.id is not None and len(str(activity.id)) > 256:
        return "the activity's 'id' is not one Teams sends"  # replies put it in the connector's URL
    aad = activity.from_property.aad_object_id if activity.from_property else None
    if aad is not None and (not isinstance(aad, str) or len(aad) > 64):
        return "'from.aadObjectId' is not an Entra object id"
    if not isinstance(payload.get("serviceUrl"), str) or not payload["serviceUrl"].startswith(("https://", "http://")):
        return "an activity needs a 'serviceUrl'"  # an http(s) URL: the answer goes there (fuzzing sent numbers)
    return activity


def tenants_of(activity: Activity) -> set[str]:
    """Every tenant id the activity names: Teams puts it in conversation.tenantId and in channelData.tenant.id."""
    found: set[str] = set()
    if activity.conversation is not None and isinstance(activity.conversation.tenant_id, str):
        found.add(activity.conversation.tenant_id.strip().lower())
    data = activity.channel_data
    tenant = data.get("tenant") if isinstance(data, dict) else None
    if isinstance(tenant, dict) and isinstance(tenant.get("id"), str):
        found.add(tenant["id"].strip().lower())
    return found


def tenant_allowed(activity: Activity, allowed: frozenset[str]) -> bool:
    """With an allow-list, an activity must name a tenant and every tenant it names must be on the list."""
    if not allowed:
        return True
    named = tenants_of(activity)
    return bool(named) and named <= allowed


def messages_handler(
    adapter: ConnectorAdapter, bot: Bot, *, local_mode: bool, tenants: frozenset[str] = frozenset()
) -> Any:
    """`local_mode`: no app id, so no token to check (and only loopback clients are answered). `tenants`: the
    Microsoft 365 tenants allowed (empty: any)."""
    channels = LOCAL_CHANNELS if local_mode else frozenset({TEAMS_CHANNEL})

    async def messages(request: web.Request) -> web.StreamResponse:
        auth_header = request.headers.get("Authorization", "")
        if local_mode:
            if not is_loopback_host(request.headers.get("Host")):
                return _problem(403, "in local mode only this machine may call the bot (Host 127.0.0.1 or localhost)")
        elif (refused := await _check_token(adapter, auth_header)) is not None:
            # Before the body is read: an unauthenticated caller costs a header check, never a parse.
            return refused
        if request.content_type != "application/json":
            return _problem(415, "send the activity as application/json")
        try:
            body = await request.read()  # aiohttp answers 413 past client_max_size (MAX_BODY_BYTES)
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return _problem(400, "the body is not valid JSON")
        except RecursionError:
            return _problem(400, "the body nests too deeply")
        if nested_deeper_than(payload, MAX_JSON_DEPTH):
            return _problem(400, "the body nests too deeply")
        if _SURROGATE_ESCAPE.search(body):
            payload = without_lone_surrogates(payload)
        parsed = parse_activity(payload)
        if isinstance(parsed, str):
            return _problem(400, parsed)
        if parsed.channel_id not in channels:
            # Refused before any state is read: Safe Space is a Teams app, and its roles and conversations are
            # Teams' (Web Chat, Direct Line and the rest would reach the same state under other rules).
            return _problem(403, "this bot only talks to Microsoft Teams")
        if not tenant_allowed(parsed, tenants):
            # Before any state is read: a multi-tenant app registration lets any organisation add the bot, and
            # its people would otherwise reach this college's cases, roles and conversations. The tenant id alone is
            # logged (a GUID, or that it was not one), never anything the activity says.
            named = sorted(tenants_of(parsed))
            shown = [t if _TENANT_ID.match(t) else "(not a tenant id)" for t in named] or ["(none)"]
            log.warning("refused an activity from a tenant not allowed: %s", ", ".join(shown))
            return _problem(403, "this organisation's Microsoft 365 tenant may not use this bot")
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


async def _check_token(adapter: ConnectorAdapter, auth_header: str) -> web.Response | None:
    """The refusal for a request whose Bot Framework token is missing or not valid, or None when it is valid.

    process_activity checks the token again, with the activity's serviceUrl, once the body has been read.
    """
    if not auth_header:
        return _problem(401, "unauthorised")
    try:
        await adapter.authenticate_header(auth_header)
    except PermissionError as exc:  # botbuilder's refusal; an OSError too, so it comes first
        log.info("refused a request with an invalid token (%s)", type(exc).__name__)
        return _problem(401, "unauthorised")
    except OSError as exc:
        # requests' errors are OSErrors: the Bot Framework's signing keys could not be fetched. Not the
        # caller's fault, and Teams retries a 503.
        log.warning("could not check a Bot Framework token (%s)", type(exc).__name__)
        return _problem(503, "the service could not check the token; try again")
    except Exception as exc:  # PyJWTError, and the bare Exceptions botbuilder raises for unknown or unendorsed keys
        log.info("refused a request with an invalid token (%s)", type(exc).__name__)
        return _problem(401, "unauthorised")
    return None
