"""Test kit: pytest fixtures for Cellule and for plugin authors.

Enable it in a plugin's test suite with ``pytest_plugins = ["core.testing"]``. It needs an
``app`` fixture (an app context pushed, a migrated database), like the one in Cellule's
own ``tests/conftest.py``.
"""

from collections.abc import Callable, Iterator

import pytest

from core.cases.models import Case, Message
from core.extensions import db
from core.identity.models import Role
from core.identity.operations import create_user, grant_role
from core.plugins.host import PluginHost, plugin_host
from core.reports.models import Report, ReporterIdentity
from core.tenancy.models import Tenant
from core.tenancy.operations import create_tenant, enable_plugin
from core.tenancy.scoping import platform_scope, tenant_scope

TEST_PASSWORD = "correct horse battery staple"  # noqa: S105 (accounts made by tests)


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
            user = create_user(email, email.split("@")[0], TEST_PASSWORD)
        with tenant_scope(tenant):
            for role in roles:
                grant_role(tenant.id, user, role, actor="platform")
        db.session.commit()
        return user

    return make


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
