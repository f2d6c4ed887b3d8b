"""A request finds its tenant by path prefix, sub-domain or custom domain; else a bare 404."""

import pytest

from core.extensions import db
from core.tenancy.operations import add_domain
from core.tenancy.scoping import platform_scope
from core.types import utcnow


@pytest.fixture
def neoma(make_tenant):
    tenant = make_tenant("neoma", enable=("neoma",))
    with platform_scope():
        add_domain(tenant, "signalement.neoma.example", actor="platform")
    db.session.commit()
    return tenant


@pytest.mark.parametrize(
    ("host", "path"),
    [
        ("localhost", "/t/neoma/"),
        ("neoma.cellule.test", "/"),
        ("signalement.neoma.example", "/"),
        ("SIGNALEMENT.neoma.example:8443", "/"),
    ],
)
def test_each_way_of_naming_a_tenant_finds_it(client, neoma, host, path):
    response = client.get(path, headers={"Host": host, "Accept-Language": "en"})
    assert response.status_code == 200
    assert b"NEOMA Business School" in response.data


def test_links_keep_the_path_prefix(client, neoma):
    page = client.get("/t/neoma/").get_data(as_text=True)
    assert 'href="/t/neoma/branding.css"' in page
    css = client.get("/t/neoma/branding.css")
    assert css.mimetype == "text/css"
    assert "--brand-primary:#5b2a86" in css.get_data(as_text=True)


@pytest.mark.parametrize(
    ("host", "path"),
    [
        ("localhost", "/t/unknown/"),
        ("unknown.cellule.test", "/"),
        ("deep.neoma.cellule.test", "/"),
        ("localhost", "/no-such-page"),
    ],
)
def test_unknown_tenants_get_the_same_404_as_unknown_pages(client, neoma, host, path):
    response = client.get(path, headers={"Host": host, "Accept-Language": "en"})
    assert response.status_code == 404
    body = response.get_data(as_text=True)
    assert body == client.get("/no-such-page", headers={"Accept-Language": "en"}).get_data(
        as_text=True
    )
    assert "neoma" not in body.lower()


def test_an_unknown_page_of_a_known_tenant_is_a_404_in_its_branding(client, neoma):
    response = client.get("/t/neoma/no-such-page")
    assert response.status_code == 404
    assert b"/t/neoma/branding.css" in response.data


def test_a_suspended_tenant_is_not_served(client, neoma):
    with platform_scope():
        neoma.suspended_at = utcnow()
        db.session.commit()
    assert client.get("/t/neoma/").status_code == 404


def test_the_platform_home_lists_no_tenant_unless_configured(app, client, neoma):
    assert b"NEOMA" not in client.get("/").data
    app.config["CELLULE_TENANT_DIRECTORY"] = True
    assert b'href="/t/neoma/"' in client.get("/").data


@pytest.mark.parametrize(
    ("query", "accept", "expected"),
    [
        ("", "en-GB,en;q=0.9", "Report harassment, discrimination or violence"),
        ("", "fr-FR,fr;q=0.9", "Signaler du harcèlement, une discrimination ou des violences"),
        ("", "de-DE", "Signaler du harcèlement"),  # neither: the tenant's default, French
        ("?lang=en", "fr", "Report harassment"),
        ("?lang=xx", "en", "Report harassment"),
    ],
)
def test_language_from_url_then_browser_then_tenant(client, neoma, query, accept, expected):
    page = client.get(f"/t/neoma/{query}", headers={"Accept-Language": accept})
    assert expected in page.get_data(as_text=True)


def test_security_headers_on_every_page(client, neoma):
    for path in ("/", "/t/neoma/", "/t/unknown/"):
        headers = client.get(path).headers
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["X-Content-Type-Options"] == "nosniff"


def test_the_development_server_logs_no_client_address(app, neoma, caplog):
    import socket
    import threading
    import urllib.request

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    caplog.set_level("DEBUG")
    try:
        url = f"http://127.0.0.1:{server.server_port}/t/neoma/"
        with urllib.request.urlopen(url) as response:
            assert response.status == 200
        with socket.create_connection(("127.0.0.1", server.server_port)) as raw:
            raw.sendall(b"NONSENSE\r\n\r\n")  # a request line the server rejects, and logs
            raw.recv(1024)
    finally:
        server.shutdown()
        thread.join()
    assert "GET /t/neoma/" in caplog.text  # the request was logged...
    assert "Bad request" in caplog.text
    assert "127.0.0.1" not in caplog.text  # ...without the client's address


@pytest.mark.parametrize("host", ["neoma.cellule.test", "signalement.neoma.example"])
def test_a_tenants_host_does_not_serve_another_tenants_prefix(client, neoma, make_tenant, host):
    make_tenant("ciup", enable=("ciup",))
    assert client.get("/t/ciup/", headers={"Host": host}).status_code == 404
    assert client.get("/t/ciup/", headers={"Host": "localhost"}).status_code == 200
