"""comment threads on answers, pairs and moderation items, with their @mentions

Revision ID: 0012
Revises: 0017
Create Date: 2026-12-04
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0012"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "comment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("subject_b_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.CheckConstraint("subject IN ('answer', 'pair', 'moderation_item')", name="ck_comment_subject"),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_comment_user_id", "comment", ["user_id"])
    op.create_index("ix_comment_thread", "comment", ["subject", "subject_id", "subject_b_id", "created_at", "id"])
    op.create_table(
        "comment_mention",
        sa.Column("comment_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["comment_id"], ["comment.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("comment_id", "user_id"),
    )
    op.create_index("ix_comment_mention_user", "comment_mention", ["user_id", "comment_id"])


def downgrade() -> None:
    op.drop_index("ix_comment_mention_user", table_name="comment_mention")
    op.drop_table("comment_mention")
    op.drop_index("ix_comment_thread", table_name="comment")
    op.drop_index("ix_comment_user_id", table_name="comment")
    op.drop_table("comment")
