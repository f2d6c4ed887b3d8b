"""PostgreSQL row-level security: the policies every tenant-owned table carries.

Migrations call `enable_tenant_isolation(op, table)` for each tenant-owned table they
create. The policies read two per-transaction settings written by `core.tenancy.scoping`:
``cellule.tenant_id`` (the tenant in scope) and ``cellule.platform`` (``on`` only inside an
explicit platform scope). FORCE makes the table's owner subject to them too; only a
superuser or a BYPASSRLS role escapes them, and the application must be neither.
"""

TENANT_MATCH = "tenant_id = NULLIF(current_setting('cellule.tenant_id', true), '')::integer"
PLATFORM_MATCH = "current_setting('cellule.platform', true) = 'on'"
# Tables the application may read and append to, never change: the audit trail.
APPEND_ONLY_TABLES = ("audit_events",)


def isolation_statements(table: str) -> list[str]:
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY tenant_isolation ON {table} USING ({TENANT_MATCH}) "
        f"WITH CHECK ({TENANT_MATCH})",
        f"CREATE POLICY platform_access ON {table} USING ({PLATFORM_MATCH}) "
        f"WITH CHECK ({PLATFORM_MATCH})",
    ]


def shared_table_statements(table: str, owner_column: str | None) -> list[str]:
    """Policies of a platform-owned table: everyone reads; the platform writes, and so does
    the owning tenant where `owner_column` names it."""
    statements = [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY read_all ON {table} FOR SELECT USING (true)",
        f"CREATE POLICY platform_access ON {table} USING ({PLATFORM_MATCH}) "
        f"WITH CHECK ({PLATFORM_MATCH})",
    ]
    if owner_column:
        match = TENANT_MATCH.replace("tenant_id", owner_column, 1)
        statements.append(
            f"CREATE POLICY owner_writes ON {table} FOR UPDATE USING ({match}) WITH CHECK ({match})"
        )
    return statements


def protect_shared_table(op, table: str, owner_column: str | None = None) -> None:
    """Give a platform-owned table its row-level security policies (no-op on SQLite)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in shared_table_statements(table, owner_column):
        op.execute(statement)


def enable_tenant_isolation(op, table: str) -> None:
    """Give `table` its row-level security policies (no-op on SQLite)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in isolation_statements(table):
        op.execute(statement)


def grant_application_role(connection, role: str) -> None:
    """Let the application's role use every table, with the audit trail append-only.

    Run after every upgrade (idempotent), so tables added later are covered too.
    """
    quoted = connection.dialect.identifier_preparer.quote(role)
    existing = set(
        connection.exec_driver_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).scalars()
    )
    for statement in (
        f"GRANT USAGE ON SCHEMA public TO {quoted}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}",
        f"REVOKE INSERT, UPDATE, DELETE ON alembic_version FROM {quoted}",
        *(
            f"REVOKE UPDATE, DELETE ON {table} FROM {quoted}"
            for table in APPEND_ONLY_TABLES
            if table in existing
        ),
    ):
        connection.exec_driver_sql(statement)
