"""status wide enough for "awaiting_director"; indexes for the queue, a case's history and the report (issue 11)

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = sa.text("status <> 'closed'")


def upgrade() -> None:
    # "awaiting_director" (a proposed Channel referral) is 17 characters: on PostgreSQL varchar(16) refused it.
    # SQLite never enforces a varchar's length, and changing a column's type there rebuilds the table, which a
    # store with cases in it refuses (the chronology's foreign keys): so PostgreSQL only.
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column(
            "safeguarding_case",
            "status",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=16),
            type_=sqlmodel.sql.sqltypes.AutoString(length=32),
            existing_nullable=False,
        )
    # Partial: the queue only ever reads open cases, which stay few however many closed ones pile up.
    # On PostgreSQL it also carries everything the queue shows, so the queue is an index-only scan.
    op.create_index(
        "ix_safeguarding_case_open_created",
        "safeguarding_case",
        ["created_at", "id"],
        postgresql_include=["status", "urgent", "reference", "category", "owner_aad_id", "owner_name", "version"],
        postgresql_where=_OPEN,
        sqlite_where=_OPEN,
    )
    # The report's figures, on PostgreSQL from the index alone.
    op.create_index(
        "ix_safeguarding_case_created_at",
        "safeguarding_case",
        ["created_at"],
        postgresql_include=[
            "category",
            "status",
            "decision",
            "urgent",
            "escalated_at",
            "decision_confirmed_by",
            "acknowledged_at",
        ],
    )
    op.create_index("ix_case_event_case_time", "case_event", ["case_id", "at", "id"])
    op.create_index("ix_quiz_attempt_finished_at", "quiz_attempt", ["finished_at"])


def downgrade() -> None:
    op.drop_index("ix_quiz_attempt_finished_at", table_name="quiz_attempt")
    op.drop_index("ix_case_event_case_time", table_name="case_event")
    op.drop_index("ix_safeguarding_case_created_at", table_name="safeguarding_case")
    op.drop_index("ix_safeguarding_case_open_created", table_name="safeguarding_case")
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column(
            "safeguarding_case",
            "status",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=32),
            type_=sqlmodel.sql.sqltypes.AutoString(length=16),
            existing_nullable=False,
        )
