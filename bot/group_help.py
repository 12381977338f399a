"""Finding your way in a group chat or channel: what Safe Space can do there, and the way to a private chat.

"@Safe Space help" lists the commands of the place it is asked in: in the safeguarding team's channel, what the team
does there; anywhere else the live quiz, and for a DSO how to register a channel. What belongs in a 1:1 chat
("report", "my reports") gets a short "message me privately" with a button that opens that chat, rather than "Sorry,
I'm not sure what you meant".
"""

from __future__ import annotations

from botbuilder.core import CardFactory, MessageFactory, TurnContext

from bot.edge.teams_context import aad_object_id, private_chat_link
from bot.safeguarding.channel import SafeguardingChannels
from cards.elements import Card
from cards.group_card import group_card
from content.texts import Texts
from dialogs.roles import Role, RoleDirectory

REQUIRED_TEXTS = (
    *(
        f"groups.help.{key}"
        for key in ("title", "intro", "cases", "register", "quiz", "end_quiz", "help", "private", "records")
    ),
    "groups.private.button",
    "groups.private.other",
)


class GroupHelp:
    def __init__(self, *, texts: Texts, roles: RoleDirectory, channels: SafeguardingChannels | None) -> None:
        texts.require(*REQUIRED_TEXTS)
        self._texts = texts
        self._roles = roles
        self._channels = channels

    def _t(self, key: str) -> str:
        return self._texts.get(f"groups.{key}")

    def _link(self, context: TurnContext) -> tuple[str, str] | None:
        url = private_chat_link(context.activity)
        return (self._t("private.button"), url) if url else None

    async def help(self, context: TurnContext) -> None:
        """The commands of this place, and the way to a private chat for everything else."""
        lines = [self._t("help.intro")]
        if self._channels is not None and await self._channels.is_registered_here(context):
            # The safeguarding team's own channel: its work is on the case cards, not the quiz.
            lines += [self._t("help.cases"), self._t("help.register")]
        else:
            lines += [self._t("help.quiz"), self._t("help.end_quiz")]
            if self._texts.has("voice.debates.help"):
                lines.append(self._texts.get("voice.debates.help"))  # debate polls (bot/voice/debates.py)
            if Role.DSO in await self._roles.roles_of(aad_object_id(context.activity)):
                lines.append(self._t("help.register"))  # how a DSO makes a place the safeguarding channel
        lines += [self._t("help.help"), self._t("help.private")]
        card = group_card(
            lines, title=self._t("help.title"), footnote=self._t("help.records"), link=self._link(context)
        )
        await _send(context, card)

    async def private_only(self, context: TurnContext, flow_id: str) -> None:
        """A feature of the 1:1 chat asked for in a group: say where it is, with a button that opens that chat."""
        key = f"groups.private.{flow_id}"
        text = self._texts.get(key) if self._texts.has(key) else self._t("private.other")
        await _send(context, group_card([text], link=self._link(context)))


async def _send(context: TurnContext, card: Card) -> None:
    await context.send_activity(MessageFactory.attachment(CardFactory.adaptive_card(card)))
