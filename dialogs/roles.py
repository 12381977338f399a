"""Who is who: DSO, director, staff, trainer or learner. Plain Python, so dialogs can ask without the SDK."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol


class Role(StrEnum):
    DSO = "dso"
    DIRECTOR = "director"
    STAFF = "staff"
    TRAINER = "trainer"
    LEARNER = "learner"


# Anyone in one of these roles is a member of staff too (a DSO raising a concern uses the staff form).
_STAFF_ROLES = frozenset({Role.DSO, Role.DIRECTOR, Role.TRAINER, Role.STAFF})


class RoleDirectory(Protocol):
    async def roles_of(self, aad_object_id: str | None) -> frozenset[Role]:
        """Every role the person holds; exactly {LEARNER} for someone with no staff role."""
        ...

    async def members(self, role: Role) -> frozenset[str]:
        """The Entra object ids (lower case) of everyone holding `role`."""
        ...


def _normalise(aad_object_id: str | None) -> str:
    return (aad_object_id or "").strip().lower()


class StaticRoleDirectory:
    """Roles from configured lists of Entra object IDs: the fallback, and the only source in local mode."""

    def __init__(
        self,
        *,
        dso_ids: frozenset[str] = frozenset(),
        director_ids: frozenset[str] = frozenset(),
        staff_ids: frozenset[str] = frozenset(),
        trainer_ids: frozenset[str] = frozenset(),
    ) -> None:
        self._lists = {
            Role.DSO: frozenset(_normalise(i) for i in dso_ids),
            Role.DIRECTOR: frozenset(_normalise(i) for i in director_ids),
            Role.STAFF: frozenset(_normalise(i) for i in staff_ids),
            Role.TRAINER: frozenset(_normalise(i) for i in trainer_ids),
        }

    async def roles_of(self, aad_object_id: str | None) -> frozenset[Role]:
        return self.lookup(aad_object_id)

    def lookup(self, aad_object_id: str | None) -> frozenset[Role]:
        key = _normalise(aad_object_id)
        held = {role for role, ids in self._lists.items() if key and key in ids}
        if held & _STAFF_ROLES:
            held.add(Role.STAFF)
        return frozenset(held) if held else frozenset({Role.LEARNER})

    async def members(self, role: Role) -> frozenset[str]:
        return self._lists.get(role, frozenset())
