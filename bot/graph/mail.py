"""Alert e-mails through Microsoft Graph `sendMail`, from the safeguarding mailbox, kept until they are sent.

Like a CPOMS alert, the e-mail says that something needs attention and where to look, never what anyone wrote:
the case reference, the category and the reason, nothing about the learner. The detail stays behind Teams
sign-in.

Every alert is written to the case store first and sent from there, so a Graph outage, a throttle or a restart
loses nothing: it is retried with back-off (honouring Retry-After) until Graph takes it, and after repeated
failures the alert also goes to the fallback notifier (the log) so someone hears of it anyway.

The rows live in the outbox table under their own kind, with the outbox's own statuses, leases and back-off:
each worker claims only the kinds it delivers (`outbox.claim_due(kinds=...)`), so the Teams delivery worker never
takes an e-mail and this one never takes a Teams message.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
import uuid
from collections.abc import Callable, Sequence
from typing import Final

from msgraph.generated.models.body_type import BodyType
from msgraph.generated.models.email_address import EmailAddress
from msgraph.generated.models.importance import Importance
from msgraph.generated.models.item_body import ItemBody
from msgraph.generated.models.message import Message
from msgraph.generated.models.recipient import Recipient
from msgraph.generated.users.item.send_mail.send_mail_post_request_body import SendMailPostRequestBody
from msgraph.graph_service_client import GraphServiceClient
from sqlalchemy import select
from sqlmodel import col

from bot.graph.client import Graph, GraphError
from bot.safeguarding.notifier import Alert, Notifier
from storage import outbox
from storage.db import Database
from storage.models import OutboxMessage
from storage.types import utcnow

log = logging.getLogger(__name__)

ALERT_EMAIL: Final = "alert_email"
KINDS: Final = frozenset({ALERT_EMAIL})  # what this worker claims from the outbox
SENT: Final = "sent"

_MAX_SUBJECT = 200
_MAX_REASON = 300


def _one_line(value: str | None, limit: int) -> str:
    text = " ".join((value or "").split())  # no line breaks: nothing can fake another header or paragraph
    return text if len(text) <= limit else text[: limit - 1] + "…"


def compose(alert: Alert) -> tuple[str, str]:
    """(subject, plain-text body). Only the reference, category and reason: never learner details or words."""
    reference = _one_line(alert.reference, 40) or "none"
    category = _one_line(alert.category, 80) or "not recorded"
    subject = _one_line(f"Safe Space: {alert.subject}" + (f" ({alert.reference})" if alert.reference else ""), 200)
    body = "\n".join(
        [
            f"Safe Space alert: {_one_line(alert.subject, _MAX_SUBJECT)}",
            "",
            f"Case reference: {reference}",
            f"Category: {category}",
            f"Reason: {_one_line(alert.reason, _MAX_REASON)}",
            "",
            "Open Safe Space in Microsoft Teams to see the case.",
            "This e-mail deliberately contains no details of the concern.",
        ]
    )
    return subject, body


def _default_backoff(attempts: int) -> float:
    ceiling = outbox.backoff_seconds(attempts)  # doubling from 2 s, capped at five minutes
    return random.uniform(ceiling / 2, ceiling)


class GraphMailNotifier:
    """A Notifier that e-mails alerts to the safeguarding team, durably."""

    def __init__(
        self,
        *,
        graph: Graph,
        database: Database,
        mailbox: str,
        recipients: Sequence[str],
        escalate_to: Notifier,
        poll_seconds: float = 5.0,
        lease_seconds: float = 60.0,
        escalate_after: int = 3,
        max_retry_after_seconds: float = 5.0,
        backoff: Callable[[int], float] = _default_backoff,
        batch: int = 10,
    ) -> None:
        if not mailbox or not recipients:
            raise ValueError("alert e-mail needs a sending mailbox and at least one recipient")
        self._graph = graph
        self._db = database
        self._mailbox = mailbox.strip()
        self._recipients = sorted({r.strip() for r in recipients if r.strip()})
        self._fallback = escalate_to
        self._poll = poll_seconds
        self._lease = lease_seconds
        self._escalate_after = escalate_after
        self._max_retry_after = max_retry_after_seconds
        self._backoff = backoff
        self._batch = batch
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    # Notifier --------------------------------------------------------------------------------------------

    async def alert(self, alert: Alert) -> None:
        """Queue the e-mail (committed before this returns) and wake the sender."""
        payload = {
            "alert": {
                "subject": alert.subject,
                "reason": alert.reason,
                "reference": alert.reference,
                "category": alert.category,
            }
        }
        try:
            async with self._db.sessions.begin() as session:
                row = await outbox.enqueue(
                    session=session,
                    dedupe_key=f"alert-email:{uuid.uuid4().hex}",
                    kind=ALERT_EMAIL,
                    target={"mailbox": self._mailbox, "to": self._recipients},
                    payload=payload,
                )
                assert row.id is not None
        except Exception:  # the case store is down too: the log is all that is left
            log.exception("could not queue an alert e-mail; alerting through the fallback")
            await self._fallback.alert(alert)
            return
        log.info("alert e-mail queued: %s (case %s)", alert.subject, alert.reference or "-")
        self.wake()

    # Running ---------------------------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="alert-email")

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Let an e-mail being sent finish (cut off between Graph's 202 and `mark_sent`, it would go twice)."""
        if self._task is None:
            return
        self._stopping = True
        self.wake()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._task), grace_seconds)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        self._stopping = False

    async def _run(self) -> None:
        while not self._stopping:
            try:
                attempted = await self.run_once()
            except Exception:
                log.exception("alert e-mail pass failed; will try again")
                attempted = 0
            if attempted:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll)

    async def run_once(self, now: dt.datetime | None = None) -> int:
        """Claim the e-mails that are due and try each once. Returns how many were attempted."""
        async with self._db.sessions.begin() as session:
            due = await outbox.claim_due(
                session=session, kinds=KINDS, now=now or utcnow(), limit=self._batch, lease_seconds=self._lease
            )
        for row in due:
            if self._stopping:
                break  # the rest were claimed but not tried: their lease runs out and they are sent after restart
            await self._attempt(row)
        return len(due)

    async def _attempt(self, row: OutboxMessage) -> None:
        assert row.id is not None
        try:
            await self._send(row)
        except Exception as exc:  # a bug must count as a failed attempt too, or it is never escalated
            retry_after = exc.retry_after if isinstance(exc, GraphError) else None
            async with self._db.sessions.begin() as session:
                again, newly_escalated = await outbox.mark_failed(
                    session=session,
                    message_id=row.id,
                    error=(str(exc) or type(exc).__name__)[:2000],
                    retry_after=retry_after,
                    escalate_after=self._escalate_after,
                    delay=self._backoff(row.attempts + 1),
                )
                attempts = again.attempts
            log.warning("alert e-mail #%s not sent (%s); attempt %d, will retry", row.id, exc, attempts)
            if newly_escalated:
                await self._escalate(row, str(exc), attempts)
            return
        async with self._db.sessions.begin() as session:
            await outbox.mark_sent(session=session, message_id=row.id, result_id=None)
        log.info("alert e-mail #%s sent", row.id)

    async def _send(self, row: OutboxMessage) -> None:
        target = outbox.target_of(row)
        subject, text = compose(_alert_of(row))
        request = SendMailPostRequestBody(
            message=Message(
                subject=subject,
                body=ItemBody(content_type=BodyType.Text, content=text),
                to_recipients=[Recipient(email_address=EmailAddress(address=to)) for to in target["to"]],
                importance=Importance.High,
            ),
            # Kept in the mailbox's Sent Items: the safeguarding team's own record of what was sent when.
            save_to_sent_items=True,
        )
        mailbox = str(target["mailbox"])

        async def send(client: GraphServiceClient) -> None:
            await client.users.by_user_id(mailbox).send_mail.post(request)

        await self._graph.call("send an alert e-mail", send, max_retry_after=self._max_retry_after)

    async def _escalate(self, row: OutboxMessage, error: str, attempts: int) -> None:
        original = _alert_of(row)
        await self._fallback.alert(
            Alert(
                subject=f"Alert e-mail not delivered: {original.subject}",
                reason=f"{original.reason} (e-mail failed {attempts} times, still retrying: {error[:200]})",
                reference=original.reference,
                category=original.category,
            )
        )


def _alert_of(row: OutboxMessage) -> Alert:
    fields = outbox.payload_of(row)["alert"]
    return Alert(
        subject=str(fields["subject"]),
        reason=str(fields["reason"]),
        reference=fields.get("reference"),
        category=fields.get("category"),
    )


async def pending_emails(database: Database) -> list[OutboxMessage]:
    """Alert e-mails not yet sent, oldest first (for tests and operators)."""
    async with database.read_sessions() as session:
        rows = await session.execute(
            select(OutboxMessage)
            .where(col(OutboxMessage.kind) == ALERT_EMAIL, col(OutboxMessage.status) != SENT)
            .order_by(col(OutboxMessage.created_at), col(OutboxMessage.id))
            .execution_options(populate_existing=True)
        )
        return list(rows.scalars().all())
