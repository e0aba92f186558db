"""qualification gate: per queue settings, each reviewer's standing, and judgments held provisional

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMNs: a batch may rebuild a table on SQLite, which foreign keys to it forbid
    op.add_column("queue_config", sa.Column("qualify", sa.Integer(), nullable=False, server_default=sa.text("0")))
    op.add_column("queue_config", sa.Column("pass_share", sa.Float(), nullable=False, server_default=sa.text("0.8")))
    op.create_table(
        "qualification",
        sa.Column("queue", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("judged", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Integer(), nullable=False),
        sa.Column("counted_from", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.CheckConstraint("status IN ('qualifying', 'qualified', 'failed', 'paused')", name="ck_qualification_status"),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("queue", "user_id"),
    )
    op.create_table(
        "provisional_judgment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("queue", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("work_item_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("judgment", sa.JSON(), nullable=False),
        sa.Column("why", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("gold_passed", sa.Boolean(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.CheckConstraint("status IN ('held', 'released', 'discarded')", name="ck_provisional_judgment_status"),
        sa.CheckConstraint("why IN ('qualifying', 'paused')", name="ck_provisional_judgment_why"),
        sa.ForeignKeyConstraint(["work_item_id"], ["work_item.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"]),
        sa.ForeignKeyConstraint(["decided_by"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_provisional_judgment_user", "provisional_judgment", ["queue", "user_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_provisional_judgment_user", table_name="provisional_judgment")
    op.drop_table("provisional_judgment")
    op.drop_table("qualification")
    with op.batch_alter_table("queue_config") as batch:
        batch.drop_column("pass_share")
        batch.drop_column("qualify")
