"""outbox: alert e-mails use the outbox's own statuses (each worker claims by kind); urgent drafts being written

Revision ID: 0011
Revises: 0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0011"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Alert e-mails queued before this revision carried statuses of their own so the Teams worker would not claim
    # them; claim_due now filters by kind, so they take the ordinary ones and are sent by the e-mail worker.
    op.execute("UPDATE outbox SET status = 'pending' WHERE status = 'mail_pending'")
    op.execute("UPDATE outbox SET status = 'sending' WHERE status = 'mail_sending'")
    op.create_table(
        "urgent_draft",
        sa.Column("conversation_id", sa.Text(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_until", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("conversation_id"),
    )
    op.create_index(op.f("ix_urgent_draft_due_at"), "urgent_draft", ["due_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_urgent_draft_due_at"), table_name="urgent_draft")
    op.drop_table("urgent_draft")
    op.execute("UPDATE outbox SET status = 'mail_pending' WHERE kind = 'alert_email' AND status = 'pending'")
    op.execute("UPDATE outbox SET status = 'mail_sending' WHERE kind = 'alert_email' AND status = 'sending'")
