"""The Bot Framework adapter: authentication, cached connector clients, replies sent on the event loop, and what
happens when a turn fails."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from botbuilder.core import CardFactory, ConversationState, InvokeResponse, MessageFactory, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity, ActivityTypes, ResourceResponse
from botframework.connector import Channels
from botframework.connector.aio import ConnectorClient

from bot.config import Settings
from bot.edge.card_actions import error_body
from bot.edge.connector_cache import CachingBotFrameworkAuthentication
from bot.edge.conversation_log import OUTBOUND_LOG_KEY
from bot.edge.sender import ConnectorSender
from bot.edge.teams_context import conversation_tag, is_proactive
from cards.signpost_card import signpost_card
from content.directory import Directory
from content.texts import Texts
from storage.db import is_unreachable

log = logging.getLogger(__name__)


# Shown when the case store cannot be reached mid-turn: the same three as a report's "someone is in danger".
OUTAGE_ENTRIES = ("emergency_999", "anti_terrorist_hotline", "samaritans")


class RetryableTurnError(Exception):
    """A turn that could not be done safely now but could be on a retry: answered 503 so Teams resends it."""


@dataclass(frozen=True)
class _BotConfiguration:
    """The attribute names botbuilder's ConfigurationBotFrameworkAuthentication reads."""

    APP_ID: str
    APP_PASSWORD: str
    APP_TYPE: str
    APP_TENANTID: str


def build_authentication(settings: Settings) -> CachingBotFrameworkAuthentication:
    configuration = _BotConfiguration(
        APP_ID=settings.app_id,
        APP_PASSWORD=settings.app_password,
        APP_TYPE=settings.app_type,
        APP_TENANTID=settings.app_tenant_id,
    )
    return CachingBotFrameworkAuthentication(ConfigurationBotFrameworkAuthentication(configuration))


class ConnectorAdapter(CloudAdapter):  # type: ignore[misc]
    """botbuilder's CloudAdapter with the two edge fixes: cached connector clients, and replies sent by
    ConnectorSender on the event loop instead of msrest + requests on a thread."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(build_authentication(settings))
        self.sender = ConnectorSender()

    async def close(self) -> None:
        await self.sender.close()

    async def authenticate_header(self, auth_header: str) -> None:
        """Check a Bot Framework token on its own, before the request body is read; raises when it is not valid.

        With credentials only Teams is served, so the signing key must be endorsed for "msteams".
        process_activity checks the token again with the activity's serviceUrl once the body is parsed.
        """
        await self.bot_framework_authentication.authenticate_streaming_request(auth_header, Channels.ms_teams)

    async def send_activities(self, context: TurnContext, activities: list[Activity]) -> list[ResourceResponse]:
        """CloudAdapterBase.send_activities, with the HTTP call made by ConnectorSender instead of msrest."""
        if not activities:
            raise TypeError("Expecting one or more activities, but the list was empty.")
        responses: list[ResourceResponse] = []
        for activity in activities:
            activity.id = None
            response: ResourceResponse | None = None
            if activity.type == "delay":
                await asyncio.sleep(int((activity.value or 1000) / 1000))
            elif activity.type == ActivityTypes.invoke_response:
                context.turn_state[self._INVOKE_RESPONSE_KEY] = activity
            elif activity.type == ActivityTypes.trace and activity.channel_id != Channels.emulator:
                pass
            else:
                client = self._connector_client(context)
                response = await self.sender.send(client.config.credentials, client.config.base_url, activity)
            responses.append(response or ResourceResponse(id=activity.id or ""))
        return responses

    async def update_activity(self, context: TurnContext, activity: Activity) -> ResourceResponse | None:
        if activity is None:
            raise TypeError("Expected Activity but got None instead")
        client = self._connector_client(context)
        response = await self.sender.update(client.config.credentials, client.config.base_url, activity)
        return ResourceResponse(id=response.id) if response.id else None

    def _connector_client(self, context: TurnContext) -> ConnectorClient:
        client: ConnectorClient | None = context.turn_state.get(self.BOT_CONNECTOR_CLIENT_KEY)
        if client is None:
            raise RuntimeError("Unable to extract ConnectorClient from turn context.")
        return client


class SafeSpaceAdapter(ConnectorAdapter):
    def __init__(
        self,
        settings: Settings,
        texts: Texts,
        conversation_state: ConversationState,
        directory: Directory | None = None,
    ) -> None:
        super().__init__(settings)
        self._texts = texts
        self._conversation_state = conversation_state
        self.on_turn_error = self._on_turn_error
        # Built now, from content alone: when the case store is down the emergency numbers must need nothing from it.
        self._outage_card = (
            signpost_card(
                texts.get("hardening.outage_title"),
                texts.get("hardening.outage_intro"),
                [directory.entry(entry_id) for entry_id in OUTAGE_ENTRIES],
            )
            if directory is not None
            else None
        )

    async def send_activities(self, context: TurnContext, activities: list[Activity]) -> list[ResourceResponse]:
        responses = await super().send_activities(context, activities)
        if (log_sink := context.turn_state.get(OUTBOUND_LOG_KEY)) is not None:
            for activity, response in zip(activities, responses, strict=False):
                log_sink.sent(activity, response.id if response else None)
        return responses

    async def update_activity(self, context: TurnContext, activity: Activity) -> ResourceResponse | None:
        response = await super().update_activity(context, activity)
        if (log_sink := context.turn_state.get(OUTBOUND_LOG_KEY)) is not None:
            log_sink.updated(activity)
        return response

    async def _on_turn_error(self, context: TurnContext, error: Exception) -> None:
        activity = context.activity
        if is_proactive(activity) or isinstance(error, RetryableTurnError):
            # Nobody is waiting on the other end: the caller (the delivery worker) must see the failure so it
            # can retry, rather than a chat receiving an apology for a message it never asked for. A retryable
            # turn error reaches the HTTP handler, which answers 503 so Teams sends the activity again.
            raise error
        log.exception("turn failed: %s in %s", activity.type, conversation_tag(activity), exc_info=error)
        # Conversation state is deliberately not cleared: the dialog stays where the last good turn left it,
        # so a learner half-way through a report loses nothing and can simply try again.
        try:
            if activity.type == ActivityTypes.invoke:
                await context.send_activity(
                    Activity(
                        type=ActivityTypes.invoke_response,
                        value=InvokeResponse(status=200, body=error_body(500, self._texts.get("errors.invoke"))),
                    )
                )
            elif activity.type == ActivityTypes.message and self._outage_card is not None and is_unreachable(error):
                # The case store is down mid-turn: nothing can be looked up or kept, but whoever wrote may be in
                # danger, so the emergency numbers (from content, in memory) come first, then "try again".
                await context.send_activity(MessageFactory.attachment(CardFactory.adaptive_card(self._outage_card)))
                await context.send_activity(self._texts.get("hardening.outage_retry"))
            elif activity.type == ActivityTypes.message:
                await context.send_activity(self._texts.get("errors.turn"))
        except Exception:
            log.exception("could not tell the user about the failed turn")
