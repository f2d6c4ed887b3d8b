"""The procedure engine's own rules, apart from any one institution."""

import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from core import PROJECT_ROOT
from core.cases.operations import ProcedureRefusal
from core.extensions import db
from core.plugins import PluginError, TenantInfo
from core.procedure.calendar import WorkingCalendar
from core.procedure.conditions import Facts, holds

PARIS = WorkingCalendar("FR", None, "Europe/Paris")


# -- the calendar -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        (date(2026, 3, 2), 2, date(2026, 3, 4)),  # Monday + 2: Wednesday
        (date(2026, 3, 6), 1, date(2026, 3, 9)),  # Friday + 1: Monday
        (date(2026, 3, 7), 1, date(2026, 3, 9)),  # a Saturday does not count itself
        (date(2026, 4, 3), 1, date(2026, 4, 7)),  # Easter Monday is a public holiday
        (date(2026, 7, 13), 1, date(2026, 7, 15)),  # 14 July
        (date(2026, 12, 24), 5, date(2027, 1, 4)),  # Christmas, New Year's Day, a weekend
    ],
)
def test_working_days_skip_weekends_and_french_public_holidays(start, days, due):
    assert PARIS.add_working_days(start, days) == due
    assert PARIS.working_days_between(start, due) == days


def test_a_regional_calendar_knows_its_own_holidays():
    moselle = WorkingCalendar("FR", "57", "Europe/Paris")
    good_friday = date(2026, 4, 3)
    assert not moselle.is_working_day(good_friday)
    assert PARIS.is_working_day(good_friday)


def test_deadlines_close_at_the_end_of_the_local_day_whatever_the_season():
    winter = datetime(2026, 1, 5, 9, tzinfo=UTC)
    summer = datetime(2026, 7, 6, 9, tzinfo=UTC)
    assert PARIS.due(winter, working_days=1) == datetime(2026, 1, 6, 22, 59, 59, tzinfo=UTC)
    assert PARIS.due(summer, working_days=1) == datetime(2026, 7, 7, 21, 59, 59, tzinfo=UTC)
    assert PARIS.due(winter, calendar_days=3) == datetime(2026, 1, 8, 22, 59, 59, tzinfo=UTC)
    assert PARIS.due(winter, hours=72) == winter + timedelta(hours=72)
    # 23:30 in Paris on Monday is already Tuesday's date in UTC+1's eyes, not in UTC's
    late = datetime(2026, 1, 5, 23, 30, tzinfo=UTC)  # 00:30 on Tuesday in Paris
    assert PARIS.due(late, working_days=1) == datetime(2026, 1, 7, 22, 59, 59, tzinfo=UTC)


# -- conditions --------------------------------------------------------------------------


def test_every_part_of_a_condition_must_hold():
    facts = Facts(
        relation="witness",
        anonymous=False,
        sites={"implicated": "north"},
        flags=frozenset({"serious_facts"}),
        consents=frozenset({"lift_anonymity"}),
        site_attributes={"north": {"affiliated": True}},
    )
    assert holds({}, facts) and holds(None, facts)
    assert holds({"relation": ["witness", "knowledge"], "anonymous": False}, facts)
    assert not holds({"relation": ["victim"]}, facts)
    assert holds({"flags": ["serious_facts"], "not_flags": ["serious_danger"]}, facts)
    assert not holds({"not_flags": ["serious_facts"]}, facts)
    assert holds({"consents": ["lift_anonymity"]}, facts)
    assert not holds({"consents": ["lift_anonymity", "share_with_rsi"]}, facts)
    affiliated = {"party": "implicated", "attribute": "affiliated", "equals": True}
    assert holds({"site_attribute": affiliated}, facts)
    assert not holds({"site_attribute": {**affiliated, "equals": False}}, facts)
    assert not holds({"site_attribute": {**affiliated, "party": "victim"}}, facts)


# -- plugin data that does not fit together ----------------------------------------------


def _mismatched(name, **changes):
    """A copy of Polytechnique's data with one cross-reference broken."""
    from plugins import polytechnique

    class Mismatched:
        pass

    plugin = Mismatched()
    for hook in ("institution_profile", "committees", "sanction_ladder", "report_form"):
        setattr(plugin, hook, getattr(polytechnique, hook))
    for hook, function in changes.items():
        setattr(plugin, hook, function)
    if "procedure" not in changes:
        plugin.procedure = polytechnique.procedure
    return plugin


def test_enabling_refuses_a_procedure_naming_an_unknown_committee(
    plugins, ad_hoc_plugin, make_tenant
):
    from core.plugins import hookimpl
    from plugins.polytechnique import procedure as real

    @hookimpl
    def procedure(tenant):
        data = dict(real(tenant))
        first = {**data["transitions"][0], "roles": ["ethics_board"]}
        return {**data, "transitions": [first, *data["transitions"][1:]]}

    ad_hoc_plugin("mismatched", _mismatched("mismatched", procedure=procedure))
    with pytest.raises(PluginError, match="names unknown role or committee 'ethics_board'"):
        make_tenant("mismatch", enable=("mismatched",))


def test_enabling_refuses_a_form_giving_an_unknown_consent(plugins, ad_hoc_plugin, make_tenant):
    from core.plugins import hookimpl

    @hookimpl
    def report_form(tenant):
        return [{"key": "ok", "label": "OK", "type": "consent", "consent": "blanket_consent"}]

    ad_hoc_plugin("mismatched", _mismatched("mismatched", report_form=report_form))
    with pytest.raises(PluginError, match="form field 'ok' names unknown consent"):
        make_tenant("mismatch", enable=("mismatched",))


# -- what people read --------------------------------------------------------------------


def test_plugin_texts_come_translated_in_the_readers_language(plugins, make_tenant):
    tenant = make_tenant("x", enable=("polytechnique",))
    info = TenantInfo.of(tenant)
    english = {s["key"]: s for s in plugins.call(info, "procedure")["states"]}
    french = {s["key"]: s for s in plugins.call(info, "procedure", locale="fr")["states"]}
    assert english["received"]["label"] == "Report received"
    assert french["received"]["label"] not in ("", "Report received")
    assert french["received"]["key"] == "received"  # keys are never translated
    police = plugins.call(info, "helplines", locale="fr")[0]
    assert police["number"] == "17" and police["name"] != "Police and gendarmerie"


def test_a_refusal_reads_in_the_readers_language(app, make_tenant, make_member, case_runner):
    tenant = make_tenant("x", enable=("polytechnique",))
    unit = make_member(tenant, "dhamis_unit")
    runner = case_runner(tenant)
    case = runner.submit()
    runner.take(case, "reply_to_reporter", unit)
    refusal = runner.refusal(case, "open_inquiry", unit)
    assert refusal.source_message.startswith("You are not among the people who may take")
    with app.test_request_context("/?lang=fr"):
        french = str(refusal)
    assert french.startswith("Vous ne faites pas partie des personnes")
    # the step's name is translated too, through the plugin's catalogue
    assert "Open an administrative" not in french and "« " in french


@pytest.mark.parametrize(
    ("step", "kwargs", "rule"),
    [
        ("reply_to_reporter", {}, "role"),  # refused first thing
        ("refer_to_professionals", {"measures": ["report_to_prosecutor"]}, "measures"),  # late
    ],
)
def test_refused_steps_change_nothing(make_tenant, make_member, case_runner, step, kwargs, rule):
    from core.cases.operations import take_transition
    from core.tenancy.scoping import tenant_scope

    tenant = make_tenant("x", enable=("polytechnique",))
    unit, management = make_member(tenant, "dhamis_unit"), make_member(tenant, "management")
    runner = case_runner(tenant)
    case = runner.submit()
    runner.consent(case, "support_referral")
    actor = management if rule == "role" else unit
    if rule != "role":
        runner.take(case, "reply_to_reporter", unit)
    with tenant_scope(tenant):
        db.session.flush()
        with pytest.raises(ProcedureRefusal) as refused:
            take_transition(case, step, actor=actor, institution=runner.institution, **kwargs)
        assert refused.value.rule == rule
        # nothing was added or changed in the session before the refusal
        assert not db.session.new and not db.session.dirty
        db.session.rollback()


# -- the core stays institution-neutral ---------------------------------------------------


def test_the_core_names_no_institution():
    names = re.compile(r"neoma|ciup|polytechnique|angela|dhamis|cité internationale", re.I)
    offenders = [
        str(path.relative_to(PROJECT_ROOT))
        for path in (PROJECT_ROOT / "core").rglob("*")
        if path.suffix in {".py", ".html", ".po", ".pot"}
        and names.search(path.read_text(encoding="utf-8"))
        and path.name not in {"hookspecs.py"}  # the reference quotes examples
    ]
    assert offenders == []


# -- upgrading a database that already holds cases -----------------------------------------


def test_upgrading_keeps_cases_opened_before_the_procedure_engine(app, owner_engine):
    db.session.remove()
    downgrade(revision="0001")
    with owner_engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO tenants (id, slug, name, default_locale, locales, branding, "
            "enabled_plugins, revision, created_at) VALUES (1, 'old', 'Old', 'fr', '[\"fr\"]', "
            "'{}', '[]', 1, CURRENT_TIMESTAMP)"
        )
        connection.exec_driver_sql(
            "INSERT INTO cases (id, tenant_id, public_id, reference, state, opened_at, "
            "updated_at) VALUES (1, 1, 'c1', 'AAAA-BBBB', 'received', CURRENT_TIMESTAMP, "
            "CURRENT_TIMESTAMP)"
        )
    upgrade()
    with owner_engine.connect() as connection:
        row = connection.execute(sa.text("SELECT facts, flags, routing FROM cases")).one()
    decoded = [json.loads(value) if isinstance(value, str) else value for value in row]
    assert decoded == [{}, [], {}]
