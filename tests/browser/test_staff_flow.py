"""A member of staff in headless Chromium: first sign-in with the second factor set up from
the page, then the inbox and a case taken one step further. Every page is accessible
(axe-core, WCAG 2.1 AA), has one heading and loads nothing from elsewhere."""

import re

import pyotp
import pytest
from sqlalchemy import select

from core.cases.models import Case
from core.extensions import db
from core.tenancy.scoping import tenant_scope
from core.testing import TEST_PASSWORD

pytestmark = pytest.mark.browser

AFFILIATED = "fondation_deutsch_de_la_meurthe"
NON_AFFILIATED = "maison_heinrich_heine"


@pytest.fixture
def checked(page, assert_accessible, assert_local_only):
    def check() -> None:
        assert page.locator("h1").count() == 1, page.url
        assert_accessible(page)
        assert_local_only(page)

    return check


def test_first_sign_in_sets_up_the_second_factor_then_a_step_is_taken(
    demo_tenants, make_member, case_runner, page, checked
):
    ciup = next(t for t in demo_tenants if t.slug == "ciup")
    listener = make_member(ciup, "listening_unit", role="other_house_director", site=AFFILIATED)
    specialist = make_member(ciup, "listening_unit", role="specialist")
    runner = case_runner(ciup)
    case = runner.submit(answers={"victim_house": "fondation_suisse"})
    with tenant_scope(ciup):
        reference = db.session.scalar(select(Case.reference).where(Case.id == case.id))

    page.goto("/t/ciup/staff/login?lang=en")
    checked()
    page.get_by_label("E-mail address").fill(listener.email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Continue").click()

    # enrolment: the key shown as text is the one the QR code carries
    assert "/staff/enrol" in page.url
    checked()
    secret = re.sub(r"\s", "", page.locator(".secret-key code").inner_text())
    page.get_by_label(re.compile("code", re.I)).first.fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Confirm").click()
    assert page.locator(".recovery-codes li").count() == 10
    checked()
    page.get_by_role("link", name="I have kept my codes, continue").click()

    # the inbox lists the case; its page offers the interview with a colleague
    assert page.get_by_role("link", name=reference).is_visible()
    checked()
    page.get_by_role("link", name=reference).click()
    checked()
    step = page.locator('form[action*="/steps/hold_exploratory_interview"]')
    step.locator(f'input[value="{specialist.public_id}"]').check()
    step.get_by_role("button").click()
    assert page.locator(".flash, [role=status]").first.is_visible()
    checked()
    assert runner.refresh(case).state == "heard"
