"""Label Studio: the projects a queue was pushed to and the task of each item in them

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "labelstudio_project",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("base_url", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("queue", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("base_url", "project_id", name="uq_labelstudio_project_server_id"),
    )
    op.create_index("ix_labelstudio_project_title", "labelstudio_project", ["title"], unique=False)
    op.create_table(
        "labelstudio_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["moderation_item.id"]),
        sa.ForeignKeyConstraint(["project_id"], ["labelstudio_project.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "item_id", name="uq_labelstudio_task_project_item"),
        sa.UniqueConstraint("project_id", "task_id", name="uq_labelstudio_task_project_task"),
    )


def downgrade() -> None:
    op.drop_table("labelstudio_task")
    op.drop_index("ix_labelstudio_project_title", table_name="labelstudio_project")
    op.drop_table("labelstudio_project")
