"""A fake Bot Connector on 127.0.0.1: records what the bot sends, exactly where Teams would receive it."""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Sent:
    """One call the bot made to the connector."""

    kind: str  # send | reply | update | delete | create
    conversation_id: str
    activity: dict[str, Any]
    activity_id: str
    reply_to_id: str | None = None

    @property
    def text(self) -> str | None:
        return self.activity.get("text")

    @property
    def cards(self) -> list[dict[str, Any]]:
        return [
            a["content"]
            for a in self.activity.get("attachments") or []
            if a.get("contentType") == "application/vnd.microsoft.card.adaptive"
        ]


@dataclass
class Failure:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    kinds: frozenset[str] = frozenset({"send", "reply", "create", "update"})  # "members": any roster call


class FakeConnector:
    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.members: dict[str, list[dict[str, Any]]] = {}
        self.failures: deque[Failure] = deque()
        self.requests: list[tuple[str, str]] = []  # (method, path) of every call, failed ones included
        self.created: list[dict[str, Any]] = []  # the parameters of every conversation the bot created
        self._ids = itertools.count(1000)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.url = ""

    # Life cycle -----------------------------------------------------------------------------------------

    async def start(self) -> FakeConnector:
        app = web.Application()
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_post("/v3/conversations/{cid}/activities", self._send)
        app.router.add_post("/v3/conversations/{cid}/activities/{aid}", self._reply)
        app.router.add_put("/v3/conversations/{cid}/activities/{aid}", self._update)
        app.router.add_delete("/v3/conversations/{cid}/activities/{aid}", self._delete)
        app.router.add_get("/v3/conversations/{cid}/members", self._get_members)
        app.router.add_get("/v3/conversations/{cid}/pagedmembers", self._paged_members)
        app.router.add_get("/v3/conversations/{cid}/members/{uid}", self._get_member)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/"
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    # Scripting ------------------------------------------------------------------------------------------

    def fail_next(self, *failures: Failure) -> None:
        self.failures.extend(failures)

    def set_members(self, conversation_or_team_id: str, members: list[dict[str, Any]], *also: str) -> None:
        """A roster, answered for the team id and for each channel id in `also`, as Teams does."""
        for key in (conversation_or_team_id, *also):
            self.members[key] = members

    def mark(self) -> int:
        return len(self.sent)

    def since(self, mark: int, conversation_id: str | None = None) -> list[Sent]:
        return [s for s in self.sent[mark:] if conversation_id is None or s.conversation_id == conversation_id]

    async def wait_for(self, predicate: Callable[[Sent], bool], *, after: int = 0, timeout: float = 10.0) -> Sent:
        async def find() -> Sent:
            async with self._changed:
                while True:
                    for item in self.sent[after:]:
                        if predicate(item):
                            return item
                    await self._changed.wait()

        return await asyncio.wait_for(find(), timeout)

    async def wait_count(
        self, count: int, *, after: int = 0, conversation_id: str | None = None, timeout: float = 10.0
    ) -> list[Sent]:
        async def find() -> list[Sent]:
            async with self._changed:
                while True:
                    found = self.since(after, conversation_id)
                    if len(found) >= count:
                        return found
                    await self._changed.wait()

        return await asyncio.wait_for(find(), timeout)

    # Handlers -------------------------------------------------------------------------------------------

    def _maybe_fail(self, kind: str) -> web.Response | None:
        if self.failures and kind in self.failures[0].kinds:
            failure = self.failures.popleft()
            return web.json_response(
                {"error": {"code": "Scripted", "message": "scripted failure"}},
                status=failure.status,
                headers=failure.headers,
            )
        return None

    async def _record(self, item: Sent) -> None:
        async with self._changed:
            self.sent.append(item)
            self._changed.notify_all()

    async def _send(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.path))
        if (failed := self._maybe_fail("send")) is not None:
            return failed
        body = await request.json()
        activity_id = str(next(self._ids))
        await self._record(Sent("send", request.match_info["cid"], body, activity_id))
        return web.json_response({"id": activity_id})

    async def _reply(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.path))
        if (failed := self._maybe_fail("reply")) is not None:
            return failed
        body = await request.json()
        activity_id = str(next(self._ids))
        await self._record(
            Sent("reply", request.match_info["cid"], body, activity_id, reply_to_id=request.match_info["aid"])
        )
        return web.json_response({"id": activity_id})

    async def _update(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.path))
        if (failed := self._maybe_fail("update")) is not None:
            return failed
        body = await request.json()
        await self._record(Sent("update", request.match_info["cid"], body, request.match_info["aid"]))
        return web.json_response({"id": request.match_info["aid"]})

    async def _delete(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.path))
        await self._record(Sent("delete", request.match_info["cid"], {}, request.match_info["aid"]))
        return web.Response(status=200)

    async def _create(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.path))
        if (failed := self._maybe_fail("create")) is not None:
            return failed
        params = await request.json()
        self.created.append(params)
        channel = ((params.get("channelData") or {}).get("channel") or {}).get("id")
        activity_id = str(next(self._ids))
        if channel:
            conversation_id = f"{channel};messageid={activity_id}"
        else:
            member = (params.get("members") or [{}])[0].get("id", "user")
            conversation_id = f"a:personal-{member}"
        if params.get("activity"):
            await self._record(Sent("create", conversation_id, params["activity"], activity_id))
        return web.json_response({"id": conversation_id, "activityId": activity_id, "serviceUrl": self.url})

    def _roster(self, conversation_id: str) -> list[dict[str, Any]]:
        # Teams answers member look-ups in a channel for the team id, and for a thread by its channel id.
        base = conversation_id.split(";")[0]
        return self.members.get(conversation_id) or self.members.get(base) or []

    async def _get_members(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.path))
        if (failed := self._maybe_fail("members")) is not None:
            return failed
        return web.json_response(self._roster(request.match_info["cid"]))

    async def _paged_members(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.path))
        if (failed := self._maybe_fail("members")) is not None:
            return failed
        roster = self._roster(request.match_info["cid"])
        page_size = int(request.query.get("pageSize", "2"))
        start = int(request.query.get("continuationToken") or 0)
        page = roster[start : start + page_size]
        token = str(start + page_size) if start + page_size < len(roster) else None
        return web.json_response({"members": page, "continuationToken": token})

    async def _get_member(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.path))
        if (failed := self._maybe_fail("members")) is not None:
            return failed
        for member in self._roster(request.match_info["cid"]):
            if member.get("id") == request.match_info["uid"] or member.get("aadObjectId") == request.match_info["uid"]:
                return web.json_response(member)
        return web.json_response({"error": {"code": "MemberNotFoundInConversation"}}, status=404)
