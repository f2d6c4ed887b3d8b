"""A query in one tenant never sees another tenant's rows: in the ORM, and in PostgreSQL."""

import pytest
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from core.cases.models import Case, Message
from core.extensions import db
from core.reports.models import Report
from core.tenancy.models import tenant_owned_tables
from core.tenancy.scoping import TenantScopeError, platform_scope, tenant_scope


@pytest.fixture
def two_tenants(make_tenant, make_case):
    a, b = make_tenant("alpha"), make_tenant("beta")
    make_case(a, "alpha narrative one", message="alpha says hello")
    make_case(a, "alpha narrative two")
    b_case = make_case(b, "beta narrative", message="beta says hello")
    return a, b, b_case.id


def test_queries_see_only_the_tenant_in_scope(two_tenants):
    a, b, _ = two_tenants
    with tenant_scope(a):
        assert sorted(db.session.scalars(select(Report.narrative))) == [
            "alpha narrative one",
            "alpha narrative two",
        ]
        assert db.session.scalar(select(func.count()).select_from(Case)) == 2
    with tenant_scope(b):
        assert list(db.session.scalars(select(Report.narrative))) == ["beta narrative"]


def test_joins_and_relationships_are_scoped_too(two_tenants):
    a, _, b_case_id = two_tenants
    with tenant_scope(a):
        joined = db.session.scalars(select(Message.body).join(Case)).all()
        assert joined == ["alpha says hello"]
        # Even naming another tenant's row by its primary key finds nothing.
        assert db.session.get(Case, b_case_id) is None
        assert db.session.scalar(select(Case).where(Case.id == b_case_id)) is None


def test_get_does_not_answer_from_memory_with_another_tenants_row(two_tenants):
    a, b, b_case_id = two_tenants
    with tenant_scope(b):
        b_case = db.session.get(Case, b_case_id)  # now in the session's identity map
        assert b_case is not None
    with tenant_scope(a):
        assert db.session.get(Case, b_case_id) is None
    with platform_scope():
        assert db.session.get(Case, b_case_id) is b_case
    with pytest.raises(TenantScopeError, match="outside any tenant scope"):
        db.session.get(Case, b_case_id)


def test_bulk_update_and_delete_cannot_reach_another_tenant(two_tenants):
    a, b, _ = two_tenants
    with tenant_scope(a):
        db.session.execute(update(Case).values(state="closed"))
        db.session.execute(delete(Message))
        db.session.commit()
    with tenant_scope(b):
        assert db.session.scalars(select(Case.state)).all() == ["received"]
        assert db.session.scalar(select(func.count()).select_from(Message)) == 1


def test_writing_another_tenants_row_is_refused(two_tenants):
    a, b, b_case_id = two_tenants
    with tenant_scope(b):
        b_case = db.session.get(Case, b_case_id)
    with tenant_scope(a):
        b_case.state = "closed"
        with pytest.raises(TenantScopeError, match="another tenant"):
            db.session.flush()
        db.session.rollback()
        db.session.add(Case(tenant_id=b.id, state="received"))
        with pytest.raises(TenantScopeError, match="another tenant"):
            db.session.flush()
        db.session.rollback()


def test_new_rows_take_the_tenant_in_scope(two_tenants):
    a, _, _ = two_tenants
    with tenant_scope(a):
        case = Case(state="received")
        db.session.add(case)
        db.session.flush()
        assert case.tenant_id == a.id
        db.session.rollback()


def test_no_scope_no_access(two_tenants):
    with pytest.raises(TenantScopeError, match="outside any tenant scope"):
        db.session.scalars(select(Report)).all()
    db.session.rollback()
    db.session.add(Case(state="received", tenant_id=two_tenants[0].id))
    with pytest.raises(TenantScopeError, match="outside any tenant scope"):
        db.session.flush()
    db.session.rollback()


def test_platform_scope_sees_every_tenant_when_asked(two_tenants):
    with platform_scope():
        assert db.session.scalar(select(func.count()).select_from(Report)) == 3


# -- below the application: PostgreSQL row-level security ------------------------------


def _count(table: str) -> int:
    return db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


@pytest.mark.postgresql
def test_raw_sql_in_a_tenant_transaction_sees_zero_rows_of_another(two_tenants):
    a, b, _ = two_tenants
    with tenant_scope(a):
        assert _count("reports") == 2
        assert _count("messages") == 1
        others = db.session.execute(
            text("SELECT count(*) FROM reports WHERE tenant_id = :b"), {"b": b.id}
        ).scalar_one()
        assert others == 0
    db.session.rollback()
    with tenant_scope(b):
        assert _count("reports") == 1


@pytest.mark.postgresql
def test_raw_sql_cannot_insert_into_another_tenant(two_tenants):
    a, b, _ = two_tenants
    with tenant_scope(a), pytest.raises(DBAPIError, match="row-level security"):
        db.session.execute(
            text(
                "INSERT INTO cases (tenant_id, public_id, reference, state, opened_at, updated_at)"
                " VALUES (:b, 'x', 'AAAA-AAAA', 'received', now(), now())"
            ),
            {"b": b.id},
        )
    db.session.rollback()
    with tenant_scope(b):
        assert _count("cases") == 1


@pytest.mark.postgresql
def test_raw_sql_cannot_move_a_row_to_another_tenant(two_tenants):
    a, b, _ = two_tenants
    with tenant_scope(a), pytest.raises(DBAPIError, match="row-level security"):
        db.session.execute(text("UPDATE cases SET tenant_id = :b"), {"b": b.id})
    db.session.rollback()


@pytest.mark.postgresql
def test_raw_sql_outside_any_scope_sees_nothing(two_tenants):
    assert _count("reports") == 0
    assert _count("audit_events") == 0
    db.session.rollback()


@pytest.mark.postgresql
def test_the_application_role_is_subject_to_row_level_security(app):
    role = db.session.execute(
        text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
    ).one()
    assert role == (False, False)
    owners = set(
        db.session.scalars(
            text("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'")
        )
    )
    current = db.session.execute(text("SELECT current_user")).scalar_one()
    assert current not in owners


@pytest.mark.postgresql
def test_every_tenant_owned_table_has_its_policies(app):
    rows = db.session.execute(
        text(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, "
            "array_agg(p.polname ORDER BY p.polname) FROM pg_class c "
            "JOIN pg_policy p ON p.polrelid = c.oid GROUP BY 1, 2, 3"
        )
    ).all()
    protected = {
        name: (enabled, forced, list(policies)) for name, enabled, forced, policies in rows
    }
    shared = ["tenant_domains", "tenants", "users"]
    assert sorted(protected) == sorted([*tenant_owned_tables(), *shared])
    for name in tenant_owned_tables():
        assert protected[name] == (True, True, ["platform_access", "tenant_isolation"]), name
    assert protected["tenants"] == (True, True, ["owner_writes", "platform_access", "read_all"])
    assert protected["users"] == (True, True, ["platform_access", "read_all"])


@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.LegacyAPIWarning")
def test_no_identity_map_path_returns_another_tenants_row(two_tenants):
    a, b, b_case_id = two_tenants
    with tenant_scope(b):
        b_case = db.session.get(Case, b_case_id)
        b_report = db.session.scalars(select(Report)).one()
        assert b_report.case is b_case
    with tenant_scope(a):
        assert Case.query.get(b_case_id) is None
        db.session.expire(b_report, ["case"])
        assert b_report.case is None


def test_a_row_cannot_point_into_another_tenant(two_tenants):
    a, _, b_case_id = two_tenants
    with tenant_scope(a):
        db.session.add(Report(reporter_relation="victim", narrative="x", case_id=b_case_id))
        with pytest.raises(IntegrityError):
            db.session.flush()
    db.session.rollback()


def test_bulk_writes_stay_in_the_tenant_in_scope(two_tenants):
    a, b, _ = two_tenants
    with tenant_scope(a):
        with pytest.raises(TenantScopeError, match="another tenant"):
            db.session.execute(insert(Case).values(tenant_id=b.id, state="planted"))
        with pytest.raises(TenantScopeError, match="never changes"):
            db.session.execute(update(Case).values(tenant_id=b.id))
        case = db.session.scalars(select(Case)).first()
        case.tenant_id = b.id
    with tenant_scope(b), pytest.raises(TenantScopeError, match="never changes"):
        db.session.flush()
    db.session.rollback()
    with pytest.raises(TenantScopeError, match="outside any scope"):
        db.session.execute(insert(Case).values(tenant_id=a.id, state="planted"))


def test_shared_tables_are_written_by_the_platform_only(two_tenants):
    a, b, _ = two_tenants
    with tenant_scope(a):
        b.name = "Taken over"
        with pytest.raises(TenantScopeError, match="only the platform"):
            db.session.flush()
        db.session.rollback()
        a.name = "Alpha renamed"  # a tenant may change itself
        db.session.flush()
    db.session.rollback()


@pytest.mark.postgresql
def test_raw_sql_in_a_tenant_cannot_delete_or_take_over_another_tenant(two_tenants):
    a, b, _ = two_tenants
    with tenant_scope(a):
        deleted = db.session.execute(text("DELETE FROM tenants WHERE id = :b"), {"b": b.id})
        assert deleted.rowcount == 0
        renamed = db.session.execute(
            text("UPDATE tenants SET name = 'x' WHERE id = :b"), {"b": b.id}
        )
        assert renamed.rowcount == 0
        touched = db.session.execute(text("UPDATE users SET password_hash = 'x'"))
        assert touched.rowcount == 0
    db.session.rollback()


@pytest.mark.postgresql
def test_the_database_scope_follows_nested_scopes_that_fail(two_tenants):
    a, b, _ = two_tenants
    with tenant_scope(a):
        for inner in (tenant_scope(b), platform_scope()):
            with pytest.raises(ValueError), inner:
                raise ValueError("inner work failed")
            ids = db.session.execute(text("SELECT DISTINCT tenant_id FROM reports")).scalars()
            assert list(ids) == [a.id]
    db.session.rollback()


@pytest.mark.postgresql
def test_the_app_refuses_a_role_that_escapes_row_level_security(config, database, tmp_path):
    from core import create_app
    from core.db_setup import UnsafeDatabaseRole

    superuser_url = database[1]  # the tests' owner connection is a superuser
    app = create_app(
        {**config, "SQLALCHEMY_DATABASE_URI": superuser_url}, instance_path=str(tmp_path)
    )
    with app.app_context(), pytest.raises(UnsafeDatabaseRole, match="superuser or BYPASSRLS"):
        db.session.execute(text("SELECT 1"))
    with app.app_context():
        db.engine.dispose()
