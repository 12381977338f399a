"""Issue 11 in Teams: the DSO's queue, a case's history, the conversation behind it and the directors' report, as
people type and press buttons through the real app and the fake Bot Connector; and nobody else reaches them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from bot.app import SERVICES
from cards.verbs import Verb
from storage.models import Case
from tests.card_validator import assert_valid_cards
from tests.conftest import Rig
from tests.rig.safeguarding import (
    all_cases,
    card_text,
    events_of,
    outbox_rows,
    reference_from,
    register_channel,
    walk_report,
)

DESCRIPTION = "A lad in my group keeps saying **they** deserve it [link](http://x.example)"


async def _case_with_report(rig: Rig) -> Case:
    learner = rig.personal(rig.cast.learner)
    reference = reference_from(await walk_report(learner, DESCRIPTION))
    [case] = [c for c in await all_cases(rig) if c.reference == reference]
    return case


def _buttons(card: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "Action.Execute":
                found.append(node)
            for key, value in node.items():
                if key != "data":
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    return found


async def test_the_dso_works_from_the_queue_history_and_conversation(make_rig, database_url: str) -> None:
    rig: Rig = await make_rig(database_url=database_url, delivery_poll_seconds=0.05)
    channel = await register_channel(rig)
    case = await _case_with_report(rig)

    # The queue, in the safeguarding channel.
    assert await channel.say("open cases") == 200
    [queue] = await channel.replies()
    card = queue.cards[0]
    assert_valid_cards(card)
    shown = card_text(card)
    assert case.reference in shown and "Bullying" in shown and "nobody yet" in shown and "New, not picked up" in shown
    [open_button] = [b for b in _buttons(card) if b["verb"] == Verb.RECORDS_CASE]
    assert open_button["data"]["case_id"] == case.id

    # Its button opens the history: the chronology in order, the user's words escaped; the look is recorded.
    status, body = await channel.execute(open_button["verb"], open_button["data"])
    assert status == 200 and body["statusCode"] == 200
    history = body["value"]
    assert_valid_cards(history)
    text = card_text(history)
    assert f"Case {case.reference}" in text and "Report received" in text and "Events 1 to" in text
    kinds = [e.kind for e in await events_of(rig, case.id)]
    assert kinds.count("viewed") == 1
    [viewed] = [e for e in await events_of(rig, case.id) if e.kind == "viewed"]
    assert viewed.actor_aad_id == rig.cast.dso.aad_object_id and "via" in (viewed.detail or "")

    # `case REF` typed in the DSO's 1:1 chat does the same, and is recorded too.
    dso_chat = rig.personal(rig.cast.dso)
    assert await dso_chat.say(f"case {case.reference.lower()}") == 200
    [typed] = await dso_chat.replies()
    assert f"Case {case.reference}" in card_text(typed.cards[0])
    assert [e.kind for e in await events_of(rig, case.id)].count("viewed") == 2

    # "Show conversation": to the DSO who pressed it, in their 1:1 chat, never into the channel.
    [show] = [b for b in _buttons(history) if b["verb"] == Verb.RECORDS_CONVERSATION]
    mark = rig.connector.mark()
    status, body = await channel.execute(show["verb"], show["data"])
    assert status == 200 and "private chat" in body["value"]
    sent = await rig.connector.wait_for(
        lambda s: s.conversation_id == dso_chat.conversation_id and "Conversation behind" in (s.text or ""), after=mark
    )
    assert "keeps saying \\*\\*they\\*\\*" in sent.text, "the reporter's words, escaped"
    assert "Alex" not in sent.text, "nobody is named in the log sent"
    assert not [
        s for s in rig.connector.since(mark, channel.conversation_id) if "Conversation behind" in (s.text or "")
    ]
    shown_events = [e for e in await events_of(rig, case.id) if e.kind == "conversation_shown"]
    assert len(shown_events) == 1 and shown_events[0].actor_aad_id == rig.cast.dso.aad_object_id

    # A director may read the history but not the conversation.
    director_chat = rig.personal(rig.cast.director)
    status, body = await director_chat.execute(show["verb"], show["data"])
    assert "Only the DSO or deputy" in body["value"]

    # "my cases" once the DSO owns it.
    status, _ = await channel.execute(Verb.CASE_ACKNOWLEDGE, {"case_id": case.id, "version": case.version})
    assert await dso_chat.say("my cases") == 200
    [mine] = await dso_chat.replies()
    assert case.reference in card_text(mine.cards[0]) and "My cases" in card_text(mine.cards[0])
    assert await rig.personal(rig.cast.deputy).say("my cases") == 200


async def test_the_queue_pages_and_is_never_cut(make_rig) -> None:
    rig: Rig = await make_rig()
    services = rig.server.app[SERVICES]
    from storage import cases as store
    from storage.models import CaseCreate

    async with services.database.sessions.begin() as session:
        for n in range(23):
            await store.create_case(
                session=session,
                case=CaseCreate(source="staff", category="other", about="learner", description=f"case {n}"),
                actor_aad_id=None,
                actor_name=None,
            )
    dso = rig.personal(rig.cast.dso)
    await dso.say("open cases")
    replies = await dso.replies()
    [first] = replies
    text = card_text(first.cards[0])
    assert "Showing 1 to 10 of 23" in text
    references = set()
    card = first.cards[0]
    for _ in range(3):
        references |= {b["data"]["case_id"] for b in _buttons(card) if b["verb"] == Verb.RECORDS_CASE}
        more = [b for b in _buttons(card) if b["verb"] == Verb.RECORDS_QUEUE and b["title"].startswith("Next")]
        if not more:
            break
        _, body = await dso.execute(Verb.RECORDS_QUEUE, more[0]["data"])
        card = body["value"]
        assert_valid_cards(card)
    assert len(references) == 23 and "Showing 21 to 23 of 23" in card_text(card)


@pytest.mark.parametrize("who", ["learner", "staff", "trainer"])
async def test_nobody_else_reaches_any_view(make_rig, who: str) -> None:
    rig: Rig = await make_rig(delivery_poll_seconds=0.05)
    await register_channel(rig)
    case = await _case_with_report(rig)
    person = getattr(rig.cast, who)
    chat = rig.personal(person)
    for command in ("open cases", "my cases", f"case {case.reference}", "report term", "report 2026-09..2026-11",
                    "directors report"):  # fmt: skip
        assert await chat.say(command) == 200
        replies = await chat.replies()
        assert "only Qualitrain's safeguarding team" in replies[0].text, command
        assert all(case.reference not in card_text(c) for r in replies for c in r.cards)
    group = rig.group_chat(person)
    for command in ("open cases", f"case {case.reference}"):
        await group.say(command)
        [reply] = await group.replies()
        assert "only Qualitrain's safeguarding team" in (reply.text or ""), command
    for verb, data in (
        (Verb.RECORDS_QUEUE, {"page": 0}),
        (Verb.RECORDS_CASE, {"case_id": case.id, "page": 0}),
        (Verb.RECORDS_CONVERSATION, {"case_id": case.id}),
    ):
        status, body = await chat.execute(verb, data)
        assert status == 200 and body["type"] == "application/vnd.microsoft.activity.message", verb
        assert "only Qualitrain's safeguarding team" in body["value"]
    refused = [e for e in await events_of(rig, case.id) if e.kind == "refused"]
    assert len(refused) >= 3 and {e.actor_aad_id for e in refused} == {person.aad_object_id}
    assert all(DESCRIPTION not in (e.detail or "") for e in refused), "no message text in the record"
    assert not [e for e in await events_of(rig, case.id) if e.kind in ("viewed", "conversation_shown")]


async def test_a_dso_is_refused_in_an_ordinary_group_chat(make_rig) -> None:
    rig: Rig = await make_rig()
    group = rig.group_chat(rig.cast.dso)
    await group.say("open cases")
    [reply] = await group.replies()
    assert "never here" in reply.text


async def test_directors_report_in_the_channel_and_each_month(make_rig, database_url: str) -> None:
    rig: Rig = await make_rig(database_url=database_url, delivery_poll_seconds=0.05)
    channel = await register_channel(rig)
    await _case_with_report(rig)
    as_director = channel.as_person(rig.cast.director)
    await as_director.say("report")
    [posted] = await as_director.replies()
    card = posted.cards[0]
    assert_valid_cards(card)
    assert {e["type"] for e in card["body"]} >= {"Chart.Donut", "Chart.VerticalBar"}
    assert "Cases raised" in card_text(card)
    await as_director.say("report 2026-13..2026-14")
    [bad] = await as_director.replies()
    assert "a range such as" in bad.text

    services = rig.server.app[SERVICES]
    monthly = services.monthly_report
    # Not the first working day: nothing. Monday 1 February 2027 is: one report per director, once.
    assert await monthly.run_once(dt.datetime(2027, 2, 8, 9, 0, tzinfo=dt.UTC)) == 0
    first = dt.datetime(2027, 2, 1, 7, 0, tzinfo=dt.UTC)
    assert await monthly.run_once(first) == 1
    assert await monthly.run_once(first + dt.timedelta(hours=3)) == 0  # another pass: no second
    other = await make_rig(database_url=database_url, delivery_poll_seconds=0.05)  # a second instance, same store
    assert await other.server.app[SERVICES].monthly_report.run_once(first + dt.timedelta(hours=1)) == 0
    queued = [m for m in await outbox_rows(rig) if m.dedupe_key.startswith("monthly-report:2027-01:")]
    assert len(queued) == 1
    sent = await rig.connector.wait_for(
        lambda s: bool(s.cards) and "January 2027" in card_text(s.cards[0]) and "monthly" in card_text(s.cards[0])
    )
    assert_valid_cards(sent.cards[0])
    # A month whose 1st is a Saturday waits for Monday.
    assert await monthly.run_once(dt.datetime(2027, 5, 1, 9, 0, tzinfo=dt.UTC)) == 0
    assert await monthly.run_once(dt.datetime(2027, 5, 3, 9, 0, tzinfo=dt.UTC)) == 1
