"""The `cellule` command: what operators type, and what bad input does (nothing)."""

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import func, select

from core.audit.models import AuditEvent
from core.extensions import db
from core.identity.models import Membership, Role, User
from core.identity.operations import check_password
from core.tenancy.models import Tenant
from core.tenancy.scoping import platform_scope, tenant_scope


def invoke(runner, *args, ok=True):
    result = runner.invoke(args=list(args))
    assert (result.exit_code == 0) is ok, result.output
    db.session.remove()
    return result


def actions(tenant) -> list[str]:
    with tenant_scope(tenant):
        return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


def test_create_a_tenant_with_domain_and_plugin(runner):
    invoke(
        runner,
        "tenant",
        "create",
        "neoma",
        "--name",
        "NEOMA",
        "--domain",
        "report.neoma.example",
        "--plugin",
        "neoma",
    )
    tenant = db.session.scalar(select(Tenant).where(Tenant.slug == "neoma"))
    assert tenant.enabled_plugins == ["neoma"]
    assert [d.host for d in tenant.domains] == ["report.neoma.example"]
    assert actions(tenant)[:2] == ["tenant.created", "tenant.domain_added"]
    assert actions(tenant)[-1] == "plugin.enabled"
    listing = invoke(runner, "tenant", "list").output
    assert "neoma" in listing and "plugins=neoma" in listing


def test_enable_then_disable_a_plugin(runner):
    invoke(runner, "tenant", "create", "ciup", "--name", "CIUP")
    invoke(runner, "tenant", "enable-plugin", "ciup", "ciup")
    invoke(runner, "tenant", "disable-plugin", "ciup", "ciup")
    tenant = db.session.scalar(select(Tenant).where(Tenant.slug == "ciup"))
    assert tenant.enabled_plugins == []
    assert actions(tenant)[-2:] == ["plugin.enabled", "plugin.disabled"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tenant", "create", "Bad Slug!", "--name", "X"], "slug 'Bad Slug!' must be"),
        (["tenant", "create", "neoma", "--name", "Again"], "already exists"),
        (["tenant", "create", "fresh", "--name", "F", "--plugin", "nope"], "'nope'"),
        (["tenant", "create", "fresh", "--name", "F", "--domain", "not a host"], "valid host"),
        (["tenant", "enable-plugin", "ghost", "neoma"], "no tenant with slug 'ghost'"),
        (["tenant", "disable-plugin", "neoma", "ciup"], "is not enabled"),
        (["user", "create", "a@b.example", "--name", "A", "--password", "short"], "12 characters"),
        (["user", "create", "not-an-email", "--name", "A", "--password", "x" * 12], "e-mail"),
    ],
)
def test_bad_input_is_refused_clearly_and_changes_nothing(runner, args, message):
    invoke(runner, "tenant", "create", "neoma", "--name", "NEOMA", "--plugin", "neoma")
    with platform_scope():
        before = (
            db.session.scalar(select(func.count()).select_from(Tenant)),
            db.session.scalar(select(func.count()).select_from(AuditEvent)),
            db.session.scalar(select(func.count()).select_from(User)),
        )
    result = invoke(runner, *args, ok=False)
    assert message in result.output
    assert "Traceback" not in result.output
    with platform_scope():
        after = (
            db.session.scalar(select(func.count()).select_from(Tenant)),
            db.session.scalar(select(func.count()).select_from(AuditEvent)),
            db.session.scalar(select(func.count()).select_from(User)),
        )
    assert after == before


def test_create_a_user_with_roles_in_a_tenant(runner):
    invoke(runner, "tenant", "create", "polytechnique", "--name", "X")
    invoke(
        runner,
        "user",
        "create",
        "Dhamis@Example.org",
        "--name",
        "Dhamis member",
        "--tenant",
        "polytechnique",
        "--role",
        "listener",
        "--role",
        "auditor",
        "--password",
        "a long enough password",
    )
    user = db.session.scalar(select(User).where(User.email == "dhamis@example.org"))
    assert user.password_hash.startswith("$argon2id$")
    assert check_password(user, "a long enough password")
    assert not check_password(user, "wrong password!!")
    tenant = db.session.scalar(select(Tenant).where(Tenant.slug == "polytechnique"))
    with tenant_scope(tenant):
        roles = set(db.session.scalars(select(Membership.role)))
    assert roles == {Role.LISTENER, Role.AUDITOR}
    assert actions(tenant)[-2:] == ["membership.granted", "membership.granted"]


def test_demo_creates_a_tenant_per_bundled_plugin_with_printed_accounts(runner):
    output = invoke(runner, "demo").output
    tenants = db.session.scalars(select(Tenant).order_by(Tenant.slug)).all()
    assert [(t.slug, t.enabled_plugins) for t in tenants] == [
        ("ciup", ["ciup"]),
        ("neoma", ["neoma"]),
        ("polytechnique", ["polytechnique"]),
    ]
    assert tenants[1].name == "NEOMA Business School"
    line = next(row for row in output.splitlines() if "listener@neoma.example" in row)
    password = line.split()[-1]
    user = db.session.scalar(select(User).where(User.email == "listener@neoma.example"))
    assert check_password(user, password)
    # Running it again refreshes the passwords and duplicates nothing.
    invoke(runner, "demo", "--password", "the same for everyone")
    assert db.session.scalar(select(func.count()).select_from(Tenant)) == 3
    user = db.session.scalar(select(User).where(User.email == "listener@neoma.example"))
    assert check_password(user, "the same for everyone")
    assert invoke(runner, "audit", "verify").output.count(": ok") == 3


def test_plugins_extract_writes_the_template_of_a_plugins_own_texts(runner, tmp_path):
    output = tmp_path / "polytechnique.pot"
    invoke(runner, "plugins", "extract", "polytechnique", "-o", str(output))
    with output.open("rb") as handle:
        messages = {message.id for message in read_po(handle) if message.id}
    assert "Report received" in messages  # a state of its procedure
    assert "Every report is received and read by members of the DHAMIS Unit." in messages
    # the national lines are translated by the shared French catalogue, not by the plugin's
    assert "Police and gendarmerie" not in messages


def test_plugins_extract_names_an_unknown_plugin(runner):
    result = invoke(runner, "plugins", "extract", "nowhere", ok=False)
    assert "is not installed" in result.output
