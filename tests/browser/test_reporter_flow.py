"""The reporter's whole path in headless Chromium, on the real app: the report form filled as
a person fills it, the receipt, the unit's reply, the answer from the reporter's space in a
browser that has never seen the report, a named report, a photo that loses its metadata, the
quick exit (with and without JavaScript), every reporter page checked by axe-core and for
requests leaving the server, the whole flow with the keyboard alone, and no cookie before a
report's own session begins.

The unit's side is played in the test, through the database the live server uses: a staff
member seated on the committee the report was routed to posts a message with
`core.reports.operations.post_message`, as the staff pages will.
"""

import io
import re

import pytest
from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import select, text

from core.cases.models import Case, CaseConsent, Message
from core.extensions import db
from core.plugins.host import TenantInfo
from core.portal.views import EXIT_URL
from core.procedure.definition import Institution
from core.reports.models import Evidence, Report, ReporterIdentity
from core.reports.operations import post_message
from core.tenancy.scoping import tenant_scope

pytestmark = pytest.mark.browser

RECEIPT = re.compile(r"^[0-9]{4}( [0-9]{4}){4}$")
REFERENCE = re.compile(r"\b([2-9A-Z]{4}-[2-9A-Z]{4})\b")
NEUTRAL_PAGE = (
    "<!doctype html><html lang='fr'><head><meta charset='utf-8'><title>Météo</title></head>"
    "<body><h1>Prévisions du jour</h1></body></html>"
)


# -- fixtures and helpers ---------------------------------------------------------------------


@pytest.fixture
def tenants(demo_tenants) -> dict:
    return {tenant.slug: tenant for tenant in demo_tenants}


@pytest.fixture
def new_page(browser, live_server, requests_made):
    """`new_page(**context_options)`: a page in another fresh browser context, such as the
    reporter coming back another day from another browser: no cookie, no history."""
    contexts = []

    def open_page(**options):
        context = browser.new_context(base_url=live_server, **options)
        context.set_default_timeout(10_000)
        context.on("request", lambda request: requests_made.append(request.url))
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def checked(assert_accessible, assert_local_only):
    """`checked(page)`: axe-core finds nothing serious or critical on the page as it is, and
    nothing the test's pages loaded came from anywhere but the live server."""

    def check(page) -> None:
        assert_accessible(page)
        assert_local_only(page)

    return check


def type_into(field, words: str) -> None:
    """Click into a field and type, key by key, as a person does."""
    field.click()
    field.press_sequentially(words)


def required_fields(page) -> set[str]:
    """The names of the controls the rendered form marks "(required)"."""
    return set(
        page.locator("form .required").evaluate_all(
            """marks => marks.map(mark => mark.closest(".field")
                .querySelector("input, select, textarea").name)"""
        )
    )


def fill_polytechnique(page) -> set[str]:
    page.get_by_label("I saw it happen", exact=True).check()
    expect(page.get_by_label("No, I report anonymously")).to_be_checked()
    page.get_by_label("Harassment", exact=True).check()
    type_into(page.get_by_label("When did it happen?"), "Last Tuesday, late in the evening")
    type_into(page.get_by_label("Where did it happen?"), "The corridor of building 80")
    type_into(
        page.get_by_label("Tell us what happened"),
        "A second-year student kept following a classmate and blocked her way out.",
    )
    return {"relation", "anonymous", "narrative"}


def fill_ciup(page) -> set[str]:
    page.get_by_label("It happened to me", exact=True).check()
    expect(page.get_by_label("No, I report anonymously")).to_be_checked()
    page.get_by_label("Psychological harassment", exact=True).check()
    type_into(page.get_by_label("When did it happen?"), "Every night for two weeks")
    type_into(
        page.get_by_label("Tell us what happened"),
        "A resident of my house leaves insulting notes on my door every night.",
    )
    page.get_by_label("Victim's house").select_option(label="Fondation Lucien Paye")
    page.get_by_label("I don't know and I need to think about it").check()
    page.get_by_label("I agree to my contact details being passed to the RSI").check()
    return {"relation", "anonymous", "narrative", "x_reporting_wish"}


def fill_neoma(page) -> set[str]:
    page.get_by_label("It happened to me", exact=True).check()
    type_into(page.get_by_label("Your name", exact=True), "Camille Martin")
    page.get_by_label("Sexual harassment", exact=True).check()
    type_into(page.get_by_label("Where did it happen?"), "The library, second floor")
    type_into(
        page.get_by_label("Tell us what happened"),
        "A teacher made remarks about my body after class, three times this month.",
    )
    page.get_by_label("Campus", exact=True).select_option(label="Reims campus")
    type_into(page.get_by_label("Name of the person(s) implicated"), "J. Dupont")
    return {"relation", "full_name", "narrative", "x_campus", "x_implicated_person"}


# slug: how a person fills its form, the committee the report is routed to, and the site
TENANT_FLOWS = {
    "polytechnique": (fill_polytechnique, "dhamis_unit", None),
    "ciup": (fill_ciup, "listening_unit", None),
    "neoma": (fill_neoma, "angela_unit", "reims"),
}


def make_a_report(page, slug: str, fill=None) -> tuple[str, str]:
    """Fill the tenant's form as its reporters do (every field it marks required included),
    send it, and read the receipt page: (receipt as shown, case reference)."""
    page.goto(f"/t/{slug}/report?lang=en")
    answered = (fill or TENANT_FLOWS[slug][0])(page)
    marked = required_fields(page)
    assert marked <= answered, "the form asks for more than the test answers"
    if fill is None:  # and it marks every answer the server requires (NEOMA: the name)
        assert marked == answered
    page.get_by_role("button", name="Send my report").click()
    return read_receipt_page(page)


def read_receipt_page(page) -> tuple[str, str]:
    expect(page.get_by_role("heading", level=1)).to_have_text("Your report was sent")
    receipt = page.locator(".receipt-code").inner_text().strip()
    assert RECEIPT.match(receipt), receipt
    reference = REFERENCE.search(page.get_by_text("Reference of your report").inner_text())
    assert reference, "the receipt page gives the case's reference"
    return receipt, reference.group(1)


def unit_replies(tenant, reference: str, member, body: str, plugins) -> None:
    """A staff member posts a message on the case, as the staff pages will."""
    with tenant_scope(tenant):
        case = db.session.scalar(select(Case).where(Case.reference == reference))
        post_message(
            case, body, actor=member, institution=Institution.of(plugins, TenantInfo.of(tenant))
        )
        db.session.commit()


def open_my_report(page, slug: str, receipt: str) -> None:
    """Come back with the receipt: "My report", type it, open."""
    page.goto(f"/t/{slug}/?lang=en")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My report").click()
    type_into(page.get_by_label("Your receipt code"), receipt)
    page.get_by_role("button", name="Open", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My report")


def write_to_the_unit(page, body: str) -> None:
    type_into(page.get_by_label("Your message"), body)
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("Your message was sent.")
    expect(page.locator(".message.reporter").last).to_contain_text(body)


def messages_on(tenant, reference: str) -> list[tuple[str, str, bool]]:
    """(author kind, body, read by the other side) of the case's messages, in order."""
    with tenant_scope(tenant):
        case = db.session.scalar(select(Case).where(Case.reference == reference))
        rows = db.session.scalars(
            select(Message).where(Message.case_id == case.id).order_by(Message.id)
        )
        found = [(m.author_kind, m.body, m.read_at is not None) for m in rows]
        db.session.commit()  # end the read: the live server writes to the same file
    return found


def session_cookies(context) -> list[dict]:
    return [cookie for cookie in context.cookies() if cookie["name"] == "session"]


# -- 1. each tenant: report, receipt, the unit replies, the reporter answers -------------------


@pytest.mark.parametrize("slug", list(TENANT_FLOWS))
def test_report_receipt_reply_and_answer(
    page, new_page, tenants, slug, make_member, plugins, checked
):
    tenant = tenants[slug]
    _, committee, site = TENANT_FLOWS[slug]
    receipt, reference = make_a_report(page, slug)

    member = make_member(tenant, committee, site=site)
    with tenant_scope(tenant):
        case = db.session.scalar(select(Case).where(Case.reference == reference))
        report = db.session.scalar(select(Report).where(Report.case_id == case.id))
        assert case.routing["committee"] == committee
        assert case.site_key == site
        assert report.receipt_hash and receipt.replace(" ", "") not in report.receipt_hash
        assert report.is_anonymous == (slug != "neoma")
        if slug == "neoma":  # named only: the name is kept apart from the account of events
            assert report.identity.full_name == "Camille Martin"
            assert "Camille" not in report.narrative + str(report.form_data)
            assert report.form_data["campus"] == "reims"
        if slug == "ciup":
            assert report.form_data["victim_house"] == "fondation_lucien_paye"
            consents = db.session.scalars(
                select(CaseConsent.key).where(CaseConsent.case_id == case.id)
            ).all()
            assert consents == ["share_with_rsi"]
        db.session.commit()
    unit_replies(tenant, reference, member, f"Hello, we read your report {reference}.", plugins)

    # Another day, another browser: nothing but the receipt leads back.
    later = new_page()
    open_my_report(later, slug, receipt)
    expect(later.locator(".message.staff")).to_contain_text(
        f"Hello, we read your report {reference}."
    )
    expect(later.get_by_text(f"Reference: {reference}")).to_be_visible()
    notices = later.get_by_role("heading", name="E-mail notices")
    expect(notices).to_have_count(0 if slug != "neoma" else 1)  # only for a named reporter
    write_to_the_unit(later, "Thank you. I can meet someone on Thursday.")
    checked(later)

    assert messages_on(tenant, reference) == [
        ("staff", f"Hello, we read your report {reference}.", True),
        ("reporter", "Thank you. I can meet someone on Thursday.", False),
    ]


# -- 2. a named report with an address for notices -------------------------------------------


def test_a_named_report_keeps_the_identity_apart_and_offers_notices(page, tenants, checked):
    def named(page) -> set[str]:
        page.get_by_label("It happened to me", exact=True).check()
        page.get_by_label("Yes, I give my name").check()
        type_into(page.get_by_label("Your name", exact=True), "Alex Durand")
        type_into(page.get_by_label("An e-mail address where the unit can reach you"), "a@ex.org")
        page.get_by_label("Send me an e-mail when I have a new message").check()
        type_into(page.get_by_label("Tell us what happened"), "My supervisor shouts at me daily.")
        return {"relation", "anonymous", "narrative", "full_name"}

    _, reference = make_a_report(page, "polytechnique", named)
    tenant = tenants["polytechnique"]
    with tenant_scope(tenant):
        report = db.session.scalar(select(Report))
        assert report.case.reference == reference
        assert not report.is_anonymous
        assert report.notify_email == "a@ex.org"
        identity = db.session.scalar(
            select(ReporterIdentity).where(ReporterIdentity.report_id == report.id)
        )
        assert identity.full_name == "Alex Durand"
        assert identity.contact == {"email": "a@ex.org"}
        assert "Alex" not in report.narrative + str(report.form_data)
        # kept apart, and encrypted: the name is nowhere in the clear in the database
        raw_reports = str(db.session.execute(text("SELECT * FROM reports")).all())
        raw_identities = str(db.session.execute(text("SELECT * FROM reporter_identities")).all())
        assert "Alex" not in raw_reports + raw_identities
        db.session.commit()

    page.get_by_role("link", name="Open my report").click()
    expect(page.get_by_role("heading", name="E-mail notices")).to_be_visible()
    address = page.get_by_label("E-mail address for notices")
    expect(address).to_have_value("a@ex.org")
    checked(page)
    address.fill("")
    type_into(address, "alex.durand@ex.org")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Your e-mail preference was saved.")
    with tenant_scope(tenant):
        assert db.session.scalar(select(Report.notify_email)) == "alex.durand@ex.org"
        db.session.commit()


# -- 3. a photo loses its metadata -------------------------------------------------------------

QUADRANTS = {(16, 12): (200, 30, 30), (48, 12): (30, 160, 40), (16, 36): (30, 50, 200)}


def test_a_photo_reaches_the_unit_without_its_metadata(page, tenants, tmp_path, checked):
    picture = Image.new("RGB", (64, 48), (240, 220, 40))
    for (x, y), colour in QUADRANTS.items():
        picture.paste(colour, (x - 16, y - 12, x + 16, y + 12))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "PhoneModel 12"  # Model
    exif[0x0132] = "2026:11:02 21:14:00"  # DateTime
    exif[0x8825] = {1: "N", 2: (48.0, 42.0, 51.0), 3: "E", 4: (2.0, 12.0, 33.0)}  # GPS
    photo = tmp_path / "IMG_0042.jpg"
    picture.save(photo, "JPEG", exif=exif, quality=95)
    assert Image.open(photo).getexif().get_ifd(0x8825)  # the GPS position is in the file

    def with_a_photo(page) -> set[str]:
        answered = fill_polytechnique(page)
        with page.expect_file_chooser() as chooser:
            page.get_by_label("Evidence (optional)").click()
        chooser.value.set_files(photo)
        return answered

    make_a_report(page, "polytechnique", with_a_photo)
    page.get_by_role("link", name="Open my report").click()
    expect(page.get_by_text("1 file given so far.")).to_be_visible()
    checked(page)

    with tenant_scope(tenants["polytechnique"]):
        stored = db.session.scalar(select(Evidence))  # as staff will download it
        media_type, size, data = stored.media_type, stored.size, stored.data
        raw = db.session.execute(text("SELECT data FROM evidence")).scalar_one()
        db.session.commit()
    assert media_type == "image/jpeg" and size == len(data)
    assert b"JFIF" not in raw and b"\xff\xd8\xff" not in raw  # encrypted at rest
    for trace in (b"Exif", b"PhoneMaker", b"PhoneModel", b"2026:11:02"):
        assert trace not in data
    kept = Image.open(io.BytesIO(data))
    assert kept.format == "JPEG" and kept.size == (64, 48)
    assert not kept.getexif() and not kept.getexif().get_ifd(0x8825)
    for (x, y), colour in QUADRANTS.items():
        pixel = kept.convert("RGB").getpixel((x, y))
        assert all(abs(a - b) < 40 for a, b in zip(pixel, colour, strict=True)), (pixel, colour)


# -- 4. quick exit ---------------------------------------------------------------------------


@pytest.fixture
def neutral_site():
    """`neutral_site(context)`: the exit site, answered locally with a tiny page (nothing
    leaves 127.0.0.1); returns the requests it got."""

    def route(context) -> list:
        got = []

        def answer(route):
            got.append(route.request)
            route.fulfill(status=200, content_type="text/html; charset=utf-8", body=NEUTRAL_PAGE)

        context.route(lambda url: url.startswith(EXIT_URL), answer)
        return got

    return route


def wait_until_forgotten(page) -> None:
    """The quick exit's beacon to /exit is answered after the page has gone, so nothing in
    the page can be awaited: poll the cookie jar, for at most ten seconds."""
    for _ in range(400):
        if not session_cookies(page.context):
            return
        page.wait_for_timeout(25)
    pytest.fail("the session cookie outlived the quick exit", pytrace=False)


def signed_in_space(page, receipt: str) -> str:
    """Open the reporter's space with the receipt, from the receipt login; the space's URL."""
    page.goto("/t/polytechnique/space/login?lang=en")
    type_into(page.get_by_label("Your receipt code"), receipt)
    page.get_by_role("button", name="Open", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My report")
    assert session_cookies(page.context)
    return page.url


def asks_for_the_receipt(page) -> None:
    page.goto("/t/polytechnique/space?lang=en")
    expect(page).to_have_url(re.compile(r"/t/polytechnique/space/login\b"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Open my report")


@pytest.mark.parametrize("how", ["button", "escape"])
def test_quick_exit_leaves_replaces_the_page_and_forgets(page, new_page, neutral_site, how):
    receipt, _ = make_a_report(page, "polytechnique")
    visitor = new_page()
    arrived = neutral_site(visitor.context)
    space_url = signed_in_space(visitor, receipt)
    history = visitor.evaluate("history.length")

    if how == "button":
        visitor.get_by_role("link", name="Quick exit").click()
    else:  # in the middle of typing a message, someone comes in
        type_into(visitor.get_by_label("Your message"), "I am not sure I")
        visitor.keyboard.press("Escape")
    visitor.wait_for_url(EXIT_URL)
    expect(visitor.get_by_role("heading", level=1)).to_have_text("Prévisions du jour")
    assert [request.headers.get("referer") for request in arrived] == [None]
    assert visitor.evaluate("history.length") == history  # replaced, not added to
    wait_until_forgotten(visitor)

    visitor.go_back()  # leads to the page before, never back to the report
    assert visitor.url != space_url
    expect(visitor.get_by_text("I am not sure I")).to_have_count(0)
    asks_for_the_receipt(visitor)


def test_quick_exit_without_javascript(page, new_page, neutral_site):
    receipt, _ = make_a_report(page, "polytechnique")
    visitor = new_page(java_script_enabled=False)
    arrived = neutral_site(visitor.context)
    signed_in_space(visitor, receipt)

    exit_link = visitor.get_by_role("link", name="Quick exit")
    expect(exit_link).to_have_attribute("href", "/t/polytechnique/exit")
    exit_link.click()
    visitor.wait_for_url(EXIT_URL)
    expect(visitor.get_by_role("heading", level=1)).to_have_text("Prévisions du jour")
    assert [request.headers.get("referer") for request in arrived] == [None]
    assert not session_cookies(visitor.context)  # cleared by the answer that led away
    asks_for_the_receipt(visitor)


# -- 5. every reporter page: axe-core, nothing from elsewhere, the keyboard ------------------


@pytest.mark.parametrize("slug", list(TENANT_FLOWS))
def test_every_reporter_page_is_accessible_and_local(
    page, new_page, tenants, slug, make_member, plugins, checked, assert_keyboard_reaches_all
):
    fill, committee, site = TENANT_FLOWS[slug]
    for path in ("", "help", "law"):
        page.goto(f"/t/{slug}/{path}?lang=en")
        checked(page)

    page.goto(f"/t/{slug}/report?lang=en")
    checked(page)
    assert_keyboard_reaches_all(page)
    page.get_by_role("button", name="Send my report").click()  # nothing answered
    expect(page.locator("#problems")).to_contain_text("Some answers need your attention")
    expect(page.locator(".field-error").first).to_be_visible()
    checked(page)

    fill(page)
    page.get_by_role("button", name="Send my report").click()
    receipt, reference = read_receipt_page(page)
    checked(page)
    page.get_by_role("link", name="Printable proof that I reported").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Proof that a report was made")
    expect(page.get_by_text(reference)).to_be_visible()
    assert receipt not in page.content()  # the proof never carries the receipt
    checked(page)

    member = make_member(tenants[slug], committee, site=site)
    unit_replies(tenants[slug], reference, member, "We have read your report.", plugins)
    later = new_page()
    later.goto(f"/t/{slug}/space/login?lang=en")
    checked(later)
    type_into(later.get_by_label("Your receipt code"), "1234 5678 9012 3456 7890")
    later.get_by_role("button", name="Open", exact=True).click()
    expect(later.get_by_role("alert")).to_have_text(
        "This receipt code does not open any report here."
    )
    expect(later.get_by_label("Your receipt code")).to_have_value("1234 5678 9012 3456 7890")
    checked(later)
    later.get_by_label("Your receipt code").fill(receipt)
    later.get_by_role("button", name="Open", exact=True).click()
    expect(later.locator(".message.staff")).to_contain_text("We have read your report.")
    write_to_the_unit(later, "Thank you for your answer.")
    checked(later)
    assert_keyboard_reaches_all(later)
    later.get_by_role("button", name="Send", exact=True).click()  # an empty message
    expect(later.get_by_role("alert")).to_have_text("Please write a message.")
    checked(later)


def tab_to(page, target, *, backwards: bool = False, presses: int = 100) -> None:
    """Press Tab (or Shift+Tab) until the focus is on `target`; fail if it never gets there."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(presses):
        page.keyboard.press(key)
        if target.evaluate("element => element === document.activeElement"):
            return
    pytest.fail(f"{key} never reaches {target} on {page.url}", pytrace=False)


def test_the_whole_flow_with_the_keyboard_alone(
    page, new_page, tenants, make_member, plugins, assert_keyboard_reaches_all
):
    page.goto("/t/polytechnique/?lang=en")
    tab_to(page, page.get_by_role("main").get_by_role("link", name="Make a report"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Make a report")
    assert_keyboard_reaches_all(page)

    # the first choice of a group gets the focus with Tab; Space ticks it
    victim = page.get_by_label("It happened to me", exact=True)
    tab_to(page, victim)
    page.keyboard.press("Space")
    expect(victim).to_be_checked()
    expect(page.get_by_label("No, I report anonymously")).to_be_checked()
    harassment = page.get_by_label("Harassment", exact=True)
    tab_to(page, harassment)
    page.keyboard.press("Space")
    expect(harassment).to_be_checked()
    narrative = "Someone from my year keeps sending me messages at night."
    tab_to(page, page.get_by_label("Tell us what happened"))
    page.keyboard.type(narrative)
    where = page.get_by_label("Where did it happen?")
    tab_to(page, where, backwards=True)  # back up to a field passed by
    page.keyboard.type("Online, and at the sports hall")
    tab_to(page, page.get_by_role("button", name="Send my report"))
    page.keyboard.press("Enter")
    receipt, reference = read_receipt_page(page)

    tab_to(page, page.get_by_role("link", name="Open my report"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("My report")
    tab_to(page, page.get_by_label("Your message"))
    page.keyboard.type("I would like to talk to someone.")
    tab_to(page, page.get_by_role("button", name="Send", exact=True))
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Your message was sent.")
    assert_keyboard_reaches_all(page)

    tenant = tenants["polytechnique"]
    with tenant_scope(tenant):
        report = db.session.scalar(select(Report))
        assert (report.reporter_relation, report.categories) == ("victim", ["harassment"])
        assert report.narrative == narrative
        assert report.form_data["core_where"] == "Online, and at the sports hall"
        db.session.commit()
    member = make_member(tenant, "dhamis_unit")
    unit_replies(tenant, reference, member, "Of course. Would Monday suit you?", plugins)

    # back another day, by the "My report" link, the receipt typed and Enter
    later = new_page()
    later.goto("/t/polytechnique/?lang=en")
    tab_to(
        later, later.get_by_role("navigation", name="Main").get_by_role("link", name="My report")
    )
    later.keyboard.press("Enter")
    tab_to(later, later.get_by_label("Your receipt code"))
    later.keyboard.type(receipt)
    later.keyboard.press("Enter")
    expect(later.locator(".message.staff")).to_contain_text("Of course. Would Monday suit you?")
    tab_to(later, later.get_by_label("Your message"))
    later.keyboard.type("Yes, Monday morning.")
    tab_to(later, later.get_by_role("button", name="Send", exact=True))
    later.keyboard.press("Enter")
    expect(later.get_by_role("status")).to_have_text("Your message was sent.")
    assert [kind for kind, _, _ in messages_on(tenant, reference)] == [
        "reporter",
        "staff",
        "reporter",
    ]


# -- 6. no cookie before a report's own session ----------------------------------------------


def test_home_help_and_law_set_no_cookie(page, demo_tenants, app):
    for tenant in demo_tenants:
        for path in ("", "help", "law"):
            for lang in ("fr", "en"):
                response = page.goto(f"/t/{tenant.slug}/{path}?lang={lang}")
                assert response.status == 200
                assert "set-cookie" not in response.headers
    page.goto("/")
    assert page.context.cookies() == []

    # the report form's CSRF token is where the report's own session begins
    page.goto("/t/polytechnique/report?lang=en")
    (cookie,) = page.context.cookies()
    assert cookie["name"] == app.config["SESSION_COOKIE_NAME"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert cookie["expires"] == -1  # gone with the browser
