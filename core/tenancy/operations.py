"""Creating tenants and running them: domains, plugins, branding, languages, suspension.

Every change is audited in the tenant's chain, in the caller's transaction; a refusal is a
`TenancyError` (its message in the reader's language inside a request) and changes nothing.
"""

import re
import xml.parsers.expat
from dataclasses import replace

from flask import current_app, has_app_context, has_request_context
from flask_babel import gettext
from sqlalchemy import select

from core.audit.operations import record_event, start_chain
from core.committees.operations import sync_committees
from core.crypto.operations import create_data_key
from core.extensions import db
from core.plugins.host import DATA_HOOKS, PluginError, PluginHost, TenantInfo
from core.procedure.definition import Institution
from core.tenancy.models import Tenant, TenantDomain
from core.tenancy.scoping import platform_scope, tenant_scope
from core.types import utcnow

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
SUPPORTED_LOCALES = ("fr", "en")
COLOUR = re.compile(r"^#[0-9a-f]{6}$")
# WCAG 2.1 AA for normal text: brand colours carry white text and sit on white pages.
MIN_CONTRAST = 4.5
MARK_MAX_BYTES = 20_000


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated when shown."""
    return message


class TenancyError(ValueError):
    """A request about tenants that cannot be carried out as asked.

    ``str()`` is the message in the reader's language inside a request, else in English.
    """

    def __init__(self, message: str, /, **params):
        self.template, self.params = message, params
        super().__init__(message % params if params else message)

    def __str__(self) -> str:
        if not has_request_context():
            return self.args[0]
        return gettext(self.template, **self.params)


def find_tenant(slug: str) -> Tenant | None:
    return db.session.scalar(select(Tenant).where(Tenant.slug == slug))


def get_tenant(slug: str) -> Tenant:
    tenant = find_tenant(slug)
    if tenant is None:
        raise TenancyError(N_("no tenant with slug '%(slug)s'"), slug=slug)
    return tenant


def create_tenant(
    slug: str,
    name: str,
    *,
    actor,
    default_locale: str = "fr",
    locales: tuple[str, ...] = SUPPORTED_LOCALES,
) -> Tenant:
    """Create a tenant with its data key and an empty audit chain."""
    if not SLUG.match(slug):
        raise TenancyError(
            N_("slug '%(slug)s' must be lower-case letters, digits and hyphens (at most 63)"),
            slug=slug,
        )
    if not name.strip():
        raise TenancyError(N_("A tenant needs a name."))
    _check_locales(locales, default_locale)
    if find_tenant(slug) is not None:
        raise TenancyError(N_("a tenant with slug '%(slug)s' already exists"), slug=slug)
    tenant = Tenant(
        slug=slug, name=name.strip(), default_locale=default_locale, locales=list(locales)
    )
    db.session.add(tenant)
    db.session.flush()
    with tenant_scope(tenant):
        create_data_key(tenant.id)
        start_chain(tenant.id)
        record_event(tenant.id, actor=actor, action="tenant.created", target=("tenant", slug))
    return tenant


def _audit(tenant: Tenant, actor, action: str, target: tuple[str, str], details=None) -> None:
    with tenant_scope(tenant):
        record_event(tenant.id, actor=actor, action=action, target=target, details=details)


# -- suspension ----------------------------------------------------------------------------


def suspend_tenant(tenant: Tenant, *, actor) -> None:
    """Stop serving the tenant: its portal and back office answer 404 until it is resumed.
    Nothing is deleted."""
    if tenant.suspended_at is not None:
        raise TenancyError(N_("%(name)s is already suspended."), name=tenant.name)
    tenant.suspended_at = utcnow()
    db.session.flush()
    _audit(tenant, actor, "tenant.suspended", ("tenant", tenant.slug))


def resume_tenant(tenant: Tenant, *, actor) -> None:
    """Serve a suspended tenant again."""
    if tenant.suspended_at is None:
        raise TenancyError(N_("%(name)s is not suspended."), name=tenant.name)
    tenant.suspended_at = None
    db.session.flush()
    _audit(tenant, actor, "tenant.resumed", ("tenant", tenant.slug))


# -- domains -------------------------------------------------------------------------------


def normalise_host(host: str) -> str:
    """`host` in the form tenants are looked up by (lower case, ASCII, no final dot), or
    TenancyError."""
    host = host.strip().lower().rstrip(".")
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        host = "?"
    if not HOST.match(host):
        raise TenancyError(
            N_("'%(host)s' is not a valid host name (for example: report.example.org)."),
            host=host,
        )
    return host


def add_domain(tenant: Tenant, host: str, *, actor) -> TenantDomain:
    """Serve the tenant on a custom domain too; a domain serves one tenant only."""
    host = normalise_host(host)
    base = current_app.config.get("CELLULE_BASE_DOMAIN") if has_app_context() else None
    if base and (host == base or host.endswith("." + base)):
        raise TenancyError(
            N_("Addresses under %(base)s are given by the platform: choose your own domain."),
            base=base,
        )
    if db.session.scalar(select(TenantDomain).where(TenantDomain.host == host)) is not None:
        raise TenancyError(N_("host %(host)s already serves a tenant"), host=host)
    # host names are the platform's directory, which only the platform scope writes (below
    # the application too: row-level security); a tenant's admin adds one through here
    with platform_scope():
        domain = TenantDomain(tenant_id=tenant.id, tenant=tenant, host=host)
        db.session.add(domain)
        db.session.flush()
    _audit(tenant, actor, "tenant.domain_added", ("host", host))
    return domain


def remove_domain(tenant: Tenant, host: str, *, actor) -> None:
    """Stop serving the tenant on one of its custom domains."""
    domain = next((d for d in tenant.domains if d.host == host), None)
    if domain is None:
        raise TenancyError(N_("%(host)s does not serve this institution."), host=host)
    with platform_scope():
        tenant.domains.remove(domain)
        db.session.flush()
    _audit(tenant, actor, "tenant.domain_removed", ("host", host))


# -- languages -----------------------------------------------------------------------------


def _check_locales(locales, default_locale: str) -> None:
    unknown = set(locales) - set(SUPPORTED_LOCALES)
    if not locales or unknown or default_locale not in locales:
        raise TenancyError(
            N_("Choose at least one language among %(languages)s, including the default one."),
            languages=", ".join(SUPPORTED_LOCALES),
        )


def set_locales(tenant: Tenant, locales, default_locale: str, *, actor) -> None:
    """Choose which languages the tenant's pages are offered in, and the default one."""
    locales = [code for code in SUPPORTED_LOCALES if code in set(locales)]
    _check_locales(locales, default_locale)
    if locales == list(tenant.locales) and default_locale == tenant.default_locale:
        return
    tenant.locales, tenant.default_locale = locales, default_locale
    db.session.flush()
    _audit(
        tenant,
        actor,
        "tenant.locales_changed",
        ("tenant", tenant.slug),
        {"locales": locales, "default": default_locale},
    )


# -- branding ------------------------------------------------------------------------------


def _linear(channel: int) -> float:
    value = channel / 255
    return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4


def relative_luminance(colour: str) -> float:
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _linear(red) + 0.7152 * _linear(green) + 0.0722 * _linear(blue)


def contrast_with_white(colour: str) -> float:
    """The WCAG 2.1 contrast ratio between `colour` (#rrggbb) and white, from 1 to 21."""
    return 1.05 / (relative_luminance(colour) + 0.05)


def check_colour(value: str) -> str:
    """`value` as a #rrggbb colour dark enough to carry white text and to show on white."""
    colour = value.strip().lower()
    if not COLOUR.match(colour):
        raise TenancyError(
            N_("'%(colour)s' is not a colour of the form #rrggbb (for example #1d3557)."),
            colour=value.strip(),
        )
    ratio = contrast_with_white(colour)
    if ratio < MIN_CONTRAST:
        raise TenancyError(
            N_(
                "%(colour)s is too light: its contrast with white is %(ratio)s:1, and WCAG 2.1 "
                "level AA asks for at least 4.5:1. Choose a darker colour."
            ),
            colour=colour,
            ratio=f"{ratio:.2f}",
        )
    return colour


SVG = "http://www.w3.org/2000/svg"
XLINK = "http://www.w3.org/1999/xlink"
XML = "http://www.w3.org/XML/1998/namespace"
# Drawing only: no script, style, foreignObject, image, link, animation or filter element.
_DRAWING_ELEMENTS = """
    svg g path rect circle ellipse line polyline polygon title desc defs linearGradient
    radialGradient stop clipPath use text tspan"""
_DRAWING_ATTRIBUTES = """
    id viewBox width height x y x1 y1 x2 y2 cx cy r rx ry fx fy d points transform
    fill fill-opacity fill-rule stroke stroke-width stroke-linecap stroke-linejoin
    stroke-opacity stroke-miterlimit stroke-dasharray stroke-dashoffset opacity
    gradientUnits gradientTransform spreadMethod offset stop-color stop-opacity clip-path
    clip-rule clipPathUnits preserveAspectRatio version baseProfile font-family font-size
    font-weight font-style text-anchor dominant-baseline letter-spacing role aria-label
    aria-hidden focusable visibility display"""
SVG_ELEMENTS = frozenset(_DRAWING_ELEMENTS.split())
SVG_ATTRIBUTES = frozenset(_DRAWING_ATTRIBUTES.split())
LOCAL_REFERENCE = re.compile(r"^#[A-Za-z_][\w.-]*$")
URL_FUNCTION = re.compile(r"url\s*\(", re.I)
LOCAL_URL = re.compile(r"^url\(\s*#[A-Za-z_][\w.-]*\s*\)$")


class _UnsafeSvg(Exception):
    def __init__(self, what: str):
        self.what = what


def _check_svg_element(name: str, attributes: dict) -> None:
    namespace, _, local = name.rpartition(" ")
    if namespace != SVG or local not in SVG_ELEMENTS:
        raise _UnsafeSvg(f"<{local}>")
    for attribute, value in attributes.items():
        attr_namespace, _, attr = attribute.rpartition(" ")
        if attr.lower().startswith("on"):
            raise _UnsafeSvg(f"{attr}=")
        if attr == "href" and attr_namespace in ("", XLINK):
            if local != "use" or not LOCAL_REFERENCE.match(value.strip()):
                raise _UnsafeSvg(f"{attr}={value[:40]}")
            continue
        if attr_namespace == XML and attr == "space":
            continue
        if attr_namespace or attr not in SVG_ATTRIBUTES:
            raise _UnsafeSvg(f"{attr}=")
        if URL_FUNCTION.search(value) and not LOCAL_URL.match(value.strip()):
            raise _UnsafeSvg(f"{attr}={value[:40]}")


def clean_mark_svg(data: bytes | str) -> str:
    """The text of an institution's mark if it is a plain SVG drawing, else TenancyError.

    Refused: anything that is not well-formed SVG; a DOCTYPE or entity (which could pull in
    other files or expand without end); processing instructions; any element that is not a
    drawing element (script, style, foreignObject, image, animation…); event attributes
    (onload…); style attributes; references outside the drawing itself (links, url()).
    """
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > MARK_MAX_BYTES:
        raise TenancyError(
            N_("The mark is too large: at most %(size)s kB."), size=MARK_MAX_BYTES // 1000
        )
    try:
        text = raw.decode("utf-8").lstrip("\ufeff").strip()
    except UnicodeDecodeError:
        raise TenancyError(N_("The mark must be an SVG file in UTF-8.")) from None

    def refuse(*args):
        raise _UnsafeSvg("DOCTYPE, entity or processing instruction")

    parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ProcessingInstructionHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    depth = {"root": None}

    def start(name, attributes):
        if depth["root"] is None:
            depth["root"] = name
        _check_svg_element(name, attributes)

    parser.StartElementHandler = start
    try:
        parser.Parse(text, True)
    except _UnsafeSvg as unsafe:
        raise TenancyError(
            N_(
                "This SVG file cannot be used: it contains %(what)s. A mark may only draw "
                "shapes: no script, no style, no event attribute, no link to anything "
                "outside the file."
            ),
            what=unsafe.what,
        ) from None
    except xml.parsers.expat.ExpatError:
        raise TenancyError(N_("This file is not a valid SVG image.")) from None
    if depth["root"] != f"{SVG} svg":
        raise TenancyError(N_("This file is not a valid SVG image."))
    return text


KEEP = object()  # `set_branding`: leave the mark as it is


def set_branding(
    tenant: Tenant, *, primary_colour: str, accent_colour: str, mark_svg=KEEP, actor
) -> None:
    """Set the tenant's colours (an empty value: the institution's own) and, unless KEEP,
    its mark (None: the institution's own)."""
    branding = dict(tenant.branding or {})
    for key, value in (("primary_colour", primary_colour), ("accent_colour", accent_colour)):
        branding[key] = check_colour(value) if value and value.strip() else None
    if mark_svg is not KEEP:
        branding["mark_svg"] = clean_mark_svg(mark_svg) if mark_svg else None
    branding = {k: v for k, v in branding.items() if v}
    before = tenant.branding or {}
    changed = sorted(k for k in {*branding, *before} if branding.get(k) != before.get(k))
    if not changed:
        return
    tenant.branding = branding
    db.session.flush()
    _audit(
        tenant,
        actor,
        "tenant.branding_changed",
        ("tenant", tenant.slug),
        {"fields": changed, **{k: branding.get(k) for k in changed if k != "mark_svg"}},
    )


# -- plugins -------------------------------------------------------------------------------


def enable_plugin(tenant: Tenant, name: str, *, host: PluginHost, actor) -> None:
    """Turn a plugin on for one tenant, after checking it loads and answers well."""
    host.check_usable(name)
    if name in tenant.enabled_plugins:
        return
    enabled = [*tenant.enabled_plugins, name]
    info = replace(TenantInfo.of(tenant), enabled_plugins=tuple(enabled), revision=0)
    for hook in DATA_HOOKS:
        host.call(info, hook)
    _check_fits_together(host, info, name)
    tenant.enabled_plugins = enabled
    db.session.flush()
    with tenant_scope(tenant):
        sync_committees(tenant.id, host.call(info, "committees"), actor=actor)
        record_event(tenant.id, actor=actor, action="plugin.enabled", target=("plugin", name))


def _check_fits_together(host: PluginHost, info: TenantInfo, name: str) -> None:
    """Refuse plugin data whose parts name each other wrongly (once there is a procedure)."""
    if host.call(info, "procedure") is None or host.call(info, "institution_profile") is None:
        return
    problems = Institution.of(host, info).problems()
    if problems:
        raise PluginError(name, None, "its data does not fit together: " + "; ".join(problems))


def disable_plugin(tenant: Tenant, name: str, *, actor, host: PluginHost | None = None) -> None:
    """Turn a plugin off for one tenant.

    With `host`, what remains is checked first: the other plugins' data must still fit
    together, and every open case must still be in a stage of the procedure that remains.
    """
    if name not in tenant.enabled_plugins:
        raise TenancyError(
            N_("plugin '%(plugin)s' is not enabled for %(slug)s"), plugin=name, slug=tenant.slug
        )
    remaining = [p for p in tenant.enabled_plugins if p != name]
    if host is not None:
        info = replace(TenantInfo.of(tenant), enabled_plugins=tuple(remaining), revision=0)
        _check_fits_together(host, info, name)
        _check_open_cases_keep_their_stage(tenant, host, info, name)
    tenant.enabled_plugins = remaining
    db.session.flush()
    with tenant_scope(tenant):
        record_event(tenant.id, actor=actor, action="plugin.disabled", target=("plugin", name))


def _check_open_cases_keep_their_stage(
    tenant: Tenant, host: PluginHost, info: TenantInfo, name: str
) -> None:
    from core.cases.models import Case  # the cases package builds on tenancy

    with tenant_scope(tenant):
        states = set(
            db.session.scalars(
                select(Case.state).where(Case.tenant_id == tenant.id, Case.closed_at.is_(None))
            )
        )
    if not states:
        return
    procedure = host.call(info, "procedure") if info.enabled_plugins else None
    known = {state["key"] for state in procedure["states"]} if procedure else set()
    if states - known:
        raise TenancyError(
            N_("%(plugin)s cannot be disabled: open cases follow its procedure. Close them first."),
            plugin=name,
        )
