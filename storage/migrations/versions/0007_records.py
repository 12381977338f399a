"""records: the chronology's hash chain and append-only guard, legal hold, retention runs and stubs, the audit log

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types
from storage.chain import event_hash

revision: str = "0007"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 500

# PostgreSQL: case_event is append-only. UPDATE is always refused; DELETE only inside a transaction that said
# `SET LOCAL safespace.retention = 'on'` (the retention job, storage/retention.py); TRUNCATE never.
# A session setting rather than a second database role: Safe Space connects with one DATABASE_URL, and that
# role owns the table (it runs the migrations), so it could drop any trigger anyway. The trigger stops a
# code path or a hand-typed statement from changing history by accident; the hash chain shows anything else.
_PG_GUARD = (
    """
CREATE OR REPLACE FUNCTION safespace_case_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('safespace.retention', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'case_event is append-only: % refused (corrections are new events)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$""",
    """CREATE TRIGGER case_event_append_only BEFORE UPDATE OR DELETE ON case_event
    FOR EACH ROW EXECUTE FUNCTION safespace_case_event_append_only()""",
    """CREATE TRIGGER case_event_no_truncate BEFORE TRUNCATE ON case_event
    FOR EACH STATEMENT EXECUTE FUNCTION safespace_case_event_append_only()""",
)

_events = sa.table(
    "case_event",
    sa.column("id", sa.Integer()),
    sa.column("case_id", sa.Integer()),
    sa.column("seq", sa.Integer()),
    sa.column("at", storage.types.UTCDateTime()),
    sa.column("actor_aad_id", sa.String()),
    sa.column("actor_name", sa.Text()),
    sa.column("kind", sa.String()),
    sa.column("detail", sa.Text()),
    sa.column("action_id", sa.String()),
    sa.column("corrects", sa.Integer()),
    sa.column("prev_hash", sa.String()),
    sa.column("event_hash", sa.String()),
)
_cases = sa.table(
    "safeguarding_case",
    sa.column("id", sa.Integer()),
    sa.column("event_count", sa.Integer()),
    sa.column("chain_head", sa.String()),
)


def _chain_existing_events() -> None:
    """Hash the events already stored, case by case in the order the chronology shows them."""
    bind = op.get_bind()
    last_case = 0
    while True:
        case_ids = list(
            bind.execute(
                sa.select(_cases.c.id).where(_cases.c.id > last_case).order_by(_cases.c.id).limit(_BATCH)
            ).scalars()
        )
        if not case_ids:
            return
        rows = bind.execute(
            sa.select(_events)
            .where(_events.c.case_id.in_(case_ids))
            .order_by(_events.c.case_id, _events.c.at, _events.c.id)
        ).mappings()
        event_updates: list[dict[str, object]] = []
        heads: dict[int, tuple[int, str | None]] = {case_id: (0, None) for case_id in case_ids}
        for row in rows:
            seq, prev = heads[row["case_id"]]
            seq += 1
            digest = event_hash(
                case_id=row["case_id"],
                seq=seq,
                at=row["at"],
                kind=row["kind"],
                actor_aad_id=row["actor_aad_id"],
                actor_name=row["actor_name"],
                detail=row["detail"],
                action_id=row["action_id"],
                corrects=None,
                prev_hash=prev,
            )
            event_updates.append({"eid": row["id"], "s": seq, "p": prev, "h": digest})
            heads[row["case_id"]] = (seq, digest)
        if event_updates:
            bind.execute(
                _events.update()
                .where(_events.c.id == sa.bindparam("eid"))
                .values(seq=sa.bindparam("s"), prev_hash=sa.bindparam("p"), event_hash=sa.bindparam("h")),
                event_updates,
            )
        bind.execute(
            _cases.update()
            .where(_cases.c.id == sa.bindparam("cid"))
            .values(event_count=sa.bindparam("n"), chain_head=sa.bindparam("h")),
            [{"cid": case_id, "n": n, "h": head} for case_id, (n, head) in heads.items()],
        )
        last_case = case_ids[-1]


def upgrade() -> None:
    # Plain ADD COLUMN, which SQLite does in place: rebuilding safeguarding_case would mean dropping a table
    # that case_event and outbox rows point at.
    op.add_column("safeguarding_case", sa.Column("subject_date_of_birth", sa.Date(), nullable=True))
    op.add_column("safeguarding_case", sa.Column("legal_hold", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("safeguarding_case", sa.Column("event_count", sa.Integer(), nullable=False, server_default="0"))
    op.add_column(
        "safeguarding_case", sa.Column("chain_head", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
    )
    with op.batch_alter_table("case_event") as batch:
        batch.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("prev_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch.add_column(sa.Column("event_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch.add_column(sa.Column("corrects", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_case_event_corrects", "case_event", ["corrects"], ["id"])

    _chain_existing_events()

    with op.batch_alter_table("case_event") as batch:
        batch.alter_column("seq", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("event_hash", existing_type=sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False)
        batch.create_unique_constraint("uq_case_event_case_seq", ["case_id", "seq"])

    op.create_table(
        "retention_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("trigger", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("actor", sa.Text(), nullable=True),
        sa.Column("ran_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cases_removed", sa.Integer(), nullable=False),
        sa.Column("events_removed", sa.Integer(), nullable=False),
        sa.Column("outbox_removed", sa.Integer(), nullable=False),
        sa.Column("conversation_log_removed", sa.Integer(), nullable=False),
        sa.Column("quiz_attempts_removed", sa.Integer(), nullable=False),
        sa.Column("quiz_answers_removed", sa.Integer(), nullable=False),
        sa.Column("live_quiz_answers_removed", sa.Integer(), nullable=False),
        sa.Column("held_cases_kept", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_key"),
    )
    op.create_table(
        "retired_case",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("removed_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("retention_run_id", sa.Integer(), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("chain_head", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.ForeignKeyConstraint(["retention_run_id"], ["retention_run.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reference"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("actor", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    if op.get_bind().dialect.name == "postgresql":
        for statement in _PG_GUARD:  # one at a time: asyncpg runs a single statement per call
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS case_event_no_truncate ON case_event")
        op.execute("DROP TRIGGER IF EXISTS case_event_append_only ON case_event")
        op.execute("DROP FUNCTION IF EXISTS safespace_case_event_append_only()")
    op.drop_table("audit_log")
    op.drop_table("retired_case")
    op.drop_table("retention_run")
    with op.batch_alter_table("case_event") as batch:
        batch.drop_constraint("uq_case_event_case_seq", type_="unique")
        batch.drop_constraint("fk_case_event_corrects", type_="foreignkey")
        batch.drop_column("corrects")
        batch.drop_column("event_hash")
        batch.drop_column("prev_hash")
        batch.drop_column("seq")
    # Plain DROP COLUMN (SQLite 3.35+), for the same reason upgrade() adds them in place.
    for column in ("chain_head", "event_count", "legal_hold", "subject_date_of_birth"):
        op.drop_column("safeguarding_case", column)
