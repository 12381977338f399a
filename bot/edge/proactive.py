"""Messages the bot starts itself: case cards in the safeguarding channel, 1:1 notes, card updates.

Works without a turn (from the delivery worker) and in local mode, where botbuilder's TeamsInfo helpers
refuse to run without an app id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.schema import Activity, ChannelAccount, ConversationParameters, ConversationReference, Mention
from botbuilder.schema.teams import TeamsChannelAccount
from msrest.exceptions import ClientRequestError, HttpOperationError

from bot.edge.adapter import SafeSpaceAdapter
from bot.edge.sender import ConnectorError, parse_retry_after

RETRYABLE_STATUSES = frozenset({408, 412, 429, 500, 502, 503, 504})


class DeliveryError(Exception):
    """Teams did not take the message. `retryable` says whether trying again later can help."""

    def __init__(self, message: str, *, status: int | None, retry_after: float | None, retryable: bool) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.retryable = retryable


def _retryable(status: int | None) -> bool:
    # No HTTP answer at all (None, or msrest's 0) is as retryable as a 5xx.
    return not status or status in RETRYABLE_STATUSES or status >= 500


def delivery_error(exc: BaseException) -> DeliveryError:
    """Classify what the connector said. Unknown failures are retried: a message must never be dropped."""
    if isinstance(exc, ConnectorError):
        return DeliveryError(str(exc), status=exc.status, retry_after=exc.retry_after, retryable=_retryable(exc.status))
    if isinstance(exc, HttpOperationError) and exc.response is not None:
        status = int(getattr(exc.response, "status_code", 0) or 0)
        headers = getattr(exc.response, "headers", None)
        return DeliveryError(
            f"HTTP {status}: {exc}",
            status=status,
            retry_after=parse_retry_after(headers.get("Retry-After") if headers is not None else None),
            retryable=_retryable(status),
        )
    if isinstance(exc, ClientRequestError | TimeoutError | OSError):
        return DeliveryError(f"connection failed: {exc}", status=None, retry_after=None, retryable=True)
    return DeliveryError(f"{type(exc).__name__}: {exc}", status=None, retry_after=None, retryable=True)


@dataclass(frozen=True, slots=True)
class Posted:
    conversation_id: str
    activity_id: str


class Messenger:
    def __init__(self, adapter: SafeSpaceAdapter, app_id: str) -> None:
        self._adapter = adapter
        self._app_id = app_id or None

    async def start_channel_thread(
        self, *, service_url: str, channel_id: str, tenant_id: str | None, activity: Activity
    ) -> Posted:
        """A new thread in a Teams channel: each case gets its own, so its replies stay together."""
        posted: dict[str, str] = {}

        async def capture(context: TurnContext) -> None:
            posted["conversation_id"] = context.activity.conversation.id
            posted["activity_id"] = context.activity.id or ""

        params = ConversationParameters(
            is_group=True, channel_data={"channel": {"id": channel_id}}, activity=activity, tenant_id=tenant_id
        )
        try:
            await self._adapter.create_conversation(self._app_id or "", capture, params, "msteams", service_url, None)
        except Exception as exc:
            raise delivery_error(exc) from exc
        conversation_id = posted["conversation_id"]
        activity_id = posted["activity_id"] or conversation_id.partition(";messageid=")[2]
        return Posted(conversation_id=conversation_id, activity_id=activity_id)

    async def open_personal_chat(
        self, *, service_url: str, tenant_id: str | None, aad_object_id: str, user_id: str | None = None
    ) -> ConversationReference:
        """The bot's 1:1 chat with someone in the tenant who has never written to it, created if need be.

        Teams takes the Teams user id (29:...) or the Entra object id; it answers with the existing chat when there
        is one. Raises DeliveryError when Teams refuses (the app is not available to that person, say).
        """
        opened: dict[str, str] = {}

        async def capture(context: TurnContext) -> None:
            opened["conversation_id"] = context.activity.conversation.id

        params = ConversationParameters(
            is_group=False,
            members=[ChannelAccount(id=user_id or aad_object_id, aad_object_id=aad_object_id)],
            tenant_id=tenant_id,
            channel_data={"tenant": {"id": tenant_id}} if tenant_id else None,
        )
        try:
            await self._adapter.create_conversation(self._app_id or "", capture, params, "msteams", service_url, None)
        except Exception as exc:
            raise delivery_error(exc) from exc
        reference = reference_for(
            opened["conversation_id"], service_url, tenant_id=tenant_id, conversation_type="personal"
        )
        reference.user = ChannelAccount(id=user_id or aad_object_id, aad_object_id=aad_object_id)
        return reference

    async def send(self, reference: ConversationReference, activity: Activity) -> Posted:
        """Into an existing conversation: a 1:1 chat, a group chat, or a reply in a case thread."""
        posted: dict[str, str] = {}

        async def send(context: TurnContext) -> None:
            response = await context.send_activity(activity)
            posted["activity_id"] = response.id if response else ""

        try:
            await self._adapter.continue_conversation(reference, send, self._app_id)
        except Exception as exc:
            raise delivery_error(exc) from exc
        return Posted(conversation_id=reference.conversation.id, activity_id=posted.get("activity_id", ""))

    async def update(self, reference: ConversationReference, activity_id: str, activity: Activity) -> None:
        async def update(context: TurnContext) -> None:
            activity.id = activity_id
            activity.conversation = reference.conversation
            await context.update_activity(activity)

        try:
            await self._adapter.continue_conversation(reference, update, self._app_id)
        except Exception as exc:
            raise delivery_error(exc) from exc

    async def roster(self, reference: ConversationReference, team_id: str | None) -> list[TeamsChannelAccount]:
        """Everyone who can see a conversation, read from Teams outside any turn. Raises DeliveryError."""
        members: list[TeamsChannelAccount] = []

        async def read(context: TurnContext) -> None:
            # TeamsInfo reads the team's roster when the activity names a team, as it does inside a turn there.
            context.activity.channel_data = {"team": {"id": team_id}} if team_id else {}
            members.extend(await read_roster(context))

        try:
            await self._adapter.continue_conversation(reference, read, self._app_id)
        except Exception as exc:
            raise delivery_error(exc) from exc
        return members


async def read_roster(context: TurnContext) -> list[TeamsChannelAccount]:
    """Everyone who can see the turn's conversation (its team's roster when the activity names a team), every page."""
    members: list[TeamsChannelAccount] = []
    token = None
    while True:
        page = await TeamsInfo.get_paged_members(context, token, 200)
        members.extend(page.members or [])
        token = page.continuation_token
        if not token:
            return members


def reference_from_json(text: str) -> ConversationReference:
    return ConversationReference().deserialize(json.loads(text))


def reference_for(
    conversation_id: str, service_url: str, *, tenant_id: str | None = None, conversation_type: str = "channel"
) -> ConversationReference:
    return ConversationReference().deserialize(
        {
            "channelId": "msteams",
            "serviceUrl": service_url,
            "conversation": {
                "id": conversation_id,
                "conversationType": conversation_type,
                "tenantId": tenant_id,
                "isGroup": conversation_type != "personal",
            },
            "bot": {"id": "safe-space", "name": "Safe Space"},
        }
    )


def activity_from_payload(data: dict[str, Any]) -> Activity:
    """Rebuild a stored activity. Entities come back as plain Entity objects, which serialize to their type
    alone, so mentions are rebuilt as Mention objects or Teams would receive a mention with nobody in it."""
    activity = Activity().deserialize(data)
    raw_entities = data.get("entities") or []
    if raw_entities:
        activity.entities = [
            Mention().deserialize(raw) if isinstance(raw, dict) and raw.get("type") == "mention" else entity
            for raw, entity in zip(raw_entities, activity.entities or [], strict=False)
        ]
    return activity
