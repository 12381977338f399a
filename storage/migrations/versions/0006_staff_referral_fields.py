"""safeguarding case: the rest of a referral's content from the staff form, and whether the incident's time is known

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # All nullable: cases stored before this revision simply have no answer to the new questions.
    with op.batch_alter_table("safeguarding_case") as batch:
        batch.add_column(sa.Column("incident_time_known", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("spoken_to", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
        batch.add_column(sa.Column("fears", sa.Text(), nullable=True))
        batch.add_column(sa.Column("parents_told", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
        batch.add_column(sa.Column("other_agencies", sa.Text(), nullable=True))
        batch.add_column(sa.Column("online_how", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("safeguarding_case") as batch:
        batch.drop_column("online_how")
        batch.drop_column("other_agencies")
        batch.drop_column("parents_told")
        batch.drop_column("fears")
        batch.drop_column("spoken_to")
        batch.drop_column("incident_time_known")
