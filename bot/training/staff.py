"""Who counts as staff for training: everyone the roles configuration or the Entra groups name, and anyone seen in
a 1:1 chat whose roles make them staff (an associate in the staff group, say)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterable
from zoneinfo import ZoneInfo

from bot.edge.people import People
from dialogs.roles import Role, RoleDirectory
from storage import training
from storage.db import Database

_LONDON = ZoneInfo("Europe/London")
_STAFF_ROLES = (Role.STAFF, Role.TRAINER, Role.DSO, Role.DIRECTOR)


def uk_today(now: dt.datetime) -> dt.date:
    """The provider's calendar day: a course finished at 00:30 on 12 September in London was on the 12th."""
    return now.astimezone(_LONDON).date()


class StaffPopulation:
    def __init__(
        self,
        *,
        database: Database,
        roles: RoleDirectory,
        people: People,
        by_email: Callable[[str], Awaitable[tuple[str, str | None] | None]] | None = None,
        warm_names: Callable[[Iterable[str]], Awaitable[None]] | None = None,
    ) -> None:
        """`by_email` and `warm_names` come from Microsoft Graph when it is configured (bot.graph.people)."""
        self._db = database
        self._roles = roles
        self._people = people
        self._by_email = by_email
        self._warm_names = warm_names

    async def members(self) -> dict[str, str | None]:
        """Entra object id (lower case) -> display name if known."""
        found: set[str] = set()
        for role in _STAFF_ROLES:
            found |= {aad.lower() for aad in await self._roles.members(role)}
        async with self._db.read_sessions() as session:
            seen = await training.people_seen(session=session)
        for aad in seen:
            if aad not in found and Role.STAFF in await self._roles.roles_of(aad):
                found.add(aad)
        unnamed = [aad for aad in found if self._people.name_of(aad) is None]
        if unnamed and self._warm_names is not None:
            await self._warm_names(unnamed)  # cached for a day: only newcomers cost a Graph call
        return {aad: self._people.name_of(aad) for aad in sorted(found)}

    async def choices(self) -> list[tuple[str, str]]:
        """(object id, name) for the DSO's picker, by name; someone whose name is unknown shows as their id."""
        members = await self.members()
        return sorted(((aad, name or aad) for aad, name in members.items()), key=lambda p: (p[1].lower(), p[0]))

    async def find(self, typed: str) -> list[tuple[str, str]]:
        """Staff matching what the DSO typed after "for": a full name, every word of one, an e-mail (sign-in name,
        with Graph) or an object id. Only staff: a learner's name never matches."""
        wanted = " ".join(typed.lower().split())
        if not wanted:
            return []
        choices = await self.choices()
        if "@" in wanted:
            found = await self._by_email(wanted) if self._by_email is not None else None
            staff = dict(choices)
            return [(found[0], staff[found[0]])] if found is not None and found[0] in staff else []
        exact = [p for p in choices if p[1].lower() == wanted or p[0] == wanted]
        if exact:
            return exact
        words = wanted.split()
        return [p for p in choices if all(w in p[1].lower().split() for w in words)]
