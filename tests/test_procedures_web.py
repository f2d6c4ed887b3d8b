"""Each institution's whole procedure, run through the back office's pages.

Every step is taken the way a member would take it: sign in as the person whose role it is,
open the case page, find the step's form on it, fill it in and send it. A step the page
does not offer to that person cannot be taken by them either (the server refuses it, names
the rule, and changes nothing).
"""

import pytest
from sqlalchemy import func, select

from benchmarks.browser import Form, forms_of
from core.audit.models import AuditEvent
from core.cases.models import Case, CaseEvent
from core.extensions import db
from core.tenancy.scoping import tenant_scope
from core.testing import sign_in


class Desk:
    """One staff member at their desk: their own browser session, signed in."""

    def __init__(self, app, tenant, user):
        self.tenant, self.user = tenant, user
        self.client = app.test_client()
        sign_in(self.client, user, tenant)

    def url(self, case: Case, rest: str = "") -> str:
        with tenant_scope(self.tenant):
            public_id = db.session.scalar(select(Case.public_id).where(Case.id == case.id))
        return f"/t/{self.tenant.slug}/staff/cases/{public_id}{rest}"

    def page(self, case: Case) -> str:
        response = self.client.get(self.url(case) + "?lang=en")
        assert response.status_code == 200, response.status_code
        return response.get_data(as_text=True)

    def form(self, case: Case, action_end: str) -> Form | None:
        for form in forms_of(self.page(case)):
            if form.action.split("?")[0].endswith(action_end):
                return form
        return None

    def send(self, case: Case, action_end: str, **values) -> str:
        """Fill in and send the form of the case page whose action ends with `action_end`;
        the case page the answer leads to."""
        form = self.form(case, action_end)
        assert form is not None, f"{action_end} is not offered to {self.user.display_name}"
        data = {name: list(vals) for name, vals in form.fields.items()}
        for name, value in values.items():
            name = name.replace("__", "-")
            values_list = value if isinstance(value, list) else [value]
            offered = form.options.get(name, [])
            assert all(v in offered for v in values_list), (name, values_list, offered)
            data[name] = values_list
        response = self.client.post(form.action, data=data)
        assert response.status_code in (302, 303), response.status_code
        follow = self.client.get(response.headers["Location"])
        return follow.get_data(as_text=True)

    def step(self, case: Case, key: str, *, participants=(), members=(), measures=()) -> str:
        values = {}
        if participants:
            values[f"{key}__participants"] = [u.public_id for u in participants]
        if members:
            values[f"{key}__members"] = [u.public_id for u in members]
        if measures:
            values[f"{key}__measures"] = list(measures)
        return self.send(case, f"/steps/{key}", **values)

    def sees(self, case: Case) -> bool:
        status = self.client.get(self.url(case)).status_code
        assert status in (200, 404), status
        return status == 200

    def offers(self, case: Case, key: str) -> bool:
        return self.form(case, f"/steps/{key}") is not None

    def flag(self, case: Case, key: str) -> str:
        return self.send(case, f"/flags/{key}")

    def site(self, case: Case, party: str, site: str) -> str:
        return self.send(case, f"/sites/{party}", **{f"site-{party}__site": site})

    def forced_step(self, case: Case, key: str, **data) -> str:
        """Send a step the page did not offer (as a crafted request would); the answer page."""
        token = next(
            value[0]
            for form in forms_of(self.page(case))
            for name, value in form.fields.items()
            if name.endswith("csrf_token")
        )
        response = self.client.post(
            self.url(case, f"/steps/{key}"), data={f"{key}-csrf_token": token, **data}
        )
        assert response.status_code in (302, 303, 404), response.status_code
        return self.client.get(response.headers["Location"]).get_data(as_text=True)


def state_of(tenant, case: Case) -> str:
    with tenant_scope(tenant):
        return db.session.scalar(select(Case.state).where(Case.id == case.id))


def transitions_taken(tenant, case: Case) -> list[str]:
    with tenant_scope(tenant):
        return list(
            db.session.scalars(
                select(CaseEvent.key)
                .where(CaseEvent.case_id == case.id, CaseEvent.kind == "transition")
                .order_by(CaseEvent.id)
            )
        )


def audited(tenant, action: str) -> int:
    with tenant_scope(tenant):
        return db.session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
        )


# -- CIUP --------------------------------------------------------------------------------

AFFILIATED = "fondation_deutsch_de_la_meurthe"
NON_AFFILIATED = "maison_heinrich_heine"
NEUTRAL_HOUSE = "fondation_des_etats_unis"


@pytest.fixture
def ciup(app, make_tenant, make_member, case_runner):
    tenant = make_tenant("ciup", enable=("ciup",))

    def member(committee, role=None, site=None):
        return make_member(tenant, committee, role=role, site=site)

    people = {
        "listener": member("listening_unit", "other_house_director", "fondation_suisse"),
        "listener_2": member("listening_unit", "other_house_director", "fondation_lucien_paye"),
        "specialist": member("listening_unit", "specialist"),
        "pool_accused_house": member("investigation_team", "house_director", NON_AFFILIATED),
        "pool_director": member("investigation_team", "house_director", NEUTRAL_HOUSE),
        "equalities": member("investigation_team", "equalities_officer"),
        "expert": member("investigation_team", "specialist"),
        "delegate": member("general_delegation", "general_delegate"),
        "accused_house_director": member("house_direction", "house_director", NON_AFFILIATED),
        "board_president": member("appeal_authority", "board_president"),
    }
    return tenant, case_runner(tenant), people


def test_ciup_from_the_alert_to_the_appeal_through_the_back_office(app, ciup):
    tenant, runner, people = ciup
    desk = {name: Desk(app, tenant, user) for name, user in people.items()}
    case = runner.submit(
        anonymous=False,
        answers={
            "victim_house": AFFILIATED,
            "implicated_house": NON_AFFILIATED,
            "reporting_wish": "report",
        },
    )

    # the investigation team has no need to know an alert the listening unit still holds
    assert not desk["expert"].sees(case)

    desk["listener"].step(case, "hold_exploratory_interview", participants=[people["specialist"]])
    assert state_of(tenant, case) == "heard"
    desk["listener"].step(case, "draft_statement_form")
    assert state_of(tenant, case) == "statement_drafted"
    # validating the statement form is the reporter's step: no member is offered it
    assert not desk["listener"].offers(case, "validate_statement_form")
    runner.take(case, "validate_statement_form", "reporter")

    # an investigation needs the serious facts on record first: refused, named, unchanged
    answer = desk["listener_2"].forced_step(case, "open_investigation")
    assert "serious" in answer.lower()
    assert state_of(tenant, case) == "statement_validated"
    desk["listener"].flag(case, "serious_facts")

    # a composition breaking the conflict-of-interest rule is refused with the rule's words
    conflicted = [people["pool_accused_house"], people["equalities"], people["expert"]]
    answer = desk["listener_2"].step(case, "open_investigation", members=conflicted)
    assert people["pool_accused_house"].display_name in answer
    assert state_of(tenant, case) == "statement_validated"

    team = [people["pool_director"], people["equalities"], people["expert"]]
    desk["listener_2"].step(case, "open_investigation", members=team)
    assert state_of(tenant, case) == "investigation"

    # the composed team now sees the case; the listening unit still may pass on the form
    desk["equalities"].step(case, "hold_hearing")
    desk["pool_director"].step(case, "report_progress")
    assert not desk["expert"].offers(case, "submit_report_to_general_delegate")  # not affiliated
    desk["expert"].step(case, "submit_report_to_house_director")
    assert state_of(tenant, case) == "decision"
    # the house's director decides, choosing from the ladder
    assert not desk["delegate"].sees(case)  # the General Delegate has no part here
    desk["accused_house_director"].step(case, "decide", measures=["warning"])
    assert state_of(tenant, case) == "decided"
    desk["accused_house_director"].step(case, "lodge_appeal")
    assert state_of(tenant, case) == "appeal"
    desk["board_president"].step(case, "decide_appeal")
    assert state_of(tenant, case) == "closed"

    assert transitions_taken(tenant, case) == [
        "hold_exploratory_interview",
        "draft_statement_form",
        "validate_statement_form",
        "open_investigation",
        "hold_hearing",
        "report_progress",
        "submit_report_to_house_director",
        "decide",
        "lodge_appeal",
        "decide_appeal",
    ]
    assert runner.measures(case) == ["warning"]
    assert audited(tenant, "case.read") > 10  # every look at the case is on record


# -- NEOMA -------------------------------------------------------------------------------


@pytest.fixture
def neoma(app, make_tenant, make_member, case_runner):
    tenant = make_tenant("neoma", enable=("neoma",))

    def member(committee, role=None, site=None):
        return make_member(tenant, committee, role=role, site=site)

    people = {
        "officer": member("angela_unit", "officer", "rouen"),
        "officer_2": member("angela_unit", "officer", "rouen"),
        "reims_officer": member("angela_unit", "officer", "reims"),
        "student_life": member("pre_analysis", "director_of_student_life"),
        "legal": member("pre_analysis", "head_of_legal"),
        "secretary": member("investigation_unit", "general_secretary"),
        "expert": member("investigation_unit", "legal_expert"),
        "manager": member("investigation_unit", "student_experience_manager"),
        "management": member("general_management"),
    }
    return tenant, case_runner(tenant), people


def test_neoma_investigation_branch_to_the_disciplinary_board(app, neoma):
    tenant, runner, people = neoma
    desk = {name: Desk(app, tenant, user) for name, user in people.items()}
    case = runner.submit(anonymous=False, answers={"campus": "rouen"})
    # the other campus's officers never see it
    assert not desk["reims_officer"].sees(case)

    # the intake needs two officers of the campus: alone, the step is refused
    answer = desk["officer"].step(case, "register_report")
    assert state_of(tenant, case) == "received"
    assert "at least 2" in answer
    desk["officer"].step(case, "register_report", participants=[people["officer_2"]])
    desk["officer"].step(case, "acknowledge_receipt")
    desk["officer"].step(case, "refer_to_pre_analysis")
    assert state_of(tenant, case) == "pre_analysis"
    # officers do not decide the pre-analysis; the pair does
    assert not desk["officer"].offers(case, "open_investigation")
    investigators = [people["secretary"], people["expert"], people["manager"]]
    desk["student_life"].step(case, "open_investigation", members=investigators)
    assert state_of(tenant, case) == "investigation"
    desk["secretary"].step(case, "collect_documents")
    desk["expert"].step(case, "hold_hearing")
    desk["secretary"].step(case, "submit_recommendations")
    assert state_of(tenant, case) == "decision"
    desk["management"].step(case, "refer_to_disciplinary_board", measures=["disciplinary_board"])
    assert state_of(tenant, case) == "referred_to_disciplinary_board"
    # the investigation unit's part is over: it no longer sees the case; the officers do
    assert not desk["expert"].sees(case)
    assert desk["officer"].sees(case)
    assert transitions_taken(tenant, case) == [
        "register_report",
        "acknowledge_receipt",
        "refer_to_pre_analysis",
        "open_investigation",
        "collect_documents",
        "hold_hearing",
        "submit_recommendations",
        "refer_to_disciplinary_board",
    ]


# -- École polytechnique -----------------------------------------------------------------


@pytest.fixture
def poly(app, make_tenant, make_member, case_runner):
    tenant = make_tenant("poly", enable=("polytechnique",))
    people = {
        "dhamis": make_member(tenant, "dhamis_unit"),
        "management": make_member(tenant, "management"),
    }
    return tenant, case_runner(tenant), people


def test_polytechnique_article_40_blocks_closure_until_the_prosecutor_is_told(app, poly):
    tenant, runner, people = poly
    desk = {name: Desk(app, tenant, user) for name, user in people.items()}
    case = runner.submit(answers={})
    desk["dhamis"].step(case, "reply_to_reporter")
    assert state_of(tenant, case) == "in_discussion"
    desk["dhamis"].flag(case, "crime_indicated")
    # closing is not offered, and a forced request is refused naming article 40
    assert not desk["dhamis"].offers(case, "close")
    answer = desk["dhamis"].forced_step(case, "close")
    assert state_of(tenant, case) == "in_discussion"
    assert "article 40" in answer
    desk["management"].step(case, "inform_public_prosecutor", measures=["report_to_prosecutor"])
    desk["dhamis"].step(case, "close")
    assert state_of(tenant, case) == "closed"
