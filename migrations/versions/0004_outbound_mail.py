"""The e-mail outbox: notifications waiting to be sent, recipients encrypted

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 14:25:58.537692

"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from core.tenancy.rls import enable_tenant_isolation

# revision identifiers, used by Alembic.
revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "outbound_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("recipient", sa.LargeBinary(), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column(
            "params", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_outbound_mail_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_mail")),
        sa.UniqueConstraint("public_id", name=op.f("uq_outbound_mail_public_id")),
    )
    with op.batch_alter_table("outbound_mail", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbound_mail_sent_at_created_at", ["sent_at", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_outbound_mail_tenant_id"), ["tenant_id"], unique=False)

    enable_tenant_isolation(op, "outbound_mail")


def downgrade():
    with op.batch_alter_table("outbound_mail", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbound_mail_tenant_id"))
        batch_op.drop_index("ix_outbound_mail_sent_at_created_at")

    op.drop_table("outbound_mail")
