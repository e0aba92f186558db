"""named assignment: a lead gives work items of a queue to a named reviewer, with an optional due time

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

OUTCOMES = "outcome IS NULL OR outcome IN ('done', 'skipped', 'taken back', 'expired', 'closed')"


def upgrade() -> None:
    op.create_table(
        "named_assignment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_item_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("assigned_by", sa.Integer(), nullable=True),
        sa.Column("assigned_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("due_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("ended_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.CheckConstraint(OUTCOMES, name="ck_named_assignment_outcome"),
        sa.ForeignKeyConstraint(["work_item_id"], ["work_item.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"]),
        sa.ForeignKeyConstraint(["assigned_by"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "uq_named_assignment_standing",
        "named_assignment",
        ["work_item_id"],
        unique=True,
        sqlite_where=sa.text("ended_at IS NULL"),
        postgresql_where=sa.text("ended_at IS NULL"),
    )
    op.create_index("ix_named_assignment_user", "named_assignment", ["user_id", "ended_at"])


def downgrade() -> None:
    op.drop_index("ix_named_assignment_user", table_name="named_assignment")
    op.drop_index("uq_named_assignment_standing", table_name="named_assignment")
    op.drop_table("named_assignment")
