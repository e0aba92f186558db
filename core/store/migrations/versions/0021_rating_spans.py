"""error spans: a rating's located flags, and a comparison's on each side, as code-point offsets into the answers' texts

Revision ID: 0021
Revises: 0019
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # every rating already stored has no spans. A plain ADD COLUMN on both databases: a batch would rebuild the table
    # on SQLite, which the foreign keys on it forbid.
    op.add_column("rating", sa.Column("spans", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
    op.add_column("comparison", sa.Column("spans", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))


def downgrade() -> None:
    with op.batch_alter_table("comparison") as batch_op:
        batch_op.drop_column("spans")
    with op.batch_alter_table("rating") as batch_op:
        batch_op.drop_column("spans")
