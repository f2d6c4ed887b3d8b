"""Migrations are the only way the schema changes: they must agree with the models."""

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade

from core import PROJECT_ROOT
from core.extensions import db


def test_models_and_migrations_agree(app, owner_engine):
    with owner_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_history_is_linear():
    script = ScriptDirectory(str(PROJECT_ROOT / "migrations"))
    assert len(script.get_heads()) == 1
    for revision in script.walk_revisions():
        assert not revision.is_merge_point, revision.revision
        assert revision.module.__doc__, f"revision {revision.revision} needs a docstring"


def test_upgrade_from_empty_then_down_and_up_again(app, owner_engine):
    def tables():
        return set(sa.inspect(owner_engine).get_table_names()) - {"alembic_version"}

    assert tables() == set(db.metadata.tables)
    db.session.remove()
    downgrade(revision="base")
    assert tables() == set()
    upgrade()
    assert tables() == set(db.metadata.tables)


@pytest.mark.postgresql
def test_upgrade_grants_the_application_role_an_append_only_audit_trail(app, owner_engine):
    with owner_engine.connect() as connection:
        role = sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"]).username
        privileges = dict(
            connection.execute(
                sa.text(
                    "SELECT table_name, string_agg(privilege_type, ',' ORDER BY privilege_type) "
                    "FROM information_schema.role_table_grants WHERE grantee = :role "
                    "GROUP BY table_name"
                ),
                {"role": role},
            ).all()
        )
    assert privileges["audit_events"] == "INSERT,SELECT"
    assert privileges["reports"] == "DELETE,INSERT,SELECT,UPDATE"
    assert privileges["alembic_version"] == "SELECT"
