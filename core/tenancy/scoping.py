"""Automatic tenant scoping.

Code runs either inside one tenant's scope (`tenant_scope`) or, explicitly, in the
platform's (`platform_scope`). Inside a tenant's scope every ORM query on a tenant-owned
table is filtered to that tenant and every write is checked against it; with no scope at
all, touching a tenant-owned table is an error. On PostgreSQL the scope is also written
into per-transaction settings that the row-level security policies read, so raw SQL is
held to the same rule.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache

from flask_sqlalchemy.session import Session
from psycopg.pq import TransactionStatus
from sqlalchemy import Table, event, inspect, text
from sqlalchemy.orm import ORMExecuteState, with_loader_criteria
from sqlalchemy.sql import visitors

from core.extensions import db
from core.tenancy.models import PlatformOwned, Tenant, TenantOwned, tenant_owned_tables


class TenantScopeError(RuntimeError):
    """Tenant-owned data was touched outside the scope allowed to touch it."""


@dataclass(frozen=True)
class Scope:
    tenant_id: int | None  # None: the platform scope, which sees every tenant

    @property
    def is_platform(self) -> bool:
        return self.tenant_id is None


PLATFORM = Scope(tenant_id=None)
# A failed transaction takes no more statements; it is rolled back before any further use.
INERROR = TransactionStatus.INERROR
_current: ContextVar[Scope | None] = ContextVar("cellule_scope", default=None)


def current_scope() -> Scope | None:
    return _current.get()


def current_tenant_id() -> int:
    """The id of the tenant in scope; raises outside a tenant's scope."""
    scope = _current.get()
    if scope is None or scope.is_platform:
        raise TenantScopeError("no tenant in scope")
    return scope.tenant_id


@contextmanager
def tenant_scope(tenant: Tenant | int) -> Iterator[Scope]:
    """Run the block as `tenant`: it sees and writes only that tenant's rows."""
    tenant_id = tenant if isinstance(tenant, int) else tenant.id
    if tenant_id is None:
        raise TenantScopeError("tenant has no id yet: flush it before entering its scope")
    with _scoped(Scope(tenant_id)) as scope:
        yield scope


@contextmanager
def platform_scope() -> Iterator[Scope]:
    """Run the block as the platform operator: it sees every tenant's rows. Say why you need it."""
    with _scoped(PLATFORM) as scope:
        yield scope


@contextmanager
def _scoped(scope: Scope) -> Iterator[Scope]:
    token = _current.set(scope)
    try:
        _apply_to_open_transaction()
        yield scope
    finally:
        # Also on error: PostgreSQL must never keep an inner scope's settings.
        _current.reset(token)
        _apply_to_open_transaction()


def enter_scope(scope: Scope):
    """Set `scope` until `leave_scope(token)`; for request hooks that cannot use `with`."""
    token = _current.set(scope)
    _apply_to_open_transaction()
    return token


def leave_scope(token, *, update_transaction: bool = True) -> None:
    _current.reset(token)
    if update_transaction:
        _apply_to_open_transaction()


def _apply_to_open_transaction() -> None:
    """If a transaction is already open, tell PostgreSQL about the new scope at once."""
    session = db.session()
    if db.engine.dialect.name != "postgresql":
        return
    transaction = session.get_transaction()
    if transaction is None or not transaction.is_active:
        return  # the next transaction begins with the right settings (`_on_begin`)
    connection = session.connection()
    if connection.connection.dbapi_connection.info.transaction_status != INERROR:
        _write_rls_settings(connection)


def _write_rls_settings(connection) -> None:
    scope = _current.get()
    tenant = "" if scope is None or scope.is_platform else str(scope.tenant_id)
    platform = "on" if scope is not None and scope.is_platform else ""
    connection.execute(
        text(
            "SELECT set_config('cellule.tenant_id', :tenant, true), "
            "set_config('cellule.platform', :platform, true)"
        ),
        {"tenant": tenant, "platform": platform},
    )


def _on_begin(session, transaction, connection) -> None:
    if connection.dialect.name == "postgresql":
        _write_rls_settings(connection)


def _scope_queries(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update:
        _check_written_tenants(state)
    if not (state.is_select or state.is_update or state.is_delete):
        return
    scope = _current.get()
    if scope is None:
        owned = _tenant_owned_tables_in(state.statement)
        if owned:
            raise TenantScopeError(
                f"query on tenant-owned table(s) {', '.join(owned)} outside any tenant scope"
            )
        return
    if scope.is_platform:
        return
    # Applied to every statement, not only those whose entities name a tenant-owned class:
    # `select(func.count()).select_from(Case)` has no entity, and must be filtered too.
    tenant_id = scope.tenant_id
    state.statement = state.statement.options(
        with_loader_criteria(
            TenantOwned, lambda cls: cls.tenant_id == tenant_id, include_aliases=True
        )
    )


def _check_written_tenants(state: ORMExecuteState) -> None:
    """ORM bulk INSERT and UPDATE: rows go to the tenant in scope, and never move."""
    statement = state.statement
    table = getattr(statement, "table", None)
    if table is None or table.name not in _owned_table_names():
        return
    scope = _current.get()
    if scope is None:
        raise TenantScopeError(f"write to tenant-owned table {table.name} outside any scope")
    if scope.is_platform:
        return
    rows = [dict(statement._values or {}), *(r for rows in statement._multi_values for r in rows)]
    parameters = state.parameters
    rows += parameters if isinstance(parameters, list) else [parameters or {}]
    for row in rows:
        for column, value in row.items():
            if getattr(column, "key", column) != "tenant_id":
                continue
            if state.is_update:
                raise TenantScopeError(f"the tenant of a row of {table.name} never changes")
            value = getattr(value, "value", value)
            if value != scope.tenant_id:
                raise TenantScopeError(f"cannot insert into {table.name} for another tenant")


def check_visible(obj):
    """`obj` if the current scope may see it; None if it belongs to another tenant."""
    if not isinstance(obj, TenantOwned):
        return obj
    scope = _current.get()
    if scope is None:
        raise TenantScopeError(f"{type(obj).__name__} read outside any tenant scope")
    if scope.is_platform or obj.tenant_id == scope.tenant_id:
        return obj
    return None


def _tenant_owned_tables_in(statement) -> list[str]:
    owned = _owned_table_names()
    return sorted(
        {e.name for e in visitors.iterate(statement) if isinstance(e, Table) and e.name in owned}
    )


@cache
def _owned_table_names() -> frozenset[str]:
    return frozenset(tenant_owned_tables())


def _check_writes(session, flush_context, instances) -> None:
    scope = _current.get()
    for obj in (*session.new, *session.dirty, *session.deleted):
        is_new = obj in session.new
        if isinstance(obj, PlatformOwned):
            _require_platform_or_owner(scope, obj, is_new=is_new)
        elif isinstance(obj, TenantOwned):
            if is_new and obj.tenant_id is None and scope is not None and not scope.is_platform:
                obj.tenant_id = scope.tenant_id
            if not is_new:
                _require_unchanged_tenant(obj)
            _require_same_tenant(scope, obj, "create" if is_new else "change")


def _require_platform_or_owner(scope: Scope | None, obj, *, is_new: bool) -> None:
    if scope is not None and scope.is_platform:
        return
    owner = getattr(obj, obj.owner_column) if obj.owner_column else None
    if scope is not None and owner == scope.tenant_id and not (is_new and isinstance(obj, Tenant)):
        return
    raise TenantScopeError(f"only the platform scope may write this {type(obj).__name__}")


def _require_unchanged_tenant(obj) -> None:
    history = inspect(obj).attrs.tenant_id.history
    if history.deleted and history.deleted[0] is not None:
        raise TenantScopeError(f"the tenant of a {type(obj).__name__} never changes")


def _require_same_tenant(scope: Scope | None, obj, verb: str) -> None:
    if scope is None:
        raise TenantScopeError(f"cannot {verb} {type(obj).__name__} outside any tenant scope")
    if scope.is_platform:
        if obj.tenant_id is None:
            raise TenantScopeError(f"{type(obj).__name__} needs a tenant_id in the platform scope")
        return
    if obj.tenant_id != scope.tenant_id:
        raise TenantScopeError(
            f"cannot {verb} {type(obj).__name__} of another tenant from tenant {scope.tenant_id}"
        )


def init_app(app) -> None:
    for name, listener in (
        ("do_orm_execute", _scope_queries),
        ("before_flush", _check_writes),
        ("after_begin", _on_begin),
    ):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)
