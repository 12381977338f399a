"""Who may do what, proven cell by cell (issue 12, proof 1).

tests/authorization_matrix.yaml lists every text command, card action verb and invoke against every role. Each
cell here drives the real app over loopback: an allowed cell gets a real answer (and, where the row says so, a
change in the store); a refused cell gets the kind refusal, changes nothing in the store (the case row, the
chronology but for the one "refused" entry, the outbox, quizzes, channels), posts nothing anywhere but the reply
to the person, and is recorded (a case's chronology for case buttons, the log for everything; never with what the
person typed). The table must name every verb, command and invoke the bot has: a new one without a row fails.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import logging
import textwrap
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import yaml
from sqlalchemy import func, select
from sqlmodel import SQLModel, col

import storage.live_quiz  # noqa: F401  (its tables join the metadata compared below)
from bot.app import Services
from bot.safeguarding.report_intake import ReportIntake
from bot.teams_bot import TeamsBot
from cards.verbs import Verb
from content.routing import Routing
from content.texts import Texts
from dialogs.router import Intent
from storage.models import Case, CaseCreate, CaseEvent, OutboxMessage, SurveyRun
from tests.conftest import Rig, new_cast, settings_for
from tests.rig.bot_server import BotServer
from tests.rig.fake_connector import FakeConnector
from tests.rig.safeguarding import member, services
from tests.rig.teams import TENANT_ID, Chat, Person

MATRIX_FILE = Path(__file__).with_name("authorization_matrix.yaml")
MATRIX: dict[str, Any] = yaml.safe_load(MATRIX_FILE.read_text(encoding="utf-8"))
ROLES: list[str] = MATRIX["roles"]
OTHER_TENANT = "0badc0de-0000-0000-0000-0000000beef0"
SECRET = "MATRIX-SECRET-7f3a"  # typed into every refused press: it must never reach the log
# Tables every turn writes (the conversation log, dialog state, conversation references): not what a refusal
# could change on anyone's behalf, so left out of the before/after comparison.
PER_TURN_TABLES = {"bot_state", "conversation_log", "conversation_ref"}

IN_MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")  # one app for the whole table


# The table -----------------------------------------------------------------------------------------------------


def _cells(row: dict[str, Any]) -> dict[str, bool]:
    marks = row["cells"].split()
    assert len(marks) == len(ROLES) and set(marks) <= {"A", "R"}, f"bad cells {row['cells']!r}"
    return {role: mark == "A" for role, mark in zip(ROLES, marks, strict=True)}


def _params(section: str) -> list[Any]:
    params = []
    for name, row in MATRIX[section].items():
        for role, allowed in _cells(row).items():
            params.append(pytest.param(name, role, allowed, id=f"{name}-{role}-{'allowed' if allowed else 'refused'}"))
    return params


def _refusal(row: dict[str, Any], role: str) -> str | None:
    """The content key of the refusal this role gets: the row's, unless `refusal_for` names another."""
    key = (row.get("refusal_for") or {}).get(role, row.get("refusal"))
    return str(key) if key is not None else None


def _services(rig: Rig) -> Services:
    """The running app's services (the rig's helper, typed)."""
    found: Services = services(rig)  # type: ignore[no-untyped-call]
    return found


# People ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Anonymous(Person):
    """Someone Teams sends with no Entra object id (no role list can name them)."""

    def account(self) -> dict[str, Any]:
        return {"id": self.teams_id, "name": self.name}


class ForeignChat(Chat):
    """A conversation in another Microsoft 365 tenant."""

    def _conversation(self) -> dict[str, Any]:
        return {**super()._conversation(), "tenantId": OTHER_TENANT}

    def _channel_data(self) -> dict[str, Any]:
        return {**super()._channel_data(), "tenant": {"id": OTHER_TENANT}}


@dataclass
class Matrix:
    rig: Rig
    people: dict[str, Person]
    texts: Texts
    intake: ReportIntake
    safeguarding: tuple[str, str]  # the registered safeguarding channel: (team id, channel id)
    survey_run: int | None = None  # the survey sent to the learners, once, for survey.answer

    def chat(self, role: str, kind: str, conversation_id: str | None = None, **extra: Any) -> Chat:
        cls = ForeignChat if role == "other_tenant" else Chat
        conversation_type = {"personal": "personal", "group": "groupChat", "channel": "channel"}[kind]
        return cls(
            http=self.rig.http,
            bot_url=self.rig.server.messages_url,
            connector=self.rig.connector,
            person=self.people[role],
            conversation_id=conversation_id or f"{'a:' if kind == 'personal' else '19:'}matrix-{uuid.uuid4().hex}",
            conversation_type=conversation_type,
            **extra,
        )

    def as_role(self, chat: Chat, role: str) -> Chat:
        kind = {"personal": "personal", "groupChat": "group", "channel": "channel"}[chat.conversation_type]
        extra = {"team_id": chat.team_id, "channel_id": chat.channel_id, "membership_type": chat.membership_type}
        return self.chat(role, kind, chat.conversation_id, **extra)

    def safeguarding_channel(self, role: str) -> Chat:
        team, channel = self.safeguarding
        return self.chat(role, "channel", channel, team_id=team, channel_id=channel, membership_type="standard")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def matrix(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Matrix]:
    """One app for the whole table: each cell makes its own case, quiz or conversation, so cells stay apart."""
    cast = new_cast()
    people = {
        "learner": cast.learner,
        "staff": cast.staff,
        "trainer": cast.trainer,
        "dso": cast.dso,
        "deputy": cast.deputy,
        "director": cast.director,
        "other_tenant": Person("Olive Outsider"),
        "unknown": Anonymous("Uma Unknown"),
    }
    overrides: dict[str, Any] = {"delivery_poll_seconds": 0.05, "tenant_ids": frozenset({TENANT_ID})}
    database = f"sqlite:///{tmp_path_factory.mktemp('matrix') / 'safespace.db'}"
    connector = await FakeConnector().start()
    server = await BotServer(settings_for(database, cast, **overrides)).start()
    async with aiohttp.ClientSession() as http:
        rig = Rig(http=http, server=server, connector=connector, cast=cast)
        svc = _services(rig)
        # The safeguarding team's channel, so "nothing was posted to the channel" means something.
        team, channel = "19:matrix-team@thread.tacv2", "19:matrix-cases@thread.tacv2"
        made = Matrix(
            rig=rig,
            people=people,
            texts=Texts.load(svc.settings.content_dir),
            intake=ReportIntake(svc.database, Texts.load(svc.settings.content_dir), svc.delivery),
            safeguarding=(team, channel),
        )
        connector.set_members(team, [member(p) for p in (cast.dso, cast.deputy, cast.director)], channel)
        registering = rig.channel(cast.dso, team_id=team, channel_id=channel)
        assert await registering.say("register safeguarding channel") == 200
        yield made
    await server.stop()
    await connector.stop()


# Observing -----------------------------------------------------------------------------------------------------


# The case row's bookkeeping of its hash chain: a recorded refusal is a chronology entry, so these move with it.
CHAIN_BOOKKEEPING = {"safeguarding_case": ("event_count", "chain_head")}


async def snapshot(m: Matrix) -> dict[str, list[tuple[str, ...]]]:
    tables = [t for t in SQLModel.metadata.sorted_tables if t.name not in PER_TURN_TABLES]
    found: dict[str, list[tuple[str, ...]]] = {}
    async with _services(m.rig).database.sessions() as session:
        for table in tables:
            skip = CHAIN_BOOKKEEPING.get(table.name, ())
            rows = (await session.execute(select(*(c for c in table.columns if c.name not in skip)))).all()
            found[table.name] = sorted(tuple(str(v) for v in row) for row in rows)
    return found


async def settle(m: Matrix) -> None:
    """Until nothing waits in the outbox, no live-quiz or debate card is due a redraw (the last cell's quiz, ended,
    may still be redrawing its cards) and the connector has heard nothing for a moment."""
    svc = _services(m.rig)
    deadline = asyncio.get_running_loop().time() + 15
    while asyncio.get_running_loop().time() < deadline:
        heard = m.rig.connector.mark()
        await asyncio.sleep(0.05)
        async with svc.database.sessions() as session:
            waiting = await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(col(OutboxMessage.status).in_(("pending", "sending")))
            )
        redrawing = bool(svc.live_quiz._dirty or svc.live_quiz._inflight)  # its own queue, not the outbox
        if svc.debates is not None:  # a vote's card redraw waits a moment, then edits the card
            redrawing = redrawing or any(not task.done() for task in svc.debates._redraws.values())
        if not waiting and not redrawing and m.rig.connector.mark() == heard:
            return
    raise AssertionError("the bot did not go quiet")


def _body_text(body: Any) -> str:
    """Every string in an invoke's body or an activity, one per line: what the person could read."""
    if isinstance(body, dict):
        return "\n".join(_body_text(v) for v in body.values())
    if isinstance(body, list):
        return "\n".join(_body_text(v) for v in body)
    return body if isinstance(body, str) else ""


def _assert_recorded(caplog: pytest.LogCaptureFixture, since: int) -> None:
    records = caplog.records[since:]
    assert any("refus" in r.getMessage().lower() for r in records if r.name.startswith("bot")), (
        "a refusal must be recorded in the log: " + repr([r.getMessage() for r in records])
    )


def _assert_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    leaked = [r.getMessage() for r in caplog.records if SECRET in r.getMessage()]
    assert not leaked, f"what a person typed reached the log: {leaked}"


async def _assert_nothing_else(m: Matrix, before: dict[str, Any], mark: int, chat: Chat, *, case_id: int | None,
                               verb: str | None, invoke: bool) -> None:  # fmt: skip
    await asyncio.sleep(0.1)  # anything a refusal wrongly set going would have reached the connector by now
    after = await snapshot(m)
    for table in before:
        if table == "case_event" and case_id is not None:
            added = sorted(set(after[table]) - set(before[table]))
            assert set(before[table]) <= set(after[table]), "the chronology lost an entry"
            assert len(added) == 1, f"a refusal must add exactly one 'refused' entry: {added}"
            continue
        assert after[table] == before[table], f"a refusal changed {table}"
    if case_id is not None:
        events = await _events(m, case_id)
        refused = events[-1]
        detail = json.loads(refused.detail or "{}")
        assert refused.kind == "refused", refused
        # Case buttons record the verb; the records feature what was asked (a verb, or "case records" typed).
        assert verb is None or detail.get("verb", detail.get("asked")) == verb, detail
        assert SECRET not in (refused.detail or ""), "the refusal was recorded with what the person typed"
        assert refused.actor_aad_id == (chat.person.account().get("aadObjectId"))
    sent = m.rig.connector.since(mark)
    if invoke:
        assert sent == [], f"a refused press posted {[(s.kind, s.conversation_id) for s in sent]}"
    else:
        assert all(s.conversation_id == chat.conversation_id for s in sent), "a refusal posted somewhere else"


async def _events(m: Matrix, case_id: int) -> list[CaseEvent]:
    async with _services(m.rig).database.sessions() as session:
        rows = await session.execute(
            select(CaseEvent).where(col(CaseEvent.case_id) == case_id).order_by(col(CaseEvent.id))
        )
        return list(rows.scalars())


# Setting the scene ----------------------------------------------------------------------------------------------


async def new_case(m: Matrix, setup: str | None) -> tuple[int, int]:
    """A fresh case in the state the row needs; returns (case id, version)."""
    learner = m.people["learner"]
    stored = await m.intake.store(
        CaseCreate(
            source="learner",
            category="bullying",
            about="learner",
            description="A worry about a friend.",
            reporter_aad_id=learner.aad_object_id,
            reporter_name=learner.name,
            reporter_hidden=setup == "hidden_reporter",
            contact_ok=True,
        ),
        actor_aad_id=learner.aad_object_id,
        actor_name=learner.name,
    )
    assert stored.id is not None
    version = stored.version
    dso = m.chat("dso", "personal")
    if setup == "awaiting_director":
        data = {"case_id": stored.id, "version": version, "decision": "channel", "decision_reason": "Views."}
        status, _ = await dso.execute(Verb.CASE_DECIDE, data)
        assert status == 200
        version += 1
    elif setup in ("closed", "closed_held"):
        status, _ = await dso.execute(Verb.CASE_CLOSE, {"case_id": stored.id, "version": version, "close_note": "x"})
        assert status == 200
        version += 1
        if setup == "closed_held":
            hold = {"case_id": stored.id, "version": version, "hold_reason": "A claim is expected."}
            status, body = await dso.execute(Verb.CASE_LEGAL_HOLD, hold)
            assert status == 200, body
            version += 1
    return stored.id, version


async def case_reference(m: Matrix, case_id: int) -> str:
    async with _services(m.rig).database.sessions() as session:
        case = await session.get(Case, case_id)
    assert case is not None
    return str(case.reference)


def _executes(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [node] if node.get("type") == "Action.Execute" else []
        return found + [a for value in node.values() for a in _executes(value)]
    if isinstance(node, list):
        return [a for value in node for a in _executes(value)]
    return []


async def new_quiz(m: Matrix, setup: str | None) -> tuple[Chat, int]:
    """A live quiz started by the trainer in a fresh group chat: in its lobby, or with question 1 open."""
    trainer = m.chat("trainer", "group")
    mark = m.rig.connector.mark()
    assert await trainer.say("start quiz 2 60s") == 200
    lobby = await m.rig.connector.wait_for(
        lambda s: s.conversation_id == trainer.conversation_id and "live_quiz.join" in json.dumps(s.cards),
        after=mark,
    )  # fmt: skip
    [join] = [a for a in _executes(lobby.cards[0]) if a["verb"] == Verb.LIVE_QUIZ_JOIN]
    quiz_id = int(join["data"]["quiz_id"])
    if setup == "question_open":
        status, body = await trainer.execute(Verb.LIVE_QUIZ_BEGIN, {"quiz_id": quiz_id})
        assert status == 200, body
    return trainer, quiz_id


async def end_quiz(m: Matrix, trainer: Chat) -> None:
    """Leave no quiz running: its timers would post into later cells."""
    await trainer.say("end quiz")


async def new_debate(m: Matrix) -> tuple[Chat, int]:
    """A debate poll the trainer started in a fresh group chat, its first vote open."""
    trainer = m.chat("trainer", "group")
    mark = m.rig.connector.mark()
    assert await trainer.say('debate "Voting should be compulsory at 16"') == 200
    card = await m.rig.connector.wait_for(
        lambda s: s.conversation_id == trainer.conversation_id and Verb.DEBATE_VOTE.value in json.dumps(s.cards),
        after=mark,
    )  # fmt: skip
    [debate_id] = {a["data"]["debate_id"] for a in _executes(card.cards[0]) if a["verb"] == Verb.DEBATE_VOTE}
    return trainer, int(debate_id)


async def sent_survey(m: Matrix) -> int:
    """The one survey run the learners were sent (a survey goes out once): the learner, who has a 1:1 chat with
    Safe Space, is invited; nobody else in the table is a learner with a chat."""
    if m.survey_run is None:
        assert await m.rig.personal(m.people["learner"]).say("hi") == 200
        director = m.chat("director", "personal")
        assert await director.say("start survey british_values") == 200
        async with _services(m.rig).database.sessions() as session:
            run = await session.scalar(select(SurveyRun).where(col(SurveyRun.survey_name) == "british_values"))
        assert run is not None and run.id is not None, "the survey was not sent"
        m.survey_run = run.id
    return m.survey_run


# Card action verbs ---------------------------------------------------------------------------------------------


def _data(row: dict[str, Any], m: Matrix, role: str) -> dict[str, Any]:
    own = m.people[role].account().get("aadObjectId")
    values = {"$secret": SECRET, "$deputy": m.people["deputy"].aad_object_id, "$self": (own or "").lower()}
    return {k: values.get(v, v) if isinstance(v, str) else v for k, v in (row.get("data") or {}).items()}


@IN_MODULE_LOOP
@pytest.mark.parametrize(("name", "role", "allowed"), _params("verbs"))
async def test_card_action(
    matrix: Matrix, caplog: pytest.LogCaptureFixture, name: str, role: str, allowed: bool
) -> None:
    m, row = matrix, MATRIX["verbs"][name]
    caplog.set_level(logging.INFO)
    data = _data(row, m, role)
    trainer: Chat | None = None
    case_id: int | None = None
    if name.startswith("case.") or row.get("setup") == "case":
        case_id, version = await new_case(m, row.get("setup"))
        data |= {"case_id": case_id, "version": version}
        chat = m.chat(role, "personal")
    elif name.startswith("live_quiz."):
        trainer, quiz_id = await new_quiz(m, row.get("setup"))
        data |= {"quiz_id": quiz_id}
        chat = m.as_role(trainer, role)
    elif row.get("setup") == "debate":
        debate_chat, debate_id = await new_debate(m)
        data |= {"debate_id": debate_id}
        chat = m.as_role(debate_chat, role)
    elif row.get("setup") == "survey_sent":
        data |= {"run_id": await sent_survey(m)}
        chat = m.chat(role, "personal")
    else:
        chat = m.chat(role, "personal")
    await settle(m)
    before = await snapshot(m)
    mark, logged = m.rig.connector.mark(), len(caplog.records)
    status, body = await chat.execute(name, data)
    try:
        if role == "other_tenant":
            assert status == 403, (status, body)
        else:
            assert status == 200, (status, body)
            refusal = m.texts.get(_refusal(row, role) or "")
            said = _body_text(body)
            if allowed:
                assert refusal not in said, f"{role} was refused {name}: {said}"
                if row["changes"]:
                    assert await snapshot(m) != before, f"{name} by {role} changed nothing"
            else:
                assert refusal in said, f"{role} pressing {name} was not refused: {said}"
        if not allowed:
            await _assert_nothing_else(m, before, mark, chat, case_id=case_id if role != "other_tenant" else None,
                                       verb=name, invoke=True)  # fmt: skip
            _assert_recorded(caplog, logged)
        _assert_no_secret(caplog)
    finally:
        if trainer is not None:
            await end_quiz(m, trainer)


# Text commands ---------------------------------------------------------------------------------------------------


@IN_MODULE_LOOP
@pytest.mark.parametrize(("name", "role", "allowed"), _params("commands"))
async def test_text_command(
    matrix: Matrix, caplog: pytest.LogCaptureFixture, name: str, role: str, allowed: bool
) -> None:
    m, row = matrix, MATRIX["commands"][name]
    caplog.set_level(logging.INFO)
    trainer: Chat | None = None
    case_id: int | None = None
    say = row["say"]
    if row.get("setup") == "case":
        case_id, _ = await new_case(m, None)
        say = say.replace("$reference", await case_reference(m, case_id))
    if row["chat"] == "safeguarding":
        # The register_channel cells moved the registration to their own channels: bring it back here first.
        assert await m.safeguarding_channel("dso").say("register safeguarding channel") == 200
        chat = m.safeguarding_channel(role)
    elif row["chat"] == "channel":
        team, channel = f"19:team-{uuid.uuid4().hex}@thread.tacv2", f"19:chan-{uuid.uuid4().hex}@thread.tacv2"
        cast = m.rig.cast
        m.rig.connector.set_members(team, [member(p) for p in (cast.dso, cast.deputy, cast.director)], channel)
        chat = m.chat(role, "channel", channel, team_id=team, channel_id=channel, membership_type="standard")
    elif row.get("setup") == "quiz_running":
        trainer, _ = await new_quiz(m, None)
        chat = m.as_role(trainer, role)
    else:
        chat = m.chat(role, row["chat"])
    await settle(m)
    before = await snapshot(m)
    mark, logged = m.rig.connector.mark(), len(caplog.records)
    status, _ = await chat.post(chat.message(say))
    try:
        if status == 200:
            # An answer may come from the outbox rather than within the turn (a quiz's lobby card).
            await m.rig.connector.wait_for(lambda s: s.conversation_id == chat.conversation_id, after=mark)
        replies = [s for s in m.rig.connector.since(mark) if s.conversation_id == chat.conversation_id]
        said = "\n".join(_body_text(s.activity) for s in replies)
        key = _refusal(row, role)
        refusal = m.texts.get(key) if key is not None else None
        if role == "other_tenant":
            assert status == 403, status
        else:
            assert status == 200, status
            assert replies, f"{role} saying {say!r} got no answer"
            if allowed:
                assert refusal is None or refusal not in said, f"{role} was refused {name}: {said}"
                if row.get("changes"):
                    assert await snapshot(m) != before, f"{name} by {role} changed nothing"
            else:
                assert refusal is not None and refusal in said, f"{role} saying {name} was not refused: {said}"
        if not allowed:
            recorded_in = case_id if role != "other_tenant" else None  # a refused `case REF` is kept with the case
            await _assert_nothing_else(m, before, mark, chat, case_id=recorded_in, verb=None,
                                       invoke=role == "other_tenant")  # fmt: skip
            _assert_recorded(caplog, logged)
    finally:
        if trainer is not None:
            await end_quiz(m, trainer)


# Invokes ---------------------------------------------------------------------------------------------------------


@IN_MODULE_LOOP
@pytest.mark.parametrize(("name", "role", "allowed"), _params("invokes"))
async def test_invoke(matrix: Matrix, caplog: pytest.LogCaptureFixture, name: str, role: str, allowed: bool) -> None:
    m, row = matrix, MATRIX["invokes"][name]
    caplog.set_level(logging.INFO)
    chat = m.chat(role, "personal")
    await settle(m)
    before = await snapshot(m)
    mark, logged = m.rig.connector.mark(), len(caplog.records)
    if "verb" in row:
        status, body = await chat.execute(row["verb"], {"note_text": SECRET})
    else:
        status, body = await chat.invoke(name, {"data": {"note_text": SECRET}})
    if role == "other_tenant":
        assert status == 403, (status, body)
    else:
        assert status == 200 and body, (status, body)
        assert "statusCode" in body or "task" in body, body
    if not allowed:
        await _assert_nothing_else(m, before, mark, chat, case_id=None, verb=None, invoke=True)
        _assert_recorded(caplog, logged)
    else:
        assert await snapshot(m) == before, f"the {name} invoke changed the store"
    _assert_no_secret(caplog)


# The table is complete -----------------------------------------------------------------------------------------


@IN_MODULE_LOOP
async def test_every_verb_has_a_row(matrix: Matrix) -> None:
    handled = _services(matrix.rig).bot._card_actions.verbs()  # what the running bot answers
    assert set(MATRIX["verbs"]) == {v.value for v in Verb} == handled, (
        f"add these to {MATRIX_FILE.name}: {sorted(({v.value for v in Verb} | handled) - set(MATRIX['verbs']))}"
    )


def _command_ids() -> set[str]:
    return {row.get("id", name) for name, row in MATRIX["commands"].items()}


@IN_MODULE_LOOP
async def test_every_command_has_a_row(matrix: Matrix) -> None:
    bot = _services(matrix.rig).bot
    flows = bot._flows.values()  # the flows the running bot registered with its router
    exists = {i.value for i in Intent if i not in (Intent.FLOW, Intent.UNKNOWN)}
    exists |= {flow.id for flow in flows}
    exists |= {f"{flow.id} buttons" for flow in flows if flow.commands}
    exists |= set(Routing.load(_services(matrix.rig).settings.content_dir).group_commands)
    assert exists == _command_ids(), (
        f"{MATRIX_FILE.name} and the bot differ: missing {sorted(exists - _command_ids())}, "
        f"no longer exist {sorted(_command_ids() - exists)}"
    )


def _handled_invoke_names() -> set[str]:
    """The invoke names TeamsBot.on_invoke_activity compares `name` with (anything else answers 400)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(TeamsBot.on_invoke_activity)))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Name) and node.left.id == "name":
            for comparator in node.comparators:
                for const in ast.walk(comparator):
                    if isinstance(const, ast.Constant) and isinstance(const.value, str):
                        names.add(const.value)
    return names


def test_every_invoke_has_a_row() -> None:
    handled = _handled_invoke_names()
    assert "adaptiveCard/action" in handled  # the parse still finds what it should
    assert handled == set(MATRIX["invokes"]), f"{MATRIX_FILE.name} and TeamsBot.on_invoke_activity differ"


def test_a_new_verb_without_a_row_fails() -> None:
    """The completeness check itself can fail: a verb the table lacks is found."""
    listed = set(MATRIX["verbs"])
    assert {v.value for v in Verb} - (listed - {Verb.CASE_NOTE.value}) == {Verb.CASE_NOTE.value}
