"""learner voice: pulse surveys (runs, invites, pseudonymous answers), debate polls, the shared server secret

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "0009"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "server_secret",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "survey_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survey_name", sqlmodel.sql.sqltypes.AutoString(length=48), nullable=False),
        sa.Column("started_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("started_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closes_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("remind_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reminded_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("service_url", sa.Text(), nullable=False),
        sa.Column("tenant_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("survey_name"),
    )
    op.create_table(
        "survey_invite",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("aad_object_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["survey_run.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "aad_object_id", name="uq_survey_invite_person"),
    )
    op.create_table(
        "survey_answer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("respondent", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("question_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("scale", sa.Integer(), nullable=True),
        sa.Column("choice", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("skipped", sa.Boolean(), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("answered_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["survey_run.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "respondent", "question_id", name="uq_survey_answer_once"),
    )
    with op.batch_alter_table("survey_answer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_survey_answer_run_id"), ["run_id"], unique=False)
    op.create_table(
        "debate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Text(), nullable=False),
        sa.Column("conversation_type", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("service_url", sa.Text(), nullable=False),
        sa.Column("tenant_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("trainer_aad_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("trainer_name", sa.Text(), nullable=True),
        sa.Column("motion", sa.Text(), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("value_source", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("debate", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_debate_value"), ["value"], unique=False)
    op.create_table(
        "debate_vote",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("debate_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("voter", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("choice", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["debate_id"], ["debate.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("debate_id", "round", "voter", name="uq_debate_vote_once"),
    )
    with op.batch_alter_table("debate_vote", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_debate_vote_debate_id"), ["debate_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("debate_vote", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_debate_vote_debate_id"))
    op.drop_table("debate_vote")
    with op.batch_alter_table("debate", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_debate_value"))
    op.drop_table("debate")
    with op.batch_alter_table("survey_answer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_survey_answer_run_id"))
    op.drop_table("survey_answer")
    op.drop_table("survey_invite")
    op.drop_table("survey_run")
    op.drop_table("server_secret")
