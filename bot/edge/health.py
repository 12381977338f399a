"""What /healthz and start-up say about the service beyond "the database answers"."""

from __future__ import annotations

from bot.config import Settings

NO_DSO = (
    "no DSO is configured (SAFESPACE_DSO_IDS, or SAFESPACE_DSO_GROUP_ID with Microsoft Graph): "
    "new cases are stored but cannot reach anyone until one is"
)


def degraded_reason(settings: Settings, *, graph_roles: bool) -> str | None:
    """Why the service runs but cannot do its job, or None. `graph_roles`: roles come from Entra groups."""
    if settings.dso_ids:
        return None
    if graph_roles and settings.dso_group_id.strip():
        # Graph may still answer with nobody; the delivery worker raises an alert when a case finds no one.
        return None
    return NO_DSO
