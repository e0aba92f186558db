"""background jobs and their trigger settings (core.jobs)

Revision ID: 0014
Revises: 0011
Create Date: 2026-12-04
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0014"
down_revision = "0011"
branch_labels = None
depends_on = None

ACTIVE_JOB = "status IN ('queued', 'running')"


def upgrade() -> None:
    op.create_table(
        "job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("retry_of", sa.Integer(), nullable=True),
        sa.Column("worker", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("progress", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("heartbeat_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("finished_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="ck_job_status"),
        sa.ForeignKeyConstraint(["retry_of"], ["job.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "uq_job_kind_active",
        "job",
        ["kind"],
        unique=True,
        sqlite_where=sa.text(ACTIVE_JOB),
        postgresql_where=sa.text(ACTIVE_JOB),
    )
    op.create_index("ix_job_status_id", "job", ["status", "id"])
    op.create_index("ix_job_kind_created", "job", ["kind", "created_at"])
    op.create_table(
        "job_setting",
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("every_hours", sa.Integer(), nullable=True),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("kind"),
    )


def downgrade() -> None:
    op.drop_table("job_setting")
    op.drop_index("ix_job_kind_created", table_name="job")
    op.drop_index("ix_job_status_id", table_name="job")
    op.drop_index("uq_job_kind_active", table_name="job")
    op.drop_table("job")
