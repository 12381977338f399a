"""What each turn did, for the log and /metrics: an id, the conversation's hash, its outcome and how long it took.

Runs as the outermost middleware, so its time covers the conversation log, state, the bot and every reply sent.
The turn's tag stays set while the adapter's turn-error handler runs, so "turn failed" lines carry it too.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from botbuilder.core import BotAdapter, Middleware, TurnContext

from bot.edge.metrics import Metrics, turn_kind
from bot.edge.structured_log import TurnTag, current_turn
from bot.edge.teams_context import conversation_tag, is_proactive

log = logging.getLogger(__name__)

TURN_TAG_KEY = "safespace.turn_tag"
PROACTIVE = "proactive"  # a turn the bot started itself (a card delivered, a reminder): counted apart from people's


class TurnObserver(Middleware):  # type: ignore[misc]
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def install(self, adapter: BotAdapter) -> None:
        """First in the adapter's middleware, and around its turn-error handler."""
        adapter.use(self)
        handler: Callable[[TurnContext, Exception], Awaitable[None]] | None = adapter.on_turn_error
        if handler is None:
            return

        async def on_turn_error(context: TurnContext, error: Exception) -> None:
            token = current_turn.set(context.turn_state.get(TURN_TAG_KEY))
            try:
                await handler(context, error)
            finally:
                current_turn.reset(token)

        adapter.on_turn_error = on_turn_error

    async def on_turn(self, context: TurnContext, logic: Callable[[], Awaitable[None]]) -> None:
        activity = context.activity
        tag = TurnTag(turn_id=uuid.uuid4().hex[:16], conversation=conversation_tag(activity))
        context.turn_state[TURN_TAG_KEY] = tag
        # Clamped to the known types: a client chooses the type, and it must not put words into the log.
        kind = PROACTIVE if is_proactive(activity) else turn_kind(activity.type)
        token = current_turn.set(tag)
        started = time.perf_counter()
        failed = True
        try:
            await logic()
            failed = False
        finally:
            seconds = time.perf_counter() - started
            self._metrics.turn(kind, seconds, failed=failed)
            outcome = "error" if failed else "ok"
            log.log(
                logging.WARNING if failed else logging.INFO,
                "turn %s %s in %.1f ms",
                kind,
                outcome,
                seconds * 1000,
                extra={"activity_type": kind, "outcome": outcome, "turn_ms": round(seconds * 1000, 2)},
            )
            current_turn.reset(token)
