"""Sends and updates messages through the Bot Connector on the event loop, with aiohttp.

botbuilder 4.17.1 sends every reply through msrest: the activity is validated and serialised by msrest's
reflective serializer (the larger half of an echo turn's CPU), then posted with `requests` on a thread-pool
thread, so every reply also costs two thread hand-overs and `requests`' per-call environment scans (proxies,
.netrc). This module does the same HTTP calls (same URLs, headers, body and status handling as
`ConversationsOperations.send_to_conversation`, `reply_to_activity` and `update_activity`) without any of that.
Tokens still come from botbuilder's own credentials object on the cached ConnectorClient; only fetching a new
one (a network call inside MSAL) runs on a thread.

Retries follow what msrest's ClientRetryPolicy does under urllib3 2 (its POST allowance is set through a name
urllib3 2 no longer reads): an update (PUT) is retried three times on 408, 429 and 5xx but 501/505 and on
connection errors; a new message (POST) only when it cannot have been taken: a refused connection or a 429.
A 5xx on a POST may still have posted, and the outbox worker (which owns proactive messages) decides about
those. Back-off is exponential and Retry-After is honoured, but within `max_retry_after`, so a turn is never
held for minutes: a longer wait goes back to the caller as ConnectorError.retry_after.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import enum
import json
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit
from urllib.request import getproxies, proxy_bypass

import aiohttp
from botbuilder.schema import Activity, ResourceResponse
from botframework.connector.about import __version__ as connector_version
from msrest import Serializer
from msrest.serialization import Model
from yarl import URL

RETRY_STATUSES = frozenset({408, 429}) | frozenset(range(500, 600)) - {501, 505}
ACCEPTED_STATUSES = frozenset({200, 201, 202})
# A token is renewed this long before its `exp`, so one is never sent in its last moments.
TOKEN_MARGIN_SECONDS = 300.0
# What botbuilder's own connector clients announce, so the channel sees the same kind of caller.
USER_AGENT = f"Microsoft-BotFramework/3.1 (BotBuilder Python/{connector_version}) SafeSpace"


class ConnectorError(Exception):
    """The Bot Connector did not take a message. `status` is None when no HTTP answer came back."""

    def __init__(self, message: str, *, status: int | None, retry_after: float | None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


def wire_json(activity: Activity) -> bytes:
    """The request body msrest's `Serializer.body(activity, "Activity")` would send (a test holds it to that).

    json's C encoder walks the plain dicts and lists (an Adaptive Card is most of a reply) and calls `_default`
    only for what it cannot write itself: msrest models (wire names from each object's own `_attribute_map`, so
    a Mention in a list typed `[Entity]` keeps its fields; None left out), datetimes in msrest's ISO 8601 form,
    enums and bytes.
    """
    # ASCII with \u escapes, as msrest sends: a lone surrogate (valid in a JSON string a client sent us, not in
    # UTF-8) is passed on rather than failing the reply.
    return json.dumps(activity, default=_default, separators=(",", ":")).encode("ascii")


def to_json(value: Any) -> Any:
    """What `wire_json` sends, as Python values."""
    return json.loads(json.dumps(value, default=_default))


def _default(value: Any) -> Any:
    if isinstance(value, Model):
        out: dict[str, Any] = {}
        for attr, spec in value._attribute_map.items():
            item = getattr(value, attr, None)
            if item is None:
                continue
            if spec["key"] == "":  # msrest's additional_properties: merged into the object itself
                out.update(item)
            else:
                out[spec["key"]] = item
        return out
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime):
        return Serializer.serialize_iso(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, set | frozenset):
        return list(value)
    raise TypeError(f"cannot send a {type(value).__name__} to the Bot Connector")


def _token_expiry(token: str) -> float:
    """The token's `exp` as a wall-clock time; 0 (renew next time) when it cannot be read."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, KeyError, TypeError, ValueError):
        return 0.0


@dataclass(slots=True)
class _Token:
    value: str
    expires_at: float


class ConnectorSender:
    def __init__(
        self,
        *,
        user_agent: str = USER_AGENT,
        retries: int = 3,
        backoff_factor: float = 0.8,
        max_backoff: float = 90.0,
        max_retry_after: float = 10.0,
        timeout: float = 100.0,
    ) -> None:
        self._user_agent = user_agent
        self._retries = retries
        self._backoff_factor = backoff_factor
        self._max_backoff = max_backoff
        self._max_retry_after = max_retry_after
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        # Keyed by the credentials object itself, weakly: a client dropped from the connector cache takes its
        # token with it, and a new object can never be handed another's token.
        self._tokens: weakref.WeakKeyDictionary[Any, _Token] = weakref.WeakKeyDictionary()
        self._token_locks: weakref.WeakKeyDictionary[Any, asyncio.Lock] = weakref.WeakKeyDictionary()
        self._proxies: dict[str, str | None] = {}

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, credentials: Any, service_url: str, activity: Activity) -> ResourceResponse:
        conversation_id = activity.conversation.id
        path = f"v3/conversations/{quote(conversation_id, safe='')}/activities"
        if activity.reply_to_id:
            path += f"/{quote(activity.reply_to_id, safe='')}"
        return await self._call("POST", credentials, service_url, path, conversation_id, activity)

    async def update(self, credentials: Any, service_url: str, activity: Activity) -> ResourceResponse:
        conversation_id = activity.conversation.id
        path = f"v3/conversations/{quote(conversation_id, safe='')}/activities/{quote(activity.id or '', safe='')}"
        return await self._call("PUT", credentials, service_url, path, conversation_id, activity)

    async def _call(
        self, method: str, credentials: Any, service_url: str, path: str, conversation_id: str, activity: Activity
    ) -> ResourceResponse:
        # encoded=True: the path is sent as quoted here, as msrest sends it; yarl would otherwise decode the
        # %3A, %40 and %3B of Teams conversation ids.
        url = URL(service_url.rstrip("/") + "/" + path, encoded=True)
        body = wire_json(activity)
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/json; charset=utf-8",
            "x-ms-conversation-id": conversation_id,
            "User-Agent": self._user_agent,
        }
        session = self._open()
        refreshed = False
        attempt = 0
        while True:
            token = await self._token(credentials, force=False)
            if token:
                headers["Authorization"] = f"Bearer {token}"
            try:
                async with session.request(
                    method, url, data=body, headers=headers, proxy=self._proxy_for(service_url)
                ) as response:
                    status = response.status
                    text = await response.text(errors="replace")
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                not_sent = isinstance(exc, aiohttp.ClientConnectorError)
                if attempt >= self._retries or not (method == "PUT" or not_sent):
                    raise ConnectorError(f"{method} {path}: {exc!r}", status=None, retry_after=None) from exc
                attempt += 1
                await asyncio.sleep(self._backoff(attempt))
                continue
            if status in ACCEPTED_STATUSES:
                return _resource_response(text)
            if status == 401 and token and not refreshed:
                # A token revoked or expired early: ask the credentials once more (force_refresh), then the
                # answer stands.
                refreshed = True
                await self._token(credentials, force=True)
                continue
            retryable = status in RETRY_STATUSES if method == "PUT" else status == 429
            if retryable and attempt < self._retries:
                wait = retry_after if retry_after is not None else self._backoff(attempt + 1)
                if wait <= self._max_retry_after:
                    attempt += 1
                    await asyncio.sleep(wait)
                    continue
            raise ConnectorError(f"{method} {path}: HTTP {status} {text[:500]}", status=status, retry_after=retry_after)

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # trust_env stays off: aiohttp would then read .netrc on a thread for every request. Proxies from
            # the environment are honoured by _proxy_for instead.
            self._session = aiohttp.ClientSession(timeout=self._timeout, trust_env=False)
        return self._session

    def _backoff(self, attempt: int) -> float:
        # urllib3's schedule, as msrest configures it: no wait before the first retry, then doubling.
        if attempt <= 1:
            return 0.0
        return float(min(self._max_backoff, self._backoff_factor * (2 ** (attempt - 1))))

    def _proxy_for(self, service_url: str) -> str | None:
        parts = urlsplit(service_url)
        key = f"{parts.scheme}://{parts.netloc}"
        if key not in self._proxies:
            proxy = getproxies().get(parts.scheme)
            self._proxies[key] = None if proxy is None or proxy_bypass(parts.hostname or "") else proxy
        return self._proxies[key]

    async def _token(self, credentials: Any, *, force: bool) -> str | None:
        """Bearer token for these credentials, or None where botbuilder sends none (no app id: local mode)."""
        if credentials is None or not _should_authorize(credentials):
            return None
        cached = self._tokens.get(credentials)
        if not force and cached is not None and cached.expires_at - TOKEN_MARGIN_SECONDS > time.time():
            return cached.value
        lock = self._token_locks.setdefault(credentials, asyncio.Lock())
        async with lock:
            cached = self._tokens.get(credentials)
            if not force and cached is not None and cached.expires_at - TOKEN_MARGIN_SECONDS > time.time():
                return cached.value
            value = str(await asyncio.to_thread(credentials.get_access_token, force))
            self._tokens[credentials] = _Token(value, _token_expiry(value))
            return value


def _should_authorize(credentials: Any) -> bool:
    # The same rule as botbuilder's AppCredentials._should_set_token: no app id, no token.
    should_set = getattr(credentials, "_should_set_token", None)
    if should_set is None:
        return False
    return bool(should_set(None))


def parse_retry_after(value: str | None) -> float | None:
    """A Retry-After given in seconds (what the Bot Connector sends), or None."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _resource_response(text: str) -> ResourceResponse:
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError:
        data = {}
    activity_id = data.get("id") if isinstance(data, dict) else None
    return ResourceResponse(id=str(activity_id) if activity_id is not None else None)
