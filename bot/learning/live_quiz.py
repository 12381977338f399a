"""The live British values quiz a trainer runs in a group chat or channel, in the manner of Kahoot.

A trainer types "@Safe Space start quiz democracy 5 20s". A lobby card invites people to join; the trainer starts
it; each question is its own card with letter buttons and a close time. Everyone gets one locked-in answer per
question. When a question closes (its deadline passes or the trainer closes it) its card shows how many chose each
option (never who), the right answer, the explanation and the leaderboard; the last one is followed by a podium.

The round's rules (reading "start quiz ...", the names shown, scoring and places, what each move changes) are in
bot.learning.quiz_round, with no Teams and no database; this module is the Teams service that runs the round.

Where the truth lives:

* Answers, joins and the quiz's state are in the database, written before the invoke is answered. Every change of
  state is a compare-and-swap on the quiz's version, and every answer is unique per (quiz, question, person), so a
  retried invoke, two trainers pressing at once or two instances closing the same question all come out once.
* Question deadlines are timestamps in the database. A background task closes questions whose deadline has passed,
  on whichever instance is running, so a restart mid-question carries on.
* New cards (the lobby, each question, the podium) and the trainer's 1:1 results go through the outbox, so they
  arrive despite throttling or a crash. Redrawing a card in place is done here instead: the redraw is always
  "show what the database says now", so changes to one card are coalesced into at most one update a second, and a
  429 is retried after its Retry-After without any answer being at risk.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from botbuilder.core import CardFactory, MessageFactory, TurnContext
from botbuilder.schema import Activity, ConversationReference
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.edge.background import Periodic
from bot.edge.card_actions import CardAction, CardActionRouter, card_body, message_body
from bot.edge.people import People
from bot.edge.proactive import DeliveryError, Messenger, reference_for
from bot.edge.teams_context import aad_object_id, conversation_type
from bot.learning.quiz_round import (
    MIXED,
    CardKey,
    StartError,
    competition_ranking,
    first_name,
    lobby_key,
    next_move,
    parse_start,
    posted_key,
    question_key,
    shown_names,
    transition_cards,
)
from bot.safeguarding.delivery import DIRECT, THREAD_REPLY, DeliveryWorker, direct_text
from cards.elements import Card
from cards.live_quiz_card import (
    LETTERS,
    LOBBY_SLOT,
    UK_TIME,
    LobbyView,
    PodiumView,
    QuestionView,
    QuizHeader,
    ResultsView,
    lobby_card,
    podium_card,
    question_card,
    results_card,
)
from cards.verbs import Verb
from content.quiz_bank import Question, QuestionBank, QuizValue
from content.texts import Texts
from dialogs.roles import Role, RoleDirectory
from storage import live_quiz, outbox
from storage.channels import base_conversation_id
from storage.db import Database
from storage.live_quiz import (
    CLOSED,
    FINISHED,
    LOBBY,
    NAMES_NICKNAMES,
    QUESTION,
    LiveQuiz,
    LiveQuizParticipant,
)
from storage.models import QuizAnswerBase, QuizAttemptBase
from storage.quiz_attempts import record_attempt
from storage.types import utcnow

log = logging.getLogger(__name__)

# Teams throttles bots per conversation (a handful of operations a second); one redraw a second per card leaves
# room for the new cards and the other cards of the same quiz.
UPDATE_INTERVAL_SECONDS: Final = 1.0
MAX_UPDATE_BACKOFF_SECONDS: Final = 60.0
# A card that the outbox has not posted yet cannot be redrawn: look again soon after.
NOT_POSTED_RETRY_SECONDS: Final = 0.25
# How often the deadline task looks, at most, when no deadline it knows of is sooner (other instances' quizzes).
POLL_SECONDS: Final = 1.0
_CACHE_LIMIT: Final = 10_000

REQUIRED_TEXTS: Final = (
    *(f"live_quiz.values.{v}" for v in (*(value.value for value in QuizValue), MIXED)),
    "live_quiz.start.not_trainer",
    "live_quiz.start.already_running",
    "live_quiz.start.not_understood",
    "live_quiz.start.bad_count",
    "live_quiz.start.bad_seconds",
    "live_quiz.end.none",
    "live_quiz.end.done",
    *(
        f"live_quiz.replies.{key}"
        for key in (
            "not_found",
            "not_trainer",
            "not_your_quiz",
            "wrong_chat",
            "joined",
            "already_joined",
            "finished",
            "locked",
            "already_locked",
            "late",
            "not_open",
            "bad_answer",
        )
    ),
    "live_quiz.nicknames.colours",
    "live_quiz.nicknames.animals",
    # The cards' wording that depends on how the round went, so a missing line stops start-up, not the podium.
    "live_quiz.cards.questions.one",
    "live_quiz.cards.questions.other",
    "live_quiz.cards.question.answered.one",
    "live_quiz.cards.question.answered.other",
    "live_quiz.cards.results.summary_none",
    "live_quiz.cards.podium.nobody_answered",
    "live_quiz.cards.podium.nobody_right",
    "live_quiz.cards.podium.ended_early",
    *(
        f"live_quiz.summary.{key}"
        for key in (
            "title",
            "participants",
            "participants_none",
            "question",
            "question_none",
            "winners",
            "nobody_right",
            "ended_early",
            "not_started",
            "stored",
            "when_format",
        )
    ),
)


def _int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    if isinstance(value, bool):
        return None
    try:
        return int(value) if isinstance(value, int | str) else None
    except ValueError:
        return None


def _card_activity(card: Card) -> Activity:
    return MessageFactory.attachment(CardFactory.adaptive_card(card))


@dataclass(frozen=True, slots=True)
class _Facts:
    """What never changes about a quiz once started, so a press needs no extra read to be checked."""

    question_ids: tuple[str, ...]
    conversation_id: str  # without a channel thread's ";messageid=": a reply in the thread is the same chat
    trainer_aad_id: str  # lower case


class LiveQuizService:
    def __init__(
        self,
        *,
        database: Database,
        roles: RoleDirectory,
        texts: Texts,
        bank: QuestionBank,
        messenger: Messenger,
        delivery: DeliveryWorker,
        people: People,
        rng: random.Random | None = None,
        update_interval: float = UPDATE_INTERVAL_SECONDS,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        texts.require(*REQUIRED_TEXTS)
        self._db = database
        self._roles = roles
        self._texts = texts
        self._bank = bank
        self._messenger = messenger
        self._delivery = delivery
        self._people = people
        self._rng = rng or random.SystemRandom()
        self._interval = update_interval
        self._poll = poll_seconds
        self._colours = [w.strip() for w in texts.get("live_quiz.nicknames.colours").split(",") if w.strip()]
        self._animals = [w.strip() for w in texts.get("live_quiz.nicknames.animals").split(",") if w.strip()]
        if not self._colours or not self._animals:
            raise ValueError("live_quiz.nicknames needs at least one colour and one animal")
        self._facts: dict[int, _Facts] = {}
        # The card redrawer: what needs redrawing and from when, what is being drawn, when each was last drawn.
        self._dirty: dict[CardKey, float] = {}
        self._inflight: dict[CardKey, asyncio.Task[None]] = {}
        self._last_drawn: dict[CardKey, float] = {}
        self._failures: dict[CardKey, int] = {}
        # The newest version of each quiz whose cards this process has already asked to be redrawn.
        self._known: dict[int, int] = {}
        self._update_wake = asyncio.Event()
        self._updater: asyncio.Task[None] | None = None
        self._deadlines = Periodic("live-quiz-deadlines", self.tick, poll_seconds)
        self._alarms: set[asyncio.TimerHandle] = set()

    def register(self, router: CardActionRouter) -> None:
        router.register(Verb.LIVE_QUIZ_JOIN, self.join)
        router.register(Verb.LIVE_QUIZ_BEGIN, self.begin)
        router.register(Verb.LIVE_QUIZ_ANSWER, self.answer)
        router.register(Verb.LIVE_QUIZ_NEXT, self.next)
        router.register(Verb.LIVE_QUIZ_END, self.end)

    # Running ----------------------------------------------------------------------------------------------------

    def start_background(self) -> None:
        """Start the deadline task and the card redrawer; the first pass resumes any quiz left running."""
        self._deadlines.start()
        if self._updater is None:
            self._updater = asyncio.create_task(self._run_updates(), name="live-quiz-card-updates")

    async def stop(self) -> None:
        for alarm in self._alarms:
            alarm.cancel()
        self._alarms.clear()
        await self._deadlines.stop()
        tasks = [t for t in (self._updater, *self._inflight.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._updater = None
        self._inflight.clear()

    # Words ------------------------------------------------------------------------------------------------------

    def _reply(self, key: str, **values: object) -> dict[str, Any]:
        return message_body(self._texts.get(f"live_quiz.replies.{key}", **values))

    def _topic(self, value: str) -> str:
        return self._texts.get(f"live_quiz.values.{value}")

    def _names(self, quiz: LiveQuiz, people: Sequence[LiveQuizParticipant]) -> dict[int, str]:
        return shown_names(quiz, people, self._colours, self._animals)

    # "start quiz" -----------------------------------------------------------------------------------------------

    async def start(self, context: TurnContext, rest: str) -> None:
        """The group command: check the role, read the options, create the quiz and post its lobby card."""
        activity = context.activity
        trainer = aad_object_id(activity)
        if Role.TRAINER not in await self._roles.roles_of(trainer) or not trainer:
            log.info("refused to start a live quiz for someone who is not a trainer")
            await context.send_activity(self._texts.get("live_quiz.start.not_trainer"))
            return
        try:
            options = parse_start(rest)
        except StartError as exc:
            await context.send_activity(self._texts.get(f"live_quiz.start.{exc.key}", **exc.values))
            return
        questions = self._bank.draw(options.value, options.questions, self._rng)
        sender = activity.from_property
        trainer_name = (sender.name if sender else None) or self._people.name_of(trainer)
        conversation = activity.conversation
        try:
            async with self._db.sessions.begin() as session:
                if await live_quiz.running_in(session=session, conversation_id=conversation.id) is not None:
                    raise _AlreadyRunning
                quiz = await live_quiz.create_quiz(
                    session=session,
                    conversation_id=conversation.id,
                    conversation_type=conversation_type(activity),
                    service_url=activity.service_url,
                    tenant_id=conversation.tenant_id,
                    trainer_aad_id=trainer,
                    trainer_name=trainer_name,
                    value=options.value.value if options.value else MIXED,
                    question_ids=[q.id for q in questions],
                    seconds_per_question=options.seconds,
                    names=options.names,
                )
                assert quiz.id is not None
                card = lobby_card(LobbyView(self._header(quiz), LOBBY, (), quiz.names == NAMES_NICKNAMES), self._texts)
                await self._post(session, quiz, lobby_key(quiz.id), card)
        except (_AlreadyRunning, IntegrityError):
            # IntegrityError: another "start quiz" in this chat won the race for the one running quiz.
            await context.send_activity(self._texts.get("live_quiz.start.already_running"))
            return
        log.info("live quiz %s started by a trainer: %s questions, %ss each", quiz.id, len(questions), options.seconds)
        self._known[quiz.id] = quiz.version
        self._delivery.wake()

    # "end quiz" and "stop", typed ---------------------------------------------------------------------------------

    async def end_command(self, context: TurnContext, rest: str) -> bool:
        """The typed "end quiz": the same as pressing End quiz on the quiz's card, with the same checks."""
        conversation = context.activity.conversation
        async with self._db.read_sessions() as session:
            running = await live_quiz.running_in(session=session, conversation_id=conversation.id)
        if running is None or running.id is None:
            await context.send_activity(self._texts.get("live_quiz.end.none"))
            return True
        await self._end_typed(context, running.id)
        return True

    async def stop_command(self, context: TurnContext, rest: str) -> bool:
        """A bare "stop" (or "cancel") while a live quiz runs here means "end quiz"; otherwise it is not ours."""
        if rest:
            return False
        conversation = context.activity.conversation
        async with self._db.read_sessions() as session:
            running = await live_quiz.running_in(session=session, conversation_id=conversation.id)
        if running is None or running.id is None:
            return False
        await self._end_typed(context, running.id)
        return True

    async def _end_typed(self, context: TurnContext, quiz_id: int) -> None:
        facts = await self._facts_of(quiz_id)
        refused = await self._refusal(context, facts) if facts is not None else "not_found"
        if refused is not None:
            await context.send_activity(self._texts.get(f"live_quiz.replies.{refused}"))
            return
        changed: LiveQuiz | None = None
        async with self._db.sessions.begin() as session:
            quiz = await live_quiz.get_quiz(session=session, quiz_id=quiz_id)
            if quiz is not None and quiz.state != FINISHED:
                changed = await self._finish(session, quiz, utcnow())
        if changed is not None:
            log.info("live quiz %s ended by a typed command", quiz_id)
            self._after_transition(changed)
        await context.send_activity(self._texts.get("live_quiz.end.done"))

    # Buttons ----------------------------------------------------------------------------------------------------

    def _elsewhere(self, context: TurnContext, facts: _Facts) -> dict[str, Any] | None:
        """The refusal for a press that did not come from the quiz's own chat, or None.

        A card's data is only a quiz id: anyone can send it from any chat (their own 1:1 with the bot, say), so
        the conversation the press came from is what says whether they are in the room.
        """
        conversation = context.activity.conversation
        if base_conversation_id((conversation.id if conversation else None) or "") == facts.conversation_id:
            return None
        log.info("refused a live quiz press from outside the quiz's conversation")
        return self._reply("wrong_chat")

    async def _not_in_charge(self, context: TurnContext, facts: _Facts) -> dict[str, Any] | None:
        """Begin, next and end belong to the trainer who started the quiz, or a director; None when allowed."""
        refused = await self._refusal(context, facts)
        return self._reply(refused) if refused is not None else None

    async def _refusal(self, context: TurnContext, facts: _Facts) -> str | None:
        """Why this person may not run the quiz (a live_quiz.replies key), or None when they may."""
        if self._elsewhere(context, facts) is not None:
            return "wrong_chat"
        presser = (aad_object_id(context.activity) or "").strip().lower()
        if presser and presser == facts.trainer_aad_id:
            return None
        roles = await self._roles.roles_of(presser or None)
        if Role.DIRECTOR in roles:
            return None
        if Role.TRAINER in roles:
            log.info("refused a live quiz control to a trainer who did not start the quiz")
            return "not_your_quiz"
        log.info("refused a live quiz control to someone who is not a trainer")
        return "not_trainer"

    @staticmethod
    def _who(context: TurnContext) -> tuple[str, str | None, str]:
        sender = context.activity.from_property
        if sender is None:
            return "unknown", None, first_name(None)
        aad = (sender.aad_object_id or "").strip().lower() or None
        # Entra ids first: the same person has the same id in every chat, so nicknames stay the same too.
        return aad or sender.id or "unknown", aad, first_name(sender.name)

    async def join(self, context: TurnContext, action: CardAction) -> dict[str, Any]:
        quiz_id = _int(action.data, "quiz_id")
        facts = await self._facts_of(quiz_id) if quiz_id is not None else None
        if quiz_id is None or facts is None:
            return self._reply("not_found")
        if (refused := self._elsewhere(context, facts)) is not None:
            return refused
        key, aad, first = self._who(context)
        async with self._db.sessions.begin() as session:
            joined = await live_quiz.join(
                session=session, quiz_id=quiz_id, user_key=key, user_aad_id=aad, first_name=first
            )
        if joined.quiz is None:
            return self._reply("not_found")
        if joined.participant is None:
            return self._reply("finished")
        if joined.created and joined.quiz.state == LOBBY:
            self._mark_dirty((quiz_id, LOBBY_SLOT))
        async with self._db.read_sessions() as session:
            people = await live_quiz.participants(session=session, quiz_id=quiz_id)
        # The name as the cards will show it, "Alex 2" included.
        name = self._names(joined.quiz, people).get(joined.participant.id or 0, first)
        return self._reply("joined" if joined.created else "already_joined", name=name)

    async def answer(self, context: TurnContext, action: CardAction) -> dict[str, Any]:
        now = utcnow()  # the moment the press reached us is the one that is timed, not when the lock came free
        quiz_id = _int(action.data, "quiz_id")
        index = _int(action.data, "question_index")
        option = _int(action.data, "option")
        if quiz_id is None or index is None or option is None:
            return self._reply("bad_answer")
        facts = await self._facts_of(quiz_id)
        if facts is None:
            return self._reply("not_found")
        if (refused := self._elsewhere(context, facts)) is not None:
            return refused
        question = self._bank.get(facts.question_ids[index]) if 0 <= index < len(facts.question_ids) else None
        if question is None or not 0 <= option < len(question.options):
            return self._reply("bad_answer")
        key, aad, first = self._who(context)
        async with self._db.sessions.begin() as session:
            answered = await live_quiz.record_answer(
                session=session,
                quiz_id=quiz_id,
                question_index=index,
                option=option,
                correct=option == question.answer,
                user_key=key,
                user_aad_id=aad,
                first_name=first,
                action_id=context.activity.id,
                now=now,
            )
        if answered.outcome == "recorded":
            self._mark_dirty((quiz_id, index))
        if answered.outcome in ("recorded", "repeat"):
            return self._reply("locked", letter=LETTERS[option])
        if answered.outcome == "locked" and answered.answer is not None:
            return self._reply("already_locked", letter=LETTERS[answered.answer.option])
        quiz = answered.quiz
        if answered.outcome == "late" or (quiz is not None and quiz.state == CLOSED and quiz.question_index == index):
            return self._reply("late")
        if answered.outcome == "finished":
            return self._reply("finished")
        if answered.outcome == "not_found":
            return self._reply("not_found")
        return self._reply("not_open")

    async def begin(self, context: TurnContext, action: CardAction) -> dict[str, Any]:
        quiz_id = _int(action.data, "quiz_id")
        facts = await self._facts_of(quiz_id) if quiz_id is not None else None
        if quiz_id is None or facts is None:
            return self._reply("not_found")
        if (refused := await self._not_in_charge(context, facts)) is not None:
            return refused
        changed: LiveQuiz | None = None
        async with self._db.sessions.begin() as session:
            quiz = await live_quiz.get_quiz(session=session, quiz_id=quiz_id)
            if quiz is not None and quiz.state == LOBBY:
                changed = await self._open_question(session, quiz, 0, utcnow())
        if quiz is None:
            return self._reply("not_found")
        if changed is not None:
            self._after_transition(changed)
        return await self._card_response(quiz_id, LOBBY_SLOT)

    async def next(self, context: TurnContext, action: CardAction) -> dict[str, Any]:
        """Close the open question, or (from a closed one) open the next, or finish after the last.

        The button says which it means, so a retried or double press cannot skip a question.
        """
        quiz_id = _int(action.data, "quiz_id")
        index = _int(action.data, "question_index")
        moving_from = action.data.get("from")
        facts = await self._facts_of(quiz_id) if quiz_id is not None else None
        if quiz_id is None or index is None or facts is None:
            return self._reply("not_found")
        if (refused := await self._not_in_charge(context, facts)) is not None:
            return refused
        changed: LiveQuiz | None = None
        async with self._db.sessions.begin() as session:
            quiz = await live_quiz.get_quiz(session=session, quiz_id=quiz_id)
            move = next_move(quiz, index, moving_from) if quiz is not None else None
            if quiz is not None and move is not None:
                now = utcnow()
                if move == "close":
                    changed = await live_quiz.change_state(
                        session=session, quiz_id=quiz_id, expected_version=quiz.version, changes={"state": CLOSED}
                    )
                elif move == "open_next":
                    changed = await self._open_question(session, quiz, index + 1, now)
                else:
                    changed = await self._finish(session, quiz, now)
        if quiz is None:
            return self._reply("not_found")
        if changed is not None:
            self._after_transition(changed)
        return await self._card_response(quiz_id, index)

    async def end(self, context: TurnContext, action: CardAction) -> dict[str, Any]:
        quiz_id = _int(action.data, "quiz_id")
        slot = _int(action.data, "question_index")
        facts = await self._facts_of(quiz_id) if quiz_id is not None else None
        if quiz_id is None or facts is None:
            return self._reply("not_found")
        if (refused := await self._not_in_charge(context, facts)) is not None:
            return refused
        changed: LiveQuiz | None = None
        async with self._db.sessions.begin() as session:
            quiz = await live_quiz.get_quiz(session=session, quiz_id=quiz_id)
            if quiz is not None and quiz.state != FINISHED:
                changed = await self._finish(session, quiz, utcnow())
        if quiz is None:
            return self._reply("not_found")
        if changed is not None:
            self._after_transition(changed)
        return await self._card_response(quiz_id, LOBBY_SLOT if slot is None else slot)

    async def _card_response(self, quiz_id: int, slot: int) -> dict[str, Any]:
        """The pressed card as it now stands: the presser sees it at once, everyone else once it is redrawn."""
        rendered = await self._render(quiz_id, slot)
        if rendered is None:
            return self._reply("not_found")
        return card_body(rendered[0])

    # Moving the quiz on -----------------------------------------------------------------------------------------

    async def _open_question(
        self, session: AsyncSession, quiz: LiveQuiz, index: int, now: dt.datetime
    ) -> LiveQuiz | None:
        assert quiz.id is not None
        changed = await live_quiz.change_state(
            session=session,
            quiz_id=quiz.id,
            expected_version=quiz.version,
            changes={
                "state": QUESTION,
                "question_index": index,
                "question_started_at": now,
                "deadline_at": now + dt.timedelta(seconds=quiz.seconds_per_question),
                "started_at": quiz.started_at or now,
            },
        )
        if changed is None:
            return None
        participants = await live_quiz.participant_count(session=session, quiz_id=quiz.id)
        card = question_card(self._question_view(changed, index, answered=0, participants=participants), self._texts)
        await self._post(session, changed, question_key(quiz.id, index), card)
        return changed

    async def _finish(self, session: AsyncSession, quiz: LiveQuiz, now: dt.datetime) -> LiveQuiz | None:
        """Finish, and in the same transaction store everyone's result and queue the podium and the summary."""
        assert quiz.id is not None
        changed = await live_quiz.change_state(
            session=session,
            quiz_id=quiz.id,
            expected_version=quiz.version,
            changes={"state": FINISHED, "finished_at": now},
        )
        if changed is None:
            return None
        asked = quiz.question_index + 1  # questions that were put to the group
        people = await live_quiz.participants(session=session, quiz_id=quiz.id)
        answers = await live_quiz.answers(session=session, quiz_id=quiz.id)
        names = self._names(changed, people)
        if asked > 0:
            await self._record_attempts(session, changed, people, answers, asked, now)
            points: dict[int, int] = {}
            for answer in answers:
                points[answer.participant_id] = points.get(answer.participant_id, 0) + answer.points
            standings = competition_ranking((names[p.id or 0], points.get(p.id or 0, 0)) for p in people)
            view = PodiumView(
                header=self._header(changed),
                standings=tuple(standings),
                took_part=len(people),
                answered=len(answers),
                asked=asked,
            )
            podium = podium_card(view, self._texts)
            await self._post(session, changed, f"live-quiz:{quiz.id}:podium", podium)
        summary = self._summary(changed, people, answers, asked)
        await outbox.enqueue(
            session=session,
            dedupe_key=f"live-quiz:{quiz.id}:summary",
            kind=DIRECT,
            target={"aad_object_id": changed.trainer_aad_id},
            payload=direct_text(summary),
        )
        return changed

    async def _record_attempts(
        self,
        session: AsyncSession,
        quiz: LiveQuiz,
        people: Sequence[LiveQuizParticipant],
        answers: Sequence[live_quiz.LiveQuizAnswer],
        asked: int,
        now: dt.datetime,
    ) -> None:
        """One QuizAttempt (mode "live") per participant, for their record and the directors' report."""
        by_person: dict[int, list[live_quiz.LiveQuizAnswer]] = {}
        for answer in answers:
            by_person.setdefault(answer.participant_id, []).append(answer)
        for person in people:
            theirs = by_person.get(person.id or 0, [])
            rows = [
                QuizAnswerBase(
                    question_id=a.question_id, value=self._value_of(a.question_id), chosen=a.option, correct=a.correct
                )
                for a in theirs
            ]
            attempt = QuizAttemptBase(
                user_aad_id=person.user_aad_id,
                conversation_id=quiz.conversation_id,
                mode="live",
                value=quiz.value,
                question_count=asked,
                score=sum(1 for a in theirs if a.correct),
                started_at=quiz.started_at or quiz.created_at,
                finished_at=now,
            )
            await record_attempt(session=session, attempt=attempt, answers=rows)

    def _value_of(self, question_id: str) -> str:
        question = self._bank.get(question_id)
        return question.value.value if question is not None else "unknown"

    def _summary(
        self,
        quiz: LiveQuiz,
        people: Sequence[LiveQuizParticipant],
        answers: Sequence[live_quiz.LiveQuizAnswer],
        asked: int,
    ) -> str:
        """The trainer's results: who took part, and per question how many were right and how fast."""

        def t(key: str, **values: object) -> str:
            return self._texts.get(f"live_quiz.summary.{key}", **values)

        if asked == 0:
            return t("not_started")
        when = (quiz.started_at or quiz.created_at).astimezone(UK_TIME)
        lines = [t("title", topic=self._topic(quiz.value), when=t("when_format", when=when))]
        names = self._names(quiz, people)
        # The trainer's own chat: first names even when the cards used nicknames, so they know who took part.
        listed = ", ".join(sorted((p.first_name for p in people), key=str.casefold))
        lines.append(t("participants", count=len(people), names=listed) if people else t("participants_none"))
        question_ids = quiz.questions()
        for index in range(asked):
            these = [a for a in answers if a.question_index == index]
            value = self._topic(self._value_of(question_ids[index]))
            if not these:
                lines.append(t("question_none", number=index + 1, value=value))
                continue
            right = sum(1 for a in these if a.correct)
            average = sum(a.response_ms for a in these) / len(these) / 1000
            lines.append(
                t(
                    "question",
                    number=index + 1,
                    value=value,
                    percent=round(100 * right / len(these)),
                    answered=len(these),
                    seconds=f"{average:.1f}",
                )
            )
        points: dict[int, int] = {}
        for answer in answers:
            points[answer.participant_id] = points.get(answer.participant_id, 0) + answer.points
        standings = competition_ranking((names[p.id or 0], points.get(p.id or 0, 0)) for p in people)
        winners = [s.name for s in standings if s.place == 1 and s.points > 0]
        if winners:
            lines.append(t("winners", names=", ".join(winners)))
        elif answers:
            lines.append(t("nobody_right"))
        if asked < len(question_ids):
            lines.append(t("ended_early", number=asked, total=len(question_ids)))
        lines.append(t("stored"))
        return "\n\n".join(lines)

    async def _post(self, session: AsyncSession, quiz: LiveQuiz, key: str, card: Card) -> None:
        """A new card in the quiz's conversation, through the outbox: it is sent even if Teams is throttling."""
        await outbox.enqueue(
            session=session,
            dedupe_key=key,
            kind=THREAD_REPLY,
            target={
                "conversation_id": quiz.conversation_id,
                "service_url": quiz.service_url,
                "tenant_id": quiz.tenant_id,
                "conversation_type": quiz.conversation_type,
            },
            payload={"activity": _card_activity(card).serialize()},
        )

    def _after_transition(self, quiz: LiveQuiz) -> None:
        assert quiz.id is not None
        self._known[quiz.id] = max(self._known.get(quiz.id, 0), quiz.version)
        for key in transition_cards(quiz):
            self._mark_dirty(key)
        self._delivery.wake()
        if quiz.state == QUESTION and quiz.deadline_at is not None:
            self._wake_at(quiz.deadline_at)

    # Drawing cards from the database ----------------------------------------------------------------------------

    def _header(self, quiz: LiveQuiz) -> QuizHeader:
        assert quiz.id is not None
        return QuizHeader(
            quiz_id=quiz.id,
            topic=self._topic(quiz.value),
            questions=len(quiz.questions()),
            seconds=quiz.seconds_per_question,
            trainer=quiz.trainer_name,
        )

    def _question(self, quiz: LiveQuiz, index: int) -> Question:
        question = self._bank.get(quiz.questions()[index])
        if question is None:
            raise LookupError(f"question {quiz.questions()[index]} is no longer in the bank")
        return question

    def _question_view(self, quiz: LiveQuiz, index: int, *, answered: int, participants: int) -> QuestionView:
        question = self._question(quiz, index)
        assert quiz.deadline_at is not None
        return QuestionView(
            header=self._header(quiz),
            index=index,
            topic=self._topic(question.value.value),
            stem=question.stem,
            options=question.options,
            deadline=quiz.deadline_at,
            answered=answered,
            participants=participants,
            controls=True,
        )

    async def _render(self, quiz_id: int, slot: int) -> tuple[Card, LiveQuiz] | None:
        async with self._db.read_sessions() as session:
            quiz = await live_quiz.get_quiz(session=session, quiz_id=quiz_id)
            if quiz is None:
                return None
            if slot == LOBBY_SLOT:
                return await self._lobby(session, quiz), quiz
            if not 0 <= slot <= quiz.question_index:
                return None
            if quiz.state == QUESTION and quiz.question_index == slot:
                answered = await live_quiz.answered_count(session=session, quiz_id=quiz_id, question_index=slot)
                participants = await live_quiz.participant_count(session=session, quiz_id=quiz_id)
                view = self._question_view(quiz, slot, answered=answered, participants=participants)
                return question_card(view, self._texts), quiz
            return await self._results(session, quiz, slot), quiz

    async def _lobby(self, session: AsyncSession, quiz: LiveQuiz) -> Card:
        assert quiz.id is not None
        joined: tuple[str, ...] = ()
        if quiz.state == LOBBY:
            people = await live_quiz.participants(session=session, quiz_id=quiz.id)
            names = self._names(quiz, people)
            joined = tuple(names[p.id or 0] for p in people)
        state = {LOBBY: "lobby", FINISHED: "finished"}.get(quiz.state, "running")
        return lobby_card(LobbyView(self._header(quiz), state, joined, quiz.names == NAMES_NICKNAMES), self._texts)

    async def _results(self, session: AsyncSession, quiz: LiveQuiz, index: int) -> Card:
        assert quiz.id is not None
        question = self._question(quiz, index)
        counts = await live_quiz.option_counts(session=session, quiz_id=quiz.id, question_index=index)
        people = await live_quiz.participants(session=session, quiz_id=quiz.id)
        points = await live_quiz.totals(session=session, quiz_id=quiz.id, through_index=index)
        names = self._names(quiz, people)
        standings = competition_ranking((names[p.id or 0], points.get(p.id or 0, 0)) for p in people)
        view = ResultsView(
            header=self._header(quiz),
            index=index,
            stem=question.stem,
            options=question.options,
            counts=tuple(counts.get(i, 0) for i in range(len(question.options))),
            answer=question.answer,
            explanation=question.explanation,
            standings=tuple(standings),
            controls=quiz.state == CLOSED and quiz.question_index == index,
            last=index + 1 >= len(quiz.questions()),
        )
        return results_card(view, self._texts)

    async def _facts_of(self, quiz_id: int) -> _Facts | None:
        facts = self._facts.get(quiz_id)
        if facts is None:
            async with self._db.read_sessions() as session:
                quiz = await live_quiz.get_quiz(session=session, quiz_id=quiz_id)
            if quiz is None:
                return None
            if len(self._facts) >= _CACHE_LIMIT:
                self._facts.clear()
            facts = self._facts[quiz_id] = _Facts(
                question_ids=tuple(quiz.questions()),
                conversation_id=base_conversation_id(quiz.conversation_id),
                trainer_aad_id=quiz.trainer_aad_id.strip().lower(),
            )
        return facts

    # The deadline task ------------------------------------------------------------------------------------------

    async def tick(self) -> int:
        """Close every question past its deadline and redraw what a crash left undrawn; returns how many closed."""
        now = utcnow()
        async with self._db.read_sessions() as session:
            due = await live_quiz.due_to_close(session=session, now=now)
            undrawn = await live_quiz.undrawn(session=session)
        closed = 0
        for quiz in due:
            assert quiz.id is not None
            async with self._db.sessions.begin() as session:
                # Compare-and-swap: if the trainer (or another instance) moved it on meanwhile, nothing happens.
                changed = await live_quiz.change_state(
                    session=session, quiz_id=quiz.id, expected_version=quiz.version, changes={"state": CLOSED}
                )
            if changed is not None:
                closed += 1
                log.info("live quiz %s question %s closed at its deadline", quiz.id, quiz.question_index + 1)
                self._after_transition(changed)
        for quiz in undrawn:
            assert quiz.id is not None
            if self._known.get(quiz.id, 0) >= quiz.version:
                continue
            self._known[quiz.id] = quiz.version
            # Not this process's change (a restart, or another instance that stopped): redraw all it could touch.
            cards = {(quiz.id, LOBBY_SLOT), *transition_cards(quiz)}
            if quiz.question_index >= 0:
                cards.add((quiz.id, quiz.question_index))
            for key in cards:
                self._mark_dirty(key)
        async with self._db.read_sessions() as session:
            soonest = await live_quiz.next_deadline(session=session)
        if soonest is not None:
            self._wake_at(soonest)
        return closed

    def _wake_at(self, moment: dt.datetime) -> None:
        """Run the deadline pass at `moment`, not up to a poll interval after it."""
        delay = (moment - utcnow()).total_seconds()
        if delay >= self._poll:
            return  # a poll comes sooner

        def ring() -> None:
            self._alarms.discard(alarm)
            self._deadlines.wake()

        # A hair after the deadline, so the pass that wakes finds the question due rather than a moment early.
        alarm = asyncio.get_running_loop().call_later(max(0.0, delay) + 0.005, ring)
        self._alarms.add(alarm)

    # The card redrawer ------------------------------------------------------------------------------------------

    def _mark_dirty(self, key: CardKey) -> None:
        """Ask for a redraw. Many asks before it happens are one redraw: it shows whatever is latest by then."""
        if key in self._dirty:
            return
        earliest = self._last_drawn.get(key, -math.inf) + self._interval
        self._dirty[key] = max(time.monotonic(), earliest)
        self._update_wake.set()

    def _retry_later(self, key: CardKey, delay: float) -> None:
        self._dirty[key] = max(self._dirty.get(key, 0.0), time.monotonic() + delay)
        self._update_wake.set()

    async def _run_updates(self) -> None:
        while True:
            self._update_wake.clear()
            now = time.monotonic()
            for key, due in list(self._dirty.items()):
                if due <= now and key not in self._inflight:
                    del self._dirty[key]
                    self._inflight[key] = asyncio.create_task(self._draw_task(key), name=f"live-quiz-draw-{key}")
            waiting = [due - now for key, due in self._dirty.items() if key not in self._inflight]
            timeout = max(0.0, min(waiting)) if waiting else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._update_wake.wait(), timeout)

    async def _draw_task(self, key: CardKey) -> None:
        try:
            await self._draw(key)
        finally:
            self._inflight.pop(key, None)
            self._update_wake.set()

    async def _draw(self, key: CardKey) -> None:
        quiz_id, slot = key
        self._last_drawn[key] = time.monotonic()
        if len(self._last_drawn) >= _CACHE_LIMIT:
            self._last_drawn = {k: v for k, v in self._last_drawn.items() if k in self._dirty or k == key}
        try:
            async with self._db.read_sessions() as session:
                posted = await outbox.result_of(session=session, dedupe_key=posted_key(quiz_id, slot))
            if posted is None:
                return  # never posted (an unknown quiz or card): there is nothing to redraw
            if posted.status != "sent" or not posted.result_id:
                # Usually a few milliseconds away; longer only while Teams throttles the outbox, so ease off.
                waits = self._failures[key] = self._failures.get(key, 0) + 1
                self._retry_later(key, min(MAX_UPDATE_BACKOFF_SECONDS, NOT_POSTED_RETRY_SECONDS * 2 ** min(waits, 8)))
                return
            rendered = await self._render(quiz_id, slot)
            if rendered is None:
                return
            card, quiz = rendered
            reference = _reference(quiz)
            await self._messenger.update(reference, posted.result_id, _card_activity(card))
        except DeliveryError as exc:
            if not exc.retryable:
                log.warning("live quiz %s card %s cannot be redrawn (%s); leaving it", quiz_id, slot, exc)
                return
            self._back_off(key, exc.retry_after)
            log.info("live quiz %s card %s redraw refused (%s); trying again", quiz_id, slot, exc)
            return
        except Exception:
            log.exception("live quiz %s card %s redraw failed; trying again", quiz_id, slot)
            self._back_off(key, None)
            return
        self._failures.pop(key, None)
        await self._drawn(key, quiz)

    def _back_off(self, key: CardKey, retry_after: float | None) -> None:
        failures = self._failures[key] = self._failures.get(key, 0) + 1
        ceiling = min(MAX_UPDATE_BACKOFF_SECONDS, self._interval * 2 ** min(failures, 10))
        delay = random.uniform(ceiling / 2, ceiling)  # jittered, so cards throttled together spread out
        self._retry_later(key, max(delay, retry_after or 0.0, self._interval))

    async def _drawn(self, key: CardKey, quiz: LiveQuiz) -> None:
        """Once every card of a quiz shows the version it was drawn from, say so, so a restart need not redraw."""
        assert quiz.id is not None
        if quiz.drawn_version >= quiz.version:
            return
        pending = [k for k in (*self._dirty, *self._inflight) if k[0] == quiz.id and k != key]
        if pending:
            return
        async with self._db.sessions.begin() as session:
            await live_quiz.mark_drawn(session=session, quiz_id=quiz.id, version=quiz.version)


class _AlreadyRunning(Exception):
    pass


def _reference(quiz: LiveQuiz) -> ConversationReference:
    return reference_for(
        quiz.conversation_id, quiz.service_url, tenant_id=quiz.tenant_id, conversation_type=quiz.conversation_type
    )
