"""What a web process remembers about tenants (core/tenancy/cache.py): public pages served
from memory to visitors without a session, never across tenants, hosts or languages; a change
made in the process seen at once, one made elsewhere within CELLULE_TENANT_CACHE_SECONDS."""

import pytest
from flask import template_rendered
from sqlalchemy import event, text

from core.extensions import db
from core.tenancy.cache import TenantCache, public_page, tenant_cache
from core.tenancy.operations import add_domain, set_branding, suspend_tenant
from core.tenancy.scoping import platform_scope


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(app):
    clock = Clock()
    app.extensions["cellule.tenant_cache"] = TenantCache(5, timer=clock)
    return clock


@pytest.fixture
def tenants(make_tenant, clock):
    ciup = make_tenant("ciup", enable=("ciup",))
    neoma = make_tenant("neoma", enable=("neoma",))
    with platform_scope():
        add_domain(neoma, "signalement.neoma.example", actor="platform")
    db.session.commit()
    return ciup, neoma


@pytest.fixture
def statements(app):
    """The SQL statements the requests in the block send."""
    sent: list[str] = []

    def count(conn, cursor, statement, *args):
        sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    yield sent
    event.remove(db.engine, "before_cursor_execute", count)


@pytest.fixture
def rendered(app):
    """The templates the requests in the block render."""
    names: list[str] = []

    def note(sender, template, context, **extra):
        names.append(template.name)

    template_rendered.connect(note, app)
    yield names
    template_rendered.disconnect(note, app)


def english(client, path, **headers):
    return client.get(path, headers={"Accept-Language": "en", **headers})


@pytest.mark.parametrize("path", ["/t/ciup/", "/t/ciup/help", "/t/ciup/law"])
def test_a_public_page_is_served_again_from_memory_without_a_query(
    client, tenants, statements, path
):
    first = english(client, path)
    assert first.status_code == 200 and statements
    statements.clear()
    again = english(client, path)
    assert again.status_code == 200
    assert statements == []
    assert again.data == first.data
    assert again.headers["Content-Security-Policy"] == first.headers["Content-Security-Policy"]
    for response in (first, again):  # rendered or remembered, it says what it varies with
        assert {"Accept-Language", "Cookie"} <= set(response.vary)
    assert "Set-Cookie" not in again.headers
    head = client.head(path, headers={"Accept-Language": "en"})
    assert head.status_code == 200 and head.data == b"" and statements == []


def test_each_language_and_lang_link_has_its_own_page(client, tenants):
    assert b'<html lang="en">' in english(client, "/t/ciup/").data
    assert b'<html lang="en">' in english(client, "/t/ciup/").data
    french = client.get("/t/ciup/", headers={"Accept-Language": "fr"})
    assert b'<html lang="fr">' in french.data
    asked = english(client, "/t/ciup/?lang=fr")
    assert b'<html lang="fr">' in asked.data and b'href="/t/ciup/report?lang=fr"' in asked.data
    assert b'href="/t/ciup/report"' in english(client, "/t/ciup/").data


def test_a_page_is_never_served_to_another_tenant_or_host(client, tenants):
    assert b"Cit\xc3\xa9 internationale" in english(client, "/t/ciup/").data
    neoma = english(client, "/t/neoma/").data
    assert b"NEOMA Business School" in neoma and b"Cit\xc3\xa9 internationale" not in neoma
    by_host = english(client, "/", Host="signalement.neoma.example").data
    assert b'href="/report"' in by_host and b"/t/neoma/" not in by_host
    # the same path on the platform's host is its own home, not the tenant's
    assert b"NEOMA" not in english(client, "/").data


def test_a_visitor_with_a_session_gets_a_page_made_for_them(client, tenants, rendered):
    english(client, "/t/ciup/")
    english(client, "/t/ciup/report")  # the form's CSRF token starts a session
    assert client.get_cookie("session") is not None
    rendered.clear()
    assert english(client, "/t/ciup/").status_code == 200
    assert rendered == ["tenancy/landing.html"], "served a page kept for everybody"


def test_other_queries_are_rendered_each_time(client, tenants, rendered):
    english(client, "/t/ciup/?utm=x")
    assert english(client, "/t/ciup/?utm=x").status_code == 200
    assert english(client, "/t/ciup/?lang=en&lang=fr").status_code == 200
    assert rendered == ["tenancy/landing.html"] * 3
    english(client, "/t/ciup/")
    english(client, "/t/ciup/")
    assert rendered == ["tenancy/landing.html"] * 4


def test_a_change_made_in_this_process_shows_at_once(client, tenants, rendered):
    ciup, _ = tenants
    for path in ("/t/ciup/", "/t/ciup/help"):
        english(client, path)
        english(client, path)
    assert rendered == ["tenancy/landing.html", "portal/help.html"]
    with platform_scope():
        set_branding(ciup, primary_colour="#123456", accent_colour="", actor="platform")
    db.session.commit()
    english(client, "/t/ciup/")
    assert rendered[-1] == "tenancy/landing.html"  # a new revision: rendered again
    with platform_scope():
        suspend_tenant(ciup, actor="platform")
    db.session.commit()
    assert english(client, "/t/ciup/").status_code == 404
    assert english(client, "/t/ciup/help").status_code == 404


def test_a_domain_moved_elsewhere_serves_its_new_tenant_beyond_public_pages(
    client, tenants, owner_engine, clock
):
    host = {"Host": "signalement.neoma.example"}
    assert b"NEOMA" in english(client, "/", **host).data  # remembered for NEOMA
    with owner_engine.begin() as connection:  # another process moves the domain to CIUP
        connection.execute(
            text(
                "UPDATE tenant_domains SET tenant_id = (SELECT id FROM tenants "
                "WHERE slug = 'ciup') WHERE host = 'signalement.neoma.example'"
            )
        )
    # a report made there now goes to CIUP at once
    form = english(client, "/report", **host).data
    assert b"Cit\xc3\xa9 internationale" in form and b"NEOMA" not in form
    # its public landing page may still be NEOMA's for the time allowed, not longer
    clock.now += 5.5
    landing = english(client, "/", **host).data
    assert b"Cit\xc3\xa9 internationale" in landing and b"NEOMA" not in landing


def test_a_domain_just_given_to_a_tenant_keeps_its_origin_at_once(client, tenants, owner_engine):
    assert english(client, "/t/ciup/report").status_code == 200  # the directory is read
    with owner_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO tenant_domains (tenant_id, host) "
                "SELECT id, 'signalement.ciup.example' FROM tenants WHERE slug = 'ciup'"
            )
        )
    # a tenant's own host never serves another tenant's path, even before the directory knows
    neoma_path = english(client, "/t/neoma/report", Host="signalement.ciup.example")
    assert neoma_path.status_code == 404


def test_a_public_page_that_writes_the_session_is_not_kept(app, client, tenants):
    from flask import session

    made = []

    def touchy():
        session["seen"] = True  # a flash message, a CSRF token would do the same
        made.append(1)
        return "<p>seen</p>"

    app.add_url_rule("/touchy", "touchy", public_page(touchy))
    for _ in range(2):
        assert english(client, "/t/ciup/touchy").status_code == 200
        client.delete_cookie("session")
    assert len(made) == 2


def test_a_change_made_elsewhere_reaches_public_pages_within_the_time(
    client, tenants, owner_engine, clock
):
    english(client, "/t/ciup/")
    with owner_engine.begin() as connection:  # another process: this one is not told
        connection.execute(
            text("UPDATE tenants SET suspended_at = CURRENT_TIMESTAMP WHERE slug = 'ciup'")
        )
    # everything but the public pages reads the tenant's row on every request
    assert english(client, "/t/ciup/report").status_code == 404
    assert english(client, "/t/ciup/").status_code == 200
    clock.now += 5.5
    assert english(client, "/t/ciup/").status_code == 404


def test_a_new_tenant_or_domain_made_elsewhere_is_found_at_once(
    client, tenants, owner_engine, clock
):
    assert english(client, "/t/ciup/").status_code == 200  # the directory is read
    with owner_engine.begin() as connection:  # another process: this one is not told
        connection.execute(
            text(
                "INSERT INTO tenant_domains (tenant_id, host) "
                "SELECT id, 'signalement.ciup.example' FROM tenants WHERE slug = 'ciup'"
            )
        )
    page = english(client, "/", Host="signalement.ciup.example")
    assert page.status_code == 200 and b"Cit\xc3\xa9 internationale" in page.data
    assert english(client, "/t/nouvelle/").status_code == 404
    with owner_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO tenants (slug, name, default_locale, locales, branding, "
                "enabled_plugins, revision, created_at) VALUES ('nouvelle', 'Nouvelle', 'fr', "
                "'[\"fr\"]', '{}', '[]', 1, CURRENT_TIMESTAMP)"
            )
        )
    assert b"Nouvelle" in english(client, "/t/nouvelle/").data


def test_the_directory_is_read_again_when_older_than_the_time(
    app, client, tenants, owner_engine, clock, statements
):
    english(client, "/t/ciup/")
    english(client, "/t/neoma/")
    statements.clear()
    clock.now += 4.9
    english(client, "/t/ciup/")
    english(client, "/t/neoma/")
    assert statements == []
    clock.now += 0.2
    english(client, "/t/ciup/")
    assert [s for s in statements if "tenant_domains" in s], statements


def test_zero_seconds_turns_the_cache_off(app, client, tenants, rendered):
    app.extensions["cellule.tenant_cache"] = TenantCache(0)
    english(client, "/t/ciup/")
    english(client, "/t/ciup/")
    assert rendered == ["tenancy/landing.html"] * 2
    assert len(tenant_cache()._pages) == 0


@pytest.mark.parametrize("how", ["here", "elsewhere"])
def test_a_request_for_a_suspended_tenant_leaves_no_scope_behind(
    client, tenants, owner_engine, how
):
    from core.tenancy.scoping import current_scope

    ciup, _ = tenants
    english(client, "/t/ciup/")  # the directory knows CIUP, active
    if how == "here":
        with platform_scope():
            suspend_tenant(ciup, actor="platform")
        db.session.commit()
    else:
        with owner_engine.begin() as connection:
            connection.execute(
                text("UPDATE tenants SET suspended_at = CURRENT_TIMESTAMP WHERE slug = 'ciup'")
            )
    assert english(client, "/t/ciup/report").status_code == 404
    # the test client runs the app in this thread: a scope left set would be seen here, and
    # by the next request a web worker's thread serves
    assert current_scope() is None
