"""The back office: second factor and lock-out, API tokens, statement forms, hearings,
documents, notes, reminders, repeat-report marks, and the indexes of the inbox and the
audit viewer

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 16:52:31.550861

"""

import sqlalchemy as sa
from alembic import op

from core.tenancy.rls import enable_tenant_isolation

# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "ADMIN",
                "LISTENER",
                "COMMITTEE_MEMBER",
                "DECISION_MAKER",
                "AUDITOR",
                name="role",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_api_tokens_tenant_id_tenants")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("public_id", name=op.f("uq_api_tokens_public_id")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_api_tokens_user_id"), ["user_id"], unique=False)

    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_recovery_codes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_recovery_codes_code_hash")),
    )
    with op.batch_alter_table("recovery_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recovery_codes_user_id"), ["user_id"], unique=False)

    op.create_table(
        "case_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("author_user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_user_id"], ["users.id"], name=op.f("fk_case_notes_author_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"],
            ["cases.tenant_id", "cases.id"],
            name=op.f("fk_case_notes_tenant_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_case_notes_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_notes")),
        sa.UniqueConstraint("public_id", name=op.f("uq_case_notes_public_id")),
    )
    with op.batch_alter_table("case_notes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_case_notes_author_user_id"), ["author_user_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_case_notes_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_notes_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "hearings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("person_kind", sa.String(length=20), nullable=False),
        sa.Column("person_name", sa.LargeBinary(), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("place", sa.LargeBinary(), nullable=True),
        sa.Column("summoned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attendees", sa.LargeBinary(), nullable=True),
        sa.Column("assistance", sa.LargeBinary(), nullable=True),
        sa.Column("transcript", sa.LargeBinary(), nullable=True),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signed_off_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by_user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"], ["users.id"], name=op.f("fk_hearings_created_by_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"],
            ["cases.tenant_id", "cases.id"],
            name=op.f("fk_hearings_tenant_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_hearings_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hearings")),
        sa.UniqueConstraint("public_id", name=op.f("uq_hearings_public_id")),
        sa.UniqueConstraint("tenant_id", "id", name=op.f("uq_hearings_tenant_id_id")),
    )
    with op.batch_alter_table("hearings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hearings_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_hearings_created_by_user_id"), ["created_by_user_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_hearings_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "person_marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"],
            ["cases.tenant_id", "cases.id"],
            name=op.f("fk_person_marks_tenant_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_person_marks_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_marks")),
    )
    with op.batch_alter_table("person_marks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_person_marks_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_person_marks_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index(
            "ix_person_marks_tenant_id_digest", ["tenant_id", "digest"], unique=False
        )

    op.create_table(
        "statement_forms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("drafted_by_user_id", sa.Integer(), nullable=False),
        sa.Column("drafted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("validated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["drafted_by_user_id"],
            ["users.id"],
            name=op.f("fk_statement_forms_drafted_by_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"],
            ["cases.tenant_id", "cases.id"],
            name=op.f("fk_statement_forms_tenant_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_statement_forms_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statement_forms")),
        sa.UniqueConstraint("public_id", name=op.f("uq_statement_forms_public_id")),
    )
    with op.batch_alter_table("statement_forms", schema=None) as batch_op:
        batch_op.create_index(
            "ix_statement_forms_case_id_version", ["case_id", "version"], unique=True
        )
        batch_op.create_index(
            batch_op.f("ix_statement_forms_drafted_by_user_id"),
            ["drafted_by_user_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_statement_forms_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "case_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("hearing_id", sa.Integer(), nullable=True),
        sa.Column("filename", sa.LargeBinary(), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("provided_by", sa.LargeBinary(), nullable=False),
        sa.Column("agreement_recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agreement_note", sa.LargeBinary(), nullable=True),
        sa.Column("added_by_user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["added_by_user_id"],
            ["users.id"],
            name=op.f("fk_case_documents_added_by_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"],
            ["cases.tenant_id", "cases.id"],
            name=op.f("fk_case_documents_tenant_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "hearing_id"],
            ["hearings.tenant_id", "hearings.id"],
            name=op.f("fk_case_documents_tenant_id_hearings"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_case_documents_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_documents")),
        sa.UniqueConstraint("public_id", name=op.f("uq_case_documents_public_id")),
    )
    with op.batch_alter_table("case_documents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_case_documents_added_by_user_id"), ["added_by_user_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_case_documents_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_case_documents_hearing_id"), ["hearing_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_case_documents_tenant_id"), ["tenant_id"], unique=False
        )

    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_events_tenant_id_actor", ["tenant_id", "actor_user_id", "seq"], unique=False
        )
        batch_op.create_index(
            "ix_audit_events_tenant_id_target",
            ["tenant_id", "target_type", "target_id", "seq"],
            unique=False,
        )

    with op.batch_alter_table("case_measures", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lifted_by_user_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_case_measures_lifted_by_user_id"), ["lifted_by_user_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_case_measures_lifted_by_user_id_users"),
            "users",
            ["lifted_by_user_id"],
            ["id"],
        )

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cases_committee_id_opened_at",
            ["committee_id", "opened_at", "public_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_cases_tenant_id_opened_at", ["tenant_id", "opened_at", "public_id"], unique=False
        )
        batch_op.create_index(
            "ix_cases_tenant_id_state_opened_at",
            ["tenant_id", "state", "opened_at", "public_id"],
            unique=False,
        )

    with op.batch_alter_table("deadlines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("remind_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("totp_secret", sa.LargeBinary(), nullable=True))
        batch_op.add_column(
            sa.Column("totp_confirmed_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))

    enable_tenant_isolation(op, "api_tokens")
    enable_tenant_isolation(op, "case_documents")
    enable_tenant_isolation(op, "case_notes")
    enable_tenant_isolation(op, "hearings")
    enable_tenant_isolation(op, "person_marks")
    enable_tenant_isolation(op, "statement_forms")


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("locked_until")
        batch_op.drop_column("failed_logins")
        batch_op.drop_column("totp_last_step")
        batch_op.drop_column("totp_confirmed_at")
        batch_op.drop_column("totp_secret")
        batch_op.drop_column("password_changed_at")

    with op.batch_alter_table("deadlines", schema=None) as batch_op:
        batch_op.drop_column("remind_at")

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_tenant_id_state_opened_at")
        batch_op.drop_index("ix_cases_tenant_id_opened_at")
        batch_op.drop_index("ix_cases_committee_id_opened_at")

    with op.batch_alter_table("case_measures", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_case_measures_lifted_by_user_id_users"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_case_measures_lifted_by_user_id"))
        batch_op.drop_column("lifted_by_user_id")

    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_tenant_id_target")
        batch_op.drop_index("ix_audit_events_tenant_id_actor")

    with op.batch_alter_table("case_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_documents_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_case_documents_hearing_id"))
        batch_op.drop_index(batch_op.f("ix_case_documents_case_id"))
        batch_op.drop_index(batch_op.f("ix_case_documents_added_by_user_id"))

    op.drop_table("case_documents")
    with op.batch_alter_table("statement_forms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_statement_forms_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_statement_forms_drafted_by_user_id"))
        batch_op.drop_index("ix_statement_forms_case_id_version")

    op.drop_table("statement_forms")
    with op.batch_alter_table("person_marks", schema=None) as batch_op:
        batch_op.drop_index("ix_person_marks_tenant_id_digest")
        batch_op.drop_index(batch_op.f("ix_person_marks_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_person_marks_case_id"))

    op.drop_table("person_marks")
    with op.batch_alter_table("hearings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hearings_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_hearings_created_by_user_id"))
        batch_op.drop_index(batch_op.f("ix_hearings_case_id"))

    op.drop_table("hearings")
    with op.batch_alter_table("case_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_notes_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_case_notes_case_id"))
        batch_op.drop_index(batch_op.f("ix_case_notes_author_user_id"))

    op.drop_table("case_notes")
    with op.batch_alter_table("recovery_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recovery_codes_user_id"))

    op.drop_table("recovery_codes")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_user_id"))
        batch_op.drop_index(batch_op.f("ix_api_tokens_tenant_id"))

    op.drop_table("api_tokens")
