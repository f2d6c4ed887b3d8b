"""Binding the database and migrations to the app."""

import logging

from sqlalchemy import event

from core.extensions import db, migrate

CONNECT_TIMEOUT = 5  # seconds to reach PostgreSQL
STATEMENT_TIMEOUT = 30  # seconds one statement of a request or a job may take


def init_app(app) -> None:
    from core import PROJECT_ROOT
    from core.models import import_all_models

    import_all_models()
    # A failed statement's error (and so its log line) never shows the values bound to it:
    # they may be report content or somebody's address.
    options = {"hide_parameters": True}
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # An unreachable server or a runaway statement fails the request instead of holding
        # a worker's thread (gunicorn's gthread workers never time a request out).
        # psycopg prepares a statement run five times, and PostgreSQL may then plan it once
        # for any parameters: a plan blind to which tenant, which cases and how many, that
        # made a batch lookup of the inbox a hundred times slower. Plan every run afresh.
        options["connect_args"] = {
            "connect_timeout": CONNECT_TIMEOUT,
            "options": (
                f"-c statement_timeout={STATEMENT_TIMEOUT * 1000} "
                "-c plan_cache_mode=force_custom_plan"
            ),
        }
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        **options,
        **app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}),
    }
    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        event.listen(engine, "first_connect", _check_role_is_subject_to_rls)


class UnsafeDatabaseRole(RuntimeError):
    """The application's database role would escape row-level security."""


def _check_role_is_subject_to_rls(dbapi_connection, connection_record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(
        "SELECT rolsuper OR rolbypassrls, current_user, "
        "EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = 'public' "
        "AND tableowner = current_user AND tablename <> 'alembic_version') "
        "FROM pg_roles WHERE rolname = current_user"
    )
    escapes, role, owns_tables = cursor.fetchone()
    cursor.close()
    dbapi_connection.rollback()
    if escapes:
        raise UnsafeDatabaseRole(
            f"DATABASE_URL connects as {role}, a superuser or BYPASSRLS role: row-level "
            "security would not apply. Use a plain role and put the owner in "
            "DATABASE_MIGRATION_URL."
        )
    if owns_tables:
        logging.getLogger(__name__).warning(
            "DATABASE_URL connects as %s, which owns the tables and could turn row-level "
            "security off; give migrations their own role (DATABASE_MIGRATION_URL).",
            role,
        )


def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
