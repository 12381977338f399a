"""Settings from the environment or a `.env` file. One table in the README documents every name here."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from content.common import DEFAULT_CONTENT_DIR
from dialogs.report_period import DEFAULT_TERMS, Term, parse_terms

if TYPE_CHECKING:
    from storage.retention import Schedule

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
    # Staff training (issue 13): how often reminders are checked, and where the Single Central Register goes.
    training_check_seconds: float = Field(
        default=3600.0,
        gt=0,
        validation_alias=AliasChoices("SAFESPACE_TRAINING_CHECK_SECONDS", "training_check_seconds"),
    )
    scr_site_id: str = Field(default="", validation_alias=AliasChoices("SAFESPACE_SCR_SITE_ID", "scr_site_id"))
    scr_drive_path: str = Field(default="", validation_alias=AliasChoices("SAFESPACE_SCR_DRIVE_PATH", "scr_drive_path"))

    # Learner voice (surveys and debate polls). Learner groups, the way roles are configured: "name:id,id;name:id"
    # (Entra object ids); a survey's audience may name one. The key for answers' pseudonyms: empty means one is
    # made and kept in the database (see storage/server_secrets.py).
    learner_groups: Annotated[dict[str, frozenset[str]], NoDecode] = Field(
        default_factory=dict, validation_alias=AliasChoices("SAFESPACE_LEARNER_GROUPS", "learner_groups")
    )
    voice_secret: str = Field(default="", validation_alias=AliasChoices("SAFESPACE_VOICE_SECRET", "voice_secret"))
    survey_check_seconds: float = Field(
        default=60.0, gt=0, validation_alias=AliasChoices("SAFESPACE_SURVEY_CHECK_SECONDS", "survey_check_seconds")
    )

    @field_validator("learner_groups", mode="before")
    @classmethod
    def _groups(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        groups: dict[str, frozenset[str]] = {}
        for part in value.split(";"):
            if not part.strip():
                continue
            name, sep, ids = part.partition(":")
            if not sep or not name.strip():
                raise ValueError(f"learner group {part.strip()!r} should be name:id,id")
            groups[name.strip().lower()] = frozenset(i.strip().lower() for i in ids.split(",") if i.strip())
        return groups

    # Issue 11: the directors' report. Terms as name=MM-DD..MM-DD, comma-separated; closed days (bank holidays) as
    # YYYY-MM-DD, comma-separated: the monthly report waits for the first working day that is not one.
    report_terms: str = Field(
        default=DEFAULT_TERMS, validation_alias=AliasChoices("SAFESPACE_REPORT_TERMS", "report_terms")
    )
    report_closed_days: str = Field(
        default="", validation_alias=AliasChoices("SAFESPACE_REPORT_CLOSED_DAYS", "report_closed_days")
    )
    report_check_seconds: float = Field(
        default=900.0, gt=0, validation_alias=AliasChoices("SAFESPACE_REPORT_CHECK_SECONDS", "report_check_seconds")
    )

    @field_validator("report_terms")
    @classmethod
    def _terms_parse(cls, value: str) -> str:
        parse_terms(value)  # raises ValueError naming the bad term
        return value

    @field_validator("report_closed_days")
    @classmethod
    def _closed_days_parse(cls, value: str) -> str:
        for part in filter(None, (p.strip() for p in value.split(","))):
            dt.date.fromisoformat(part)
        return value

    @property
    def terms(self) -> tuple[Term, ...]:
        return parse_terms(self.report_terms)

    @property
    def closed_days(self) -> frozenset[dt.date]:
        return frozenset(dt.date.fromisoformat(p.strip()) for p in self.report_closed_days.split(",") if p.strip())

    # Records (issue 11): the provider's name on exports, and the retention schedule (`python -m bot retention`
    # and the service's daily run).
    provider_name: str = Field(
        default="Qualitrain", validation_alias=AliasChoices("SAFESPACE_PROVIDER_NAME", "provider_name")
    )
    retention_years_after_closed: int = Field(
        default=7,
        ge=1,
        validation_alias=AliasChoices("SAFESPACE_RETENTION_YEARS_AFTER_CLOSED", "retention_years_after_closed"),
    )
    retention_years_from_birth: int = Field(
        default=25,
        ge=1,
        validation_alias=AliasChoices("SAFESPACE_RETENTION_YEARS_FROM_BIRTH", "retention_years_from_birth"),
    )
    retention_unlinked_log_days: int = Field(
        default=90,
        ge=1,
        validation_alias=AliasChoices("SAFESPACE_RETENTION_UNLINKED_LOG_DAYS", "retention_unlinked_log_days"),
    )
    retention_quiz_years: int = Field(
        default=2, ge=1, validation_alias=AliasChoices("SAFESPACE_RETENTION_QUIZ_YEARS", "retention_quiz_years")
    )
    retention_daily: bool = Field(
        default=True, validation_alias=AliasChoices("SAFESPACE_RETENTION_DAILY", "retention_daily")
    )
    retention_check_seconds: float = Field(
        default=3600.0,
        gt=0,
        validation_alias=AliasChoices("SAFESPACE_RETENTION_CHECK_SECONDS", "retention_check_seconds"),
    )

    # What it is doing, visible (issue 12): the log's format, and GET /metrics (Prometheus' text format) on a port of
    # its own. No port, no endpoint; loopback unless SAFESPACE_METRICS_HOST says otherwise (docs/DEPLOYMENT.md).
    log_format: Literal["text", "json"] = Field(
        default="text", validation_alias=AliasChoices("SAFESPACE_LOG_FORMAT", "log_format")
    )
    metrics_port: int | None = Field(
        default=None, ge=0, le=65535, validation_alias=AliasChoices("SAFESPACE_METRICS_PORT", "metrics_port")
    )
    metrics_host: str = Field(
        default="127.0.0.1", validation_alias=AliasChoices("SAFESPACE_METRICS_HOST", "metrics_host")
    )

    @field_validator("metrics_port", mode="before")
    @classmethod
    def _no_port(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

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


def retention_schedule(settings: Settings) -> Schedule:
    """The retention schedule the settings describe: the same for the daily run and `python -m bot retention`."""
    from storage.retention import Schedule

    return Schedule(
        years_after_closed=settings.retention_years_after_closed,
        years_from_birth=settings.retention_years_from_birth,
        unlinked_log_days=settings.retention_unlinked_log_days,
        quiz_years=settings.retention_quiz_years,
    )
