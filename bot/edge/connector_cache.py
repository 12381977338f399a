"""Reuse Bot Connector clients across turns.

botbuilder 4.17.1 builds a new ConnectorClient and a new UserTokenClient on every turn; each builds an msrest
pipeline whose ClientRetryPolicy.__init__ scans a 500-element list once per status code (quadratic), about 8 ms
of CPU per turn. Caching the clients per (app id, service URL, audience) pays that cost once per conversation
endpoint instead of once per turn. Credentials inside a client refresh their own tokens, so reuse is safe.
"""

from __future__ import annotations

from typing import Any

from botbuilder.schema import Activity
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import (
    AuthenticateRequestResult,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
)
from botframework.connector.auth.authentication_constants import AuthenticationConstants
from botframework.connector.auth.user_token_client import UserTokenClient

# Bounded so a flood of made-up service URLs cannot grow memory without limit.
MAX_CACHED_CLIENTS = 256


def _app_id(claims_identity: ClaimsIdentity | None) -> str:
    if claims_identity is None or not claims_identity.claims:
        return ""
    claims = claims_identity.claims
    return str(
        claims.get(AuthenticationConstants.AUDIENCE_CLAIM) or claims.get(AuthenticationConstants.APP_ID_CLAIM) or ""
    )


class _ClientCache:
    def __init__(self) -> None:
        self.connectors: dict[tuple[str, str, str], ConnectorClient] = {}
        self.user_tokens: dict[str, UserTokenClient] = {}

    def remember_connector(self, key: tuple[str, str, str], client: ConnectorClient) -> None:
        if len(self.connectors) >= MAX_CACHED_CLIENTS:
            self.connectors.pop(next(iter(self.connectors)))
        self.connectors[key] = client


class CachingConnectorFactory(ConnectorFactory):  # type: ignore[misc]
    def __init__(self, inner: ConnectorFactory, app_id: str, cache: _ClientCache) -> None:
        self._inner = inner
        self._app_id = app_id
        self._cache = cache

    async def create(self, service_url: str, audience: str | None = None) -> ConnectorClient:
        key = (self._app_id, service_url, audience or "")
        client = self._cache.connectors.get(key)
        if client is None:
            client = await self._inner.create(service_url, audience)
            self._cache.remember_connector(key, client)
        return client


class CachingBotFrameworkAuthentication(BotFrameworkAuthentication):  # type: ignore[misc]
    """Delegates every check to botbuilder's own authentication; only client construction is cached."""

    def __init__(self, inner: BotFrameworkAuthentication) -> None:
        self._inner = inner
        self._cache = _ClientCache()

    async def authenticate_request(self, activity: Activity, auth_header: str) -> AuthenticateRequestResult:
        result: AuthenticateRequestResult = await self._inner.authenticate_request(activity, auth_header)
        if result.connector_factory is not None:
            result.connector_factory = CachingConnectorFactory(
                result.connector_factory, _app_id(result.claims_identity), self._cache
            )
        return result

    async def authenticate_streaming_request(
        self, auth_header: str, channel_id_header: str
    ) -> AuthenticateRequestResult:
        return await self._inner.authenticate_streaming_request(auth_header, channel_id_header)

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return CachingConnectorFactory(
            self._inner.create_connector_factory(claims_identity), _app_id(claims_identity), self._cache
        )

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        app_id = _app_id(claims_identity)
        client = self._cache.user_tokens.get(app_id)
        if client is None:
            client = await self._inner.create_user_token_client(claims_identity)
            self._cache.user_tokens[app_id] = client
        return client

    def create_bot_framework_client(self) -> Any:
        return self._inner.create_bot_framework_client()

    def get_originating_audience(self) -> str:
        return str(self._inner.get_originating_audience())

    async def authenticate_channel_request(self, auth_header: str) -> ClaimsIdentity:
        return await self._inner.authenticate_channel_request(auth_header)
