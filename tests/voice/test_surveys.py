"""Pulse surveys end to end over the loopback rig: sent by the DSO, answered on cards and by typing, counted
without names, a risky comment turned into a case, small groups masked, one reminder, and the export."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
from typing import Any

import openpyxl
import pytest
from sqlalchemy import select

from bot.commands.survey_export import survey_export_command
from cards.survey_card import COMMENT_INPUT
from cards.verbs import Verb
from content.surveys import SurveyBook
from storage.models import Case, OutboxMessage, SurveyAnswer, SurveyInvite
from tests.card_validator import assert_valid_cards
from tests.conftest import Rig
from tests.rig.fake_connector import Sent
from tests.rig.safeguarding import card_text, services
from tests.rig.teams import Chat, Person

BOOK = SurveyBook.load()
SURVEY = BOOK.get("feeling_safe")
assert SURVEY is not None
IN_WINDOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
FAST = {"delivery_poll_seconds": 0.05}
CARD = "application/vnd.microsoft.card.adaptive"


def executes(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") == "Action.Execute":
            found.append(node)
        for value in node.values():
            found += executes(value)
    elif isinstance(node, list):
        for value in node:
            found += executes(value)
    return found


def charts(card: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if str(node.get("type", "")).startswith("Chart."):
                found.append(node)
            for key, value in node.items():
                if key != "data":
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    return found


async def start_rig(make_rig, database_url: str | None = None, **overrides: Any) -> Rig:
    rig: Rig = await make_rig(database_url, **FAST, **overrides)
    services(rig).surveys.clock = lambda: IN_WINDOW
    return rig


async def learners_say_hello(rig: Rig, count: int) -> list[Person]:
    people = [rig.cast.learner, rig.cast.other_learner] + [Person(f"Learner {n}") for n in range(count - 2)]
    for person in people[:count]:
        chat = rig.personal(person)
        assert await chat.say("hello") == 200
        await chat.replies(1)
    return people[:count]


async def send_survey(rig: Rig, name: str = "feeling_safe") -> str:
    dso = rig.personal(rig.cast.dso)
    assert await dso.say(f"start survey {name}") == 200
    [reply] = await dso.replies(1)
    return reply.text or ""


async def first_card(rig: Rig, person: Person) -> Sent:
    conversation = f"a:1on1-{person.aad_object_id}"
    return await rig.connector.wait_for(
        lambda s: (
            s.conversation_id == conversation
            and bool(s.cards)
            and bool(executes(s.cards[0]))
            and executes(s.cards[0])[0]["verb"] == Verb.SURVEY_ANSWER
        ),
        timeout=10,
    )


async def press(chat: Chat, run_id: int, question_id: str, **data: Any) -> dict[str, Any]:
    status, body = await chat.execute(Verb.SURVEY_ANSWER, {"run_id": run_id, "question_id": question_id, **data})
    assert status == 200
    return body


async def answer_rows(rig: Rig) -> list[SurveyAnswer]:
    async with services(rig).database.sessions() as session:
        return list((await session.execute(select(SurveyAnswer).order_by(SurveyAnswer.id))).scalars())


# What each learner answers on the cards: safe (1-5), respected (1-5), raise_concern (option), comment.
CARD_ANSWERS = [(5, 4, 0, "More group work please"), (4, 4, 0, None), (5, 3, 1, None), (3, 5, 0, "All good"),
                 (4, 4, 2, None)]  # fmt: skip


async def test_survey_reaches_its_audience_and_the_results_match_an_independent_count(make_rig) -> None:
    rig = await start_rig(make_rig)
    learners = await learners_say_hello(rig, 6)
    # Staff who have a chat with the bot are not learners: the survey must not reach them.
    trainer = rig.personal(rig.cast.trainer)
    await trainer.say("hello")
    await trainer.replies(1)

    said = await send_survey(rig)
    assert "on its way to 6 learners" in said

    cards = [await first_card(rig, person) for person in learners]
    first = cards[0].cards[0]
    assert_valid_cards(*(c.cards[0] for c in cards))
    assert "without your name" in card_text(first) and "with your name" in card_text(first)
    run_id = executes(first)[0]["data"]["run_id"]
    async with services(rig).database.sessions() as session:
        invited = set((await session.execute(select(SurveyInvite.aad_object_id))).scalars())
    assert invited == {p.aad_object_id for p in learners}

    # Five learners answer on the cards; each press's reply is the next question's card, then the thanks.
    for person, (safe, respected, concern, comment) in zip(learners[:5], CARD_ANSWERS, strict=True):
        chat = rig.personal(person)
        body = await press(chat, run_id, "safe", value=safe)
        assert body["type"] == CARD and "Question 2 of 4" in card_text(body["value"])
        assert_valid_cards(body["value"])
        await press(chat, run_id, "respected", value=respected)
        body = await press(chat, run_id, "raise_concern", value=concern)
        assert_valid_cards(body["value"])
        if comment:
            body = await press(chat, run_id, "comment", **{COMMENT_INPUT: comment})
        else:
            body = await press(chat, run_id, "comment", skip=True)
        assert "That's all the questions" in card_text(body["value"])

    # A second answer to a question is refused by the pseudonym: the first stands (and a retried invoke is no
    # different).
    again = rig.personal(learners[0])
    await press(again, run_id, "safe", value=1)

    # The sixth answers by typing.
    typist = rig.personal(learners[5])
    assert await typist.say("survey") == 200
    [ask] = await typist.replies(1)
    assert SURVEY.questions[0].prompt in (ask.text or "") and "without your name" in (ask.text or "")
    steps = [
        ("seven", "number from 1 to 5"),
        ("2", "How free"),
        ("4", "who to tell"),
        ("3", "anything that would help"),
        ("Better buses", "That's all the questions"),
    ]
    for typed, expected in steps:
        assert await typist.say(typed) == 200
        await typist.replies(1)
        await asyncio.sleep(0.2)  # the menu follows the last answer
        said = " ".join(s.text or "" for s in typist.replies_so_far())
        assert expected in said, (typed, said)

    rows = await answer_rows(rig)
    ids = {p.aad_object_id for p in [*learners, rig.cast.dso]}
    for row in rows:  # nothing stored with an answer says who gave it
        assert not any(i in str(value) for value in row.model_dump().values() for i in ids)
    assert len({r.respondent for r in rows}) == 6
    assert len(rows) == 6 * 4

    # The results card against an independent count of what was pressed and typed.
    dso = rig.personal(rig.cast.dso)
    assert await dso.say("survey results feeling_safe") == 200
    [results] = await dso.replies(1)
    card = results.cards[0]
    assert_valid_cards(card)
    typed = (2, 4, 2, "Better buses")  # option 3 typed = index 2
    everyone = [*CARD_ANSWERS, typed]
    expected_safe = [sum(1 for a in everyone if a[0] == n) for n in range(1, 6)]
    expected_respected = [sum(1 for a in everyone if a[1] == n) for n in range(1, 6)]
    expected_concern = [sum(1 for a in everyone if a[2] == i) for i in range(3)]
    bar_safe, bar_respected, donut = charts(card)
    assert bar_safe["type"] == "Chart.VerticalBar" and [d["y"] for d in bar_safe["data"]] == expected_safe
    assert [d["y"] for d in bar_respected["data"]] == expected_respected
    assert donut["type"] == "Chart.Donut" and [d["value"] for d in donut["data"]] == expected_concern
    text = card_text(card)
    assert "6 of 6 learners have answered" in text
    assert "3 comments" not in text and "fewer than 5 comments" in text  # 3 comments: masked

    # The export carries the same rows, numbered, never the pseudonyms.
    out = rig.server.settings.database_url
    return_code = await asyncio.to_thread(
        survey_export_command, out, services(rig).settings.content_dir, "feeling_safe", "csv", _tmp(rig, "csv")
    )
    assert return_code == 0
    exported = list(csv.DictReader(io.StringIO(_tmp(rig, "csv").read_bytes().decode("utf-8-sig"))))
    assert len(exported) == 24 and len({r["respondent"] for r in exported}) == 6
    safe_answers = sorted(int(r["answer"]) for r in exported if r["question_id"] == "safe")
    assert safe_answers == sorted(a[0] for a in everyone)
    assert not any(r.respondent in _tmp(rig, "csv").read_text(encoding="utf-8-sig") for r in rows)
    return_code = await asyncio.to_thread(
        survey_export_command, out, services(rig).settings.content_dir, "feeling_safe", "xlsx", _tmp(rig, "xlsx")
    )
    assert return_code == 0
    sheet = openpyxl.load_workbook(_tmp(rig, "xlsx"))["Answers"]
    values = [
        tuple(str(c) if c is not None else "" for c in row) for row in sheet.iter_rows(min_row=2, values_only=True)
    ]
    assert sorted(values) == sorted(tuple(r.values()) for r in exported)


def _tmp(rig: Rig, ext: str):
    from pathlib import Path

    return Path(rig.server.settings.database_url.removeprefix("sqlite:///")).with_suffix(f".export.{ext}")


async def test_a_risky_comment_opens_a_case_and_tells_the_learner_in_the_same_turn(make_rig) -> None:
    rig = await start_rig(make_rig)
    learners = await learners_say_hello(rig, 2)
    await send_survey(rig)
    card = await first_card(rig, learners[0])
    run_id = executes(card.cards[0])[0]["data"]["run_id"]
    chat = rig.personal(learners[0])
    for question, value in (("safe", 1), ("respected", 1), ("raise_concern", 2)):
        await press(chat, run_id, question, value=value)
    risky = "he said he is going to stab me after class tomorrow, he showed me the knife"
    body = await press(chat, run_id, "comment", **{COMMENT_INPUT: risky})
    assert "That's all the questions" in card_text(body["value"])
    told = chat.replies_so_far()  # sent during the invoke's own turn
    said = " ".join((s.text or "") + " ".join(card_text(c) for c in s.cards) for s in told)
    assert "SS-" in said and "gone to the safeguarding team with your name" in said
    async with services(rig).database.sessions() as session:
        [case] = list((await session.execute(select(Case))).scalars())
    assert case.reporter_aad_id == learners[0].aad_object_id.lower() and case.urgent
    assert risky in case.description
    rows = await answer_rows(rig)
    [comment] = [r for r in rows if r.question_id == "comment"]
    assert comment.flagged and comment.text is None  # not kept in the survey's answers

    # By typing, the same: the safety net reads the message, the case is opened, the answer is not kept.
    other = rig.personal(learners[1])
    await other.say("survey")
    await other.replies(1)
    for typed in ("1", "1", "3"):
        await other.say(typed)
        await other.replies(1)
    await other.say("i am going to kill myself tonight i have the pills ready")
    replies = await other.replies(3)
    said = " ".join((s.text or "") for s in replies)
    assert "gone to the safeguarding team with your name" in said
    async with services(rig).database.sessions() as session:
        cases = list((await session.execute(select(Case))).scalars())
    assert any(c.reporter_aad_id == learners[1].aad_object_id.lower() for c in cases)
    rows = await answer_rows(rig)
    assert sum(1 for r in rows if r.question_id == "comment" and r.flagged) == 2
    assert not any(r.text and "pills" in r.text for r in rows)


async def test_small_groups_are_masked(make_rig) -> None:
    rig = await start_rig(make_rig)
    learners = await learners_say_hello(rig, 3)
    await send_survey(rig)
    run_id = executes((await first_card(rig, learners[0])).cards[0])[0]["data"]["run_id"]
    for person in learners:
        await press(rig.personal(person), run_id, "safe", value=5)
    await press(rig.personal(learners[0]), run_id, "respected", value=2)
    dso = rig.personal(rig.cast.dso)
    await dso.say("survey results feeling_safe")
    [results] = await dso.replies(1)
    card = results.cards[0]
    assert_valid_cards(card)
    text = card_text(card)
    assert charts(card) == []  # no question has five answers: no numbers at all
    assert "fewer than 5 of 3 learners have answered" in text
    assert text.count("Fewer than 5 people answered this question") == 3
    assert "3 answered" not in text and "fewer than 5 answered" in text
    # The export refuses too.
    code = await asyncio.to_thread(
        survey_export_command,
        rig.server.settings.database_url,
        services(rig).settings.content_dir,
        "feeling_safe",
        "csv",
        _tmp(rig, "csv"),
    )
    assert code == 1 and not _tmp(rig, "csv").exists()


async def test_only_directors_and_the_dso_send_or_read_surveys(make_rig) -> None:
    rig = await start_rig(make_rig)
    await learners_say_hello(rig, 2)
    for person in (rig.cast.learner, rig.cast.trainer, rig.cast.staff):
        chat = rig.personal(person)
        assert await chat.say("start survey feeling_safe") == 200
        [reply] = await chat.replies(1)
        assert "Only a director or the DSO can send a survey" in (reply.text or "")
        assert await chat.say("survey results feeling_safe") == 200
        [reply] = await chat.replies(1)
        assert "Only a director or the DSO can see survey results" in (reply.text or "")
    async with services(rig).database.sessions() as session:
        assert list((await session.execute(select(SurveyInvite))).scalars()) == []
    # A director can; a second start is refused kindly; an unknown name lists the surveys.
    director = rig.personal(rig.cast.director)
    await director.say("start survey british_values")
    [reply] = await director.replies(1)
    assert "on its way to 2 learners" in (reply.text or "")
    await director.say("start survey british_values")
    [reply] = await director.replies(1)
    assert "has already been sent" in (reply.text or "")
    await director.say("start survey nonsense")
    [reply] = await director.replies(1)
    assert "feeling_safe" in (reply.text or "")
    # A learner who was not sent a survey cannot answer it.
    outsider = Person("Outside Learner")
    chat = rig.personal(outsider)
    async with services(rig).database.sessions() as session:
        run_id = (await session.execute(select(SurveyInvite.run_id))).scalars().first()
    status, body = await chat.execute(Verb.SURVEY_ANSWER, {"run_id": run_id, "question_id": "understand", "value": 3})
    assert status == 200 and "wasn't sent to you" in body["value"]


async def test_one_reminder_before_the_window_closes_across_instances(make_rig, database_url: str) -> None:
    rig = await start_rig(make_rig, database_url)
    second = await make_rig(database_url, **FAST)  # another instance on the same store
    learners = await learners_say_hello(rig, 3)
    await send_survey(rig)
    run_id = executes((await first_card(rig, learners[0])).cards[0])[0]["data"]["run_id"]
    chat = rig.personal(learners[0])  # one learner finishes; the other two are reminded
    for question, value in (("safe", 4), ("respected", 4), ("raise_concern", 0)):
        await press(chat, run_id, question, value=value)
    await press(chat, run_id, "comment", skip=True)

    early = SURVEY.remind_at() - dt.timedelta(minutes=1)
    assert await services(rig).surveys.remind_due(early) == 0
    due = SURVEY.remind_at() + dt.timedelta(minutes=1)
    counts = await asyncio.gather(*(services(r).surveys.remind_due(due) for r in (rig, second, rig, second)))
    assert sum(counts) == 1
    assert await services(rig).surveys.remind_due(due + dt.timedelta(hours=1)) == 0
    async with services(rig).database.sessions() as session:
        reminders = list(
            (
                await session.execute(
                    select(OutboxMessage).where(OutboxMessage.dedupe_key.like(f"survey:{run_id}:remind:%"))
                )
            ).scalars()
        )
    assert sorted(r.dedupe_key.rsplit(":", 1)[1] for r in reminders) == sorted(p.aad_object_id for p in learners[1:])
    for person in learners[1:]:
        sent = await rig.connector.wait_for(
            lambda s, p=person: s.conversation_id == f"a:1on1-{p.aad_object_id}" and "A reminder" in (s.text or "")
        )
        assert "Feeling safe at Qualitrain" in (sent.text or "")
    await asyncio.sleep(0.3)
    for person in learners:
        got = [
            s
            for s in rig.connector.sent
            if s.conversation_id == f"a:1on1-{person.aad_object_id}" and "A reminder" in (s.text or "")
        ]
        assert len(got) == (0 if person == learners[0] else 1)


def test_every_shipped_survey_is_valid_and_answers_the_policy() -> None:
    names = set(BOOK.names())
    assert {"feeling_safe", "british_values", "advice_guidance"} <= names
    for survey in BOOK:
        assert survey.opens < survey.closes and survey.policy
        assert any(q.kind == "text" for q in survey.questions)


@pytest.mark.parametrize("bad", ["kind: choice\n    options: [only one]", "kind: scale"])
def test_a_bad_survey_file_stops_start_up_naming_the_line(tmp_path, bad: str) -> None:
    from content.common import ContentError

    folder = tmp_path / "surveys"
    folder.mkdir()
    (folder / "broken.yaml").write_text(
        "title: T\nintro: I\npolicy: '3.1.1'\nopens: 2026-09-01T09:00:00+01:00\ncloses: 2027-07-01T09:00:00+01:00\n"
        f"questions:\n  - id: q\n    prompt: P\n    {bad}\n"
    )
    with pytest.raises(ContentError, match=r"broken.yaml:\d+"):
        SurveyBook.load(tmp_path)


async def test_a_group_survey_reaches_only_that_group_opening_chats_where_needed(make_rig, tmp_path) -> None:
    import shutil

    from bot.config import Settings
    from content.common import DEFAULT_CONTENT_DIR, ContentError

    content = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT_DIR, content, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    source = (content / "surveys" / "advice_guidance.yaml").read_text()
    (content / "surveys" / "evening_iag.yaml").write_text(source.replace("audience: all", "audience: group:evening"))
    newcomer = Person("Nadia Newcomer")  # in the group, never wrote to Safe Space
    settings = Settings(_env_file=None, learner_groups=f"evening:{newcomer.aad_object_id}")
    assert settings.learner_groups == {"evening": frozenset({newcomer.aad_object_id.lower()})}
    with pytest.raises(ContentError, match="evening"):
        SurveyBook.load(content).check_groups(frozenset())

    rig = await start_rig(make_rig, content_dir=content, learner_groups=settings.learner_groups)
    learners = await learners_say_hello(rig, 2)  # have chats, but are not in the group
    said = await send_survey(rig, "evening_iag")
    assert "on its way to 1 learner." in said
    sent = await rig.connector.wait_for(
        lambda s: bool(s.cards) and any(a["verb"] == Verb.SURVEY_ANSWER for a in executes(s.cards[0]))
    )
    assert rig.connector.created and rig.connector.created[-1]["members"][0]["aadObjectId"] == newcomer.aad_object_id
    await asyncio.sleep(0.3)
    for person in learners:
        assert not [
            s for s in rig.connector.sent if s.conversation_id == f"a:1on1-{person.aad_object_id}" and s.cards
            and executes(s.cards[0]) and executes(s.cards[0])[0]["verb"] == Verb.SURVEY_ANSWER
        ]  # fmt: skip
    assert sent.conversation_id not in {f"a:1on1-{p.aad_object_id}" for p in learners}


async def test_after_the_window_closes_answers_are_refused_kindly(make_rig) -> None:
    rig = await start_rig(make_rig)
    learners = await learners_say_hello(rig, 2)
    await send_survey(rig)
    run_id = executes((await first_card(rig, learners[0])).cards[0])[0]["data"]["run_id"]
    services(rig).surveys.clock = lambda: SURVEY.closes + dt.timedelta(minutes=1)
    chat = rig.personal(learners[0])
    body = await press(chat, run_id, "safe", value=4)
    assert body["type"] == CARD and "has closed" in card_text(body["value"])
    assert await chat.say("survey") == 200
    [reply] = await chat.replies(1)
    assert "no survey waiting" in (reply.text or "")
    assert await answer_rows(rig) == []
    dso = rig.personal(rig.cast.dso)
    await dso.say("start survey british_values")
    [reply] = await dso.replies(1)
    assert "closed on" in (reply.text or "")
