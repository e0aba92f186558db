"""per-dimension preferences: a comparison's choice per rubric dimension, and the queue setting that asks for them

Revision ID: 0018
Revises: 0020
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMNs: a batch may rebuild a table on SQLite, which foreign keys to it forbid
    op.add_column("comparison", sa.Column("dimensions", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
    op.add_column("queue_config", sa.Column("per_dimension", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("queue_config") as batch:
        batch.drop_column("per_dimension")
    with op.batch_alter_table("comparison") as batch:
        batch.drop_column("dimensions")
