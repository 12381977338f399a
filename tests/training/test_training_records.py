"""Staff Prevent and safeguarding training in Teams (issue 13): recording by typing and by the form, the DSO
recording for someone else, kind answers to bad dates, status and compliance, and learners refused."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from sqlalchemy import select

from bot.app import SERVICES
from cards.verbs import Verb
from storage.training import TrainingRecord
from tests.card_validator import assert_valid_cards
from tests.cards import input_by_id, shown_texts
from tests.conftest import Rig
from tests.rig.fake_graph import FakeGraph

REFUSED = (
    "Training records are for staff and associates. If you think you should be able to use this, please ask the DSO."
)


async def records(rig: Rig) -> list[TrainingRecord]:
    database = rig.server.app[SERVICES].database  # type: ignore[index]
    async with database.read_sessions() as session:
        return list((await session.execute(select(TrainingRecord).order_by(TrainingRecord.id))).scalars())


def london_today() -> dt.date:
    from zoneinfo import ZoneInfo

    return dt.datetime.now(ZoneInfo("Europe/London")).date()


async def test_staff_record_by_typing_and_see_their_status(rig: Rig) -> None:
    staff = rig.personal(rig.cast.staff)
    await staff.say("training done prevent 2026-09-12")
    [reply] = await staff.replies(1)
    assert "Prevent awareness" in reply.text and "12 Sep 2026" in reply.text and "12 Sep 2028" in reply.text
    [record] = await records(rig)
    assert (record.person_aad_id, record.course, record.completed_on) == (
        rig.cast.staff.aad_object_id,
        "prevent",
        dt.date(2026, 9, 12),
    )
    assert record.recorded_by_aad_id == rig.cast.staff.aad_object_id and not record.recorded_for_someone_else

    await staff.say("training status")
    [status] = await staff.replies(1)
    [card] = status.cards
    assert_valid_cards(card)
    shown = " ".join(shown_texts(card))
    assert "Prevent awareness" in shown and "Current until 12 Sep 2028" in shown
    assert "Safeguarding" in shown and "No record yet" in shown


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("training done prevent 2026-13-45", "doesn't look like a date"),
        ("training done prevent 31/02/2026", "doesn't look like a date"),
        ("training done prevent 2099-01-01", "in the future"),
        ("training done prevent", "When did you finish it?"),
        ("training done knitting 2026-01-01", "I don't know the course"),
        ("training done 2026-01-01", "Which course?"),
    ],
)
async def test_bad_input_gets_a_kind_answer_and_nothing_is_stored(rig: Rig, typed: str, expected: str) -> None:
    staff = rig.personal(rig.cast.staff)
    await staff.say(typed)
    [reply] = await staff.replies(1)
    assert expected in reply.text
    assert await records(rig) == []


async def test_a_uk_date_is_read_day_first(rig: Rig) -> None:
    staff = rig.personal(rig.cast.trainer)  # trainers are staff too
    await staff.say("training done safeguarding 03/04/2026")
    await staff.replies(1)
    [record] = await records(rig)
    assert (record.course, record.completed_on) == ("safeguarding", dt.date(2026, 4, 3))


async def test_learners_are_refused_kindly_and_the_refusal_is_logged(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    learner = rig.personal(rig.cast.learner)
    caplog.set_level(logging.INFO, logger="bot.training.records")
    for typed in ("training done prevent 2026-09-12", "training status", "my training", "training compliance"):
        await learner.say(typed)
        [reply] = await learner.replies(1)
        assert reply.text == REFUSED
    status, body = await learner.execute(
        Verb.TRAINING_RECORD,
        {"tr_course": "prevent", "tr_provider": "Home Office", "tr_date": "2026-09-12"},
    )
    assert status == 200 and body["value"] == "Training records are for staff and associates."
    assert await records(rig) == []
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 5
    assert all("2026" not in r.getMessage() and "prevent" not in r.getMessage() for r in refusals)
    # Learners' menus never offer it.
    await learner.say("help")
    [menu] = await learner.replies(1)
    assert "My training" not in str(menu.cards)


async def test_the_form_records_with_provider_and_certificate_and_a_retry_counts_once(rig: Rig) -> None:
    staff = rig.personal(rig.cast.staff)
    await staff.say("training record")
    [form_message] = await staff.replies(1)
    [form] = form_message.cards
    assert_valid_cards(form)
    assert input_by_id(form, "tr_course")["type"] == "Input.ChoiceSet"
    assert input_by_id(form, "tr_date")["type"] == "Input.Date"
    with pytest.raises(AssertionError):
        input_by_id(form, "tr_person")  # only the DSO records for others

    bad = {"tr_course": "prevent", "tr_provider": "", "tr_date": "2999-01-01", "tr_certificate": "http://x.example"}
    status, body = await staff.execute(Verb.TRAINING_RECORD, bad)
    assert status == 200 and body["type"] == "application/vnd.microsoft.card.adaptive"
    again = body["value"]
    assert_valid_cards(again)
    shown = " ".join(shown_texts(again))
    assert "Please fill this in." in shown and "in the future" in shown and "https://" in shown
    assert input_by_id(again, "tr_course")["value"] == "prevent"
    assert await records(rig) == []

    good = {
        "tr_course": "safeguarding",
        "tr_provider": "**Acme** Training",
        "tr_date": "2026-06-01",
        "tr_certificate": "https://certs.example/abc",
    }
    payload = staff.activity(
        "invoke",
        name="adaptiveCard/action",
        value={"action": {"type": "Action.Execute", "verb": Verb.TRAINING_RECORD, "data": good}},
    )
    first = await staff.post(payload)
    second = await staff.post(payload)  # Teams retries an invoke it did not hear back from
    assert first[0] == second[0] == 200
    assert_valid_cards(first[1]["value"])
    [record] = await records(rig)
    assert (record.course, record.provider, record.certificate_url) == (
        "safeguarding",
        "**Acme** Training",
        "https://certs.example/abc",
    )


async def test_the_dso_records_for_someone_else_and_it_says_so(rig: Rig) -> None:
    cast = rig.cast
    # Staff are known once seen (their names) and from the roles configuration (their ids).
    staff = rig.personal(cast.staff)
    await staff.say("hello")
    await staff.replies(1)
    staff._mark = rig.connector.mark()  # what the DSO's recording sends to them comes after this
    dso = rig.personal(cast.dso)
    await dso.say("training done prevent 2026-10-01 for sam staff")
    [reply] = await dso.replies(1)
    assert "Sam Staff" in reply.text
    [record] = await records(rig)
    assert record.person_aad_id == cast.staff.aad_object_id
    assert record.recorded_by_aad_id == cast.dso.aad_object_id and record.recorded_for_someone_else
    # The person is told, in their own chat.
    [told] = await staff.replies(1)
    assert "Claire Lewis recorded your" in told.text

    await dso.say("training done prevent 2026-10-01 for nobody here")
    [reply] = await dso.replies(1)
    assert "couldn't find" in reply.text

    # Staff who are not the DSO cannot.
    await staff.say(f"training done prevent 2026-10-01 for {cast.trainer.name}")
    [refused] = await staff.replies(1)
    assert "Only the DSO" in refused.text
    assert len(await records(rig)) == 1

    # The DSO's form has a picker of staff; choosing someone records for them.
    await dso.say("training record")
    [form_message] = await dso.replies(1)
    [form] = form_message.cards
    assert_valid_cards(form)
    picker = input_by_id(form, "tr_person")
    assert cast.trainer.aad_object_id in [c["value"] for c in picker["choices"]]
    assert cast.learner.aad_object_id not in [c["value"] for c in picker["choices"]]
    status, body = await dso.execute(
        Verb.TRAINING_RECORD,
        {
            "tr_person": cast.trainer.aad_object_id,
            "tr_course": "safeguarding",
            "tr_provider": "Local authority",
            "tr_date": "2026-05-05",
        },
    )
    assert status == 200
    latest = (await records(rig))[-1]
    assert latest.person_aad_id == cast.trainer.aad_object_id and latest.recorded_by_aad_id == cast.dso.aad_object_id
    # A forged person id (a learner) is refused as a bad choice.
    status, body = await dso.execute(
        Verb.TRAINING_RECORD,
        {"tr_person": cast.learner.aad_object_id, "tr_course": "prevent", "tr_provider": "x", "tr_date": "2026-05-05"},
    )
    assert body["type"] == "application/vnd.microsoft.card.adaptive" and len(await records(rig)) == 2


async def test_compliance_is_for_the_dso_and_directors(rig: Rig) -> None:
    cast = rig.cast
    staff = rig.personal(cast.staff)
    await staff.say(f"training done prevent {london_today().isoformat()}")
    await staff.replies(1)
    await staff.say("training compliance")
    [refused] = await staff.replies(1)
    assert "for the DSO and directors" in refused.text

    director = rig.personal(cast.director)
    await director.say("training status")
    [own, summary] = await director.replies(2)
    [card] = summary.cards
    assert_valid_cards(own.cards[0], card)
    shown = " ".join(shown_texts(card))
    # Five staff in the roles configuration (the DSO and deputy, director, staff, trainer): one Prevent current.
    assert "20% current (1 of 5)" in shown  # Prevent
    assert "0% current (0 of 5)" in shown  # safeguarding


async def test_the_dso_names_someone_by_email_through_graph(make_rig, fake: FakeGraph) -> None:
    from tests.training.conftest import graph_settings

    rig: Rig = await make_rig(**graph_settings(fake))
    cast = rig.cast
    fake.add_user(cast.trainer.aad_object_id, cast.trainer.name, upn="tara.trainer@qualitrain.example")
    fake.add_user(cast.learner.aad_object_id, cast.learner.name, upn="alex.learner@qualitrain.example")
    dso = rig.personal(cast.dso)
    await dso.say("training done safeguarding on 2026-11-30 for Tara.Trainer@qualitrain.example")
    [reply] = await dso.replies(1)
    assert "Tara Trainer" in reply.text
    [record] = await records(rig)
    assert (record.person_aad_id, record.person_name, record.recorded_by_name) == (
        cast.trainer.aad_object_id,
        "Tara Trainer",
        "Claire Lewis",
    )
    # A learner's address is no member of staff; an unknown address is not found either.
    for email in ("alex.learner@qualitrain.example", "nobody@qualitrain.example"):
        await dso.say(f"training done prevent 2026-11-30 for {email}")
        [reply] = await dso.replies(1)
        assert "couldn't find" in reply.text
    assert len(await records(rig)) == 1


async def test_staff_cannot_forge_a_person_on_the_form(rig: Rig) -> None:
    staff = rig.personal(rig.cast.staff)
    status, _ = await staff.execute(
        Verb.TRAINING_RECORD,
        {
            "tr_person": rig.cast.trainer.aad_object_id,
            "tr_course": "prevent",
            "tr_provider": "Home Office",
            "tr_date": "2026-05-05",
        },
    )
    assert status == 200
    [record] = await records(rig)
    assert record.person_aad_id == rig.cast.staff.aad_object_id  # their own, whatever the data said


async def test_staff_see_it_in_their_menu(rig: Rig) -> None:
    staff = rig.personal(rig.cast.staff)
    await staff.say("menu")
    [menu] = await staff.replies(1)
    assert "My training" in str(menu.cards)


async def test_every_card_verb_has_a_handler(rig: Rig) -> None:
    bot = rig.server.app[SERVICES].bot  # type: ignore[index]
    assert Verb.TRAINING_RECORD in bot._card_actions.verbs()
    assert {str(verb) for verb in Verb} <= bot._card_actions.verbs()


async def test_a_message_delivered_twice_is_recorded_once(rig: Rig) -> None:
    staff = rig.personal(rig.cast.staff)
    payload = staff.message("training done prevent 2026-09-12")
    assert (await staff.post(payload))[0] == 200
    assert (await staff.post(payload))[0] == 200
    assert len(await records(rig)) == 1
