"""Report a worry, for learners in a 1:1 chat.

The dialog only collects: it never stores the report and never says it was received. The parent stores the
case first (Flow.on_complete) and only then tells the reporter. A report abandoned after "someone is in
danger" goes to the safeguarding team anyway, through the `on_abandoned` callback.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from botbuilder.core import CardFactory, MessageFactory, TurnContext
from botbuilder.dialogs import (
    ComponentDialog,
    DialogInstance,
    DialogReason,
    DialogTurnResult,
    PromptOptions,
    PromptValidatorContext,
    TextPrompt,
    WaterfallDialog,
    WaterfallStepContext,
)

from cards.choice_card import Choice, choice_card
from cards.escape import escape_markdown, truncate
from cards.signpost_card import signpost_card
from content.directory import Directory
from content.texts import Texts
from dialogs.router import normalise

REPORT_WORRY = "report_worry"
_MAIN = "report_worry.main"
_YES_NO = "report_worry.yes_no"
_ABOUT = "report_worry.about"
_CATEGORY = "report_worry.category"
_DESCRIBE = "report_worry.describe"
_FREE = "report_worry.free"
_CONFIRM = "report_worry.confirm"

ABOUT = ("self", "learner", "staff", "outside", "not_say")
CATEGORIES = ("radicalisation", "bullying", "online_safety", "abuse", "wellbeing", "other")
EMERGENCY_ENTRIES = ("emergency_999", "anti_terrorist_hotline", "samaritans")
_DRAFT = "draft"

_YES = {"yes", "y", "yeah", "yep", "yes please", "ok", "okay", "sure", "send", "send it", "please", "true"}
_NO = {"no", "n", "nope", "nah", "no thanks", "don't send", "dont send", "do not send", "false", "not really"}
_ABOUT_WORDS = {
    "me": "self",
    "myself": "self",
    "about me": "self",
    "i am": "self",
    "another learner": "learner",
    "learner": "learner",
    "a learner": "learner",
    "my friend": "learner",
    "friend": "learner",
    "student": "learner",
    "another student": "learner",
    "mate": "learner",
    "a member of staff": "staff",
    "member of staff": "staff",
    "staff": "staff",
    "teacher": "staff",
    "trainer": "staff",
    "tutor": "staff",
    "someone outside qualitrain": "outside",
    "someone outside": "outside",
    "outside": "outside",
    "someone else": "outside",
    "family": "outside",
    "someone at home": "outside",
    "i'd rather not say": "not_say",
    "id rather not say": "not_say",
    "rather not say": "not_say",
    "not say": "not_say",
    "prefer not to say": "not_say",
}
_CATEGORY_WORDS = {
    "radicalisation": "radicalisation",
    "radicalization": "radicalisation",
    "extremism": "radicalisation",
    "radicalisation or extremism": "radicalisation",
    "radicalization or extremism": "radicalisation",
    "bullying": "bullying",
    "harassment": "bullying",
    "bullying or harassment": "bullying",
    "online safety": "online_safety",
    "online": "online_safety",
    "abuse": "abuse",
    "neglect": "abuse",
    "abuse or neglect": "abuse",
    "mental health": "wellbeing",
    "wellbeing": "wellbeing",
    "mental health or wellbeing": "wellbeing",
    "something else": "other",
    "other": "other",
    "else": "other",
}

Abandoned = Callable[[TurnContext, dict[str, Any]], Awaitable[None]]


def parse_yes_no(text: str) -> bool | None:
    said = normalise(text).rstrip("!")
    if said in _YES:
        return True
    if said in _NO:
        return False
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


def _skipped(text: str) -> bool:
    return normalise(text) in {"skip", "no", "none", "n/a", "na", "-", "not sure", "dont know", "don't know"}


class ReportWorryDialog(ComponentDialog):  # type: ignore[misc]
    def __init__(self, texts: Texts, directory: Directory, on_abandoned: Abandoned | None = None) -> None:
        super().__init__(REPORT_WORRY)
        self._texts = texts
        self._directory = directory
        self._on_abandoned = on_abandoned
        self.add_dialog(TextPrompt(_YES_NO, self._yes_no_valid))
        self.add_dialog(TextPrompt(_ABOUT, self._about_valid))
        self.add_dialog(TextPrompt(_CATEGORY, self._category_valid))
        self.add_dialog(TextPrompt(_DESCRIBE, self._describe_valid))
        self.add_dialog(TextPrompt(_FREE))
        self.add_dialog(TextPrompt(_CONFIRM, self._confirm_valid))
        steps = [
            self.danger_step,
            self.about_step,
            self.category_step,
            self.describe_step,
            self.when_where_step,
            self.contact_step,
            self.contact_how_step,
            self.name_step,
            self.confirm_step,
            self.finish_step,
        ]
        self.add_dialog(WaterfallDialog(_MAIN, steps))
        self.initial_dialog_id = _MAIN

    # Helpers --------------------------------------------------------------------------------------------

    def _t(self, key: str, **values: object) -> str:
        return self._texts.get(f"report.{key}", **values)

    def _choices(
        self, prompt: str, choices: list[Choice], retry: str, *, preface: list[str] | None = None, hint: str = ""
    ) -> PromptOptions:
        card = choice_card(prompt, hint, choices, preface=preface)
        return PromptOptions(
            prompt=MessageFactory.attachment(CardFactory.adaptive_card(card)),
            retry_prompt=MessageFactory.text(retry),
        )

    def _yes_no(self, prompt: str, retry: str, *, preface: list[str] | None = None, hint: str = "") -> PromptOptions:
        choices = [Choice(self._t("yes"), "yes"), Choice(self._t("no"), "no")]
        return self._choices(prompt, choices, retry, preface=preface, hint=hint)

    @staticmethod
    def _draft(step: WaterfallStepContext) -> dict[str, Any]:
        draft: dict[str, Any] = step.values.setdefault(_DRAFT, {})
        return draft

    # Steps ----------------------------------------------------------------------------------------------

    async def danger_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        draft = self._draft(step)
        draft.update(urgent=False)
        argument = (step.options or {}).get("argument") if isinstance(step.options, dict) else None
        if argument:
            # "Talk to someone about this" from an online-safety topic, or "report about bullying".
            draft["preset_category"] = parse_category(argument) or "online_safety"
        return await step.prompt(
            _YES_NO,
            self._yes_no(
                self._t("danger"), self._t("danger_retry"), preface=[self._t("intro")], hint=self._t("danger_hint")
            ),
        )

    async def about_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        draft = self._draft(step)
        if parse_yes_no(step.result):
            draft["urgent"] = True
            entries = [self._directory.entry(entry_id) for entry_id in EMERGENCY_ENTRIES]
            card = signpost_card(self._t("emergency_title"), self._t("emergency_intro"), entries)
            await step.context.send_activity(MessageFactory.attachment(CardFactory.adaptive_card(card)))
        choices = [Choice(self._t(f"about_options.{key}"), self._t(f"about_options.{key}")) for key in ABOUT]
        return await step.prompt(
            _ABOUT, self._choices(self._t("about"), choices, self._t("about_retry"), hint=self._t("about_hint"))
        )

    async def category_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        draft = self._draft(step)
        draft["about"] = parse_about(step.result)
        if draft.get("preset_category"):
            return await step.next(draft["preset_category"])
        choices = [Choice(self._t(f"categories.{key}"), self._t(f"categories.{key}")) for key in CATEGORIES]
        return await step.prompt(_CATEGORY, self._choices(self._t("category"), choices, self._t("category_retry")))

    async def describe_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        self._draft(step)["category"] = parse_category(step.result)
        return await step.prompt(
            _DESCRIBE,
            PromptOptions(
                prompt=MessageFactory.text(self._t("describe")),
                retry_prompt=MessageFactory.text(self._t("describe_retry")),
            ),
        )

    async def when_where_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        # Verbatim: the reporter's own words are evidence, so nothing is trimmed inside or re-cased.
        self._draft(step)["description"] = step.context.activity.text or step.result
        return await step.prompt(_FREE, PromptOptions(prompt=MessageFactory.text(self._t("when_where"))))

    async def contact_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        self._draft(step)["when_where"] = None if _skipped(step.result) else step.result
        return await step.prompt(_YES_NO, self._yes_no(self._t("contact"), self._t("yes_no_retry")))

    async def contact_how_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        draft = self._draft(step)
        draft["contact_ok"] = bool(parse_yes_no(step.result))
        if not draft["contact_ok"]:
            return await step.next(None)
        return await step.prompt(_FREE, PromptOptions(prompt=MessageFactory.text(self._t("contact_how"))))

    async def name_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        draft = self._draft(step)
        if draft["contact_ok"]:
            draft["contact_how"] = None if step.result is None or _skipped(step.result) else step.result
        return await step.prompt(_YES_NO, self._yes_no(self._t("name_on_card"), self._t("yes_no_retry")))

    async def confirm_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        draft = self._draft(step)
        draft["name_shown"] = bool(parse_yes_no(step.result))
        if not draft["name_shown"]:
            await step.context.send_activity(self._t("name_hidden_truth"))
        choices = [Choice(self._t("confirm_send"), "send it"), Choice(self._t("confirm_cancel"), "don't send")]
        options = self._choices(self._t("confirm"), choices, self._t("confirm_retry"), preface=self.summary(draft))
        return await step.prompt(_CONFIRM, options)

    async def finish_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        draft = self._draft(step)
        if not parse_yes_no(step.result):
            if draft.get("urgent"):
                # "Don't send" after "someone is in danger" is still an abandoned urgent report.
                await self._abandon(step.context, draft)
            else:
                await step.context.send_activity(self._t("not_sent"))
            return await step.end_dialog(None)
        return await step.end_dialog(dict(draft))

    def summary(self, draft: dict[str, Any]) -> list[str]:
        lines = [self._t("summary_title")]
        if draft.get("urgent"):
            lines.append(self._t("summary_urgent"))
        lines.append(self._t("summary_about", about=self._t(f"about_options.{draft['about']}")))
        lines.append(self._t("summary_category", category=self._t(f"categories.{draft['category']}")))
        # The summary is a card TextBlock: the reporter's words are shown escaped, exactly as typed.
        lines.append(self._t("summary_description", description=escape_markdown(truncate(draft["description"], 1500))))
        if draft.get("when_where"):
            lines.append(self._t("summary_when", when=escape_markdown(draft["when_where"])))
        contact = draft.get("contact_how") or (self._t("yes") if draft.get("contact_ok") else self._t("no"))
        lines.append(self._t("summary_contact", contact=escape_markdown(contact)))
        lines.append(self._t("summary_name", shown=self._t("yes") if draft.get("name_shown") else self._t("no")))
        return lines

    # Abandoning ----------------------------------------------------------------------------------------

    async def end_dialog(self, context: TurnContext, instance: DialogInstance, reason: DialogReason) -> None:
        if reason == DialogReason.CancelCalled:
            draft = _draft_in(instance)
            if draft.get("urgent"):
                await self._abandon(context, draft)
        await super().end_dialog(context, instance, reason)

    async def _abandon(self, context: TurnContext, draft: dict[str, Any]) -> None:
        if self._on_abandoned is not None:
            await self._on_abandoned(context, {**draft, "incomplete": True})

    # Validators -----------------------------------------------------------------------------------------

    @staticmethod
    async def _yes_no_valid(prompt: PromptValidatorContext) -> bool:
        return prompt.recognized.succeeded and parse_yes_no(prompt.recognized.value or "") is not None

    @staticmethod
    async def _about_valid(prompt: PromptValidatorContext) -> bool:
        return prompt.recognized.succeeded and parse_about(prompt.recognized.value or "") is not None

    @staticmethod
    async def _category_valid(prompt: PromptValidatorContext) -> bool:
        return prompt.recognized.succeeded and parse_category(prompt.recognized.value or "") is not None

    @staticmethod
    async def _describe_valid(prompt: PromptValidatorContext) -> bool:
        return prompt.recognized.succeeded and bool((prompt.recognized.value or "").strip())

    @staticmethod
    async def _confirm_valid(prompt: PromptValidatorContext) -> bool:
        return prompt.recognized.succeeded and parse_yes_no(prompt.recognized.value or "") is not None


def _draft_in(instance: DialogInstance) -> dict[str, Any]:
    """The answers so far, read from the waterfall's saved state inside this component's own state."""
    inner = (instance.state or {}).get(ComponentDialog.persisted_dialog_state)
    for child in getattr(inner, "dialog_stack", None) or []:
        values = (child.state or {}).get("values") or {}
        if _DRAFT in values:
            return dict(values[_DRAFT])
    return {}
