"""Tenant administration and the platform operator's pages, through the web layer: every
change saved and audited, every refusal clear and changing nothing, no page for those who
may not see it. Handing a staff member's cases over runs CIUP's conflict-of-interest rules."""

import html
import re

import pytest
from sqlalchemy import func, select

from core.audit.models import AuditEvent
from core.cases.models import CaseEvent, CaseMember
from core.committees.models import Committee, CommitteeMember
from core.committees.operations import (
    CommitteeError,
    hand_over,
    remove_member,
    seat_member,
    staffing_gaps,
)
from core.extensions import db
from core.identity.models import Membership, Role, User
from core.identity.operations import create_user
from core.identity.security import user_for_reset_token
from core.plugins.host import TenantInfo, plugin_host
from core.procedure.definition import Institution
from core.tenancy.models import Tenant, TenantDomain
from core.tenancy.operations import (
    TenancyError,
    check_colour,
    clean_mark_svg,
    contrast_with_white,
    normalise_host,
)
from core.tenancy.scoping import platform_scope, tenant_scope
from core.testing import TEST_PASSWORD, sign_in
from core.testing import test_password_hash as shared_password_hash

AFFILIATED = "fondation_deutsch_de_la_meurthe"
NON_AFFILIATED = "maison_heinrich_heine"
OTHER_HOUSE = "fondation_suisse"
NEUTRAL_HOUSE = "fondation_des_etats_unis"
MARK = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40"><title>Mark</title>'
    '<defs><linearGradient id="g"><stop offset="0" stop-color="#123456"/></linearGradient>'
    '</defs><rect width="40" height="40" rx="8" fill="url(#g)"/>'
    '<path d="M8 32V18l6-5" stroke="#00567a" stroke-width="3"/></svg>'
)


@pytest.fixture
def smtp(app, smtp):
    """The loopback SMTP server, to which this test's app sends its e-mail."""
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port, MAIL_USE_TLS=False)
    return smtp


@pytest.fixture
def ciup(make_tenant):
    return make_tenant("ciup", enable=("ciup",))


@pytest.fixture
def admin(ciup, make_staff):
    return make_staff(ciup, "admin@ciup.example", Role.ADMIN)


@pytest.fixture
def as_admin(client, admin, ciup):
    sign_in(client, admin, ciup)
    # the tenant speaks French by default; these tests read the English messages
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def text(response) -> str:
    """The page as a reader sees it (entities such as &#39; decoded)."""
    return html.unescape(response.get_data(True))


def token(page) -> str:
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', text(page))
    found = found or re.search(r'type="hidden" name="csrf_token" value="([^"]+)"', text(page))
    return found.group(1)


def post(client, page_path: str, action_path: str | None = None, **data):
    """POST `data` to `action_path` (default: the page) with the CSRF token of the page."""
    page = client.get(page_path)
    assert page.status_code == 200, page.status_code
    return client.post(action_path or page_path, data={"csrf_token": token(page), **data})


def actions(tenant) -> list[str]:
    with tenant_scope(tenant):
        return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


def last_event(tenant) -> AuditEvent:
    with tenant_scope(tenant):
        return db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()


def reload(tenant) -> Tenant:
    db.session.expire_all()
    return db.session.get(Tenant, tenant.id)


def flashed(client, page="/t/ciup/staff/admin/?lang=en") -> str:
    return text(client.get(page))


# -- who may come in -----------------------------------------------------------------------

ADMIN_PAGES = [
    "/t/ciup/staff/admin/",
    "/t/ciup/staff/admin/branding",
    "/t/ciup/staff/admin/domains",
    "/t/ciup/staff/admin/languages",
    "/t/ciup/staff/admin/plugins",
    "/t/ciup/staff/admin/staff",
    "/t/ciup/staff/admin/committees",
    "/t/ciup/staff/admin/committees/listening_unit",
]
ADMIN_ACTIONS = [
    ("/t/ciup/staff/admin/branding", {"primary_colour": "#123456"}),
    ("/t/ciup/staff/admin/domains", {"host": "report.ciup.example"}),
    ("/t/ciup/staff/admin/domains/remove", {"host": "report.ciup.example"}),
    ("/t/ciup/staff/admin/languages", {"locales": "en", "default_locale": "en"}),
    ("/t/ciup/staff/admin/plugins", {"plugin": "ciup", "action": "disable"}),
    ("/t/ciup/staff/admin/staff", {"email": "x@ciup.example", "name": "X", "roles": "admin"}),
    ("/t/ciup/staff/admin/committees/listening_unit", {"user": "someone"}),
    ("/t/ciup/staff/admin/committees/listening_unit/remove", {"user": "someone"}),
    ("/t/ciup/staff/admin/committees", {}),
]


@pytest.fixture
def visitors(app, ciup, make_staff):
    """A client for each kind of visitor who is not an admin: staff with other roles, and
    someone not signed in."""
    clients = {}
    for who, role in (("listener", Role.LISTENER), ("auditor", Role.AUDITOR)):
        clients[who] = app.test_client()
        sign_in(clients[who], make_staff(ciup, f"{who}@ciup.example", role), ciup)
    clients["anonymous"] = app.test_client()
    return clients


def csrf_for(client) -> str:
    """A CSRF token of this client's session, from a form anyone may open (the portal's)."""
    return token(client.get("/t/ciup/report"))


def refused(answer, who: str) -> bool:
    """Staff without the role get 403; someone not signed in is sent to sign in."""
    if who == "anonymous":
        return answer.status_code == 302 and "/t/ciup/staff/login" in answer.headers["Location"]
    return answer.status_code == 403


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_admin_pages_are_for_admins_only(visitors, path):
    for who, client in visitors.items():
        assert refused(client.get(path), who), who


@pytest.mark.parametrize(("path", "data"), ADMIN_ACTIONS)
def test_admin_actions_are_for_admins_only_and_need_their_csrf_token(
    visitors, as_admin, ciup, path, data
):
    before = actions(ciup)
    for who, client in visitors.items():
        answer = client.post(path, data={"csrf_token": csrf_for(client), **data})
        assert refused(answer, who), who
    # an admin's form without its token is refused too
    assert as_admin.post(path, data=data).status_code == 400
    assert actions(ciup) == before


def test_an_admin_of_one_tenant_is_nobody_in_another(client, ciup, admin, make_tenant):
    make_tenant("other", enable=("neoma",))
    sign_in(client, admin, ciup)
    # her session belongs to CIUP's back office: elsewhere she is sent to sign in
    answer = client.get("/t/other/staff/admin/")
    assert answer.status_code == 302 and "/t/other/staff/login" in answer.headers["Location"]


OPERATOR_PAGES = ["/operator/"]


@pytest.mark.parametrize("path", OPERATOR_PAGES)
def test_operator_pages_do_not_exist_inside_a_tenant(client, ciup, admin, path):
    with platform_scope():
        db.session.get(User, admin.id).is_platform_operator = True
        db.session.commit()
    sign_in(client, admin, ciup)
    assert client.get(f"/t/ciup{path}").status_code == 404
    data = {"csrf_token": csrf_for(client), "slug": "x"}
    assert client.post(f"/t/ciup{path}tenants", data=data).status_code == 404


def test_operator_pages_are_forbidden_to_tenant_staff(client, ciup, admin):
    sign_in(client, admin, None)
    assert client.get("/operator/").status_code == 403


def test_the_admin_sees_no_case(as_admin, ciup):
    # the administration links to no case page; the back office's need-to-know is tested in
    # the cases' tests
    page = text(as_admin.get("/t/ciup/staff/admin/?lang=en"))
    assert "You see no case from here" in page
    assert "/staff/cases/" not in page


# -- branding ------------------------------------------------------------------------------


def test_contrast_is_computed_as_wcag_says():
    assert contrast_with_white("#000000") == pytest.approx(21.0)
    assert contrast_with_white("#ffffff") == pytest.approx(1.0)
    assert contrast_with_white("#767676") == pytest.approx(4.54, abs=0.01)
    assert check_colour(" #1D3557 ") == "#1d3557"
    with pytest.raises(TenancyError, match=r"4\.5:1"):
        check_colour("#777777")
    with pytest.raises(TenancyError, match="#rrggbb"):
        check_colour("navy")


def test_branding_is_saved_audited_and_served(as_admin, ciup):
    answer = post(
        as_admin,
        "/t/ciup/staff/admin/branding?lang=en",
        primary_colour="#1D3557",
        accent_colour="#8B1A1A",
    )
    assert answer.status_code == 303
    assert reload(ciup).branding == {"primary_colour": "#1d3557", "accent_colour": "#8b1a1a"}
    event = last_event(ciup)
    assert event.action == "tenant.branding_changed"
    assert event.actor_kind == "user"
    assert event.details["fields"] == ["accent_colour", "primary_colour"]
    css = text(as_admin.get("/t/ciup/branding.css"))
    assert "--brand-primary:#1d3557" in css and "--brand-accent:#8b1a1a" in css
    assert "The branding is saved." in flashed(as_admin)


@pytest.mark.parametrize(
    ("colours", "message"),
    [
        ({"primary_colour": "#d1495b"}, "WCAG 2.1 level AA asks for at least 4.5:1"),
        ({"accent_colour": "#ffff00"}, "contrast with white is 1.07:1"),
        ({"primary_colour": "blue"}, "is not a colour of the form #rrggbb"),
    ],
)
def test_a_colour_too_light_or_malformed_is_refused_and_nothing_changes(
    as_admin, ciup, colours, message
):
    before = actions(ciup)
    answer = post(as_admin, "/t/ciup/staff/admin/branding?lang=en", **colours)
    assert answer.status_code == 422
    assert message in text(answer)
    assert reload(ciup).branding == {}
    assert actions(ciup) == before


def test_the_refusal_speaks_the_readers_language(as_admin, ciup):
    answer = post(as_admin, "/t/ciup/staff/admin/branding?lang=fr", primary_colour="#eeeeee")
    assert answer.status_code == 422
    assert 'lang="fr"' in text(answer)


def test_a_clean_svg_mark_is_kept_and_served(as_admin, ciup):
    import io

    page = as_admin.get("/t/ciup/staff/admin/branding")
    answer = as_admin.post(
        "/t/ciup/staff/admin/branding",
        data={"csrf_token": token(page), "mark": (io.BytesIO(MARK.encode()), "mark.svg")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 303
    assert reload(ciup).branding["mark_svg"] == MARK
    served = as_admin.get("/t/ciup/mark.svg")
    assert served.mimetype == "image/svg+xml" and text(served) == MARK
    assert last_event(ciup).details == {"fields": ["mark_svg"]}
    # and it can be taken away again
    answer = post(as_admin, "/t/ciup/staff/admin/branding", remove_mark="y")
    assert "mark_svg" not in reload(ciup).branding


UNSAFE_MARKS = {
    "script": '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    "event attribute": '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
    "event on a shape": (
        '<svg xmlns="http://www.w3.org/2000/svg"><rect width="1" onclick="x()"/></svg>'
    ),
    "external link": (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
        '<use xlink:href="https://evil.example/x.svg#a"/></svg>'
    ),
    "javascript link": (
        '<svg xmlns="http://www.w3.org/2000/svg"><use href="javascript:alert(1)"/></svg>'
    ),
    "anchor": (
        '<svg xmlns="http://www.w3.org/2000/svg"><a href="https://evil.example">x</a></svg>'
    ),
    "image": '<svg xmlns="http://www.w3.org/2000/svg"><image href="https://e.example/p"/></svg>',
    "foreign object": (
        '<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><div xmlns='
        '"http://www.w3.org/1999/xhtml">x</div></foreignObject></svg>'
    ),
    "style element": (
        '<svg xmlns="http://www.w3.org/2000/svg"><style>@import url(https://e.example)</style>'
        "</svg>"
    ),
    "style attribute": '<svg xmlns="http://www.w3.org/2000/svg" style="fill:red"/>',
    "external url()": (
        '<svg xmlns="http://www.w3.org/2000/svg"><rect fill="url(https://e.example/#p)"/></svg>'
    ),
    "entity": (
        '<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<svg xmlns="http://www.w3.org/2000/svg"><title>&x;</title></svg>'
    ),
    "billion laughs": (
        '<!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        '<svg xmlns="http://www.w3.org/2000/svg"><title>&b;</title></svg>'
    ),
    "stylesheet instruction": (
        '<?xml-stylesheet href="https://e.example/s.css"?><svg xmlns="http://www.w3.org/2000/svg"/>'
    ),
    "animation": (
        '<svg xmlns="http://www.w3.org/2000/svg"><set attributeName="href" to="x"/></svg>'
    ),
    "other namespace": (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:h="http://www.w3.org/1999/xhtml">'
        "<h:iframe/></svg>"
    ),
    "not svg at all": "<html><body>hello</body></html>",
    "svg without its namespace": "<svg><rect/></svg>",
    "not well formed": '<svg xmlns="http://www.w3.org/2000/svg"><rect></svg>',
    "too large": '<svg xmlns="http://www.w3.org/2000/svg">' + "<g/>" * 6000 + "</svg>",
}


@pytest.mark.parametrize("svg", UNSAFE_MARKS.values(), ids=UNSAFE_MARKS.keys())
def test_an_unsafe_or_broken_svg_is_refused(svg):
    with pytest.raises(TenancyError):
        clean_mark_svg(svg)


def test_the_plugins_own_marks_pass_the_same_check(app):
    for name in ("ciup", "neoma", "polytechnique"):
        info = TenantInfo(0, name, name, "fr", ("fr",), -1, (name,))
        mark = plugin_host().call(info, "institution_profile")["branding"]["mark_svg"]
        assert clean_mark_svg(mark) == mark.strip()


def test_an_unsafe_mark_upload_is_refused_with_the_reason(as_admin, ciup):
    import io

    page = as_admin.get("/t/ciup/staff/admin/branding?lang=en")
    answer = as_admin.post(
        "/t/ciup/staff/admin/branding?lang=en",
        data={
            "csrf_token": token(page),
            "primary_colour": "#123456",
            "mark": (io.BytesIO(UNSAFE_MARKS["script"].encode()), "mark.svg"),
        },
        content_type="multipart/form-data",
    )
    assert answer.status_code == 422
    assert "it contains <script>" in text(answer)
    assert reload(ciup).branding == {}  # the colour given beside it is not saved either


# -- domains --------------------------------------------------------------------------------


def test_a_domain_is_added_serves_the_portal_and_is_removed(as_admin, ciup, client):
    answer = post(as_admin, "/t/ciup/staff/admin/domains", host=" Report.CIUP.example. ")
    assert answer.status_code == 303
    assert [d.host for d in reload(ciup).domains] == ["report.ciup.example"]
    assert last_event(ciup).action == "tenant.domain_added"
    served = client.get("/?lang=en", base_url="https://report.ciup.example")
    assert "Cité internationale universitaire de Paris" in text(served)

    answer = post(
        as_admin,
        "/t/ciup/staff/admin/domains",
        "/t/ciup/staff/admin/domains/remove",
        host="report.ciup.example",
    )
    assert answer.status_code == 303
    assert reload(ciup).domains == []
    event = last_event(ciup)
    assert (event.action, event.target_id) == ("tenant.domain_removed", "report.ciup.example")
    # the host is no one's now: the platform's own home page answers there
    served = client.get("/?lang=en", base_url="https://report.ciup.example")
    assert "Cité internationale universitaire de Paris" not in text(served)


def test_host_names_are_written_as_they_are_looked_up():
    assert normalise_host(" Report.École.example. ") == "report.xn--cole-9oa.example"
    with pytest.raises(TenancyError):
        normalise_host("a..b.example")


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("not a host", "is not a valid host name"),
        ("localhost", "is not a valid host name"),
        ("127.0.0.1", "is not a valid host name"),
        ("-bad.example", "is not a valid host name"),
        ("ciup.cellule.test", "are given by the platform"),
        ("taken.example", "already serves a tenant"),
    ],
)
def test_a_bad_or_taken_domain_is_refused(as_admin, ciup, make_tenant, host, message):
    other = make_tenant("other")
    with platform_scope():
        db.session.add(TenantDomain(tenant_id=other.id, host="taken.example"))
        db.session.commit()
    before = actions(ciup)
    answer = post(as_admin, "/t/ciup/staff/admin/domains?lang=en", host=host)
    assert answer.status_code == 422
    assert message in text(answer)
    assert reload(ciup).domains == []
    assert actions(ciup) == before


def test_another_tenants_domain_cannot_be_removed(as_admin, ciup, make_tenant):
    other = make_tenant("other")
    with platform_scope():
        db.session.add(TenantDomain(tenant_id=other.id, host="other.example"))
        db.session.commit()
    answer = post(
        as_admin,
        "/t/ciup/staff/admin/domains",
        "/t/ciup/staff/admin/domains/remove",
        host="other.example",
    )
    assert answer.status_code == 303
    assert "does not serve this institution" in flashed(as_admin)
    with platform_scope():
        assert db.session.scalar(select(func.count()).select_from(TenantDomain)) == 1


# -- languages -----------------------------------------------------------------------------


def test_languages_are_chosen_and_the_portal_follows(as_admin, ciup, client):
    answer = post(as_admin, "/t/ciup/staff/admin/languages", locales=["en"], default_locale="en")
    assert answer.status_code == 303
    tenant = reload(ciup)
    assert (tenant.locales, tenant.default_locale) == (["en"], "en")
    assert last_event(ciup).details == {"locales": ["en"], "default": "en"}
    page = client.get("/t/ciup/?lang=fr", headers={"Accept-Language": "fr"})
    assert 'lang="en"' in text(page)


def test_a_default_language_not_offered_is_refused(as_admin, ciup):
    before = actions(ciup)
    answer = post(
        as_admin, "/t/ciup/staff/admin/languages?lang=en", locales=["fr"], default_locale="en"
    )
    assert answer.status_code == 422
    assert "including the default one" in text(answer)
    assert reload(ciup).locales == ["fr", "en"]
    assert actions(ciup) == before


# -- plugins -------------------------------------------------------------------------------


def test_plugins_are_listed_and_enabled(as_admin, make_tenant, make_staff, client):
    fresh = make_tenant("fresh")
    admin = make_staff(fresh, "admin@fresh.example", Role.ADMIN)
    sign_in(client, admin, fresh)
    page = text(client.get("/t/fresh/staff/admin/plugins?lang=en"))
    assert "ciup" in page and "neoma" in page and "polytechnique" in page
    answer = post(client, "/t/fresh/staff/admin/plugins", plugin="neoma", action="enable")
    assert answer.status_code == 303
    assert reload(fresh).enabled_plugins == ["neoma"]
    assert actions(fresh)[-1] == "plugin.enabled"
    with tenant_scope(fresh):
        assert db.session.scalar(select(func.count()).select_from(Committee)) > 0


def test_a_plugin_that_does_not_fit_is_refused_with_its_reason(as_admin, ciup):
    before = actions(ciup)
    answer = post(as_admin, "/t/ciup/staff/admin/plugins?lang=en", plugin="neoma", action="enable")
    assert answer.status_code == 303
    page = flashed(as_admin, "/t/ciup/staff/admin/plugins?lang=en")
    assert "This cannot be done with the institution's plugins" in page
    assert reload(ciup).enabled_plugins == ["ciup"]
    assert actions(ciup) == before


def test_a_plugin_whose_procedure_open_cases_follow_cannot_be_disabled(as_admin, ciup, case_runner):
    case_runner(ciup).submit(answers={"victim_house": AFFILIATED})
    before = actions(ciup)
    post(as_admin, "/t/ciup/staff/admin/plugins?lang=en", plugin="ciup", action="disable")
    assert "open cases follow its procedure" in flashed(as_admin)
    assert reload(ciup).enabled_plugins == ["ciup"]
    assert actions(ciup) == before


def test_a_plugin_without_open_cases_is_disabled(as_admin, ciup):
    post(as_admin, "/t/ciup/staff/admin/plugins", plugin="ciup", action="disable")
    assert reload(ciup).enabled_plugins == []
    assert actions(ciup)[-1] == "plugin.disabled"
    # the administration still works for a tenant without any plugin
    assert as_admin.get("/t/ciup/staff/admin/committees").status_code == 200
    assert as_admin.get("/t/ciup/staff/admin/").status_code == 200


# -- staff ---------------------------------------------------------------------------------


def test_a_new_staff_member_gets_an_account_and_a_set_password_link(as_admin, ciup, smtp):
    answer = post(
        as_admin,
        "/t/ciup/staff/admin/staff",
        email="New.Person@CIUP.example",
        display_name="New Person",
        roles=["listener", "committee_member"],
    )
    assert answer.status_code == 303
    user = db.session.scalar(select(User).where(User.email == "new.person@ciup.example"))
    assert answer.headers["Location"].endswith(f"/staff/admin/staff/{user.public_id}")
    with tenant_scope(ciup):
        roles = set(
            db.session.scalars(select(Membership.role).where(Membership.user_id == user.id))
        )
    assert roles == {Role.LISTENER, Role.COMMITTEE_MEMBER}
    assert actions(ciup)[-5:] == [
        "membership.granted",
        "membership.granted",
        "staff.added",
        "staff.welcome_sent",
        "mail.sent",
    ]
    # the e-mail, in the tenant's language, carries a one-time link that opens the account
    assert smtp.recipients == ["new.person@ciup.example"]
    body = smtp.messages[0].get_body().get_content()
    link = re.search(r"https://ciup\.cellule\.test/staff/password/reset/(\S+)", body)
    assert link, body
    with tenant_scope(ciup):
        assert user_for_reset_token(link.group(1), reload(ciup)).id == user.id
    assert "staff/password/forgot" in body
    assert TEST_PASSWORD not in body


def test_an_existing_account_is_given_roles_without_a_new_account(as_admin, ciup, smtp):
    with platform_scope():
        create_user("known@else.example", "Known", None, password_hash=shared_password_hash())
        db.session.commit()
    post(as_admin, "/t/ciup/staff/admin/staff", email="known@else.example", roles=["auditor"])
    with platform_scope():
        assert db.session.scalar(select(func.count()).select_from(User)) == 2
    assert smtp.recipients == []
    assert last_event(ciup).details == {"roles": ["auditor"], "new_account": False}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "nobody", "display_name": "N", "roles": ["listener"]}, "e-mail address"),
        ({"email": "n@ciup.example", "display_name": "N"}, "Choose at least one role"),
        ({"email": "n@ciup.example", "roles": ["listener"]}, "Give the person's name"),
    ],
)
def test_a_staff_form_with_a_problem_creates_nothing(as_admin, ciup, smtp, data, message):
    before = actions(ciup)
    answer = post(as_admin, "/t/ciup/staff/admin/staff?lang=en", **data)
    assert answer.status_code == 422
    assert message in text(answer)
    with platform_scope():
        assert db.session.scalar(select(func.count()).select_from(User)) == 1
    assert actions(ciup) == before and smtp.recipients == []


def test_roles_are_granted_and_revoked(as_admin, ciup, make_staff):
    person = make_staff(ciup, "person@ciup.example", Role.LISTENER)
    page = f"/t/ciup/staff/admin/staff/{person.public_id}"
    post(as_admin, page, f"{page}/roles", role="decision_maker", action="grant")
    post(as_admin, page, f"{page}/roles", role="listener", action="revoke")
    with tenant_scope(ciup):
        roles = set(
            db.session.scalars(select(Membership.role).where(Membership.user_id == person.id))
        )
    assert roles == {Role.DECISION_MAKER}
    assert actions(ciup)[-2:] == ["membership.granted", "membership.revoked"]
    assert last_event(ciup).details == {"role": "listener"}


def test_the_last_admin_keeps_her_role(as_admin, ciup, admin):
    page = f"/t/ciup/staff/admin/staff/{admin.public_id}"
    before = actions(ciup)
    post(as_admin, f"{page}?lang=en", f"{page}/roles", role="admin", action="revoke")
    assert "at least one administrator" in flashed(as_admin, f"{page}?lang=en")
    assert actions(ciup) == before


def test_removing_someone_takes_every_role_and_seat_here_and_ends_her_access(
    as_admin, ciup, make_staff, make_member, app
):
    person = make_staff(ciup, "person@ciup.example", Role.LISTENER)
    make_member(ciup, "listening_unit", role="specialist", user=person)
    page = f"/t/ciup/staff/admin/staff/{person.public_id}"
    # without ticking the box, nothing happens
    post(as_admin, f"{page}?lang=en", f"{page}/remove")
    assert "Tick the box" in flashed(as_admin, f"{page}?lang=en")
    answer = post(as_admin, page, f"{page}/remove", confirm="y")
    assert answer.status_code == 303
    with tenant_scope(ciup):
        assert (
            db.session.scalar(
                select(func.count()).select_from(Membership).where(Membership.user_id == person.id)
            )
            == 0
        )
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(CommitteeMember)
                .where(CommitteeMember.user_id == person.id)
            )
            == 0
        )
    event = last_event(ciup)
    assert event.action == "staff.removed"
    assert event.details == {
        "roles": ["listener"],
        "committees": ["listening_unit"],
        "open_cases": 0,
    }
    # her own session no longer opens the back office
    other = app.test_client()
    sign_in(other, person, ciup)
    assert other.get("/t/ciup/staff/admin/").status_code == 302
    assert as_admin.get(page).status_code == 404
    # adding her again (her account still exists) gives her back a role and her access
    post(as_admin, "/t/ciup/staff/admin/staff", email=person.email, roles=["listener"])
    sign_in(other, person, ciup)
    assert other.get("/t/ciup/staff/admin/").status_code == 403


def test_an_admin_cannot_remove_herself(as_admin, ciup, admin, make_staff):
    make_staff(ciup, "second@ciup.example", Role.ADMIN)
    page = f"/t/ciup/staff/admin/staff/{admin.public_id}"
    assert "Remove her access" not in text(as_admin.get(page))
    before = actions(ciup)
    post(as_admin, page, f"{page}/remove", confirm="y")
    assert actions(ciup) == before


def test_someone_of_another_tenant_has_no_page_here(as_admin, make_tenant, make_staff):
    other = make_tenant("other")
    stranger = make_staff(other, "stranger@other.example", Role.ADMIN)
    assert as_admin.get(f"/t/ciup/staff/admin/staff/{stranger.public_id}").status_code == 404
    assert as_admin.get("/t/ciup/staff/admin/staff/no-such-person").status_code == 404


# -- committees ----------------------------------------------------------------------------


def committee(tenant, key) -> Committee:
    with tenant_scope(tenant):
        return db.session.scalar(select(Committee).where(Committee.key == key))


def seats(tenant, key) -> list[tuple[str, str | None, str | None]]:
    with tenant_scope(tenant):
        rows = db.session.execute(
            select(User.email, CommitteeMember.role_key, CommitteeMember.site_key)
            .join(User, User.id == CommitteeMember.user_id)
            .join(Committee, Committee.id == CommitteeMember.committee_id)
            .where(Committee.key == key)
            .order_by(User.email)
        )
        return [tuple(row) for row in rows]


def test_a_member_is_seated_with_a_role_and_a_place_the_plugin_declares(as_admin, ciup, make_staff):
    person = make_staff(ciup, "director@ciup.example", Role.COMMITTEE_MEMBER)
    page = "/t/ciup/staff/admin/committees/investigation_team?lang=en"
    shown = text(as_admin.get(page))
    assert "Investigation team" in shown
    assert "One or two house directors (with no connection to the case)" in shown
    answer = post(as_admin, page, user=person.public_id, role="house_director", site=NEUTRAL_HOUSE)
    assert answer.status_code == 303
    assert seats(ciup, "investigation_team") == [
        ("director@ciup.example", "house_director", NEUTRAL_HOUSE)
    ]
    event = last_event(ciup)
    assert event.action == "committee.member_added"
    assert event.details == {
        "user": person.public_id,
        "role": "house_director",
        "site": NEUTRAL_HOUSE,
    }


@pytest.mark.parametrize(
    ("committee_key", "data", "message"),
    [
        ("investigation_team", {"role": "chair"}, "Not a valid choice"),
        ("investigation_team", {"role": ""}, "Choose the person's role on this committee"),
        ("investigation_team", {"role": "specialist", "site": "atlantis"}, "Not a valid choice"),
        ("house_direction", {"role": "house_director"}, "serve one place: choose it"),
        ("rsi", {"role": "specialist"}, "Not a valid choice"),
    ],
)
def test_a_seat_the_plugin_does_not_provide_for_is_refused(
    as_admin, ciup, make_staff, committee_key, data, message
):
    person = make_staff(ciup, "director@ciup.example", Role.COMMITTEE_MEMBER)
    before = actions(ciup)
    page = f"/t/ciup/staff/admin/committees/{committee_key}?lang=en"
    answer = post(as_admin, page, user=person.public_id, **data)
    assert answer.status_code == 422
    assert message in text(answer)
    assert seats(ciup, committee_key) == []
    assert actions(ciup) == before


@pytest.mark.parametrize(
    ("committee_key", "role", "site", "message"),
    [
        ("investigation_team", "chair", None, "role on this committee"),
        ("investigation_team", None, None, "role on this committee"),
        ("investigation_team", "specialist", "atlantis", "not one of the institution's"),
        ("rsi", "specialist", None, "no roles to choose from"),
        ("house_direction", "house_director", None, "serve one place"),
    ],
)
def test_the_seat_operation_itself_checks_the_plugins_committee(
    ciup, admin, make_staff, committee_key, role, site, message
):
    person = make_staff(ciup, "director@ciup.example", Role.COMMITTEE_MEMBER)
    with tenant_scope(ciup):
        institution = Institution.of(plugin_host(), TenantInfo.of(ciup))
        with pytest.raises(CommitteeError, match=message):
            seat_member(
                committee(ciup, committee_key),
                person,
                institution.committees[committee_key],
                role_key=role,
                site_key=site,
                sites=institution.site_attributes,
                actor=admin,
            )
    db.session.rollback()
    assert seats(ciup, committee_key) == []


def test_a_person_sits_once_on_a_committee(as_admin, ciup, make_member):
    person = make_member(ciup, "rsi")
    answer = post(as_admin, "/t/ciup/staff/admin/committees/rsi?lang=en", user=person.public_id)
    # she is not offered again
    assert answer.status_code == 422
    assert "Not a valid choice" in text(answer)
    assert len(seats(ciup, "rsi")) == 1


def test_seats_per_site_gaps_are_shown_until_filled(client, make_tenant, make_staff, make_member):
    neoma = make_tenant("neoma", enable=("neoma",))
    admin = make_staff(neoma, "admin@neoma.example", Role.ADMIN)
    sign_in(client, admin, neoma)
    page = text(client.get("/t/neoma/staff/admin/committees/angela_unit?lang=en"))
    assert "Rouen campus: 0 of 3 seats filled" in page
    for _ in range(3):
        make_member(neoma, "angela_unit", role="officer", site="rouen")
    page = text(client.get("/t/neoma/staff/admin/committees/angela_unit?lang=en"))
    assert "Rouen campus:" not in page
    assert "Reims campus: 0 of 3 seats filled" in page and "Paris campus: 0 of 2" in page
    overview = text(client.get("/t/neoma/staff/admin/?lang=en"))
    assert "Reims campus: 0 of 3 seats filled" in overview
    with tenant_scope(neoma):
        unit = db.session.scalar(select(Committee).where(Committee.key == "angela_unit"))
        declared = Institution.of(plugin_host(), TenantInfo.of(neoma)).committees["angela_unit"]
        assert {(g.site, g.filled, g.needed) for g in staffing_gaps(unit, declared)} == {
            ("reims", 0, 3),
            ("paris", 0, 2),
        }


def test_committees_a_plugin_declares_later_are_added_on_request(as_admin, ciup):
    # as when a new version of the plugin declares a committee the tenant has no row for
    with tenant_scope(ciup):
        db.session.delete(db.session.scalar(select(Committee).where(Committee.key == "rsi")))
        db.session.commit()
    page = text(as_admin.get("/t/ciup/staff/admin/committees?lang=en"))
    assert "declare committees this institution does not have yet: Relais social" in page
    answer = post(as_admin, "/t/ciup/staff/admin/committees")
    assert answer.status_code == 303
    assert committee(ciup, "rsi") is not None
    event = last_event(ciup)
    assert (event.action, event.target_id, event.actor_user_id) == (
        "committee.created",
        "rsi",
        db.session.scalar(select(User.id).where(User.email == "admin@ciup.example")),
    )
    assert "does not have yet" not in text(as_admin.get("/t/ciup/staff/admin/committees"))


def test_a_seat_is_removed_unless_she_sits_for_open_cases(as_admin, ciup, make_member):
    person = make_member(ciup, "rsi")
    page = "/t/ciup/staff/admin/committees/rsi?lang=en"
    answer = post(
        as_admin, page, "/t/ciup/staff/admin/committees/rsi/remove", user=person.public_id
    )
    assert answer.status_code == 303
    assert seats(ciup, "rsi") == []
    assert last_event(ciup).action == "committee.member_removed"


# -- handover ------------------------------------------------------------------------------


@pytest.fixture
def investigation(ciup, make_member, case_runner):
    """Two CIUP cases under investigation by the same team, the victims in different houses."""

    def member(committee_key, role=None, site=None, name=None):
        return make_member(ciup, committee_key, role=role, site=site, name=name)

    people = {
        "listener": member("listening_unit", "other_house_director", OTHER_HOUSE, "listener"),
        "listener_2": member(
            "listening_unit", "other_house_director", "fondation_lucien_paye", "listener2"
        ),
        "specialist": member("listening_unit", "specialist", name="unitspecialist"),
        "leaving": member("investigation_team", "house_director", NEUTRAL_HOUSE, "leaving"),
        "equalities": member("investigation_team", "equalities_officer", name="equalities"),
        "expert": member("investigation_team", "specialist", name="expert"),
        "victim_house": member("investigation_team", "house_director", AFFILIATED, "victimhouse"),
    }
    # the listener who heard the victims also sits in the investigation pool
    make_member(
        ciup, "investigation_team", role="house_director", site=OTHER_HOUSE, user=people["listener"]
    )
    runner = case_runner(ciup)
    cases = []
    for victim_house in (AFFILIATED, "maison_du_japon"):
        case = runner.submit(
            answers={
                "victim_house": victim_house,
                "implicated_house": NON_AFFILIATED,
                "reporting_wish": "report",
            }
        )
        runner.take(
            case,
            "hold_exploratory_interview",
            people["listener"],
            participants=[people["specialist"]],
        )
        runner.take(case, "draft_statement_form", people["listener"])
        runner.take(case, "validate_statement_form", "reporter")
        runner.flag(case, "serious_facts", people["listener"])
        team = [people["leaving"], people["equalities"], people["expert"]]
        runner.take(case, "open_investigation", people["listener_2"], members=team)
        cases.append(case)
    return runner, people, cases


def sitting(tenant, case) -> list[tuple[int, str | None, bool]]:
    """(user id, role, released) of every composed row on the case, oldest first."""
    with tenant_scope(tenant):
        rows = db.session.scalars(
            select(CaseMember)
            .where(CaseMember.case_id == case.id, CaseMember.capacity == "composed")
            .order_by(CaseMember.id)
        )
        return [(r.user_id, r.role_key, r.released_at is not None) for r in rows]


def do_hand_over(tenant, leaving, successor, actor, **kwargs):
    with tenant_scope(tenant):
        institution = Institution.of(plugin_host(), TenantInfo.of(tenant))
        result = hand_over(
            tenant.id, leaving, successor, institution=institution, actor=actor, **kwargs
        )
        db.session.commit()
        for case, *_ in result.moved + result.left:
            db.session.refresh(case)  # read in the tenant's scope, for the test to look at
        return result


def test_a_handover_moves_seats_and_cases_and_keeps_the_history(
    ciup, admin, investigation, make_staff
):
    runner, people, cases = investigation
    successor = make_staff(ciup, "successor@ciup.example", Role.COMMITTEE_MEMBER)
    result = do_hand_over(ciup, people["leaving"], successor, admin)
    assert sorted(c.reference for c, _ in result.moved) == sorted(c.reference for c in cases)
    assert result.left == [] and result.seats_kept == []
    assert result.seats_given == result.seats_released == ["investigation_team"]
    for case in cases:
        rows = sitting(ciup, case)
        # her row is kept, released; the successor's added with the same role
        assert (people["leaving"].id, "house_director", True) in rows
        assert rows[-1] == (successor.id, "house_director", False)
        with tenant_scope(ciup):
            event = db.session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == "handover")
            ).one()
            assert event.details == {
                "from": people["leaving"].public_id,
                "to": successor.public_id,
                "committee": "investigation_team",
                "role": "house_director",
            }
            assert event.actor_user_id == admin.id
    # the successor now serves the cases, she no longer does
    assert runner.available(cases[0], successor)["hold_hearing"] == ""
    assert runner.available(cases[0], people["leaving"])["hold_hearing"] != ""
    runner.take(cases[0], "hold_hearing", successor)
    assert ("successor@ciup.example", "house_director", NEUTRAL_HOUSE) in seats(
        ciup, "investigation_team"
    )
    assert "leaving" not in str(seats(ciup, "investigation_team"))
    assert actions(ciup).count("case.handover") == 2
    summary = [e for e in actions(ciup) if e.startswith("staff.")][-1]
    assert summary == "staff.handover"


def test_a_case_where_the_successor_has_a_conflict_of_interest_is_left_with_the_reason(
    ciup, admin, investigation
):
    runner, people, cases = investigation
    # the director of the first victim's house may not sit for that case, but may for the other
    result = do_hand_over(ciup, people["leaving"], people["victim_house"], admin)
    assert [c.id for c, _ in result.moved] == [cases[1].id]
    ((case, key, reason),) = result.left
    assert (case.id, key) == (cases[0].id, "investigation_team")
    assert reason.rule == "rule:not_director_of_parties_houses"
    assert "they will never be the directors of the houses" in reason.source_message
    # that case is left exactly as it was; she keeps her seat while she still sits for it
    assert sitting(ciup, cases[0])[0] == (people["leaving"].id, "house_director", False)
    assert [k for k, _ in result.seats_kept] == ["investigation_team"]
    assert runner.available(cases[0], people["leaving"])["hold_hearing"] == ""


@pytest.mark.parametrize(
    ("who", "why"),
    [
        ("listener", "rule:not_previously_heard_the_victim"),
        ("expert", "the same role"),
    ],
)
def test_a_successor_who_may_not_sit_moves_nothing(ciup, admin, investigation, who, why):
    _runner, people, cases = investigation
    result = do_hand_over(ciup, people["leaving"], people[who], admin)
    assert result.moved == []
    assert len(result.left) == 2
    for _, _, reason in result.left:
        assert why in (getattr(reason, "rule", "") + str(reason))
    for case in cases:
        assert sitting(ciup, case)[0] == (people["leaving"].id, "house_director", False)


def test_a_handover_to_oneself_of_nothing_or_to_a_stranger_is_refused(
    ciup, admin, investigation, make_staff, make_tenant
):
    _runner, people, _cases = investigation
    with pytest.raises(CommitteeError):
        do_hand_over(ciup, people["leaving"], people["leaving"], admin)
    db.session.rollback()
    idle = make_staff(ciup, "idle@ciup.example", Role.LISTENER)
    with pytest.raises(CommitteeError, match="nothing to hand over"):
        do_hand_over(ciup, idle, people["expert"], admin)
    db.session.rollback()
    stranger = make_staff(make_tenant("other"), "stranger@other.example", Role.ADMIN)
    with pytest.raises(CommitteeError, match="does not work for this institution"):
        do_hand_over(ciup, people["leaving"], stranger, admin)
    db.session.rollback()
    assert "stranger@other.example" not in str(seats(ciup, "investigation_team"))


def test_a_seat_cannot_be_removed_while_she_sits_for_open_cases(ciup, admin, investigation):
    _runner, people, _cases = investigation
    with tenant_scope(ciup):
        team = db.session.scalar(select(Committee).where(Committee.key == "investigation_team"))
        with pytest.raises(CommitteeError, match="hand them over"):
            remove_member(team, people["leaving"], actor=admin)


def test_the_handover_page_moves_what_it_can_and_says_why_not_the_rest(
    as_admin, ciup, investigation
):
    _runner, people, cases = investigation
    page = f"/t/ciup/staff/admin/staff/{people['leaving'].public_id}?lang=en"
    shown = text(as_admin.get(page))
    assert "She sits for 2 open case(s)." in shown
    answer = post(
        as_admin,
        page,
        f"/t/ciup/staff/admin/staff/{people['leaving'].public_id}/handover?lang=en",
        successor=people["victim_house"].public_id,
        committee="investigation_team",
    )
    assert answer.status_code == 200
    shown = text(answer)
    assert "Cases moved: 1." in shown and cases[1].reference in shown
    assert cases[0].reference in shown
    assert "they will never be the directors of the houses" in shown
    assert actions(ciup)[-1] == "staff.handover"
    # nothing of the case's content is on the page
    assert "What happened." not in shown


def test_a_handover_without_a_successor_is_refused(as_admin, ciup, investigation):
    _runner, people, _cases = investigation
    page = f"/t/ciup/staff/admin/staff/{people['leaving'].public_id}?lang=en"
    before = actions(ciup)
    answer = post(
        as_admin, page, f"/t/ciup/staff/admin/staff/{people['leaving'].public_id}/handover"
    )
    assert answer.status_code == 422
    assert actions(ciup) == before


def test_someone_removed_with_open_cases_can_still_hand_them_over(
    as_admin, ciup, investigation, make_staff
):
    _runner, people, cases = investigation
    leaving = people["leaving"]
    page = f"/t/ciup/staff/admin/staff/{leaving.public_id}"
    post(as_admin, page, f"{page}/remove", confirm="y")
    assert "She still sat for 2 open case(s)" in flashed(as_admin, f"{page}?lang=en")
    successor = make_staff(ciup, "successor@ciup.example", Role.COMMITTEE_MEMBER)
    with tenant_scope(ciup):
        team = db.session.scalar(select(Committee).where(Committee.key == "investigation_team"))
        from core.committees.operations import add_member

        add_member(team, successor, actor=admin_of(ciup), role_key="house_director")
        db.session.commit()
    answer = post(as_admin, page, f"{page}/handover", successor=successor.public_id)
    assert answer.status_code == 200
    for case in cases:
        assert sitting(ciup, case)[-1] == (successor.id, "house_director", False)


def admin_of(tenant) -> User:
    with tenant_scope(tenant):
        user_id = db.session.scalar(
            select(Membership.user_id).where(Membership.role == Role.ADMIN).limit(1)
        )
    return db.session.get(User, user_id)


# -- the platform operator -----------------------------------------------------------------


@pytest.fixture
def operator(app):
    with platform_scope():
        user = create_user(
            "operator@platform.example", "Operator", None, password_hash=shared_password_hash()
        )
        user.is_platform_operator = True
        db.session.commit()
    return user


@pytest.fixture
def as_operator(client, operator):
    sign_in(client, operator, None)
    return client


def test_the_operator_creates_a_tenant_with_its_first_admin(as_operator, smtp):
    answer = post(
        as_operator,
        "/operator/?lang=en",
        "/operator/tenants",
        slug="new-school",
        name="New School",
        default_locale="en",
        plugins=["polytechnique"],
        admin_email="head@new-school.example",
        admin_name="Head",
    )
    assert answer.status_code == 303
    with platform_scope():
        tenant = db.session.scalar(select(Tenant).where(Tenant.slug == "new-school"))
    assert (tenant.name, tenant.default_locale, tenant.enabled_plugins) == (
        "New School",
        "en",
        ["polytechnique"],
    )
    head = db.session.scalar(select(User).where(User.email == "head@new-school.example"))
    with tenant_scope(tenant):
        assert set(
            db.session.scalars(select(Membership.role).where(Membership.user_id == head.id))
        ) == {Role.ADMIN}
    assert actions(tenant)[0] == "tenant.created"
    assert "staff.welcome_sent" in actions(tenant)
    assert smtp.recipients == ["head@new-school.example"]
    assert "/staff/password/reset/" in smtp.messages[0].get_body().get_content()
    listing = text(as_operator.get("/operator/?lang=en"))
    assert "New School" in listing and "polytechnique" in listing


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"slug": "Bad Slug"}, "must be lower-case letters"),
        ({"slug": "ciup"}, "already exists"),
        ({"admin_email": "nope"}, "e-mail address"),
        ({"plugins": ["ghost"]}, "'ghost' is not a valid choice"),
    ],
)
def test_a_bad_tenant_is_refused_and_nothing_is_created(as_operator, ciup, smtp, data, message):
    with platform_scope():
        before = (
            db.session.scalar(select(func.count()).select_from(Tenant)),
            db.session.scalar(select(func.count()).select_from(User)),
        )
    fields = {
        "slug": "fresh",
        "name": "Fresh",
        "default_locale": "fr",
        "admin_email": "head@fresh.example",
        "admin_name": "Head",
        **data,
    }
    answer = post(as_operator, "/operator/?lang=en", "/operator/tenants?lang=en", **fields)
    assert answer.status_code == 422
    assert message in text(answer)
    with platform_scope():
        after = (
            db.session.scalar(select(func.count()).select_from(Tenant)),
            db.session.scalar(select(func.count()).select_from(User)),
        )
    assert after == before and smtp.recipients == []


def test_a_suspended_tenant_answers_404_until_resumed(as_operator, ciup, admin, app):
    staff = app.test_client()
    sign_in(staff, admin, ciup)
    assert staff.get("/t/ciup/staff/admin/").status_code == 200
    answer = post(as_operator, "/operator/", "/operator/tenants/ciup/suspend")
    assert answer.status_code == 303
    assert reload(ciup).suspended_at is not None
    assert staff.get("/t/ciup/").status_code == 404
    assert staff.get("/t/ciup/report").status_code == 404
    assert staff.get("/t/ciup/staff/admin/").status_code == 404
    assert staff.get("/t/ciup/staff/login").status_code == 404
    assert staff.get("/t/ciup/api/v1/cases").status_code == 404
    assert "suspended since" in text(as_operator.get("/operator/?lang=en"))
    post(as_operator, "/operator/", "/operator/tenants/ciup/resume")
    assert reload(ciup).suspended_at is None
    assert staff.get("/t/ciup/staff/admin/").status_code == 200
    assert actions(ciup)[-2:] == ["tenant.suspended", "tenant.resumed"]
    with tenant_scope(ciup):
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "tenant.suspended")
        ).one()
    assert event.actor_user_id == as_operator_id(as_operator)


def as_operator_id(client) -> int:
    return db.session.scalar(select(User.id).where(User.email == "operator@platform.example"))


def test_operator_pages_need_a_platform_session(client, operator, ciup):
    answer = client.get("/operator/")
    assert answer.status_code == 302 and "/staff/login" in answer.headers["Location"]
    # a session of a tenant's back office does not count at the platform root
    sign_in(client, operator, ciup)
    assert client.get("/operator/").status_code == 302
