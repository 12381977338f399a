"""Microsoft Graph: the real msgraph-sdk client, built from configuration, and one place that decides what a
Graph failure means.

Credentials are azure-identity's own (client secret, certificate, managed identity); nothing here fakes a token.
Two settings exist so the whole path can run against a local fake: `base_url` (where Graph is) and `authority`
(where Entra's token endpoint is). azure-identity refuses an authority that is not https, so a local fake serves
TLS with its own certificate and `ca_bundle` names it; the same setting serves a TLS-inspecting proxy in
production.

Callers go through `Graph.call`, which turns every failure (throttling, an expired token, Graph or Entra down)
into `GraphError`, after retrying what is worth retrying within a bound the caller chooses. Callers decide what
a failure means for them: roles fall back, e-mail is queued.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import logging
import random
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import Any, Final, Protocol, TypeVar
from urllib.parse import urlsplit

import httpx
from azure.core.credentials import AccessToken
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import AzureError
from azure.identity.aio import CertificateCredential, ClientSecretCredential, ManagedIdentityCredential
from kiota_abstractions.api_error import APIError
from kiota_abstractions.request_option import RequestOption
from kiota_authentication_azure.azure_identity_authentication_provider import AzureIdentityAuthenticationProvider
from kiota_http.middleware.options import RetryHandlerOption, UrlReplaceHandlerOption
from msgraph._version import VERSION as MSGRAPH_VERSION
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph.graph_service_client import GraphServiceClient
from msgraph_core import APIVersion, GraphClientFactory
from msgraph_core.middleware.options import GraphTelemetryHandlerOption

log = logging.getLogger(__name__)

T = TypeVar("T")

GRAPH_BASE_URL: Final = "https://graph.microsoft.com/v1.0"
_LOOPBACK: Final = frozenset({"127.0.0.1", "::1", "localhost"})
# Throttling and "try again" answers; anything else (403, 404, 400) will not change by asking again.
_RETRYABLE: Final = frozenset({429, 500, 502, 503, 504})


class GraphAuth(StrEnum):
    SECRET = "secret"  # noqa: S105 -- the name of a method, not a secret
    CERTIFICATE = "certificate"
    MANAGED_IDENTITY = "managed_identity"


@dataclass(frozen=True, slots=True)
class GraphConfig:
    tenant_id: str
    client_id: str
    auth: GraphAuth
    client_secret: str = ""
    certificate_path: str = ""
    certificate_password: str = ""
    base_url: str = GRAPH_BASE_URL
    authority: str = ""  # empty: azure-identity's default (login.microsoftonline.com)
    ca_bundle: str = ""  # a PEM file trusted instead of the system store, for Graph and Entra alike
    timeout_seconds: float = 10.0
    max_attempts: int = 3
    max_retry_after_seconds: float = 30.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        # A token must never travel in clear text; loopback is the one exception, as kiota also allows.
        if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in _LOOPBACK):
            raise ValueError(f"Graph base URL must be https: {self.base_url!r}")
        if self.auth is GraphAuth.SECRET and not self.client_secret:
            raise ValueError("Graph client-secret authentication needs a client secret")
        if self.auth is GraphAuth.CERTIFICATE and not self.certificate_path:
            raise ValueError("Graph certificate authentication needs a certificate path")
        if self.auth is not GraphAuth.MANAGED_IDENTITY and not (self.tenant_id and self.client_id):
            raise ValueError("Graph app-only authentication needs a tenant id and a client id")

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""

    def __repr__(self) -> str:  # never print the secret
        return f"GraphConfig(auth={self.auth}, tenant_id={self.tenant_id!r}, base_url={self.base_url!r})"


class GraphSettings(Protocol):
    """The Settings fields Graph reads (bot.config.Settings once the Graph fields are added).

    Read-only properties, so a field narrowed to a Literal in Settings still matches.
    """

    @property
    def app_id(self) -> str: ...
    @property
    def app_password(self) -> str: ...
    @property
    def app_type(self) -> str: ...
    @property
    def app_tenant_id(self) -> str: ...
    @property
    def graph_auth(self) -> str: ...
    @property
    def graph_tenant_id(self) -> str: ...
    @property
    def graph_client_id(self) -> str: ...
    @property
    def graph_client_secret(self) -> str: ...
    @property
    def graph_certificate_path(self) -> str: ...
    @property
    def graph_certificate_password(self) -> str: ...
    @property
    def graph_base_url(self) -> str: ...
    @property
    def graph_authority(self) -> str: ...
    @property
    def graph_ca_bundle(self) -> str: ...
    @property
    def graph_timeout_seconds(self) -> float: ...


def graph_config(settings: GraphSettings) -> GraphConfig | None:
    """The Graph configuration, or None when Graph is not configured (local mode, or no credentials).

    Without Graph-specific values the bot's own app registration is used, as most Teams bots do; a user-assigned
    managed identity bot (MicrosoftAppType=UserAssignedMSI) uses that identity.
    """
    tenant_id = settings.graph_tenant_id or settings.app_tenant_id
    client_id = settings.graph_client_id or settings.app_id
    secret = settings.graph_client_secret or ("" if settings.graph_client_id else settings.app_password)
    if settings.graph_auth:
        auth = GraphAuth(settings.graph_auth)
    elif settings.graph_certificate_path:
        auth = GraphAuth.CERTIFICATE
    elif settings.app_type.lower() == "userassignedmsi" and not settings.graph_client_id:
        auth = GraphAuth.MANAGED_IDENTITY
    elif secret:
        auth = GraphAuth.SECRET
    else:
        return None
    if auth is not GraphAuth.MANAGED_IDENTITY and not tenant_id:
        # A multi-tenant bot has no tenant of its own, and app-only Graph tokens are always for one tenant.
        log.warning("Microsoft Graph is not used: set SAFESPACE_GRAPH_TENANT_ID (or MicrosoftAppTenantId)")
        return None
    return GraphConfig(
        tenant_id=tenant_id,
        client_id=client_id,
        auth=auth,
        client_secret=secret,
        certificate_path=settings.graph_certificate_path,
        certificate_password=settings.graph_certificate_password,
        base_url=settings.graph_base_url or GRAPH_BASE_URL,
        authority=settings.graph_authority,
        ca_bundle=settings.graph_ca_bundle,
        timeout_seconds=settings.graph_timeout_seconds,
    )


# Credentials ---------------------------------------------------------------------------------------------


def build_credential(config: GraphConfig) -> AsyncTokenCredential:
    """The azure-identity credential for the configured method."""
    common: dict[str, Any] = {"connection_verify": config.ca_bundle or True}
    if config.auth is GraphAuth.MANAGED_IDENTITY:
        # IMDS keeps its own longer retry policy (it answers 410 while the host updates); Graph.call's timeout
        # bounds how long anyone waits for it.
        return ManagedIdentityCredential(client_id=config.client_id or None, **common)
    # azure-core's default retries a refused connection three times over ~5 s; a turn cannot wait that long.
    common.update(retry_total=1, retry_backoff_factor=0.2)
    if config.authority:
        common["authority"] = config.authority
    if config.auth is GraphAuth.CERTIFICATE:
        return CertificateCredential(
            config.tenant_id,
            config.client_id,
            config.certificate_path,
            password=config.certificate_password or None,
            **common,
        )
    return ClientSecretCredential(config.tenant_id, config.client_id, config.client_secret, **common)


class RenewableCredential:
    """Delegates to an azure-identity credential that can be swapped for a fresh one.

    azure-identity keeps a token until its own idea of expiry. When Graph says a token is invalid before that
    (revoked, clock skew), the only way to get a new one is a new credential with an empty cache.
    """

    def __init__(self, factory: Callable[[], AsyncTokenCredential]) -> None:
        self._factory = factory
        self._current = factory()
        self._retired: AsyncTokenCredential | None = None
        self.generation = 0
        # azure-identity's async credentials do not share a token request between concurrent callers: four
        # group reads at once would fetch four tokens. One at a time, the rest find the first one cached.
        self._one_at_a_time = asyncio.Lock()

    async def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        async with self._one_at_a_time:
            return await self._current.get_token(
                *scopes, claims=claims, tenant_id=tenant_id, enable_cae=enable_cae, **kwargs
            )

    async def renew(self, seen_generation: int) -> None:
        """Start again with an empty token cache, unless someone already did since `seen_generation`."""
        if seen_generation != self.generation:
            return
        # The replaced credential may still be serving a request in flight, so it is closed one renewal later.
        previous, self._retired = self._retired, self._current
        self._current = self._factory()
        self.generation += 1
        if previous is not None:
            await previous.close()

    async def close(self) -> None:
        for credential in (self._retired, self._current):
            if credential is not None:
                await credential.close()
        self._retired = None

    async def __aenter__(self) -> RenewableCredential:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.close()


# The client ------------------------------------------------------------------------------------------------


def _ssl_context(config: GraphConfig) -> ssl.SSLContext:
    # Same trust as azure-core's `connection_verify=<path>`: the bundle replaces the system store.
    if config.ca_bundle:
        return ssl.create_default_context(cafile=config.ca_bundle)
    return ssl.create_default_context()


def build_client(config: GraphConfig, credential: AsyncTokenCredential) -> tuple[GraphServiceClient, httpx.AsyncClient]:
    """The msgraph-sdk client on the SDK's own middleware, minus its retry handler (see `Graph.call`).

    Returns the httpx client too, since the SDK never closes it.
    """
    timeout = httpx.Timeout(config.timeout_seconds, connect=min(config.timeout_seconds, 5.0))
    http = httpx.AsyncClient(timeout=timeout, verify=_ssl_context(config), http2=True)
    # msgraph's own defaults (GraphRequestAdapter's), except for retrying.
    options: dict[str, RequestOption] = {
        # The SDK's retry handler honours any Retry-After up to 180 s; a turn must not wait that long, so
        # retrying lives in Graph.call with a bound each caller chooses.
        RetryHandlerOption.get_key(): RetryHandlerOption(max_retries=0, should_retry=False),
        # `/users/me-token-to-replace` is how the SDK spells `/me`.
        UrlReplaceHandlerOption.get_key(): UrlReplaceHandlerOption(
            enabled=True, replacement_pairs={"/users/me-token-to-replace": "/me"}
        ),
        GraphTelemetryHandlerOption.get_key(): GraphTelemetryHandlerOption(
            api_version=APIVersion.v1, sdk_version=MSGRAPH_VERSION
        ),
    }
    http = GraphClientFactory.create_with_default_middleware(client=http, options=options)
    # Tokens go to the Graph host only, also when following an @odata.nextLink.
    auth = AzureIdentityAuthenticationProvider(credential, allowed_hosts=[config.host])
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = config.base_url.rstrip("/")
    return GraphServiceClient(request_adapter=adapter), http


@dataclass(eq=False)
class GraphError(Exception):
    """Graph did not do what was asked. `status` is None when no HTTP answer came (down, timeout, no token)."""

    message: str
    status: int | None = None
    code: str | None = None
    retry_after: float | None = None

    def __str__(self) -> str:
        if self.status is None:
            return self.message
        return f"{self.message} (HTTP {self.status}{' ' + self.code if self.code else ''})"

    @property
    def not_found(self) -> bool:
        return self.status == 404


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return value
    return None


def retry_after_seconds(headers: Mapping[str, str] | None, now: dt.datetime | None = None) -> float | None:
    """Retry-After as seconds (Graph sends seconds; an HTTP date is allowed too)."""
    value = _header(headers, "retry-after")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


def _error_code(exc: APIError) -> str | None:
    error = getattr(exc, "error", None)  # ODataError's MainError
    code = getattr(error, "code", None)
    return code if isinstance(code, str) else None


class Graph:
    """One Graph client for the process, with the retry and failure rules every feature shares."""

    def __init__(
        self,
        config: GraphConfig,
        *,
        credential_factory: Callable[[], AsyncTokenCredential] | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.config = config
        self._credential = RenewableCredential(credential_factory or (lambda: build_credential(config)))
        self.client, self._http = build_client(config, self._credential)
        self._sleep = sleep

    async def close(self) -> None:
        await self._http.aclose()
        await self._credential.close()

    def _backoff(self, attempt: int) -> float:
        return min(8.0, 0.5 * 2.0 ** (attempt - 1)) * random.uniform(0.5, 1.0)

    async def call(
        self,
        what: str,
        operation: Callable[[GraphServiceClient], Awaitable[T]],
        *,
        max_retry_after: float | None = None,
    ) -> T:
        """Run `operation`; raise GraphError when it cannot be done now.

        429/5xx are retried (Retry-After honoured) while the wait is at most `max_retry_after`; a longer wait
        gives up at once with `retry_after` set, so a queue can come back then. A 401 gets one fresh token.
        A refused connection or a timeout is not retried here: the caller's fallback or queue is faster.
        """
        bound = self.config.max_retry_after_seconds if max_retry_after is None else max_retry_after
        attempt = 0
        renewed = False
        while True:
            attempt += 1
            generation = self._credential.generation
            try:
                async with asyncio.timeout(self.config.timeout_seconds):
                    return await operation(self.client)
            except APIError as exc:
                status = exc.response_status_code
                code = _error_code(exc)
                if status == 401 and not renewed:
                    renewed = True
                    attempt -= 1  # a fresh token is not a retry of the same request
                    log.info("Graph refused the token for %s (%s); getting a fresh one", what, code or "401")
                    await self._credential.renew(generation)
                    continue
                wait = retry_after_seconds(exc.response_headers)
                if status in _RETRYABLE and attempt < self.config.max_attempts:
                    delay = wait if wait is not None else self._backoff(attempt)
                    if delay <= bound:
                        log.info("Graph answered %s to %s; retrying in %.1f s", status, what, delay)
                        await self._sleep(delay)
                        continue
                raise GraphError(f"Graph could not {what}", status=status, code=code, retry_after=wait) from exc
            except (httpx.HTTPError, AzureError, TimeoutError, OSError) as exc:
                raise GraphError(f"Graph could not {what}: {type(exc).__name__}: {exc}"[:500]) from exc
