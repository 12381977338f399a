"""safeguarding channel: held while its roster cannot be read, and when it was last checked

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("safeguarding_channel") as batch:
        batch.add_column(sa.Column("held_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("roster_checked_at", storage.types.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("safeguarding_channel") as batch:
        batch.drop_column("roster_checked_at")
        batch.drop_column("held_reason")
