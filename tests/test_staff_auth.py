"""Staff sign-in through the web layer: password, TOTP second factor (with real pyotp codes),
enrolment with a QR code drawn as SVG, recovery codes, lock-out, idle timeout, sign-out,
password reset by e-mail through a real SMTP server, and the operator's CLI.
"""

import base64
import hashlib
import logging
import re
import time
import urllib.parse
import xml.etree.ElementTree as ET
from datetime import timedelta

import pyotp
import pytest
import segno
from sqlalchemy import inspect, select

from core.audit.models import AuditEvent
from core.crypto.keys import KeyProblem, MasterKeys, reseal, seal, sealed_with, unseal
from core.extensions import db
from core.identity import operations, security
from core.identity.access import SESSION_KEY
from core.identity.models import RecoveryCode, Role, User
from core.identity.operations import check_password, password_hasher
from core.identity.views import safe_next
from core.tenancy.scoping import platform_scope, tenant_scope
from core.testing import TEST_PASSWORD, sign_in
from core.types import utcnow

GENERIC = "The e-mail address or the password is not right."
LOCKED = "This account is locked for a few minutes"
WRONG_CODE = "This code is not right."


# -- helpers -----------------------------------------------------------------------------------


def csrf(page) -> str:
    html = page.get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def text(response) -> str:
    return response.get_data(as_text=True)


def fresh(user: User) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


def events(tenant) -> list[AuditEvent]:
    with tenant_scope(inspect(tenant).identity[0]):  # the tenant may be detached by now
        db.session.expire_all()
        return list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))


def actions(tenant) -> list[str]:
    return [event.action for event in events(tenant)]


def post_login(client, slug, email, password=TEST_PASSWORD, *, next_path=None, base=""):
    query = f"?next={urllib.parse.quote(next_path, safe='')}" if next_path else ""
    url = f"/t/{slug}/staff/login{query}" if slug else f"/staff/login{query}"
    base = base or "http://localhost"
    page = client.get(url, base_url=base)
    return client.post(
        url,
        data={"csrf_token": csrf(page), "email": email, "password": password},
        base_url=base,
        headers={"Referer": base + url},
    )


def post_code(client, slug, code, *, next_path=None):
    query = f"?next={urllib.parse.quote(next_path, safe='')}" if next_path else ""
    url = f"/t/{slug}/staff/second-factor{query}"
    page = client.get(url)
    assert page.status_code == 200, page.headers.get("Location")
    return client.post(url, data={"csrf_token": csrf(page), "code": code})


def enrol_directly(user: User, tenant) -> tuple[pyotp.TOTP, list[str]]:
    """An account with a confirmed TOTP (the current step used) and its recovery codes."""
    with tenant_scope(tenant):
        secret = security.begin_enrolment(user)
        totp = pyotp.TOTP(secret)
        codes = security.confirm_enrolment(user, totp.now(), tenant)
        db.session.commit()
    assert codes is not None
    return totp, codes


def next_code(totp: pyotp.TOTP) -> str:
    """The code of the next time step: fresh after one of the current step was used, and
    still inside the accepted window (one step either side)."""
    return totp.at(time.time() + security.TOTP_STEP_SECONDS)


def staff_state(client) -> dict | None:
    with client.session_transaction() as session:
        return session.get(SESSION_KEY)


def english_speaking(tenant):
    """These tests read the pages' and e-mails' English words: the tenant's default language."""
    with platform_scope():
        tenant.default_locale = "en"
        db.session.commit()
    return tenant


@pytest.fixture(autouse=True)
def _english_reader(request):
    """The platform's own pages speak its default language (French): read them in English."""
    if "client" in request.fixturenames:
        request.getfixturevalue("client").environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def alpha(make_tenant):
    return english_speaking(make_tenant("alpha"))


@pytest.fixture
def beta(make_tenant):
    return english_speaking(make_tenant("beta"))


@pytest.fixture
def listener(alpha, make_staff):
    return make_staff(alpha, "listener@alpha.test", Role.LISTENER)


# -- enrolment -----------------------------------------------------------------------------------


def test_first_sign_in_enrols_an_app_from_an_svg_qr_code_and_gives_ten_recovery_codes(
    client, alpha, listener
):
    response = post_login(client, "alpha", "Listener@Alpha.test ")
    assert response.status_code == 303
    assert response.headers["Location"] == "/t/alpha/staff/enrol"
    # the password step alone reaches no staff page
    assert (
        client.get("/t/alpha/staff/account")
        .headers["Location"]
        .startswith("/t/alpha/staff/second-factor")
    )

    page = client.get("/t/alpha/staff/enrol")
    html = text(page)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    secret = re.search(r'class="secret-key"[^>]*><code>([A-Z2-7 ]+)</code>', html).group(1)
    secret = secret.replace(" ", "")
    assert len(secret) == 32  # 160 bits
    # the QR code: an inline SVG image (data: address), drawn on the server, of the
    # otpauth:// address of this secret; no script, no request elsewhere
    qr = re.search(r'<img class="qr-code" src="([^"]+)"', html).group(1)
    assert qr.startswith("data:image/svg+xml")
    svg = urllib.parse.unquote(qr.split(",", 1)[1])
    root = ET.fromstring(svg)  # noqa: S314 (our own server drew it)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    uri = pyotp.TOTP(secret).provisioning_uri(name="listener@alpha.test", issuer_name="Cellule")
    assert qr == segno.make(uri, error="m").svg_data_uri(
        scale=5, border=4, dark="#000", light="#fff"
    )
    assert "<script" not in svg and "href" not in svg
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing loaded from elsewhere
    # reloading the page shows the same secret (the app may already have scanned it)
    assert secret in text(client.get("/t/alpha/staff/enrol")).replace(" ", "")
    # the secret is stored sealed under the master key, never in clear
    stored = bytes(fresh(listener).totp_secret)
    assert secret.encode() not in stored
    assert unseal(stored, f"staff.totp:{listener.public_id}") == secret.encode()

    wrong = client.post("/t/alpha/staff/enrol", data={"csrf_token": csrf(page), "code": "000000"})
    assert wrong.status_code == 422
    assert "This code is not right" in text(wrong)
    assert fresh(listener).totp_confirmed_at is None
    assert fresh(listener).failed_logins == 0  # typing one's own new app's code is no attack

    done = client.post(
        "/t/alpha/staff/enrol",
        data={"csrf_token": csrf(page), "code": pyotp.TOTP(secret).now()},
    )
    assert done.status_code == 200
    assert done.headers["Cache-Control"] == "no-store"
    codes = re.findall(
        r"<li><code>([A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4})</code>", text(done)
    )
    assert len(set(codes)) == 10
    stored_hashes = set(
        db.session.scalars(
            select(RecoveryCode.code_hash).where(RecoveryCode.user_id == listener.id)
        )
    )
    assert stored_hashes == {hashlib.sha256(c.replace("-", "").encode()).hexdigest() for c in codes}
    assert fresh(listener).totp_confirmed_at is not None
    assert client.get("/t/alpha/staff/account").status_code == 200
    assert actions(alpha)[-3:] == [
        "staff.totp_enrolled",
        "staff.recovery_codes_generated",
        "staff.sign_in",
    ]


def test_an_enrolled_account_cannot_enrol_again_with_its_password_alone(client, alpha, listener):
    _totp, _codes = enrol_directly(listener, alpha)
    sealed = bytes(fresh(listener).totp_secret)
    assert post_login(client, "alpha", listener.email).headers["Location"] == (
        "/t/alpha/staff/second-factor"
    )
    response = client.get("/t/alpha/staff/enrol")
    assert response.status_code == 303
    assert response.headers["Location"] == "/t/alpha/staff/second-factor"
    assert bytes(fresh(listener).totp_secret) == sealed


# -- the second factor -------------------------------------------------------------------------


def test_a_totp_code_signs_in_once_and_a_replayed_code_is_refused(client, app, alpha, listener):
    totp, _codes = enrol_directly(listener, alpha)
    response = post_login(client, "alpha", listener.email)
    assert response.headers["Location"] == "/t/alpha/staff/second-factor"
    code = next_code(totp)
    signed_in = post_code(client, "alpha", code)
    assert signed_in.status_code == 303
    assert staff_state(client)["second_factor"] is True
    assert client.get("/t/alpha/staff/account").status_code == 200

    other = app.test_client()
    post_login(other, "alpha", listener.email)
    replayed = post_code(other, "alpha", code)
    assert replayed.status_code == 422
    assert WRONG_CODE in text(replayed)
    assert staff_state(other)["second_factor"] is False
    assert other.get("/t/alpha/staff/account").status_code == 302
    assert fresh(listener).failed_logins == 1
    # an older step than the last accepted one is refused too
    assert post_code(other, "alpha", totp.now()).status_code == 422


def test_a_recovery_code_stands_in_for_the_app_once(client, app, alpha, listener):
    _totp, codes = enrol_directly(listener, alpha)
    post_login(client, "alpha", listener.email)
    # typed loosely: lower case, spaces instead of dashes
    response = post_code(client, "alpha", codes[3].lower().replace("-", " "))
    assert response.status_code == 303
    assert client.get("/t/alpha/staff/account").status_code == 200
    assert "9 unused recovery codes" in text(client.get("/t/alpha/staff/account"))
    assert "staff.recovery_code_used" in actions(alpha)

    other = app.test_client()
    post_login(other, "alpha", listener.email)
    again = post_code(other, "alpha", codes[3])
    assert again.status_code == 422
    assert staff_state(other)["second_factor"] is False


def test_the_second_factor_page_needs_the_password_step_of_this_tenant(
    client, alpha, beta, listener, make_staff
):
    enrol_directly(listener, alpha)
    for path in ("/t/alpha/staff/second-factor", "/t/alpha/staff/enrol"):
        response = client.get(path)
        assert response.status_code == 303
        assert response.headers["Location"].startswith("/t/alpha/staff/login")
    make_staff(beta, "listener@alpha.test-in-beta.test", Role.LISTENER)
    post_login(client, "alpha", listener.email)
    # the password step at alpha opens nothing at beta
    assert (
        client.get("/t/beta/staff/second-factor")
        .headers["Location"]
        .startswith("/t/beta/staff/login")
    )


# -- one answer, equal cost -----------------------------------------------------------------------


def test_unknown_address_wrong_password_and_another_tenants_account_get_one_answer(
    client, alpha, beta, listener, make_staff, monkeypatch
):
    outsider = make_staff(beta, "someone@beta.test", Role.LISTENER)
    disabled = make_staff(alpha, "gone@alpha.test", Role.LISTENER)
    with platform_scope():
        fresh(disabled).disabled_at = utcnow()
        db.session.commit()
    verified = []

    class CountingHasher:
        def __getattr__(self, name):
            return getattr(password_hasher, name)

        def verify(self, *args):
            verified.append(1)
            return password_hasher.verify(*args)

    monkeypatch.setattr(operations, "password_hasher", CountingHasher())
    monkeypatch.setattr(security, "password_hasher", CountingHasher())
    attempts = [
        ("nobody@alpha.test", TEST_PASSWORD),
        ("not an address", TEST_PASSWORD),
        (listener.email, "a wrong password, long enough"),
        (outsider.email, TEST_PASSWORD),  # right password, but no standing at alpha
        (disabled.email, TEST_PASSWORD),
    ]
    bodies = set()
    for email, password in attempts:
        verified.clear()
        response = post_login(client, "alpha", email, password)
        assert response.status_code == 422, email
        assert GENERIC in text(response)
        assert len(verified) == 1, email  # one password hash checked, whoever it is
        bodies.add(re.sub(r'value="[^"]*"', "", text(response)))
        assert staff_state(client) is None
    assert len(bodies) == 1  # nothing else differs either (the typed address is not echoed)
    # only the account of alpha counted a failure; the outsider's is untouched, and
    # nothing about her went into alpha's trail
    assert fresh(listener).failed_logins == 1
    assert fresh(outsider).failed_logins == 0
    assert [e.target_id for e in events(alpha) if e.action == "staff.sign_in_failed"] == [
        listener.public_id
    ]


def test_an_account_of_tenant_a_cannot_sign_in_at_tenant_b(client, alpha, beta, listener):
    response = post_login(client, "beta", listener.email)
    assert response.status_code == 422
    assert GENERIC in text(response)
    # nor does a session of alpha count at beta
    sign_in(client, listener, alpha)
    assert client.get("/t/alpha/staff/account").status_code == 200
    assert client.get("/t/beta/staff/account").headers["Location"].startswith("/t/beta/staff/login")


# -- lock-out ------------------------------------------------------------------------------------


def test_five_wrong_passwords_lock_the_account_for_fifteen_minutes(client, alpha, listener):
    for attempt in range(1, 5):
        response = post_login(client, "alpha", listener.email, f"wrong password {attempt:04}")
        assert response.status_code == 422
        assert fresh(listener).failed_logins == attempt
    fifth = post_login(client, "alpha", listener.email, "wrong password 0005")
    assert fifth.status_code == 429
    assert LOCKED in text(fifth)
    locked_until = fresh(listener).locked_until
    assert timedelta(minutes=14) < locked_until - utcnow() <= timedelta(minutes=15)

    # while locked, the right password and a wrong one get the same answer, and no session
    right = post_login(client, "alpha", listener.email)
    wrong = post_login(client, "alpha", listener.email, "wrong password 0006")
    assert right.status_code == wrong.status_code == 429
    assert re.sub(r'value="[^"]*"', "", text(right)) == re.sub(r'value="[^"]*"', "", text(wrong))
    assert staff_state(client) is None
    assert fresh(listener).locked_until == locked_until  # attempts while locked do not extend it

    trail = events(alpha)
    assert [e.action for e in trail].count("staff.locked") == 1
    assert [e.action for e in trail].count("staff.sign_in_failed") == 7
    for event in trail:
        flat = str(event.details)
        assert listener.email not in flat and "wrong password" not in flat

    # fifteen minutes later the right password works, and a full sign-in clears the count
    with platform_scope():
        fresh(listener).locked_until = utcnow() - timedelta(seconds=1)
        db.session.commit()
    totp, _codes = enrol_directly(listener, alpha)
    assert post_login(client, "alpha", listener.email).status_code == 303
    assert post_code(client, "alpha", next_code(totp)).status_code == 303
    assert (fresh(listener).failed_logins, fresh(listener).locked_until) == (0, None)


def test_wrong_codes_count_toward_the_lock_out(client, alpha, listener):
    _totp, _codes = enrol_directly(listener, alpha)
    post_login(client, "alpha", listener.email)
    for _ in range(4):
        assert post_code(client, "alpha", "123456").status_code == 422
    fifth = post_code(client, "alpha", "654321")
    assert fifth.status_code == 303
    assert fifth.headers["Location"].startswith("/t/alpha/staff/login")
    assert LOCKED in text(client.get(fifth.headers["Location"]))
    assert staff_state(client) is None
    assert security.is_locked(fresh(listener))
    # the right password does not get past the lock
    assert post_login(client, "alpha", listener.email).status_code == 429


# -- where to go after signing in -------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "//evil.example/staff",
        "https://evil.example/",
        "http:/evil.example",
        "/\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "evil.example",
    ],
)
def test_next_never_leads_to_another_site(value):
    assert safe_next(value) is None


def test_next_is_followed_within_the_tenant_and_dropped_when_it_points_elsewhere(
    client, alpha, listener
):
    assert safe_next("/staff/account?") == "/staff/account"
    _totp, codes = enrol_directly(listener, alpha)
    response = post_login(client, "alpha", listener.email, next_path="//evil.example/x")
    assert response.headers["Location"] == "/t/alpha/staff/second-factor"
    signed_in = post_code(client, "alpha", codes[0], next_path="https://evil.example/")
    assert signed_in.status_code == 303
    assert signed_in.headers["Location"].startswith("/t/alpha/")
    assert "evil" not in signed_in.headers["Location"]

    client.post(
        "/t/alpha/staff/logout", data={"csrf_token": csrf(client.get("/t/alpha/staff/login"))}
    )
    # a page asked for before signing in is where one lands, under the tenant's prefix
    asked = client.get("/t/alpha/staff/account")
    assert asked.headers["Location"].startswith("/t/alpha/staff/login?next=")
    next_path = urllib.parse.parse_qs(urllib.parse.urlsplit(asked.headers["Location"]).query)[
        "next"
    ][0]
    step = post_login(client, "alpha", listener.email, next_path=next_path)
    assert step.headers["Location"] == "/t/alpha/staff/second-factor?next=/staff/account"
    done = post_code(client, "alpha", codes[1], next_path=next_path)
    assert done.headers["Location"] == "/t/alpha/staff/account"


# -- the session ---------------------------------------------------------------------------------


def test_an_idle_session_ends_and_activity_keeps_it_alive(client, app, alpha, listener):
    sign_in(client, listener, alpha)
    limit = app.config["CELLULE_STAFF_IDLE_MINUTES"] * 60
    assert limit == 20 * 60

    def last_seen(seconds_ago):
        with client.session_transaction() as session:
            session[SESSION_KEY] = {**session[SESSION_KEY], "seen": int(time.time()) - seconds_ago}

    last_seen(limit - 60)
    assert client.get("/t/alpha/staff/account").status_code == 200
    assert time.time() - staff_state(client)["seen"] < 5  # the request counted as activity
    last_seen(limit - 60)  # again nearly idle, but a request came in time
    assert client.get("/t/alpha/staff/account").status_code == 200

    last_seen(limit + 60)
    response = client.get("/t/alpha/staff/account")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/t/alpha/staff/login")
    assert staff_state(client) is None
    assert client.get("/t/alpha/staff/account").status_code == 302

    app.config["CELLULE_STAFF_IDLE_MINUTES"] = 5
    sign_in(client, listener, alpha)
    last_seen(6 * 60)
    assert client.get("/t/alpha/staff/account").status_code == 302


def test_a_disabled_account_is_thrown_out(client, alpha, listener):
    sign_in(client, listener, alpha)
    assert client.get("/t/alpha/staff/account").status_code == 200
    with platform_scope():
        fresh(listener).disabled_at = utcnow()
        db.session.commit()
    response = client.get("/t/alpha/staff/account")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/t/alpha/staff/login")
    assert staff_state(client) is None
    assert post_login(client, "alpha", listener.email).status_code == 422


def test_signing_out_needs_the_csrf_token_and_ends_the_session(client, alpha, listener):
    sign_in(client, listener, alpha)
    assert client.post("/t/alpha/staff/logout").status_code == 400
    assert client.get("/t/alpha/staff/account").status_code == 200
    page = client.get("/t/alpha/staff/account")
    response = client.post("/t/alpha/staff/logout", data={"csrf_token": csrf(page)})
    assert response.status_code == 303
    assert response.headers["Location"] == "/t/alpha/staff/login"
    assert staff_state(client) is None
    assert client.get("/t/alpha/staff/account").status_code == 302
    assert actions(alpha)[-1] == "staff.sign_out"


# -- the person's own account -----------------------------------------------------------------


def test_changing_the_password_asks_for_the_current_one(client, alpha, listener):
    sign_in(client, listener, alpha)
    page = client.get("/t/alpha/staff/account")
    new = "a brand new passphrase"
    wrong = client.post(
        "/t/alpha/staff/account/password",
        data={
            "csrf_token": csrf(page),
            "current": "not it at all",
            "password": new,
            "confirm": new,
        },
    )
    assert wrong.status_code == 422
    assert "This is not your current password." in text(wrong)
    assert fresh(listener).failed_logins == 1
    short = client.post(
        "/t/alpha/staff/account/password",
        data={
            "csrf_token": csrf(page),
            "current": TEST_PASSWORD,
            "password": "short",
            "confirm": "short",
        },
    )
    assert short.status_code == 422
    assert "at least 12 characters" in text(short)
    elsewhere = client.application.test_client()
    sign_in(elsewhere, listener, alpha)  # the same person, signed in on another computer
    assert elsewhere.get("/t/alpha/staff/account").status_code == 200
    done = client.post(
        "/t/alpha/staff/account/password",
        data={"csrf_token": csrf(page), "current": TEST_PASSWORD, "password": new, "confirm": new},
    )
    assert done.status_code == 303
    user = fresh(listener)
    assert check_password(user, new) and not check_password(user, TEST_PASSWORD)
    # this session goes on; the one opened with the old password is over
    assert client.get("/t/alpha/staff/account").status_code == 200
    assert elsewhere.get("/t/alpha/staff/account").status_code == 302
    assert user.password_changed_at is not None and user.failed_logins == 0
    assert "staff.password_changed" in actions(alpha)


def test_new_recovery_codes_need_a_code_from_the_app_and_replace_the_old_ones(
    client, alpha, listener
):
    totp, old_codes = enrol_directly(listener, alpha)
    sign_in(client, listener, alpha)
    page = client.get("/t/alpha/staff/account")
    assert "10 unused recovery codes" in text(page)
    refused = client.post(
        "/t/alpha/staff/account/recovery-codes", data={"csrf_token": csrf(page), "code": "000000"}
    )
    assert refused.status_code == 422
    assert fresh(listener).failed_logins == 1
    made = client.post(
        "/t/alpha/staff/account/recovery-codes",
        data={"csrf_token": csrf(page), "code": next_code(totp)},
    )
    assert made.status_code == 200
    new_codes = re.findall(r"<li><code>([A-Z2-7-]{19})</code>", text(made))
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    with tenant_scope(alpha):
        assert not security.use_recovery_code(fresh(listener), old_codes[0], alpha)
        assert security.use_recovery_code(fresh(listener), new_codes[0], alpha)
        db.session.commit()
    assert security.recovery_codes_left(fresh(listener)) == 9


# -- the platform's root ---------------------------------------------------------------------------


def test_only_platform_operators_sign_in_at_the_platform_root(client, alpha, listener, caplog):
    from core.identity.operations import create_user
    from core.testing import test_password_hash

    with platform_scope():
        operator = create_user("ops@platform.test", "Ops", None, password_hash=test_password_hash())
        operator.is_platform_operator = True
        db.session.commit()
    refused = post_login(client, None, listener.email)
    assert refused.status_code == 422 and GENERIC in text(refused)
    with caplog.at_level(logging.INFO, logger="core.identity.security"):
        response = post_login(client, None, "ops@platform.test")
        assert response.headers["Location"] == "/staff/enrol"
        page = client.get("/staff/enrol")
        secret = re.search(r"<code>([A-Z2-7 ]+)</code>", text(page)).group(1).replace(" ", "")
        done = client.post(
            "/staff/enrol", data={"csrf_token": csrf(page), "code": pyotp.TOTP(secret).now()}
        )
    assert done.status_code == 200
    assert client.get("/staff/account").status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "core.identity.security"]
    assert f"staff.sign_in user={operator.public_id}" in lines
    assert not any("ops@platform.test" in line for line in lines)
    # the operator's session does not open a tenant's back office
    assert client.get("/t/alpha/staff/account").status_code == 302
    assert client.get("/staff/password/forgot").status_code == 404


# -- password reset by e-mail ---------------------------------------------------------------------


class TestPasswordResetByEmail:
    BASE = "https://alpha.cellule.test"

    @pytest.fixture
    def config(self, config, smtp):
        return {**config, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp.port, "MAIL_USE_TLS": False}

    def forgot(self, client, email, lang="en"):
        url = f"/staff/password/forgot?lang={lang}"
        page = client.get(url, base_url=self.BASE)
        return client.post(
            url,
            data={"csrf_token": csrf(page), "email": email},
            base_url=self.BASE,
            # over HTTPS Flask-WTF wants the page's own address as the Referer
            headers={"Referer": self.BASE + url},
        )

    def link(self, message) -> str:
        return re.search(r"(https://\S+/staff/password/reset/\S+)", message.get_content()).group(1)

    def reset(self, client, link, password, confirm=None):
        page = client.get(link)
        if page.status_code != 200:
            return page
        return client.post(
            link,
            data={"csrf_token": csrf(page), "password": password, "confirm": confirm or password},
            headers={"Referer": link},
        )

    def test_a_link_by_e_mail_sets_a_new_password_once(self, client, alpha, listener, smtp):
        _totp, _codes = enrol_directly(listener, alpha)
        with platform_scope():
            user = fresh(listener)
            user.failed_logins, user.locked_until = 5, utcnow() + timedelta(minutes=10)
            db.session.commit()

        unknown = self.forgot(client, "nobody@alpha.test")
        known = self.forgot(client, "listener@alpha.test")
        assert unknown.status_code == known.status_code == 200
        assert text(unknown) == text(known)  # the same answer either way
        assert "If this address belongs to an account" in text(known)
        assert smtp.recipients == ["listener@alpha.test"]

        message = smtp.messages[0]
        assert message["Subject"] == "Choose a new password"
        body = message.get_content()
        assert "Alpha" in body and "one hour" in body
        link = self.link(message)
        # the tenant's own address, as in every e-mail of the tenant
        assert link.startswith("https://alpha.cellule.test/staff/password/reset/")

        page = client.get(link)
        assert page.status_code == 200
        assert page.headers["Cache-Control"] == "no-store"
        assert self.reset(client, link, "short").status_code == 422
        mismatch = self.reset(client, link, "a long new password", "another long password")
        assert mismatch.status_code == 422 and "not the same" in text(mismatch)
        done = self.reset(client, link, "a long new password")
        assert done.status_code == 303
        # the second factor is still asked for
        assert done.headers["Location"] == "/staff/second-factor"
        assert (
            client.get("/staff/account", base_url=self.BASE)
            .headers["Location"]
            .startswith("/staff/second-factor")
        )
        user = fresh(listener)
        assert check_password(user, "a long new password")
        assert (user.failed_logins, user.locked_until) == (0, None)  # the lock is lifted
        assert {"staff.password_reset_requested", "staff.password_reset"} <= set(actions(alpha))

        # the link works once
        again = self.reset(client, link, "yet another long password")
        assert again.status_code == 410
        assert "This link no longer works" in text(again)
        assert check_password(fresh(listener), "a long new password")

        other = client.application.test_client()
        signed = post_login(other, None, listener.email, "a long new password", base=self.BASE)
        assert signed.status_code == 303
        signed = post_login(other, None, listener.email, TEST_PASSWORD, base=self.BASE)
        assert signed.status_code == 422  # the old password is gone

    def test_a_link_dies_after_an_hour_or_a_password_change_and_at_another_tenant(
        self, client, alpha, beta, listener, smtp, monkeypatch
    ):
        self.forgot(client, listener.email)
        link = self.link(smtp.messages[-1])
        token = link.rsplit("/", 1)[1]
        # not valid on another tenant's pages
        assert client.get(f"/t/beta/staff/password/reset/{token}").status_code == 410
        # a tampered token is refused
        assert (
            client.get(link[:-2] + ("AA" if not link.endswith("AA") else "BB")).status_code == 410
        )
        # an hour later it no longer opens
        with tenant_scope(alpha):
            assert security.user_for_reset_token(token, alpha) is not None
            real_time = time.time
            with monkeypatch.context() as later:
                later.setattr(time, "time", lambda: real_time() + security.RESET_LINK_SECONDS + 5)
                assert security.user_for_reset_token(token, alpha) is None
            # nor once the password changed another way
            security.set_new_password(
                fresh(listener),
                "changed on the account page",
                alpha,
                action="staff.password_changed",
            )
            db.session.commit()
        assert client.get(link).status_code == 410

    def test_at_most_three_e_mails_an_hour_for_one_account(self, client, alpha, listener, smtp):
        for _ in range(5):
            assert self.forgot(client, listener.email, lang="fr").status_code == 200
        assert len(smtp.messages) == 3
        assert all(message["Content-Language"] == "fr" for message in smtp.messages)
        assert actions(alpha).count("staff.password_reset_limited") == 2


# -- the operator's command line -----------------------------------------------------------------


def test_reset_2fa_removes_the_second_factor_and_is_audited(runner, client, alpha, listener):
    enrol_directly(listener, alpha)
    result = runner.invoke(args=["users", "reset-2fa", "LISTENER@alpha.test"])
    assert result.exit_code == 0, result.output
    db.session.remove()
    user = fresh(listener)
    assert (user.totp_secret, user.totp_confirmed_at, user.totp_last_step) == (None, None, None)
    assert (
        db.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)).all() == []
    )
    event = events(alpha)[-1]
    assert (event.action, event.actor_kind, event.target_id) == (
        "staff.second_factor_reset",
        "platform",
        user.public_id,
    )
    # the next sign-in enrols afresh
    assert post_login(client, "alpha", listener.email).headers["Location"] == "/t/alpha/staff/enrol"
    missing = runner.invoke(args=["user", "reset-2fa", "nobody@alpha.test"])
    assert missing.exit_code != 0 and "no user" in missing.output


def test_user_create_makes_an_operator_or_tenant_staff_who_enrol_at_first_sign_in(
    runner, client, alpha
):
    result = runner.invoke(
        args=[
            "user",
            "create",
            "new@alpha.test",
            "--name",
            "New",
            "--tenant",
            "alpha",
            "--role",
            "listener",
            "--password",
            "a good long password",
        ]
    )
    assert result.exit_code == 0, result.output
    ops = runner.invoke(
        args=["user", "create", "ops@x.test", "--name", "Ops", "--operator", "--password", "x" * 12]
    )
    assert ops.exit_code == 0 and "platform operator" in ops.output
    db.session.remove()
    assert db.session.scalar(select(User.is_platform_operator).where(User.email == "ops@x.test"))
    response = post_login(client, "alpha", "new@alpha.test", "a good long password")
    assert response.headers["Location"] == "/t/alpha/staff/enrol"


def test_set_password_gives_a_new_password_lifts_the_lock_and_is_audited(
    runner, client, alpha, listener
):
    with platform_scope():
        fresh(listener).locked_until = utcnow() + timedelta(minutes=10)
        db.session.commit()
    result = runner.invoke(
        args=["user", "set-password", listener.email, "--password", "given by the operator"]
    )
    assert result.exit_code == 0, result.output
    db.session.remove()
    user = fresh(listener)
    assert check_password(user, "given by the operator") and user.locked_until is None
    event = events(alpha)[-1]
    assert (event.action, event.actor_kind, event.target_id) == (
        "staff.password_set",
        "platform",
        user.public_id,
    )
    # the second factor is still to come
    response = post_login(client, "alpha", listener.email, "given by the operator")
    assert response.headers["Location"] == "/t/alpha/staff/enrol"
    short = runner.invoke(args=["user", "set-password", listener.email, "--password", "short"])
    assert short.exit_code != 0 and "12 characters" in short.output


def test_demo_accounts_sign_in_and_enrol_at_their_first_sign_in(runner, client):
    result = runner.invoke(args=["demo", "--password", "demo password for all"])
    assert result.exit_code == 0, result.output
    assert "/t/neoma/staff/login" in result.output
    assert "sets up its second factor" in result.output
    db.session.remove()
    response = post_login(client, "neoma", "listener@neoma.example", "demo password for all")
    assert response.status_code == 303
    assert response.headers["Location"] == "/t/neoma/staff/enrol"


# -- values sealed under the master key ------------------------------------------------------------


def test_sealed_values_open_for_their_purpose_only_and_survive_a_rotation():
    old = MasterKeys(current=b"o" * 32)
    blob = seal(b"JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "staff.totp:a", master_keys=old)
    assert unseal(blob, "staff.totp:a", master_keys=old) == b"JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    with pytest.raises(KeyProblem):
        unseal(blob, "staff.totp:b", master_keys=old)
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(KeyProblem):
        unseal(tampered, "staff.totp:a", master_keys=old)
    rotated = MasterKeys(current=b"n" * 32, previous=(b"o" * 32,))
    assert unseal(blob, "staff.totp:a", master_keys=rotated).startswith(b"JBSW")
    moved = reseal(blob, "staff.totp:a", master_keys=rotated)
    assert sealed_with(moved) == rotated.current_id != sealed_with(blob)
    assert reseal(moved, "staff.totp:a", master_keys=rotated) is None
    with pytest.raises(KeyProblem):
        unseal(blob, "staff.totp:a", master_keys=MasterKeys(current=b"n" * 32))
    assert base64.b64encode(blob)  # bytes, storable as such


def test_keys_rewrap_seals_second_factor_secrets_under_the_new_key(
    app, alpha, listener, config, tmp_path
):
    from core import create_app
    from core.crypto.keys import generate_master_key

    totp, _ = enrol_directly(listener, alpha)
    new_key = generate_master_key()
    rotating = create_app(
        {
            **config,
            "CELLULE_MASTER_KEY": new_key,
            "CELLULE_PREVIOUS_MASTER_KEYS": [config["CELLULE_MASTER_KEY"]],
        },
        instance_path=str(tmp_path / "rotating"),
    )
    with rotating.app_context():
        result = rotating.test_cli_runner().invoke(args=["keys", "rewrap"])
        assert result.exit_code == 0, result.output
        assert "sealed 1 staff second-factor secrets" in result.output
        db.session.remove()
        db.engine.dispose()
    after_rotation = create_app(
        {**config, "CELLULE_MASTER_KEY": new_key, "CELLULE_PREVIOUS_MASTER_KEYS": []},
        instance_path=str(tmp_path / "after"),
    )
    with after_rotation.app_context():
        user = db.session.get(User, listener.id)
        assert security.totp_secret_of(user) == totp.secret
        db.session.remove()
        db.engine.dispose()
