"""One report per submitted form: the form's one-time token, unique per tenant

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 15:00:45.665782

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("submission_digest", sa.String(length=64), nullable=True))
        batch_op.create_index(
            "ix_reports_tenant_id_submission", ["tenant_id", "submission_digest"], unique=True
        )


def downgrade():
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_index("ix_reports_tenant_id_submission")
        batch_op.drop_column("submission_digest")
