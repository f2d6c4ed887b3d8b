"""The procedure engine: case timeline, consents, deadlines, composition, measures, notices

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 13:35:34.812173

"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from core.tenancy.rls import enable_tenant_isolation

# revision identifiers, used by Alembic.
revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

NEW_TENANT_OWNED_TABLES = (
    "case_consents",
    "case_events",
    "case_measures",
    "case_members",
    "case_notices",
    "deadlines",
)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade():
    op.create_table(
        "case_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("given", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=20), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"],
            ["cases.tenant_id", "cases.id"],
            name=op.f("fk_case_consents_tenant_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_case_consents_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_consents")),
        sa.UniqueConstraint("case_id", "key", name=op.f("uq_case_consents_case_id_key")),
    )
    with op.batch_alter_table("case_consents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_consents_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=60), nullable=True),
        sa.Column("actor_kind", sa.String(length=20), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("from_state", sa.String(length=60), nullable=True),
        sa.Column("to_state", sa.String(length=60), nullable=True),
        sa.Column("details", JSON, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_user_id"], ["users.id"], name=op.f("fk_case_events_actor_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"],
            ["cases.tenant_id", "cases.id"],
            name=op.f("fk_case_events_tenant_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_case_events_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
    )
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_case_events_actor_user_id"), ["actor_user_id"], unique=False
        )
        batch_op.create_index(
            "ix_case_events_case_id_created_at", ["case_id", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_case_events_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "case_measures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("transition_key", sa.String(length=60), nullable=False),
        sa.Column("decided_by_user_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["decided_by_user_id"],
            ["users.id"],
            name=op.f("fk_case_measures_decided_by_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"],
            ["cases.tenant_id", "cases.id"],
            name=op.f("fk_case_measures_tenant_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_case_measures_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_measures")),
        sa.UniqueConstraint("public_id", name=op.f("uq_case_measures_public_id")),
    )
    with op.batch_alter_table("case_measures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_measures_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_case_measures_decided_by_user_id"), ["decided_by_user_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_case_measures_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "case_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("committee_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role_key", sa.String(length=60), nullable=True),
        sa.Column("capacity", sa.String(length=20), nullable=False),
        sa.Column("transition_key", sa.String(length=60), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"],
            ["cases.tenant_id", "cases.id"],
            name=op.f("fk_case_members_tenant_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "committee_id"],
            ["committees.tenant_id", "committees.id"],
            name=op.f("fk_case_members_tenant_id_committees"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_case_members_tenant_id_tenants")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_case_members_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_members")),
    )
    with op.batch_alter_table("case_members", schema=None) as batch_op:
        batch_op.create_index(
            "ix_case_members_case_id_committee_id", ["case_id", "committee_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_case_members_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_members_user_id"), ["user_id"], unique=False)

    op.create_table(
        "case_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("party", sa.String(length=60), nullable=False),
        sa.Column("message", sa.String(length=1000), nullable=False),
        sa.Column("transition_key", sa.String(length=60), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_by_user_id", sa.Integer(), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["done_by_user_id"], ["users.id"], name=op.f("fk_case_notices_done_by_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"],
            ["cases.tenant_id", "cases.id"],
            name=op.f("fk_case_notices_tenant_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_case_notices_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_notices")),
        sa.UniqueConstraint("public_id", name=op.f("uq_case_notices_public_id")),
    )
    with op.batch_alter_table("case_notices", schema=None) as batch_op:
        batch_op.create_index(
            "ix_case_notices_case_id_done_at", ["case_id", "done_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_case_notices_done_by_user_id"), ["done_by_user_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_case_notices_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "deadlines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("indicative", sa.Boolean(), nullable=False),
        sa.Column("met_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("alerted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"],
            ["cases.tenant_id", "cases.id"],
            name=op.f("fk_deadlines_tenant_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_deadlines_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deadlines")),
        sa.UniqueConstraint("public_id", name=op.f("uq_deadlines_public_id")),
    )
    with op.batch_alter_table("deadlines", schema=None) as batch_op:
        batch_op.create_index("ix_deadlines_case_id_key", ["case_id", "key"], unique=False)
        batch_op.create_index("ix_deadlines_open_due_at", ["tenant_id", "due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_deadlines_tenant_id"), ["tenant_id"], unique=False)

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("facts", JSON, nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("flags", JSON, nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("routing", JSON, nullable=False, server_default="{}"))
        batch_op.add_column(
            sa.Column("identity_revealed_at", sa.DateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("cases", schema=None) as batch_op:
        # the defaults only fill cases opened before this revision; the application sets them
        for column in ("facts", "flags", "routing"):
            batch_op.alter_column(column, server_default=None)

    with op.batch_alter_table("committee_members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("role_key", sa.String(length=60), nullable=True))

    for table in NEW_TENANT_OWNED_TABLES:
        enable_tenant_isolation(op, table)


def downgrade():
    with op.batch_alter_table("committee_members", schema=None) as batch_op:
        batch_op.drop_column("role_key")

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("identity_revealed_at")
        batch_op.drop_column("routing")
        batch_op.drop_column("flags")
        batch_op.drop_column("facts")

    with op.batch_alter_table("deadlines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deadlines_tenant_id"))
        batch_op.drop_index("ix_deadlines_open_due_at")
        batch_op.drop_index("ix_deadlines_case_id_key")

    op.drop_table("deadlines")
    with op.batch_alter_table("case_notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_notices_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_case_notices_done_by_user_id"))
        batch_op.drop_index("ix_case_notices_case_id_done_at")

    op.drop_table("case_notices")
    with op.batch_alter_table("case_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_members_user_id"))
        batch_op.drop_index(batch_op.f("ix_case_members_tenant_id"))
        batch_op.drop_index("ix_case_members_case_id_committee_id")

    op.drop_table("case_members")
    with op.batch_alter_table("case_measures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_measures_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_case_measures_decided_by_user_id"))
        batch_op.drop_index(batch_op.f("ix_case_measures_case_id"))

    op.drop_table("case_measures")
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_events_tenant_id"))
        batch_op.drop_index("ix_case_events_case_id_created_at")
        batch_op.drop_index(batch_op.f("ix_case_events_actor_user_id"))

    op.drop_table("case_events")
    with op.batch_alter_table("case_consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_consents_tenant_id"))

    op.drop_table("case_consents")
