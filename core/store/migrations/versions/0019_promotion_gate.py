"""the promotion gate: per gated job kind, whether a new model that passes is promoted by itself, and the margin

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("job_setting") as batch_op:
        batch_op.add_column(sa.Column("auto_promote", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column("gate_margin", sa.Float(), nullable=False, server_default=sa.text("0")))


def downgrade() -> None:
    with op.batch_alter_table("job_setting") as batch_op:
        batch_op.drop_column("gate_margin")
        batch_op.drop_column("auto_promote")
