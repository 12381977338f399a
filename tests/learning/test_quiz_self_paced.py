"""The self-paced quiz in a 1:1 chat, by buttons and by typing, with attempts stored."""

from __future__ import annotations

import re

from sqlalchemy import select

from content.quiz_bank import QuestionBank, QuizValue
from storage.db import create_engine, create_sessionmaker
from storage.models import QuizAnswer, QuizAttempt
from storage.quiz_attempts import scores_by_value
from tests.card_validator import assert_valid_cards
from tests.conftest import Rig

BANK = QuestionBank.load()


def _question_from(card: dict) -> tuple[str, list[str]]:
    texts = [block["text"] for block in card["body"] if block["type"] == "TextBlock"]
    stem = texts[1].replace("\\", "")
    options = [re.sub(r"^[A-F]\) ", "", t).replace("\\", "") for t in texts[2:-1]]
    return stem, options


def _lookup(stem: str, value: QuizValue | None):
    for question in BANK.questions(value):
        if question.stem == stem:
            return question
    raise AssertionError(f"card shows a question not in the bank: {stem!r}")


async def _play(chat, *, count: int, value: QuizValue | None, answer_by: str, wrong_every: int = 0):
    cards_seen: list[dict] = []
    expected_score = 0
    for number in range(1, count + 1):
        replies = await chat.replies(1)
        card_reply = next(r for r in replies if r.cards)
        card = card_reply.cards[0]
        cards_seen.append(card)
        assert f"Question {number} of {count}" in card["body"][0]["text"]
        stem, options = _question_from(card)
        question = _lookup(stem, value)
        assert options == list(question.options)
        right = question.answer
        pick = right if not wrong_every or number % wrong_every else (right + 1) % len(options)
        expected_score += pick == right
        if answer_by == "button":
            assert [a["data"]["msteams"]["value"] for a in card["actions"]] == list("ABCDEF"[: len(options)])
            await chat.press_im_back("ABCDEF"[pick])
        else:
            await chat.say(options[pick].upper() + "  ")  # typed, shouty, with stray spaces
        feedback = (await chat.replies(1))[0].text
        assert feedback.startswith("Correct!" if pick == right else "Not quite.")
        assert question.explanation in feedback
    return cards_seen, expected_score


async def test_ten_questions_by_buttons_then_typed_and_attempts_stored(rig: Rig) -> None:
    learner = rig.cast.learner
    chat = rig.personal(learner)

    await chat.say("quiz")
    [value_card] = (await chat.replies(1))[0].cards
    assert_valid_cards(value_card)
    await chat.press_im_back("democracy")
    [length_card] = (await chat.replies(1))[0].cards
    await chat.press_im_back("10")
    cards, score_1 = await _play(chat, count=10, value=QuizValue.DEMOCRACY, answer_by="button", wrong_every=3)
    last_turn = chat.replies_so_far()
    assert [r.text.split(" ")[0] if r.text else "card" for r in last_turn][1:] == ["You", "card"]
    assert f"You scored {score_1} out of 10." in last_turn[1].text
    assert last_turn[2].cards, "the menu follows the score so another quiz is one tap away"
    assert_valid_cards(value_card, length_card, *cards, *last_turn[2].cards)

    await chat.say("british values quiz")
    await chat.replies(1)
    await chat.say("Rule of LAW")
    await chat.replies(1)
    await chat.say("ten")
    _, score_2 = await _play(chat, count=10, value=QuizValue.RULE_OF_LAW, answer_by="typing", wrong_every=4)
    assert f"You scored {score_2} out of 10." in chat.replies_so_far()[1].text

    engine = create_engine(rig.server.settings.database_url)
    async with create_sessionmaker(engine)() as session:
        attempts = list((await session.execute(select(QuizAttempt).order_by(QuizAttempt.id))).scalars())
        assert [(a.value, a.question_count, a.score) for a in attempts] == [
            ("democracy", 10, score_1),
            ("rule_of_law", 10, score_2),
        ]
        assert all(a.user_aad_id == learner.aad_object_id for a in attempts)
        answers = list((await session.execute(select(QuizAnswer))).scalars())
        assert len(answers) == 20 and len({(a.attempt_id, a.question_id) for a in answers}) == 20
        per_value = {
            s.value: (s.answered, s.correct)
            for s in await scores_by_value(session=session, user_aad_id=learner.aad_object_id)
        }
        assert per_value == {"democracy": (10, score_1), "rule_of_law": (10, score_2)}
    await engine.dispose()


async def test_unrecognised_answer_is_asked_again_not_scored(rig: Rig) -> None:
    chat = rig.personal(rig.cast.learner)
    await chat.say("quiz")
    await chat.replies(1)
    await chat.say("mixed")
    await chat.replies(1)
    await chat.say("5")
    await chat.replies(1)
    await chat.say("banana")
    [retry] = await chat.replies(1)
    assert "Please answer with one of the letters" in retry.text
    await chat.say("cancel")
    replies = await chat.replies(2)
    assert replies[0].text == "OK, I've stopped that. Nothing was sent."
