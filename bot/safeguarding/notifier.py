"""Alerts that must reach people outside Teams: escalations and deliveries that keep failing.

Only a logging notifier exists for now; e-mail through Microsoft Graph plugs in here later. Alerts carry the
case reference and category only, never what anyone wrote.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("safespace.alerts")


@dataclass(frozen=True, slots=True)
class Alert:
    subject: str
    reason: str
    reference: str | None = None
    category: str | None = None


class Notifier(Protocol):
    async def alert(self, alert: Alert) -> None: ...


class LogNotifier:
    """Writes alerts to the log at WARNING, where an operator's log monitoring can pick them up."""

    def __init__(self) -> None:
        self.sent: list[Alert] = []

    async def alert(self, alert: Alert) -> None:
        self.sent.append(alert)
        log.warning(
            "ALERT %s: %s (case %s, %s)", alert.subject, alert.reason, alert.reference or "-", alert.category or "-"
        )
