"""conversations: the turns before a prompt (a prompt without them is a one-turn conversation)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # every prompt already stored becomes a one-turn conversation: no turns before it. A plain ADD COLUMN on both
    # databases: a batch would rebuild the table on SQLite, which the answers' foreign keys forbid here.
    op.add_column("prompt", sa.Column("turns", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))


def downgrade() -> None:
    with op.batch_alter_table("prompt") as batch_op:
        batch_op.drop_column("turns")
