"""A fourth institution plugin, written from docs/plugins.md alone, run end to end.

`tests/fixtures/cellule_guide_plugin` is the "Institut des Vallées" as a third party would
publish it: a distribution with a `cellule.plugins` entry point (`vallees`), its data in
YAML and its French catalogue. It is installed with pip into a temporary folder, found by
the app through its entry point, enabled for a tenant and driven through its procedure with
the test kit (`core.testing`), as the guide tells a plugin author to do.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from core.committees.models import Committee
from core.extensions import db
from core.plugins import TenantInfo
from core.plugins.schemas import HOOK_SCHEMAS
from core.tenancy.scoping import tenant_scope

SOURCE = Path(__file__).parent / "fixtures" / "cellule_guide_plugin"
NAME = "vallees"


def at(day: str, hour: int = 9) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


@pytest.fixture(autouse=True)
def guide_installed(pip_installed, monkeypatch):
    """`cellule-guide-plugin` is installed for this test only; autouse, so that the path is
    prepended before the `app` fixture creates the app, which discovers plugins."""
    monkeypatch.syspath_prepend(pip_installed(SOURCE))


@dataclass
class School:
    tenant: object
    listeners: tuple
    chair: object
    assessor: object
    director: object
    runner: object

    def submit(self, relation="victim", site="grenoble", victim_site=None, **answers):
        answers = {"incident_site": site, "victim_site": victim_site or site} | answers
        return self.runner.submit(relation=relation, answers=answers, now=at("2026-04-30"))


@pytest.fixture
def school(make_tenant, make_member, case_runner) -> School:
    tenant = make_tenant("vallees", enable=(NAME,))
    listeners = tuple(make_member(tenant, "listening_cell", role="listener") for _ in range(2))
    return School(
        tenant=tenant,
        listeners=listeners,
        chair=make_member(tenant, "inquiry_panel", role="chair"),
        assessor=make_member(tenant, "inquiry_panel", role="assessor"),
        director=make_member(tenant, "direction"),
        runner=case_runner(tenant),
    )


def acknowledged(school: School, case, *, hear: bool = True):
    """The case acknowledged and, unless told otherwise, the reporter heard by both
    listeners."""
    first, second = school.listeners
    school.runner.take(case, "acknowledge", first)
    if hear:
        school.runner.take(case, "hear_reporter", first, participants=[second])
    return case


# -- discovery and enabling ---------------------------------------------------------------


def test_the_distribution_is_discovered_through_its_entry_point(plugins):
    info = plugins.plugins[NAME]

    assert (info.distribution, info.version) == ("cellule-guide-plugin", "1.0.0")
    assert info.module == "cellule_guide_plugin"
    # every hook but the statement form: the Vallées keep none, and leave the hook out
    assert set(info.hooks) == set(HOOK_SCHEMAS) - {"statement_form"}
    assert NAME not in plugins.broken


def test_enabling_it_validates_its_data_and_creates_its_committees(school, plugins):
    assert school.tenant.enabled_plugins == [NAME]
    with tenant_scope(school.tenant):
        committees = db.session.scalars(select(Committee.key).order_by(Committee.key)).all()
    assert committees == ["direction", "inquiry_panel", "listening_cell"]
    info = TenantInfo.of(school.tenant)
    assert [line["key"] for line in plugins.call(info, "helplines")][-2:] == [
        "vallees_health_centre",
        "violences_femmes_info_3919",
    ]


def test_reports_are_routed_to_the_listening_cell_of_their_campus(school):
    harassment = school.runner.submit(
        answers={"incident_site": "chambery"}, categories=["harassment"], now=at("2026-04-30")
    )
    violence = school.runner.submit(
        answers={"incident_site": "grenoble"}, categories=["sexual_violence"], now=at("2026-04-30")
    )

    harassment, violence = map(school.runner.refresh, (harassment, violence))
    assert (harassment.routing["committee"], harassment.routing["site"]) == (
        "listening_cell",
        "chambery",
    )
    assert harassment.routing["also_notify"] == []
    assert violence.routing["also_notify"] == ["direction"]
    assert violence.routing["reason"].startswith("A report of sexual violence")


# -- the happy path -------------------------------------------------------------------------


def test_a_victim_report_goes_from_listening_through_an_inquiry_to_a_decision(school):
    runner, (first, second) = school.runner, school.listeners
    case = school.submit(wish="inquiry")  # choosing an inquiry gives inquiry_agreement
    assert case.state == "received"
    assert runner.deadlines(case)["acknowledgement"].due_at.date() == date(2026, 5, 6)

    runner.take(case, "acknowledge", first, now=at("2026-05-04"))
    assert case.state == "listening"
    assert runner.deadlines(case)["acknowledgement"].met_at == at("2026-05-04")
    runner.take(case, "hear_reporter", first, participants=[second], now=at("2026-05-04", 10))
    runner.take(
        case,
        "record_protective_measure",
        second,
        measures=["no_contact"],
        now=at("2026-05-04", 11),
    )
    runner.take(case, "inform_residence", first, now=at("2026-05-04", 11))  # a residence campus

    runner.take(
        case,
        "open_inquiry",
        second,
        members=[school.chair, school.assessor],
        now=at("2026-05-04", 12),
    )
    assert case.state == "inquiry"
    assert runner.deadlines(case)["findings"].due_at.date() == date(2026, 6, 3)  # 30 days

    runner.take(case, "submit_findings", school.assessor, now=at("2026-05-12"))
    assert case.state == "decision"
    assert runner.deadlines(case)["findings"].met_at == at("2026-05-12")
    decision_time = runner.deadlines(case)["decision_time"]
    assert decision_time.indicative
    # ten working days: Ascension (14 May) and Whit Monday (25 May) are not counted
    assert decision_time.due_at.date() == date(2026, 5, 28)

    runner.take(case, "decide", school.director, measures=["warning"], now=at("2026-05-20"))
    assert case.state == "closed"
    assert runner.deadlines(case)["decision_time"].met_at == at("2026-05-20")
    assert sorted(runner.measures(case)) == ["no_contact", "warning"]
    assert runner.notices(case) == [
        ("acknowledge", "reporter"),
        ("inform_residence", "residence_manager"),
        ("open_inquiry", "implicated"),
        ("open_inquiry", "direction"),
        ("decide", "reporter"),
    ]


@pytest.mark.parametrize(
    ("submitted", "due"),
    [
        ("2026-04-30", "2026-05-06"),  # Labour Day on the Friday, then the weekend
        ("2026-05-06", "2026-05-12"),  # Victory in Europe Day on the Friday
        ("2026-12-24", "2026-12-30"),  # Christmas on the Friday
        ("2026-06-01", "2026-06-04"),  # an ordinary week
    ],
)
def test_the_acknowledgement_is_due_in_three_working_days(school, submitted, due):
    case = school.runner.submit(answers={"incident_site": "grenoble"}, now=at(submitted))

    deadline = school.runner.deadlines(case)["acknowledgement"]

    assert deadline.due_at.date() == date.fromisoformat(due)
    assert deadline.met_at is None and not deadline.indicative


# -- refusals, one per rule the plugin declares ----------------------------------------------


def test_each_step_is_refused_to_those_the_procedure_does_not_name(school):
    runner, (first, second) = school.runner, school.listeners
    case = school.submit(wish="inquiry")

    assert runner.refusal(case, "acknowledge", school.director).rule == "role"
    assert runner.available(case, school.director)["acknowledge"]
    assert runner.available(case, first)["acknowledge"] == ""
    acknowledged(school, case)
    runner.take(case, "open_inquiry", first, members=[school.chair, school.assessor])

    # a listener does not act for the panel, nor a panel member for the director
    assert runner.refusal(case, "submit_findings", second).rule == "role"
    runner.take(case, "submit_findings", school.chair)
    assert runner.refusal(case, "decide", school.chair, measures=["warning"]).rule == "role"


def test_a_hearing_is_held_by_two_listeners(school):
    runner, (first, second) = school.runner, school.listeners
    case = acknowledged(school, school.submit(), hear=False)

    assert runner.refusal(case, "hear_reporter", first).rule == "size"
    assert runner.refusal(case, "hear_reporter", first, participants=[school.director]).rule == (
        "not_a_member"
    )
    runner.take(case, "hear_reporter", first, participants=[second])


def test_a_protective_step_records_protective_measures_only(school):
    runner, (first, _) = school.runner, school.listeners
    case = acknowledged(school, school.submit())

    assert runner.refusal(case, "record_protective_measure", first, measures=["warning"]).rule == (
        "measures"
    )
    runner.take(case, "record_protective_measure", first, measures=["change_of_group"])
    assert runner.measures(case) == ["change_of_group"]


def test_an_inquiry_needs_the_reporters_agreement(school):
    runner, (first, _) = school.runner, school.listeners
    case = acknowledged(school, school.submit(wish="be_heard"))
    members = [school.chair, school.assessor]

    refusal = runner.refusal(case, "open_inquiry", first, members=members)
    assert refusal.rule == "consent:inquiry_agreement"
    assert "I agree that an inquiry is opened on my report" in refusal.source_message

    runner.consent(case, "inquiry_agreement")
    runner.take(case, "open_inquiry", first, members=members)
    assert case.state == "inquiry"


def test_a_witness_report_also_needs_the_victims_agreement(school):
    runner, (first, _) = school.runner, school.listeners
    case = acknowledged(school, school.submit(relation="witness", wish="inquiry"))
    members = [school.chair, school.assessor]

    assert runner.refusal(case, "open_inquiry", first, members=members).rule == (
        "consent:victim_agreement"
    )
    runner.consent(case, "victim_agreement")
    runner.take(case, "open_inquiry", first, members=members)
    assert case.state == "inquiry"


def test_the_inquiry_panel_is_composed_by_its_rules(school, make_member):
    runner, (first, second) = school.runner, school.listeners
    second_assessor = make_member(school.tenant, "inquiry_panel", role="assessor")
    # the second listener, who heard the victim, is also seated on the panel
    make_member(school.tenant, "inquiry_panel", role="assessor", user=second)
    case = acknowledged(school, school.submit(wish="inquiry"))

    def refused(*members):
        return runner.refusal(case, "open_inquiry", first, members=list(members))

    assert refused(school.chair).rule == "size"
    assert refused(school.chair, school.assessor, second_assessor, school.director).rule == (
        "not_a_member"
    )
    assert refused(school.assessor, second_assessor).rule == "role_minimum:chair"
    refusal = refused(school.chair, second)
    assert refusal.rule == "rule:not_the_listeners"
    assert "No one who heard the victim" in refusal.source_message

    runner.take(case, "open_inquiry", first, members=[school.chair, second_assessor])
    assert runner.refusal(case, "submit_findings", school.assessor).rule == "role"
    runner.take(case, "submit_findings", second_assessor)
    assert case.state == "decision"


def test_a_panel_is_too_large_beyond_three(school, make_member):
    runner, (first, _) = school.runner, school.listeners
    more = [make_member(school.tenant, "inquiry_panel", role="assessor") for _ in range(2)]
    case = acknowledged(school, school.submit(wish="inquiry"))

    members = [school.chair, school.assessor, *more]
    assert runner.refusal(case, "open_inquiry", first, members=members).rule == "size"


def test_a_possible_offence_must_be_reported_before_the_case_is_closed(school):
    runner, (first, _) = school.runner, school.listeners
    case = acknowledged(school, school.submit(wish="inquiry"))
    assert runner.refusal(case, "notify_prosecutor", first).rule == "role"

    runner.flag(case, "criminal_offence", first)
    assert runner.refusal(case, "close_without_inquiry", first).rule == "obligation:article_40"
    runner.take(case, "open_inquiry", first, members=[school.chair, school.assessor])
    runner.take(case, "submit_findings", school.chair)
    refusal = runner.refusal(case, "decide", school.director, measures=["warning"])
    assert refusal.rule == "obligation:article_40"
    assert "Report a criminal offence to the public prosecutor" in refusal.source_message
    assert runner.refusal(case, "decide", first, measures=["warning"]).rule == "role"

    runner.take(case, "notify_prosecutor", school.director, measures=["prosecutor_referral"])
    runner.take(case, "decide", school.director, measures=["suspension"])
    assert case.state == "closed"
    assert ("notify_prosecutor", "public_prosecutor") in runner.notices(case)
    assert sorted(runner.measures(case)) == ["prosecutor_referral", "suspension"]


def test_without_an_offence_the_cell_may_close_without_an_inquiry(school):
    runner, (first, _) = school.runner, school.listeners
    case = acknowledged(school, school.submit())

    runner.take(case, "close_without_inquiry", first)

    assert case.state == "closed"
    assert runner.notices(case) == [("acknowledge", "reporter")]


def test_only_the_listening_cell_and_the_panel_record_an_offence(school):
    case = acknowledged(school, school.submit())

    with pytest.raises(Exception, match="You may not record this on the case") as caught:
        school.runner.flag(case, "criminal_offence", school.director)

    assert caught.value.rule == "role"


def test_the_residence_manager_is_told_only_when_the_victim_lives_on_a_residence_campus(school):
    runner, (first, _) = school.runner, school.listeners
    # it happened in Grenoble, but the victim studies in Chambéry, which has no residence
    case = acknowledged(school, school.submit(site="grenoble", victim_site="chambery"))

    assert runner.refusal(case, "inform_residence", first).rule == "not_for_this_case"
    assert "inform_residence" not in runner.available(case, first)  # not offered at all


# -- translations ------------------------------------------------------------------------


def test_every_text_has_a_french_translation(plugins):
    assert plugins.source_texts(NAME)
    assert plugins.translators[NAME].missing("fr", plugins.source_texts(NAME)) == []


def test_the_hooks_answer_in_french(school, plugins):
    info = TenantInfo.of(school.tenant)

    profile = plugins.call(info, "institution_profile", locale="fr")
    assert profile["name"] == "Institut des Vallées"
    assert [site["name"] for site in profile["sites"]] == [
        "Campus de Grenoble",
        "Campus de Chambéry",
    ]
    committees = plugins.call(info, "committees", locale="fr")
    assert [c["name"] for c in committees] == [
        "Cellule d'écoute",
        "Commission d'enquête",
        "Directeur des études",
    ]
    assert committees[1]["conditions"][0]["description"].startswith("Personne ayant entendu")
    procedure = plugins.call(info, "procedure", locale="fr")
    assert procedure["states"][0]["reporter_label"] == "Votre signalement a bien été reçu"
    assert procedure["transitions"][0]["informs"][0]["message"] == (
        "La cellule d'écoute a lu votre signalement et va vous contacter."
    )
    assert procedure["obligations"][0]["label"] == (
        "Signaler une infraction pénale au procureur de la République"
    )
    ladder = plugins.call(info, "sanction_ladder", locale="fr")
    assert ladder["appeal"]["authority"] == "le président du conseil académique"
    health_centre = plugins.call(info, "helplines", locale="fr")[-2]
    assert health_centre["hours"]["note"] == "Fermé pendant les vacances scolaires."
    legal = plugins.call(info, "legal_definitions", locale="fr")
    assert legal[1]["items"] == ["l'origine", "le sexe", "l'orientation sexuelle", "le handicap"]
    form = plugins.call(info, "report_form", locale="fr")
    assert form[2]["choices"][1]["label"] == "Qu'une enquête soit ouverte"
    report = {
        "relation": "victim",
        "anonymous": True,
        "site": "grenoble",
        "sites": {"report": "grenoble"},
        "categories": ["harassment"],
        "answers": {},
        "consents": [],
    }
    assert plugins.call(info, "route_report", report=report, locale="fr")["reason"].startswith(
        "Chaque signalement va à la cellule d'écoute"
    )

    english = plugins.call(info, "procedure", locale="en")
    assert english["states"][0]["reporter_label"] == "Your report has been received"


def test_refusals_are_read_in_the_staffs_language(app, school):
    runner, (first, _) = school.runner, school.listeners
    case = acknowledged(school, school.submit(wish="be_heard"))
    refusal = runner.refusal(case, "open_inquiry", first, members=[school.chair, school.assessor])

    with app.test_request_context(), force_locale("fr"):
        french = str(refusal)
    with app.test_request_context(), force_locale("en"):
        english = str(refusal)

    assert "J'accepte qu'une enquête soit ouverte sur mon signalement" in french
    assert "« Ouvrir une enquête »" in french
    assert "I agree that an inquiry is opened on my report" in english
