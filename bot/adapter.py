"""The Bot Framework adapter: authentication, cached connector clients, and what happens when a turn fails."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from botbuilder.core import ConversationState, InvokeResponse, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity, ActivityTypes, ResourceResponse

from bot.card_actions import error_body
from bot.config import Settings
from bot.connector_cache import CachingBotFrameworkAuthentication
from bot.conversation_log import OUTBOUND_LOG_KEY
from bot.teams_context import is_proactive
from content.texts import Texts

log = logging.getLogger(__name__)


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


class SafeSpaceAdapter(CloudAdapter):  # type: ignore[misc]
    def __init__(self, settings: Settings, texts: Texts, conversation_state: ConversationState) -> None:
        super().__init__(build_authentication(settings))
        self._texts = texts
        self._conversation_state = conversation_state
        self.on_turn_error = self._on_turn_error

    async def send_activities(self, context: TurnContext, activities: list[Activity]) -> list[ResourceResponse]:
        responses: list[ResourceResponse] = await super().send_activities(context, activities)
        if (log_sink := context.turn_state.get(OUTBOUND_LOG_KEY)) is not None:
            for activity, response in zip(activities, responses, strict=False):
                log_sink.sent(activity, response.id if response else None)
        return responses

    async def update_activity(self, context: TurnContext, activity: Activity) -> ResourceResponse | None:
        response: ResourceResponse | None = await super().update_activity(context, activity)
        if (log_sink := context.turn_state.get(OUTBOUND_LOG_KEY)) is not None:
            log_sink.updated(activity)
        return response

    async def _on_turn_error(self, context: TurnContext, error: Exception) -> None:
        activity = context.activity
        if is_proactive(activity):
            # Nobody is waiting on the other end: the caller (the delivery worker) must see the failure so it
            # can retry, rather than a chat receiving an apology for a message it never asked for.
            raise error
        log.exception(
            "turn failed: %s in conversation %s",
            activity.type,
            activity.conversation.id if activity.conversation else "?",
            exc_info=error,
        )
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
            elif activity.type == ActivityTypes.message:
                await context.send_activity(self._texts.get("errors.turn"))
        except Exception:
            log.exception("could not tell the user about the failed turn")
