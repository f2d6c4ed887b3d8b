"""The administration, the platform operator's page and the audit trail, in headless
Chromium: accessible (axe-core, WCAG 2.1 AA), usable with the keyboard alone, one heading,
and loading nothing from anywhere but Cellule itself."""

import pytest

from core.extensions import db
from core.identity.models import Role
from core.identity.operations import create_user
from core.tenancy.scoping import platform_scope
from core.testing import sign_in
from core.testing import test_password_hash as shared_password_hash

pytestmark = pytest.mark.browser

ADMIN_PAGES = [
    "/t/ciup/staff/admin/",
    "/t/ciup/staff/admin/branding",
    "/t/ciup/staff/admin/domains",
    "/t/ciup/staff/admin/languages",
    "/t/ciup/staff/admin/plugins",
    "/t/ciup/staff/admin/staff",
    "/t/ciup/staff/admin/committees",
    "/t/ciup/staff/admin/committees/investigation_team",
]


@pytest.fixture
def signed_in(app, page, live_server):
    """`signed_in(user, tenant)`: give the browser the staff session the sign-in pages would."""

    def give(user, tenant) -> None:
        client = app.test_client()
        sign_in(client, user, tenant)
        cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
        page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server}])

    return give


@pytest.fixture
def check(page, assert_accessible, assert_local_only, assert_keyboard_reaches_all):
    def open_and_check(path: str, lang: str = "en") -> None:
        response = page.goto(f"{path}{'&' if '?' in path else '?'}lang={lang}")
        assert response is not None and response.status == 200, path
        assert page.get_attribute("html", "lang") == lang
        assert page.locator("h1").count() == 1
        assert_accessible(page)
        assert_local_only(page)
        assert_keyboard_reaches_all(page)

    return open_and_check


def test_admin_pages(demo_tenants, make_staff, make_member, signed_in, check):
    ciup = next(t for t in demo_tenants if t.slug == "ciup")
    admin = make_staff(ciup, "admin@ciup.example", Role.ADMIN)
    person = make_member(ciup, "investigation_team", role="specialist", roles=(Role.LISTENER,))
    signed_in(admin, ciup)
    for path in ADMIN_PAGES:
        check(path)
    check(f"/t/ciup/staff/admin/staff/{person.public_id}")
    check("/t/ciup/staff/admin/", "fr")


def test_operator_page(app, signed_in, check):
    with platform_scope():
        operator = create_user(
            "operator@platform.example", "Operator", None, password_hash=shared_password_hash()
        )
        operator.is_platform_operator = True
        db.session.commit()
    signed_in(operator, None)
    check("/operator/")
    check("/operator/", "fr")


def test_audit_trail(demo_tenants, make_staff, signed_in, check, page):
    poly = next(t for t in demo_tenants if t.slug == "polytechnique")
    auditor = make_staff(poly, "auditor@poly.example", Role.AUDITOR)
    signed_in(auditor, poly)
    check("/t/polytechnique/staff/audit/")
    page.get_by_role("button", name="Check the whole chain").click()
    assert page.get_by_text("The chain holds.").is_visible()
    check("/t/polytechnique/staff/audit/?actor=system", "fr")
