"""NEOMA's procedure run end to end by the core engine, on the plugin's own data."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.cases.operations import ProcedureRefusal

ROUEN_OFFICERS = 3


@pytest.fixture
def neoma(make_tenant, make_member, case_runner):
    tenant = make_tenant("neoma", enable=("neoma",))
    people = {
        "rouen": [
            make_member(tenant, "angela_unit", role="officer", site="rouen")
            for _ in range(ROUEN_OFFICERS)
        ],
        "reims": [make_member(tenant, "angela_unit", role="officer", site="reims")],
        "student_life": make_member(tenant, "pre_analysis", role="director_of_student_life"),
        "legal": make_member(tenant, "pre_analysis", role="head_of_legal"),
        "secretary": make_member(tenant, "investigation_unit", role="general_secretary"),
        "expert": make_member(tenant, "investigation_unit", role="legal_expert"),
        "manager": make_member(tenant, "investigation_unit", role="student_experience_manager"),
        "management": make_member(tenant, "general_management"),
        "rouen_director": make_member(tenant, "campus_direction", site="rouen"),
        "reims_director": make_member(tenant, "campus_direction", site="reims"),
    }
    return case_runner(tenant), people


def measure_of_kind(runner, kind):
    return next(k for k, m in runner.institution.measures.items() if m["kind"] == kind)


def registered_case(runner, people, **submit):
    case = runner.submit(anonymous=False, answers={"campus": "rouen"}, **submit)
    first, second = people["rouen"][:2]
    runner.take(case, "register_report", first, participants=[second])
    runner.take(case, "acknowledge_receipt", first)
    return case


def test_a_report_goes_to_its_campus_officers_with_its_deadlines(neoma):
    runner, people = neoma
    opened = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday
    case = runner.submit(anonymous=False, answers={"campus": "rouen"}, now=opened)

    assert case.state == "received"
    assert case.site_key == "rouen"
    deadlines = runner.deadlines(case)
    paris = ZoneInfo("Europe/Paris")
    # Two working days from Monday 2 March: due at the close of Wednesday 4 March.
    assert deadlines["acknowledgement"].due_at.astimezone(paris).strftime("%a %d %H:%M") == (
        "Wed 04 23:59"
    )
    # Ten working days: Monday 16 March.
    assert deadlines["registration"].due_at.astimezone(paris).date().isoformat() == "2026-03-16"
    # 45 working days, with Easter Monday (6 April) and 1 May off: Wednesday 6 May.
    assert deadlines["whole_process"].due_at.astimezone(paris).date().isoformat() == "2026-05-06"
    assert deadlines["whole_process"].indicative
    # A Reims officer does not serve a Rouen report.
    refusal = runner.refusal(
        case, "register_report", people["reims"][0], participants=[people["rouen"][0]]
    )
    assert refusal.rule == "role"


def test_the_intake_interview_needs_two_officers(neoma):
    runner, people = neoma
    case = runner.submit(anonymous=False, answers={"campus": "rouen"})
    alone = runner.refusal(case, "register_report", people["rouen"][0])
    assert alone.rule == "size"
    outsider = runner.refusal(
        case, "register_report", people["rouen"][0], participants=[people["student_life"]]
    )
    assert outsider.rule == "not_a_member"
    runner.take(case, "register_report", people["rouen"][0], participants=[people["rouen"][1]])
    assert case.state == "registered"
    assert runner.deadlines(case)["registration"].met_at is not None


def test_acknowledgement_counts_working_days_over_public_holidays(neoma):
    runner, people = neoma
    christmas_eve = datetime(2026, 12, 24, 9, 0, tzinfo=UTC)  # Thursday; the 25th is a holiday
    case = runner.submit(anonymous=False, answers={"campus": "rouen"}, now=christmas_eve)
    due = runner.deadlines(case)["acknowledgement"].due_at
    # Friday 25 is Christmas, then the weekend: Mon 28 and Tue 29 are the two working days.
    assert due == datetime(2026, 12, 29, 22, 59, 59, tzinfo=UTC)
    runner.take(case, "acknowledge_receipt", people["rouen"][0])
    deadline = runner.deadlines(case)["acknowledgement"]
    assert deadline.met_at is not None
    assert ("acknowledge_receipt", "reporter") in runner.notices(case)


def test_investigation_branch_to_the_disciplinary_board(neoma):
    runner, people = neoma
    case = registered_case(runner, people)
    runner.take(case, "refer_to_pre_analysis", people["rouen"][0])
    assert case.state == "pre_analysis"
    assert "pre_analysis" in {k for k, d in runner.deadlines(case).items() if d.is_open}

    # Officers do not decide the pre-analysis; the pair does.
    assert runner.refusal(case, "open_investigation", people["rouen"][0]).rule == "role"
    investigators = [people["secretary"], people["expert"], people["manager"]]
    short = runner.refusal(
        case, "open_investigation", people["student_life"], members=investigators[:2]
    )
    assert short.rule == "size"
    runner.take(case, "open_investigation", people["student_life"], members=investigators)
    assert case.state == "investigation"
    assert runner.deadlines(case)["pre_analysis"].met_at is not None
    told = [party for step, party in runner.notices(case) if step == "open_investigation"]
    assert {"reporter", "implicated", "angela_unit", "programme_director"} <= set(told)

    # Recommendations are due 24 hours after the *last* investigative act.
    first = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
    runner.take(case, "collect_documents", people["secretary"], now=first)
    runner.take(case, "hold_hearing", people["expert"], now=first + timedelta(days=2))
    recommendations = runner.deadlines(case)["recommendations"]
    assert recommendations.due_at == first + timedelta(days=2, hours=24)
    assert recommendations.is_open

    runner.take(case, "submit_recommendations", people["secretary"])
    assert runner.deadlines(case)["recommendations"].met_at is not None
    assert case.state == "decision"
    # the board, not the prosecutor: that referral needs General Management's agreement
    assert (
        runner.refusal(
            case,
            "refer_to_disciplinary_board",
            people["management"],
            measures=["public_prosecutor"],
        ).rule
        == "measures"
    )
    board = "disciplinary_board"
    runner.take(case, "refer_to_disciplinary_board", people["management"], measures=[board])
    assert case.state == "referred_to_disciplinary_board"
    assert case.closed_at is not None
    assert runner.deadlines(case)["whole_process"].met_at is not None
    assert runner.measures(case) == [board]


def test_no_investigation_branch_goes_to_the_campus_director(neoma):
    runner, people = neoma
    case = registered_case(runner, people)
    runner.take(case, "refer_to_pre_analysis", people["rouen"][1])
    runner.take(case, "decide_no_investigation", people["legal"])
    assert case.state == "with_campus_director"
    told = [party for step, party in runner.notices(case) if step == "decide_no_investigation"]
    assert {"reporter", "implicated", "campus_direction"} <= set(told)
    # Only the director of the report's campus decides.
    assert (
        runner.refusal(case, "close_without_proceedings", people["reims_director"]).rule == "role"
    )
    runner.take(case, "close_without_proceedings", people["rouen_director"])
    assert case.state == "closed"
    assert not [d for d in runner.deadlines(case).values() if d.is_open]


def test_awareness_raising_closes_the_case(neoma):
    runner, people = neoma
    case = registered_case(runner, people)
    runner.take(case, "refer_to_pre_analysis", people["rouen"][0])
    runner.take(case, "raise_awareness", people["student_life"], measures=["awareness_raising"])
    assert case.state == "closed"
    told = {party for step, party in runner.notices(case) if step == "raise_awareness"}
    assert {"angela_unit", "programme_director", "campus_direction", "reporter"} <= told
    assert runner.measures(case) == ["awareness_raising"]


def test_a_witness_report_needs_the_victims_agreement_for_pre_analysis(neoma):
    runner, people = neoma
    case = registered_case(runner, people, relation="witness")
    refusal = runner.refusal(case, "refer_to_pre_analysis", people["rouen"][0])
    assert refusal.rule == "consent:victim_agreement"
    assert "victim" in str(refusal)
    runner.consent(case, "victim_agreement", actor=people["rouen"][0])
    runner.take(case, "refer_to_pre_analysis", people["rouen"][0])
    assert case.state == "pre_analysis"


def test_a_victims_own_report_needs_no_further_agreement(neoma):
    runner, people = neoma
    case = registered_case(runner, people, relation="victim")
    runner.take(case, "refer_to_pre_analysis", people["rouen"][0])
    assert case.state == "pre_analysis"


def test_reporting_to_the_prosecutor_needs_general_managements_agreement(neoma):
    runner, people = neoma
    case = registered_case(runner, people)
    runner.take(case, "refer_to_pre_analysis", people["rouen"][0])
    runner.take(
        case,
        "open_investigation",
        people["student_life"],
        members=[people["secretary"], people["expert"], people["manager"]],
    )
    refusal = runner.refusal(case, "report_to_public_prosecutor", people["secretary"])
    assert refusal.rule == "flag:general_management_agreed_to_prosecutor_report"
    runner.flag(case, "general_management_agreed_to_prosecutor_report", people["management"])
    runner.take(
        case, "report_to_public_prosecutor", people["secretary"], measures=["public_prosecutor"]
    )
    assert ("report_to_public_prosecutor", "public_prosecutor") in runner.notices(case)


def test_protective_measures_at_any_stage_are_not_sanctions(neoma):
    runner, people = neoma
    case = runner.submit(anonymous=False, answers={"campus": "rouen"})
    protective = measure_of_kind(runner, "protective")
    runner.take(case, "record_protective_measure", people["rouen"][0], measures=[protective])
    assert case.state == "received"
    refusal = runner.refusal(
        case,
        "record_protective_measure",
        people["rouen"][0],
        measures=[measure_of_kind(runner, "referral")],
    )
    assert refusal.rule == "measures"
    with pytest.raises(ProcedureRefusal):
        runner.take(case, "record_protective_measure", people["rouen"][0], measures=[])


def test_neoma_takes_reports_only_with_the_reporters_name(neoma):
    runner, _ = neoma
    with pytest.raises(ProcedureRefusal) as refused:
        runner.submit(anonymous=True, answers={"campus": "rouen"})
    assert refused.value.rule == "anonymous_reports"


def test_support_after_closure_leaves_the_closing_date_alone(neoma):
    runner, people = neoma
    case = registered_case(runner, people)
    runner.take(case, "refer_to_pre_analysis", people["rouen"][0])
    closing = datetime(2026, 6, 1, 9, tzinfo=UTC)
    runner.take(
        case, "raise_awareness", people["student_life"], measures=["awareness_raising"], now=closing
    )
    support = next(k for k, m in runner.institution.measures.items() if m["kind"] == "support")
    runner.take(
        case,
        "offer_support_plan",
        people["rouen"][0],
        measures=[support],
        now=closing + timedelta(days=30),
    )
    assert case.closed_at == closing
    assert case.state == "closed"


def test_only_staff_handling_the_case_record_consent_for_the_victim(neoma):
    runner, people = neoma
    case = registered_case(runner, people, relation="witness")
    with pytest.raises(ProcedureRefusal) as refused:
        runner.consent(case, "victim_agreement", actor=people["reims"][0])
    assert refused.value.rule == "role"
    assert runner.refusal(case, "refer_to_pre_analysis", people["rouen"][0]).rule == (
        "consent:victim_agreement"
    )
