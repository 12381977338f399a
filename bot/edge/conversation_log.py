"""Middleware that writes every activity in and out of a turn to the conversation log.

A case card is logged as a reference (case id and the version it was drawn from), not its content: the case
store already holds the case and its chronology, and a full copy of the card on every DSO action would spread
what a reporter wrote across the log, once per press.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from botbuilder.core import InvokeResponse, Middleware, TurnContext
from botbuilder.schema import Activity, ActivityTypes, Attachment

from bot.edge.card_actions import CARD_RESPONSE
from bot.edge.teams_context import addressed_to_bot, conversation_type, is_proactive
from storage.batch_writer import LogBatcher
from storage.models import ConversationLogBase

log = logging.getLogger(__name__)


_ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
_CASE_VERB_PREFIX = "case."


def case_card_reference(card: Any) -> dict[str, int] | None:
    """{"case_id", "version"} when `card` is a case card (its buttons act on a case), else None."""
    stack = [card]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            data = node.get("data")
            verb = node.get("verb")
            if (
                node.get("type") == "Action.Execute"
                and isinstance(verb, str)
                and verb.startswith(_CASE_VERB_PREFIX)
                and isinstance(data, dict)
                and isinstance(data.get("case_id"), int)
                and isinstance(data.get("version"), int)
            ):
                return {"case_id": data["case_id"], "version": data["version"]}
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return None


def _plain(value: Any) -> Any:
    """JSON-ready data without msrest's serializer, which costs more than the rest of the logging."""
    if isinstance(value, Attachment):
        if value.content_type == _ADAPTIVE_CARD and (reference := case_card_reference(value.content)) is not None:
            return {"contentType": value.content_type, "case_card": reference, "name": value.name}
        return {"contentType": value.content_type, "content": value.content, "name": value.name}
    if isinstance(value, InvokeResponse):
        return {"status": value.status, "body": _plain(value.body)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "serialize"):
        return value.serialize()
    return str(value)


def _payload(activity: Activity) -> str | None:
    """Cards, submitted values and invoke bodies: what the text alone does not show."""
    extra: dict[str, Any] = {}
    if activity.type == ActivityTypes.invoke_response:
        value = _plain(activity.value)
        body = value.get("body") if isinstance(value, dict) else None
        if isinstance(body, dict) and body.get("type") == CARD_RESPONSE:
            # The pressed card redrawn for the presser: a case card is kept as its reference only.
            if (reference := case_card_reference(body.get("value"))) is not None:
                value["body"] = {**body, "value": {"case_card": reference}}
        extra.update(value if isinstance(value, dict) else {"body": value})
    else:
        if activity.value is not None:
            extra["value"] = _plain(activity.value)
        if activity.name:
            extra["name"] = activity.name
        if activity.attachments:
            extra["attachments"] = _plain(activity.attachments)
        if activity.members_added:
            extra["members_added"] = [m.id for m in activity.members_added]
    return json.dumps(extra, ensure_ascii=False) if extra else None


def entry_for(activity: Activity, direction: str, conversation: Activity | None = None) -> ConversationLogBase:
    """One log row. `conversation` supplies ids an outgoing activity may lack (invoke responses carry none)."""
    source = conversation or activity
    person = activity.from_property if direction == "in" else source.from_property
    aad_id = (person.aad_object_id or "").lower() if person else ""
    return ConversationLogBase(
        conversation_id=(source.conversation.id if source.conversation else "") or "",
        direction=direction,
        activity_type=str(getattr(activity.type, "value", activity.type) or ""),
        activity_id=activity.id,
        reply_to_id=activity.reply_to_id,
        channel_id=str(source.channel_id or ""),
        conversation_type=conversation_type(source),
        user_id=person.id if person else None,
        user_aad_id=aad_id or None,
        user_name=person.name if person else None,
        text=activity.text,
        payload=_payload(activity),
    )


OUTBOUND_LOG_KEY = "safespace.outbound_log"


class OutboundLog:
    """Collects what the adapter sent during a turn, with the ids the connector gave each message.

    botbuilder's on_send_activities hooks run before the send and never see the connector's response, so the
    adapter itself records here (see SafeSpaceAdapter.send_activities).
    """

    def __init__(self, inbound: Activity, entries: list[ConversationLogBase]) -> None:
        self._inbound = inbound
        self.entries = entries

    def sent(self, activity: Activity, activity_id: str | None) -> None:
        entry = entry_for(activity, "out", self._inbound)
        entry.activity_id = activity_id or entry.activity_id
        self.entries.append(entry)

    def updated(self, activity: Activity) -> None:
        entry = entry_for(activity, "out", self._inbound)
        entry.activity_type = "messageUpdate"
        self.entries.append(entry)


class ConversationLogMiddleware(Middleware):  # type: ignore[misc]
    """The inbound activity is committed before the bot acts on it, so a crash mid-turn loses no words."""

    def __init__(self, writer: LogBatcher) -> None:
        self._writer = writer

    async def on_turn(self, context: TurnContext, logic: Callable[[], Awaitable[None]]) -> None:
        inbound = context.activity
        if not addressed_to_bot(inbound):
            # Channel chatter not meant for the bot is none of its business: neither answered nor kept.
            await logic()
            return
        if not is_proactive(inbound):
            await self._writer.write([entry_for(inbound, "in")])

        outbound: list[ConversationLogBase] = []
        context.turn_state[OUTBOUND_LOG_KEY] = OutboundLog(inbound, outbound)
        try:
            await logic()
        finally:
            if outbound:
                try:
                    await self._writer.write(outbound)
                except Exception:
                    # The person already has these replies; failing the turn now would only add confusion.
                    log.exception("could not log %d outgoing activities", len(outbound))
