"""The reporter's portal through the web layer (the browser tests drive it in Chromium)."""

import io
import re

import pytest
from sqlalchemy import func, select

from core.cases.models import Case, Message
from core.cases.operations import take_transition
from core.extensions import db
from core.plugins import TenantInfo
from core.procedure.definition import Institution
from core.reports.models import Evidence, Report
from core.reports.operations import post_message
from core.tenancy.scoping import tenant_scope


@pytest.fixture
def poly(make_tenant):
    return make_tenant("poly", enable=("polytechnique",))


@pytest.fixture
def neoma(make_tenant):
    return make_tenant("neoma", enable=("neoma",))


def token(page: bytes) -> str:
    return re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1).decode()


def once(page: bytes) -> str:
    return re.search(rb'name="once" type="hidden" value="([^"]+)"', page).group(1).decode()


def anonymous_report(client, slug="poly", environ_base=None, **overrides):
    form_page = client.get(f"/t/{slug}/report?lang=en")
    data = {
        "csrf_token": token(form_page.data),
        "once": once(form_page.data),
        "relation": "witness",
        "anonymous": "yes",
        "narrative": "He followed her home twice.",
        "when": "last week",
        **overrides,
    }
    return client.post(f"/t/{slug}/report?lang=en", data=data, content_type="multipart/form-data")


def receipt_in(page: bytes) -> str:
    return (
        re.search(rb'class="receipt-code"[^>]*><strong>([0-9 ]+)</strong>', page).group(1).decode()
    )


def count(tenant, model):
    with tenant_scope(tenant):
        return db.session.scalar(select(func.count()).select_from(model))


def test_the_portal_home_sets_no_cookie_and_shows_what_happens_next(client, poly):
    page = client.get("/t/poly/?lang=en")
    assert page.status_code == 200
    assert "Set-Cookie" not in page.headers
    text = page.get_data(as_text=True)
    # the steps come from the procedure's data, with their deadlines
    assert "Your report has been received" in text
    assert "within 72 hours" in text
    assert text.index(">17<") < text.index(">15<") < text.index(">114<")
    assert 'id="quick-exit"' in text
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    french = client.get("/t/poly/?lang=fr").get_data(as_text=True)
    assert "sous 72 heures" in french and "Sortie rapide" in french


def test_help_and_law_pages_in_both_languages(client, neoma):
    help_page = client.get("/t/neoma/help?lang=en").get_data(as_text=True)
    assert "3919" in help_page and "24 hours a day, every day" in help_page
    assert "This is not an emergency number." in help_page
    assert "Set-Cookie" not in client.get("/t/neoma/help").headers
    french = client.get("/t/neoma/help?lang=fr").get_data(as_text=True)
    assert "24 h/24, 7 j/7" in french and "Ce n’est pas un numéro d’urgence." in french
    law = client.get("/t/neoma/law?lang=fr").get_data(as_text=True)
    assert "222-33" in law


def test_an_anonymous_report_gives_a_receipt_once_and_opens_the_space(client, poly):
    sent = anonymous_report(client)
    assert sent.status_code == 200, sent.data
    assert sent.headers["Cache-Control"] == "no-store"
    receipt = receipt_in(sent.data)
    assert len(receipt.replace(" ", "")) == 20
    assert count(poly, Case) == 1
    with tenant_scope(poly):
        report = db.session.scalar(select(Report))
        assert receipt.replace(" ", "") not in (report.receipt_hash or "")
        assert report.form_data["core_when"] == "last week"
    space = client.get("/t/poly/space?lang=en")
    assert space.status_code == 200
    assert "Your report has been received" in space.get_data(as_text=True)
    assert receipt.replace(" ", "") not in space.get_data(as_text=True)


def test_errors_come_back_in_the_readers_language_with_what_was_typed(client, poly):
    page = client.get("/t/poly/report?lang=fr")
    sent = client.post(
        "/t/poly/report?lang=fr",
        data={
            "csrf_token": token(page.data),
            "anonymous": "yes",
            "narrative": "Ce que j'ai écrit avec peine.",
        },
    )
    assert sent.status_code == 422
    text = sent.get_data(as_text=True)
    assert "Ce que j&#39;ai écrit avec peine." in text  # nothing typed is lost
    assert "Veuillez indiquer comment vous avez connaissance des faits." in text
    assert count(poly, Report) == 0


def test_a_form_without_its_csrf_token_is_refused_and_stores_nothing(client, poly):
    client.get("/t/poly/report")
    sent = client.post(
        "/t/poly/report", data={"relation": "victim", "anonymous": "yes", "narrative": "x"}
    )
    assert sent.status_code in (400, 422)
    assert count(poly, Report) == 0


def test_what_the_procedure_tells_the_reporter_is_in_their_space_in_their_language(
    app, client, poly, make_member, plugins
):
    receipt = receipt_in(anonymous_report(client).data)
    unit = make_member(poly, "dhamis_unit")
    with tenant_scope(poly):
        case = db.session.scalar(select(Case))
        take_transition(
            case,
            "reply_to_reporter",
            actor=unit,
            institution=Institution.of(plugins, TenantInfo.of(poly)),
        )
        db.session.commit()
    other = app.test_client()
    login = other.get("/t/poly/space/login")
    other.post("/t/poly/space/login", data={"csrf_token": token(login.data), "receipt": receipt})
    english = other.get("/t/poly/space?lang=en").get_data(as_text=True)
    assert "News from the unit" in english
    assert "A first reply from the DHAMIS Unit." in english
    french = other.get("/t/poly/space?lang=fr").get_data(as_text=True)
    assert "A first reply from the DHAMIS Unit." not in french
    assert "DHAMIS" in french.split("<main")[1]


def test_the_unit_replies_and_the_reporter_answers_with_the_receipt(
    app, client, poly, make_member, plugins
):
    receipt = receipt_in(anonymous_report(client).data)
    unit = make_member(poly, "dhamis_unit")
    with tenant_scope(poly):
        case = db.session.scalar(select(Case))
        post_message(
            case,
            "We read your report. Can we talk?",
            actor=unit,
            institution=Institution.of(plugins, TenantInfo.of(poly)),
        )
        db.session.commit()
    other = app.test_client()
    login = other.get("/t/poly/space/login?lang=en")
    opened = other.post(
        "/t/poly/space/login?lang=en", data={"csrf_token": token(login.data), "receipt": receipt}
    )
    assert opened.status_code == 303
    space = other.get("/t/poly/space?lang=en")
    assert "We read your report. Can we talk?" in space.get_data(as_text=True)
    answered = other.post(
        "/t/poly/space/messages?lang=en",
        data={"csrf_token": token(space.data), "body": "Yes, by e-mail."},
    )
    assert answered.status_code == 303
    with tenant_scope(poly):
        authors = [m.author_kind for m in db.session.scalars(select(Message).order_by(Message.id))]
        assert authors == ["staff", "reporter"]
        assert db.session.scalar(select(Message).where(Message.author_kind == "staff")).read_at


def test_a_wrong_receipt_opens_nothing_and_attempts_are_limited(client, poly):
    login = client.get("/t/poly/space/login")
    statuses = [
        client.post(
            "/t/poly/space/login", data={"csrf_token": token(login.data), "receipt": "1234 " * 5}
        ).status_code
        for _ in range(11)
    ]
    assert statuses[:10] == [422] * 10
    assert statuses[10] == 429


def test_named_report_and_consent_from_the_space(client, poly):
    sent = anonymous_report(
        client,
        anonymous="no",
        full_name="Alex Durand",
        contact_email="alex@example.org",
        notify="y",
    )
    assert sent.status_code == 200
    with tenant_scope(poly):
        report = db.session.scalar(select(Report))
        assert report.identity.full_name == "Alex Durand"
        assert report.notify_email == "alex@example.org"
    space = client.get("/t/poly/space?lang=en")
    agreed = client.post(
        "/t/poly/space/consents/support_referral?lang=en",
        data={"csrf_token": token(space.data), "given": "yes"},
    )
    assert agreed.status_code == 303
    assert "Withdraw my agreement" in client.get("/t/poly/space?lang=en").get_data(as_text=True)


def test_quick_exit_leaves_and_forgets_the_session(client, poly):
    anonymous_report(client)
    assert client.get("/t/poly/space").status_code == 200
    left = client.get("/t/poly/exit")
    assert left.status_code == 303 and left.headers["Location"].startswith("https://")
    assert client.get("/t/poly/space").status_code == 303  # back to the receipt login


def test_a_picture_loses_its_metadata_before_it_is_stored(client, poly):
    from PIL import Image

    picture = Image.new("RGB", (40, 30), "red")
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 0.0)}  # GPS
    raw = io.BytesIO()
    picture.save(raw, "JPEG", exif=exif)
    assert b"PhoneMaker" in raw.getvalue()
    sent = anonymous_report(client, files=(io.BytesIO(raw.getvalue()), "IMG_0001.jpg"))
    assert sent.status_code == 200
    with tenant_scope(poly):
        stored = db.session.scalar(select(Evidence))
        assert stored.media_type == "image/jpeg"
        assert b"PhoneMaker" not in stored.data
        assert not Image.open(io.BytesIO(stored.data)).getexif()


def test_an_oversized_upload_is_refused_before_its_body_is_read(app, client, poly):
    page = client.get("/t/poly/report?lang=en")
    app.config["MAX_CONTENT_LENGTH"] = 10_000
    sent = client.post(
        "/t/poly/report?lang=en",
        data={
            "csrf_token": token(page.data),
            "relation": "victim",
            "anonymous": "yes",
            "narrative": "x",
            "files": (io.BytesIO(b"a" * 20_000), "notes.txt"),
        },
    )
    assert sent.status_code == 413
    assert "too large" in sent.get_data(as_text=True)
    assert count(poly, Report) == 0


def test_uploads_are_capped_and_the_session_cookie_is_strict_by_default(app, client, poly):
    # Flask's defaults hold both keys already (None): the portal must still set its own.
    from core.reports.evidence import MAX_FILE_BYTES, MAX_FILES

    assert app.config["MAX_CONTENT_LENGTH"] == MAX_FILES * MAX_FILE_BYTES + 1024 * 1024
    cookie = client.get("/t/poly/report").headers["Set-Cookie"]
    assert "SameSite=Strict" in cookie and "HttpOnly" in cookie


def test_neoma_asks_for_the_name_and_its_campus(client, neoma):
    page = client.get("/t/neoma/report?lang=en").get_data(as_text=True)
    assert 'name="anonymous"' not in page
    assert "Rouen" in page
    # the name is required there, and the form says so
    assert re.search(r'for="full_name">Your name</label> <span class="required">', page)
    assert 'aria-required="true" id="full_name"' in page


def test_no_client_address_is_stored(app, client, poly, owner_engine):
    sent = anonymous_report(client, environ_base={"REMOTE_ADDR": "203.0.113.77"})
    assert sent.status_code == 200
    import sqlalchemy as sa

    with owner_engine.connect() as connection:
        for table in (
            "reports",
            "cases",
            "audit_events",
            "case_events",
            "outbound_mail",
            "evidence",
            "case_consents",
        ):
            for row in connection.execute(sa.text(f"SELECT * FROM {table}")):
                assert "203.0.113.77" not in str(row)


def test_neoma_asks_for_the_name_next_to_the_field(client, neoma):
    page = client.get("/t/neoma/report?lang=fr")
    sent = client.post(
        "/t/neoma/report?lang=fr",
        data={
            "csrf_token": token(page.data),
            "relation": "victim",
            "narrative": "Il m'a suivie.",
            "x_campus": "rouen",
            "x_implicated_person": "Un étudiant",
        },
    )
    assert sent.status_code == 422
    text = sent.get_data(as_text=True)
    assert text.count("Veuillez donner votre nom.") == 2  # at the top and next to the field
    assert count(neoma, Report) == 0


def test_a_form_sent_twice_makes_one_report_whose_last_receipt_opens_it(client, poly):
    page = client.get("/t/poly/report?lang=en")
    data = {
        "csrf_token": token(page.data),
        "once": once(page.data),
        "relation": "victim",
        "anonymous": "yes",
        "narrative": "Sent twice by a trembling hand.",
    }
    cookie = client.get_cookie("session")
    first = receipt_in(client.post("/t/poly/report?lang=en", data=data).data)
    # the second click left with the cookie the page had, before the first answer came back
    client.set_cookie("session", cookie.value, domain=cookie.domain, path=cookie.path)
    second = receipt_in(client.post("/t/poly/report?lang=en", data=data).data)
    assert first != second
    assert count(poly, Report) == 1 and count(poly, Case) == 1
    with tenant_scope(poly):
        from core.reports.operations import report_for_receipt

        assert report_for_receipt(poly.id, second) is not None
        assert report_for_receipt(poly.id, first) is None


def test_an_expired_form_comes_back_with_what_was_typed(client, poly):
    client.get("/t/poly/report?lang=en")
    sent = client.post(
        "/t/poly/report?lang=en",
        data={
            "csrf_token": "stale",
            "relation": "victim",
            "anonymous": "yes",
            "narrative": "An hour of careful writing.",
        },
    )
    assert sent.status_code == 422
    text = sent.get_data(as_text=True)
    assert "An hour of careful writing." in text
    assert "open for a long time" in text
    assert sent.headers["Cache-Control"] == "no-store"
    assert count(poly, Report) == 0
    assert client.application.config["WTF_CSRF_TIME_LIMIT"] is None


def test_answers_to_a_form_offer_no_language_switch_that_would_lose_them(client, poly):
    sent = anonymous_report(client)
    assert 'hreflang="fr"' not in sent.get_data(as_text=True)
    assert 'hreflang="fr"' in client.get("/t/poly/?lang=en").get_data(as_text=True)


def test_behind_a_trusted_proxy_each_reporter_is_counted_apart(app, client, poly):
    from core import create_app

    proxied = create_app(
        {**app.config, "CELLULE_TRUSTED_PROXIES": 1}, instance_path=app.instance_path
    ).test_client()
    login = proxied.get("/t/poly/space/login")

    def attempt(address):
        return proxied.post(
            "/t/poly/space/login",
            data={
                "csrf_token": token(login.data),
                "receipt": "1234" * 5,
            },
            headers={"X-Forwarded-For": address},
        ).status_code

    assert [attempt("198.51.100.1") for _ in range(11)][-1] == 429
    assert attempt("198.51.100.2") == 422  # another reporter is not locked out


def test_https_pages_ask_browsers_to_stay_on_https(client, poly):
    page = client.get("/t/poly/", base_url="https://localhost")
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Strict-Transport-Security" not in client.get("/t/poly/").headers


def test_the_platform_wide_receipt_limit_follows_its_setting(app, poly):
    from core import create_app

    proxied = create_app(
        {**app.config, "CELLULE_TRUSTED_PROXIES": 1, "CELLULE_RECEIPT_ATTEMPTS_PER_MINUTE": 3},
        instance_path=app.instance_path,
    ).test_client()
    login = proxied.get("/t/poly/space/login")

    def attempt(address):
        return proxied.post(
            "/t/poly/space/login",
            data={"csrf_token": token(login.data), "receipt": "1234" * 5},
            headers={"X-Forwarded-For": address},
        ).status_code

    # three reporters, one attempt each, fill the platform's minute; a fourth must wait
    assert [attempt(f"198.51.100.{n}") for n in range(1, 5)] == [422, 422, 422, 429]
