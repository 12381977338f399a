"""Fixtures: the real app on loopback, a fake Bot Connector, test databases and people to act as."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.config import Settings
from tests.rig.bot_server import BotServer
from tests.rig.databases import fresh_pg_database, pg_available
from tests.rig.fake_connector import FakeConnector
from tests.rig.teams import Chat, Person

_pg_checked: dict[str, bool] = {}


async def require_postgres() -> None:
    if "ok" not in _pg_checked:
        _pg_checked["ok"] = await pg_available()
    if not _pg_checked["ok"]:
        pytest.skip("no PostgreSQL server answers at SAFESPACE_TEST_DATABASE_URL")


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Each storage test runs twice: on a SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'safespace.db'}"
        return
    await require_postgres()
    async with fresh_pg_database() as url:
        yield url


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    await require_postgres()
    async with fresh_pg_database() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'safespace.db'}"


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    fake = await FakeConnector().start()
    yield fake
    await fake.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


# People ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cast:
    learner: Person
    other_learner: Person
    staff: Person
    trainer: Person
    dso: Person
    deputy: Person
    director: Person


def new_cast() -> Cast:
    """The people of a test: fresh Entra ids each time, the same names."""
    return Cast(
        learner=Person("Alex Learner"),
        other_learner=Person("Billie Learner"),
        staff=Person("Sam Staff"),
        trainer=Person("Tara Trainer"),
        dso=Person("Claire Lewis"),
        deputy=Person("Andrea Lagerberg"),
        director=Person("Alan Bates"),
    )


@pytest.fixture
def cast() -> Cast:
    return new_cast()


def settings_for(database_url: str, cast: Cast, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "dso_ids": frozenset({cast.dso.aad_object_id, cast.deputy.aad_object_id}),
        "director_ids": frozenset({cast.director.aad_object_id}),
        "staff_ids": frozenset({cast.staff.aad_object_id}),
        "trainer_ids": frozenset({cast.trainer.aad_object_id}),
        "app_id": "",
        "app_password": "",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@dataclass
class Rig:
    """Everything a feature test needs to act as people in Teams against the real bot."""

    http: aiohttp.ClientSession
    server: BotServer
    connector: FakeConnector
    cast: Cast

    def personal(self, person: Person) -> Chat:
        return Chat(
            http=self.http,
            bot_url=self.server.messages_url,
            connector=self.connector,
            person=person,
            conversation_id=f"a:1on1-{person.aad_object_id}",
            conversation_type="personal",
        )

    def group_chat(self, person: Person, chat_id: str = "19:session-chat@thread.v2") -> Chat:
        return Chat(
            http=self.http,
            bot_url=self.server.messages_url,
            connector=self.connector,
            person=person,
            conversation_id=chat_id,
            conversation_type="groupChat",
        )

    def channel(
        self,
        person: Person,
        *,
        team_id: str = "19:team-safeguarding@thread.tacv2",
        channel_id: str = "19:cases@thread.tacv2",
        thread: str | None = None,
        membership_type: str | None = "standard",
    ) -> Chat:
        conversation_id = f"{channel_id};messageid={thread}" if thread else channel_id
        return Chat(
            http=self.http,
            bot_url=self.server.messages_url,
            connector=self.connector,
            person=person,
            conversation_id=conversation_id,
            conversation_type="channel",
            team_id=team_id,
            channel_id=channel_id,
            membership_type=membership_type,
        )


RigFactory = Callable[..., Any]


@pytest.fixture
async def make_rig(
    http: aiohttp.ClientSession, connector: FakeConnector, cast: Cast, sqlite_url: str
) -> AsyncIterator[Callable[..., Any]]:
    """Start the bot with chosen settings: `rig = await make_rig(database_url=..., app_id=...)`."""
    servers: list[BotServer] = []

    async def make(database_url: str | None = None, **overrides: Any) -> Rig:
        server = await BotServer(settings_for(database_url or sqlite_url, cast, **overrides)).start()
        servers.append(server)
        return Rig(http=http, server=server, connector=connector, cast=cast)

    yield make
    for server in servers:
        await server.stop()


@pytest.fixture
async def rig(make_rig: Callable[..., Any]) -> Rig:
    """The bot on a fresh SQLite database in local mode, with the standard cast's roles."""
    made: Rig = await make_rig()
    return made
