"""Pulse surveys: sent by a director or the DSO, answered by learners in their 1:1 chat, counted without names.

`start survey NAME` sends the survey's first card to every learner in its audience through the outbox. A learner
answers on the card (each press answers one question and the reply is the next question's card) or by typing
(say "survey"; dialogs/survey_dialog.py). Answers are stored under a per-survey pseudonym (storage/server_secrets.py),
so the store says what was answered, not who answered it, and the pseudonym stops a second answer. A free-text
answer goes through the safety net like any message: one that shows risk reaches the DSO as a case with the
learner's name (the one exception, said on the survey's first screen), and is not kept in the survey's answers.
One reminder goes before the window closes, claimed in the database so only one instance sends it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

from botbuilder.core import CardFactory, MessageFactory, TurnContext
from botbuilder.schema import Activity

from bot.edge.background import Periodic
from bot.edge.card_actions import CardAction, CardActionRouter, card_body, message_body
from bot.edge.teams_context import aad_object_id
from bot.safeguarding.delivery import DIRECT, DeliveryWorker, direct_text
from cards.elements import Card
from cards.survey_card import (
    COMMENT_INPUT,
    QuestionResult,
    QuestionView,
    ResultsView,
    done_card,
    question_card,
    results_card,
)
from cards.verbs import Verb
from content.surveys import CHOICE, SCALE, TEXT, Survey, SurveyBook, SurveyQuestion
from content.texts import Texts
from dialogs.flow import Flow
from dialogs.roles import Role, RoleDirectory
from dialogs.survey_dialog import SURVEY, AskedQuestion, SurveyDialog
from storage import outbox, surveys
from storage.db import Database
from storage.models import SurveyAnswer, SurveyRun
from storage.server_secrets import VOICE_KEY, pseudonym, shared_secret
from storage.types import utcnow

log = logging.getLogger(__name__)

UK_TIME: Final = ZoneInfo("Europe/London")
MAX_COMMENT: Final = 2000
SKIP_WORDS: Final = frozenset({"skip", "pass", "no comment", "none", "nothing", "n/a", "na", "-"})

# Reads a free-text answer with the safety net, in the learner's turn; True when it showed risk (a case was opened
# and the learner told). Typed answers were read already, as every message is: then it says what that reading was.
SafetyCheck = Callable[[TurnContext, str], Awaitable[bool]]
Clock = Callable[[], dt.datetime]

Outcome = Literal["recorded", "again", "closed", "flagged"]


@dataclass(frozen=True, slots=True)
class TypedResult:
    outcome: Outcome
    reply: str | None


REQUIRED_TEXTS: Final = (
    "voice.surveys.card.answered",
    "voice.surveys.card.closed",
    "voice.surveys.card.closes",
    "voice.surveys.card.comment_placeholder",
    "voice.surveys.card.comments",
    "voice.surveys.card.comments_flagged",
    "voice.surveys.card.count",
    "voice.surveys.card.done_title",
    "voice.surveys.card.fewer_than_five",
    "voice.surveys.card.first_screen",
    "voice.surveys.card.option",
    "voice.surveys.card.progress",
    "voice.surveys.card.question_masked",
    "voice.surveys.card.results_summary_closed",
    "voice.surveys.card.results_title",
    "voice.surveys.card.scale_hint",
    "voice.surveys.card.send",
    "voice.surveys.card.skip",
    "voice.surveys.card.typing_hint",
    "voice.surveys.learners.one",
    "voice.surveys.learners.other",
    "voice.surveys.menu.answer",
    "voice.surveys.menu.results",
    "voice.surveys.menu.start",
    "voice.surveys.reminder",
    "voice.surveys.reply.bad_answer",
    "voice.surveys.reply.closed",
    "voice.surveys.reply.flagged",
    "voice.surveys.reply.not_found",
    "voice.surveys.reply.not_invited",
    "voice.surveys.results.not_allowed",
    "voice.surveys.results.not_started",
    "voice.surveys.results.which",
    "voice.surveys.start.already",
    "voice.surveys.start.closed",
    "voice.surveys.start.nobody",
    "voice.surveys.start.not_allowed",
    "voice.surveys.start.not_open_yet",
    "voice.surveys.start.sent",
    "voice.surveys.start.unknown",
    "voice.surveys.start.which",
    "voice.surveys.typing.ask_choice",
    "voice.surveys.typing.ask_scale",
    "voice.surveys.typing.ask_text",
    "voice.surveys.typing.done",
    "voice.surveys.typing.none",
    "voice.surveys.typing.not_understood_choice",
    "voice.surveys.typing.not_understood_scale",
    "voice.surveys.when_format",
)


def _int(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    if isinstance(value, bool):
        return None
    try:
        return int(value) if isinstance(value, int | str) else None
    except ValueError:
        return None


class SurveyService:
    def __init__(
        self,
        *,
        database: Database,
        roles: RoleDirectory,
        texts: Texts,
        book: SurveyBook,
        delivery: DeliveryWorker,
        safety_check: SafetyCheck,
        typed_check: Callable[[TurnContext], bool | None],
        learner_groups: dict[str, frozenset[str]],
        secret: str = "",
        check_seconds: float = 60.0,
        clock: Clock = utcnow,
    ) -> None:
        texts.require(*REQUIRED_TEXTS)
        book.check_groups(frozenset(learner_groups))
        self._db = database
        self._roles = roles
        self._texts = texts
        self._book = book
        self._delivery = delivery
        self._safety_check = safety_check
        self._typed_check = typed_check
        self._groups = learner_groups
        # A configured secret is stretched to a key; without one, the database keeps a generated key (see
        # storage/server_secrets.py for why it must be shared and what keeping it there means).
        self._key: bytes | None = hashlib.sha256(secret.encode()).digest() if secret else None
        self.clock = clock
        self._reminders = Periodic("survey-reminders", self.remind_due, check_seconds)

    def register(self, router: CardActionRouter) -> None:
        router.register(Verb.SURVEY_ANSWER, self.answer)

    def start_background(self) -> None:
        self._reminders.start()

    async def stop(self) -> None:
        await self._reminders.stop()

    # Words -------------------------------------------------------------------------------------------------------

    def _t(self, key: str, **values: object) -> str:
        return self._texts.get(f"voice.surveys.{key}", **values)

    def _when(self, moment: dt.datetime) -> str:
        return self._texts.get("voice.surveys.when_format", when=moment.astimezone(UK_TIME))

    def _names(self) -> str:
        return ", ".join(f"**{name}**" for name in self._book.names())

    async def _respondent(self, run_id: int, aad: str) -> str:
        if self._key is None:
            async with self._db.sessions.begin() as session:
                self._key = await shared_secret(session=session, name=VOICE_KEY)
        return pseudonym(self._key, f"survey:{run_id}", aad)

    # "start survey NAME" -----------------------------------------------------------------------------------------

    async def _may_run(self, context: TurnContext, what: str) -> bool:
        roles = await self._roles.roles_of(aad_object_id(context.activity))
        if roles & {Role.DSO, Role.DIRECTOR}:
            return True
        log.info("refused %s to someone who is not a director or the DSO", what)
        await context.send_activity(self._t(f"{what}.not_allowed"))
        return False

    async def start(self, context: TurnContext, roles: frozenset[Role], argument: str | None) -> bool:
        """The 1:1 command: check the role and the window, record the run, queue a card for each learner."""
        if not await self._may_run(context, "start"):
            return True
        survey = self._book.get(argument or "")
        if survey is None:
            key = "start.unknown" if argument else "start.which"
            await context.send_activity(self._t(key, name=argument or "", names=self._names()))
            return True
        now = self.clock()
        if now < survey.opens:
            await context.send_activity(
                self._t("start.not_open_yet", title=survey.title, opens=self._when(survey.opens))
            )
            return True
        if now >= survey.closes:
            await context.send_activity(self._t("start.closed", title=survey.title, closes=self._when(survey.closes)))
            return True
        audience = await self._audience(survey)
        if not audience:
            await context.send_activity(self._t("start.nobody", title=survey.title, audience=survey.audience))
            return True
        activity = context.activity
        starter = (aad_object_id(activity) or "").lower()
        async with self._db.sessions.begin() as session:
            run = await surveys.create_run(
                session=session,
                run=SurveyRun(
                    survey_name=survey.name,
                    started_by=starter,
                    started_at=now,
                    closes_at=survey.closes,
                    remind_at=survey.remind_at(),
                    service_url=activity.service_url,
                    tenant_id=activity.conversation.tenant_id if activity.conversation else None,
                ),
            )
            if run is not None:
                assert run.id is not None
                await surveys.add_invites(session=session, run_id=run.id, aad_object_ids=audience)
                for aad in audience:
                    card = question_card(self._view(run.id, survey, survey.questions[0], 1, first=True), self._texts)
                    await self._enqueue(
                        session, run, aad, f"survey:{run.id}:to:{aad}", {"activity": _card(card).serialize()}
                    )
        if run is None:
            async with self._db.read_sessions() as session:
                existing = await surveys.run_named(session=session, survey_name=survey.name)
            when = self._when(existing.started_at) if existing is not None else ""
            await context.send_activity(self._t("start.already", title=survey.title, when=when, name=survey.name))
            return True
        self._delivery.wake()
        log.info("survey %s sent to %s learners", survey.name, len(audience))
        await context.send_activity(
            self._t(
                "start.sent",
                title=survey.title,
                learners=self._texts.plural("voice.surveys.learners", len(audience)),
                closes=self._when(survey.closes),
                hours=survey.remind_hours_before,
                name=survey.name,
            )
        )
        return True

    async def _audience(self, survey: Survey) -> list[str]:
        """Learners only: a group as configured, or everyone with a 1:1 chat with Safe Space and every group."""
        if survey.group is not None:
            candidates = set(self._groups.get(survey.group, frozenset()))
        else:
            async with self._db.read_sessions() as session:
                candidates = set(await surveys.people_with_personal_chats(session=session))
            for members in self._groups.values():
                candidates |= members
        learners = [a for a in sorted(candidates) if await self._roles.roles_of(a) == frozenset({Role.LEARNER})]
        return learners

    async def _enqueue(self, session: Any, run: SurveyRun, aad: str, key: str, payload: dict[str, Any]) -> None:
        await outbox.enqueue(
            session=session,
            dedupe_key=key,
            kind=DIRECT,
            target={"aad_object_id": aad, "service_url": run.service_url, "tenant_id": run.tenant_id},
            payload=payload,
        )

    def _view(self, run_id: int, survey: Survey, question: SurveyQuestion, number: int, *, first: bool) -> QuestionView:
        return QuestionView(
            run_id=run_id,
            survey=survey,
            question=question,
            number=number,
            first_screen=first,
            closes=self._when(survey.closes),
        )

    # Answering ---------------------------------------------------------------------------------------------------

    async def _store(self, run: SurveyRun, aad: str, question: SurveyQuestion, **fields: Any) -> tuple[bool, set[str]]:
        """Store one answer (once) and return whether it was new and what this respondent has now answered."""
        assert run.id is not None
        respondent = await self._respondent(run.id, aad)
        async with self._db.sessions.begin() as session:
            new = await surveys.record_answer(
                session=session,
                answer=SurveyAnswer(
                    run_id=run.id,
                    respondent=respondent,
                    question_id=question.id,
                    answered_on=self.clock().date(),
                    **fields,
                ),
            )
            done = await surveys.answered(session=session, run_id=run.id, respondent=respondent)
        return new, done

    def _next(self, survey: Survey, done: set[str]) -> tuple[int, SurveyQuestion] | None:
        for number, question in enumerate(survey.questions, start=1):
            if question.id not in done:
                return number, question
        return None

    async def _run_and_survey(self, run_id: int) -> tuple[SurveyRun, Survey] | None:
        async with self._db.read_sessions() as session:
            run = await surveys.get_run(session=session, run_id=run_id)
        survey = self._book.get(run.survey_name) if run is not None else None
        return (run, survey) if run is not None and survey is not None else None

    async def answer(self, context: TurnContext, action: CardAction) -> dict[str, Any]:
        """A press on a question card: store the answer, reply with the next question's card (or the thanks).

        Idempotent: a retried invoke, or a press on an old card for a question already answered, keeps the first
        answer and shows where the learner is now.
        """
        run_id = _int(action.data, "run_id")
        question_id = action.data.get("question_id")
        found = await self._run_and_survey(run_id) if run_id is not None else None
        if found is None:
            return message_body(self._t("reply.not_found"))
        run, survey = found
        aad = (aad_object_id(context.activity) or "").lower()
        if self.clock() >= run.closes_at:
            return card_body(done_card(survey, self._texts, closed=True))
        async with self._db.read_sessions() as session:
            invited = bool(aad) and await surveys.is_invited(session=session, run_id=run_id or 0, aad_object_id=aad)
        if not invited:
            log.info("refused a survey answer from someone the survey was not sent to")
            return message_body(self._t("reply.not_invited"))
        question = survey.question(str(question_id)) if isinstance(question_id, str) else None
        if question is None:
            return message_body(self._t("reply.bad_answer"))
        fields = await self._from_card(context, question, action.data)
        if fields is None:
            return message_body(self._t("reply.bad_answer"))
        _, done = await self._store(run, aad, question, **fields)
        if fields.get("flagged"):
            await context.send_activity(self._t("reply.flagged"))
        following = self._next(survey, done)
        if following is None:
            return card_body(done_card(survey, self._texts))
        number, next_question = following
        assert run.id is not None
        return card_body(question_card(self._view(run.id, survey, next_question, number, first=False), self._texts))

    async def _from_card(
        self, context: TurnContext, question: SurveyQuestion, data: dict[str, Any]
    ) -> dict[str, Any] | None:
        if data.get("skip") is True:
            return {"skipped": True}
        if question.kind == TEXT:
            raw = data.get(COMMENT_INPUT)
            text = raw.strip()[:MAX_COMMENT] if isinstance(raw, str) else ""
            if not text:
                return {"skipped": True}
            # The card's text never went through the message path, so the safety net reads it here, in this turn.
            if await self._safety_check(context, text):
                return {"flagged": True}
            return {"text": text}
        value = _int(data, "value")
        if value is None:
            return None
        if question.kind == SCALE:
            return {"scale": value} if 1 <= value <= 5 else None
        return {"choice": value} if 0 <= value < len(question.options) else None

    # Typing (dialogs/survey_dialog.py) ---------------------------------------------------------------------------

    async def next_prompt(self, context: TurnContext) -> AskedQuestion | None:
        """The next unanswered question of the oldest open survey sent to this person, worded for typing."""
        aad = (aad_object_id(context.activity) or "").lower()
        if not aad:
            return None
        now = self.clock()
        async with self._db.read_sessions() as session:
            runs = await surveys.open_runs_for(session=session, aad_object_id=aad, now=now)
        for run in runs:
            survey = self._book.get(run.survey_name)
            if survey is None or run.id is None:
                continue
            respondent = await self._respondent(run.id, aad)
            async with self._db.read_sessions() as session:
                done = await surveys.answered(session=session, run_id=run.id, respondent=respondent)
            following = self._next(survey, done)
            if following is None:
                continue
            number, question = following
            return AskedQuestion(run.id, question.id, self._typed_prompt(survey, question, number, first=not done))
        return None

    def _typed_prompt(self, survey: Survey, question: SurveyQuestion, number: int, *, first: bool) -> str:
        card = self._texts.get
        head = f"**{survey.title}** · " + card(
            "voice.surveys.card.progress", number=number, total=len(survey.questions)
        )
        if question.kind == SCALE:
            ask = self._t("typing.ask_scale", prompt=question.prompt, low=question.low, high=question.high)
        elif question.kind == CHOICE:
            options = "\n".join(f"{i}. {option}" for i, option in enumerate(question.options, start=1))
            ask = self._t("typing.ask_choice", prompt=question.prompt, options=options)
        else:
            ask = self._t("typing.ask_text", prompt=question.prompt)
        parts = [head]
        if first:
            parts.append(card("voice.surveys.card.first_screen"))
        parts.append(ask)
        return "\n\n".join(parts)

    def nothing_waiting(self) -> str:
        return self._t("typing.none")

    async def answer_typed(self, context: TurnContext, run_id: int, question_id: str, text: str) -> TypedResult:
        found = await self._run_and_survey(run_id)
        aad = (aad_object_id(context.activity) or "").lower()
        if found is None or not aad:
            return TypedResult("closed", self._t("reply.not_found"))
        run, survey = found
        if self.clock() >= run.closes_at:
            return TypedResult("closed", self._t("reply.closed"))
        question = survey.question(question_id)
        if question is None:
            return TypedResult("closed", self._t("reply.not_found"))
        said = text.strip()
        fields: dict[str, Any] | None
        if said.lower().strip(" .!") in SKIP_WORDS:
            fields = {"skipped": True}
        elif question.kind == SCALE:
            fields = {"scale": int(said)} if said.isdigit() and 1 <= int(said) <= 5 else None
            if fields is None:
                return TypedResult("again", self._t("typing.not_understood_scale"))
        elif question.kind == CHOICE:
            fields = _typed_choice(said, question.options)
            if fields is None:
                return TypedResult("again", self._t("typing.not_understood_choice"))
        else:
            # The safety net read this message before the dialog saw it, as it reads every message.
            flagged = self._typed_check(context)
            fields = {"flagged": True} if flagged else {"text": said[:MAX_COMMENT]}
        await self._store(run, aad, question, **fields)
        if fields.get("flagged"):
            return TypedResult("flagged", self._t("reply.flagged"))
        return TypedResult("recorded", None)

    def done_text(self, run_id: int) -> str:
        return self._t("typing.done")

    # The reminder ------------------------------------------------------------------------------------------------

    async def remind_due(self, now: dt.datetime | None = None) -> int:
        """Remind, once, everyone who has not finished a survey whose reminder time has come. Returns how many runs
        were reminded by this call; another instance's call at the same moment finds them claimed."""
        now = now or self.clock()
        async with self._db.read_sessions() as session:
            due = await surveys.due_reminders(session=session, now=now)
        reminded = 0
        for run in due:
            survey = self._book.get(run.survey_name)
            if survey is None or run.id is None:
                continue
            async with self._db.read_sessions() as session:
                people = await surveys.invitees(session=session, run_id=run.id)
            unfinished = []
            for aad in people:
                respondent = await self._respondent(run.id, aad)
                async with self._db.read_sessions() as session:
                    done = await surveys.answered(session=session, run_id=run.id, respondent=respondent)
                if len(done) < len(survey.questions):
                    unfinished.append(aad)
            text = self._t("reminder", title=survey.title, closes=self._when(run.closes_at))
            async with self._db.sessions.begin() as session:
                if not await surveys.claim_reminder(session=session, run_id=run.id, now=now):
                    continue
                for aad in unfinished:
                    await self._enqueue(session, run, aad, f"survey:{run.id}:remind:{aad}", direct_text(text))
            reminded += 1
            log.info("survey %s reminder queued for %s learners", run.survey_name, len(unfinished))
        if reminded:
            self._delivery.wake()
        return reminded

    # Results -----------------------------------------------------------------------------------------------------

    async def results(self, context: TurnContext, roles: frozenset[Role], argument: str | None) -> bool:
        if not await self._may_run(context, "results"):
            return True
        survey = self._book.get(argument or "")
        if survey is None:
            key = "start.unknown" if argument else "results.which"
            await context.send_activity(self._t(key, name=argument or "", names=self._names()))
            return True
        card = await self.results_card(survey)
        if card is None:
            await context.send_activity(self._t("results.not_started", title=survey.title))
            return True
        await context.send_activity(_card(card))
        return True

    async def results_card(self, survey: Survey) -> Card | None:
        async with self._db.read_sessions() as session:
            run = await surveys.run_named(session=session, survey_name=survey.name)
            if run is None or run.id is None:
                return None
            rows = await surveys.answers(session=session, run_id=run.id)
            invited = len(await surveys.invitees(session=session, run_id=run.id))
        view = ResultsView(
            survey=survey,
            invited=invited,
            respondents=len({row.respondent for row in rows if not row.skipped}),
            closes=self._when(run.closes_at),
            closed=self.clock() >= run.closes_at,
            questions=tally(survey, rows),
        )
        return results_card(view, self._texts)


def tally(survey: Survey, rows: Sequence[SurveyAnswer]) -> list[QuestionResult]:
    """Per question: who answered (skips and flagged comments aside), and how many chose each point or option."""
    results = []
    for question in survey.questions:
        these = [r for r in rows if r.question_id == question.id and not r.skipped]
        if question.kind == SCALE:
            counts = tuple(sum(1 for r in these if r.scale == n) for n in range(1, 6))
        elif question.kind == CHOICE:
            counts = tuple(sum(1 for r in these if r.choice == i) for i in range(len(question.options)))
        else:
            counts = ()
        flagged = sum(1 for r in these if r.flagged)
        comments = sum(1 for r in these if r.text)
        results.append(
            QuestionResult(
                question=question, respondents=len(these) - flagged, counts=counts, comments=comments, flagged=flagged
            )
        )
    return results


def _typed_choice(said: str, options: Sequence[str]) -> dict[str, Any] | None:
    if said.isdigit() and 1 <= int(said) <= len(options):
        return {"choice": int(said) - 1}
    lowered = said.casefold().strip(" .!")
    for index, option in enumerate(options):
        if lowered == option.casefold():
            return {"choice": index}
    return None


def _card(card: Card) -> Activity:
    return MessageFactory.attachment(CardFactory.adaptive_card(card))


START_SURVEY: Final = "start_survey"
SURVEY_RESULTS: Final = "survey_results"


def survey_flows(
    service: SurveyService, texts: Texts, words: Callable[[str], tuple[tuple[str, ...], tuple[str, ...]]]
) -> list[Flow]:
    """The three 1:1 commands, none in the menu: sending and reading surveys (refused kindly to anyone but directors
    and the DSO, inside the command, so the refusal is said and recorded), and answering one by typing."""

    def flow(flow_id: str, command: str, label: str, **more: Any) -> Flow:
        phrases, patterns = words(flow_id)
        return Flow(
            id=flow_id,
            menu_label=texts.get(f"voice.surveys.menu.{label}"),
            command=command,
            words=phrases,
            patterns=patterns,
            in_menu=False,
            in_help=False,
            **more,
        )

    return [
        flow(START_SURVEY, "start survey", "start", dialog=None, start_override=service.start),
        flow(SURVEY_RESULTS, "survey results", "results", dialog=None, start_override=service.results),
        flow(SURVEY, "survey", "answer", dialog=SurveyDialog(service)),
    ]
