"""The sweeper for urgent reports left silent (dialogs/urgent_drafts.py says why), on whichever instance runs.

The watch is a row in the case store, not a timer in one process: a restart, or the learner's next message landing
on another instance, changes nothing. Every instance looks for silent drafts; each is claimed by exactly one
(storage/urgent_drafts.py), which runs the bot's own turn for that conversation through the adapter. That turn
holds the conversation's turn lock and reads and saves dialog state as a person's turn does, so the report dialog
itself sends the draft on (as when a learner stops or goes to the menu) and tells the learner in their chat. If
the instance dies mid-way the claim runs out and another sends it; the case is created under the draft's own action
id, so it is never made twice.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Awaitable, Callable

from botbuilder.core import TurnContext
from botbuilder.schema import ConversationReference

from bot.edge.adapter import SafeSpaceAdapter
from bot.edge.background import Periodic
from dialogs.urgent_drafts import SILENT
from storage import urgent_drafts
from storage.db import Database
from storage.types import utcnow

log = logging.getLogger(__name__)

SilentHandler = Callable[[TurnContext], Awaitable[None]]


class UrgentDrafts:
    def __init__(
        self,
        *,
        database: Database,
        adapter: SafeSpaceAdapter,
        app_id: str,
        minutes: float,
        check_seconds: float,
        lease_seconds: float = 120.0,
    ) -> None:
        self._db = database
        self._adapter = adapter
        self._app_id = app_id or None
        self._silence = dt.timedelta(minutes=minutes)
        self._lease = lease_seconds
        self._handler: SilentHandler | None = None
        self._loop = Periodic("urgent-drafts", self.run_once, check_seconds)

    def bind(self, handler: SilentHandler) -> None:
        """The bot's own turn (it runs the conversation's dialog); set once the bot exists."""
        self._handler = handler

    # UrgentWatch (for the report dialog) --------------------------------------------------------------------

    async def arm(self, context: TurnContext) -> None:
        reference = TurnContext.get_conversation_reference(context.activity)
        conversation_id = reference.conversation.id if reference.conversation else ""
        if not conversation_id:
            return
        async with self._db.sessions.begin() as session:
            await urgent_drafts.arm(
                session=session,
                conversation_id=conversation_id,
                reference=json.dumps(reference.serialize()),
                due_at=utcnow() + self._silence,
            )

    async def disarm(self, context: TurnContext) -> None:
        conversation = context.activity.conversation
        if conversation is None or not conversation.id:
            return
        async with self._db.sessions.begin() as session:
            await urgent_drafts.disarm(session=session, conversation_id=conversation.id)

    # The sweeper --------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def run_once(self, now: dt.datetime | None = None) -> int:
        """Send on every draft silent past its time that this instance claims. Returns how many it tried."""
        handler = self._handler
        if handler is None:
            return 0
        async with self._db.sessions.begin() as session:
            due = await urgent_drafts.claim_due(session=session, now=now or utcnow(), lease_seconds=self._lease)
        for row in due:
            reference = ConversationReference().deserialize(json.loads(row.reference))

            async def run(context: TurnContext) -> None:
                context.turn_state[SILENT] = True
                await handler(context)

            try:
                await self._adapter.continue_conversation(reference, run, self._app_id)
            except Exception:
                # Left claimed: once the claim runs out this (or another) instance tries again.
                log.exception("could not send on a silent urgent draft; will try again")
                continue
            async with self._db.sessions.begin() as session:
                await urgent_drafts.finish(session=session, conversation_id=row.conversation_id, due_at=row.due_at)
        return len(due)
