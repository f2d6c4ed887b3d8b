"""The pages served today, in headless Chromium: the platform's home and each demo tenant's
landing page, in both languages: accessible, usable with the keyboard alone, and loading
nothing from anywhere but Cellule itself."""

import pytest

pytestmark = pytest.mark.browser

LANGUAGES = ("fr", "en")
DEMO_TENANTS = ("ciup", "neoma", "polytechnique")  # `demo_tenants`: one per bundled plugin


@pytest.fixture
def visit(page, assert_accessible, assert_local_only, assert_keyboard_reaches_all):
    """`visit(path, lang)`: open the page in that language and check what every page owes its
    reader; returns the elements the Tab key stopped on, in order."""

    def open_and_check(path: str, lang: str) -> list[str]:
        response = page.goto(f"{path}?lang={lang}")
        assert response is not None and response.status == 200, path
        assert page.get_attribute("html", "lang") == lang
        assert page.title()
        assert page.locator("h1").count() == 1
        assert_accessible(page)
        assert_local_only(page)
        return assert_keyboard_reaches_all(page)

    return open_and_check


@pytest.mark.parametrize("lang", LANGUAGES)
def test_platform_home(page, visit, lang, demo_tenants):
    reached = visit("/", lang)
    listed = page.locator("main a").evaluate_all("links => links.map(a => a.pathname)")
    assert sorted(listed) == sorted(f"/t/{tenant.slug}/" for tenant in demo_tenants)
    assert len(reached) == page.locator("a[href]").count()
    assert 'class="skip-link"' in reached[0]


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("slug", DEMO_TENANTS)
def test_tenant_landing(page, visit, slug, lang):
    reached = visit(f"/t/{slug}/", lang)
    assert len(reached) == page.locator("a[href]").count()
    assert 'class="skip-link"' in reached[0]
