"""What each web process remembers about tenants for a few seconds: which tenant a host or a
path names, and the rendered public pages (landing, help lines, the law) of each.

Every request starts by finding its tenant, and most portal visits are for public pages that
are the same for everybody in a language. Asking the database and rendering them anew each
time cost several milliseconds; from memory they cost a dictionary lookup.

* The directory keeps, per (host, slug), the tenant's id, revision, languages and whether it
  is active. The request then still reads the tenant's row by its primary key, so suspension
  and every setting apply at once to everything but the cached pages.
* A public page is kept per tenant revision, page, address and language, and served only to a
  visitor without a session cookie (no report open, no flash message), on a GET or HEAD
  with no query but `lang`. Nothing about the visitor is stored; the pages hold only the
  institution's public texts.

A change to a tenant or its domains committed in this process forgets everything at once.
Other processes see it within CELLULE_TENANT_CACHE_SECONDS (0 turns both caches off).
"""

import threading
import time
import weakref
from dataclasses import dataclass

from cachetools import TTLCache
from flask import Response, current_app, g, request
from sqlalchemy import event
from sqlalchemy.orm import Session

from core.plugins.host import TenantInfo

# A tenant's entries: its (host, slug) pairs, and three pages in two languages each with and
# without `?lang=`. Rendered pages weigh about 10 kB.
DIRECTORY_SIZE = 10_000
PAGES_SIZE = 2_000
PAGE_ATTRIBUTE = "cellule_public_page"


def public_page(view):
    """Mark a view whose page is the same for every visitor without a session in a language,
    so that it may be served from memory."""
    setattr(view, PAGE_ATTRIBUTE, True)
    return view


@dataclass(frozen=True)
class Listing:
    """A tenant as the directory remembers it."""

    info: TenantInfo
    active: bool


@dataclass(frozen=True)
class Page:
    body: bytes
    mimetype: str


class TenantCache:
    """The directory and the public pages of one application, in one process."""

    def __init__(self, seconds: int, *, timer=time.monotonic):
        self.enabled = seconds > 0
        ttl = max(seconds, 1)
        self._directory: TTLCache = TTLCache(DIRECTORY_SIZE, ttl, timer)
        self._pages: TTLCache = TTLCache(PAGES_SIZE, ttl, timer)
        self._lock = threading.Lock()
        _caches.add(self)

    def listing(self, host: str, slug: str | None, find) -> tuple[Listing | None, bool]:
        """The tenant (host, slug) names and whether it named one: remembered, or asked of
        `find() -> (Tenant | None, named)` and remembered when there is a tenant."""
        key = (host, slug)
        with self._lock:
            listing = self._directory.get(key)
        if listing is not None:
            return listing, True
        tenant, named = find()
        if tenant is None:
            return None, named  # an unknown name is asked again: a new tenant shows at once
        listing = Listing(TenantInfo.of(tenant), tenant.is_active)
        if self.enabled:
            with self._lock:
                self._directory[key] = listing
        return listing, True

    def page(self, key: tuple) -> Page | None:
        with self._lock:
            return self._pages.get(key)

    def keep_page(self, key: tuple, page: Page) -> None:
        if self.enabled:
            with self._lock:
                self._pages[key] = page

    def clear(self) -> None:
        with self._lock:
            self._directory.clear()
            self._pages.clear()


_caches: "weakref.WeakSet[TenantCache]" = weakref.WeakSet()
CHANGED = "cellule.tenants_changed"


def tenant_cache(app=None) -> TenantCache:
    return (app or current_app).extensions["cellule.tenant_cache"]


def _page_key(listing: Listing, host: str, locale: str) -> tuple:
    return (
        listing.info.id,
        listing.info.revision,
        request.endpoint,
        host,
        request.script_root,
        request.query_string,
        locale,
    )


def cacheable_request() -> bool:
    """A request for a public page from a visitor without a session."""
    view = current_app.view_functions.get(request.endpoint)
    return (
        getattr(view, PAGE_ATTRIBUTE, False)
        and request.method in ("GET", "HEAD")
        and current_app.config["SESSION_COOKIE_NAME"] not in request.cookies
        and set(request.args) <= {"lang"}
        and len(request.args.getlist("lang")) <= 1
    )


def serve_public_page(find_listing, choose_locale):
    """Before the tenant is read: answer a public page from memory when it is there; else
    note under which key the page being rendered is to be kept."""
    cache = tenant_cache()
    if not cache.enabled or not cacheable_request():
        return None
    listing, host = find_listing()
    if listing is None or not listing.active:
        return None
    info = listing.info
    key = _page_key(listing, host, choose_locale(info.locales, info.default_locale))
    page = cache.page(key)
    if page is None:
        g.public_page_key = key
        return None
    # the page is chosen by the language the browser asks for, and only without a session
    return Response(page.body, mimetype=page.mimetype, headers={"Vary": "Accept-Language, Cookie"})


def keep_public_page(response):
    """After a public page was rendered for a visitor without a session: keep it, when the
    tenant read is the one the key was made for and the page sets no cookie."""
    key = g.pop("public_page_key", None)
    info = g.get("tenant_info")
    if (
        key is not None
        and info is not None
        and (info.id, info.revision) == key[:2]
        and request.method == "GET"
        and response.status_code == 200
        and "Set-Cookie" not in response.headers
        and not response.direct_passthrough
    ):
        tenant_cache().keep_page(key, Page(response.get_data(), response.mimetype))
    return response


# -- forgetting: a committed change to a tenant or its domains, in this process --------------


@event.listens_for(Session, "after_flush")
def _note_tenant_changes(session, flush_context) -> None:
    from core.tenancy.models import Tenant, TenantDomain

    changed = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(instance, Tenant | TenantDomain) for instance in changed):
        session.info[CHANGED] = True


@event.listens_for(Session, "after_commit")
def _forget_after_commit(session) -> None:
    # (a rolled back change leaves the mark: the next commit then forgets for nothing)
    if session.info.pop(CHANGED, False):
        for cache in list(_caches):
            cache.clear()


def init_app(app) -> None:
    app.extensions["cellule.tenant_cache"] = TenantCache(app.config["CELLULE_TENANT_CACHE_SECONDS"])
