"""Alembic environment: runs migrations as the owner role (DATABASE_MIGRATION_URL)."""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app
from sqlalchemy import create_engine, make_url, pool

from core.tenancy.rls import grant_application_role

config = context.config
fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

target_metadata = current_app.extensions["migrate"].db.metadata
migration_url = current_app.config["DATABASE_MIGRATION_URL"]
application_url = current_app.config["SQLALCHEMY_DATABASE_URI"]
config.set_main_option("sqlalchemy.url", migration_url.replace("%", "%%"))


def render_item(type_, obj, autogen_context):
    """Render the project's column types as plain SQLAlchemy ones, so revisions stand alone."""
    from sqlalchemy import JSON

    from core.crypto.fields import EncryptedText
    from core.types import UTCDateTime

    if type_ != "type":
        return False
    if isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if isinstance(obj, EncryptedText):
        return "sa.LargeBinary()"
    if isinstance(obj, JSON):
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return "sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')"
    return False


def _configure_args(connection=None) -> dict:
    def skip_empty_autogenerate(context, revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
            directives[:] = []
            logger.info("No changes in schema detected.")

    args = dict(current_app.extensions["migrate"].configure_args)
    args.setdefault("process_revision_directives", skip_empty_autogenerate)
    args.setdefault("compare_type", True)
    args.setdefault("render_item", render_item)
    args["render_as_batch"] = make_url(migration_url).get_backend_name() == "sqlite"
    return args


def run_migrations_offline() -> None:
    context.configure(
        url=migration_url,
        target_metadata=target_metadata,
        literal_binds=True,
        **_configure_args(),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    # a failing data migration's error never shows the values bound to it (core.logs)
    engine = create_engine(migration_url, poolclass=pool.NullPool, hide_parameters=True)
    with engine.connect() as connection:
        context.configure(
            connection=connection, target_metadata=target_metadata, **_configure_args(connection)
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Data migrations act for the platform; FORCE'd policies apply to the owner too.
                connection.exec_driver_sql("SELECT set_config('cellule.platform', 'on', true)")
            context.run_migrations()
            app_role = make_url(application_url).username
            if (
                connection.dialect.name == "postgresql"
                and app_role
                and (app_role != make_url(migration_url).username)
            ):
                grant_application_role(connection, app_role)
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
