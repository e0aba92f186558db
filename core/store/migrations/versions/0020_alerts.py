"""alerts: events raised once per occurrence, their webhook deliveries, and the thresholds admins set (core.jobs.alerts)

Revision ID: 0020
Revises: 0012
Create Date: 2026-12-04
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0020"
down_revision = "0012"
branch_labels = None
depends_on = None

OPEN_ALERT = "cleared_at IS NULL"


def upgrade() -> None:
    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("summary", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("raised_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("cleared_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("delivered_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'delivered', 'failed', 'unsent')", name="ck_alert_status"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "uq_alert_open_key",
        "alert",
        ["key"],
        unique=True,
        sqlite_where=sa.text(OPEN_ALERT),
        postgresql_where=sa.text(OPEN_ALERT),
    )
    op.create_index("ix_alert_status_next", "alert", ["status", "next_attempt_at"])
    op.create_index("ix_alert_raised", "alert", ["raised_at"])
    op.create_table(
        "alert_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alert.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alert_delivery_alert", "alert_delivery", ["alert_id", "attempt"])
    op.create_table(
        "alert_setting",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("alert_setting")
    op.drop_index("ix_alert_delivery_alert", table_name="alert_delivery")
    op.drop_table("alert_delivery")
    op.drop_index("ix_alert_raised", table_name="alert")
    op.drop_index("ix_alert_status_next", table_name="alert")
    op.drop_index("uq_alert_open_key", table_name="alert")
    op.drop_table("alert")
