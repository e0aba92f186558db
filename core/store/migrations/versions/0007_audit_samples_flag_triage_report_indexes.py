"""audit samples, flag triage, and the indexes of the audit trail and the KPI dashboard

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# The single-column indexes of 0001 that the (column, at, id) indexes below make redundant.
REPLACED = ("ix_audit_event_at", "ix_audit_event_actor_id", "ix_audit_event_action")
# Judgments by time, with their reviewer (the single-column created_at indexes of 0001 become prefixes of these).
JUDGMENT_TABLES = ("rating", "comparison", "moderation_label")
TRAIL_INDEXES = {
    "ix_audit_event_at_id": ["at", "id"],
    "ix_audit_event_actor_at": ["actor_id", "at", "id"],
    "ix_audit_event_action_at": ["action", "at", "id"],
    "ix_audit_event_entity_at": ["entity", "at", "id"],
}


def upgrade() -> None:
    op.create_table(
        "audit_sample",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.Column("strata", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("month", "size", "seed", name="uq_audit_sample_draw"),
    )
    op.create_table(
        "audit_sample_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column("queue", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("judgment_id", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=True),
        sa.Column("judged_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("verdict", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("auditor_id", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.CheckConstraint("verdict IS NULL OR verdict IN ('agree', 'disagree')", name="ck_audit_sample_item_verdict"),
        sa.ForeignKeyConstraint(["sample_id"], ["audit_sample.id"]),
        sa.ForeignKeyConstraint(["reviewer_id"], ["user_account.id"]),
        sa.ForeignKeyConstraint(["auditor_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sample_id", "queue", "judgment_id", name="uq_audit_sample_item"),
    )
    with op.batch_alter_table("audit_sample_item", schema=None) as batch_op:
        batch_op.create_index("ix_audit_sample_item_sample_id", ["sample_id"], unique=False)
    op.create_table(
        "flag_triage",
        sa.Column("rating_id", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.CheckConstraint("status IN ('open', 'confirmed', 'dismissed')", name="ck_flag_triage_status"),
        sa.ForeignKeyConstraint(["rating_id"], ["rating.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("rating_id"),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        for name in REPLACED:
            batch_op.drop_index(name)
        for name, columns in TRAIL_INDEXES.items():
            batch_op.create_index(name, columns, unique=False)
    with op.batch_alter_table("work_item", schema=None) as batch_op:
        batch_op.create_index("ix_work_item_backlog", ["queue", "open", "is_gold", "created_at"], unique=False)
    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.create_index("ix_assignment_done", ["status", "updated_at", "work_item_id"], unique=False)
    for table in JUDGMENT_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"ix_{table}_created_at")
            batch_op.create_index(f"ix_{table}_created_user", ["created_at", "user_id"], unique=False)
    with op.batch_alter_table("moderation_score", schema=None) as batch_op:
        batch_op.create_index("ix_moderation_score_created", ["created_at", "model_version_id", "score"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("moderation_score", schema=None) as batch_op:
        batch_op.drop_index("ix_moderation_score_created")
    for table in JUDGMENT_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"ix_{table}_created_user")
            batch_op.create_index(f"ix_{table}_created_at", ["created_at"], unique=False)
    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.drop_index("ix_assignment_done")
    with op.batch_alter_table("work_item", schema=None) as batch_op:
        batch_op.drop_index("ix_work_item_backlog")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        for name in TRAIL_INDEXES:
            batch_op.drop_index(name)
        batch_op.create_index("ix_audit_event_action", ["action"], unique=False)
        batch_op.create_index("ix_audit_event_actor_id", ["actor_id"], unique=False)
        batch_op.create_index("ix_audit_event_at", ["at"], unique=False)
    op.drop_table("flag_triage")
    with op.batch_alter_table("audit_sample_item", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_sample_item_sample_id")
    op.drop_table("audit_sample_item")
    op.drop_table("audit_sample")
