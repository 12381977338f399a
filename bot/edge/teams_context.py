"""Small facts about an activity that depend on how Teams shapes it."""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import quote

from botbuilder.schema import Activity, ActivityEventNames, ActivityTypes

PERSONAL = "personal"
# Set in turn_state by a flow that has already told the person what cancelling did.
CANCEL_HANDLED = "safespace.cancel_handled"


def conversation_type(activity: Activity) -> str:
    conversation = activity.conversation
    return (conversation.conversation_type if conversation else None) or PERSONAL


def is_personal(activity: Activity) -> bool:
    return conversation_type(activity) == PERSONAL


def _bot_mentions(activity: Activity) -> list[dict[str, Any]]:
    """The mention entities that name this bot. Tolerates malformed entities rather than failing the turn."""
    recipient_id = activity.recipient.id if activity.recipient else None
    found = []
    for entity in activity.entities or []:
        if str(getattr(entity, "type", "") or "").lower() != "mention":
            continue
        props: dict[str, Any] = entity.additional_properties or {}
        mentioned = props.get("mentioned")
        if recipient_id and isinstance(mentioned, dict) and mentioned.get("id") == recipient_id:
            found.append(props)
    return found


def mentions_bot(activity: Activity) -> bool:
    return bool(_bot_mentions(activity))


def strip_bot_mention(activity: Activity) -> str:
    """The message text with the bot's own <at>name</at> removed (other people's mentions stay)."""
    text = activity.text or ""
    for props in _bot_mentions(activity):
        mention_text = props.get("text")
        if isinstance(mention_text, str) and mention_text:
            text = text.replace(mention_text, " ")
    return re.sub(r"\s+", " ", text).strip()


def addressed_to_bot(activity: Activity) -> bool:
    """In channels and group chats the bot answers, and records, only messages that @mention it."""
    if activity.type != ActivityTypes.message or is_personal(activity):
        return True
    return mentions_bot(activity)


def typed_text(activity: Activity) -> str:
    """What the person said: the text without the @mention, or what an imBack button typed for them."""
    value = activity.value if isinstance(activity.value, dict) else None
    if value:
        msteams = value.get("msteams")
        if isinstance(msteams, dict) and isinstance(msteams.get("value"), str):
            return str(msteams["value"]).strip()
    text = activity.text or ""
    if not is_personal(activity):
        text = strip_bot_mention(activity)
    return text.replace("\xa0", " ").strip()


def aad_object_id(activity: Activity) -> str | None:
    sender = activity.from_property
    return (sender.aad_object_id or None) if sender else None


def tenant_id(activity: Activity) -> str | None:
    """The tenant an activity came from: the conversation's, else Teams' channelData.tenant.id."""
    if activity.conversation and activity.conversation.tenant_id:
        return str(activity.conversation.tenant_id)
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    tenant = data.get("tenant")
    return str(tenant["id"]) if isinstance(tenant, dict) and tenant.get("id") else None


def is_proactive(activity: Activity) -> bool:
    """A turn the bot started itself (continue_conversation or create_conversation), not a person."""
    return activity.type == ActivityTypes.event and activity.name in (
        ActivityEventNames.continue_conversation,
        ActivityEventNames.create_conversation,
    )


def conversation_tag(activity: Activity) -> str:
    """A short, stable stand-in for the conversation in logs: a 1:1 chat's id can carry the person's id."""
    conversation_id = activity.conversation.id if activity.conversation and activity.conversation.id else ""
    return "conv-" + hashlib.sha256(conversation_id.encode()).hexdigest()[:12] if conversation_id else "conv-?"


# Microsoft Learn, Teams deep links to a chat: "use the bot ID prefixed with 28: in place of an email address", and the
# link opens (or starts) the person's 1:1 chat with that bot.
_CHAT_LINK = "https://teams.microsoft.com/l/chat/0/0?users="


def private_chat_link(activity: Activity) -> str | None:
    """A link that opens the sender's 1:1 chat with this bot, from the bot's own id as Teams addressed it."""
    bot_id = (activity.recipient.id if activity.recipient else None) or ""
    if not bot_id.startswith("28:"):
        return None  # not a Teams bot id (an emulator, say): no link rather than a broken one
    return _CHAT_LINK + quote(bot_id, safe=":")
