"""The benchmark data generator (`benchmarks.generate`), on a small scale: what it writes is
what the application itself reads, as its own role (row-level security), through its pages
and its commands — staff of every plugin sign in and find cases, a long case's page shows
its history, a reporter opens her space with a receipt, the audit chains hold, the
encrypted columns open, and the schema is still the migrations'."""

import html
import re
import urllib.parse
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

import pyotp
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from benchmarks.generate import generate, parse_args
from core import create_app
from core.cases.models import Case, Message
from core.cases.timeline import TIMELINE_WINDOW
from core.extensions import db
from core.plugins.host import TenantInfo, plugin_host
from core.procedure.definition import Institution
from core.reports.models import Report, ReporterIdentity
from core.reports.operations import Submission, report_for_receipt, submit_report
from core.tenancy.models import Tenant
from core.tenancy.scoping import platform_scope, tenant_scope
from tests.conftest import APP_ROLE, _url

pytestmark = pytest.mark.postgresql

UNTIL = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0).isoformat()
SMALL = ["--tenants", "4", "--cases", "1200", "--receipts", "2", "--heavy-cases", "2"]


def _database(admin) -> str:
    name = f"cellule_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    return name


def _drop(admin, name: str) -> None:
    with admin.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _generate(name: str, manifest, *options: str) -> dict:
    args = parse_args(
        [
            "--database-url",
            _url(name),
            "--app-url",
            _url(name, APP_ROLE),
            "--manifest",
            str(manifest),
            "--seed",
            "3",
            "--until",
            UNTIL,
            *options,
        ]
    )
    return generate(args, say=lambda *_: None)


@pytest.fixture(scope="module")
def generated(postgres_admin, tmp_path_factory):
    """Four tenants, 1,200 cases, made by two workers into a new, empty database."""
    name = _database(postgres_admin)
    folder = tmp_path_factory.mktemp("bench")
    manifest = _generate(name, folder / "manifest.json", *SMALL, "--workers", "2")
    yield SimpleNamespace(
        name=name, app_url=_url(name, APP_ROLE), owner_url=_url(name), manifest=manifest
    )
    _drop(postgres_admin, name)


@pytest.fixture
def bench_app(generated, tmp_path):
    """The application on the generated data, as its own role, with the manifest's keys."""
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": generated.app_url,
        "DATABASE_MIGRATION_URL": generated.owner_url,
        "SECRET_KEY": generated.manifest["app"]["SECRET_KEY"],
        "CELLULE_MASTER_KEY": generated.manifest["app"]["CELLULE_MASTER_KEY"],
        "CELLULE_PREVIOUS_MASTER_KEYS": [],
        "REDIS_URL": None,
        "CELLULE_TENANT_DIRECTORY": False,
    }
    app = create_app(config, instance_path=str(tmp_path / "instance"))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def owner(generated):
    engine = sa.create_engine(generated.owner_url)
    with engine.connect() as connection:
        yield connection
    engine.dispose()


def sample(generated, plugin: str, kind: str | None = None) -> dict:
    return next(
        s
        for s in generated.manifest["samples"]
        if s["plugin"] == plugin and (kind is None or s["kind"] == kind)
    )


def csrf(page) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True))[1]


def sign_in(client, slug: str, account: dict) -> None:
    """Sign in through the pages: password, then a code from the account's TOTP secret."""
    url = f"/t/{slug}/staff/login"
    page = client.get(url)
    answer = client.post(
        url,
        data={"csrf_token": csrf(page), "email": account["email"], "password": account["password"]},
        headers={"Referer": "http://localhost" + url},
    )
    assert answer.status_code == 303, answer.get_data(as_text=True)[:500]
    url = f"/t/{slug}/staff/second-factor"
    page = client.get(url)
    code = pyotp.TOTP(account["totp_secret"]).now()
    answer = client.post(url, data={"csrf_token": csrf(page), "code": code})
    assert answer.status_code == 303, answer.get_data(as_text=True)[:500]


def case_links(page) -> set[str]:
    return set(re.findall(r"/staff/cases/([0-9a-f-]{36})", page.get_data(as_text=True)))


# -- what was written -------------------------------------------------------------------------


def test_tenants_cases_and_their_history_are_spread_like_reality(generated, owner):
    manifest = generated.manifest
    tenants = manifest["tenants"]
    assert len(tenants) == 4
    assert {t["plugin"] for t in tenants} == {"ciup", "neoma", "polytechnique"}
    sizes = [t["cases"] for t in tenants]
    assert sum(sizes) == 1200 and sizes == sorted(sizes, reverse=True)
    assert owner.scalar(sa.text("SELECT count(*) FROM cases")) == 1200
    assert owner.scalar(sa.text("SELECT count(DISTINCT case_id) FROM reports")) == 1200
    rows = manifest["rows"]
    for table in ("messages", "deadlines", "case_events", "audit_events", "case_notices"):
        assert rows[table] > 1200, table
    counts = owner.execute(
        sa.text(
            "SELECT count(*) FILTER (WHERE closed_at IS NOT NULL), "
            "count(*) FILTER (WHERE closed_at IS NULL), "
            "max(opened_at) - min(opened_at) FROM cases"
        )
    ).one()
    assert counts[0] > 0 and counts[1] > 0
    assert counts[2].days > 3 * 365
    overdue = owner.scalar(
        sa.text(
            "SELECT count(*) FROM deadlines WHERE met_at IS NULL AND cancelled_at IS NULL "
            "AND due_at < :until"
        ),
        {"until": datetime.fromisoformat(UNTIL)},
    )
    assert overdue > 0
    # the heavy cases carry about 200 timeline entries
    for heavy in sample(generated, "ciup", "large")["heavy_cases"]:
        entries = owner.scalar(
            sa.text(
                "SELECT (SELECT count(*) FROM case_events e WHERE e.case_id = c.id) "
                "+ (SELECT count(*) FROM messages m WHERE m.case_id = c.id) "
                "+ (SELECT count(*) FROM case_measures x WHERE x.case_id = c.id) "
                "FROM cases c WHERE c.public_id = :id"
            ),
            {"id": heavy["case"]},
        )
        assert entries >= 190, heavy


def test_stages_and_committees_come_from_each_plugin(generated, bench_app, owner):
    host = plugin_host()
    found = owner.execute(
        sa.text(
            "SELECT DISTINCT t.id, c.state, m.key FROM cases c "
            "JOIN tenants t ON t.id = c.tenant_id JOIN committees m ON m.id = c.committee_id"
        )
    ).all()
    with platform_scope():
        for tenant_id, state, committee in found:
            institution = Institution.of(host, TenantInfo.of(db.session.get(Tenant, tenant_id)))
            assert state in institution.procedure.states
            assert committee in institution.committees


def test_the_schema_is_still_the_migrations(generated, bench_app):
    engine = sa.create_engine(generated.owner_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []
    engine.dispose()


# -- what the application reads, as its own role ---------------------------------------------


@pytest.mark.parametrize("plugin", ["ciup", "neoma", "polytechnique"])
def test_staff_of_every_plugin_sign_in_and_find_cases_in_their_inbox(generated, bench_app, plugin):
    tenant = sample(generated, plugin)
    busiest = max(tenant["open_cases_by_committee"], key=tenant["open_cases_by_committee"].get)
    account = next(
        staff for staff in tenant["staff"] if any(s["committee"] == busiest for s in staff["seats"])
    )
    client = bench_app.test_client()
    sign_in(client, tenant["slug"], account)
    inbox = client.get(f"/t/{tenant['slug']}/staff/")
    assert inbox.status_code == 200
    shown = case_links(inbox)
    assert shown, f"{account['email']} sees no case"
    with tenant_scope(_tenant_id(tenant["slug"])):
        found = set(db.session.scalars(select(Case.public_id).where(Case.public_id.in_(shown))))
    assert found == shown


def test_a_long_case_page_shows_its_latest_entries_and_its_whole_history(generated, bench_app):
    tenant = sample(generated, "ciup", "large")
    heavy = tenant["heavy_cases"][0]
    account = next(s for s in tenant["staff"] if s["email"] == heavy["viewers"][0])
    client = bench_app.test_client()
    sign_in(client, tenant["slug"], account)
    page = client.get(f"/t/{tenant['slug']}/staff/cases/{heavy['case']}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert heavy["reference"] in text
    assert text.count('<li class="entry entry-') == TIMELINE_WINDOW
    whole = client.get(f"/t/{tenant['slug']}/staff/cases/{heavy['case']}?timeline=all")
    assert whole.get_data(as_text=True).count('<li class="entry entry-') >= 190


def test_a_reporter_opens_her_space_with_a_receipt_and_reads_her_messages(generated, bench_app):
    tenant = sample(generated, "polytechnique")
    receipt = tenant["receipts"][0]
    client = bench_app.test_client()
    url = f"/t/{tenant['slug']}/space/login"
    page = client.get(url)
    answer = client.post(url, data={"csrf_token": csrf(page), "receipt": receipt["receipt"]})
    assert answer.status_code == 303
    space = client.get(urllib.parse.urlsplit(answer.headers["Location"]).path)
    assert space.status_code == 200
    text = space.get_data(as_text=True)
    assert receipt["reference"] in text
    with tenant_scope(_tenant_id(tenant["slug"])):
        case = db.session.scalar(select(Case).where(Case.public_id == receipt["case"]))
        bodies = [m.body for m in case.messages]
    assert bodies
    assert all(html.escape(body) in text for body in bodies)


def test_a_wrong_receipt_opens_nothing(generated, bench_app):
    tenant = sample(generated, "ciup", "large")
    client = bench_app.test_client()
    url = f"/t/{tenant['slug']}/space/login"
    page = client.get(url)
    answer = client.post(url, data={"csrf_token": csrf(page), "receipt": "1" * 20})
    assert answer.status_code == 422


def test_every_audit_chain_holds(generated, bench_app):
    result = bench_app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 4 and all(": ok (" in line for line in lines)
    # the events generated, and those the other tests' sign-ins and reads added since
    checked = sum(int(re.search(r"\((\d+) events", line)[1]) for line in lines)
    assert checked >= generated.manifest["rows"]["audit_events"]


def test_encrypted_columns_open_with_the_tenants_keys(generated, bench_app):
    for tenant in generated.manifest["tenants"]:
        with tenant_scope(_tenant_id(tenant["slug"])):
            reports = db.session.scalars(select(Report).limit(50)).all()
            assert reports and all(r.narrative and isinstance(r.form_data, dict) for r in reports)
            assert all(isinstance(r.notify_email, str | None) for r in reports)
            for identity in db.session.scalars(select(ReporterIdentity).limit(20)):
                assert identity.full_name
            for message in db.session.scalars(select(Message).limit(20)):
                assert message.body
        db.session.rollback()


def test_the_application_goes_on_writing_after_the_load(generated, bench_app):
    """A new report takes the next ids, appends to the chain, and the chain still holds."""
    tenant = sample(generated, "ciup", "large")
    tenant_id = _tenant_id(tenant["slug"])
    with tenant_scope(tenant_id):
        info = TenantInfo.of(db.session.get(Tenant, tenant_id))
        institution = Institution.of(plugin_host(), info)
        before = db.session.scalar(select(func.max(Case.id)))
        case, receipt = submit_report(
            Submission(relation="witness", anonymous=True, narrative="Invented words."),
            institution=institution,
            host=plugin_host(),
        )
        db.session.commit()
        assert case.id > before
        assert report_for_receipt(tenant_id, receipt).case_id == case.id
    result = bench_app.test_cli_runner().invoke(args=["audit", "verify", "--tenant", info.slug])
    assert result.exit_code == 0, result.output


def test_the_same_seed_makes_the_same_data(postgres_admin, tmp_path):
    options = ["--tenants", "2", "--cases", "40", "--workers", "1", "--receipts", "1"]
    options += ["--heavy-cases", "0"]
    made = []
    for run in (1, 2):
        name = _database(postgres_admin)
        try:
            manifest = _generate(name, tmp_path / f"{run}.json", *options)
            engine = sa.create_engine(_url(name))
            with engine.connect() as connection:
                cases = connection.execute(
                    sa.text(
                        "SELECT public_id, reference, state, opened_at, closed_at, facts "
                        "FROM cases ORDER BY public_id"
                    )
                ).all()
                events = connection.execute(
                    sa.text(
                        "SELECT action, target_id, created_at, details FROM audit_events "
                        "ORDER BY tenant_id, seq"
                    )
                ).all()
            engine.dispose()
        finally:
            _drop(postgres_admin, name)
        made.append((cases, events, manifest["samples"]))
    assert made[0] == made[1]


def _tenant_id(slug: str) -> int:
    with platform_scope():
        return db.session.scalar(select(Tenant.id).where(Tenant.slug == slug))
