"""Settings from the environment or a `.env` file. One table in the README documents every name here."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from content.common import DEFAULT_CONTENT_DIR

DEFAULT_DATABASE_URL = "sqlite:///./data/safespace.db"


def _split_ids(value: object) -> object:
    if isinstance(value, str):
        return frozenset(part.strip().lower() for part in value.split(",") if part.strip())
    return value


IdSet = Annotated[frozenset[str], NoDecode]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # botbuilder's own names, so an Azure Bot's usual app settings work unchanged.
    app_id: str = Field(default="", validation_alias=AliasChoices("MicrosoftAppId", "app_id"))
    app_password: str = Field(default="", validation_alias=AliasChoices("MicrosoftAppPassword", "app_password"))
    app_type: str = Field(default="MultiTenant", validation_alias=AliasChoices("MicrosoftAppType", "app_type"))
    app_tenant_id: str = Field(default="", validation_alias=AliasChoices("MicrosoftAppTenantId", "app_tenant_id"))

    host: str = Field(default="127.0.0.1", validation_alias=AliasChoices("HOST", "host"))
    port: int = Field(default=3978, validation_alias=AliasChoices("PORT", "port"))
    database_url: str = Field(
        default=DEFAULT_DATABASE_URL, validation_alias=AliasChoices("DATABASE_URL", "database_url")
    )
    content_dir: Path = Field(
        default=DEFAULT_CONTENT_DIR, validation_alias=AliasChoices("SAFESPACE_CONTENT_DIR", "content_dir")
    )
    allow_insecure: bool = Field(
        default=False, validation_alias=AliasChoices("SAFESPACE_ALLOW_INSECURE", "allow_insecure")
    )
    dso_ids: IdSet = Field(default=frozenset(), validation_alias=AliasChoices("SAFESPACE_DSO_IDS", "dso_ids"))
    staff_ids: IdSet = Field(default=frozenset(), validation_alias=AliasChoices("SAFESPACE_STAFF_IDS", "staff_ids"))
    trainer_ids: IdSet = Field(
        default=frozenset(), validation_alias=AliasChoices("SAFESPACE_TRAINER_IDS", "trainer_ids")
    )
    director_ids: IdSet = Field(
        default=frozenset(), validation_alias=AliasChoices("SAFESPACE_DIRECTOR_IDS", "director_ids")
    )
    ack_minutes: int = Field(default=30, ge=1, validation_alias=AliasChoices("SAFESPACE_ACK_MINUTES", "ack_minutes"))
    urgent_ack_minutes: int = Field(
        default=5, ge=1, validation_alias=AliasChoices("SAFESPACE_URGENT_ACK_MINUTES", "urgent_ack_minutes")
    )
    reminder_check_seconds: float = Field(
        default=30.0, gt=0, validation_alias=AliasChoices("SAFESPACE_REMINDER_CHECK_SECONDS", "reminder_check_seconds")
    )
    channel_recheck_seconds: float = Field(
        default=900.0,
        gt=0,
        validation_alias=AliasChoices("SAFESPACE_CHANNEL_RECHECK_SECONDS", "channel_recheck_seconds"),
    )
    # A roster check younger than this is trusted when a new case is posted; older, Teams is asked again first.
    channel_trust_seconds: float = Field(
        default=300.0,
        ge=0,
        validation_alias=AliasChoices("SAFESPACE_CHANNEL_TRUST_SECONDS", "channel_trust_seconds"),
    )
    delivery_poll_seconds: float = Field(
        default=1.0, gt=0, validation_alias=AliasChoices("SAFESPACE_DELIVERY_POLL_SECONDS", "delivery_poll_seconds")
    )
    delivery_lease_seconds: float = Field(
        default=60.0, gt=0, validation_alias=AliasChoices("SAFESPACE_DELIVERY_LEASE_SECONDS", "delivery_lease_seconds")
    )
    # How long a learner telling what happened may go quiet before Safe Space checks in ("Is that everything?").
    report_pause_seconds: float = Field(
        default=45.0, gt=0, validation_alias=AliasChoices("SAFESPACE_REPORT_PAUSE_SECONDS", "report_pause_seconds")
    )
    # Filled into the Teams app package by `python -m bot package` (bot/commands/package.py).
    public_hostname: str = Field(
        default="", validation_alias=AliasChoices("SAFESPACE_PUBLIC_HOSTNAME", "public_hostname")
    )
    website_url: str = Field(default="", validation_alias=AliasChoices("SAFESPACE_WEBSITE_URL", "website_url"))
    privacy_url: str = Field(default="", validation_alias=AliasChoices("SAFESPACE_PRIVACY_URL", "privacy_url"))
    terms_url: str = Field(default="", validation_alias=AliasChoices("SAFESPACE_TERMS_URL", "terms_url"))
    log_level: str = Field(default="INFO", validation_alias=AliasChoices("SAFESPACE_LOG_LEVEL", "log_level"))

    # Microsoft Graph: roles from Entra groups, people's profiles, alert e-mail. Empty means the bot's own app.
    graph_auth: Literal["", "secret", "certificate", "managed_identity"] = Field(
        default="", validation_alias=AliasChoices("SAFESPACE_GRAPH_AUTH", "graph_auth")
    )
    graph_tenant_id: str = Field(
        default="", validation_alias=AliasChoices("SAFESPACE_GRAPH_TENANT_ID", "graph_tenant_id")
    )
    graph_client_id: str = Field(
        default="", validation_alias=AliasChoices("SAFESPACE_GRAPH_CLIENT_ID", "graph_client_id")
    )
    graph_client_secret: str = Field(
        default="", validation_alias=AliasChoices("SAFESPACE_GRAPH_CLIENT_SECRET", "graph_client_secret")
    )
    graph_certificate_path: str = Field(
        default="", validation_alias=AliasChoices("SAFESPACE_GRAPH_CERTIFICATE_PATH", "graph_certificate_path")
    )
    graph_certificate_password: str = Field(
        default="",
        validation_alias=AliasChoices("SAFESPACE_GRAPH_CERTIFICATE_PASSWORD", "graph_certificate_password"),
    )
    graph_base_url: str = Field(
        default="https://graph.microsoft.com/v1.0",
        validation_alias=AliasChoices("SAFESPACE_GRAPH_BASE_URL", "graph_base_url"),
    )
    graph_authority: str = Field(
        default="", validation_alias=AliasChoices("SAFESPACE_GRAPH_AUTHORITY", "graph_authority")
    )
    graph_ca_bundle: str = Field(
        default="", validation_alias=AliasChoices("SAFESPACE_GRAPH_CA_BUNDLE", "graph_ca_bundle")
    )
    graph_timeout_seconds: float = Field(
        default=10.0, gt=0, validation_alias=AliasChoices("SAFESPACE_GRAPH_TIMEOUT_SECONDS", "graph_timeout_seconds")
    )
    dso_group_id: str = Field(default="", validation_alias=AliasChoices("SAFESPACE_DSO_GROUP_ID", "dso_group_id"))
    director_group_id: str = Field(
        default="", validation_alias=AliasChoices("SAFESPACE_DIRECTOR_GROUP_ID", "director_group_id")
    )
    staff_group_id: str = Field(default="", validation_alias=AliasChoices("SAFESPACE_STAFF_GROUP_ID", "staff_group_id"))
    trainer_group_id: str = Field(
        default="", validation_alias=AliasChoices("SAFESPACE_TRAINER_GROUP_ID", "trainer_group_id")
    )
    role_cache_seconds: float = Field(
        default=300.0, gt=0, validation_alias=AliasChoices("SAFESPACE_ROLE_CACHE_SECONDS", "role_cache_seconds")
    )
    alert_mailbox: str = Field(default="", validation_alias=AliasChoices("SAFESPACE_ALERT_MAILBOX", "alert_mailbox"))
    alert_recipients: IdSet = Field(
        default=frozenset(), validation_alias=AliasChoices("SAFESPACE_ALERT_RECIPIENTS", "alert_recipients")
    )

    _split = field_validator("dso_ids", "staff_ids", "trainer_ids", "director_ids", "alert_recipients", mode="before")(
        _split_ids
    )

    # Issue 12: the tenant allow-list and the urgent-draft sweeper.
    tenant_ids: IdSet = Field(default=frozenset(), validation_alias=AliasChoices("SAFESPACE_TENANT_IDS", "tenant_ids"))
    urgent_draft_minutes: float = Field(
        default=10.0, gt=0, validation_alias=AliasChoices("SAFESPACE_URGENT_DRAFT_MINUTES", "urgent_draft_minutes")
    )
    urgent_draft_check_seconds: float = Field(
        default=30.0,
        gt=0,
        validation_alias=AliasChoices("SAFESPACE_URGENT_DRAFT_CHECK_SECONDS", "urgent_draft_check_seconds"),
    )
    _split_tenants = field_validator("tenant_ids", mode="before")(_split_ids)

    @property
    def allowed_tenants(self) -> frozenset[str]:
        """The Microsoft 365 tenants whose activities are answered; empty means any (local mode, nothing set)."""
        if self.tenant_ids:
            return self.tenant_ids
        own = self.app_tenant_id.strip().lower()
        return frozenset({own}) if own else frozenset()

    @property
    def local_mode(self) -> bool:
        """No app id means no Bot Framework authentication: only for a developer's own machine."""
        return not self.app_id

    def host_is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


class InsecureHostError(RuntimeError):
    """Local mode (no authentication) was asked to listen beyond this machine."""


def check_startup_safety(settings: Settings) -> None:
    """Refuse to expose an unauthenticated bot to the network unless someone says so explicitly."""
    if settings.local_mode and not settings.host_is_loopback() and not settings.allow_insecure:
        raise InsecureHostError(
            f"MicrosoftAppId is not set, so requests are not authenticated; refusing to listen on "
            f"{settings.host}. Use HOST=127.0.0.1, set MicrosoftAppId, or set SAFESPACE_ALLOW_INSECURE=1."
        )
