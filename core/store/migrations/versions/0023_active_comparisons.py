"""active comparison selection: a queue's strategy and reward-uncertainty preference, and each comparison item's
pair of versions

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs on both databases: a batch would rebuild work_item on SQLite, which the foreign keys on it
    # forbid.
    op.add_column(
        "queue_config", sa.Column("strategy", sa.String(), nullable=False, server_default=sa.text("'random'"))
    )
    op.add_column(
        "queue_config", sa.Column("prefer_uncertain", sa.Boolean(), nullable=False, server_default=sa.text("false"))
    )
    op.add_column("work_item", sa.Column("version_a_id", sa.Integer(), nullable=True))
    op.add_column("work_item", sa.Column("version_b_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE work_item SET"
        " version_a_id = (SELECT model_version_id FROM response WHERE response.id = work_item.subject_id),"
        " version_b_id = (SELECT model_version_id FROM response WHERE response.id = work_item.subject_b_id)"
        " WHERE queue = 'comparison'"
    )
    op.create_index(
        "ix_work_item_pair", "work_item", ["queue", "version_a_id", "version_b_id", "open", "is_gold", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_work_item_pair", table_name="work_item")
    for table, column in (
        ("work_item", "version_b_id"),
        ("work_item", "version_a_id"),
        ("queue_config", "prefer_uncertain"),
        ("queue_config", "strategy"),
    ):
        op.drop_column(table, column)
