"""Who someone is, from Microsoft Graph: display name, job title and department.

Each person is looked up once and kept (names change rarely; a day's time-to-live lets a change show up), and
every name found is handed to bot.edge.people.People, which cards read synchronously. A failed lookup is not fatal:
the card shows what People already knows (the name Teams sent) or the object id, and Graph is asked again later.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.models.user import User
from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder
from msgraph.graph_service_client import GraphServiceClient

from bot.edge.people import People
from bot.graph.client import Graph, GraphError

log = logging.getLogger(__name__)

# jobTitle and department are not in User.ReadBasic.All; asking only for these keeps the answer small.
_FIELDS: Final = ["id", "displayName", "jobTitle", "department"]
_WARM_CONCURRENCY: Final = 4


@dataclass(frozen=True, slots=True)
class Profile:
    aad_object_id: str
    display_name: str | None
    job_title: str | None
    department: str | None

    @property
    def description(self) -> str | None:
        """Job title and department for a card ("Trainer, Engineering"); None when Entra has neither."""
        parts = [part for part in (self.job_title, self.department) if part]
        return ", ".join(parts) if parts else None


@dataclass(frozen=True, slots=True)
class _Entry:
    profile: Profile | None  # None: no such user, or Graph failed
    until: float


class GraphPeople:
    def __init__(
        self,
        graph: Graph,
        people: People,
        *,
        ttl_seconds: float = 24 * 3600.0,
        not_found_seconds: float = 3600.0,
        retry_seconds: float = 300.0,
        max_entries: int = 20_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._graph = graph
        self._people = people
        self._ttl = ttl_seconds
        self._not_found = not_found_seconds
        self._retry = retry_seconds
        self._max = max_entries
        self._clock = clock
        self._cache: OrderedDict[str, _Entry] = OrderedDict()
        self._in_flight: dict[str, asyncio.Task[Profile | None]] = {}

    def cached(self, aad_object_id: str) -> Profile | None:
        """What is known without asking Graph."""
        entry = self._cache.get(aad_object_id.strip().lower())
        return entry.profile if entry is not None else None

    async def profile(self, aad_object_id: str) -> Profile | None:
        """The person's profile, from the cache or one Graph lookup shared by everyone asking at once."""
        key = aad_object_id.strip().lower()
        if not key:
            return None
        entry = self._cache.get(key)
        if entry is not None and self._clock() < entry.until:
            self._cache.move_to_end(key)
            return entry.profile
        task = self._in_flight.get(key)
        if task is None:
            # A task of its own, so a caller that gives up (a cancelled turn) does not cancel it for the others.
            task = asyncio.create_task(self._lookup(key), name=f"graph-profile-{key}")
            self._in_flight[key] = task
            task.add_done_callback(lambda _: self._in_flight.pop(key, None))
        return await asyncio.shield(task)

    async def id_for(self, email: str) -> tuple[str, str | None] | None:
        """The Entra object id and name of the person with this sign-in name (UPN), or None; failures are None too,
        since whoever asked can say "not found" and offer another way."""
        query = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(select=["id", "displayName"])
        config = RequestConfiguration(query_parameters=query)

        async def get(client: GraphServiceClient) -> User | None:
            return await client.users.by_user_id(email.strip().lower()).get(config)

        try:
            user = await self._graph.call("find a person by sign-in name", get, max_retry_after=5.0)
        except GraphError as exc:
            if not exc.not_found:
                log.warning("looking a person up by sign-in name failed (%s)", exc)
            return None
        if user is None or not user.id:
            return None
        if user.display_name:
            self._people.remember(user.id, user.display_name)
        return user.id.lower(), user.display_name

    async def warm(self, aad_object_ids: Iterable[str]) -> None:
        """Look up several people (the DSOs and directors at start-up, say) so their names are ready for cards."""
        limit = asyncio.Semaphore(_WARM_CONCURRENCY)

        async def one(aad: str) -> None:
            async with limit:
                await self.profile(aad)

        await asyncio.gather(*(one(aad) for aad in set(aad_object_ids)))

    async def _lookup(self, key: str) -> Profile | None:
        query = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(select=_FIELDS)
        config = RequestConfiguration(query_parameters=query)

        async def get(client: GraphServiceClient) -> User | None:
            return await client.users.by_user_id(key).get(config)

        try:
            user = await self._graph.call(f"read the profile of {key}", get, max_retry_after=5.0)
        except GraphError as exc:
            if exc.not_found:
                self._store(key, None, self._not_found)
                return None
            log.warning("profile of %s unavailable from Graph (%s); will ask again later", key, exc)
            return self._failed(key, exc.retry_after)
        except Exception:  # a card must still be drawn, with the name Teams sent
            log.exception("profile lookup for %s failed", key)
            return self._failed(key, None)
        if user is None:
            self._store(key, None, self._not_found)
            return None
        found = Profile(
            aad_object_id=key,
            display_name=user.display_name,
            job_title=user.job_title,
            department=user.department,
        )
        if found.display_name:
            self._people.remember(key, found.display_name)
        self._store(key, found, self._ttl)
        return found

    def _failed(self, key: str, retry_after: float | None) -> Profile | None:
        # A failed refresh keeps what we knew; Graph is asked again after a pause, not on every card.
        known = self.cached(key)
        self._store(key, known, max(self._retry, retry_after or 0.0))
        return known

    def _store(self, key: str, profile: Profile | None, seconds: float) -> None:
        self._cache[key] = _Entry(profile=profile, until=self._clock() + seconds)
        self._cache.move_to_end(key)
        while len(self._cache) > self._max:
            self._cache.popitem(last=False)
