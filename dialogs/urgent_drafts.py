"""An urgent report left silent: the dialog asks for its draft to be watched, and the bot runs a turn for it later.

A learner who said someone may be in danger and then closes Teams sends no "cancel" and no "menu". While such a
report is being written the dialog keeps it watched; if nothing arrives for a while the bot runs a turn of its own
for that conversation with `SILENT` in the turn state, and the dialog sends the draft on as an incomplete urgent
case and tells the learner.
"""

from __future__ import annotations

from typing import Final, Protocol

from botbuilder.core import TurnContext

# turn_state key: present only on the turn the bot runs itself once an urgent draft has gone silent.
SILENT: Final = "safespace.silent"


class UrgentWatch(Protocol):
    async def arm(self, context: TurnContext) -> None:
        """Send this conversation's draft on if nothing more arrives for a while (replacing any earlier watch)."""
        ...

    async def disarm(self, context: TurnContext) -> None:
        """Nothing is to be sent on this conversation's behalf any more."""
        ...
