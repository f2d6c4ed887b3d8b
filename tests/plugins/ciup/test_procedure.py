"""CIUP's protocol run end to end by the core engine, on the plugin's own data."""

import pytest

from core.cases.operations import ProcedureRefusal

AFFILIATED = "fondation_deutsch_de_la_meurthe"
NON_AFFILIATED = "maison_heinrich_heine"
OTHER_HOUSE = "fondation_suisse"
NEUTRAL_HOUSE = "fondation_des_etats_unis"


@pytest.fixture
def ciup(make_tenant, make_member, case_runner):
    tenant = make_tenant("ciup", enable=("ciup",))

    def member(committee, role=None, site=None):
        return make_member(tenant, committee, role=role, site=site)

    people = {
        # the listening unit: the director of the victim's house, two others, a specialist
        "victim_house_director": member("listening_unit", "house_director", AFFILIATED),
        "listener": member("listening_unit", "other_house_director", OTHER_HOUSE),
        "listener_2": member("listening_unit", "other_house_director", "fondation_lucien_paye"),
        "specialist": member("listening_unit", "specialist"),
        # the investigation team's pool
        "pool_victim_house": member("investigation_team", "house_director", AFFILIATED),
        "pool_accused_house": member("investigation_team", "house_director", NON_AFFILIATED),
        "pool_director": member("investigation_team", "house_director", NEUTRAL_HOUSE),
        "equalities": member("investigation_team", "equalities_officer"),
        "extra_equalities": member("investigation_team", "equalities_officer"),
        "expert": member("investigation_team", "specialist"),
        "delegate": member("general_delegation", "general_delegate"),
        "board_president": member("appeal_authority", "board_president"),
        "accused_house_director": member("house_direction", "house_director", NON_AFFILIATED),
        "another_house_director": member("house_direction", "house_director", OTHER_HOUSE),
    }
    # the listener who will hear the victim also sits in the investigation pool
    make_member(
        tenant,
        "investigation_team",
        role="house_director",
        site=OTHER_HOUSE,
        user=people["listener"],
    )
    return case_runner(tenant), people


def answers(wish="report", accused_house=NON_AFFILIATED, **more):
    return {
        "victim_house": AFFILIATED,
        "implicated_house": accused_house,
        "reporting_wish": wish,
        **more,
    }


def heard_and_validated(runner, people, **submit):
    case = runner.submit(**submit)
    runner.take(
        case, "hold_exploratory_interview", people["listener"], participants=[people["specialist"]]
    )
    runner.take(case, "draft_statement_form", people["listener"])
    runner.take(case, "validate_statement_form", "reporter")
    return case


def good_team(people):
    return [people["pool_director"], people["equalities"], people["expert"]]


def test_the_victims_house_director_is_left_out_without_the_victims_agreement(ciup):
    runner, people = ciup
    case = runner.submit(answers=answers())
    assert "kept out" in case.routing["reason"]
    refusal = runner.refusal(
        case,
        "hold_exploratory_interview",
        people["victim_house_director"],
        participants=[people["listener"]],
    )
    assert refusal.rule == "role"
    # nor can the others bring that director in as a participant
    refusal = runner.refusal(
        case,
        "hold_exploratory_interview",
        people["listener"],
        participants=[people["victim_house_director"]],
    )
    assert refusal.rule == "rule:victim_house_director_needs_consent"

    # the director cannot give that agreement in the victim's place
    with pytest.raises(ProcedureRefusal) as refused:
        runner.consent(case, "house_director_involvement", actor=people["victim_house_director"])
    assert refused.value.rule == "role"

    runner.consent(case, "house_director_involvement")
    assert "agreed" in runner.refresh(case).routing["reason"]
    runner.take(
        case,
        "hold_exploratory_interview",
        people["victim_house_director"],
        participants=[people["listener"]],
    )
    assert case.state == "heard"


def test_agreement_given_on_the_form_routes_to_the_victims_house_director(ciup):
    runner, people = ciup
    case = runner.submit(answers=answers(house_director_involvement=True))
    runner.take(
        case,
        "hold_exploratory_interview",
        people["victim_house_director"],
        participants=[people["specialist"]],
    )


def test_the_exploratory_interview_needs_two_members(ciup):
    runner, people = ciup
    case = runner.submit(answers=answers())
    assert runner.refusal(case, "hold_exploratory_interview", people["listener"]).rule == "size"


def test_only_the_reporter_validates_the_statement_form(ciup):
    runner, people = ciup
    case = runner.submit(answers=answers())
    runner.take(
        case, "hold_exploratory_interview", people["listener"], participants=[people["listener_2"]]
    )
    runner.take(case, "draft_statement_form", people["listener"])
    assert ("draft_statement_form", "reporter") in runner.notices(case)
    assert runner.refusal(case, "validate_statement_form", people["listener"]).rule == "role"
    runner.take(case, "validate_statement_form", "reporter")
    assert case.state == "statement_validated"


def test_investigation_with_conflicts_refused_then_decided_and_appealed(ciup):
    runner, people = ciup
    case = heard_and_validated(runner, people, anonymous=False, answers=answers())
    # only for serious facts linked to CIUP
    refusal = runner.refusal(
        case, "open_investigation", people["listener"], members=good_team(people)
    )
    assert refusal.rule == "flag:serious_facts"
    runner.flag(case, "serious_facts", people["listener"])

    conflicts = {
        "pool_victim_house": "rule:not_director_of_parties_houses",
        "pool_accused_house": "rule:not_director_of_parties_houses",
        "listener": "rule:not_previously_heard_the_victim",
    }
    for who, rule in conflicts.items():
        team = [people[who], people["equalities"], people["expert"]]
        refusal = runner.refusal(case, "open_investigation", people["listener_2"], members=team)
        assert refusal.rule == rule
        assert people[who].display_name in str(refusal)
    outsider = [people["pool_director"], people["equalities"], people["delegate"]]
    assert (
        runner.refusal(case, "open_investigation", people["listener_2"], members=outsider).rule
        == "not_a_member"
    )
    # three people, but no specialist among them
    no_specialist = [people["pool_director"], people["equalities"], people["extra_equalities"]]
    assert (
        runner.refusal(case, "open_investigation", people["listener_2"], members=no_specialist).rule
        == "role_minimum:specialist"
    )

    runner.take(case, "open_investigation", people["listener_2"], members=good_team(people))
    assert case.state == "investigation"
    assert case.identity_revealed_at is not None  # anonymity lifted
    told = {party for step, party in runner.notices(case) if step == "open_investigation"}
    assert {"implicated", "implicated_house_director", "reporter"} <= told
    assert runner.deadlines(case)["keep_parties_informed"].indicative

    # the listening unit no longer acts in the investigation; the team does
    assert runner.refusal(case, "hold_hearing", people["listener"]).rule == "role"
    runner.take(case, "hold_hearing", people["equalities"])
    runner.take(case, "report_progress", people["pool_director"])
    told = [party for step, party in runner.notices(case) if step == "report_progress"]
    assert told == ["victim", "implicated"]

    # the accused's house is not affiliated: its director decides, not the General Delegate
    wrong_path = runner.refusal(case, "submit_report_to_general_delegate", people["expert"])
    assert wrong_path.rule == "not_for_this_case"
    runner.take(case, "submit_report_to_house_director", people["expert"])
    assert case.state == "decision"
    told = {
        party for step, party in runner.notices(case) if step == "submit_report_to_house_director"
    }
    assert told == {"house_direction", "general_delegation"}
    for outsider in ("another_house_director", "delegate"):
        refusal = runner.refusal(case, "decide", people[outsider], measures=["warning"])
        assert refusal.rule == "role"
    assert (
        runner.refusal(
            case,
            "decide",
            people["accused_house_director"],
            measures=["change_of_house_offered_to_victim"],
        ).rule
        == "measures"
    )
    runner.take(case, "decide", people["accused_house_director"], measures=["warning"])
    # the appeal goes to the president of the board, not back to the decision maker
    runner.take(case, "lodge_appeal", people["accused_house_director"])
    assert runner.refusal(case, "decide_appeal", people["accused_house_director"]).rule == "role"
    runner.take(case, "decide_appeal", people["board_president"])
    assert case.state == "closed"
    assert runner.measures(case) == ["warning"]


def test_affiliated_house_goes_to_the_general_delegate(ciup):
    runner, people = ciup
    # the accused lives in an affiliated house this time
    case = heard_and_validated(
        runner, people, answers=answers(accused_house="fondation_lucien_paye")
    )
    runner.flag(case, "serious_facts", people["listener"])
    runner.take(case, "open_investigation", people["listener_2"], members=good_team(people))
    runner.take(case, "submit_report_to_general_delegate", people["expert"])
    assert (
        runner.refusal(case, "decide", people["accused_house_director"], measures=["warning"]).rule
        == "role"
    )
    runner.take(case, "decide", people["delegate"], measures=["exclusion"])
    assert runner.measures(case) == ["exclusion"]


def test_no_investigation_without_the_victims_consent(ciup):
    runner, people = ciup
    case = heard_and_validated(runner, people, answers=answers(wish="think_about_it"))
    runner.flag(case, "serious_facts", people["listener"])
    refusal = runner.refusal(
        case, "open_investigation", people["listener"], members=good_team(people)
    )
    assert refusal.rule == "consent:lift_anonymity"
    runner.take(case, "close_without_investigation", people["listener"])
    assert case.state == "closed"


def test_serious_danger_keeps_anonymity_when_an_investigation_opens(ciup):
    runner, people = ciup
    case = heard_and_validated(runner, people, anonymous=False, answers=answers())
    runner.flag(case, "serious_facts", people["listener"])
    runner.flag(case, "serious_danger", people["listener"])
    runner.take(case, "open_investigation", people["listener"], members=good_team(people))
    assert case.identity_revealed_at is None


def test_the_statement_form_is_passed_on_only_with_the_reporters_agreement(ciup):
    runner, people = ciup
    case = heard_and_validated(runner, people, answers=answers())
    runner.flag(case, "serious_facts", people["listener"])
    runner.take(case, "open_investigation", people["listener_2"], members=good_team(people))
    refusal = runner.refusal(case, "pass_statement_form_to_investigation", people["listener"])
    assert refusal.rule == "consent:share_statement_form"
    runner.consent(case, "share_statement_form")
    runner.take(case, "pass_statement_form_to_investigation", people["listener"])


def test_direct_intervention_keeps_the_victim_anonymous(ciup):
    runner, people = ciup
    case = heard_and_validated(
        runner, people, anonymous=False, answers=answers(wish="do_not_report")
    )
    runner.take(case, "direct_intervention", people["listener"])
    assert case.state == "closed"
    assert ("direct_intervention", "implicated") in runner.notices(case)


def test_referral_to_the_rsi_needs_the_reporters_agreement(ciup):
    runner, people = ciup
    case = heard_and_validated(runner, people, answers=answers())
    assert runner.refusal(case, "refer_to_rsi", people["listener"]).rule == (
        "consent:share_with_rsi"
    )
    runner.consent(case, "share_with_rsi")
    runner.take(case, "refer_to_rsi", people["listener"])
    assert ("refer_to_rsi", "rsi") in runner.notices(case)


def test_protective_measures_are_not_sanctions(ciup):
    runner, people = ciup
    case = runner.submit(answers=answers())
    runner.take(
        case,
        "record_protective_measure",
        people["listener"],
        measures=["change_of_house_offered_to_victim"],
    )
    assert (
        runner.refusal(
            case, "record_protective_measure", people["listener"], measures=["exclusion"]
        ).rule
        == "measures"
    )


def test_withdrawing_the_agreement_keeps_the_victims_house_director_out_again(ciup):
    runner, people = ciup
    case = runner.submit(answers=answers(house_director_involvement=True))
    runner.consent(case, "house_director_involvement", given=False)
    assert (
        runner.refusal(
            case,
            "hold_exploratory_interview",
            people["victim_house_director"],
            participants=[people["listener"]],
        ).rule
        == "role"
    )
    # and a director kept out of the listening unit cannot act on the case elsewhere either
    assert (
        runner.refusal(
            case,
            "record_protective_measure",
            people["victim_house_director"],
            measures=["change_of_house_offered_to_victim"],
        ).rule
        == "role"
    )


def test_a_witness_needs_the_victims_own_consent_for_an_investigation(ciup):
    runner, people = ciup
    case = heard_and_validated(runner, people, relation="witness", answers=answers())
    runner.flag(case, "serious_facts", people["listener"])
    refusal = runner.refusal(
        case, "open_investigation", people["listener"], members=good_team(people)
    )
    assert refusal.rule == "consent:victim_consent"
    runner.consent(case, "victim_consent", actor=people["listener"])
    runner.take(case, "open_investigation", people["listener"], members=good_team(people))


def test_an_investigation_needs_the_house_of_the_person_implicated(ciup):
    from core.cases.operations import set_party_site
    from core.extensions import db
    from core.tenancy.scoping import tenant_scope

    runner, people = ciup
    case = heard_and_validated(runner, people, answers=answers(accused_house=None))
    runner.flag(case, "serious_facts", people["listener"])
    refusal = runner.refusal(
        case, "open_investigation", people["listener"], members=good_team(people)
    )
    assert refusal.rule == "site:implicated"
    with tenant_scope(runner.tenant):
        with pytest.raises(ProcedureRefusal):
            set_party_site(
                case,
                "implicated",
                "atlantis",
                actor=people["listener"],
                institution=runner.institution,
            )
        set_party_site(
            case,
            "implicated",
            NON_AFFILIATED,
            actor=people["listener"],
            institution=runner.institution,
        )
        db.session.commit()
    runner.take(case, "open_investigation", people["listener"], members=good_team(people))
    runner.take(case, "submit_report_to_house_director", people["expert"])


def test_a_report_naming_an_unknown_house_is_refused(ciup):
    runner, _ = ciup
    with pytest.raises(ProcedureRefusal) as refused:
        runner.submit(answers=answers(accused_house="atlantis"))
    assert refused.value.rule == "unknown_site"


def test_a_witness_cannot_give_the_victims_consent_from_the_reporters_space(ciup):
    runner, _ = ciup
    case = runner.submit(relation="witness", answers=answers())
    with pytest.raises(ProcedureRefusal) as refused:
        runner.consent(case, "victim_consent")  # as the reporter
    assert refused.value.rule == "not_the_reporters"
    runner.consent(case, "share_with_rsi")  # the reporter's own agreement is theirs to give
