"""The compositions in force, indexed apart: the inbox asks of every case of a tenant whether
she, or anyone, was composed for it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 19:31:37.887245

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("case_members", schema=None) as batch_op:
        batch_op.create_index(
            "ix_case_members_composed_committee_id",
            ["committee_id", "case_id"],
            unique=False,
            postgresql_where=sa.text("capacity = 'composed' AND released_at IS NULL"),
            sqlite_where=sa.text("capacity = 'composed' AND released_at IS NULL"),
        )
        batch_op.create_index(
            "ix_case_members_composed_user_id",
            ["user_id", "case_id"],
            unique=False,
            postgresql_where=sa.text("capacity = 'composed' AND released_at IS NULL"),
            sqlite_where=sa.text("capacity = 'composed' AND released_at IS NULL"),
        )


def downgrade():
    with op.batch_alter_table("case_members", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_case_members_composed_user_id",
            postgresql_where=sa.text("capacity = 'composed' AND released_at IS NULL"),
            sqlite_where=sa.text("capacity = 'composed' AND released_at IS NULL"),
        )
        batch_op.drop_index(
            "ix_case_members_composed_committee_id",
            postgresql_where=sa.text("capacity = 'composed' AND released_at IS NULL"),
            sqlite_where=sa.text("capacity = 'composed' AND released_at IS NULL"),
        )
