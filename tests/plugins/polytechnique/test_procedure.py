"""École polytechnique's procedure run end to end by the core engine, on the plugin's data."""

from datetime import UTC, datetime, timedelta

import pytest

from core.cases.operations import ProcedureRefusal


@pytest.fixture
def polytechnique(make_tenant, make_member, case_runner):
    tenant = make_tenant("polytechnique", enable=("polytechnique",))
    people = {
        "unit": make_member(tenant, "dhamis_unit"),
        "management": make_member(tenant, "management"),
    }
    return case_runner(tenant), people


def kind(runner, wanted):
    return next(k for k, m in runner.institution.measures.items() if m["kind"] == wanted)


def test_the_unit_replies_within_72_hours(polytechnique):
    runner, people = polytechnique
    friday_evening = datetime(2026, 11, 27, 18, 30, tzinfo=UTC)
    case = runner.submit(relation="knowledge", now=friday_evening)
    first_reply = runner.deadlines(case)["first_reply"]
    # 72 hours, weekend included: the reporter is not kept waiting for Monday.
    assert first_reply.due_at == friday_evening + timedelta(hours=72)
    runner.take(case, "reply_to_reporter", people["unit"])
    assert case.state == "in_discussion"
    assert runner.deadlines(case)["first_reply"].met_at is not None
    assert ("reply_to_reporter", "reporter") in runner.notices(case)


def test_management_opens_an_inquiry_only_with_the_reporters_consent(polytechnique):
    runner, people = polytechnique
    case = runner.submit(relation="victim", anonymous=False)
    runner.take(case, "reply_to_reporter", people["unit"])
    refusal = runner.refusal(
        case, "open_inquiry", people["management"], measures=["administrative_inquiry"]
    )
    assert refusal.rule == "consent:administrative_action"
    # The unit handles the case but does not decide on an inquiry.
    runner.consent(case, "administrative_action")
    assert (
        runner.refusal(
            case, "open_inquiry", people["unit"], measures=["administrative_inquiry"]
        ).rule
        == "role"
    )
    runner.take(case, "open_inquiry", people["management"], measures=["administrative_inquiry"])
    precaution = kind(runner, "precautionary")
    runner.take(case, "record_precautionary_measure", people["management"], measures=[precaution])
    runner.take(
        case,
        "start_disciplinary_proceedings",
        people["management"],
        measures=["disciplinary_proceedings"],
    )
    assert case.state == "disciplinary_proceedings"
    assert runner.measures(case) == [
        "administrative_inquiry",
        precaution,
        "disciplinary_proceedings",
    ]


def test_support_referral_only_if_the_reporter_wishes(polytechnique):
    runner, people = polytechnique
    case = runner.submit()
    runner.take(case, "reply_to_reporter", people["unit"])
    support = kind(runner, "support")
    refusal = runner.refusal(case, "refer_to_professionals", people["unit"], measures=[support])
    assert refusal.rule == "consent:support_referral"
    runner.consent(case, "support_referral")
    runner.take(case, "refer_to_professionals", people["unit"], measures=[support])
    runner.take(case, "close", people["unit"])
    assert case.state == "closed"


@pytest.mark.parametrize("anonymous", [True, False])
def test_article_40_the_prosecutor_must_be_informed_of_a_crime(polytechnique, anonymous):
    runner, people = polytechnique
    case = runner.submit(relation="witness", anonymous=anonymous)
    runner.take(case, "reply_to_reporter", people["unit"])
    # Without a crime on record, there is nothing to report.
    assert runner.refusal(case, "inform_public_prosecutor", people["unit"]).rule == (
        "flag:crime_indicated"
    )
    runner.flag(case, "crime_indicated", people["unit"])
    # Anonymous or not, named perpetrator or not, the case cannot close first.
    refusal = runner.refusal(case, "close", people["unit"])
    assert refusal.rule == "obligation:article_40"
    assert "article 40" in str(refusal)
    runner.take(
        case, "inform_public_prosecutor", people["management"], measures=["report_to_prosecutor"]
    )
    assert ("inform_public_prosecutor", "public_prosecutor") in runner.notices(case)
    runner.take(case, "close", people["unit"])
    assert case.state == "closed"


def test_without_a_crime_the_case_closes_freely(polytechnique):
    runner, people = polytechnique
    case = runner.submit()
    runner.take(case, "reply_to_reporter", people["unit"])
    assert runner.available(case, people["unit"])["close"] == ""
    runner.take(case, "close", people["unit"])
    assert case.closed_at is not None


def test_a_crime_on_record_is_withdrawn_only_by_the_management(polytechnique):
    runner, people = polytechnique
    case = runner.submit()
    runner.take(case, "reply_to_reporter", people["unit"])
    runner.flag(case, "crime_indicated", people["unit"])
    # the unit cannot clear the flag to close without informing the prosecutor
    with pytest.raises(ProcedureRefusal) as refused:
        runner.flag(case, "crime_indicated", people["unit"], value=False)
    assert refused.value.rule == "role"
    assert runner.refusal(case, "close", people["unit"]).rule == "obligation:article_40"
    runner.flag(case, "crime_indicated", people["management"], value=False)
    runner.take(case, "close", people["unit"])
