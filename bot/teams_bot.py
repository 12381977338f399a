"""The activity handler: routes what people type, runs their dialog, answers card actions, saves state."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from botbuilder.core import (
    CardFactory,
    ConversationState,
    InvokeResponse,
    MessageFactory,
    TurnContext,
)
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.dialogs import DialogContext, DialogSet, DialogTurnStatus
from botbuilder.schema import Activity, ChannelAccount, ErrorResponseException

from bot.answers import ACTION_FLOWS, Answers
from bot.edge.card_actions import CardActionRouter, error_body
from bot.edge.conversation_refs import ReferenceRecorder
from bot.edge.people import People
from bot.edge.teams_context import (
    CANCEL_HANDLED,
    PERSONAL,
    aad_object_id,
    addressed_to_bot,
    conversation_tag,
    conversation_type,
    is_personal,
    typed_text,
)
from bot.edge.turn_locks import TurnLocks
from bot.group_help import GroupHelp
from bot.safeguarding.channel import SafeguardingChannels
from bot.safeguarding.follow_ups import FollowUps
from bot.safeguarding.safety_net import SafetyNet
from cards.escape import escape_markdown
from cards.menu_card import MenuEntry, menu_card
from content.texts import Texts
from dialogs.flow import Flow
from dialogs.roles import RoleDirectory
from dialogs.router import Intent, Routed, Router, normalise
from understanding.lexicon import Severity
from understanding.questions import QuestionMatch
from understanding.reader import Reading

log = logging.getLogger(__name__)

# A group-chat command: called with the turn and whatever followed the command words ("start quiz 5 20s"). It returns
# False when the message is not for it after all ("stop" with no live quiz running), and is then routed as usual.
GroupCommand = Callable[[TurnContext, str], Awaitable[bool | None]]

REQUIRED_TEXTS = (
    "welcome.personal",
    "welcome.group",
    "menu.title",
    "menu.hint",
    "menu.entries.help",
    "help.text",
    "small_talk.thanks",
    "small_talk.bye",
    "fallback.unknown",
    "cancel.done",
    "cancel.nothing",
    "errors.turn",
    "errors.invoke",
)


class TeamsBot(TeamsActivityHandler):  # type: ignore[misc]
    def __init__(
        self,
        *,
        conversation_state: ConversationState,
        texts: Texts,
        roles: RoleDirectory,
        references: ReferenceRecorder,
        people: People,
        flows: Sequence[Flow] = (),
        card_actions: CardActionRouter | None = None,
        channels: SafeguardingChannels | None = None,
        group_commands: Mapping[str, GroupCommand] | None = None,
        router: Router | None = None,
        safety_net: SafetyNet | None = None,
        answers: Answers | None = None,
        group_help: GroupHelp | None = None,
        follow_ups: FollowUps | None = None,
    ) -> None:
        super().__init__()
        texts.require(*REQUIRED_TEXTS)
        self._conversation_state = conversation_state
        self._texts = texts
        self._roles = roles
        self._references = references
        self._card_actions = card_actions or CardActionRouter()
        self._people = people
        self._channels = channels
        self._safety_net = safety_net
        self._answers = answers
        self._follow_ups = follow_ups
        self._turn_locks = TurnLocks()
        self._group_help = group_help or GroupHelp(texts=texts, roles=roles, channels=channels)
        # Commands for group chats and channels, matched on the start of the (mention-stripped) text; the longest
        # first, so "end quiz" is not taken for "end".
        commands = {normalise(k): v for k, v in (group_commands or {}).items()}
        self._group_commands = dict(sorted(commands.items(), key=lambda item: -len(item[0])))
        self._flows = {flow.id: flow for flow in flows}
        self._dialogs = DialogSet(conversation_state.create_property("DialogState"))
        self._router = router or Router()
        for flow in flows:
            if flow.dialog is not None:
                self._dialogs.add(flow.dialog)
            for extra in flow.extra_dialogs:
                self._dialogs.add(extra)
            self._router.register_flow(flow.id, [flow.command, *flow.words], flow.patterns)
            for command, argument in flow.commands:
                self._router.register_command(command, flow.id, argument)

    async def on_turn(self, turn_context: TurnContext) -> None:
        conversation = turn_context.activity.conversation
        async with self._turn_locks.hold(conversation.id if conversation else ""):
            self._people.saw(turn_context.activity.from_property)
            await self._references.record(turn_context.activity)
            await super().on_turn(turn_context)
            # Saved once, after the turn: a turn that fails leaves the dialog where the last good turn left it.
            await self._conversation_state.save_changes(turn_context)

    async def _short_fact_answer(self, dialog_context: DialogContext, text: str) -> bool:
        active = dialog_context.active_dialog
        if active is None:
            return False
        dialog = await self._dialogs.find(active.id)
        check = getattr(dialog, "is_short_fact_answer", None)
        return bool(check is not None and check(active.state or {}, text))

    # Messages -------------------------------------------------------------------------------------------

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if not addressed_to_bot(activity):
            return
        text = typed_text(activity)
        routed = self._router.route(text)
        reading: Reading | None = None
        dialog_context = await self._dialogs.create_context(turn_context)
        if self._safety_net is not None and text and not self._answered_with_help(routed, activity):
            # Before anything else, whatever dialog the person is in: danger gets an answer first. A known
            # command ("help", a menu button) or a short answer to a factual question ("Where?") needs only the
            # lexicon; everything else is read by the model too.
            words_only = routed.exact or await self._short_fact_answer(dialog_context, text)
            reading = await self._safety_net.check(turn_context, text, use_model=not words_only)

        if routed.intent is Intent.HELP:
            if not is_personal(activity):
                await self._group_help.help(turn_context)  # the commands of this chat or channel
                return
            if dialog_context.active_dialog is None:
                # What Safe Space can do, said and shown as buttons, in one message.
                await self._send_menu(turn_context, intro=self._texts.get("help.text"), everything=True)
                return
            await turn_context.send_activity(self._texts.get("help.text"))
            await dialog_context.reprompt_dialog()
            return
        if not is_personal(activity) and (command := self._group_command(text)) is not None:
            handler, rest = command
            if await handler(turn_context, rest) is not False:
                return
        if self._channels is not None and not is_personal(activity) and routed.intent is Intent.REGISTER_CHANNEL:
            await self._channels.register(turn_context)
            return
        if routed.intent in (Intent.CANCEL, Intent.MENU) and not self._keeps_drafts(dialog_context):
            if dialog_context.active_dialog is not None:
                await dialog_context.cancel_all_dialogs()
                if not turn_context.turn_state.get(CANCEL_HANDLED):
                    await turn_context.send_activity(self._texts.get("cancel.done"))
            elif routed.intent is Intent.CANCEL:
                await turn_context.send_activity(self._texts.get("cancel.nothing"))
            await self._send_menu(turn_context)
            return
        if dialog_context.active_dialog is not None:
            flow = self._flows.get(dialog_context.stack[-1].id) if dialog_context.stack else None
            result = await dialog_context.continue_dialog()
            if result.status == DialogTurnStatus.Complete:
                if flow is not None and flow.on_complete is not None:
                    await flow.on_complete(turn_context, result.result)
                await self._send_menu(turn_context)
            return
        match: QuestionMatch | None = None
        if routed.intent is Intent.UNKNOWN and self._answers is not None and text:
            match = self._answers.match(text)
            if match.answer is not None and match.answer.action is None:
                await turn_context.send_activity(self._answers.answer(match.answer))
                return
            if match.answer is not None:
                flow_id = ACTION_FLOWS.get(match.answer.action or "")
                if flow_id is None or flow_id not in self._flows:
                    await self._send_menu(turn_context)
                    return
                routed = Routed(Intent.FLOW, flow_id)
        if routed.intent is Intent.FLOW and routed.flow_id is not None:
            flow = self._flows[routed.flow_id]
            roles = await self._roles.roles_of(aad_object_id(activity))
            if conversation_type(activity) in flow.scopes and flow.allowed_for(roles):
                handled = flow.start_override is not None and await flow.start_override(
                    turn_context, roles, routed.argument
                )
                if not handled and flow.dialog is not None:
                    await dialog_context.begin_dialog(flow.id, {"argument": routed.argument})
                return
            if flow.on_refused is not None and conversation_type(activity) in flow.scopes:
                await flow.on_refused(turn_context, roles, routed.argument)  # told kindly, and recorded
                return
            if flow.refuse is not None and not flow.allowed_for(roles):
                await flow.refuse(turn_context)
                return
            if not is_personal(activity) and PERSONAL in flow.scopes:
                # A 1:1 feature asked for in a group ("@Safe Space report"): point the way, with a button to go.
                await self._group_help.private_only(turn_context, flow.id)
                return
        if routed.intent is Intent.GREETING:
            await self._send_menu(turn_context)
            return
        if routed.intent in (Intent.THANKS, Intent.BYE):
            await turn_context.send_activity(self._texts.get(f"small_talk.{routed.intent.value}"))
            return
        if self._follow_ups is not None and (reading is None or reading.severity is not Severity.HIGH):
            # A line sent after a report ("oh and he said..."): it joins that report, and the person is told. A
            # high-risk line has already reached the team through the safety net.
            if await self._follow_ups.add(turn_context, text):
                return
        if reading is not None and reading.flagged:
            return  # the safety net has already answered, with help that fits
        await self._not_understood(turn_context, text, reading, match)

    async def _not_understood(
        self, turn_context: TurnContext, text: str, reading: Reading | None, match: QuestionMatch | None
    ) -> None:
        """Never a bare "didn't understand": a check-in when it sounds hard, otherwise the closest and the menu."""
        if self._answers is None or not is_personal(turn_context.activity):
            # In a group, say so briefly and show what can be done there; suggestions are for 1:1 chats.
            await turn_context.send_activity(self._texts.get("fallback.group"))
            await self._send_menu(turn_context)
            return
        if reading is not None and reading.distressed and is_personal(turn_context.activity):
            await turn_context.send_activity(self._answers.check_in())
            return
        if match is not None and match.suggestions:
            await turn_context.send_activity(self._answers.suggestions(match.suggestions, "did_you_mean"))
            return
        await turn_context.send_activity(self._answers.closest(text, match))

    def _answered_with_help(self, routed: Routed, activity: Activity) -> bool:
        """A known command for a supportive flow this chat can run ("who can I talk to about self_harm", tapped):
        its answer is 999 and people to talk to already, so the safety net's card would only say it again."""
        flow = self._flows.get(routed.flow_id or "") if routed.exact and routed.intent is Intent.FLOW else None
        return flow is not None and flow.supportive and conversation_type(activity) in flow.scopes

    def _keeps_drafts(self, dialog_context: DialogContext) -> bool:
        """Whether the flow under way handles "back", "menu" and "cancel" itself (the report keeps its draft)."""
        flow = self._flows.get(dialog_context.stack[-1].id) if dialog_context.stack else None
        return flow is not None and flow.handles_interruptions

    def _group_command(self, text: str) -> tuple[GroupCommand, str] | None:
        said = normalise(text)
        for command, handler in self._group_commands.items():
            if said == command or said.startswith(command + " "):
                return handler, said[len(command) :].strip()
        return None

    async def _send_menu(
        self, turn_context: TurnContext, intro: str | None = None, *, everything: bool = False
    ) -> None:
        """The menu; with `everything` (help), also what the menu leaves out ("my reports"), and no Help button."""
        activity = turn_context.activity
        kind = conversation_type(activity)
        roles = await self._roles.roles_of(aad_object_id(activity))
        entries = [
            MenuEntry(label=flow.menu_label, command=flow.command)
            for flow in self._flows.values()
            if (flow.in_menu or (everything and flow.in_help)) and kind in flow.scopes and flow.allowed_for(roles)
        ]
        if not everything:
            entries.append(MenuEntry(label=self._texts.get("menu.entries.help"), command="help"))
        card = menu_card(self._texts.get("menu.title"), intro or self._texts.get("menu.hint"), entries)
        await turn_context.send_activity(MessageFactory.attachment(CardFactory.adaptive_card(card)))
        for flow in self._flows.values():
            # Beside the menu, what is waiting: "You have an unfinished report: carry on / don't send it".
            if flow.menu_notice is not None and kind in flow.scopes:
                notice = await flow.menu_notice(turn_context)
                if notice is not None:
                    await turn_context.send_activity(notice)

    async def on_pause(self, turn_context: TurnContext) -> None:
        """A turn Safe Space runs itself after someone went quiet mid-dialog (dialogs/pauses.py): the dialog hears
        of it, under the conversation's turn lock, and its state is saved as after any turn."""
        conversation = turn_context.activity.conversation
        async with self._turn_locks.hold(conversation.id if conversation else ""):
            dialog_context = await self._dialogs.create_context(turn_context)
            if dialog_context.active_dialog is not None:
                await dialog_context.continue_dialog()
            await self._conversation_state.save_changes(turn_context)

    # Installation and membership -------------------------------------------------------------------------

    async def on_teams_members_added_dispatch(
        self, members_added: list[ChannelAccount], team_info: Any, turn_context: TurnContext
    ) -> None:
        try:
            await super().on_teams_members_added_dispatch(members_added, team_info, turn_context)
        except Exception as exc:
            # botbuilder looks up each new member before our handler runs; if Teams fails that look-up in the
            # safeguarding channel, nobody knows who joined: the channel must fail closed, not carry on.
            if self._channels is not None and not is_personal(turn_context.activity):
                await self._channels.joined_but_unreadable(turn_context, exc)
            if not isinstance(exc, ErrorResponseException):
                raise
            # Anywhere else nothing depends on who exactly joined, and Teams not finding a member (gone again at
            # once) must not fail the turn: carry on with what the event says (found by fuzzing, issue 12).
            log.warning("could not look up a member who joined %s", conversation_tag(turn_context.activity))
            await self.on_members_added_activity(members_added, turn_context)

    async def on_members_added_activity(self, members_added: list[ChannelAccount], turn_context: TurnContext) -> None:
        activity = turn_context.activity
        bot_id = activity.recipient.id if activity.recipient else None
        if not any(member.id == bot_id for member in members_added):
            if self._channels is not None and not is_personal(activity):
                await self._channels.members_added(turn_context)
            return
        if is_personal(activity):
            name = activity.from_property.name if activity.from_property else None
            first = (name or "there").split(" ")[0]
            await turn_context.send_activity(self._texts.get("welcome.personal", name=escape_markdown(first)))
            await self._send_menu(turn_context)
        else:
            await turn_context.send_activity(self._texts.get("welcome.group"))

    # Invokes --------------------------------------------------------------------------------------------

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        name = turn_context.activity.name
        if name == "adaptiveCard/action":
            body = await self._card_actions.dispatch(turn_context, turn_context.activity.value)
            return InvokeResponse(status=200, body=body)
        if name in ("task/fetch", "task/submit"):
            # No task modules yet: answer with a message so Teams shows something kind, never an error.
            return InvokeResponse(
                status=200, body={"task": {"type": "message", "value": self._texts.get("errors.invoke")}}
            )
        try:
            response: InvokeResponse | None = await super().on_invoke_activity(turn_context)
        except Exception:  # botbuilder signals "not implemented" with a private exception type
            response = None
        if response is None or response.status >= 500:
            log.info("unsupported invoke %r", name)
            return InvokeResponse(status=400, body=error_body(400, "This action is not supported."))
        return response
