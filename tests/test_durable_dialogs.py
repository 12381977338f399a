"""A conversation in the middle of a dialog survives SIGKILL and continues on another instance."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from tests.rig.bot_server import BotProcess
from tests.rig.fake_connector import FakeConnector
from tests.rig.teams import Chat, Person

pytestmark = pytest.mark.slow


@pytest.fixture
async def processes(tmp_path: Path) -> AsyncIterator[Callable[..., BotProcess]]:
    started: list[BotProcess] = []

    def make(database_url: str) -> BotProcess:
        proc = BotProcess({"DATABASE_URL": database_url, "MicrosoftAppId": "", "SAFESPACE_LOG_LEVEL": "WARNING"})
        started.append(proc)
        return proc

    yield make
    for proc in started:
        proc.stop()


def _chat(http: aiohttp.ClientSession, connector: FakeConnector, proc: BotProcess, person: Person) -> Chat:
    return Chat(
        http=http,
        bot_url=proc.messages_url,
        connector=connector,
        person=person,
        conversation_id=f"a:1on1-{person.aad_object_id}",
        conversation_type="personal",
    )


def _card_heading(chat_replies) -> str:
    card = next(r for r in chat_replies if r.cards).cards[0]
    return card["body"][0]["text"]


def _stem(chat_replies) -> str:
    card = next(r for r in chat_replies if r.cards).cards[0]
    return card["body"][1]["text"]


async def test_dialog_survives_sigkill_and_restart(
    database_url: str, processes, connector: FakeConnector, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    learner = Person("Alex Learner")
    first = await processes(database_url).start(tmp_path / "first.log")
    chat = _chat(http, connector, first, learner)

    await chat.say("quiz")
    assert "Which British value" in _card_heading(await chat.replies(1))
    await chat.say("democracy")
    assert "How many questions" in _card_heading(await chat.replies(1))
    first.kill()  # two steps into the quiz: the length prompt is waiting for an answer

    second = await processes(database_url).start(tmp_path / "second.log")
    chat.bot_url = second.messages_url
    await chat.say("5")
    replies = await chat.replies(1)
    assert _card_heading(replies) == "Question 1 of 5"
    shown_before_kill = _stem(replies)
    second.kill()  # now three dialogs deep: main waterfall, question loop, answer prompt

    third = await processes(database_url).start(tmp_path / "third.log")
    chat.bot_url = third.messages_url
    await chat.say("A")
    feedback, next_question = await chat.replies(2)
    assert feedback.text.startswith(("Correct!", "Not quite."))
    assert _card_heading([next_question]) == "Question 2 of 5"
    assert _stem([next_question]) != shown_before_kill


async def test_two_processes_on_one_postgres_database_take_turns(
    postgres_url: str, processes, connector: FakeConnector, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    a = processes(postgres_url)
    b = processes(postgres_url)
    await a.start(tmp_path / "a.log")
    await b.start(tmp_path / "b.log")
    learner = Person("Billie Learner")
    chat = _chat(http, connector, a, learner)

    script = ["quiz", "rule of law", "5", "a", "b", "c", "d", "a"]
    headings = []
    for turn, text in enumerate(script):
        chat.bot_url = (a if turn % 2 == 0 else b).messages_url
        await chat.say(text)
        replies = await chat.replies(1)
        headings.append(_card_heading(replies) if any(r.cards for r in replies) else replies[-1].text)

    assert "Which British value" in headings[0]
    assert "How many questions" in headings[1]
    assert headings[2:7] == [f"Question {n} of 5" for n in range(1, 6)]
    final = chat.replies_so_far()
    assert any(r.text and r.text.startswith("You scored") and "out of 5" in r.text for r in final)


async def test_messages_sent_faster_than_turns_finish_are_taken_in_order(rig) -> None:
    """A quick client sends its next answer before the last turn saved its state: turns queue, none fail."""
    import asyncio

    chat = rig.personal(rig.cast.learner)
    await chat.say("quiz")
    await chat.replies(1)

    async def later(text: str, delay: float) -> int:
        await asyncio.sleep(delay)
        return await chat.post(chat.message(text))

    results = await asyncio.gather(later("democracy", 0), later("5", 0.005), later("A", 0.010))
    assert [status for status, _ in results] == [200, 200, 200]
    texts = [r.text or "" for r in rig.connector.since(0, chat.conversation_id)]
    assert not any("something went wrong" in t for t in texts)
    headings = [r.cards[0]["body"][0]["text"] for r in rig.connector.since(0, chat.conversation_id) if r.cards]
    assert "How many questions? 5 or 10?" in headings and "Question 2 of 5" in headings


async def test_a_dialog_saved_by_the_old_jsonpickle_codec_carries_on_after_the_upgrade(
    rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """State is plain JSON now (security review item 11); a learner mid-quiz during the upgrade loses nothing."""
    import jsonpickle

    import bot.edge.sql_storage

    chat = rig.personal(rig.cast.learner)
    with monkeypatch.context() as old_version:
        old_version.setattr(bot.edge.sql_storage, "_encode", lambda value: jsonpickle.encode(value, make_refs=False))
        await chat.say("quiz")
        await chat.replies(1)
        await chat.say("democracy")
        assert "How many questions" in _card_heading(await chat.replies(1))
    await chat.say("5")
    assert _card_heading(await chat.replies(1)) == "Question 1 of 5"


# Report a worry (issue 16): the report became a state machine; reports saved mid-way keep going -------------------

OLD_REPORTS = Path(__file__).resolve().parent / "fixtures" / "report_worry_v1"


async def _load_old_report(rig, learner: Person, name: str) -> None:
    """Put a report saved by the old waterfall dialog (recorded from it, stepIndex and all) in this learner's chat."""
    from bot.edge.state_codec import decode_state
    from tests.rig.safeguarding import services

    saved = decode_state((OLD_REPORTS / f"{name}.json").read_text())
    key = f"msteams/conversations/a:1on1-{learner.aad_object_id}"
    await services(rig).state_storage.write({key: saved})


def _shown(replies) -> str:
    from tests.rig.safeguarding import card_text

    return "\n".join([(r.text or "") + "\n" + "\n".join(card_text(c) for c in r.cards) for r in replies])


async def _learner_case(rig):
    from tests.rig.safeguarding import all_cases

    [case] = [c for c in await all_cases(rig) if c.source == "learner"]
    return case


async def test_a_report_saved_by_the_old_dialog_at_when_and_where_carries_on(rig) -> None:
    """Saved with the urgent draft (about another learner, bullying, "so basically") waiting at "When and where?"."""
    chat = rig.personal(rig.cast.learner)
    await _load_old_report(rig, rig.cast.learner, "when_where")
    await chat.say("last tuesday, in the break room")
    assert "Can the safeguarding team contact you" in _shown(chat.replies_so_far())
    for text in ("yes", "skip", "yes"):
        await chat.say(text)
    summary = _shown(chat.replies_so_far())
    assert "Send this to the safeguarding team?" in summary and "so basically" in summary
    await chat.say("send it")
    case = await _learner_case(rig)
    assert case.urgent and (case.about, case.category) == ("learner", "bullying")
    assert (case.description, case.incident_when) == ("so basically", "last tuesday, in the break room")
    assert case.contact_ok and case.contact_how is None


async def test_a_report_saved_by_the_old_dialog_at_the_account_collects_it_in_bursts(rig) -> None:
    chat = rig.personal(rig.cast.learner)
    await _load_old_report(rig, rig.cast.learner, "describe")
    await chat.say("so basically")
    assert "Keep going if there's more" in _shown(chat.replies_so_far())
    await chat.say("my mate jordan has been acting weird")
    await chat.say("Done")
    assert "What's their name, if you know it?" in _shown(chat.replies_so_far())
    for text in ("Jordan", "skip", "skip", "no", "yes", "send it"):
        await chat.say(text)
    case = await _learner_case(rig)
    assert case.description == "so basically\nmy mate jordan has been acting weird" and case.subject_name == "Jordan"


async def test_a_report_saved_by_the_old_dialog_at_the_summary_sends_as_it_stood(rig) -> None:
    chat = rig.personal(rig.cast.learner)
    await _load_old_report(rig, rig.cast.learner, "confirm")
    await chat.say("send it")
    assert "Your report has been received" in _shown(chat.replies_so_far())
    case = await _learner_case(rig)
    assert case.urgent and case.reporter_hidden and case.contact_ok
    assert (case.description, case.incident_when) == ("so basically", "last tuesday, in the break room")


async def test_a_report_mid_account_survives_sigkill_and_restart(
    database_url: str, processes, connector: FakeConnector, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    learner = Person("Alex Learner")
    first = await processes(database_url).start(tmp_path / "first.log")
    chat = _chat(http, connector, first, learner)
    for text in ("report", "no", "Me", "Something else", "so basically"):
        assert await chat.say(text) == 200
    await chat.say("menu")  # put aside: kept in conversation state, not only the dialog stack
    first.kill()

    second = await processes(database_url).start(tmp_path / "second.log")
    chat.bot_url = second.messages_url
    await chat.say("carry on with my report")
    resumed = _shown(chat.replies_so_far())
    assert "Carrying on with your report" in resumed and "so basically" in resumed
    await chat.say("it happened at lunch")
    second.kill()  # mid-account, two messages in

    third = await processes(database_url).start(tmp_path / "third.log")
    chat.bot_url = third.messages_url
    await chat.say("Done")
    assert "When did it happen?" in _shown(chat.replies_so_far())
    await chat.say("back")
    assert "so basically\n\nit happened at lunch" in _shown(chat.replies_so_far()), "both lines kept"
