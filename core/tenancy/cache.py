"""What each web process remembers about tenants: which tenant a host or a path names, and the
rendered public pages (landing, help lines, the law) of each.

Most portal visits are for public pages that are the same for everybody in a language.
Finding the tenant in the database and rendering them anew each time cost several
milliseconds; from memory they cost a dictionary lookup.

* The directory is every tenant's id, slug, revision, languages and whether it is active,
  and every custom domain: read in two queries, and read again when it is older than
  CELLULE_TENANT_CACHE_SECONDS. Only public pages are served on its word. Every other
  request finds its tenant in the database by the name it was asked by (a domain may have
  moved, a tenant been suspended); the directory's guess only lets that transaction begin
  in the right scope.
* A public page is kept per tenant revision, page, address and language (the least recently
  served make room), and served only to a visitor without a session cookie (no report open,
  no flash message) on a GET or HEAD with no query but `lang`. Nothing about the visitor is
  kept; the pages hold only the institution's public texts.

A change to a tenant or its domains committed through the ORM in this process forgets
everything at once; other processes see it within CELLULE_TENANT_CACHE_SECONDS (0 turns both
off). A change made outside the ORM (plain SQL) reaches this process the same way, within that
time, when it changes the tenant's revision.
"""

import re
import threading
import time
import weakref
from dataclasses import dataclass

from cachetools import LRUCache
from flask import Response, current_app, g, request, session
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from core.plugins.host import TenantInfo

# Three pages, two languages, each with and without `?lang=`, weighing about 6 kB: the pages
# of the few hundred tenants being visited now.
PAGES_SIZE = 2_000
PAGE_ATTRIBUTE = "cellule_public_page"
# a public page is chosen by the language the browser asks for, and for want of a session
VARY = {"Vary": "Accept-Language, Cookie"}


def public_page(view):
    """Mark a view whose page is the same for every visitor without a session in a language,
    so that it may be served from memory."""
    setattr(view, PAGE_ATTRIBUTE, True)
    return view


@dataclass(frozen=True)
class Listing:
    """A tenant as the directory knows it."""

    info: TenantInfo
    active: bool


@dataclass(frozen=True)
class Directory:
    """Every tenant by slug and every custom domain, as read at `read_at`."""

    by_slug: dict[str, Listing]
    by_host: dict[str, Listing]
    read_at: float

    @classmethod
    def read(cls, now: float) -> "Directory":
        from core.extensions import db
        from core.tenancy.models import Tenant, TenantDomain

        columns = (
            Tenant.id,
            Tenant.slug,
            Tenant.name,
            Tenant.default_locale,
            Tenant.locales,
            Tenant.revision,
            Tenant.enabled_plugins,
            Tenant.suspended_at,
        )
        by_id = {row.id: listing_of(row) for row in db.session.execute(select(*columns))}
        hosts = db.session.execute(select(TenantDomain.host, TenantDomain.tenant_id))
        return cls(
            by_slug={listing.info.slug: listing for listing in by_id.values()},
            by_host={host: by_id[tenant_id] for host, tenant_id in hosts if tenant_id in by_id},
            read_at=now,
        )


def listing_of(tenant) -> Listing:
    """A tenant row (ORM object or columns) as the directory knows it."""
    return Listing(TenantInfo.of(tenant), tenant.suspended_at is None)


@dataclass(frozen=True)
class Page:
    body: bytes
    mimetype: str


class TenantCache:
    """The directory and the public pages of one application, in one process."""

    def __init__(self, seconds: int, *, timer=time.monotonic):
        self.enabled = seconds > 0
        self.seconds = seconds
        self._timer = timer
        self._directory: Directory | None = None
        self._generation = 0  # moved on by `clear()`: a read begun before is not kept
        self._reading = threading.Lock()
        self._pages: LRUCache = LRUCache(PAGES_SIZE)
        self._lock = threading.Lock()
        _caches.add(self)

    def directory(self) -> Directory | None:
        """The directory, read again when it is older than the time allowed (None: off)."""
        if not self.enabled:
            return None
        directory, now = self._directory, self._timer()
        if directory is None or now - directory.read_at >= self.seconds:
            with self._reading:  # one thread reads; the pages stay served meanwhile
                directory = self._directory
                if directory is None or now - directory.read_at >= self.seconds:
                    generation = self._generation
                    directory = Directory.read(now)
                    if generation == self._generation:
                        self._directory = directory
        return directory

    def page(self, key: tuple) -> Page | None:
        with self._lock:
            return self._pages.get(key)

    def keep_page(self, key: tuple, page: Page) -> None:
        if self.enabled:
            with self._lock:
                self._pages[key] = page

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._directory = None
            self._pages.clear()


_caches: "weakref.WeakSet[TenantCache]" = weakref.WeakSet()
CHANGED = "cellule.tenants_changed"


def tenant_cache(app=None) -> TenantCache:
    return (app or current_app).extensions["cellule.tenant_cache"]


NO_QUERY_BUT_LANG = re.compile(rb"(lang=[A-Za-z_-]{1,16})?")


def _for_a_public_page() -> bool:
    return getattr(current_app.view_functions.get(request.endpoint), PAGE_ATTRIBUTE, False)


def cacheable_request() -> bool:
    """A request for a public page from a visitor without a session."""
    return (
        request.method in ("GET", "HEAD")
        and _for_a_public_page()
        and NO_QUERY_BUT_LANG.fullmatch(request.query_string) is not None
        and current_app.config["SESSION_COOKIE_NAME"] not in request.cookies
    )


def serve_public_page(remembered_listing, choose_locale):
    """Before the tenant is read: answer a public page from memory when it is there; else
    note under which key the page about to be rendered is to be kept."""
    cache = tenant_cache()
    if not cache.enabled or not cacheable_request():
        return None
    listing, host = remembered_listing()
    if listing is None or not listing.active:
        return None
    info = listing.info
    key = (
        info.id,
        info.revision,
        request.endpoint,
        host,
        request.script_root,
        request.query_string,
        choose_locale(info.locales, info.default_locale),
    )
    page = cache.page(key)
    if page is None:
        g.public_page_key = key
        return None
    g.tenant, g.tenant_info = None, info  # for the request's log line
    g.public_page_served = True
    return Response(page.body, mimetype=page.mimetype, headers=VARY)


def keep_public_page(response):
    """After a public page: say what it varies with, and keep it when it was rendered for
    a visitor without a session, for the tenant revision the key was made for, and neither
    touched the session nor set a cookie."""
    if g.pop("public_page_served", False):
        return response
    if _for_a_public_page():
        response.vary.update(VARY["Vary"].split(", "))
    key = g.pop("public_page_key", None)
    info = g.get("tenant_info")
    if (
        key is not None
        and info is not None
        and (info.id, info.revision) == key[:2]
        and request.method == "GET"
        and response.status_code == 200
        and not session.modified  # (saved after this hook: a cookie would not show yet)
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
    # (a change rolled back leaves the mark: the next commit then forgets for nothing)
    if session.info.pop(CHANGED, False):
        for cache in list(_caches):
            cache.clear()


def init_app(app) -> None:
    app.extensions["cellule.tenant_cache"] = TenantCache(app.config["CELLULE_TENANT_CACHE_SECONDS"])
