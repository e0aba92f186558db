"""reward model: scores of answers, a failed run's error, at most one active run

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reward_score",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("response_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["response_id"], ["response.id"]),
        sa.ForeignKeyConstraint(["run_id"], ["reward_model_run.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "response_id", name="uq_reward_score_run_response"),
    )
    with op.batch_alter_table("reward_score", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reward_score_response_id"), ["response_id"], unique=False)
    with op.batch_alter_table("reward_model_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("error", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    op.create_index(
        "uq_reward_model_run_active",
        "reward_model_run",
        ["is_active"],
        unique=True,
        sqlite_where=sa.text("is_active"),
        postgresql_where=sa.text("is_active"),
    )


def downgrade() -> None:
    op.drop_index("uq_reward_model_run_active", table_name="reward_model_run")
    with op.batch_alter_table("reward_model_run", schema=None) as batch_op:
        batch_op.drop_column("error")
    with op.batch_alter_table("reward_score", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reward_score_response_id"))
    op.drop_table("reward_score")
