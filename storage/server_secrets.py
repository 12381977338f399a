"""Keys the instances share, and the pseudonyms made with them.

A survey answer is stored under HMAC-SHA256(key, "survey:<run>:<aad id>"): the same person gets the same pseudonym
in one survey (so a second answer is refused) and unrelated ones in different surveys, and the table alone does
not say who answered. The key comes from configuration (SAFESPACE_VOICE_SECRET) when set. When it is not, one is
generated the first time it is needed and kept in the database, so every instance and every restart uses the
same key: a key that changed mid-survey would let someone answer twice. Keeping the key beside the answers means
anyone who can read the whole database and knows a learner's Entra id could recompute that learner's pseudonym;
configuring the key from a secret store (Key Vault) keeps the two apart.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import ServerSecret
from storage.types import utcnow

VOICE_KEY = "voice_pseudonyms"


async def shared_secret(*, session: AsyncSession, name: str) -> bytes:
    """The key called `name`, made now if there is none; two instances asking at once get the same one."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(
        insert(ServerSecret)
        .values(name=name, value=secrets.token_hex(32), created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["name"])
    )
    value = (await session.execute(select(col(ServerSecret.value)).where(col(ServerSecret.name) == name))).scalar_one()
    return bytes.fromhex(value)


def pseudonym(key: bytes, scope: str, aad_object_id: str) -> str:
    """A stable, unlinkable stand-in for one person within one scope ("survey:3", "debate:12")."""
    message = f"{scope}:{aad_object_id.strip().lower()}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
