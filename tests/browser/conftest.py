"""Browser tests: the real app served on 127.0.0.1, driven by a real headless Chromium.

Chromium is Debian's (`/usr/bin/chromium`, or `CELLULE_TEST_CHROMIUM`), driven by Playwright
through `executable_path`: Playwright's own browsers are never downloaded. axe-core comes from
npm, pinned in tests/browser/package-lock.json and installed by `make test`; the tests inject it
into the page, the app never serves it. When Playwright, Chromium or axe-core is missing the
browser tests are skipped, except with CI=true, where they fail.

Every test under tests/browser/ runs on SQLite only: the tests under tests/ already run every
query on PostgreSQL too, and a live server per backend would double the slowest tests. Each
test gets its own database with one demo tenant per bundled plugin, as `make run` serves them,
its own server on an ephemeral port and its own browser context. Chromium reaches nothing but
127.0.0.1: every other host fails to resolve and every other address goes to a proxy that is
not there.
"""

import os
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import make_server

from core.plugins.host import TenantInfo
from core.tenancy.models import Tenant

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CHROMIUM = Path(os.environ.get("CELLULE_TEST_CHROMIUM", "/usr/bin/chromium"))
AXE_SCRIPT = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
BUNDLED_PLUGINS = ("ciup", "neoma", "polytechnique")
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING_IMPACTS = {"serious", "critical"}
# Only loopback is reachable: names other than 127.0.0.1 never resolve, and every request to
# another address goes to a proxy on the discard port, where nothing listens (Chromium never
# sends loopback through a proxy).
CHROMIUM_ARGS = [
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-domain-reliability",
    "--no-pings",
]
# What the Tab key must stop on when visible and enabled: the controls a person uses, even if
# a tabindex="-1" took them out of the order, and whatever else a tabindex put in it.
CONTROLS = (
    "a[href], area[href], button, input:not([type=hidden]), select, textarea, summary, "
    "audio[controls], video[controls], [contenteditable]:not([contenteditable=false])"
)


def _unavailable(what: str, problem: object):
    message = f"{what} is not available ({problem})"
    if IN_CI:
        pytest.fail(f"{message}; CI=true requires it", pytrace=False)
    pytest.skip(message)


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc):
    # Before tests/conftest.py parametrizes `backend`, which it reads from this marker.
    metafunc.definition.add_marker(pytest.mark.sqlite_only)


@pytest.fixture
def config(config):
    """The `app` fixture's configuration, with the platform home listing the tenants as in
    `make run`."""
    return {**config, "CELLULE_TENANT_DIRECTORY": True}


@pytest.fixture
def demo_tenants(make_tenant, plugins) -> list[Tenant]:
    """One tenant per bundled plugin, slug and name as `cellule demo` gives them."""
    tenants = []
    for plugin in BUNDLED_PLUGINS:
        probe = TenantInfo(0, plugin, plugin, "fr", ("fr", "en"), 0, (plugin,))
        profile = plugins.call(probe, "institution_profile") or {}
        tenants.append(make_tenant(plugin, enable=(plugin,), name=profile.get("name")))
    return tenants


@pytest.fixture
def live_server(app, demo_tenants) -> Iterator[str]:
    """The app served by werkzeug in a background thread; its base URL, http://127.0.0.1:<port>.

    An exception the app lets out of a request fails the test, even if the page looked fine.
    """
    errors: list[str] = []

    def recording_errors(environ, start_response):
        try:
            return app(environ, start_response)
        except Exception:
            errors.append(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}\n")
            errors.append(traceback.format_exc())
            raise

    server = make_server("127.0.0.1", 0, recording_errors, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="live-server", daemon=True
    )
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
    if errors:
        pytest.fail("the live server failed:\n" + "".join(errors), pytrace=False)


@pytest.fixture(scope="session")
def axe_script() -> str:
    if not AXE_SCRIPT.is_file():
        _unavailable("axe-core", f"no {AXE_SCRIPT}; run `npm ci` in tests/browser")
    return AXE_SCRIPT.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium, shared by the session's tests."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as exc:
        _unavailable("Playwright", exc)
    if not os.access(CHROMIUM, os.X_OK):
        _unavailable("Chromium", f"no executable {CHROMIUM}; `apt-get install chromium`")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    except Error as exc:
        playwright.stop()
        _unavailable("Chromium", exc)
    yield browser
    browser.close()
    playwright.stop()


@pytest.fixture
def requests_made() -> list[str]:
    """Every URL the test's pages asked for (documents, styles, images, scripts...), in order."""
    return []


@pytest.fixture
def page(request, browser, live_server, requests_made):
    """A page in a fresh browser context (no cookies) whose relative URLs go to the live
    server; failing steps time out after ten seconds."""
    if request.node.get_closest_marker("browser") is None:
        pytest.fail("a test that drives Chromium is marked `browser`", pytrace=False)
    context = browser.new_context(base_url=live_server)
    context.set_default_timeout(10_000)
    context.on("request", lambda request: requests_made.append(request.url))
    yield context.new_page()
    context.close()


@pytest.fixture
def assert_accessible(axe_script) -> Callable:
    """`assert_accessible(page)`: axe-core's WCAG 2.0 and 2.1 A and AA rules find nothing of
    serious or critical impact on the page as it is now; the failure lists every node."""

    def check(page) -> None:
        page.evaluate(axe_script)
        results = page.evaluate(
            """tags => axe.run(document, {
                runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]
            })""",
            AXE_TAGS,
        )
        blocking = [v for v in results["violations"] if v["impact"] in BLOCKING_IMPACTS]
        if blocking:
            report = [f"axe-core on {page.url}:"]
            for violation in blocking:
                report.append(f"- {violation['id']} ({violation['impact']}): {violation['help']}")
                report.append(f"  {violation['helpUrl']}")
                for node in violation["nodes"]:
                    report.append(f"  * {' '.join(map(str, node['target']))}: {node['html']}")
                    for line in (node.get("failureSummary") or "").splitlines():
                        report.append(f"      {line}")
            pytest.fail("\n".join(report), pytrace=False)

    return check


@pytest.fixture
def assert_local_only(live_server, requests_made) -> Callable:
    """`assert_local_only(page)`: once the page's network is idle, every request the test's
    pages made went to the live server: no third-party asset, font, script or beacon."""

    def check(page) -> None:
        page.wait_for_load_state("networkidle")
        origin = urlsplit(live_server)
        elsewhere = [
            url
            for url in requests_made
            if urlsplit(url)[:2] != origin[:2] and not url.startswith(("data:", "blob:"))
        ]
        assert requests_made, "the page made no request at all"
        assert not elsewhere, f"requests that left {live_server}: {sorted(set(elsewhere))}"

    return check


FOCUS_CANDIDATES = """controls => {
    const seenRadioGroups = new Set();
    const candidates = [];
    for (const element of document.querySelectorAll(`${controls}, [tabindex]`)) {
        if (element.tabIndex < 0 && !element.matches(controls)) continue;
        if (element.disabled || element.closest("[inert]")) continue;
        if (!element.checkVisibility({visibilityProperty: true})) continue;
        if (element.matches("input[type=radio][name]")) {
            // Tab stops once in a group of radio buttons; the arrow keys move within it.
            const group = `${element.form ? element.form.id : ""}/${element.name}`;
            if (seenRadioGroups.has(group)) continue;
            seenRadioGroups.add(group);
        }
        candidates.push(element);
    }
    return candidates.map((element, index) => {
        const html = element.outerHTML.slice(0, 160);
        element.dataset.focusProbe = String(index);
        return html;
    });
}"""

# Blurring alone leaves Chromium's starting point for the next Tab where the focus was.
FROM_THE_TOP = """() => {
    const body = document.body;
    body.tabIndex = -1;
    body.focus();
    body.removeAttribute("tabindex");
}"""

FOCUSED = """() => {
    const element = document.activeElement;
    if (!element || element === document.body) return null;
    const radios = element.matches("input[type=radio][name]")
        ? [...document.querySelectorAll("[data-focus-probe]")].filter(
            other => other.matches("input[type=radio]") && other.name === element.name
                && other.form === element.form)
        : [];
    const probe = element.dataset.focusProbe ?? (radios[0] && radios[0].dataset.focusProbe);
    // Chromium also stops on, say, a scrollable region: not an error, but worth seeing.
    return probe ?? `(not a control) ${element.outerHTML.slice(0, 160)}`;
}"""


# Fields Chromium splits into parts (day, month, year...), each its own stop for the Tab key
# while the focus stays on the one <input>.
SEGMENTED = ", ".join(
    f"input[type={kind}]" for kind in ("date", "time", "datetime-local", "month", "week")
)
MAX_SEGMENTS = 7
IN_SEGMENTED = "selector => document.activeElement.matches(selector)"


@pytest.fixture
def assert_keyboard_reaches_all() -> Callable:
    """`assert_keyboard_reaches_all(page)`: from the top of the page, the Tab key alone stops
    on every visible, enabled control (links, buttons, fields; once per group of radio
    buttons, once per date or time field however many parts it has) and on whatever a
    tabindex puts in the order, then leaves the page or comes back round without getting
    stuck; returns the outer HTML of each stop, in order."""

    def check(page) -> list[str]:
        elements = page.evaluate(FOCUS_CANDIDATES, CONTROLS)
        segmented = page.locator(SEGMENTED).count()
        page.evaluate(FROM_THE_TOP)
        reached: list[str] = []
        for _ in range(2 * len(elements) + MAX_SEGMENTS * segmented + 10):
            page.keyboard.press("Tab")
            focused = page.evaluate(FOCUSED)
            if focused is None or (reached and focused == reached[0]):
                break
            if reached and focused == reached[-1] and page.evaluate(IN_SEGMENTED, SEGMENTED):
                continue  # the next part (day, month, year...) of the same field
            reached.append(focused)
        stops = [elements[int(item)] if item.isdigit() else item for item in reached]
        if len(reached) > len(set(reached)):
            pytest.fail(f"the Tab key is stuck on {page.url}: {stops}", pytrace=False)
        missed = [html for index, html in enumerate(elements) if str(index) not in reached]
        assert not missed, f"the Tab key never reaches, on {page.url}: {missed}"
        return stops

    return check
