"""the expert lead role (sees model versions and source ids)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

WITH_LEAD = "role IN ('admin', 'lead', 'expert', 'annotator', 'product_owner')"
WITHOUT_LEAD = "role IN ('admin', 'expert', 'annotator', 'product_owner')"


# SQLite rebuilds the table to change its check: core.store.db.migration_scope lets it (foreign keys checked after).


def upgrade() -> None:
    with op.batch_alter_table("user_account") as batch_op:
        batch_op.drop_constraint("ck_user_role", type_="check")
        batch_op.create_check_constraint("ck_user_role", WITH_LEAD)


def downgrade() -> None:
    op.execute("UPDATE user_account SET role = 'expert' WHERE role = 'lead'")
    with op.batch_alter_table("user_account") as batch_op:
        batch_op.drop_constraint("ck_user_role", type_="check")
        batch_op.create_check_constraint("ck_user_role", WITHOUT_LEAD)
