"""Test kit: pytest fixtures for Cellule and for plugin authors.

Enable it in a plugin's test suite with ``pytest_plugins = ["core.testing"]``. Its ``app``
fixture runs Cellule on a fresh SQLite database per test (migrated once per session, then
copied), with an app context pushed; a suite that defines its own ``app`` fixture (Cellule's
runs every test on SQLite and PostgreSQL) overrides it. See docs/plugins.md.
"""

import base64
import functools
import shutil
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select

from core.cases.models import Case, CaseMeasure, CaseNotice, Deadline, Message
from core.cases.operations import (
    ProcedureRefusal,
    available_transitions,
    open_case,
    record_consent,
    set_flag,
    take_transition,
)
from core.committees.models import Committee
from core.committees.operations import add_member
from core.extensions import db
from core.identity.models import Role
from core.identity.operations import create_user, grant_role, password_hasher
from core.plugins.host import PluginHost, TenantInfo, plugin_host
from core.procedure.definition import Institution
from core.reports.models import Report, ReporterIdentity
from core.tenancy.models import Tenant
from core.tenancy.operations import create_tenant, enable_plugin
from core.tenancy.scoping import platform_scope, tenant_scope

TEST_PASSWORD = "correct horse battery staple"  # noqa: S105 (accounts made by tests)


@functools.cache
def test_password_hash() -> str:
    """TEST_PASSWORD's argon2id hash, computed once: every test account shares it."""
    return password_hasher.hash(TEST_PASSWORD)


KIT_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-kit-secret-key",
    "CELLULE_MASTER_KEY": base64.urlsafe_b64encode(b"test-kit-master-key-32-bytes-!!!").decode(),
    "CELLULE_PREVIOUS_MASTER_KEYS": [],
    "REDIS_URL": None,
    "CELLULE_BASE_DOMAIN": "cellule.test",
    "CELLULE_TENANT_DIRECTORY": False,
}


def _kit_config(path) -> dict:
    url = f"sqlite:///{path}"
    return {**KIT_CONFIG, "SQLALCHEMY_DATABASE_URI": url, "DATABASE_MIGRATION_URL": url}


@pytest.fixture(scope="session")
def cellule_database_template(tmp_path_factory):
    """A migrated SQLite database file, made once per session."""
    from flask_migrate import upgrade

    from core import create_app

    folder = tmp_path_factory.mktemp("cellule-template")
    path = folder / "cellule.db"
    app = create_app(_kit_config(path), instance_path=str(folder / "instance"))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return path


@pytest.fixture
def app(cellule_database_template, tmp_path):
    """Cellule on its own copy of the migrated database, with an app context pushed."""
    from core import create_app

    path = tmp_path / "cellule.db"
    shutil.copyfile(cellule_database_template, path)
    app = create_app(_kit_config(path), instance_path=str(tmp_path / "instance"))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def plugins(app) -> PluginHost:
    """The app's plugin host."""
    return plugin_host()


@pytest.fixture
def ad_hoc_plugin(plugins) -> Iterator[Callable]:
    """Register plugins for one test: ``ad_hoc_plugin("name", module_or_object)``."""
    names = []

    def register(name: str, plugin):
        if not plugins.add(name, plugin):
            raise AssertionError(f"plugin {name} did not register: {plugins.broken.get(name)}")
        names.append(name)
        return plugin

    yield register
    for name in names:
        plugins.remove(name)


@pytest.fixture
def make_tenant(app, plugins) -> Callable[..., Tenant]:
    """Create a tenant through the same operations as `cellule tenant create`."""

    def make(slug: str, *, enable: tuple[str, ...] = (), name: str | None = None) -> Tenant:
        with platform_scope():
            tenant = create_tenant(slug, name or slug.title(), actor="platform")
            for plugin in enable:
                enable_plugin(tenant, plugin, host=plugins, actor="platform")
        db.session.commit()
        return tenant

    return make


@pytest.fixture
def make_staff(app) -> Callable:
    """Create a staff account with roles in a tenant."""

    def make(tenant: Tenant, email: str, *roles: Role):
        with platform_scope():
            user = create_user(email, email.split("@")[0], None, password_hash=test_password_hash())
        with tenant_scope(tenant):
            for role in roles:
                grant_role(tenant.id, user, role, actor="platform")
        db.session.commit()
        return user

    return make


def sign_in(client, user, tenant, *, second_factor: bool = True) -> None:
    """Give `client` a staff session of `tenant` (None: the platform operator's pages) for
    `user`, as the sign-in pages would (second factor checked unless `second_factor=False`)."""
    import time

    from core.identity.access import SESSION_KEY

    with client.session_transaction() as session:
        session.clear()
        session["_user_id"] = user.get_id()
        session["_fresh"] = True
        session[SESSION_KEY] = {
            "tenant": tenant.id if tenant is not None else None,
            "second_factor": second_factor,
            "seen": int(time.time()),
        }


@pytest.fixture
def make_case(app) -> Callable:
    """Create a report with its case (and optionally a message and a reporter identity)."""

    def make(
        tenant: Tenant, narrative: str, *, state: str = "received", message=None, reporter_name=None
    ) -> Case:
        with tenant_scope(tenant):
            case = Case(tenant_id=tenant.id, state=state)
            report = Report(
                tenant_id=tenant.id,
                case=case,
                reporter_relation="victim",
                is_anonymous=reporter_name is None,
                narrative=narrative,
                form_data={"narrative_length": len(narrative)},
            )
            if reporter_name:
                report.identity = ReporterIdentity(tenant_id=tenant.id, full_name=reporter_name)
            db.session.add_all([case, report])
            if message:
                db.session.add(
                    Message(tenant_id=tenant.id, case=case, author_kind="reporter", body=message)
                )
            db.session.commit()
            db.session.refresh(case)
        return case

    return make


@pytest.fixture
def make_member(app, make_staff) -> Callable:
    """Create a staff account seated on one of a tenant's committees.

    ``make_member(tenant, "listening_unit", role="listener", site="north")``; the account also
    gets the core roles listed in `roles` (default: none). Pass ``user=`` to seat an
    existing account on a further committee.
    """
    counter = iter(range(1, 10_000))

    def make(
        tenant: Tenant, committee: str, *, role=None, site=None, roles=(), name=None, user=None
    ):
        if user is None:
            email = f"{name or committee}-{next(counter)}@{tenant.slug}.test".lower()
            user = make_staff(tenant, email, *roles)
        with tenant_scope(tenant):
            seat = db.session.scalar(
                select(Committee).where(
                    Committee.tenant_id == tenant.id, Committee.key == committee
                )
            )
            if seat is None:
                raise AssertionError(f"tenant {tenant.slug} has no committee {committee!r}")
            add_member(seat, user, actor="platform", role_key=role, site_key=site)
        db.session.commit()
        return user

    return make


class CaseRunner:
    """Drive cases of one tenant through its procedure, as the core's engine runs them.

    Every call runs in the tenant's scope and commits, like a request would; refusals are
    `ProcedureRefusal` with the rule that refused.
    """

    def __init__(self, tenant: Tenant, host: PluginHost):
        self.tenant, self.host = tenant, host

    @property
    def institution(self) -> Institution:
        return Institution.of(self.host, TenantInfo.of(self.tenant))

    def submit(
        self,
        *,
        relation="victim",
        anonymous=True,
        answers=None,
        categories=(),
        narrative="What happened.",
        now=None,
    ) -> Case:
        """Submit a report and open its case (routing, consents, first deadlines)."""
        with tenant_scope(self.tenant):
            report = Report(
                tenant_id=self.tenant.id,
                reporter_relation=relation,
                is_anonymous=anonymous,
                categories=list(categories),
                narrative=narrative,
                form_data=dict(answers or {}),
            )
            db.session.add(report)
            case = open_case(report, institution=self.institution, host=self.host, now=now)
            db.session.commit()
            db.session.refresh(case)
            return case

    def take(self, case: Case, transition: str, actor, **kwargs) -> Case:
        """Take a step; `kwargs` as for `core.cases.operations.take_transition`."""
        with tenant_scope(self.tenant):
            try:
                take_transition(
                    case, transition, actor=actor, institution=self.institution, **kwargs
                )
            except BaseException:
                db.session.rollback()
                raise
            db.session.commit()
            db.session.refresh(case)
            return case

    def refusal(self, case: Case, transition: str, actor, **kwargs) -> ProcedureRefusal:
        """The refusal the step meets (fails the test if it is taken); nothing changes."""
        state = case.state
        with pytest.raises(ProcedureRefusal) as caught:
            self.take(case, transition, actor, **kwargs)
        with tenant_scope(self.tenant):
            db.session.refresh(case)
            assert case.state == state, "a refused step changed the case"
        return caught.value

    def consent(self, case: Case, key: str, given: bool = True, actor="reporter") -> None:
        with tenant_scope(self.tenant):
            record_consent(
                case, key, given, actor=actor, institution=self.institution, host=self.host
            )
            db.session.commit()
            db.session.refresh(case)

    def flag(self, case: Case, key: str, actor, value: bool = True) -> None:
        with tenant_scope(self.tenant):
            set_flag(case, key, value, actor=actor, institution=self.institution)
            db.session.commit()
            db.session.refresh(case)

    def deadlines(self, case: Case) -> dict[str, Deadline]:
        """The case's deadlines by key: the latest of each (open, met or cancelled)."""
        with tenant_scope(self.tenant):
            rows = db.session.scalars(
                select(Deadline).where(Deadline.case_id == case.id).order_by(Deadline.id)
            )
            return {row.key: row for row in rows}

    def notices(self, case: Case) -> list[tuple[str, str]]:
        """(transition, party) of every notice the procedure asked for, in order."""
        with tenant_scope(self.tenant):
            rows = db.session.scalars(
                select(CaseNotice).where(CaseNotice.case_id == case.id).order_by(CaseNotice.id)
            )
            return [(row.transition_key, row.party) for row in rows]

    def measures(self, case: Case) -> list[str]:
        with tenant_scope(self.tenant):
            rows = db.session.scalars(
                select(CaseMeasure).where(CaseMeasure.case_id == case.id).order_by(CaseMeasure.id)
            )
            return [row.key for row in rows]

    def available(self, case: Case, actor) -> dict[str, str]:
        """Each step leaving the case's stage, with why `actor` may not take it ("" if they may)."""
        with tenant_scope(self.tenant):
            return {
                t["key"]: why for t, why in available_transitions(case, actor, self.institution)
            }

    def refresh(self, case: Case) -> Case:
        with tenant_scope(self.tenant):
            db.session.refresh(case)
        return case


@pytest.fixture
def case_runner(plugins) -> Callable[[Tenant], CaseRunner]:
    """``case_runner(tenant)``: a `CaseRunner` driving the tenant's cases."""
    return lambda tenant: CaseRunner(tenant, plugins)
