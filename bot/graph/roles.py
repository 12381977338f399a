"""Roles from Entra security groups through Microsoft Graph, with the configured ID lists as the fallback.

One snapshot holds every role's members (transitive, so nested groups count), fetched together and kept for a
time-to-live: `members()` needs whole lists anyway (every DSO gets a new case, every director an escalation),
and four paged group reads every few minutes cost Graph less than one `transitiveMemberOf` per turn.

A Graph failure never fails a turn. The last snapshot is used for a bounded time after it expires (so an outage
does not silently turn every DSO into a learner when the static lists are empty); beyond that, or with no
snapshot yet, the static lists answer. Either way a warning is logged and Graph is not asked again for a
while, so people are not kept waiting on it turn after turn.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.groups.item.transitive_members.graph_user.graph_user_request_builder import (
    GraphUserRequestBuilder,
)
from msgraph.generated.models.user_collection_response import UserCollectionResponse
from msgraph.graph_service_client import GraphServiceClient

from bot.graph.client import Graph, GraphError
from dialogs.roles import Role, RoleDirectory

log = logging.getLogger(__name__)

ROLES_FROM_GROUPS: Final = (Role.DSO, Role.DIRECTOR, Role.STAFF, Role.TRAINER)
_STAFF_ROLES: Final = frozenset(ROLES_FROM_GROUPS)
_PAGE_SIZE: Final = 999  # Graph's largest page for directory objects
_MAX_PAGES: Final = 1000  # a nextLink loop (a Graph bug, a bad proxy) must end


def _normalise(aad_object_id: str | None) -> str:
    return (aad_object_id or "").strip().lower()


@dataclass(frozen=True, slots=True)
class _Snapshot:
    members: Mapping[Role, frozenset[str]]
    fetched_at: float


class GraphRoleDirectory:
    """A RoleDirectory backed by Entra groups. Roles with no group configured come from `fallback`."""

    def __init__(
        self,
        graph: Graph,
        *,
        groups: Mapping[Role, str],
        fallback: RoleDirectory,
        ttl_seconds: float = 300.0,
        max_stale_seconds: float = 3600.0,
        retry_seconds: float = 30.0,
        lookup_timeout_seconds: float = 5.0,
        max_retry_after_seconds: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._graph = graph
        self._groups = {role: group.strip() for role, group in groups.items() if group and group.strip()}
        self._fallback = fallback
        self._ttl = ttl_seconds
        self._max_stale = max_stale_seconds
        self._retry = retry_seconds
        self._timeout = lookup_timeout_seconds
        # A throttled lookup waits this long at most inside a turn; a longer Retry-After means the fallback now
        # and Graph again once Retry-After has passed.
        self._max_retry_after = min(max_retry_after_seconds, lookup_timeout_seconds)
        self._clock = clock
        self._snapshot: _Snapshot | None = None
        self._next_try = 0.0
        self._lock = asyncio.Lock()
        self.failures = 0  # consecutive failed refreshes, for health reporting

    # RoleDirectory ---------------------------------------------------------------------------------------

    async def roles_of(self, aad_object_id: str | None) -> frozenset[Role]:
        key = _normalise(aad_object_id)
        lists = await self._lists()
        held = {role for role, ids in lists.items() if key and key in ids}
        if held & _STAFF_ROLES:
            held.add(Role.STAFF)
        return frozenset(held) if held else frozenset({Role.LEARNER})

    async def members(self, role: Role) -> frozenset[str]:
        return (await self._lists()).get(role, frozenset())

    def cached_members(self, role: Role) -> frozenset[str] | None:
        """What Graph last said (however old), without waiting: for synchronous code such as card building.

        None until Graph has answered once.
        """
        snapshot = self._snapshot
        return snapshot.members.get(role) if snapshot is not None else None

    # Refreshing ------------------------------------------------------------------------------------------

    async def refresh(self) -> bool:
        """Fetch every group now (at start-up, say). True when Graph answered."""
        async with self._lock:
            return await self._refresh_locked()

    async def _lists(self) -> Mapping[Role, frozenset[str]]:
        snapshot = self._snapshot
        now = self._clock()
        if snapshot is not None and now - snapshot.fetched_at < self._ttl:
            return snapshot.members
        if now < self._next_try:
            return await self._fallback_lists(now)
        if self._lock.locked() and self._usable_stale(now) is not None:
            # Someone is already asking Graph; a recent snapshot serves this turn without waiting.
            return await self._fallback_lists(now)
        async with self._lock:
            snapshot = self._snapshot
            if snapshot is not None and self._clock() - snapshot.fetched_at < self._ttl:
                return snapshot.members  # refreshed while we waited for the lock
            if self._clock() < self._next_try:
                return await self._fallback_lists(self._clock())
            if await self._refresh_locked():
                assert self._snapshot is not None
                return self._snapshot.members
            return await self._fallback_lists(self._clock())

    async def _refresh_locked(self) -> bool:
        try:
            async with asyncio.timeout(self._timeout):
                fetched = await self._fetch_all()
        except Exception as exc:  # any failure at all: a turn must still get an answer
            retry_after = exc.retry_after if isinstance(exc, GraphError) else None
            self._next_try = self._clock() + max(self._retry, retry_after or 0.0)
            self.failures += 1
            source = "the last Graph answer" if self._usable_stale(self._clock()) else "the configured ID lists"
            log.warning(
                "roles from Entra groups unavailable (%s: %s); using %s, asking Graph again in %.0f s",
                type(exc).__name__,
                exc,
                source,
                self._next_try - self._clock(),
            )
            return False
        if self.failures:
            log.info("roles from Entra groups available again after %d failed refreshes", self.failures)
        self.failures = 0
        self._next_try = 0.0
        self._snapshot = _Snapshot(members=fetched, fetched_at=self._clock())
        return True

    def _usable_stale(self, now: float) -> _Snapshot | None:
        snapshot = self._snapshot
        if snapshot is not None and now - snapshot.fetched_at < self._ttl + self._max_stale:
            return snapshot
        return None

    async def _fallback_lists(self, now: float) -> Mapping[Role, frozenset[str]]:
        stale = self._usable_stale(now)
        if stale is not None:
            return stale.members
        return {role: await self._fallback.members(role) for role in ROLES_FROM_GROUPS}

    async def _fetch_all(self) -> dict[Role, frozenset[str]]:
        roles = list(self._groups)
        fetched = await asyncio.gather(*(self._fetch_group(self._groups[role]) for role in roles))
        lists = dict(zip(roles, fetched, strict=True))
        if Role.DSO in lists and not lists[Role.DSO]:
            # Believing this would send new cases to nobody; a wrong group id or an emptied group is far likelier.
            raise GraphError(f"the DSO group {self._groups[Role.DSO]} has no members")
        for role in ROLES_FROM_GROUPS:
            if role not in lists:
                lists[role] = await self._fallback.members(role)
        return lists

    async def _fetch_group(self, group_id: str) -> frozenset[str]:
        """Every user in the group, nested groups included, across all pages."""
        query = GraphUserRequestBuilder.GraphUserRequestBuilderGetQueryParameters(select=["id"], top=_PAGE_SIZE)
        config = RequestConfiguration(query_parameters=query)
        what = f"list the members of group {group_id}"

        async def first(client: GraphServiceClient) -> UserCollectionResponse | None:
            return await client.groups.by_group_id(group_id).transitive_members.graph_user.get(config)

        ids: set[str] = set()
        page = await self._graph.call(what, first, max_retry_after=self._max_retry_after)
        for _ in range(_MAX_PAGES):
            if page is None:
                break
            ids.update(_normalise(user.id) for user in page.value or [] if user.id)
            next_link = page.odata_next_link
            if not next_link:
                break

            async def following(client: GraphServiceClient, url: str = next_link) -> UserCollectionResponse | None:
                return await client.groups.by_group_id(group_id).transitive_members.graph_user.with_url(url).get()

            page = await self._graph.call(what, following, max_retry_after=self._max_retry_after)
        else:
            raise GraphError(f"{what}: more than {_MAX_PAGES} pages")
        return frozenset(ids)
