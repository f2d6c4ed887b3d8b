"""The case page through the web layer: CIUP's procedure taken by the right members, the
refusals that change nothing, consents, flags, places, notices, measures, notes, messages,
evidence and the reporter's identity kept apart until the procedure allows it."""

import io
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import event, func, select

from core.audit.models import AuditEvent
from core.casefile.models import CaseNote, Hearing
from core.casefile.operations import hearing_staff
from core.cases.access import identity_gated, may_view_identity, visible_answers
from core.cases.models import (
    Case,
    CaseConsent,
    CaseEvent,
    CaseMeasure,
    CaseMember,
    CaseNotice,
    Message,
)
from core.cases.timeline import TIMELINE_WINDOW
from core.extensions import db
from core.identity.models import Role
from core.reports.models import Evidence, Report, ReporterIdentity
from core.tenancy.scoping import tenant_scope
from core.testing import sign_in

AFFILIATED = "fondation_deutsch_de_la_meurthe"
NON_AFFILIATED = "maison_heinrich_heine"
OTHER_HOUSE = "fondation_suisse"
NEUTRAL_HOUSE = "fondation_des_etats_unis"
REPORTER_NAME = "Camille Martin-Ferrand"


@pytest.fixture
def ciup(make_tenant, make_member, case_runner):
    tenant = make_tenant("ciup", enable=("ciup",))

    def member(committee, role=None, site=None, name=None):
        return make_member(tenant, committee, role=role, site=site, name=name)

    people = {
        "victim_house_director": member("listening_unit", "house_director", AFFILIATED),
        "listener": member("listening_unit", "other_house_director", OTHER_HOUSE, "listener"),
        "listener_2": member("listening_unit", "other_house_director", "fondation_lucien_paye"),
        "specialist": member("listening_unit", "specialist", name="specialist"),
        "pool_victim_house": member("investigation_team", "house_director", AFFILIATED),
        "pool_director": member("investigation_team", "house_director", NEUTRAL_HOUSE, "pool"),
        "equalities": member("investigation_team", "equalities_officer", name="equalities"),
        "expert": member("investigation_team", "specialist", name="expert"),
        "accused_house_director": member("house_direction", "house_director", NON_AFFILIATED),
        "board_president": member("appeal_authority", "board_president"),
    }
    return tenant, case_runner(tenant), people


def answers(**more):
    return {"victim_house": AFFILIATED, "reporting_wish": "report", **more}


def named_case(tenant, runner, **submit) -> Case:
    """A named report (its identity kept apart) and its case."""
    case = handle(runner.submit(anonymous=False, **submit))
    with tenant_scope(tenant):
        report = db.session.scalar(select(Report).where(Report.case_id == case.id))
        report.identity = ReporterIdentity(
            tenant_id=tenant.id, full_name=REPORTER_NAME, contact={"email": "camille@example.org"}
        )
        db.session.commit()
    return case


@dataclass(frozen=True)
class Handle:
    """What a test needs of a case across requests (each request's commit expires the
    loaded object, which reloads only inside its tenant's scope)."""

    case: Case
    id: int
    public_id: str
    reference: str


def handle(case: Case) -> Handle:
    return Handle(case, case.id, case.public_id, case.reference)


def url(case, suffix="") -> str:
    return f"/t/ciup/staff/cases/{case.public_id}{suffix}"


def tokens(page) -> dict[str, str]:
    """Every CSRF field of the page: {field name: token}."""
    found = {}
    for tag in re.findall(r"<input[^>]*csrf_token[^>]*>", page.get_data(as_text=True)):
        name = re.search(r'name="([^"]+)"', tag).group(1)
        found[name] = re.search(r'value="([^"]+)"', tag).group(1)
    return found


def token(page) -> str:
    return next(iter(tokens(page).values()))


def post(client, case, suffix, data, *, prefix=None):
    """POST one of the case page's forms, with the token the page gave it."""
    page = client.get(url(case))
    assert page.status_code == 200
    name = f"{prefix}-csrf_token" if prefix else "csrf_token"
    return client.post(url(case, suffix), data={name: token(page), **data})


def step(client, case, key, **choices):
    data = {f"{key}-{field}": values for field, values in choices.items()}
    return post(client, case, f"/steps/{key}", data, prefix=key)


def problem_on(page) -> tuple[str, str] | None:
    """(rule, message) of the refusal shown at the top of the page, if any."""
    html = page.get_data(as_text=True)
    found = re.search(
        r'id="problem" data-rule="([^"]+)">\s*<p><strong>[^<]*</strong> ([^<]+)</p>', html
    )
    return (found.group(1), found.group(2)) if found else None


def audit_actions(tenant, action) -> list[AuditEvent]:
    with tenant_scope(tenant):
        return db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        ).all()


def state_of(tenant, case) -> str:
    with tenant_scope(tenant):
        return db.session.scalar(select(Case.state).where(Case.id == case.id))


def test_ciup_case_through_the_web_as_the_right_members(client, ciup):
    tenant, runner, people = ciup
    # the person reporting has not decided yet; the implicated person's house is not given
    case = named_case(
        tenant, runner, answers=answers(reporting_wish="think_about_it", victim_name=REPORTER_NAME)
    )
    listener = people["listener"]
    sign_in(client, listener, tenant)

    # the inbox lists it; the page shows the stage, the report, and never the name
    inbox = client.get("/t/ciup/staff/?lang=en").get_data(as_text=True)
    assert case.reference in inbox and "Alert received" in inbox
    page = client.get(url(case, "?lang=en"))
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    assert "What happened." in html  # the narrative, decrypted
    assert "Hold the exploratory interview" in html
    assert REPORTER_NAME not in html  # neither the identity nor the answer naming the victim
    assert "Show who reported" not in html  # CIUP: only once an investigation lifts anonymity
    assert [e.target_id for e in audit_actions(tenant, "case.read")] == [case.public_id]

    # the interview needs two members: alone, it is refused and nothing changes
    refused = step(client, case, "hold_exploratory_interview")
    assert refused.status_code == 303
    shown = client.get(refused.headers["Location"])
    assert problem_on(shown)[0] == "size"
    assert state_of(tenant, case) == "received"

    # with two other members of the listening unit
    done = step(
        client,
        case,
        "hold_exploratory_interview",
        participants=[people["specialist"].public_id, people["listener_2"].public_id],
    )
    assert done.status_code == 303
    assert state_of(tenant, case) == "heard"
    with tenant_scope(tenant):
        present = db.session.scalars(
            select(CaseMember.user_id).where(
                CaseMember.case_id == case.id, CaseMember.capacity == "present"
            )
        ).all()
    assert sorted(present) == sorted(
        [listener.id, people["specialist"].id, people["listener_2"].id]
    )

    # the statement form is written (the reporter is e-mailed by the platform, if they can be)
    assert step(client, case, "draft_statement_form").status_code == 303
    assert state_of(tenant, case) == "statement_drafted"
    # only the reporter validates it, from their space
    page = client.get(url(case, "?lang=en")).get_data(as_text=True)
    assert "Validate the statement form" in page  # listed among the steps one cannot take
    runner.take(case.case, "validate_statement_form", "reporter")

    # an investigation needs serious facts, the reporter's consent and the accused's house
    refused = step(client, case, "open_investigation", members=[people["pool_director"].public_id])
    assert problem_on(client.get(refused.headers["Location"]))[0] == "consent:lift_anonymity"
    post(
        client,
        case,
        "/consents/lift_anonymity",
        {"consent-lift_anonymity-given": "yes"},
        prefix="consent-lift_anonymity",
    )
    with tenant_scope(tenant):
        consent = db.session.scalar(
            select(CaseConsent).where(
                CaseConsent.case_id == case.id, CaseConsent.key == "lift_anonymity"
            )
        )
        assert consent.given and consent.recorded_by == "user"
    page = client.get(url(case, "?lang=en")).get_data(as_text=True)
    assert f"{listener.display_name}, on the person&#39;s word" in page
    assert "Not asked yet." in page  # the other consents

    team = [people["pool_director"], people["equalities"], people["expert"]]
    team_ids = [member.public_id for member in team]
    refused = step(client, case, "open_investigation", members=team_ids)
    assert problem_on(client.get(refused.headers["Location"]))[0] == "flag:serious_facts"
    post(client, case, "/flags/serious_facts", {"value": "set"})
    with tenant_scope(tenant):
        assert db.session.get(Case, case.id).flags == ["serious_facts"]

    refused = step(client, case, "open_investigation", members=team_ids)
    assert problem_on(client.get(refused.headers["Location"]))[0] == "site:implicated"
    post(
        client,
        case,
        "/sites/implicated",
        {"site-implicated-site": NON_AFFILIATED},
        prefix="site-implicated",
    )
    with tenant_scope(tenant):
        assert db.session.get(Case, case.id).facts["sites"]["implicated"] == NON_AFFILIATED

    # a composition breaking the conflict-of-interest rule is refused, naming the rule
    conflicted = [people["pool_victim_house"].public_id, *team_ids[1:]]
    refused = step(client, case, "open_investigation", members=conflicted)
    rule, message = problem_on(client.get(refused.headers["Location"]))
    assert rule == "rule:not_director_of_parties_houses"
    # in the reader's language (here the institution's, French), naming the person and rule
    assert people["pool_victim_house"].display_name in message
    assert "ne dirigent pas la ou les maisons dont sont issues la victime" in message
    # nothing changed: same stage, no one composed, identity still kept apart
    assert state_of(tenant, case) == "statement_validated"
    with tenant_scope(tenant):
        assert not db.session.scalar(
            select(func.count(CaseMember.id)).where(
                CaseMember.case_id == case.id, CaseMember.capacity == "composed"
            )
        )
        assert db.session.get(Case, case.id).identity_revealed_at is None
    # and the listener cannot have the name shown either
    refused = post(client, case, "/identity", {})
    assert problem_on(client.get(refused.headers["Location"]))[0] == "identity_kept_apart"
    assert audit_actions(tenant, "case.identity_viewed") == []

    # the right team: the investigation opens and anonymity is lifted
    assert step(client, case, "open_investigation", members=team_ids).status_code == 303
    assert state_of(tenant, case) == "investigation"
    with tenant_scope(tenant):
        opened = db.session.get(Case, case.id)
        assert opened.identity_revealed_at is not None
        composed = db.session.scalars(
            select(CaseMember.user_id).where(
                CaseMember.case_id == case.id, CaseMember.capacity == "composed"
            )
        ).all()
    assert sorted(composed) == sorted(member.id for member in team)

    # the listening unit no longer handles the case: still no name for it
    page = client.get(url(case, "?lang=en")).get_data(as_text=True)
    assert "Show who reported" not in page and REPORTER_NAME not in page

    # a member of the team may have it shown, once, and it is audited
    sign_in(client, people["pool_director"], tenant)
    page = client.get(url(case, "?lang=en")).get_data(as_text=True)
    assert "Show who reported" in page and REPORTER_NAME not in page
    shown = post(client, case, "/identity", {})
    assert shown.status_code == 303
    html = client.get(shown.headers["Location"]).get_data(as_text=True)
    assert REPORTER_NAME in html and "camille@example.org" in html
    viewed = audit_actions(tenant, "case.identity_viewed")
    assert [e.target_id for e in viewed] == [case.public_id]
    assert viewed[0].actor_user_id == people["pool_director"].id
    assert REPORTER_NAME not in str(viewed[0].details)
    # a reload hides it again
    assert REPORTER_NAME not in client.get(url(case)).get_data(as_text=True)

    # who must be told is a task for staff, marked done when done
    page = client.get(url(case, "?lang=en")).get_data(as_text=True)
    told = "An investigation concerning a resident of your house is open."
    assert told in page
    with tenant_scope(tenant):
        notice = db.session.scalar(
            select(CaseNotice).where(
                CaseNotice.case_id == case.id, CaseNotice.party == "implicated_house_director"
            )
        )
    assert post(client, case, f"/notices/{notice.public_id}", {}).status_code == 303
    with tenant_scope(tenant):
        done = db.session.get(CaseNotice, notice.id)
        assert done.done_at is not None and done.done_by_user_id == people["pool_director"].id
    assert (
        told
        not in client.get(url(case, "?lang=en")).get_data(as_text=True).split('id="timeline"')[0]
    )


def test_a_refusal_comes_back_in_the_readers_language(client, ciup):
    tenant, runner, people = ciup
    case = handle(runner.submit(answers=answers()))
    sign_in(client, people["listener"], tenant)
    page = client.get(url(case, "?lang=fr"))
    response = client.post(
        url(case, "/steps/hold_exploratory_interview?lang=fr"),
        data={"hold_exploratory_interview-csrf_token": token(page)},
    )
    assert response.status_code == 303
    assert "lang=fr" in response.headers["Location"]
    rule, message = problem_on(client.get(response.headers["Location"]))
    assert rule == "size"
    assert message == "Cellule d&#39;écoute et de signalement : il faut au moins 2 personnes ici."
    assert state_of(tenant, case) == "received"
    # shown once: the next visit no longer carries it
    assert problem_on(client.get(url(case, "?lang=fr"))) is None


def test_decision_from_the_ladder_appeal_and_support_plan_after_closure(client, ciup):
    tenant, runner, people = ciup
    case = handle(runner.submit(answers=answers(implicated_house=NON_AFFILIATED)))
    runner.take(
        case.case,
        "hold_exploratory_interview",
        people["listener"],
        participants=[people["specialist"]],
    )
    runner.take(case.case, "draft_statement_form", people["listener"])
    runner.take(case.case, "validate_statement_form", "reporter")
    runner.flag(case.case, "serious_facts", people["listener"])
    team = [people["pool_director"], people["equalities"], people["expert"]]
    runner.take(case.case, "open_investigation", people["listener_2"], members=team)

    # a protective measure at any stage, then lifted
    sign_in(client, people["expert"], tenant)
    step(
        client,
        case,
        "record_protective_measure",
        measures=["change_of_house_offered_to_victim"],
    )
    with tenant_scope(tenant):
        measure = db.session.scalar(select(CaseMeasure).where(CaseMeasure.case_id == case.id))
    assert measure.kind == "protective"
    post(client, case, f"/measures/{measure.public_id}/lift", {})
    with tenant_scope(tenant):
        lifted = db.session.get(CaseMeasure, measure.id)
        assert lifted.lifted_at is not None and lifted.lifted_by_user_id == people["expert"].id
    assert [e.details for e in audit_actions(tenant, "case.measure_lifted")] == [
        {"measure": "change_of_house_offered_to_victim"}
    ]
    # lifting it again is refused, and changes nothing
    refused = post(client, case, f"/measures/{measure.public_id}/lift", {})
    assert problem_on(client.get(refused.headers["Location"]))[0] == "already_lifted"

    # the team's recommendation, then the report to the accused's house director
    post(
        client,
        case,
        "/notes",
        {"note-kind": "recommendation", "note-body": "Recommend a warning and a change of house."},
        prefix="note",
    )
    step(client, case, "submit_report_to_house_director")
    assert state_of(tenant, case) == "decision"

    # the decision maker chooses from the ladder, least serious first
    sign_in(client, people["accused_house_director"], tenant)
    page = client.get(url(case, "?lang=en")).get_data(as_text=True)
    ladder = [page.index(f"{rank}. ") for rank in range(1, 8)]
    assert ladder == sorted(ladder)
    assert "Recommend a warning and a change of house." in page  # the note, in the timeline
    # a protective measure is not a sanction: refused, nothing decided
    refused = step(client, case, "decide", measures=["change_of_house_offered_to_victim"])
    assert refused.status_code == 303
    assert state_of(tenant, case) == "decision"
    step(client, case, "decide", measures=["warning"])
    assert state_of(tenant, case) == "decided"
    # a sanction is not lifted from the page: an appeal changes it
    with tenant_scope(tenant):
        warning = db.session.scalar(
            select(CaseMeasure.public_id).where(CaseMeasure.key == "warning")
        )
    refused = post(client, case, f"/measures/{warning}/lift", {})
    assert problem_on(client.get(refused.headers["Location"]))[0] == "not_liftable"
    # the decision maker records the appeal; the board's president decides it
    step(client, case, "lodge_appeal")
    assert state_of(tenant, case) == "appeal"
    sign_in(client, people["board_president"], tenant)
    post(
        client,
        case,
        "/notes",
        {"note-kind": "appeal", "note-body": "The warning stands."},
        prefix="note",
    )
    step(client, case, "decide_appeal")
    assert state_of(tenant, case) == "closed"
    with tenant_scope(tenant):
        assert runner.measures(case.case) == ["change_of_house_offered_to_victim", "warning"]

    # once closed, only the follow-up support plan can still be written
    refused = post(
        client, case, "/notes", {"note-kind": "note", "note-body": "Late remark."}, prefix="note"
    )
    assert refused.status_code == 303
    post(
        client,
        case,
        "/notes",
        {"note-kind": "support_plan", "note-body": "Follow-up with the RSI."},
        prefix="note",
    )
    with tenant_scope(tenant):
        notes = db.session.scalars(
            select(CaseNote.kind).where(CaseNote.case_id == case.id).order_by(CaseNote.id)
        ).all()
    assert notes == ["recommendation", "appeal", "support_plan"]
    page = client.get(url(case, "?lang=en")).get_data(as_text=True)
    assert "Follow-up support plan" in page and "Follow-up with the RSI." in page
    assert "Late remark." not in page
    # the audit trail holds the notes' kinds, never their text
    kinds = [e.details["kind"] for e in audit_actions(tenant, "case.note")]
    assert kinds == ["recommendation", "appeal", "support_plan"]


def test_timeline_messages_evidence_and_unread_count(client, ciup):
    tenant, runner, people = ciup
    case = handle(runner.submit(answers=answers()))
    with tenant_scope(tenant):
        report = db.session.scalar(select(Report).where(Report.case_id == case.id))
        db.session.add(
            Evidence(
                tenant_id=tenant.id,
                report_id=report.id,
                filename="capture.txt",
                media_type="text/plain",
                size=11,
                data=b"screenshot!",
                added_by="reporter",
            )
        )
        db.session.add(
            Message(
                tenant_id=tenant.id,
                case_id=case.id,
                author_kind="reporter",
                body="Are you still there?",
            )
        )
        # what the case file adds comes into the same timeline
        db.session.add(
            Hearing(
                tenant_id=tenant.id,
                case_id=case.id,
                person_kind="victim",
                person_name="Someone heard",
                created_by_user_id=people["specialist"].id,
            )
        )
        db.session.commit()
        evidence_id = db.session.scalar(select(Evidence.public_id))
        hearing_id = db.session.scalar(select(Hearing.public_id))
    sign_in(client, people["specialist"], tenant)
    inbox = client.get("/t/ciup/staff/?lang=en").get_data(as_text=True)
    assert re.search(r"<strong>1</strong><span class=\"visually-hidden\"> unread", inbox)

    sent_sql: list[str] = []
    listen = ("before_cursor_execute", lambda c, cur, statement, *a: sent_sql.append(statement))
    event.listen(db.engine, *listen)
    page = client.get(url(case, "?lang=en")).get_data(as_text=True)
    event.remove(db.engine, *listen)
    assert "Are you still there?" in page and "Message from the person reporting" in page
    # the files themselves are read when downloaded, never to show the page
    assert sent_sql and not [s for s in sent_sql if "evidence.data" in s]
    assert "capture.txt" in page and "Report received; case opened" in page
    assert f'/staff/cases/{case.public_id}/hearings/{hearing_id}">Hearing planned</a>' in page
    assert "Someone heard" not in page  # the timeline names no one the case file holds
    # someone handling the case has now read it
    inbox = client.get("/t/ciup/staff/?lang=en").get_data(as_text=True)
    assert "unread" not in inbox.split("<tbody>")[1]

    post(
        client,
        case,
        "/messages",
        {"message-body": "Yes, we are. Can we meet on Tuesday?"},
        prefix="message",
    )
    with tenant_scope(tenant):
        sent = db.session.scalar(select(Message).where(Message.author_kind == "staff"))
        assert sent.body == "Yes, we are. Can we meet on Tuesday?"
        assert sent.author_user_id == people["specialist"].id
    page = client.get(url(case, "?lang=en")).get_data(as_text=True)
    assert page.index("Are you still there?") < page.index("Can we meet on Tuesday?")

    download = client.get(url(case, f"/evidence/{evidence_id}"))
    assert download.status_code == 200
    assert download.data == b"screenshot!"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert "capture.txt" in download.headers["Content-Disposition"]
    assert download.headers["Cache-Control"] == "no-store"
    downloads = audit_actions(tenant, "evidence.downloaded")
    assert [(e.target_id, e.details) for e in downloads] == [
        (case.public_id, {"evidence": evidence_id})
    ]


def timeline_entries(page: str) -> list[str]:
    return re.findall(r'<li class="entry entry-.*?</li>', page, re.S)


def test_a_long_timeline_shows_its_latest_entries_and_links_to_the_whole(client, ciup):
    tenant, runner, people = ciup
    case = handle(runner.submit(answers=answers()))
    sign_in(client, people["specialist"], tenant)
    short = client.get(url(case, "?lang=en")).get_data(as_text=True)
    assert len(timeline_entries(short)) < TIMELINE_WINDOW
    assert "Show the whole timeline" not in short

    # every kind of entry, interleaved, each kind alone more than the window holds
    with tenant_scope(tenant):
        start = db.session.get(Case, case.id).opened_at + timedelta(days=1)
        report = db.session.scalar(select(Report).where(Report.case_id == case.id))
        for n in range(TIMELINE_WINDOW + 5):
            at = start + timedelta(minutes=5 * n)
            # the last three rounds happen at one moment each: the window cuts through one
            step = timedelta(0) if n >= TIMELINE_WINDOW + 2 else timedelta(minutes=1)
            staff = people["specialist"].id
            common = {"tenant_id": tenant.id, "case_id": case.id}
            db.session.add_all(
                [
                    CaseEvent(
                        **common,
                        created_at=at,
                        kind="flag",
                        key="serious_danger",
                        actor_kind="user",
                        actor_user_id=staff,
                        details={"set": n % 2 == 0},
                    ),
                    Message(
                        **common,
                        created_at=at + step,
                        author_kind="reporter",
                        body=f"Message number {n}",
                    ),
                    CaseNote(
                        **common,
                        created_at=at + 2 * step,
                        kind="note",
                        body=f"Note number {n}",
                        author_user_id=staff,
                    ),
                    CaseMeasure(
                        **common,
                        decided_at=at + 3 * step,
                        key="change_of_house_offered_to_victim",
                        kind="protective",
                        transition_key="record_protective_measure",
                        decided_by_user_id=staff,
                    ),
                    Evidence(
                        tenant_id=tenant.id,
                        report_id=report.id,
                        created_at=at + 4 * step,
                        filename=f"file-{n}.txt",
                        media_type="text/plain",
                        size=1,
                        data=b"x",
                        added_by="reporter",
                    ),
                ]
            )
        # then a burst of messages: most of the latest entries are of one kind
        burst = start + timedelta(days=1)
        for n in range(TIMELINE_WINDOW - 12):
            at = burst + timedelta(minutes=n)
            db.session.add(Message(**common, created_at=at, author_kind="staff", body=f"Burst {n}"))
        db.session.commit()

    page = client.get(url(case, "?lang=en")).get_data(as_text=True)
    whole = client.get(url(case, "?lang=en&timeline=all")).get_data(as_text=True)
    latest, every = timeline_entries(page), timeline_entries(whole)
    assert len(every) > 6 * TIMELINE_WINDOW
    # the page shows exactly the newest entries of the whole timeline, in the same order,
    # where the window's edge falls among entries of one moment too
    assert latest == every[-TIMELINE_WINDOW:]
    moment = re.compile(r'datetime="([^"]+)"')
    edge = every[-TIMELINE_WINDOW - 1 : -TIMELINE_WINDOW + 1]
    assert moment.search(edge[0]).group(1) == moment.search(edge[1]).group(1)
    assert f"file-{TIMELINE_WINDOW + 4}.txt" in page and "Message number 0<" not in page
    assert f"The latest {TIMELINE_WINDOW} entries are shown." in page
    link = f'href="/t/ciup/staff/cases/{case.public_id}?lang=en&amp;timeline=all#timeline"'
    assert link in page
    assert "Show only the latest entries" in whole and "Show the whole timeline" not in whole
    french = client.get(url(case, "?lang=fr")).get_data(as_text=True)
    assert f"Les {TIMELINE_WINDOW} dernières entrées sont affichées." in french
    assert "Afficher tout l’historique" in french


def test_posts_without_a_token_change_nothing(client, ciup):
    tenant, runner, people = ciup
    case = handle(runner.submit(answers=answers()))
    sign_in(client, people["listener"], tenant)
    response = client.post(
        url(case, "/steps/hold_exploratory_interview"),
        data={"hold_exploratory_interview-participants": [people["specialist"].public_id]},
    )
    assert response.status_code == 400
    response = client.post(url(case, "/flags/serious_facts"), data={"value": "set"})
    assert response.status_code == 400
    assert state_of(tenant, case) == "received"
    with tenant_scope(tenant):
        assert db.session.get(Case, case.id).flags == []


def test_someone_without_a_part_cannot_act_even_by_posting(client, ciup):
    tenant, runner, people = ciup
    case = handle(runner.submit(answers=answers()))
    # the investigation team has no part yet: the page and every action are 404
    member = people["pool_director"]
    sign_in(client, member, tenant)
    assert client.get(url(case)).status_code == 404
    # a token from another page of the back office is a valid token: the refusal is the case's
    inbox = client.get("/t/ciup/staff/")
    response = client.post(
        url(case, "/flags/serious_facts"), data={"csrf_token": token(inbox), "value": "set"}
    )
    assert response.status_code == 404
    with tenant_scope(tenant):
        assert db.session.get(Case, case.id).flags == []
    assert audit_actions(tenant, "case.read") == []


def test_identity_rule_for_ciup_and_neoma(ciup, make_tenant, make_member, case_runner, app):
    tenant, runner, people = ciup
    institution = runner.institution
    assert identity_gated(institution)
    case = named_case(tenant, runner, answers=answers(implicated_house=NON_AFFILIATED))
    with tenant_scope(tenant):
        assert not may_view_identity(people["listener"], case.case, institution)
    runner.take(
        case.case,
        "hold_exploratory_interview",
        people["listener"],
        participants=[people["specialist"]],
    )
    runner.take(case.case, "draft_statement_form", people["listener"])
    runner.take(case.case, "validate_statement_form", "reporter")
    runner.flag(case.case, "serious_facts", people["listener"])
    runner.flag(case.case, "serious_danger", people["listener"])
    team = [people["pool_director"], people["equalities"], people["expert"]]
    runner.take(case.case, "open_investigation", people["listener_2"], members=team)
    with tenant_scope(tenant):
        # serious danger: anonymity kept even though the investigation is open
        assert case.case.identity_revealed_at is None
        assert not may_view_identity(people["pool_director"], case.case, institution)

    revealed = named_case(tenant, runner, answers=answers(implicated_house=NON_AFFILIATED))
    runner.take(
        revealed.case,
        "hold_exploratory_interview",
        people["listener"],
        participants=[people["specialist"]],
    )
    runner.take(revealed.case, "draft_statement_form", people["listener"])
    runner.take(revealed.case, "validate_statement_form", "reporter")
    runner.flag(revealed.case, "serious_facts", people["listener"])
    runner.take(revealed.case, "open_investigation", people["listener_2"], members=team)
    with tenant_scope(tenant):
        assert may_view_identity(people["pool_director"], revealed.case, institution)
        assert not may_view_identity(
            people["listener"], revealed.case, institution
        )  # no longer handles
        assert not may_view_identity(people["accused_house_director"], revealed.case, institution)

    # NEOMA lifts anonymity at no step: those handling the case may see who reported
    neoma = make_tenant("neoma", enable=("neoma",))
    neoma_runner = case_runner(neoma)
    rouen = [make_member(neoma, "angela_unit", role="officer", site="rouen") for _ in range(2)]
    reims = make_member(neoma, "angela_unit", role="officer", site="reims")
    student_life = make_member(neoma, "pre_analysis", role="director_of_student_life")
    admin = make_member(neoma, "angela_unit", role="officer", site="rouen", roles=(Role.ADMIN,))
    neoma_case = neoma_runner.submit(anonymous=False, answers={"campus": "rouen"})
    neoma_institution = neoma_runner.institution
    assert not identity_gated(neoma_institution)
    with tenant_scope(neoma):
        assert may_view_identity(rouen[0], neoma_case, neoma_institution)
        assert not may_view_identity(reims, neoma_case, neoma_institution)
        assert not may_view_identity(student_life, neoma_case, neoma_institution)
        assert may_view_identity(admin, neoma_case, neoma_institution)  # a Rouen officer too
    neoma_runner.take(neoma_case, "register_report", rouen[0], participants=[rouen[1]])
    neoma_runner.take(neoma_case, "refer_to_pre_analysis", rouen[0])
    with tenant_scope(neoma):
        assert may_view_identity(student_life, neoma_case, neoma_institution)
        assert not may_view_identity(rouen[0], neoma_case, neoma_institution)


def test_an_anonymous_report_has_no_name_to_show(client, ciup):
    tenant, runner, people = ciup
    case = handle(runner.submit(answers=answers()))
    sign_in(client, people["listener"], tenant)
    html = client.get(url(case, "?lang=en")).get_data(as_text=True)
    assert "This report is anonymous." in html
    refused = post(client, case, "/identity", {})
    assert problem_on(client.get(refused.headers["Location"]))[0] == "anonymous"
    with tenant_scope(tenant):
        assert not db.session.scalar(
            select(func.count(CaseEvent.id)).where(CaseEvent.kind == "identity")
        )


def test_the_wellness_centre_writes_the_support_plan_after_closure(
    client, make_tenant, make_member, case_runner
):
    neoma = make_tenant("neoma", enable=("neoma",))
    runner = case_runner(neoma)
    first, second = (
        make_member(neoma, "angela_unit", role="officer", site="paris") for _ in range(2)
    )
    student_life = make_member(neoma, "pre_analysis", role="director_of_student_life")
    make_member(neoma, "pre_analysis", role="head_of_legal")
    wellness = make_member(neoma, "wellness_centre")
    case = handle(runner.submit(anonymous=False, answers={"campus": "paris"}))
    runner.take(case.case, "register_report", first, participants=[second])
    runner.take(case.case, "refer_to_pre_analysis", first)
    runner.take(case.case, "raise_awareness", student_life, measures=["awareness_raising"])
    assert state_of(neoma, case) == "closed"

    sign_in(client, wellness, neoma)
    page = client.get(f"/t/neoma/staff/cases/{case.public_id}?lang=en")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Offer an individual support plan" in html
    assert '<option value="support_plan">' in html and '<option value="note">' not in html
    response = client.post(
        f"/t/neoma/staff/cases/{case.public_id}/notes",
        data={
            "note-csrf_token": token(page),
            "note-kind": "support_plan",
            "note-body": "Mediation offered to both students.",
        },
    )
    assert response.status_code == 303
    refused = client.post(
        f"/t/neoma/staff/cases/{case.public_id}/notes",
        data={"note-csrf_token": token(page), "note-kind": "note", "note-body": "A remark."},
    )
    assert problem_on(client.get(refused.headers["Location"]))[0] == "closed"
    with tenant_scope(neoma):
        notes = db.session.scalars(select(CaseNote.kind).where(CaseNote.case_id == case.id)).all()
    assert notes == ["support_plan"]


def test_one_rule_for_the_answers_naming_the_victim_on_the_page_and_in_the_pdf(client, ciup, app):
    tenant, runner, people = ciup
    institution = runner.institution
    case = named_case(
        tenant, runner, answers=answers(implicated_house=NON_AFFILIATED, victim_name=REPORTER_NAME)
    )
    with tenant_scope(tenant):
        report = db.session.scalar(select(Report).where(Report.case_id == case.id))
        # before an investigation lifts anonymity, no one is shown the answer naming the victim
        seen = visible_answers(report, people["listener"], case.case, institution)
        assert "victim_name" not in seen and seen["victim_house"] == AFFILIATED
    sign_in(client, people["listener"], tenant)
    export = client.get(f"/t/ciup/staff/cases/{case.public_id}/export.pdf?lang=en")
    assert export.status_code == 200
    assert REPORTER_NAME not in " ".join(
        page.extract_text() for page in PdfReader(io.BytesIO(export.data)).pages
    )

    runner.take(
        case.case,
        "hold_exploratory_interview",
        people["listener"],
        participants=[people["specialist"]],
    )
    runner.take(case.case, "draft_statement_form", people["listener"])
    runner.take(case.case, "validate_statement_form", "reporter")
    runner.flag(case.case, "serious_facts", people["listener"])
    runner.consent(case.case, "lift_anonymity")
    team = [people["pool_director"], people["equalities"], people["expert"]]
    runner.take(case.case, "open_investigation", people["listener_2"], members=team)
    with tenant_scope(tenant):
        report = db.session.scalar(select(Report).where(Report.case_id == case.id))
        lifted = db.session.get(Case, case.id)
        assert lifted.identity_revealed_at is not None
        # those handling the case now may be shown it; the unit, no longer handling, may not
        assert visible_answers(report, people["expert"], lifted, institution)["victim_name"] == (
            REPORTER_NAME
        )
        assert "victim_name" not in visible_answers(report, people["listener"], lifted, institution)
        # a witness reporting names the victim without naming themselves: never kept apart
        witness = Report(reporter_relation="witness", form_data={"victim_name": "Someone"})
        assert visible_answers(witness, people["listener"], lifted, institution) == {
            "victim_name": "Someone"
        }
    # the case file's PDF follows the same rule as the page and the API
    expert = app.test_client()
    sign_in(expert, people["expert"], tenant)
    export = expert.get(f"/t/ciup/staff/cases/{case.public_id}/export.pdf?lang=en")
    assert export.status_code == 200
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(export.data)).pages)
    assert REPORTER_NAME in " ".join(text.split())


def test_pickers_list_only_the_members_who_could_serve_the_case(
    client, make_tenant, make_member, case_runner
):
    neoma = make_tenant("neoma", enable=("neoma",))
    runner = case_runner(neoma)
    first = make_member(neoma, "angela_unit", role="officer", site="rouen", name="Rose Rouen")
    second = make_member(neoma, "angela_unit", role="officer", site="rouen", name="Rémi Rouen")
    reims = make_member(neoma, "angela_unit", role="officer", site="reims", name="Rita Reims")
    case = handle(runner.submit(anonymous=False, answers={"campus": "rouen"}))
    sign_in(client, first, neoma)
    page = client.get(f"/t/neoma/staff/cases/{case.public_id}?lang=en")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert second.public_id in html and second.display_name in html
    assert reims.public_id not in html and reims.display_name not in html
    # a Reims officer chosen anyway (a forged form) is not among the choices: nothing changes
    forged = client.post(
        f"/t/neoma/staff/cases/{case.public_id}/steps/register_report",
        data={
            "register_report-csrf_token": tokens(page)["register_report-csrf_token"],
            "register_report-participants": [reims.public_id],
        },
    )
    assert forged.status_code == 303
    assert state_of(neoma, case) == "received"

    # nor may she be recorded as present at a hearing of this case
    with tenant_scope(neoma):
        present = hearing_staff(db.session.get(Case, case.id), runner.institution)
    assert {u.id for u in present} == {first.id, second.id}
