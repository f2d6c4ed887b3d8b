"""The plugin system: per-tenant dispatch, call modes, validation, discovery and isolation.

Ad-hoc plugins are registered with the `ad_hoc_plugin` fixture (unregistered after each
test). Discovery is tested on real distributions from `tests/fixtures/`, installed with pip
into a temporary folder once per session.
"""

import copy
import inspect
import logging
import re
import types
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from sqlalchemy import select

from core import hookspecs
from core.audit.models import AuditEvent
from core.audit.operations import verify_chain
from core.committees.models import Committee
from core.extensions import db
from core.plugins import PluginError, PluginHost, TenantInfo, hookimpl
from core.plugins.schemas import HOOK_SCHEMAS
from core.tenancy.operations import disable_plugin, enable_plugin
from core.tenancy.scoping import platform_scope, tenant_scope

FIXTURES = Path(__file__).parent / "fixtures"
BUNDLED = ("neoma", "ciup", "polytechnique")

# -- plugin data ------------------------------------------------------------------------

PROFILE = {
    "name": "Example School",
    "short_name": "Example",
    "default_locale": "fr",
    "locales": ["fr", "en"],
    "timezone": "Europe/Paris",
    "calendar": {"country": "FR", "subdivision": None},
    "branding": {"primary_colour": "#1d3557", "accent_colour": "#e63946", "mark_svg": None},
    "sites": [{"key": "main", "name": "Main campus", "attributes": {}}],
    "welcome": "You are not alone.",
    "contact_email": "listening@example.org",
    "categories": [{"key": "sexual_harassment", "label": "Sexual harassment"}],
}
REPORT = {
    "relation": "witness",
    "anonymous": True,
    "site": "main",
    "sites": {"report": "main"},
    "categories": ["sexual_harassment"],
    "answers": {},
    "consents": [],
}
PROCEDURE = {
    "initial_state": "received",
    "states": [
        {"key": "received", "label": "Received", "final": False, "description": ""},
        {"key": "acknowledged", "label": "Acknowledged", "final": False, "description": ""},
        {"key": "closed", "label": "Closed", "final": True, "description": ""},
    ],
    "transitions": [
        {
            "key": "acknowledge",
            "label": "Acknowledge receipt",
            "from": ["received"],
            "to": "acknowledged",
            "roles": ["listener"],
            "requires_consent": [],
            "informs": [{"party": "reporter", "message": "We have your report."}],
        },
        {
            "key": "confirm_statement",
            "label": "Confirm the statement",
            "from": ["acknowledged"],
            "to": None,
            "roles": ["reporter"],
        },
        {
            "key": "close",
            "label": "Close the case",
            "from": ["acknowledged"],
            "to": "closed",
            "roles": ["listening_unit"],
            "requires_consent": [{"consent": "victim_agreement", "when": {}}],
            "informs": [{"party": "reporter", "message": "Your case is closed."}],
        },
    ],
    "deadlines": [
        {
            "key": "acknowledgement",
            "label": "Acknowledge the report",
            "starts": ["received"],
            "ends": ["acknowledge"],
            "working_days": 2,
        }
    ],
    "consents": [{"key": "victim_agreement", "label": "The victim agrees to go on"}],
}


def profile(name: str, **branding) -> dict:
    data = copy.deepcopy(PROFILE)
    data["name"] = name
    data["branding"].update(branding)
    return data


def route(committee: str) -> dict:
    return {"committee": committee, "site": "main", "also_notify": [], "reason": "by site"}


def helpline(key: str, *, order: int = 1000, **fields) -> dict:
    line = {
        "key": key,
        "name": key.replace("_", " ").capitalize(),
        "number": "3919",
        "channels": ["phone"],
        "hours": {"always": True},
        "emergency": False,
        "order": order,
    }
    return line | fields


def form_field(key: str) -> dict:
    return {"key": key, "label": key.capitalize(), "type": "text"}


def procedure_reaching(state: str) -> dict:
    """The procedure, with its last transition leading to `state`."""
    data = copy.deepcopy(PROCEDURE)
    data["transitions"][-1]["to"] = state
    return data


# -- ad-hoc plugins ---------------------------------------------------------------------


def plugin_module(name: str, **hooks) -> types.ModuleType:
    """A plugin module made on the fly: each keyword is a hook and its implementation."""
    module = types.ModuleType(name)
    for hook, function in hooks.items():
        setattr(module, hook, hookimpl(function))
    return module


def returning(answer):
    return lambda tenant: answer


def raising(tenant):
    raise ConnectionError("directory offline")


class Directory:
    """Gives help lines and form fields, and records which tenants asked for them."""

    def __init__(self, *lines: dict, fields: tuple[dict, ...] = ()):
        self.lines, self.fields = list(lines), list(fields)
        self.asked_by: list[str] = []

    @hookimpl
    def helplines(self, tenant):
        self.asked_by.append(tenant.slug)
        return self.lines

    @hookimpl
    def report_form(self, tenant):
        return self.fields


class Answering:
    """Answers `institution_profile` and `route_report` with fixed data, counting calls."""

    def __init__(self, **answers: dict):
        self.answers = answers
        self.calls = 0

    @hookimpl
    def institution_profile(self, tenant):
        self.calls += 1
        return self.answers.get("institution_profile")

    @hookimpl
    def route_report(self, tenant, report):
        self.calls += 1
        return self.answers.get("route_report")


class EveryHook:
    """A plugin implementing every hook with valid data."""

    @hookimpl
    def institution_profile(self, tenant):
        return profile(f"{tenant.name} School")

    @hookimpl
    def committees(self, tenant):
        return [
            {
                "key": "listening_unit",
                "name": "Listening unit",
                "purpose": "listening",
                "description": "Receives every report.",
                "min_members": 2,
                "max_members": None,
                "roles": [{"key": "officer", "name": "Officer", "min": 2}],
                "conditions": [
                    {
                        "key": "two_officers_at_intake",
                        "description": "Every intake interview is held by two officers",
                        "kind": "note",
                    }
                ],
            },
            {"key": "disciplinary_board", "name": "Disciplinary board", "purpose": "decision"},
        ]

    @hookimpl
    def route_report(self, tenant, report):
        return {
            "committee": "listening_unit",
            "site": report["site"],
            "also_notify": ["disciplinary_board"] if report["relation"] == "witness" else [],
            "reason": f"{report['relation']} report",
        }

    @hookimpl
    def procedure(self, tenant):
        return PROCEDURE

    @hookimpl
    def sanction_ladder(self, tenant):
        return {
            "measures": [
                {"key": "no_contact", "label": "No-contact order", "kind": "protective"},
                {
                    "key": "reminder",
                    "label": "Reminder of the rules",
                    "kind": "sanction",
                    "rank": 1,
                },
                {"key": "exclusion", "label": "Exclusion", "kind": "sanction", "rank": 2},
            ],
            "appeal": {"label": "Appeal", "description": "Within two months."},
        }

    @hookimpl
    def helplines(self, tenant):
        return [
            helpline("police", order=1, number="17", emergency=True, languages=["fr"]),
            helpline("listening_line", order=10, number=None, email="listen@example.org"),
        ]

    @hookimpl
    def legal_definitions(self, tenant):
        return [
            {
                "key": "sexual_harassment",
                "title": "Sexual harassment",
                "reference": "Code pénal, art. 222-33",
                "text": "Imposing repeated remarks or behaviour of a sexual nature on a person.",
                "order": 10,
            }
        ]

    @hookimpl
    def report_form(self, tenant):
        return [
            {
                "key": "campus",
                "label": "Campus",
                "type": "choice",
                "required": True,
                "choices": [{"value": "main", "label": "Main campus"}],
            },
            {"key": "when", "label": "When did it happen?", "type": "date"},
        ]

    @hookimpl
    def statement_form(self, tenant):
        return {
            "title": "Statement",
            "submit_transition": "acknowledge",
            "validate_transition": "confirm_statement",
            "sections": [
                {
                    "key": "facts",
                    "title": "The facts",
                    "fields": [
                        {"key": "what", "label": "What happened", "type": "textarea"},
                        {
                            "key": "ongoing",
                            "label": "Is it still happening?",
                            "type": "choice",
                            "choices": [{"value": "yes", "label": "Yes"}],
                        },
                    ],
                }
            ],
        }

    @hookimpl
    def hearing_rules(self, tenant):
        return {"assistance": "person_of_choice", "voluntary": True, "note": "On campus."}


@dataclass
class Settings:
    """A plugin object that is a dataclass, hence unhashable."""

    number: str = "3919"

    @hookimpl
    def helplines(self, tenant):
        return [helpline("settings_line", number=self.number)]


# -- helpers and fixtures -----------------------------------------------------------------


def tenant_with(*enabled: str) -> TenantInfo:
    """A tenant as hooks see it, for tests of a bare host that need no database."""
    return TenantInfo(1, "school", "School", "fr", ("fr", "en"), 1, enabled)


def keys(items: list[dict]) -> list[str]:
    return [item["key"] for item in items]


def includes(loaded, given) -> bool:
    """Whether `loaded` holds everything `given` holds: validation may only add defaults."""
    if isinstance(given, dict):
        return isinstance(loaded, dict) and all(
            key in loaded and includes(loaded[key], value) for key, value in given.items()
        )
    if isinstance(given, list):
        return (
            isinstance(loaded, list)
            and len(loaded) == len(given)
            and all(map(includes, loaded, given))
        )
    return loaded == given


def plugin_events(tenant) -> list[tuple[str, str, str]]:
    """The tenant's audit events about plugins, oldest first."""
    with tenant_scope(tenant):
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action.like("plugin.%")).order_by(AuditEvent.seq)
        )
        return [(event.action, event.target_type, event.target_id) for event in events]


@pytest.fixture(scope="session")
def example_distribution(pip_installed) -> Path:
    return pip_installed(FIXTURES / "cellule_example_plugin")


@pytest.fixture(scope="session")
def broken_distribution(pip_installed) -> Path:
    return pip_installed(FIXTURES / "cellule_broken_plugin")


@pytest.fixture
def example_installed(example_distribution, monkeypatch):
    """`cellule-example-plugin` is installed for this test only."""
    monkeypatch.syspath_prepend(example_distribution)


@pytest.fixture
def broken_installed(broken_distribution, monkeypatch):
    """`cellule-broken-plugin` is installed for this test only."""
    monkeypatch.syspath_prepend(broken_distribution)


@pytest.fixture
def host() -> PluginHost:
    """A plugin host of its own, with no plugin registered."""
    return PluginHost.create()


# -- per-tenant dispatch ----------------------------------------------------------------


def test_hooks_are_called_only_on_the_plugins_a_tenant_enabled(plugins, ad_hoc_plugin, make_tenant):
    x = ad_hoc_plugin("x", Directory(helpline("x_line", order=1)))
    y = ad_hoc_plugin("y", Directory(helpline("y_line", order=1)))
    z = ad_hoc_plugin("z", Directory(helpline("z_line", order=2)))
    alpha = make_tenant("alpha", enable=("x", "z"))
    beta = make_tenant("beta", enable=("y",))
    assert "alpha" not in y.asked_by and "beta" not in x.asked_by + z.asked_by
    for plugin in (x, y, z):
        plugin.asked_by.clear()

    assert keys(plugins.call(TenantInfo.of(alpha), "helplines")) == ["x_line", "z_line"]
    assert keys(plugins.call(TenantInfo.of(beta), "helplines")) == ["y_line"]
    assert keys(plugins.call(TenantInfo.of(alpha), "helplines")) == ["x_line", "z_line"]
    assert (x.asked_by, y.asked_by, z.asked_by) == (["alpha"], ["beta"], ["alpha"])

    revision = alpha.revision
    with platform_scope():
        disable_plugin(alpha, "z", actor="platform")
    db.session.commit()

    assert alpha.revision > revision
    assert alpha.enabled_plugins == ["x"]
    assert keys(plugins.call(TenantInfo.of(alpha), "helplines")) == ["x_line"]
    assert keys(plugins.call(TenantInfo.of(beta), "helplines")) == ["y_line"]
    assert (x.asked_by, y.asked_by, z.asked_by) == (["alpha", "alpha"], ["beta"], ["alpha"])


def test_cached_results_are_renewed_when_the_tenant_changes(plugins, ad_hoc_plugin, make_tenant):
    named = plugin_module("named", helplines=lambda tenant: [helpline("line", name=tenant.name)])
    ad_hoc_plugin("named", named)
    tenant = make_tenant("alpha", name="Alpha", enable=("named",))
    assert plugins.call(TenantInfo.of(tenant), "helplines")[0]["name"] == "Alpha"

    revision = tenant.revision
    with tenant_scope(tenant):  # a tenant may rename itself
        tenant.name = "Alpha Institute"
        db.session.commit()

    assert tenant.revision > revision
    assert plugins.call(TenantInfo.of(tenant), "helplines")[0]["name"] == "Alpha Institute"


def test_tenants_whose_plugins_answer_alike_share_one_copy(plugins, ad_hoc_plugin, make_tenant):
    """A thousand tenants on three plugins must not hold a thousand copies of their data."""
    named = plugin_module("named", helplines=lambda tenant: [helpline("line", name=tenant.name)])
    ad_hoc_plugin("named", named)
    alpha, beta = (make_tenant(s, name="Same", enable=("named", "ciup")) for s in ("al", "be"))
    gamma = make_tenant("ga", name="Other", enable=("named", "ciup"))
    one, two, other = (TenantInfo.of(t) for t in (alpha, beta, gamma))
    for hook in ("procedure", "helplines"):
        assert plugins.call(one, hook, locale="fr") is plugins.call(two, hook, locale="fr")

    # an answer that depends on the tenant stays the tenant's own
    def line(info):
        return next(h for h in plugins.call(info, "helplines") if h["key"] == "line")

    assert (line(other)["name"], line(one)["name"]) == ("Other", "Same")
    assert plugins.call(one, "procedure", locale="en") is not plugins.call(one, "procedure")


# -- call modes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hook", "early", "late", "kwargs"),
    [
        ("institution_profile", profile("Early School"), profile("Late School"), {}),
        ("route_report", route("early_unit"), route("late_unit"), {"report": REPORT}),
    ],
    ids=["institution_profile", "route_report"],
)
def test_first_answer_that_is_not_none_wins(
    plugins, ad_hoc_plugin, make_tenant, hook, early, late, kwargs
):
    # pluggy asks the most recently registered plugin first: silent, then early, then late.
    late_plugin = ad_hoc_plugin("late", Answering(**{hook: late}))
    early_plugin = ad_hoc_plugin("early", Answering(**{hook: early}))
    silent_plugin = ad_hoc_plugin("silent", Answering())
    tenant = make_tenant("alpha", enable=("late", "early", "silent"))
    for plugin in (late_plugin, early_plugin, silent_plugin):
        plugin.calls = 0

    assert includes(plugins.call(TenantInfo.of(tenant), hook, **kwargs), early)
    assert (silent_plugin.calls, early_plugin.calls, late_plugin.calls) == (1, 1, 0)


def test_helplines_are_collected_from_every_plugin_sorted_and_without_repeats(
    plugins, ad_hoc_plugin, make_tenant
):
    national = Directory(helpline("police", order=1, name="Police"), helpline("fr_3919", order=20))
    school = Directory(
        helpline("night_line", order=30),
        helpline("police", order=1, name="Police (school copy)"),
        helpline("campus_nurse", order=10),
    )
    ad_hoc_plugin("national", national)
    ad_hoc_plugin("school", school)  # registered last, so asked first
    tenant = make_tenant("alpha", enable=("national", "school"))

    lines = plugins.call(TenantInfo.of(tenant), "helplines")

    assert keys(lines) == ["police", "campus_nurse", "fr_3919", "night_line"]
    assert lines[0]["name"] == "Police (school copy)"


def test_report_form_keys_must_be_unique_across_plugins(plugins, ad_hoc_plugin, make_tenant):
    ad_hoc_plugin("housing", Directory(fields=(form_field("campus"), form_field("house"))))
    ad_hoc_plugin("campus_life", Directory(fields=(form_field("campus"),)))
    tenant = make_tenant("alpha", enable=("housing",))
    both = replace(TenantInfo.of(tenant), enabled_plugins=("housing", "campus_life"))

    with pytest.raises(PluginError) as caught:
        plugins.call(both, "report_form")

    # campus_life, registered last, is asked first; housing repeats its key.
    assert (caught.value.plugin, caught.value.hook) == ("housing", "report_form")
    assert "'campus' is already used by plugin 'campus_life'" in str(caught.value)
    with platform_scope(), pytest.raises(PluginError, match="'campus' is already used"):
        enable_plugin(tenant, "campus_life", host=plugins, actor="platform")


# -- faulty plugins ---------------------------------------------------------------------

FAULTY = [
    pytest.param(
        "helplines",
        returning([helpline("silent_line", number=None)]),
        "give at least one of number, email, url",
        id="helpline-unreachable",
    ),
    pytest.param(
        "institution_profile",
        returning(profile("Bad School", primary_colour="navy")),
        "must be a colour like #1d3557",
        id="profile-bad-colour",
    ),
    pytest.param(
        "procedure",
        returning(procedure_reaching("archived")),
        "transition 'close' names unknown state 'archived'",
        id="procedure-unknown-state",
    ),
    pytest.param(
        "helplines",
        raising,
        "raised ConnectionError('directory offline')",
        id="hook-raises",
    ),
]


@pytest.mark.parametrize(("hook", "implementation", "problem"), FAULTY)
def test_a_faulty_plugin_fails_naming_itself_and_the_hook(host, hook, implementation, problem):
    host.add("sloppy", plugin_module("sloppy", **{hook: implementation}))

    with pytest.raises(PluginError) as caught:
        host.call(tenant_with("sloppy"), hook)

    assert (caught.value.plugin, caught.value.hook) == ("sloppy", hook)
    assert str(caught.value).startswith(f"hook '{hook}' of plugin 'sloppy': ")
    assert problem in str(caught.value)


@pytest.mark.parametrize(("hook", "implementation", "problem"), FAULTY)
def test_enable_plugin_refuses_a_faulty_plugin(
    plugins, ad_hoc_plugin, make_tenant, hook, implementation, problem
):
    ad_hoc_plugin("national", Directory(helpline("police", order=1)))
    ad_hoc_plugin("sloppy", plugin_module("sloppy", **{hook: implementation}))
    tenant = make_tenant("alpha", enable=("national",))
    revision = tenant.revision

    with platform_scope(), pytest.raises(PluginError) as caught:
        enable_plugin(tenant, "sloppy", host=plugins, actor="platform")
    db.session.rollback()

    assert "of plugin 'sloppy'" in str(caught.value) and problem in str(caught.value)
    assert (tenant.enabled_plugins, tenant.revision) == (["national"], revision)
    assert plugin_events(tenant) == [("plugin.enabled", "plugin", "national")]


def test_a_faulty_plugin_breaks_only_the_tenants_that_enabled_it(
    plugins, ad_hoc_plugin, make_tenant
):
    ad_hoc_plugin("router", Answering(route_report=route("listening_unit")))
    ad_hoc_plugin("faulty", plugin_module("faulty", route_report=raising))  # asked first
    alpha = make_tenant("alpha", enable=("router", "faulty"))
    beta = make_tenant("beta", enable=("router",))

    with pytest.raises(PluginError, match="hook 'route_report' of plugin 'faulty'"):
        plugins.call(TenantInfo.of(alpha), "route_report", report=REPORT)
    assert includes(
        plugins.call(TenantInfo.of(beta), "route_report", report=REPORT), route("listening_unit")
    )


# -- loading ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plugin", "problem"),
    [
        pytest.param(
            plugin_module("typo", helpline=returning([])),
            "implements a hook that does not exist: unknown hook 'helpline'",
            id="misspelled-hook",
        ),
        pytest.param(
            plugin_module("extra", helplines=lambda tenant, locale: []),
            "could not be registered",
            id="unknown-argument",
        ),
        pytest.param(
            Settings(), "could not be registered: unhashable type", id="unhashable-object"
        ),
    ],
)
def test_a_plugin_that_cannot_load_is_recorded_and_the_others_load(host, plugin, problem):
    assert host.add("before", Directory(helpline("before_line", order=1)))

    assert not host.add("bad", plugin)

    assert host.add("after", Directory(helpline("after_line", order=2)))
    assert problem in host.broken["bad"]
    assert "bad" not in host.plugins and host.manager.get_plugin("bad") is None
    assert keys(host.call(tenant_with("before", "after"), "helplines")) == [
        "before_line",
        "after_line",
    ]
    with pytest.raises(PluginError, match=f"^plugin 'bad': {re.escape(problem)}"):
        host.check_usable("bad")


def test_check_usable_names_an_unknown_plugin_and_what_is_installed(host):
    host.add("national", Directory())
    host.check_usable("national")
    with pytest.raises(
        PluginError, match=r"^plugin 'nope': is not installed \(installed: national\)"
    ):
        host.check_usable("nope")


def test_a_distribution_installed_with_pip_is_discovered(example_installed, make_tenant):
    host = PluginHost.discover()

    info = host.plugins["example"]
    assert (info.distribution, info.version) == ("cellule-example-plugin", "0.1.0")
    assert (info.module, info.hooks) == ("cellule_example_plugin", ("institution_profile",))
    assert set(BUNDLED) <= set(host.plugins) and not host.broken

    tenant = make_tenant("example")
    with platform_scope():
        enable_plugin(tenant, "example", host=host, actor="platform")
    db.session.commit()

    assert tenant.enabled_plugins == ["example"]
    assert host.call(TenantInfo.of(tenant), "institution_profile")["name"] == "Example School"


def test_broken_distributions_are_recorded_and_the_rest_load(broken_installed, caplog):
    logger = logging.getLogger("cellule.test")

    with caplog.at_level(logging.ERROR, logger="cellule.test"):
        host = PluginHost.discover(logger)

    assert set(host.broken) == {"unimportable", "misspelled"}
    assert "could not be imported" in host.broken["unimportable"]
    assert "cellule_missing_dependency" in host.broken["unimportable"]
    assert "unknown hook 'helpline'" in host.broken["misspelled"]
    assert set(host.plugins) == set(BUNDLED)
    assert sorted(record.args[0] for record in caplog.records) == ["misspelled", "unimportable"]
    with pytest.raises(PluginError, match=r"^plugin 'unimportable': could not be imported"):
        host.check_usable("unimportable")
    host.check_usable("neoma")


# -- audit ------------------------------------------------------------------------------


def test_enabling_and_disabling_a_plugin_is_audited(plugins, ad_hoc_plugin, make_tenant):
    ad_hoc_plugin("national", Directory(helpline("police")))
    alpha = make_tenant("alpha")
    beta = make_tenant("beta")

    with platform_scope():
        enable_plugin(alpha, "national", host=plugins, actor="platform")
        disable_plugin(alpha, "national", actor="platform")
    db.session.commit()

    assert plugin_events(alpha) == [
        ("plugin.enabled", "plugin", "national"),
        ("plugin.disabled", "plugin", "national"),
    ]
    assert plugin_events(beta) == []
    with tenant_scope(alpha):
        assert verify_chain(alpha.id).ok


def test_enabling_a_plugin_creates_the_committees_it_declares(ad_hoc_plugin, make_tenant):
    ad_hoc_plugin("every", EveryHook())
    tenant = make_tenant("alpha", enable=("every",))

    with tenant_scope(tenant):
        committees = db.session.scalars(select(Committee.key).order_by(Committee.key)).all()
    assert committees == ["disciplinary_board", "listening_unit"]


# -- the hook specifications --------------------------------------------------------------

SPECS = {name: spec for name, spec in vars(hookspecs).items() if hasattr(spec, "cellule_spec")}


def test_every_hookspec_has_a_schema_and_every_schema_a_hookspec(host):
    specified = {name for name, caller in vars(host.manager.hook).items() if caller.has_spec()}
    assert set(SPECS) == specified == set(HOOK_SCHEMAS)


@pytest.mark.parametrize("hook", sorted(HOOK_SCHEMAS))
def test_every_hookspec_is_documented_and_takes_the_tenant(host, hook):
    spec = getattr(host.manager.hook, hook).spec
    doc = inspect.getdoc(spec.function) or ""
    schema, many = HOOK_SCHEMAS[hook]
    first_result = bool(spec.opts["firstresult"])

    assert spec.argnames[0] == "tenant"
    assert all(f":param {name}:" in doc for name in spec.argnames)
    assert ":return:" in doc and f"``{schema.__name__}``" in doc
    assert many is not first_result, "a collect-all hook returns a list of items"
    assert ("``firstresult``" if first_result else "Collect-all") in doc


# -- a plugin implementing every hook -----------------------------------------------------


def test_the_every_hook_plugin_implements_every_hook(ad_hoc_plugin, plugins):
    ad_hoc_plugin("every", EveryHook())
    assert set(plugins.plugins["every"].hooks) == set(HOOK_SCHEMAS)


@pytest.mark.parametrize("hook", sorted(HOOK_SCHEMAS))
def test_every_hook_of_a_valid_plugin_validates(plugins, ad_hoc_plugin, make_tenant, hook):
    plugin = ad_hoc_plugin("every", EveryHook())
    tenant = make_tenant("alpha", name="Alpha", enable=("every",))
    info = TenantInfo.of(tenant)
    kwargs = {"report": REPORT} if hook == "route_report" else {}

    result = plugins.call(info, hook, **kwargs)

    assert result and includes(result, getattr(plugin, hook)(tenant=info, **kwargs))
    if hook == "route_report":
        victim = plugins.call(info, hook, report=REPORT | {"relation": "victim"})
        assert (result["also_notify"], victim["also_notify"]) == (["disciplinary_board"], [])
    if hook == "institution_profile":
        assert result["name"] == "Alpha School"


# -- the command line ---------------------------------------------------------------------


def test_cli_lists_the_bundled_plugins(runner):
    result = runner.invoke(args=["plugins", "list"])

    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.output.splitlines()}
    for name in BUNDLED:
        assert rows[name].split()[1] == "cellule"
        assert all(hook in rows[name] for hook in ("institution_profile", "procedure"))
    assert "BROKEN" not in result.output


def test_cli_lists_broken_plugins_with_their_problem(broken_installed, runner, app, monkeypatch):
    monkeypatch.setitem(app.extensions, "cellule.plugins", PluginHost.discover())

    result = runner.invoke(args=["plugins", "list"])

    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.output.splitlines()}
    assert set(rows) == {*BUNDLED, "unimportable", "misspelled"}
    assert "BROKEN: could not be imported" in rows["unimportable"]
    assert "BROKEN: implements a hook that does not exist" in rows["misspelled"]


def test_cli_refuses_to_enable_an_unknown_plugin(runner, make_tenant):
    tenant = make_tenant("alpha")
    revision = tenant.revision

    result = runner.invoke(args=["tenant", "enable-plugin", "alpha", "nope"])

    assert result.exit_code != 0
    assert "plugin 'nope': is not installed" in result.output
    assert (tenant.enabled_plugins, tenant.revision) == ([], revision)
    assert plugin_events(tenant) == []

    result = runner.invoke(args=["tenant", "enable-plugin", "alpha", "neoma"])

    assert result.exit_code == 0, result.output
    assert tenant.enabled_plugins == ["neoma"]
    assert plugin_events(tenant) == [("plugin.enabled", "plugin", "neoma")]
