"""Microsoft Graph: the real msgraph-sdk client and azure-identity credentials against a fake Graph on 127.0.0.1.

Roles from Entra groups (paging, throttling, expired tokens, Graph down), people's profiles, and alert e-mail
that survives an outage and arrives exactly once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.edge.people import People
from bot.graph.client import Graph, GraphAuth, GraphConfig, GraphError, graph_config, retry_after_seconds
from bot.graph.mail import ALERT_EMAIL, SENT, GraphMailNotifier, compose, pending_emails
from bot.graph.people import GraphPeople
from bot.graph.roles import GraphRoleDirectory
from bot.safeguarding import delivery
from bot.safeguarding.notifier import Alert, LogNotifier
from bot.safeguarding.reminders import Reminders
from content.texts import Texts
from dialogs.roles import Role, StaticRoleDirectory
from storage import outbox
from storage.db import Database, open_database
from storage.migrate import migrate
from storage.models import Case, OutboxMessage
from storage.types import utcnow
from tests.conftest import Cast, Rig
from tests.rig.fake_graph import (
    CLIENT_ID,
    CLIENT_SECRET,
    MSI_HEADER,
    TENANT,
    FakeGraph,
    GraphFailure,
    Tls,
    make_client_certificate,
    make_tls,
)
from tests.rig.safeguarding import all_cases, reference_from, services, walk_report

DSO_GROUP = "group-dso"
DIRECTOR_GROUP = "group-directors"
STAFF_GROUP = "group-staff"
TRAINER_GROUP = "group-trainers"
DEPUTIES = "group-deputies"  # nested inside the DSO group
MAILBOX = "safeguarding@qualitrain.example"
RECIPIENTS = ("dso@qualitrain.example", "deputy@qualitrain.example", "safeguardinglead@qualitrain.example")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture
async def fake(tls: Tls) -> AsyncIterator[FakeGraph]:
    graph = await FakeGraph(tls).start()
    yield graph
    await graph.stop()


def config_for(fake: FakeGraph, **overrides: Any) -> GraphConfig:
    values: dict[str, Any] = {
        "tenant_id": TENANT,
        "client_id": CLIENT_ID,
        "auth": GraphAuth.SECRET,
        "client_secret": CLIENT_SECRET,
        "base_url": fake.graph_url,
        "authority": fake.authority,
        "ca_bundle": str(fake.tls.ca_path),
        "timeout_seconds": 5.0,
    }
    values.update(overrides)
    return GraphConfig(**values)


@pytest.fixture
async def graph(fake: FakeGraph) -> AsyncIterator[Graph]:
    client = Graph(config_for(fake))
    yield client
    await client.close()


def static_for(cast: Cast) -> StaticRoleDirectory:
    return StaticRoleDirectory(
        dso_ids=frozenset({cast.dso.aad_object_id, cast.deputy.aad_object_id}),
        director_ids=frozenset({cast.director.aad_object_id}),
        staff_ids=frozenset({cast.staff.aad_object_id}),
        trainer_ids=frozenset({cast.trainer.aad_object_id}),
    )


def groups_of_cast(fake: FakeGraph, cast: Cast, *extra_dsos: str) -> None:
    fake.add_group(DEPUTIES, cast.deputy.aad_object_id)
    fake.add_group(DSO_GROUP, cast.dso.aad_object_id, DEPUTIES, *extra_dsos)
    fake.add_group(DIRECTOR_GROUP, cast.director.aad_object_id)
    fake.add_group(STAFF_GROUP, cast.staff.aad_object_id)
    fake.add_group(TRAINER_GROUP, cast.trainer.aad_object_id)


def directory(graph: Graph, fallback: StaticRoleDirectory, clock: Clock | None = None, **kw: Any) -> GraphRoleDirectory:
    return GraphRoleDirectory(
        graph,
        groups={
            Role.DSO: DSO_GROUP,
            Role.DIRECTOR: DIRECTOR_GROUP,
            Role.STAFF: STAFF_GROUP,
            Role.TRAINER: TRAINER_GROUP,
        },
        fallback=fallback,
        clock=clock or Clock(),
        **kw,
    )


# Roles from Entra groups -----------------------------------------------------------------------------------


async def test_roles_come_from_groups_across_three_pages(fake: FakeGraph, graph: Graph, cast: Cast) -> None:
    extra = [f"0000000{i}-aaaa-4aaa-8aaa-00000000000{i}" for i in range(4)]
    groups_of_cast(fake, cast, *extra)
    fake.page_size = 2  # dso + deputy (nested) + 4 more = 6 users: three pages
    roles = directory(graph, StaticRoleDirectory())  # empty static lists: everything below came from Graph
    assert roles.cached_members(Role.DSO) is None

    dsos = await roles.members(Role.DSO)

    assert dsos == {cast.dso.aad_object_id, cast.deputy.aad_object_id, *extra}
    pages = fake.graph_calls(f"/groups/{DSO_GROUP}/transitiveMembers")
    assert len(pages) == 3 and all(status == 200 for _, _, status in pages)
    assert "$select=id" in pages[0][1] and "$top=999" in pages[0][1]
    assert "$skiptoken=2" in pages[1][1] and "$skiptoken=4" in pages[2][1]
    assert roles.cached_members(Role.DSO) == dsos
    assert await roles.roles_of(cast.deputy.aad_object_id.upper()) == {Role.DSO, Role.STAFF}
    assert await roles.roles_of(cast.trainer.aad_object_id) == {Role.TRAINER, Role.STAFF}
    assert await roles.roles_of(cast.learner.aad_object_id) == {Role.LEARNER}
    assert await roles.roles_of(None) == {Role.LEARNER}
    # One token for all of it, fetched with the client secret from the (fake) Entra token endpoint.
    assert [r["grant_type"] for r in fake.token_requests] == ["client_credentials"]
    assert fake.token_requests[0]["client_secret"] == CLIENT_SECRET
    calls = len(fake.requests)
    await roles.roles_of(cast.dso.aad_object_id)
    assert len(fake.requests) == calls, "answered from the cache within its time-to-live"


async def test_a_group_refreshes_after_its_time_to_live(fake: FakeGraph, graph: Graph, cast: Cast) -> None:
    groups_of_cast(fake, cast)
    clock = Clock()
    roles = directory(graph, StaticRoleDirectory(), clock, ttl_seconds=300)
    assert await roles.roles_of(cast.staff.aad_object_id) == {Role.STAFF}
    fake.add_group(DIRECTOR_GROUP, cast.director.aad_object_id, cast.staff.aad_object_id)  # promoted in Entra
    clock.now += 299
    assert await roles.roles_of(cast.staff.aad_object_id) == {Role.STAFF}
    clock.now += 2
    assert await roles.roles_of(cast.staff.aad_object_id) == {Role.DIRECTOR, Role.STAFF}


async def test_throttled_with_retry_after_then_answered(fake: FakeGraph, graph: Graph, cast: Cast) -> None:
    groups_of_cast(fake, cast)
    fake.fail_next(GraphFailure(429, {"Retry-After": "1"}, code="TooManyRequests", path_contains=DSO_GROUP))
    roles = directory(graph, StaticRoleDirectory())
    started = time.monotonic()

    assert await roles.roles_of(cast.dso.aad_object_id) == {Role.DSO, Role.STAFF}

    assert time.monotonic() - started >= 1.0, "Retry-After was honoured"
    statuses = [status for _, _, status in fake.graph_calls(DSO_GROUP)]
    assert statuses == [429, 200]
    assert roles.failures == 0


async def test_retry_after_beyond_the_bound_falls_back_at_once_and_waits_as_told(
    fake: FakeGraph, graph: Graph, cast: Cast, caplog: pytest.LogCaptureFixture
) -> None:
    groups_of_cast(fake, cast)
    fake.fail_next(GraphFailure(429, {"Retry-After": "120"}, code="TooManyRequests", path_contains=DSO_GROUP))
    clock = Clock()
    roles = directory(graph, static_for(cast), clock, max_retry_after_seconds=3, retry_seconds=30)
    started = time.monotonic()

    with caplog.at_level(logging.WARNING, logger="bot.graph.roles"):
        assert await roles.roles_of(cast.dso.aad_object_id) == {Role.DSO, Role.STAFF}  # from the static list

    assert time.monotonic() - started < 1.0, "a turn does not sit out a two-minute Retry-After"
    assert "configured ID lists" in caplog.text and "429" in caplog.text
    calls = len(fake.requests)
    clock.now += 119
    await roles.roles_of(cast.dso.aad_object_id)
    assert len(fake.requests) == calls, "Graph is left alone until Retry-After has passed"
    clock.now += 2
    await roles.roles_of(cast.dso.aad_object_id)
    assert len(fake.requests) > calls
    assert roles.failures == 0


async def test_an_expired_token_is_replaced_and_the_call_succeeds(fake: FakeGraph, graph: Graph, cast: Cast) -> None:
    groups_of_cast(fake, cast)
    clock = Clock()
    roles = directory(graph, StaticRoleDirectory(), clock)
    assert await roles.roles_of(cast.director.aad_object_id) == {Role.DIRECTOR, Role.STAFF}
    fake.revoke_tokens()  # Graph now says the cached token has expired; azure-identity still thinks it is good
    clock.now += 301

    assert await roles.roles_of(cast.director.aad_object_id) == {Role.DIRECTOR, Role.STAFF}

    assert len(fake.token_requests) == 2, "one fresh token, not one per request"
    assert 401 in [status for _, _, status in fake.requests]
    assert roles.failures == 0


async def test_a_token_graph_keeps_refusing_means_the_fallback(
    fake: FakeGraph, graph: Graph, cast: Cast, caplog: pytest.LogCaptureFixture
) -> None:
    groups_of_cast(fake, cast)
    fake.reject_all_tokens = True
    roles = directory(graph, static_for(cast))
    with caplog.at_level(logging.WARNING, logger="bot.graph.roles"):
        assert await roles.roles_of(cast.trainer.aad_object_id) == {Role.TRAINER, Role.STAFF}
    assert "HTTP 401 InvalidAuthenticationToken" in caplog.text
    assert len(fake.token_requests) == 2, "one renewal, then give up"


async def test_a_wrong_client_secret_means_the_fallback(fake: FakeGraph, cast: Cast) -> None:
    groups_of_cast(fake, cast)
    graph = Graph(config_for(fake, client_secret="not-the-secret"))
    try:
        roles = directory(graph, static_for(cast))
        assert await roles.members(Role.DIRECTOR) == {cast.director.aad_object_id}
        assert roles.failures == 1
        assert fake.requests == [], "no token, so Graph was never called"
    finally:
        await graph.close()


async def test_graph_down_falls_back_to_the_static_lists_quickly(
    fake: FakeGraph, graph: Graph, cast: Cast, caplog: pytest.LogCaptureFixture
) -> None:
    groups_of_cast(fake, cast)
    await fake.go_down()
    clock = Clock()
    roles = directory(graph, static_for(cast), clock)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="bot.graph.roles"):
        assert await roles.roles_of(cast.dso.aad_object_id) == {Role.DSO, Role.STAFF}
        assert await roles.members(Role.DIRECTOR) == {cast.director.aad_object_id}
    assert time.monotonic() - started < 3.0
    assert "roles from Entra groups unavailable" in caplog.text
    assert "using the configured ID lists" in caplog.text
    assert roles.failures == 1, "asked once, then left alone for a while"

    await fake.come_back()
    clock.now += 31
    fake.add_group(DSO_GROUP, cast.staff.aad_object_id)  # Entra differs from the static list
    assert await roles.roles_of(cast.staff.aad_object_id) == {Role.DSO, Role.STAFF}
    assert roles.failures == 0


async def test_graph_unavailable_after_a_good_answer_keeps_the_recent_answer(
    fake: FakeGraph, cast: Cast, caplog: pytest.LogCaptureFixture
) -> None:
    groups_of_cast(fake, cast)
    fake.add_group(DSO_GROUP, cast.staff.aad_object_id)  # only in Entra, not in the static list
    graph = Graph(config_for(fake, max_attempts=1))
    clock = Clock()
    roles = directory(graph, static_for(cast), clock, ttl_seconds=300, max_stale_seconds=3600)
    try:
        assert await roles.roles_of(cast.staff.aad_object_id) == {Role.DSO, Role.STAFF}
        fake.unavailable = True  # 503 to everything
        clock.now += 301
        with caplog.at_level(logging.WARNING, logger="bot.graph.roles"):
            assert await roles.roles_of(cast.staff.aad_object_id) == {Role.DSO, Role.STAFF}
        assert "using the last Graph answer" in caplog.text and "503" in caplog.text
        clock.now += 3600
        assert await roles.roles_of(cast.staff.aad_object_id) == {Role.STAFF}, "too old: the static lists"
    finally:
        await graph.close()


async def test_an_empty_dso_group_is_not_believed(
    fake: FakeGraph, graph: Graph, cast: Cast, caplog: pytest.LogCaptureFixture
) -> None:
    groups_of_cast(fake, cast)
    fake.add_group(DSO_GROUP)  # a wrong group, or everyone removed by mistake: new cases would reach nobody
    roles = directory(graph, static_for(cast))
    with caplog.at_level(logging.WARNING, logger="bot.graph.roles"):
        assert await roles.members(Role.DSO) == {cast.dso.aad_object_id, cast.deputy.aad_object_id}
    assert "has no members" in caplog.text


async def test_roles_without_a_group_come_from_the_static_lists(fake: FakeGraph, graph: Graph, cast: Cast) -> None:
    groups_of_cast(fake, cast)
    roles = GraphRoleDirectory(graph, groups={Role.DSO: DSO_GROUP}, fallback=static_for(cast), clock=Clock())
    assert await roles.members(Role.TRAINER) == {cast.trainer.aad_object_id}
    assert await roles.roles_of(cast.dso.aad_object_id) == {Role.DSO, Role.STAFF}
    assert fake.graph_calls(TRAINER_GROUP) == []


async def test_certificate_credential(fake: FakeGraph, cast: Cast, tmp_path: Path) -> None:
    groups_of_cast(fake, cast)
    pem = tmp_path / "graph-app.pem"
    fake.certificates[CLIENT_ID] = make_client_certificate(pem)
    graph = Graph(config_for(fake, auth=GraphAuth.CERTIFICATE, client_secret="", certificate_path=str(pem)))
    try:
        assert await directory(graph, StaticRoleDirectory()).members(Role.DIRECTOR) == {cast.director.aad_object_id}
    finally:
        await graph.close()
    [token] = fake.token_requests
    assert "client_secret" not in token and token["client_assertion"].count(".") == 2


async def test_managed_identity_credential(fake: FakeGraph, cast: Cast, monkeypatch: pytest.MonkeyPatch) -> None:
    groups_of_cast(fake, cast)
    # App Service's managed identity endpoint, as the platform sets it.
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"{fake.url}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", MSI_HEADER)
    graph = Graph(config_for(fake, auth=GraphAuth.MANAGED_IDENTITY, client_secret="", tenant_id="", client_id=""))
    try:
        assert await directory(graph, StaticRoleDirectory()).members(Role.DIRECTOR) == {cast.director.aad_object_id}
    finally:
        await graph.close()
    [token] = fake.token_requests
    assert token["grant_type"] == "managed_identity"


def test_a_token_never_goes_to_graph_in_clear_text() -> None:
    with pytest.raises(ValueError, match="https"):
        GraphConfig(TENANT, CLIENT_ID, GraphAuth.SECRET, client_secret="x", base_url="http://graph.example/v1.0")
    GraphConfig(TENANT, CLIENT_ID, GraphAuth.SECRET, client_secret="x", base_url="http://127.0.0.1:9/v1.0")
    assert "x" * 12 not in repr(GraphConfig(TENANT, CLIENT_ID, GraphAuth.SECRET, client_secret="x" * 12))


def test_retry_after_as_seconds_or_a_date() -> None:
    now = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)
    assert retry_after_seconds({"Retry-After": "7"}) == 7
    assert retry_after_seconds({"retry-after": "Mon, 02 Nov 2026 12:00:30 GMT"}, now) == 30
    assert retry_after_seconds({}) is None
    assert retry_after_seconds({"Retry-After": "soon"}) is None


# Settings: the Field lines proposed for bot/config.py -------------------------------------------------------


def test_settings_choose_the_graph_credential(monkeypatch: pytest.MonkeyPatch) -> None:
    assert graph_config(Settings(_env_file=None)) is None, "local mode: no Graph"

    bot_app = Settings(
        _env_file=None, app_id=CLIENT_ID, app_password="bot-secret", app_type="SingleTenant", app_tenant_id=TENANT
    )
    config = graph_config(bot_app)
    assert config is not None
    assert (config.auth, config.client_id, config.client_secret, config.tenant_id) == (
        GraphAuth.SECRET,
        CLIENT_ID,
        "bot-secret",
        TENANT,
    ), "the bot's own app registration by default"

    multi = Settings(_env_file=None, app_id=CLIENT_ID, app_password="bot-secret")
    assert graph_config(multi) is None, "app-only Graph needs a tenant"

    monkeypatch.setenv("SAFESPACE_GRAPH_TENANT_ID", TENANT)
    monkeypatch.setenv("SAFESPACE_GRAPH_CLIENT_ID", "graph-app")
    monkeypatch.setenv("SAFESPACE_GRAPH_CERTIFICATE_PATH", "/run/secrets/graph.pem")
    monkeypatch.setenv("SAFESPACE_ALERT_MAILBOX", MAILBOX)
    monkeypatch.setenv("SAFESPACE_ALERT_RECIPIENTS", " DSO@qualitrain.example, deputy@qualitrain.example ,")
    monkeypatch.setenv("SAFESPACE_DSO_GROUP_ID", DSO_GROUP)
    own = Settings(_env_file=None, app_id=CLIENT_ID, app_password="bot-secret")
    config = graph_config(own)
    assert config is not None
    assert (config.auth, config.client_id, config.client_secret) == (GraphAuth.CERTIFICATE, "graph-app", "")
    assert own.alert_recipients == {"dso@qualitrain.example", "deputy@qualitrain.example"}
    assert own.dso_group_id == DSO_GROUP

    monkeypatch.delenv("SAFESPACE_GRAPH_CLIENT_ID")
    monkeypatch.delenv("SAFESPACE_GRAPH_CERTIFICATE_PATH")
    msi = Settings(_env_file=None, app_id="msi-client", app_type="UserAssignedMSI")
    config = graph_config(msi)
    assert config is not None and (config.auth, config.client_id) == (GraphAuth.MANAGED_IDENTITY, "msi-client")


# People -----------------------------------------------------------------------------------------------------


async def test_profiles_are_looked_up_once_and_feed_people(fake: FakeGraph, graph: Graph, cast: Cast) -> None:
    fake.add_user(cast.trainer.aad_object_id, "Tara Trainer", job_title="Trainer", department="Engineering")
    people = People()
    directory_of_people = GraphPeople(graph, people)

    found = await asyncio.gather(*(directory_of_people.profile(cast.trainer.aad_object_id) for _ in range(5)))
    again = await directory_of_people.profile(cast.trainer.aad_object_id.upper())

    assert {p.description if p else None for p in [*found, again]} == {"Trainer, Engineering"}
    assert people.name_of(cast.trainer.aad_object_id) == "Tara Trainer"
    [call] = fake.graph_calls("/users/")
    assert "$select=id,displayName,jobTitle,department" in call[1]
    assert await directory_of_people.profile(cast.learner.aad_object_id) is None, "not in Entra"


async def test_a_profile_lookup_with_graph_down_is_not_fatal_and_is_retried_later(
    fake: FakeGraph, graph: Graph, cast: Cast
) -> None:
    fake.add_user(cast.dso.aad_object_id, "Claire Lewis", job_title="Designated Safeguarding Officer")
    clock = Clock()
    people = People()
    lookups = GraphPeople(graph, people, clock=clock, retry_seconds=300)
    await fake.go_down()
    assert await lookups.profile(cast.dso.aad_object_id) is None
    await fake.come_back()
    assert await lookups.profile(cast.dso.aad_object_id) is None, "not asked again at once"
    clock.now += 301
    await lookups.warm([cast.dso.aad_object_id])
    assert people.name_of(cast.dso.aad_object_id) == "Claire Lewis"


# Alert e-mail -----------------------------------------------------------------------------------------------


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = open_database(database_url)
    await migrate(db.engine)
    yield db
    await db.dispose()


async def wait_until(predicate: Callable[[], Any], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def mail_notifier(graph: Graph, database: Database, fallback: LogNotifier, **kw: Any) -> GraphMailNotifier:
    values: dict[str, Any] = {
        "graph": graph,
        "database": database,
        "mailbox": MAILBOX,
        "recipients": RECIPIENTS,
        "escalate_to": fallback,
        "poll_seconds": 0.05,
        "backoff": lambda attempts: 0.05,
    }
    values.update(kw)
    return GraphMailNotifier(**values)


def test_the_email_says_only_reference_category_and_reason() -> None:
    subject, body = compose(
        Alert(
            subject="Safeguarding case not acknowledged",
            reason="waited 11 minutes with nobody assigned\nBcc: someone@evil.example",
            reference="SS-2026-0042",
            category="Radicalisation or extremism",
        )
    )
    assert subject == "Safe Space: Safeguarding case not acknowledged (SS-2026-0042)"
    assert body.splitlines() == [
        "Safe Space alert: Safeguarding case not acknowledged",
        "",
        "Case reference: SS-2026-0042",
        "Category: Radicalisation or extremism",
        "Reason: waited 11 minutes with nobody assigned Bcc: someone@evil.example",
        "",
        "Open Safe Space in Microsoft Teams to see the case.",
        "This e-mail deliberately contains no details of the concern.",
    ]


async def test_an_escalated_case_is_emailed_without_the_learners_words(
    fake: FakeGraph, graph: Graph, make_rig: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A learner's report goes unacknowledged; the directors' escalation e-mail names the case, not the words."""
    fake.mailboxes.add(MAILBOX)
    rig: Rig = await make_rig(delivery_poll_seconds=0.05)
    svc = services(rig)
    fallback = LogNotifier()
    notifier = mail_notifier(graph, svc.database, fallback)
    notifier.start()
    try:
        words = "My mate Jamie keeps sending me videos from a group that hates Muslims"
        replies = await walk_report(rig.personal(rig.cast.learner), words)
        reference = reference_from(replies)
        [case] = await all_cases(rig)
        settings = rig.server.settings
        reminders = Reminders(
            database=svc.database,
            roles=static_for(rig.cast),
            texts=Texts.load(settings.content_dir),
            delivery=svc.delivery,
            notifier=notifier,
            people=People(),
            ack_minutes=settings.ack_minutes,
            urgent_ack_minutes=settings.urgent_ack_minutes,
            check_seconds=60,
        )
        for minutes in (31, 61):  # first the reminder, then the escalation
            async with svc.database.sessions.begin() as session:
                await session.execute(
                    update(Case).values(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes))
                )
            assert await reminders.run_once() == 1

        async def mailed() -> bool:
            return len(fake.mail) == 1 and await pending_emails(svc.database) == []

        await wait_until(mailed)
    finally:
        await notifier.stop()
    [mail] = fake.mail
    assert mail.mailbox == MAILBOX
    assert sorted(mail.to) == sorted(RECIPIENTS)
    assert mail.message["body"]["contentType"].lower() == "text"
    assert reference in mail.text and reference in mail.message["subject"]
    assert f"Category: {case.category}" in mail.text
    assert case.description and case.description not in mail.text
    for word in ("Jamie", "videos", "Muslims", rig.cast.learner.name, rig.cast.learner.aad_object_id):
        assert word not in mail.text and word not in mail.message["subject"]
    assert mail.save_to_sent_items is True
    assert fallback.sent == []
    # The Teams delivery worker polled all along and never claimed the e-mail row (it would have failed it as an
    # unknown kind, leaving an error and an attempt behind).
    async with svc.database.read_sessions() as session:
        [row] = [m for m in await _all_rows(session) if m.kind == ALERT_EMAIL]
    assert (row.status, row.attempts, row.last_error) == (SENT, 0, None)


async def test_graph_down_the_email_waits_and_arrives_exactly_once(
    fake: FakeGraph, graph: Graph, database: Database
) -> None:
    fake.mailboxes.add(MAILBOX)
    fallback = LogNotifier()
    notifier = mail_notifier(graph, database, fallback, escalate_after=2)
    await fake.go_down()
    notifier.start()
    try:
        await notifier.alert(Alert("Teams delivery keeps failing", "case_card not delivered", "SS-2026-0007", "Other"))

        async def failed_twice() -> bool:
            queued = await pending_emails(database)
            return bool(queued) and queued[0].attempts >= 2

        await wait_until(failed_twice)
        # The outbox's own statuses, not borrowed ones: the claim by kind keeps the Teams worker away.
        assert (await pending_emails(database))[0].status in ("pending", "sending")
        # Meanwhile the Teams delivery worker's claim does not see the e-mail.
        async with database.sessions.begin() as session:
            teams_kinds = delivery.KINDS
            assert (
                await outbox.claim_due(session=session, kinds=teams_kinds, now=utcnow() + dt.timedelta(hours=1)) == []
            )
        assert [a.subject for a in fallback.sent] == ["Alert e-mail not delivered: Teams delivery keeps failing"]
        assert fallback.sent[0].reference == "SS-2026-0007"

        await fake.come_back()

        async def delivered() -> bool:
            return len(fake.mail) >= 1

        await wait_until(delivered)
        await asyncio.sleep(0.3)  # several more polls: nothing is sent twice
    finally:
        await notifier.stop()
    assert len(fake.mail) == 1
    assert "SS-2026-0007" in fake.mail[0].text
    assert await pending_emails(database) == []
    async with database.read_sessions() as session:
        [row] = [m for m in await _all_rows(session) if m.kind == ALERT_EMAIL]
    assert row.status == SENT and row.attempts >= 2 and row.escalated
    assert len(fallback.sent) == 1, "escalated once, not on every failure"


async def _all_rows(session: AsyncSession) -> list[OutboxMessage]:
    return list((await session.execute(select(OutboxMessage))).scalars().all())


async def test_throttled_email_comes_back_after_retry_after(fake: FakeGraph, graph: Graph, database: Database) -> None:
    fake.mailboxes.add(MAILBOX)
    fake.fail_next(GraphFailure(429, {"Retry-After": "3600"}, code="ApplicationThrottled", path_contains="sendMail"))
    notifier = mail_notifier(graph, database, LogNotifier())
    await notifier.alert(Alert("Safeguarding case not acknowledged", "waited", "SS-2026-0001", "Other"))
    assert await notifier.run_once() == 1
    [queued] = await pending_emails(database)
    assert queued.next_attempt_at - utcnow() > dt.timedelta(minutes=59), "Retry-After honoured by the queue"
    assert await notifier.run_once() == 0
    assert await notifier.run_once(now=utcnow() + dt.timedelta(hours=1, seconds=1)) == 1
    assert len(fake.mail) == 1


async def test_a_mailbox_outside_the_access_policy_is_retried_and_escalated(
    fake: FakeGraph, graph: Graph, database: Database
) -> None:
    fallback = LogNotifier()  # MAILBOX is not in fake.mailboxes: 403, as an application access policy answers
    notifier = mail_notifier(graph, database, fallback, escalate_after=1)
    await notifier.alert(Alert("Safeguarding case not acknowledged", "waited", "SS-2026-0002", "Other"))
    assert await notifier.run_once() == 1
    assert fake.mail == []
    assert "403" in fallback.sent[0].reason


async def test_graph_error_reads_well() -> None:
    assert str(GraphError("Graph could not x", status=429, code="TooManyRequests")) == (
        "Graph could not x (HTTP 429 TooManyRequests)"
    )


async def test_a_bot_turn_succeeds_with_graph_down_when_wired(
    fake: FakeGraph, make_rig: Callable[..., Any], cast: Cast, caplog: pytest.LogCaptureFixture
) -> None:
    """bot.app builds a GraphRoleDirectory from settings; with Graph down a turn still works on the ID lists."""
    groups_of_cast(fake, cast)
    await fake.go_down()
    with caplog.at_level(logging.WARNING, logger="bot.graph.roles"):
        rig: Rig = await make_rig(
            graph_tenant_id=TENANT,
            graph_client_id=CLIENT_ID,
            graph_client_secret=CLIENT_SECRET,
            graph_base_url=fake.graph_url,
            graph_authority=fake.authority,
            graph_ca_bundle=str(fake.tls.ca_path),
            dso_group_id=DSO_GROUP,
            director_group_id=DIRECTOR_GROUP,
            staff_group_id=STAFF_GROUP,
            trainer_group_id=TRAINER_GROUP,
            alert_mailbox=MAILBOX,
            alert_recipients=frozenset(RECIPIENTS),
        )
        svc = services(rig)
        assert svc.graph_roles is not None and svc.alert_mail is not None
        staff = rig.personal(rig.cast.staff)
        assert await staff.say("report") == 200
        intro, _form = await staff.replies(2)
    assert "safeguarding form" in intro.text, "staff were recognised from the static list"
    assert "roles from Entra groups unavailable" in caplog.text

    await fake.come_back()
    await svc.graph_roles.refresh()
    assert svc.graph_roles.cached_members(Role.DSO) == {cast.dso.aad_object_id, cast.deputy.aad_object_id}
