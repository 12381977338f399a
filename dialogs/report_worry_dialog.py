"""Report a worry, for learners in a 1:1 chat.

People do not answer in order. They type their account in bursts, go back a question, ask who will see it, wander
off to the menu and come back hours later. So the report is a small state machine rather than a waterfall: each
question is a step, the answers so far are a draft, and both are plain JSON in the dialog's own state, so a restart
mid-report carries on. The next question is always the first one still unanswered, which makes "back" (answer the
previous question again, then carry on where you were) and "Change something" (answer any question again from the
summary) the same move.

Nothing a learner typed is thrown away without an explicit "don't send": a line that answers nothing at a
button question goes into the account of what happened; "menu" parks the draft (conversation state) for later;
"cancel" asks first once there is something typed.

The dialog only collects: it never stores the report and never says it was received. The parent stores the case
first (Flow.on_complete) and only then tells the reporter. A report stopped or parked after "someone is in danger"
(or "not sure") goes to the safeguarding team anyway, through the `on_abandoned` callback.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Final

from botbuilder.core import CardFactory, MessageFactory, StatePropertyAccessor, TurnContext
from botbuilder.dialogs import (
    ComponentDialog,
    Dialog,
    DialogContext,
    DialogInstance,
    DialogReason,
    DialogTurnResult,
    DialogTurnStatus,
)
from botbuilder.schema import Activity, ActivityTypes

from cards.choice_card import Choice, choice_card
from cards.escape import escape_markdown, truncate
from cards.signpost_card import signpost_card
from content.directory import Directory
from content.texts import Texts
from dialogs.pauses import PAUSED, Pauses
from dialogs.router import normalise
from dialogs.urgent_drafts import SILENT, UrgentWatch

REPORT_WORRY = "report_worry"
# The arguments the unfinished-report buttons start the report with (Flow.commands in bot/app.py).
RESUME: Final = "resume"
DISCARD: Final = "discard"

ABOUT = ("self", "learner", "staff", "outside", "not_say")
CATEGORIES = ("radicalisation", "bullying", "online_safety", "abuse", "wellbeing", "other")
EMERGENCY_ENTRIES = ("emergency_999", "anti_terrorist_hotline", "samaritans")

# Steps. They are persisted in conversation state: explicit strings, so renaming a method strands nobody.
DANGER: Final = "danger"
ABOUT_STEP: Final = "about"
CATEGORY: Final = "category"
ACCOUNT: Final = "account"
SUBJECT: Final = "subject"
WHEN: Final = "when"
WHERE: Final = "where"
CONTACT: Final = "contact"
CONTACT_HOW: Final = "contact_how"
NAME_SHOWN: Final = "name_shown"
SUMMARY: Final = "summary"
CHANGE: Final = "change"
STOP: Final = "stop"  # "cancel" with something typed: stop without sending, or carry on?
# The questions in the order they are asked. The account comes straight after the category so that someone who
# starts telling their story early is asked for it at once; the details follow.
QUESTIONS: Final = (DANGER, ABOUT_STEP, CATEGORY, ACCOUNT, SUBJECT, WHEN, WHERE, CONTACT, CONTACT_HOW, NAME_SHOWN)
CHANGEABLE: Final = (DANGER, ABOUT_STEP, SUBJECT, CATEGORY, ACCOUNT, WHEN, WHERE, CONTACT, NAME_SHOWN)
STATE_VERSION: Final = 2
# The questions whose answers are short facts: a name, a time, a place, a way to be contacted. A short answer to
# one of them is read by the safety net's lexicon alone, because the model, reading it without the question, takes
# "in the canteen at lunch" for someone in danger there now. A longer answer, or any answer to another question,
# is read by the model too.
SHORT_FACT_STEPS: Final = (SUBJECT, WHEN, WHERE, CONTACT_HOW)
SHORT_FACT_WORDS: Final = 8
_NEEDS_NAME: Final = frozenset({"learner", "staff", "outside"})
# A line at a button question that answers nothing goes into the account when it has at least this many words;
# shorter ones ("ok", "what") are only asked again.
_ACCOUNT_WORDS: Final = 3
_PRIVACY_MAX_WORDS: Final = 12
_SO_FAR_CHARS: Final = 600

_YES: Final = frozenset({"yes", "y", "yeah", "yea", "yep", "yup", "yes please", "true", "correct"})
_NO: Final = frozenset({"no", "n", "nope", "nah", "no thanks", "not really", "false", "no one", "nobody", "noone"})
_NOT_SURE: Final = frozenset(
    {
    "not sure", "unsure", "im not sure", "i'm not sure", "i am not sure", "not really sure", "i'm unsure",
    "im unsure", "i dont know", "i don't know", "i do not know", "dont know", "don't know", "idk", "dunno",
    "no idea", "maybe", "possibly", "might be", "i think so", "not certain", "i'm not certain", "im not certain",
    }
)  # fmt: skip
# Said to acknowledge the privacy notice above the danger question: not an answer to it.
_ACK: Final = frozenset(
    {
    "ok", "okay", "okey", "oki", "k", "kk", "sure", "fine", "thats fine", "that's fine", "got it", "understood",
    "i understand", "alright", "all right", "cool", "right", "noted", "thanks", "ok thanks", "okay thanks",
    "ok cool", "ok got it",
    }
)  # fmt: skip
_HEDGE: Final = re.compile(r"\b(but|although|though|however|maybe|not sure|unsure|i think)\b")
_ABOUT_WORDS: Final = {
    "me": "self", "myself": "self", "about me": "self", "i am": "self", "its me": "self", "it's me": "self",
    "it is me": "self", "another learner": "learner", "learner": "learner", "a learner": "learner",
    "another apprentice": "learner", "apprentice": "learner", "my friend": "learner", "a friend": "learner",
    "friend": "learner", "my mate": "learner", "a mate": "learner", "mate": "learner", "my mates": "learner",
    "my classmate": "learner", "classmate": "learner", "student": "learner", "another student": "learner",
    "a member of staff": "staff", "member of staff": "staff", "staff": "staff", "teacher": "staff",
    "my teacher": "staff", "trainer": "staff", "my trainer": "staff", "tutor": "staff", "my tutor": "staff",
    "my assessor": "staff", "assessor": "staff", "my coach": "staff",
    # Learners are apprentices: their manager is at their workplace, not at Qualitrain.
    "my manager": "outside", "my line manager": "outside", "my boss": "outside", "my employer": "outside",
    "someone at work": "outside", "someone at my work": "outside", "someone outside qualitrain": "outside",
    "someone outside": "outside", "outside": "outside", "someone else": "outside", "family": "outside",
    "my family": "outside", "my mum": "outside", "my dad": "outside", "my parents": "outside",
    "my brother": "outside", "my sister": "outside", "my partner": "outside", "my boyfriend": "outside",
    "my girlfriend": "outside", "someone at home": "outside",
    "i'd rather not say": "not_say", "id rather not say": "not_say", "rather not say": "not_say",
    "not say": "not_say", "prefer not to say": "not_say",
}  # fmt: skip
_CATEGORY_WORDS: Final = {
    "radicalisation": "radicalisation", "radicalization": "radicalisation", "extremism": "radicalisation",
    "radicalisation or extremism": "radicalisation", "radicalization or extremism": "radicalisation",
    "bullying": "bullying", "harassment": "bullying", "bullying or harassment": "bullying",
    "online safety": "online_safety", "online": "online_safety",
    "abuse": "abuse", "neglect": "abuse", "abuse or neglect": "abuse",
    "mental health": "wellbeing", "wellbeing": "wellbeing", "mental health or wellbeing": "wellbeing",
    "something else": "other", "other": "other", "else": "other",
}  # fmt: skip
_SKIP: Final = frozenset(
    {
    "skip", "skip it", "pass", "no", "none", "n/a", "na", "-", "not sure", "dont know", "don't know",
    "i don't know", "i dont know", "idk", "no idea", "rather not say", "i'd rather not say",
    }
)  # fmt: skip
_DONE: Final = frozenset(
    {
    "done", "i'm done", "im done", "i am done", "that's it", "thats it", "that's all", "thats all", "that is all",
    "finished", "i've finished", "ive finished", "i have finished", "nothing else", "no more", "that's everything",
    "thats everything", "done thanks",
    }
)  # fmt: skip
_SEND: Final = frozenset({"send it", "send", "yes", "y", "yeah", "yep", "yes send it", "send it please", "submit"})
_CHANGE: Final = frozenset({"change something", "change", "change it", "edit", "i want to change something"})
_BACK: Final = frozenset({"back", "go back", "previous", "previous question", "last question", "go back one"})
_MENU: Final = frozenset({"menu", "main menu", "home", "options", "start", "start over", "show me the menu"})
_CANCEL: Final = frozenset({"cancel", "stop", "quit", "exit", "never mind", "nevermind", "forget it"})
_DISCARD: Final = frozenset(
    {
    "don't send", "dont send", "do not send", "don't send it", "dont send it", "do not send it",
    "don't send my report", "dont send my report", "do not send my report", "discard", "discard it",
    "discard my report", "delete it", "delete my report",
    }
)  # fmt: skip
_CARRY_ON: Final = frozenset(
    {
    "carry on", "continue", "carry on with my report", "continue my report", "resume", "resume my report",
    "finish my report", "keep going", "go on", "report",
    }
)  # fmt: skip
_GREETING: Final = frozenset(
    {"hi", "hello", "hey", "hiya", "yo", "good morning", "good afternoon", "good evening", "hey there", "im back"}
)
_PRIVACY: Final = re.compile(
    r"\banon(ymous(ly)?)?\b"
    r"|\bwho (will|would|can|could|does|do|gets to|is going to) (see|read|know|find out)\b"
    r"|\bwho (sees|reads)\b"
    r"|\bwill (they|he|she|anyone|people|everyone|my \w+) (know|find out|see)\b"
    r"|\b(know|find out|tell)( that)? (it'?s|its|it was|it is|it were) me\b"
    r"|\bis (this|it) (private|confidential|secret)\b"
    r"|\b(keep|kept) (this |it )?(secret|private|confidential)\b"
)
_QUESTION_START: Final = re.compile(
    r"^(what|why|how|who|when|where|which|can|could|will|would|is|are|does|do|did|should|shall)\b"
)

# What the reporter's choice of danger means on the card and to the reporter.
DANGER_YES: Final = "yes"
DANGER_NO: Final = "no"
DANGER_NOT_SURE: Final = "not_sure"

# turn_state key: the case the safety net opened (or joined) for this person in this turn, as (id, reference). A
# report under way takes it as its own, so what follows joins that case: one worry, one case.
TRIAGED_CASE: Final = "safespace.triaged_case"

# Called when a report must reach the safeguarding team unfinished (someone may be in danger and the reporter
# stopped, or went to the menu). Returns the case's (id, reference); the dialog tells the reporter.
Abandoned = Callable[[TurnContext, dict[str, Any]], Awaitable[tuple[int, str]]]


# Reading what was typed ----------------------------------------------------------------------------------------


def _first_word(said: str) -> str:
    match = re.match(r"[a-z']+", said)
    return match.group(0) if match else ""


def parse_yes_no(text: str) -> bool | None:
    """A clear yes or no only: "ok" or "sure" acknowledge something, they do not answer a yes/no question."""
    said = normalise(text)
    if said in _YES:
        return True
    if said in _NO:
        return False
    first = _first_word(said)
    if first in {"yes", "yeah", "yep", "yup"} and not _HEDGE.search(said):
        return True
    if first in {"no", "nope", "nah"} and not _HEDGE.search(said):
        return False
    return None


def parse_danger(text: str) -> str | None:
    """yes, no or not sure; "ack" for an acknowledgement of the notice; None for anything else."""
    said = normalise(text)
    if said in _NOT_SURE:
        return DANGER_NOT_SURE
    if said in _ACK:
        return "ack"
    first = _first_word(said)
    if said in _YES or said in _NO or first in {"yes", "yeah", "yep", "yup", "no", "nope", "nah"}:
        # "no but I'm worried", "yes but not right now": a hedged answer is not a clear one.
        if _HEDGE.search(said):
            return DANGER_NOT_SURE
        return DANGER_YES if (said in _YES or first in {"yes", "yeah", "yep", "yup"}) else DANGER_NO
    return None


def _pick(text: str, words: dict[str, str], keys: tuple[str, ...]) -> str | None:
    said = normalise(text)
    if said in keys:
        return said
    if said in words:
        return words[said]
    if said.isdigit() and 1 <= int(said) <= len(keys):
        return keys[int(said) - 1]
    return None


def parse_about(text: str) -> str | None:
    return _pick(text, _ABOUT_WORDS, ABOUT)


def parse_category(text: str) -> str | None:
    return _pick(text.replace("_", " "), _CATEGORY_WORDS, CATEGORIES)


def is_privacy_question(text: str) -> bool:
    said = normalise(text)
    return len(said.split()) <= _PRIVACY_MAX_WORDS and bool(_PRIVACY.search(said))


def _skipped(text: str) -> bool:
    return normalise(text) in _SKIP


def _is_question(said: str) -> bool:
    return said.endswith("?") or bool(_QUESTION_START.match(said))


def _account_like(text: str) -> bool:
    """A line that answers nothing but says something: it belongs in the account of what happened."""
    said = normalise(text)
    return len(said.split()) >= _ACCOUNT_WORDS and not _is_question(text.strip().lower())


# The report, as shown back -------------------------------------------------------------------------------------


def description_of(draft: dict[str, Any]) -> str:
    """The account, verbatim: each message the reporter sent, in order, one per line."""
    lines = draft.get("lines")
    if isinstance(lines, list) and lines:
        return "\n".join(str(line) for line in lines)
    return str(draft.get("description") or "")


def account_preview(draft: dict[str, Any], limit: int) -> str:
    """The account for a card: escaped, cut to `limit`, each message its own paragraph (Teams' markdown would run
    lines separated by a single break into one)."""
    shown = truncate(description_of(draft), limit)
    return "\n\n".join(escape_markdown(line) for line in shown.splitlines() if line.strip())


def summary_lines(texts: Texts, draft: dict[str, Any], *, markdown: bool = True) -> list[str]:
    """The report in the reporter's own words, one line per answer: the summary card, or (markdown=False) a
    chronology entry. Contact details and the name question are left to the caller."""

    def t(key: str, **values: object) -> str:
        return texts.get(f"report.{key}", **values)

    def shown(value: str) -> str:
        return escape_markdown(value) if markdown else value

    lines: list[str] = []
    if draft.get("danger") == DANGER_NOT_SURE:
        lines.append(t("summary_unsure"))
    elif draft.get("urgent"):
        lines.append(t("summary_urgent"))
    if draft.get("about"):
        lines.append(t("summary_about", about=t(f"about_options.{draft['about']}")))
    if draft.get("subject_name"):
        lines.append(t("summary_subject", name=shown(str(draft["subject_name"]))))
    if draft.get("category"):
        lines.append(t("summary_category", category=t(f"categories.{draft['category']}")))
    description = description_of(draft)
    if description:
        # The card shows a preview; the chronology keeps every word.
        lines.append(t("summary_description", description=account_preview(draft, 1500) if markdown else description))
    when = draft.get("when") or draft.get("when_where")
    if when:
        lines.append(t("summary_when", when=shown(str(when))))
    if draft.get("where"):
        lines.append(t("summary_where", where=shown(str(draft["where"]))))
    return lines


def contact_wording(texts: Texts, draft: dict[str, Any]) -> str:
    """How the reporter may be contacted, as they put it; "Teams chat" when they said yes but skipped how."""
    if not draft.get("contact_ok"):
        return texts.get("report.no")
    return str(draft.get("contact_how") or texts.get("report.contact_teams"))


# The dialog ----------------------------------------------------------------------------------------------------


class ReportWorryDialog(Dialog):  # type: ignore[misc]
    def __init__(
        self,
        texts: Texts,
        directory: Directory,
        on_abandoned: Abandoned | None = None,
        *,
        parked: StatePropertyAccessor | None = None,
        pauses: Pauses | None = None,
        urgent_watch: UrgentWatch | None = None,
    ) -> None:
        super().__init__(REPORT_WORRY)
        self._texts = texts
        self._directory = directory
        self._on_abandoned = on_abandoned
        self._parked = parked  # conversation state: a draft put aside with "menu", until carried on or discarded
        self._pauses = pauses
        self._urgent_watch = urgent_watch  # sends an urgent draft on if the learner goes silent

    @staticmethod
    def is_short_fact_answer(state: dict[str, Any], text: str) -> bool:
        """Whether `text`, typed at this dialog's current question, is a short answer to a factual question."""
        return state.get("step") in SHORT_FACT_STEPS and len(text.split()) <= SHORT_FACT_WORDS

    def _t(self, key: str, **values: object) -> str:
        return self._texts.get(f"report.{key}", **values)

    # Dialog protocol -------------------------------------------------------------------------------------------

    async def begin_dialog(self, dialog_context: DialogContext, options: object = None) -> DialogTurnResult:
        context = dialog_context.context
        argument = options.get("argument") if isinstance(options, dict) else None
        parked = await self._parked.get(context, None) if self._parked is not None else None
        if argument == RESUME:
            argument = None  # "Carry on" with nothing parked: a report from the start
        if isinstance(argument, str) and (argument == DISCARD or normalise(argument) in _DISCARD):
            # "Don't send it" on the unfinished-report notice.
            if isinstance(parked, dict) and isinstance(parked.get("state"), dict):
                await self._clear_parked(context)
                await self._discarded(context, parked["state"]["draft"])
            else:
                await context.send_activity(self._t("nothing_to_discard"))
            return await dialog_context.end_dialog(None)
        state = dialog_context.active_dialog.state
        if isinstance(parked, dict) and isinstance(parked.get("state"), dict):
            # "Carry on with my report", or "report" again: the parked draft, never a fresh one over it.
            await self._clear_parked(context)
            state.update(parked["state"])
            state["history"] = [state["step"]]
            await self._ask(context, state, preface=[self._resumed_line(state["draft"])])
            return Dialog.end_of_turn
        # The id makes sending it on idempotent: a retried or repeated send of this draft (the sweeper's claim ran
        # out on a stalled instance; a "send it" whose turn failed after the case was stored) finds the case it made.
        draft: dict[str, Any] = {
            "urgent": False,
            "answered": [],
            "lines": [],
            "id": uuid.uuid4().hex,
            "started": dt.datetime.now(dt.UTC).isoformat(),
        }
        if argument:
            # "Talk to someone about this" from an online-safety topic, or "report about bullying".
            draft["category"] = draft["preset_category"] = parse_category(argument) or "online_safety"
        state.update({"v": STATE_VERSION, "step": DANGER, "history": [DANGER], "draft": draft})
        await self._ask(context, state, first=True)
        return Dialog.end_of_turn

    async def continue_dialog(self, dialog_context: DialogContext) -> DialogTurnResult:
        context = dialog_context.context
        state = self._state_of(dialog_context.active_dialog)
        if SILENT in context.turn_state:
            await self._silent(context, state)
            return Dialog.end_of_turn
        result = await self._continue(dialog_context, state)
        if result.status == DialogTurnStatus.Waiting and PAUSED not in context.turn_state:
            await self._keep_watch(context, state)
        return result

    async def _continue(self, dialog_context: DialogContext, state: dict[str, Any]) -> DialogTurnResult:
        context = dialog_context.context
        triaged = context.turn_state.get(TRIAGED_CASE)
        draft = state["draft"]
        if isinstance(triaged, tuple) and not draft.get("sent_case_id"):
            # The safety net has just put this person's words in front of the team as an urgent case: the report
            # is part of that case from now on, so the DSO gets one case with the report in its chronology.
            draft["sent_case_id"], draft["sent_reference"] = triaged
            draft["urgent"] = True
        if PAUSED in context.turn_state:
            await self._paused(context, state, str(context.turn_state[PAUSED]))
            return Dialog.end_of_turn
        if context.activity.type != ActivityTypes.message:
            return Dialog.end_of_turn
        text = (context.activity.text or "").strip()
        if not text:
            await self._ask(context, state)
            return Dialog.end_of_turn
        outcome = await self._interruption(dialog_context, state, text)
        if outcome is not None:
            return outcome
        return await self._answer(dialog_context, state, text)

    async def resume_dialog(
        self, dialog_context: DialogContext, reason: DialogReason, result: object = None
    ) -> DialogTurnResult:
        # Nothing is ever started on top of a report; should it be, pick up where the report was.
        await self.reprompt_dialog(dialog_context.context, dialog_context.active_dialog)
        return Dialog.end_of_turn

    async def reprompt_dialog(self, context: TurnContext, instance: DialogInstance) -> None:
        await self._ask(context, self._state_of(instance))

    async def end_dialog(self, context: TurnContext, instance: DialogInstance, reason: DialogReason) -> None:
        if reason == DialogReason.CancelCalled:
            # Cancelled from outside (not through our own "cancel"): an urgent report still goes to the team.
            draft = self._state_of(instance)["draft"]
            if draft.get("urgent"):
                await self._send_unfinished(context, draft, "incomplete_sent")
        if self._pauses is not None:
            self._pauses.forget(context)
        if self._urgent_watch is not None and (instance.state or {}).get("watched"):
            await self._urgent_watch.disarm(context)
        await super().end_dialog(context, instance, reason)

    # What the menu shows about a parked report ---------------------------------------------------------------

    async def parked_notice(self, context: TurnContext) -> Activity | None:
        """The "unfinished report" card shown with the menu while a draft is parked; None when there is none."""
        parked = await self._parked.get(context, None) if self._parked is not None else None
        if not isinstance(parked, dict) or not isinstance(parked.get("state"), dict):
            return None
        draft = parked["state"].get("draft") or {}
        line = self._t("parked_sent", reference=draft["sent_reference"]) if draft.get("sent_reference") else ""
        card = choice_card(
            self._t("parked_title"),
            " ".join(part for part in (self._t("parked_text"), line) if part),
            [
                Choice(self._t("parked_carry_on"), self._t("resume_command")),
                Choice(self._t("parked_discard"), self._t("discard_command")),
            ],
        )
        return MessageFactory.attachment(CardFactory.adaptive_card(card))

    # Interruptions: the same at every question ---------------------------------------------------------------

    async def _interruption(
        self, dialog_context: DialogContext, state: dict[str, Any], text: str
    ) -> DialogTurnResult | None:
        context = dialog_context.context
        said = normalise(text)
        draft = state["draft"]
        if state["step"] == STOP:
            return None  # its own question: carry on, or don't send
        if said in _DISCARD and state["step"] != SUMMARY:
            await self._discarded(context, draft)
            return await dialog_context.end_dialog(None)
        if said in _BACK:
            await self._back(context, state)
            return Dialog.end_of_turn
        if said in _MENU:
            await self._park(context, state)
            return await dialog_context.end_dialog(None)
        if said in _CANCEL:
            return await self._cancel(dialog_context, state)
        if said in _CARRY_ON or (said in _DONE and state["step"] != ACCOUNT):
            # "Done" here is a button pressed twice, not a name, a time or a place.
            await self._ask(context, state)
            return Dialog.end_of_turn
        if said in _GREETING:
            # Back after a while: say where we were, and ask that question again.
            await self._ask(context, state, preface=[self._t("welcome_back")])
            return Dialog.end_of_turn
        if is_privacy_question(text) and (state["step"] != ACCOUNT or _is_question(text.strip().lower())):
            # At the account only a question counts: "he said nobody would know it was me" is part of the story.
            await context.send_activity(self._t("privacy_answer"))
            await self._ask(context, state)
            return Dialog.end_of_turn
        return None

    async def _back(self, context: TurnContext, state: dict[str, Any]) -> None:
        history: list[str] = state.setdefault("history", [state["step"]])
        if state["step"] == CHANGE:
            state["step"] = SUMMARY
        elif len(history) >= 2:
            history.pop()
            state["step"] = history[-1]
        else:
            await self._ask(context, state, preface=[self._t("back_first")])
            return
        await self._ask(context, state, preface=[self._t("back_done")], remember=False)

    async def _park(self, context: TurnContext, state: dict[str, Any]) -> None:
        """The learner asked for the menu: put the draft aside, keep it, and let the menu show. Nothing is lost."""
        draft = state["draft"]
        if self._pauses is not None:
            self._pauses.forget(context)
        if not draft.get("answered") and not draft.get("lines"):
            return  # nothing answered yet: nothing to keep
        if draft.get("urgent") and not draft.get("sent_case_id"):
            # Someone may be in danger: the team must not wait for the learner to come back.
            await self._send_unfinished(context, draft, "parked_urgent_sent")
        if self._parked is not None:
            saved = {key: value for key, value in state.items() if key != "history"}
            await self._parked.set(context, {"state": saved, "at": dt.datetime.now(dt.UTC).isoformat()})

    async def _cancel(self, dialog_context: DialogContext, state: dict[str, Any]) -> DialogTurnResult:
        context = dialog_context.context
        draft = state["draft"]
        if draft.get("urgent"):
            # Someone may be in danger: what there is goes to the team now, whatever else happens.
            await self._send_unfinished(context, draft, "incomplete_sent")
            return await dialog_context.end_dialog(None)
        if not _typed_anything(draft):
            await context.send_activity(self._t("stopped"))
            return await dialog_context.end_dialog(None)
        state["resume_step"] = state["step"]
        state["step"] = STOP
        await self._ask(context, state, remember=False)
        return Dialog.end_of_turn

    async def _discarded(self, context: TurnContext, draft: dict[str, Any]) -> None:
        """An explicit "don't send". An urgent report has gone (or goes now) all the same, and the learner is told."""
        if draft.get("urgent"):
            await self._send_unfinished(context, draft, "incomplete_sent")
            return
        await context.send_activity(self._t("not_sent"))

    async def _send_unfinished(self, context: TurnContext, draft: dict[str, Any], key: str) -> None:
        if self._on_abandoned is None:
            return
        # The draft itself: what the callback notes in it (what has been sent) is kept with the report.
        case_id, reference = await self._on_abandoned(context, draft)
        draft["sent_case_id"], draft["sent_reference"] = case_id, reference
        unsure = draft.get("danger") == DANGER_NOT_SURE
        key = f"{key}_unsure" if unsure else key
        text = self._texts.get(key, reference=reference) if "." in key else self._t(key, reference=reference)
        await context.send_activity(text)

    # An urgent draft left silent -----------------------------------------------------------------------------

    async def _keep_watch(self, context: TurnContext, state: dict[str, Any]) -> None:
        """After each of the learner's turns: an urgent draft is watched from now on (the silence starts again); a
        draft that is no longer urgent is not."""
        if self._urgent_watch is None:
            return
        if state["draft"].get("urgent"):
            await self._urgent_watch.arm(context)
            state["watched"] = True
        elif state.pop("watched", None):
            await self._urgent_watch.disarm(context)

    async def _silent(self, context: TurnContext, state: dict[str, Any]) -> None:
        """The bot's own turn once an urgent draft has gone silent. Unsent, it goes to the team now as an incomplete
        urgent case and the learner is told; already sent, anything added since joins that case quietly. A draft
        that is not urgent is never sent unasked."""
        draft = state["draft"]
        state.pop("watched", None)
        if not draft.get("urgent") or self._on_abandoned is None:
            return
        if draft.get("sent_case_id"):
            await self._on_abandoned(context, draft)
            return
        await self._send_unfinished(context, draft, "hardening.silent_sent")

    # Answers -------------------------------------------------------------------------------------------------

    async def _answer(self, dialog_context: DialogContext, state: dict[str, Any], text: str) -> DialogTurnResult:
        context = dialog_context.context
        step = state["step"]
        draft = state["draft"]
        said = normalise(text)
        if step == ACCOUNT:
            await self._account_line(context, state, text)
            return Dialog.end_of_turn
        if step == SUMMARY:
            if said in _SEND:
                return await dialog_context.end_dialog({**draft, "description": description_of(draft)})
            if said in _CHANGE:
                state["step"] = CHANGE
                await self._ask(context, state)
                return Dialog.end_of_turn
            if said in _DISCARD:
                await self._discarded(context, draft)
                return await dialog_context.end_dialog(None)
            await self._unrecognised(context, state, text, self._t("confirm_retry"))
            return Dialog.end_of_turn
        if step == CHANGE:
            field = self._changed_field(said, draft)
            if field is None:
                await self._unrecognised(context, state, text, self._t("change_retry"))
                return Dialog.end_of_turn
            if field == ACCOUNT:
                state["adding"] = True
            state["step"] = field
            await self._ask(context, state)
            return Dialog.end_of_turn
        if step == STOP:
            if said in _MENU:
                state["step"] = state.pop("resume_step", None) or _next_step(draft)
                await self._park(context, state)
                return await dialog_context.end_dialog(None)
            if said in _CARRY_ON or said in _BACK:
                state["step"] = state.pop("resume_step", None) or _next_step(draft)
                await self._ask(context, state, remember=False)
                return Dialog.end_of_turn
            if said in _DISCARD or said in _CANCEL or parse_yes_no(text) is True:
                await self._discarded(context, draft)
                return await dialog_context.end_dialog(None)
            await self._ask(context, state, preface=[self._t("stop_retry")], remember=False)
            return Dialog.end_of_turn
        accepted = await self._record(context, state, step, text)
        if accepted:
            answered: list[str] = draft.setdefault("answered", [])
            if step not in answered:
                answered.append(step)
            state["step"] = _next_step(draft)
            state.pop("adding", None)
            await self._ask(context, state)
        return Dialog.end_of_turn

    async def _record(self, context: TurnContext, state: dict[str, Any], step: str, text: str) -> bool:
        """Store the answer to `step`; False (having asked again) when `text` does not answer it."""
        draft = state["draft"]
        if step == DANGER:
            danger = parse_danger(text)
            if danger == "ack":
                await self._ask(context, state, preface=[self._t("danger_ack")], remember=False)
                return False
            if danger is None:
                await self._unrecognised(context, state, text, self._t("danger_retry"))
                return False
            await self._set_danger(context, draft, danger)
            return True
        if step == ABOUT_STEP:
            about = parse_about(text)
            if about is None:
                await self._unrecognised(context, state, text, self._t("about_retry"))
                return False
            draft["about"] = about
            if about not in _NEEDS_NAME:
                draft.pop("subject_name", None)
            return True
        if step == CATEGORY:
            category = parse_category(text)
            if category is None:
                await self._unrecognised(context, state, text, self._t("category_retry"))
                return False
            draft["category"] = category
            return True
        if step in (CONTACT, NAME_SHOWN):
            answer = parse_yes_no(text)
            if answer is None:
                await self._unrecognised(context, state, text, self._t("yes_no_retry"))
                return False
            if step == CONTACT:
                draft["contact_ok"] = answer
                if not answer:
                    draft["contact_how"] = None
                    _unanswer(draft, CONTACT_HOW)
            else:
                draft["name_shown"] = answer
                if not answer:
                    await context.send_activity(self._t("name_hidden_truth"))
            return True
        # Free text: the person's own words, kept exactly as typed (only surrounding space is trimmed).
        value = None if _skipped(text) else text
        field = {SUBJECT: "subject_name", WHEN: "when", WHERE: "where", CONTACT_HOW: "contact_how"}[step]
        draft[field] = value
        return True

    async def _set_danger(self, context: TurnContext, draft: dict[str, Any], danger: str) -> None:
        was_urgent = bool(draft.get("urgent"))
        draft["danger"] = danger
        draft["urgent"] = danger in (DANGER_YES, DANGER_NOT_SURE) or bool(draft.get("sent_case_id"))
        if draft["urgent"] and not was_urgent:
            intro = self._t("emergency_intro_unsure" if danger == DANGER_NOT_SURE else "emergency_intro")
            entries = [self._directory.entry(entry_id) for entry_id in EMERGENCY_ENTRIES]
            card = signpost_card(self._t("emergency_title"), intro, entries)
            await context.send_activity(MessageFactory.attachment(CardFactory.adaptive_card(card)))

    async def _unrecognised(self, context: TurnContext, state: dict[str, Any], text: str, retry: str) -> None:
        """Not an answer. Words that say something are kept in the account; the question is asked again."""
        if _account_like(text):
            draft = state["draft"]
            draft.setdefault("lines", []).append(context.activity.text or text)  # verbatim, as at the account
            key = "kept_for_account" if ACCOUNT not in draft.get("answered", []) else "added_to_account"
            await self._ask(context, state, preface=[self._t(key)], remember=False)
            return
        await self._ask(context, state, preface=[retry], remember=False)

    async def _account_line(self, context: TurnContext, state: dict[str, Any], text: str) -> None:
        draft = state["draft"]
        lines: list[str] = draft.setdefault("lines", [])
        if normalise(text) in _DONE:
            if not lines:
                await context.send_activity(self._t("describe_retry"))
                return
            if self._pauses is not None:
                self._pauses.forget(context)
            state.pop("pause_token", None)
            answered: list[str] = draft.setdefault("answered", [])
            if ACCOUNT not in answered:
                answered.append(ACCOUNT)
            state["step"] = _next_step(draft)
            state.pop("adding", None)
            await self._ask(context, state)
            return
        # Verbatim: the reporter's own words are evidence, so nothing is trimmed inside or re-cased.
        lines.append(context.activity.text or text)
        if not state.get("acked"):
            # The first message after the question: say it was taken, and how to finish. Later ones are taken
            # quietly (people type in bursts) until a pause, or "Done".
            state["acked"] = True
            await context.send_activity(self._done_card(self._t("describe_more")))
            return
        state["pause_token"] = str(len(lines))
        if self._pauses is not None:
            self._pauses.after_pause(context, state["pause_token"])

    async def _paused(self, context: TurnContext, state: dict[str, Any], token: str) -> None:
        """The bot's own turn after the learner went quiet mid-account: check in once, never move on by itself
        (a slow typist's next line would otherwise be taken as the answer to the next question)."""
        if state["step"] != ACCOUNT or state.get("pause_token") != token:
            return  # something has happened since
        state.pop("pause_token", None)
        await context.send_activity(self._done_card(self._t("describe_pause")))

    def _changed_field(self, said: str, draft: dict[str, Any]) -> str | None:
        for field in self._changeable(draft):
            label = normalise(self._t(f"change_options.{field}"))
            if said in (label, f"change {field}", field.replace("_", " ")):
                return field
        return None

    @staticmethod
    def _changeable(draft: dict[str, Any]) -> list[str]:
        return [field for field in CHANGEABLE if _needed(field, draft)]

    # Asking --------------------------------------------------------------------------------------------------

    async def _ask(
        self,
        context: TurnContext,
        state: dict[str, Any],
        *,
        preface: list[str] | None = None,
        first: bool = False,
        remember: bool = True,
    ) -> None:
        """Ask the current step's question (with `preface` lines above it, in the same message)."""
        step = state["step"]
        if remember:
            history: list[str] = state.setdefault("history", [])
            if not history or history[-1] != step:
                history.append(step)
        await context.send_activity(self._question(state, preface or [], first=first))

    def _question(self, state: dict[str, Any], preface: list[str], *, first: bool = False) -> Activity:
        step = state["step"]
        draft = state["draft"]
        if step == DANGER:
            choices = [
                Choice(self._t("yes"), "yes"),
                Choice(self._t("no"), "no"),
                Choice(self._t("not_sure"), "not sure"),
            ]
            intro = [self._t("intro")] if first else []
            return self._card(self._t("danger"), choices, [*intro, *preface], hint=self._t("danger_hint"))
        if step == ABOUT_STEP:
            choices = [Choice(self._t(f"about_options.{key}"), self._t(f"about_options.{key}")) for key in ABOUT]
            return self._card(self._t("about"), choices, preface, hint=self._t("about_hint"))
        if step == CATEGORY:
            choices = [Choice(self._t(f"categories.{key}"), self._t(f"categories.{key}")) for key in CATEGORIES]
            return self._card(self._t("category"), choices, preface)
        if step == ACCOUNT:
            state["acked"] = False
            lines = draft.get("lines") or []
            if state.get("adding"):
                return self._done_card(self._t("describe_add"), preface)
            if not lines:
                return MessageFactory.text("\n\n".join([*preface, self._t("describe")]))
            so_far = account_preview(draft, _SO_FAR_CHARS)
            return self._done_card(self._t("describe_again", so_far=so_far), preface)
        if step in (SUBJECT, WHEN, WHERE, CONTACT_HOW):
            skip = [Choice(self._t("skip_button"), self._t("skip"))]
            return self._card(self._t(step), skip, preface)
        if step in (CONTACT, NAME_SHOWN):
            choices = [Choice(self._t("yes"), "yes"), Choice(self._t("no"), "no")]
            return self._card(self._t("contact" if step == CONTACT else "name_on_card"), choices, preface)
        if step == SUMMARY:
            choices = [
                Choice(self._t("confirm_send"), "send it"),
                Choice(self._t("confirm_change"), "change something"),
                Choice(self._t("confirm_cancel"), "don't send"),
            ]
            return self._card(self._t("confirm"), choices, [*preface, *self.summary(draft)])
        if step == CHANGE:
            choices = [
                Choice(self._t(f"change_options.{field}"), self._t(f"change_options.{field}"))
                for field in self._changeable(draft)
            ]
            choices.append(Choice(self._t("change_nothing"), "back"))
            return self._card(self._t("change"), choices, preface)
        # STOP
        choices = [
            Choice(self._t("stop_carry_on"), "carry on"),
            Choice(self._t("confirm_cancel"), "don't send"),
        ]
        return self._card(self._t("stop"), choices, preface)

    def _card(self, prompt: str, choices: list[Choice], preface: list[str], *, hint: str = "") -> Activity:
        return MessageFactory.attachment(CardFactory.adaptive_card(choice_card(prompt, hint, choices, preface=preface)))

    def _done_card(self, prompt: str, preface: list[str] | None = None) -> Activity:
        return self._card(prompt, [Choice(self._t("done_button"), "done")], preface or [])

    def summary(self, draft: dict[str, Any]) -> list[str]:
        """What the reporter sees before sending, escaped exactly as typed."""
        lines = [self._t("summary_title"), *summary_lines(self._texts, draft)]
        lines.append(self._t("summary_contact", contact=escape_markdown(contact_wording(self._texts, draft))))
        if draft.get("sent_reference"):
            lines.append(self._t("summary_already_sent", reference=draft["sent_reference"]))
        else:
            shown = self._t("yes") if draft.get("name_shown", True) else self._t("no")
            lines.append(self._t("summary_name", shown=shown))
        return lines

    def _resumed_line(self, draft: dict[str, Any]) -> str:
        if draft.get("sent_reference"):
            return self._t("resumed_sent", reference=draft["sent_reference"])
        return self._t("resumed")

    async def _clear_parked(self, context: TurnContext) -> None:
        if self._parked is not None:
            await self._parked.delete(context)

    # State ---------------------------------------------------------------------------------------------------

    def _state_of(self, instance: DialogInstance) -> dict[str, Any]:
        """This report's state; a report saved by the old waterfall dialog is converted in place, once."""
        state: dict[str, Any] = instance.state
        if "step" not in state:
            converted = state_from_waterfall(state)
            state.clear()
            state.update(converted)
        return state


def _needed(step: str, draft: dict[str, Any]) -> bool:
    if step == CATEGORY:
        return not draft.get("preset_category")
    if step == SUBJECT:
        return draft.get("about") in _NEEDS_NAME
    if step == CONTACT_HOW:
        return draft.get("contact_ok") is True
    if step == NAME_SHOWN:
        # Once part of the report has gone to the team its card already names the reporter.
        return not draft.get("sent_case_id")
    return True


def _next_step(draft: dict[str, Any]) -> str:
    """The first question still unanswered, or the summary: after "back" or a change, straight on to where the
    learner was."""
    answered = set(draft.get("answered") or [])
    for step in QUESTIONS:
        if _needed(step, draft) and step not in answered:
            return step
    return SUMMARY


def _unanswer(draft: dict[str, Any], step: str) -> None:
    answered: list[str] = draft.get("answered") or []
    if step in answered:
        answered.remove(step)


def _typed_anything(draft: dict[str, Any]) -> bool:
    return bool(
        draft.get("lines")
        or draft.get("subject_name")
        or draft.get("when")
        or draft.get("where")
        or draft.get("contact_how")
    )


# Reports saved by the first version of this dialog (a waterfall in a ComponentDialog) -----------------------------

# The waterfall's steps by index; a saved stepIndex is the step whose prompt is waiting for an answer.
_WATERFALL_STEPS: Final = (DANGER, ABOUT_STEP, CATEGORY, ACCOUNT, WHEN, CONTACT, CONTACT_HOW, NAME_SHOWN, SUMMARY)


def state_from_waterfall(old: dict[str, Any]) -> dict[str, Any]:
    """The same report in this dialog's state, from what the old waterfall saved: its draft and the step waiting."""
    inner = old.get(ComponentDialog.persisted_dialog_state)
    values: dict[str, Any] = {}
    index = 0
    for child in getattr(inner, "dialog_stack", None) or []:
        child_state = child.state or {}
        if isinstance(child_state.get("values"), dict) and "stepIndex" in child_state:
            values = dict(child_state["values"].get("draft") or {})
            index = int(child_state["stepIndex"])
    index = index if 0 <= index < len(_WATERFALL_STEPS) else 0
    step = _WATERFALL_STEPS[index]
    draft: dict[str, Any] = {"urgent": bool(values.get("urgent")), "lines": [], "answered": []}
    for key in ("preset_category", "about", "category", "contact_ok", "contact_how", "name_shown"):
        if key in values:
            draft[key] = values[key]
    if values.get("description"):
        draft["lines"] = [values["description"]]
    if values.get("when_where"):
        draft["when"] = values["when_where"]
    if index > 0:
        draft["danger"] = DANGER_YES if draft["urgent"] else DANGER_NO
    answered = [s for s in _WATERFALL_STEPS[:index] if s != SUMMARY]
    if index >= _WATERFALL_STEPS.index(WHEN):
        # The old dialog asked when and where as one question.
        answered.append(WHERE)
    if ACCOUNT in answered:
        answered.append(SUBJECT)  # not asked then; not asked now either, so the learner goes on where they were
    draft["answered"] = answered
    return {"v": STATE_VERSION, "step": step, "history": [step], "draft": draft}
