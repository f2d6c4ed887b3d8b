"""The JSON API for integrations: tokens scoped to one tenant and one role, need to know,
pagination, messages, transitions, deadlines, and the OpenAPI document real answers match.
"""

import hashlib
import re
import time
from datetime import timedelta
from types import SimpleNamespace

import pyotp
import pytest
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIResponse
from openapi_core.testing import MockRequest
from openapi_core.validation.response.exceptions import InvalidData
from openapi_spec_validator import validate as validate_spec
from sqlalchemy import delete, func, select

from core.api import openapi
from core.api import operations as api_operations
from core.api.models import ApiToken
from core.api.operations import create_token
from core.audit.models import AuditEvent
from core.cases.models import Case, CaseEvent, Message
from core.extensions import db
from core.identity import security
from core.identity.models import Membership, Role
from core.mail.models import OutboundMail
from core.reports.models import Report, ReporterIdentity
from core.reports.operations import receipt_hash
from core.tenancy.scoping import platform_scope, tenant_scope
from core.testing import sign_in
from core.types import utcnow

REPORTER_NAME = "Jeanne Témoin-Unique"
REPORTER_EMAIL = "jeanne.temoin@example.org"
RECEIPT = "12345678901234567890"


# -- set-up ----------------------------------------------------------------------------------


@pytest.fixture
def neoma(make_tenant, make_member, case_runner):
    """NEOMA with two Rouen officers and one Reims officer, each of the listening role."""
    tenant = make_tenant("neoma", enable=("neoma",))

    def officer(site):
        return make_member(tenant, "angela_unit", role="officer", site=site, roles=(Role.LISTENER,))

    return SimpleNamespace(
        tenant=tenant,
        runner=case_runner(tenant),
        rouen=[officer("rouen"), officer("rouen")],
        reims=officer("reims"),
    )


def new_token(tenant, user, role=Role.LISTENER, name="case sync") -> str:
    with tenant_scope(tenant):
        _token, secret = create_token(tenant.id, user, role, name, actor="platform")
        db.session.commit()
    return secret


def call(client, tenant, secret, method, path, **kwargs):
    headers = kwargs.pop("headers", {})
    if secret is not None:
        headers["Authorization"] = f"Bearer {secret}"
    return client.open(f"/t/{tenant.slug}/api/v1{path}", method=method, headers=headers, **kwargs)


def snapshot(case) -> SimpleNamespace:
    """What a test needs of a case after requests have expired it (outside any scope)."""
    return SimpleNamespace(id=case.id, public_id=case.public_id, reference=case.reference, row=case)


def case_at(neoma, campus="rouen", **submit) -> SimpleNamespace:
    return snapshot(neoma.runner.submit(anonymous=False, answers={"campus": campus}, **submit))


def audit_events(tenant, action: str) -> list[AuditEvent]:
    with tenant_scope(tenant):
        return list(
            db.session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
            )
        )


def count(tenant, model, *where) -> int:
    with tenant_scope(tenant):
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def name_the_reporter(tenant, case) -> None:
    """Make the case's report a named one (identity kept apart), with a receipt to come back
    with and an address for notices."""
    with tenant_scope(tenant):
        report = db.session.scalar(select(Report).where(Report.case_id == case.id))
        report.identity = ReporterIdentity(
            tenant_id=tenant.id, full_name=REPORTER_NAME, contact={"email": REPORTER_EMAIL}
        )
        report.notify_email = REPORTER_EMAIL
        report.receipt_hash = receipt_hash(tenant.id, RECEIPT)
        db.session.commit()


PUBLIC_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def assert_public_ids_only(data) -> None:
    """Every id in an answer is a public id (a UUID), never a database id."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "id" or key.endswith("_id"):
                assert value is None or PUBLIC_ID.match(value), (key, value)
            assert_public_ids_only(value)
    elif isinstance(data, list):
        for value in data:
            assert_public_ids_only(value)


def csrf_in(page: bytes) -> str:
    return re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()


@pytest.fixture
def contract():
    """Check that a response of the NEOMA tenant's API matches the OpenAPI document."""
    spec = OpenAPI.from_dict(openapi.document(server="http://localhost/t/neoma/api/v1"))

    def check(response):
        asked = response.request  # its body was read by the app: describe it without one
        request = MockRequest(
            "http://localhost",
            asked.method,
            asked.root_path + asked.path,
            args=asked.args,
            headers=dict(asked.headers),
        )
        spec.validate_response(request, WerkzeugOpenAPIResponse(response))
        return response

    return check


# -- tokens: made, used, refused, revoked ----------------------------------------------------


def test_a_token_is_stored_as_its_sha256_only_and_audited(neoma):
    secret = new_token(neoma.tenant, neoma.rouen[0])
    assert secret.startswith("cel_") and len(secret) > 40
    with tenant_scope(neoma.tenant):
        token = db.session.scalar(select(ApiToken))
        assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert token.role == Role.LISTENER
    [created] = audit_events(neoma.tenant, "api_token.created")
    assert created.target_id == token.public_id
    assert created.details == {"user": neoma.rouen[0].public_id, "role": "listener"}


def test_only_a_bearer_token_of_this_tenant_opens_the_api(app, client, neoma, make_tenant):
    case_at(neoma)
    secret = new_token(neoma.tenant, neoma.rouen[0])
    other = make_tenant("ciup", enable=("ciup",))

    missing = call(client, neoma.tenant, None, "GET", "/cases")
    assert missing.status_code == 401
    assert missing.json["error"]["code"] == "not_authenticated"
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = call(client, neoma.tenant, "cel_" + "x" * 43, "GET", "/cases")
    assert wrong.status_code == 401
    assert 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
    # a NEOMA token means nothing to another school, on its path or on its host
    assert call(client, other, secret, "GET", "/cases").status_code == 401
    bearer = {"Authorization": f"Bearer {secret}"}
    elsewhere = client.get("/api/v1/cases", base_url="http://ciup.cellule.test", headers=bearer)
    assert elsewhere.status_code == 401
    # on its own tenant's host it works as it does under /t/neoma
    at_home = client.get("/api/v1/cases", base_url="http://neoma.cellule.test", headers=bearer)
    assert at_home.status_code == 200 and len(at_home.json["items"]) == 1
    # a staff session's cookie is no way in: only the header counts
    browser = app.test_client()
    sign_in(browser, neoma.rouen[0], neoma.tenant)
    assert browser.get("/t/neoma/api/v1/cases").status_code == 401
    answer = call(client, neoma.tenant, secret, "GET", "/cases")
    assert answer.status_code == 200
    assert "Set-Cookie" not in answer.headers
    assert answer.headers["Cache-Control"] == "no-store"


def test_revoked_disabled_or_withdrawn_tokens_stop_working(client, runner, neoma):
    officer, other = neoma.rouen
    revoked = new_token(neoma.tenant, officer)
    withdrawn = new_token(neoma.tenant, other)
    disabled = new_token(neoma.tenant, neoma.reims)
    for secret in (revoked, withdrawn, disabled):
        assert call(client, neoma.tenant, secret, "GET", "/cases").status_code == 200

    with tenant_scope(neoma.tenant):
        token_id = db.session.scalar(
            select(ApiToken.public_id).where(ApiToken.user_id == officer.id)
        )
    result = runner.invoke(args=["api", "revoke", "--tenant", "neoma", token_id])
    assert result.exit_code == 0, result.output
    with tenant_scope(neoma.tenant):
        db.session.execute(
            delete(Membership).where(Membership.user_id == other.id, Membership.role == "listener")
        )
        db.session.commit()
    with platform_scope():
        db.session.get(type(neoma.reims), neoma.reims.id).disabled_at = utcnow()
        db.session.commit()

    for secret in (revoked, withdrawn, disabled):
        refused = call(client, neoma.tenant, secret, "GET", "/cases")
        assert refused.status_code == 401
        assert refused.json["error"]["code"] == "not_authenticated"
    [event] = audit_events(neoma.tenant, "api_token.revoked")
    assert event.target_id == token_id and event.actor_kind == "platform"


def test_last_use_is_written_at_most_once_a_minute(client, neoma):
    secret = new_token(neoma.tenant, neoma.rouen[0])

    def last_used():
        with tenant_scope(neoma.tenant):
            return db.session.scalar(
                select(ApiToken.last_used_at).execution_options(populate_existing=True)
            )

    assert last_used() is None
    call(client, neoma.tenant, secret, "GET", "/cases")
    first = last_used()
    assert first is not None
    call(client, neoma.tenant, secret, "GET", "/cases")
    assert last_used() == first
    with tenant_scope(neoma.tenant):
        db.session.scalar(select(ApiToken)).last_used_at = first - timedelta(minutes=2)
        db.session.commit()
    call(client, neoma.tenant, secret, "GET", "/cases")
    assert last_used() > first - timedelta(minutes=1)


def test_a_token_acts_with_its_role_alone(client, make_tenant, make_member, case_runner):
    poly = make_tenant("poly", enable=("polytechnique",))
    unit = make_member(poly, "dhamis_unit")
    # sits on management (standing once the unit has replied), and also holds two core roles
    head = make_member(poly, "management", roles=(Role.LISTENER, Role.ADMIN))
    runner = case_runner(poly)
    case = snapshot(runner.take(runner.submit(), "reply_to_reporter", unit))
    as_listener = new_token(poly, head, Role.LISTENER)
    as_admin = new_token(poly, head, Role.ADMIN)
    path = f"/cases/{case.public_id}/messages"

    # her seat counts with a token whose role handles cases: she sees the case
    assert call(client, poly, as_listener, "GET", f"/cases/{case.public_id}").status_code == 200
    # but writing to the reporter is for those handling it, which her listener role is not
    refused = call(client, poly, as_listener, "POST", path, json={"body": "Hello"})
    assert refused.status_code == 403
    assert refused.json["error"]["code"] == "forbidden"
    # an admin token is no way round it: admins do not see cases, and her seat does not
    # lift the token above its role
    assert call(client, poly, as_admin, "POST", path, json={"body": "Hello"}).status_code == 404
    assert count(poly, Message) == 0


@pytest.mark.parametrize("bounded", [Role.AUDITOR, Role.ADMIN])
def test_a_seat_gives_no_standing_to_a_token_whose_role_does_not_handle_cases(
    client, neoma, make_member, bounded
):
    """The token's role is an upper bound: an officer who is also an auditor (or an admin)
    reads her unit's cases with a listener token, never with an auditor or admin one."""
    case = case_at(neoma)
    officer = make_member(
        neoma.tenant, "angela_unit", role="officer", site="rouen", roles=(Role.LISTENER, bounded)
    )
    handling = new_token(neoma.tenant, officer, Role.LISTENER)
    limited = new_token(neoma.tenant, officer, bounded, name="dashboard")

    assert [
        i["id"] for i in call(client, neoma.tenant, handling, "GET", "/cases").json["items"]
    ] == [case.public_id]
    assert call(client, neoma.tenant, limited, "GET", "/cases").json["items"] == []
    for part in ("", "/reports", "/messages", "/deadlines", "/transitions"):
        path = f"/cases/{case.public_id}{part}"
        assert call(client, neoma.tenant, limited, "GET", path).status_code == 404, part
        assert call(client, neoma.tenant, handling, "GET", path).status_code == 200, part
    assert call(client, neoma.tenant, limited, "GET", "/deadlines").json["items"] == []
    step = call(
        client,
        neoma.tenant,
        limited,
        "POST",
        f"/cases/{case.public_id}/transitions",
        json={"transition": "register_report", "participants": [neoma.rouen[0].public_id]},
    )
    assert step.status_code == 404
    with tenant_scope(neoma.tenant):
        assert db.session.get(Case, case.id, populate_existing=True).state == "received"
    # a committee member's token keeps her seats, as in the back office
    member = make_member(
        neoma.tenant, "angela_unit", site="rouen", roles=(Role.COMMITTEE_MEMBER, bounded)
    )
    seated = new_token(neoma.tenant, member, Role.COMMITTEE_MEMBER)
    answer = call(client, neoma.tenant, seated, "GET", f"/cases/{case.public_id}")
    assert answer.status_code == 200


def test_tokens_from_the_command_line(client, runner, neoma):
    officer = neoma.rouen[0]
    made = runner.invoke(
        args=[
            "api",
            "create-token",
            "--tenant",
            "neoma",
            "--email",
            officer.email,
            "--role",
            "listener",
            "--name",
            "nightly export",
        ]
    )
    assert made.exit_code == 0, made.output
    # the operator is told, on its own line, that the token acts as that person
    [warning] = [line for line in made.stderr.splitlines() if line.startswith("Warning")]
    assert f"acts as {officer.email}" in warning
    secret = next(line for line in made.stdout.splitlines() if line.startswith("cel_"))
    assert secret not in made.stderr
    assert call(client, neoma.tenant, secret, "GET", "/cases").status_code == 200
    listed = runner.invoke(args=["api", "list-tokens", "--tenant", "neoma"])
    assert "nightly export" in listed.output and officer.email in listed.output
    assert secret not in listed.output
    [created] = audit_events(neoma.tenant, "api_token.created")
    assert created.actor_kind == "platform"

    # a role she does not hold: refused, nothing stored
    refused = runner.invoke(
        args=[
            "api",
            "create-token",
            "--tenant",
            "neoma",
            "--email",
            officer.email,
            "--role",
            "admin",
            "--name",
            "too much",
        ]
    )
    assert refused.exit_code != 0
    assert "does not hold this role" in refused.output
    assert count(neoma.tenant, ApiToken) == 1


def enrol(user, tenant) -> pyotp.TOTP:
    """Give `user` a confirmed authenticator app (its current step used up)."""
    with tenant_scope(tenant):
        secret = security.begin_enrolment(user)
        totp = pyotp.TOTP(secret)
        assert security.confirm_enrolment(user, totp.now(), tenant) is not None
        db.session.commit()
    return totp


def fresh_code(totp: pyotp.TOTP, steps: int = 1) -> str:
    """A code of a step after the one last used, still inside the accepted window."""
    return totp.at(time.time() + steps * security.TOTP_STEP_SECONDS)


def test_staff_make_their_own_token_with_a_fresh_code_and_see_it_once(app, client, neoma):
    officer = neoma.rouen[0]
    totp = enrol(officer, neoma.tenant)
    browser = app.test_client()
    sign_in(browser, officer, neoma.tenant)
    page = browser.get("/t/neoma/staff/api-tokens?lang=en")
    assert page.status_code == 200  # any staff member, not only admins
    assert b'value="listener"' in page.data and b'value="admin"' not in page.data
    form = {"csrf_token": csrf_in(page.data), "role": "listener", "name": "my sync"}

    nameless = browser.post(
        "/t/neoma/staff/api-tokens?lang=en", data={**form, "name": "", "code": fresh_code(totp)}
    )
    assert nameless.status_code == 422
    assert b"Please give the token a name" in nameless.data
    codeless = browser.post("/t/neoma/staff/api-tokens?lang=en", data=form)
    assert codeless.status_code == 422 and b"Please type the code" in codeless.data
    wrong = browser.post("/t/neoma/staff/api-tokens?lang=en", data={**form, "code": "000000"})
    assert wrong.status_code == 422 and b"This code is not right" in wrong.data
    assert count(neoma.tenant, ApiToken) == 0
    [failed] = audit_events(neoma.tenant, "staff.sign_in_failed")
    assert failed.details == {"step": "second_factor"}

    code = fresh_code(totp)
    made = browser.post("/t/neoma/staff/api-tokens?lang=en", data={**form, "code": code})
    assert made.status_code == 200
    assert made.headers["Cache-Control"].startswith("no-store")
    secret = re.search(rb"<code>(cel_[A-Za-z0-9_-]+)</code>", made.data).group(1).decode()
    assert b"It acts as you" in made.data
    assert call(client, neoma.tenant, secret, "GET", "/cases").status_code == 200
    # the same code does not make a second token
    replayed = browser.post("/t/neoma/staff/api-tokens?lang=en", data={**form, "code": code})
    assert replayed.status_code == 422 and count(neoma.tenant, ApiToken) == 1
    again = browser.get("/t/neoma/staff/api-tokens?lang=en")
    assert secret.encode() not in again.data  # shown once
    assert b"my sync" in again.data
    [created] = audit_events(neoma.tenant, "api_token.created")
    assert created.actor_user_id == officer.id
    assert created.details == {"user": officer.public_id, "role": "listener"}

    # she revokes it herself
    with tenant_scope(neoma.tenant):
        token_id = db.session.scalar(select(ApiToken.public_id))
    revoked = browser.post(
        f"/t/neoma/staff/api-tokens/{token_id}/revoke", data={"csrf_token": csrf_in(again.data)}
    )
    assert revoked.status_code == 303
    assert call(client, neoma.tenant, secret, "GET", "/cases").status_code == 401
    assert audit_events(neoma.tenant, "api_token.revoked")[0].actor_user_id == officer.id


def test_an_admin_cannot_make_a_token_for_someone_else_but_lists_and_revokes_them(
    app, client, neoma, make_staff
):
    admin = make_staff(neoma.tenant, "admin@neoma.test", Role.ADMIN)
    officer, colleague = neoma.rouen
    totp = enrol(admin, neoma.tenant)

    # the operation refuses to make a token for another person, whoever asks
    with tenant_scope(neoma.tenant), pytest.raises(api_operations.ApiTokenError) as refused:
        create_token(neoma.tenant.id, officer, Role.LISTENER, "as her", actor=admin)
    assert refused.value.code == "holder"
    db.session.rollback()
    assert count(neoma.tenant, ApiToken) == 0

    # nor does the page: it offers the admin her own roles only, and a holder slipped
    # into the form changes nothing
    browser = app.test_client()
    sign_in(browser, admin, neoma.tenant)
    page = browser.get("/t/neoma/staff/api-tokens?lang=en")
    assert officer.public_id.encode() not in page.data
    forged = browser.post(
        "/t/neoma/staff/api-tokens?lang=en",
        data={
            "csrf_token": csrf_in(page.data),
            "holder": f"{officer.public_id}:listener",
            "role": "listener",
            "name": "student records sync",
            "code": fresh_code(totp),
        },
    )
    assert forged.status_code == 422
    assert count(neoma.tenant, ApiToken) == 0

    # the officer's own token: the admin sees it listed, never its secret, and revokes it
    secret = new_token(neoma.tenant, officer, name="her own sync")
    other = new_token(neoma.tenant, colleague, name="colleague's sync")
    listed = browser.get("/t/neoma/staff/api-tokens?lang=en")
    text = listed.get_data(as_text=True)
    assert "her own sync" in text and "colleague&#39;s sync" in text
    assert secret not in text and other not in text and "cel_" not in text
    with tenant_scope(neoma.tenant):
        token_id = db.session.scalar(
            select(ApiToken.public_id).where(ApiToken.user_id == officer.id)
        )
    revoked = browser.post(
        f"/t/neoma/staff/api-tokens/{token_id}/revoke", data={"csrf_token": csrf_in(listed.data)}
    )
    assert revoked.status_code == 303
    assert call(client, neoma.tenant, secret, "GET", "/cases").status_code == 401
    assert call(client, neoma.tenant, other, "GET", "/cases").status_code == 200
    [event] = audit_events(neoma.tenant, "api_token.revoked")
    assert event.actor_user_id == admin.id and event.target_id == token_id
    assert "Revoked on" in browser.get("/t/neoma/staff/api-tokens?lang=en").get_data(as_text=True)


def test_staff_see_and_revoke_only_their_own_tokens_and_forms_need_csrf(app, client, neoma):
    officer, colleague = neoma.rouen
    totp = enrol(officer, neoma.tenant)
    mine = new_token(neoma.tenant, officer, name="mine")
    theirs = new_token(neoma.tenant, colleague, name="theirs")
    browser = app.test_client()
    sign_in(browser, officer, neoma.tenant)
    page = browser.get("/t/neoma/staff/api-tokens?lang=en")
    assert b"mine" in page.data and b"theirs" not in page.data
    with tenant_scope(neoma.tenant):
        their_id = db.session.scalar(
            select(ApiToken.public_id).where(ApiToken.user_id == colleague.id)
        )
    refused = browser.post(
        f"/t/neoma/staff/api-tokens/{their_id}/revoke", data={"csrf_token": csrf_in(page.data)}
    )
    assert refused.status_code == 404
    assert audit_events(neoma.tenant, "api_token.revoked") == []
    assert call(client, neoma.tenant, theirs, "GET", "/cases").status_code == 200
    forged = browser.post(
        "/t/neoma/staff/api-tokens",
        data={"role": "listener", "name": "forged", "code": fresh_code(totp)},
    )
    assert forged.status_code in (400, 422)
    assert count(neoma.tenant, ApiToken) == 2
    assert call(client, neoma.tenant, mine, "GET", "/cases").status_code == 200


# -- need to know, pagination, errors --------------------------------------------------------


def test_a_campus_token_lists_only_its_campus_cases_page_by_page(client, neoma, contract):
    rouen = [case_at(neoma) for _ in range(7)]
    reims = [case_at(neoma, "reims") for _ in range(2)]
    secret = new_token(neoma.tenant, neoma.rouen[0])

    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = contract(call(client, neoma.tenant, secret, "GET", "/cases", query_string=query))
        assert page.status_code == 200
        seen += [item["id"] for item in page.json["items"]]
        pages += 1
        cursor = page.json["next"]
        if cursor is None:
            break
    assert pages == 3
    assert len(seen) == len(set(seen)) == 7  # no case twice
    assert set(seen) == {case.public_id for case in rouen}
    assert not set(seen) & {case.public_id for case in reims}

    # a Reims case is not hers to see: 404, exactly as for a case that does not exist
    unseen = call(client, neoma.tenant, secret, "GET", f"/cases/{reims[0].public_id}")
    missing = call(client, neoma.tenant, secret, "GET", "/cases/no-such-case")
    assert unseen.status_code == missing.status_code == 404
    assert unseen.json == missing.json
    contract(unseen)
    for part in ("reports", "messages", "deadlines", "transitions"):
        path = f"/cases/{reims[0].public_id}/{part}"
        assert call(client, neoma.tenant, secret, "GET", path).status_code == 404
    # the Reims officer sees the other two
    theirs = call(client, neoma.tenant, new_token(neoma.tenant, neoma.reims), "GET", "/cases")
    assert {item["id"] for item in theirs.json["items"]} == {case.public_id for case in reims}


def test_a_request_reads_a_bounded_number_of_cases_and_pages_stay_exact(client, neoma, monkeypatch):
    rouen = {case_at(neoma).public_id for _ in range(5)}
    secret = new_token(neoma.tenant, neoma.rouen[0])
    monkeypatch.setattr(api_operations, "SCAN_LIMIT", 3)
    seen, sizes, cursor = [], [], None
    while True:
        query = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        page = call(client, neoma.tenant, secret, "GET", "/cases", query_string=query).json
        seen += [item["id"] for item in page["items"]]
        sizes.append(len(page["items"]))
        if (cursor := page["next"]) is None:
            break
    assert sizes == [3, 2]  # the first page ended early, at the third case read
    assert len(seen) == len(set(seen)) and set(seen) == rouen


def test_cases_filter_by_stage_and_by_last_change(client, neoma):
    first, second = case_at(neoma), case_at(neoma)
    before = utcnow()
    neoma.runner.take(second.row, "register_report", neoma.rouen[0], participants=[neoma.rouen[1]])
    secret = new_token(neoma.tenant, neoma.rouen[0])

    def ids(**query):
        answer = call(client, neoma.tenant, secret, "GET", "/cases", query_string=query)
        assert answer.status_code == 200, answer.json
        return [item["id"] for item in answer.json["items"]]

    assert ids(state="registered") == [second.public_id]
    assert ids(state="received") == [first.public_id]
    assert ids(updated_since=before.isoformat()) == [second.public_id]
    # least recently changed first
    assert ids() == [first.public_id, second.public_id]


def test_bad_parameters_and_unknown_paths_answer_in_json(client, neoma, contract):
    secret = new_token(neoma.tenant, neoma.rouen[0])
    bad = call(
        client,
        neoma.tenant,
        secret,
        "GET",
        "/cases",
        query_string={"limit": 0, "updated_since": "yesterday"},
    )
    assert bad.status_code == 422
    contract(bad)
    assert set(bad.json["error"]["fields"]) == {"limit", "updated_since"}
    cursor = call(client, neoma.tenant, secret, "GET", "/cases", query_string={"cursor": "nope"})
    assert cursor.status_code == 422 and "cursor" in cursor.json["error"]["fields"]
    nowhere = call(client, neoma.tenant, secret, "GET", "/nowhere")
    assert nowhere.status_code == 404 and nowhere.json["error"]["code"] == "not_found"
    wrong_method = call(client, neoma.tenant, secret, "DELETE", "/cases")
    assert wrong_method.status_code == 405
    assert wrong_method.json["error"]["code"] == "method_not_allowed"
    assert "GET" in wrong_method.headers["Allow"]
    # at the platform's root there is no tenant, hence no API
    assert client.get("/api/v1/cases").status_code == 404


def test_a_body_too_large_is_refused_in_json(app, client, neoma):
    case = case_at(neoma)
    secret = new_token(neoma.tenant, neoma.rouen[0])
    app.config["MAX_CONTENT_LENGTH"] = 1000
    path = f"/cases/{case.public_id}/messages"
    answer = call(client, neoma.tenant, secret, "POST", path, json={"body": "x" * 2000})
    assert answer.status_code == 413
    assert answer.json["error"]["code"] == "too_large"
    assert count(neoma.tenant, Message) == 0


# -- reading a case --------------------------------------------------------------------------


def test_a_case_shows_its_procedure_never_who_reported(client, neoma, contract):
    case = case_at(neoma, categories=["moral_harassment"])
    name_the_reporter(neoma.tenant, case)
    secret = new_token(neoma.tenant, neoma.rouen[0])

    answer = contract(
        call(
            client,
            neoma.tenant,
            secret,
            "GET",
            f"/cases/{case.public_id}",
            headers={"Accept-Language": "fr"},
        )
    )
    assert answer.status_code == 200
    body = answer.json
    assert body["id"] == case.public_id and body["reference"] == case.reference
    assert body["state"] == {"key": "received", "label": "Signalement reçu"}
    assert body["committee"]["key"] == "angela_unit"
    assert body["site"] == {"key": "rouen", "label": "Campus de Rouen"}
    assert [c["key"] for c in body["categories"]] == ["moral_harassment"]
    assert {d["key"] for d in body["deadlines"]} == {
        "acknowledgement",
        "registration",
        "whole_process",
    }
    assert body["timeline"][0]["kind"] == "opened"
    text = answer.get_data(as_text=True)
    assert REPORTER_NAME not in text and REPORTER_EMAIL not in text
    assert_public_ids_only(body)

    [read] = audit_events(neoma.tenant, "case.read")
    assert read.target_id == case.public_id and read.actor_user_id == neoma.rouen[0].id
    assert read.details["via"] == "api" and read.details["part"] == "case"


def test_reading_the_reports_is_audited_and_only_for_those_who_may_see_them(
    client, neoma, contract
):
    case = case_at(neoma, narrative="He kept sending messages after I said no.")
    name_the_reporter(neoma.tenant, case)
    officer = new_token(neoma.tenant, neoma.rouen[0])
    outsider = new_token(neoma.tenant, neoma.reims)
    path = f"/cases/{case.public_id}/reports"

    assert call(client, neoma.tenant, outsider, "GET", path).status_code == 404
    assert audit_events(neoma.tenant, "case.read") == []
    answer = contract(call(client, neoma.tenant, officer, "GET", path))
    assert answer.status_code == 200
    [report] = answer.json["items"]
    assert_public_ids_only(answer.json)
    assert report["narrative"] == "He kept sending messages after I said no."
    assert report["answers"] == {"campus": "rouen"}
    assert REPORTER_NAME not in answer.get_data(as_text=True)
    [read] = audit_events(neoma.tenant, "case.read")
    with tenant_scope(neoma.tenant):
        token_id = db.session.scalar(select(ApiToken.public_id).where(ApiToken.name == "case sync"))
    assert read.details == {
        "via": "api",
        "part": "reports",
        "token": token_id,
        "holder": neoma.rouen[0].public_id,
    }


def test_a_victims_name_in_the_answers_stays_apart_with_the_identity(
    client, make_tenant, make_member, case_runner
):
    """CIUP's form asks the victim's name: when the victim reports, that answer names the
    person reporting, so the API withholds it as it withholds the identity."""
    ciup = make_tenant("ciup", enable=("ciup",))
    listener = make_member(
        ciup,
        "listening_unit",
        role="other_house_director",
        site="fondation_suisse",
        roles=(Role.COMMITTEE_MEMBER,),
    )
    runner = case_runner(ciup)
    answers = {
        "victim_name": REPORTER_NAME,
        "victim_house": "fondation_deutsch_de_la_meurthe",
        "implicated_name": "Paul Suspect-Unique",
        "reporting_wish": "report",
    }
    case = snapshot(runner.submit(anonymous=False, answers=answers))
    witness = snapshot(runner.submit(relation="witness", anonymous=False, answers=answers))
    secret = new_token(ciup, listener, Role.COMMITTEE_MEMBER)

    def reported(case):
        answer = call(client, ciup, secret, "GET", f"/cases/{case.public_id}/reports")
        assert answer.status_code == 200, answer.json
        return answer

    answer = reported(case)
    [report] = answer.json["items"]
    assert "victim_name" not in report["answers"]
    assert REPORTER_NAME not in answer.get_data(as_text=True)
    # the other answers stay, the alleged perpetrator's name included
    assert report["answers"]["implicated_name"] == "Paul Suspect-Unique"
    assert report["answers"]["victim_house"] == "fondation_deutsch_de_la_meurthe"
    # a witness who names the victim does not name themselves: that answer is kept
    [report] = reported(witness).json["items"]
    assert report["answers"]["victim_name"] == REPORTER_NAME


# -- writing ---------------------------------------------------------------------------------


def test_a_message_reaches_the_case_and_the_reporters_space(app, client, neoma, contract):
    case = case_at(neoma)
    name_the_reporter(neoma.tenant, case)
    secret = new_token(neoma.tenant, neoma.rouen[0])
    path = f"/cases/{case.public_id}/messages"

    empty = contract(call(client, neoma.tenant, secret, "POST", path, json={"body": "   "}))
    assert empty.status_code == 422 and "body" in empty.json["error"]["fields"]
    unknown = call(client, neoma.tenant, secret, "POST", path, json={"body": "Hi", "to": "x"})
    assert unknown.status_code == 422 and "to" in unknown.json["error"]["fields"]
    not_json = call(client, neoma.tenant, secret, "POST", path, data="body=Hi")
    assert not_json.status_code == 400
    assert count(neoma.tenant, Message) == 0

    text = "We read your report. Could we meet on Thursday?"
    posted = contract(call(client, neoma.tenant, secret, "POST", path, json={"body": text}))
    assert posted.status_code == 201
    assert posted.json["author"] == "staff"
    assert posted.json["author_id"] == neoma.rouen[0].public_id
    assert posted.headers["Location"].endswith(path)
    with tenant_scope(neoma.tenant):
        stored = db.session.scalar(select(Message))
        assert (stored.body, stored.author_kind, stored.author_user_id) == (
            text,
            "staff",
            neoma.rouen[0].id,
        )
        notice = db.session.scalar(select(OutboundMail))
        assert notice.kind == "new_message_for_reporter" and notice.recipient == REPORTER_EMAIL
        assert text not in str(notice.params)
    assert audit_events(neoma.tenant, "case.message")[0].actor_user_id == neoma.rouen[0].id

    listed = contract(call(client, neoma.tenant, secret, "GET", path))
    assert [m["body"] for m in listed.json["items"]] == [text]
    assert audit_events(neoma.tenant, "case.read")[0].details["part"] == "messages"

    # the reporter comes back with the receipt and reads it
    reporter = app.test_client()
    login = reporter.get("/t/neoma/space/login?lang=en")
    token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', login.data).group(1)
    opened = reporter.post(
        "/t/neoma/space/login?lang=en", data={"csrf_token": token.decode(), "receipt": RECEIPT}
    )
    assert opened.status_code == 303
    assert text in reporter.get("/t/neoma/space?lang=en").get_data(as_text=True)


def test_a_refused_step_names_its_rule_and_changes_nothing(client, neoma, contract):
    case = case_at(neoma)
    first, second = neoma.rouen
    secret = new_token(neoma.tenant, first)
    path = f"/cases/{case.public_id}/transitions"
    events = count(neoma.tenant, CaseEvent)

    options = contract(call(client, neoma.tenant, secret, "GET", path))
    assert {o["key"]: o["allowed"] for o in options.json["items"]}["register_report"] is True

    alone = contract(
        call(
            client,
            neoma.tenant,
            secret,
            "POST",
            path,
            json={"transition": "register_report"},
            headers={"Accept-Language": "fr"},
        )
    )
    assert alone.status_code == 409
    assert alone.json["error"]["code"] == "refused"
    assert alone.json["error"]["rule"] == "size"
    assert "il faut au moins 2 personnes" in alone.json["error"]["message"]
    stranger = call(
        client,
        neoma.tenant,
        secret,
        "POST",
        path,
        json={"transition": "register_report", "participants": ["not-a-person"]},
    )
    assert stranger.status_code == 422
    assert "participants" in stranger.json["error"]["fields"]
    unknown = call(client, neoma.tenant, secret, "POST", path, json={"transition": "fly_away"})
    assert unknown.status_code == 422 and "transition" in unknown.json["error"]["fields"]
    with tenant_scope(neoma.tenant):
        assert db.session.get(Case, case.id, populate_existing=True).state == "received"
    assert count(neoma.tenant, CaseEvent) == events
    assert audit_events(neoma.tenant, "case.transition") == []

    taken = contract(
        call(
            client,
            neoma.tenant,
            secret,
            "POST",
            path,
            json={"transition": "register_report", "participants": [second.public_id]},
        )
    )
    assert taken.status_code == 200
    assert taken.json["state"]["key"] == "registered"
    assert taken.json["timeline"][-1]["key"] == "register_report"
    [step] = audit_events(neoma.tenant, "case.transition")
    assert step.actor_user_id == first.id and step.details["to"] == "registered"


# -- deadlines -------------------------------------------------------------------------------


def test_deadlines_of_a_case_and_across_the_cases_one_may_see(client, neoma, contract):
    long_ago = utcnow() - timedelta(days=30)
    late = case_at(neoma, now=long_ago)
    fresh = case_at(neoma)
    case_at(neoma, "reims", now=long_ago)  # not hers
    secret = new_token(neoma.tenant, neoma.rouen[0])

    own = contract(call(client, neoma.tenant, secret, "GET", f"/cases/{late.public_id}/deadlines"))
    assert {d["key"]: d["overdue"] for d in own.json["items"]} == {
        "acknowledgement": True,
        "registration": True,
        "whole_process": False,
    }

    def listed(**query):
        answer = contract(
            call(client, neoma.tenant, secret, "GET", "/deadlines", query_string=query)
        )
        assert answer.status_code == 200, answer.json
        return [(d["case_id"], d["key"]) for d in answer.json["items"]]

    overdue = listed(overdue="true")
    assert overdue == [
        (late.public_id, "acknowledgement"),
        (late.public_id, "registration"),
    ]
    assert listed(due_before=utcnow().isoformat()) == overdue
    ahead = listed(overdue="false")
    assert (late.public_id, "whole_process") in ahead
    assert {case for case, _key in ahead} == {late.public_id, fresh.public_id}
    everything = listed()
    assert len(everything) == 6
    pages = [listed(limit=4)]
    first = call(client, neoma.tenant, secret, "GET", "/deadlines", query_string={"limit": 4})
    rest = call(
        client,
        neoma.tenant,
        secret,
        "GET",
        "/deadlines",
        query_string={"limit": 4, "cursor": first.json["next"]},
    )
    pages.append([(d["case_id"], d["key"]) for d in rest.json["items"]])
    assert rest.json["next"] is None
    assert pages[0] + pages[1] == everything


def test_every_read_is_audited_with_the_token_and_its_holder(client, neoma):
    mine = [case_at(neoma) for _ in range(3)]
    case_at(neoma, "reims")  # not hers: never counted
    officer = neoma.rouen[0]
    secret = new_token(neoma.tenant, officer)
    with tenant_scope(neoma.tenant):
        token_id = db.session.scalar(select(ApiToken.public_id))
    how = {"via": "api", "token": token_id, "holder": officer.public_id}

    for part in ("deadlines", "transitions"):
        path = f"/cases/{mine[0].public_id}/{part}"
        assert call(client, neoma.tenant, secret, "GET", path).status_code == 200
    reads = audit_events(neoma.tenant, "case.read")
    assert [(r.target_id, r.details) for r in reads] == [
        (mine[0].public_id, {**how, "part": "deadlines"}),
        (mine[0].public_id, {**how, "part": "transitions"}),
    ]
    assert all(r.actor_user_id == officer.id for r in reads)

    # a list: one event per page, saying how many items it held and nothing of them
    first = call(client, neoma.tenant, secret, "GET", "/cases", query_string={"limit": 2})
    rest = call(
        client,
        neoma.tenant,
        secret,
        "GET",
        "/cases",
        query_string={"limit": 2, "cursor": first.json["next"]},
    )
    assert (len(first.json["items"]), len(rest.json["items"])) == (2, 1)
    deadlines = call(client, neoma.tenant, secret, "GET", "/deadlines")
    assert deadlines.status_code == 200
    listed = audit_events(neoma.tenant, "api.list_read")
    assert [(e.target_type, e.target_id) for e in listed] == [("api_token", token_id)] * 3
    assert [e.details for e in listed] == [
        {**how, "list": "cases", "count": 2},
        {**how, "list": "cases", "count": 1},
        {**how, "list": "deadlines", "count": len(deadlines.json["items"])},
    ]
    assert all(e.actor_user_id == officer.id for e in listed)
    assert len(audit_events(neoma.tenant, "case.read")) == 2  # a list reads no case
    # a refused request is no read: nothing recorded
    bad = call(client, neoma.tenant, secret, "GET", "/cases", query_string={"limit": 0})
    assert bad.status_code == 422
    assert len(audit_events(neoma.tenant, "api.list_read")) == 3


# -- the OpenAPI document ----------------------------------------------------------------------


def test_the_openapi_document_is_valid_and_describes_every_route(app, client, neoma):
    answer = client.get("/t/neoma/api/v1/openapi.json")  # no token needed
    assert answer.status_code == 200
    document = answer.json
    validate_spec(document)
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": "/t/neoma/api/v1"}]
    assert document["components"]["securitySchemes"]["bearerToken"]["scheme"] == "bearer"
    routes = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1")), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {
        (path, method) for path, operations in document["paths"].items() for method in operations
    }
    assert routes == documented
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if path != "/openapi.json":
                assert "401" in operation["responses"], (path, method)


def test_the_contract_check_catches_an_answer_that_strays_from_the_document(
    client, neoma, contract
):
    secret = new_token(neoma.tenant, neoma.rouen[0])
    answer = contract(call(client, neoma.tenant, secret, "GET", "/cases"))
    answer.set_data(b'{"items": [{"id": 1}], "next": null}')
    with pytest.raises(InvalidData, match="'reference' is a required property"):
        contract(answer)
