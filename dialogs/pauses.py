"""A pause in what someone is typing: a dialog asks to hear of it, and the bot runs a turn for it a little later.

People type in bursts ("so basically", then the story over three messages). A dialog that collects such a burst
cannot tell from one message whether more is coming; it asks to be told when the person has gone quiet. The bot
then runs a turn of its own for that conversation, with `PAUSED` in the turn state holding the token the dialog
asked with, so the dialog can tell whether anything has arrived since (and stay quiet if so).
"""

from __future__ import annotations

from typing import Final, Protocol

from botbuilder.core import TurnContext

# turn_state key: present only on a turn the bot runs itself after a pause; its value is the dialog's token.
PAUSED: Final = "safespace.paused"


class Pauses(Protocol):
    def after_pause(self, context: TurnContext, token: str) -> None:
        """Run a turn for this conversation once nothing more has arrived for a while (replacing any earlier ask)."""
        ...

    def forget(self, context: TurnContext) -> None:
        """The dialog no longer wants to hear of a pause in this conversation."""
        ...
