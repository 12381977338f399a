"""Turns the bot runs itself once someone has gone quiet mid-dialog (dialogs/pauses.py says why).

One timer per conversation, in this process: a newer request replaces it, and a turn that has started is never
cancelled half-way. The turn goes through the adapter like any proactive turn, so it holds the conversation's turn
lock and reads and saves dialog state as a person's turn does; if the process stops first, nothing is lost: the
dialog simply has not heard of the pause, and the person's next message carries on as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from botbuilder.core import TurnContext
from botbuilder.schema import ConversationReference

from bot.edge.adapter import SafeSpaceAdapter
from bot.edge.teams_context import conversation_tag
from dialogs.pauses import PAUSED

log = logging.getLogger(__name__)

PauseHandler = Callable[[TurnContext], Awaitable[None]]


class PauseTurns:
    def __init__(self, adapter: SafeSpaceAdapter, app_id: str, seconds: float) -> None:
        self._adapter = adapter
        self._app_id = app_id or None
        self._seconds = seconds
        self._handler: PauseHandler | None = None
        self._waiting: dict[str, asyncio.Task[None]] = {}  # conversation id -> its timer, only while it sleeps

    def bind(self, handler: PauseHandler) -> None:
        """The bot's pause turn (it runs the conversation's dialog); set once the bot exists."""
        self._handler = handler

    def after_pause(self, context: TurnContext, token: str) -> None:
        reference = TurnContext.get_conversation_reference(context.activity)
        key = reference.conversation.id if reference.conversation else ""
        if not key:
            return
        self._cancel(key)
        self._waiting[key] = asyncio.create_task(self._later(key, reference, token), name="pause-turn")

    def forget(self, context: TurnContext) -> None:
        conversation = context.activity.conversation
        if conversation is not None and conversation.id:
            self._cancel(conversation.id)

    async def stop(self) -> None:
        tasks = list(self._waiting.values())
        self._waiting.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _cancel(self, key: str) -> None:
        task = self._waiting.pop(key, None)
        if task is not None:
            task.cancel()

    async def _later(self, key: str, reference: ConversationReference, token: str) -> None:
        await asyncio.sleep(self._seconds)
        # From here on the turn runs to the end: a newer request no longer cancels this one, it starts its own.
        if self._waiting.get(key) is asyncio.current_task():
            del self._waiting[key]
        handler = self._handler
        if handler is None:
            return

        async def run(context: TurnContext) -> None:
            context.turn_state[PAUSED] = token
            await handler(context)

        try:
            await self._adapter.continue_conversation(reference, run, self._app_id)
        except Exception:
            # A check-in that never came is a small loss; it must not take anything else down.
            log.exception("pause turn failed in %s", conversation_tag(context_activity(reference)))


def context_activity(reference: ConversationReference) -> object:
    """A stand-in activity for logging: conversation_tag only reads the conversation."""
    return reference.get_continuation_activity()
