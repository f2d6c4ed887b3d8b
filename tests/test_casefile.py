"""The case file: CIUP's statement form (written by the unit, validated by the reporter in their
space), hearings from summons to sign-off, documents given with a written agreement, and the
PDF exports with the reader's name on every page. Through the web layer, on both backends."""

import io
import re

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from core.audit.models import AuditEvent
from core.casefile.models import CaseDocument, Hearing, StatementForm
from core.casefile.operations import (
    add_document,
    change_hearing,
    create_hearing,
    latest_statement,
    read_document,
    record_acknowledgement,
    record_hearing,
    record_summons,
    sign_off_hearing,
    statement_definition,
    timeline_entries,
    validate_statement_form,
)
from core.cases.models import Case, CaseMeasure, Message
from core.cases.operations import ProcedureRefusal
from core.extensions import db
from core.identity.models import Role
from core.plugins import PluginError, TenantInfo, hookimpl
from core.procedure.definition import Institution
from core.tenancy.scoping import tenant_scope
from core.testing import sign_in
from core.types import utcnow

AFFILIATED = "fondation_deutsch_de_la_meurthe"
NON_AFFILIATED = "maison_heinrich_heine"
OTHER_HOUSE = "fondation_suisse"
NEUTRAL_HOUSE = "fondation_des_etats_unis"
NARRATIVE = "He waited outside my door every night in March."
# long enough for the statement form to fill more than one page
DESCRIPTION = "\n".join(
    f"{n}. On the {n}th evening he knocked and said <script>alert(1)</script> again."
    for n in range(1, 90)
)


def token(page: bytes) -> str:
    return re.search(rb'name="(?:[a-z_]+-)?csrf_token"[^>]*value="([^"]+)"', page)[1].decode()


def receipt_in(page: bytes) -> str:
    return re.search(rb'class="receipt-code"[^>]*><strong>([0-9 ]+)</strong>', page)[1].decode()


def pdf_pages(data: bytes) -> list[str]:
    """Each page's text, its lines joined (the PDF wraps lines where it likes)."""
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages]


def audit_actions(tenant, prefix: str) -> list[tuple[str, dict]]:
    with tenant_scope(tenant):
        rows = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action.like(f"{prefix}%")).order_by(AuditEvent.seq)
        )
        return [(row.action, dict(row.details)) for row in rows]


@pytest.fixture
def ciup(make_tenant, make_member, case_runner):
    tenant = make_tenant("ciup", enable=("ciup",))

    def member(committee, role=None, site=None, name=None):
        return make_member(tenant, committee, role=role, site=site, name=name)

    people = {
        "listener": member("listening_unit", "other_house_director", OTHER_HOUSE, "Louise"),
        "listener_2": member(
            "listening_unit", "other_house_director", "fondation_lucien_paye", "Lucien"
        ),
        "specialist": member("listening_unit", "specialist", name="Sophie"),
        "pool_director": member("investigation_team", "house_director", NEUTRAL_HOUSE, "Pierre"),
        "equalities": member("investigation_team", "equalities_officer", name="Emma"),
        "expert": member("investigation_team", "specialist", name="Xavier"),
        "delegate": member("general_delegation", "general_delegate", name="Delphine"),
    }
    return tenant, case_runner(tenant), people


def staff_client(app, user, tenant):
    client = app.test_client()
    sign_in(client, user, tenant)
    return client


def report_through_the_portal(client, **overrides) -> str:
    """A CIUP resident's anonymous alert; the client keeps the reporter's space open."""
    page = client.get("/t/ciup/report?lang=en")
    data = {
        "csrf_token": token(page.data),
        "once": re.search(rb'name="once" type="hidden" value="([^"]+)"', page.data)[1].decode(),
        "relation": "victim",
        "anonymous": "yes",
        "narrative": NARRATIVE,
        "x_victim_house": AFFILIATED,
        "x_implicated_house": NON_AFFILIATED,
        "x_reporting_wish": "report",
        **overrides,
    }
    sent = client.post("/t/ciup/report?lang=en", data=data, content_type="multipart/form-data")
    assert sent.status_code == 200, sent.data
    return receipt_in(sent.data)


def the_case(tenant) -> Case:
    with tenant_scope(tenant):
        return db.session.scalar(select(Case).order_by(Case.id.desc()))


def heard(tenant, runner, people) -> Case:
    case = the_case(tenant)
    runner.take(
        case, "hold_exploratory_interview", people["listener"], participants=[people["specialist"]]
    )
    return case


def answers(**more) -> dict:
    return {
        "x_form_author": "Louise Martin, director of the Fondation suisse",
        "x_victim_identity": "Camille Roux, Fondation Deutsch de la Meurthe",
        "x_implicated_identity": "Jo Bernard, Maison Heinrich Heine",
        "x_when_and_where": "March, evenings, corridor of the 3rd floor",
        "x_frequency": "already_happened",
        "x_times_already_happened": "about twenty",
        "x_still_happening": "yes",
        "x_witnesses": "none",
        "x_description": DESCRIPTION,
        "x_form_date": "2026-04-02",
        "x_wish": "report",
        "x_share_with_rsi": "yes",
        "x_unit_signatories": "Louise Martin, Sophie Petit",
        **more,
    }


def write_statement(client, action="save", **fields):
    page = client.get("/t/ciup/staff/cases/{}/statement-form?lang=en".format(fields.pop("case")))
    assert page.status_code == 200
    return client.post(
        page.request.path + "?lang=en",
        data={"csrf_token": token(page.data), "action": action, **fields},
    )


def versions(tenant, case) -> list[StatementForm]:
    with tenant_scope(tenant):
        return list(
            db.session.scalars(
                select(StatementForm)
                .where(StatementForm.case_id == case.id)
                .order_by(StatementForm.version)
            )
        )


# -- the hook ----------------------------------------------------------------------------------


def test_ciups_statement_form_is_annex_1_in_both_languages(plugins, ciup):
    tenant, _, _ = ciup
    info = TenantInfo.of(tenant)
    form = plugins.call(info, "statement_form")
    french = plugins.call(info, "statement_form", locale="fr")

    assert (form["submit_transition"], form["validate_transition"]) == (
        "draft_statement_form",
        "validate_statement_form",
    )
    assert form["return_transition"] is None
    assert form["share_transition"] == "pass_statement_form_to_investigation"
    fields = {f["key"]: f for s in form["sections"] for f in s["fields"]}
    assert list(fields) == [
        "form_author",
        "victim_identity",
        "implicated_identity",
        "when_and_where",
        "frequency",
        "times_already_happened",
        "still_happening",
        "witnesses",
        "witness_names",
        "description",
        "form_date",
        "wish",
        "share_with_rsi",
        "unit_signatories",
        "observations",
    ]
    assert {f["filled_by"] for f in fields.values()} == {"unit"}
    assert [c["value"] for c in fields["wish"]["choices"]] == [
        "report",
        "do_not_report",
        "think_about_it",
    ]
    assert fields["form_date"]["type"] == "date"
    assert fields["description"]["type"] == "textarea" and fields["description"]["required"]
    french_fields = {f["key"]: f for s in french["sections"] for f in s["fields"]}
    assert french["title"] == "Fiche de recueil de la parole"
    assert french_fields["form_author"]["label"] == (
        "Rédacteur ou rédactrice de la fiche (nom, prénom, fonction)"
    )
    assert french_fields["observations"]["label"] == (
        "Observations / Recommandations de la Cellule d'écoute"
    )
    assert [c["label"] for c in french_fields["witnesses"]["choices"]] == [
        "Il n'y avait pas de témoin",
        "Un ou plusieurs témoin(s)",
    ]
    assert plugins.call(info, "hearing_rules") == {
        "assistance": "person_of_choice",
        "voluntary": False,
        "note": "",
    }


def test_a_statement_form_that_does_not_fit_the_procedure_is_refused(
    ad_hoc_plugin, make_tenant, plugins
):
    def form(**changes):
        data = {
            "title": "Statement",
            "submit_transition": "draft_statement_form",
            "validate_transition": "validate_statement_form",
            "sections": [
                {
                    "key": "facts",
                    "title": "Facts",
                    "fields": [{"key": "what", "label": "What", "type": "textarea"}],
                }
            ],
        }
        return data | changes

    class Plugin:
        def __init__(self, answer):
            self.answer = answer

        @hookimpl
        def statement_form(self, tenant):
            return self.answer

    ad_hoc_plugin("unknown_step", Plugin(form(validate_transition="sign_it")))
    with pytest.raises(PluginError, match="unknown transition 'sign_it'"):
        make_tenant("one", enable=("ciup", "unknown_step"))
    db.session.rollback()
    ad_hoc_plugin("not_reporters", Plugin(form(validate_transition="draft_statement_form")))
    with pytest.raises(PluginError, match="is not the reporter's step"):
        make_tenant("two", enable=("ciup", "not_reporters"))
    db.session.rollback()
    bad_choice = form()
    bad_choice["sections"][0]["fields"].append({"key": "yes", "label": "Yes", "type": "choice"})
    ad_hoc_plugin("bad_choice", Plugin(bad_choice))
    with pytest.raises(PluginError, match="a choice field needs choices") as caught:
        make_tenant("three", enable=("ciup", "bad_choice"))
    assert (caught.value.plugin, caught.value.hook) == ("bad_choice", "statement_form")


# -- the statement form, from the unit to the reporter ----------------------------------------


def test_the_statement_form_from_draft_to_the_reporters_validation(app, client, ciup):
    tenant, runner, people = ciup
    receipt = report_through_the_portal(client)
    case = heard(tenant, runner, people)
    public_id = case.public_id
    unit = staff_client(app, people["listener"], tenant)

    page = unit.get(f"/t/ciup/staff/cases/{public_id}/statement-form?lang=en")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    text = page.get_data(as_text=True)
    assert "Form completed by (full name, position)" in text
    assert "Save and give it to the reporter" in text

    # a draft without its required parts is kept, but not given to the reporter
    saved = write_statement(unit, case=public_id, action="submit", x_form_author="Louise")
    assert saved.status_code == 303
    assert runner.refresh(case).state == "heard"
    [draft] = versions(tenant, case)
    assert draft.content == {"form_author": "Louise"} and draft.submitted_at is None
    refused = unit.get(saved.headers["Location"]).get_data(as_text=True)
    assert "Fill in this part of the form first: Victim&#39;s identity (full name, house)." in (
        refused
    )

    given = write_statement(unit, case=public_id, action="submit", **answers())
    assert given.status_code == 303
    case = runner.refresh(case)
    assert case.state == "statement_drafted"  # the procedure's step was taken
    assert ("draft_statement_form", "reporter") in runner.notices(case)
    [first] = versions(tenant, case)
    assert first.submitted_at is not None and first.content["description"] == DESCRIPTION
    # the version the reporter reads does not change
    again = write_statement(unit, case=public_id, **answers(x_observations="More."))
    assert again.status_code == 303
    assert "The reporter is reading this version." in unit.get(again.headers["Location"]).get_data(
        as_text=True
    )
    assert [v.content.get("observations") for v in versions(tenant, case)] == [None]

    # the reporter, back with the receipt, reads it next to the validation step
    reporter = app.test_client()
    login = reporter.get("/t/ciup/space/login?lang=en")
    reporter.post(
        "/t/ciup/space/login?lang=en", data={"csrf_token": token(login.data), "receipt": receipt}
    )
    space = reporter.get("/t/ciup/space?lang=en")
    text = space.get_data(as_text=True)
    assert "Camille Roux, Fondation Deutsch de la Meurthe" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "<script>alert" not in text
    assert "Has already happened" in text  # a choice shows its label
    assert "I have read my statement form and it is right" in text  # the procedure's step
    assert "/space/steps/validate_statement_form" not in text  # offered once, beside the form

    # something is wrong: sent back with a comment, which reaches the unit as a message
    returned = reporter.post(
        "/t/ciup/space/statement-form/return?lang=en",
        data={"csrf_token": token(space.data), "comment": "It was in April, not March."},
    )
    assert returned.status_code == 303
    case = runner.refresh(case)
    assert case.state == "statement_drafted"  # CIUP's procedure has no step back
    [first] = versions(tenant, case)
    assert first.returned_at is not None and first.validated_at is None
    with tenant_scope(tenant):
        message = db.session.scalar(select(Message).where(Message.case_id == case.id))
        assert (message.author_kind, message.body) == ("reporter", "It was in April, not March.")

    # the unit writes version 2 from version 1; version 1 stays as it was
    page = unit.get(f"/t/ciup/staff/cases/{public_id}/statement-form?lang=en")
    assert "Write version 2" in page.get_data(as_text=True)
    assert "March, evenings" in page.get_data(as_text=True)  # it starts from version 1
    corrected = write_statement(
        unit, case=public_id, action="submit", **answers(x_when_and_where="April, evenings")
    )
    assert corrected.status_code == 303
    first, second = versions(tenant, case)
    assert first.content["when_and_where"] == "March, evenings, corridor of the 3rd floor"
    assert (second.version, second.content["when_and_where"]) == (2, "April, evenings")
    assert [n for n in runner.notices(case) if n[0] == "draft_statement_form"] == [
        ("draft_statement_form", "reporter")
    ] * 2  # the reporter is told of the new version too
    old = unit.get(f"/t/ciup/staff/cases/{public_id}/statement-form/1?lang=en")
    assert old.status_code == 200 and "Save the draft" not in old.get_data(as_text=True)
    assert "March, evenings" in old.get_data(as_text=True)

    # the reporter validates it with the procedure's own step
    space = reporter.get("/t/ciup/space?lang=en")
    assert "April, evenings" in space.get_data(as_text=True)
    validated = reporter.post(
        "/t/ciup/space/steps/validate_statement_form?lang=en",
        data={"csrf_token": token(space.data)},
    )
    assert validated.status_code == 303
    assert runner.refresh(case).state == "statement_validated"
    first, second = versions(tenant, case)
    assert second.validated_at is not None and first.validated_at is None
    assert "You validated it on" in reporter.get("/t/ciup/space?lang=en").get_data(as_text=True)

    actions = audit_actions(tenant, "statement_form.")
    assert [a for a, _ in actions] == [
        "statement_form.drafted",
        "statement_form.updated",
        "statement_form.submitted",
        "statement_form.returned",
        "statement_form.drafted",
        "statement_form.submitted",
        "statement_form.validated",
    ]
    assert actions[2][1] == {"version": 1, "transition": "draft_statement_form"}
    assert actions[5][1] == {"version": 2, "transition": None}
    assert actions[6][1] == {"version": 2, "transition": "validate_statement_form"}
    assert all(set(details) <= {"version", "transition"} for _, details in actions)

    with app.test_request_context("/?lang=en"), tenant_scope(tenant):
        titles = [(e["kind"], e["title"], e["detail"]) for e in timeline_entries(case)]
    assert titles == [
        ("statement_form", "Statement form drafted", "Version 1"),
        ("statement_form", "Statement form given to the reporter", "Version 1"),
        ("statement_form", "Statement form sent back by the reporter", "Version 1"),
        ("statement_form", "Statement form drafted", "Version 2"),
        ("statement_form", "Statement form given to the reporter", "Version 2"),
        ("statement_form", "Statement form validated by the reporter", "Version 2"),
    ]


def test_only_those_handling_the_case_write_it_and_only_while_the_unit_works_on_it(
    app, client, ciup, make_staff
):
    tenant, runner, people = ciup
    report_through_the_portal(client)
    case = the_case(tenant)
    public_id = case.public_id
    unit = staff_client(app, people["listener"], tenant)
    # before the interview, there is nothing to write yet
    early = write_statement(unit, case=public_id, **answers())
    assert early.status_code == 303
    assert versions(tenant, case) == []

    case = heard(tenant, runner, people)
    outsider = staff_client(app, make_staff(tenant, "someone@ciup.test", Role.AUDITOR), tenant)
    assert outsider.get(f"/t/ciup/staff/cases/{public_id}/statement-form").status_code == 404
    with tenant_scope(tenant):
        inst = Institution.of(app.extensions["cellule.plugins"], TenantInfo.of(tenant))
        from core.casefile.operations import save_statement_form

        with pytest.raises(ProcedureRefusal) as refused:
            save_statement_form(case, {}, actor=people["pool_director"], institution=inst)
        assert refused.value.rule == "role"


# -- hearings ----------------------------------------------------------------------------------


@pytest.fixture
def investigation(app, client, ciup):
    """A CIUP case under investigation, the statement form validated."""
    tenant, runner, people = ciup
    report_through_the_portal(client, anonymous="no", full_name="Camille Roux")
    case = heard(tenant, runner, people)
    public_id = case.public_id
    unit = staff_client(app, people["listener"], tenant)
    write_statement(unit, case=public_id, action="submit", **answers())
    with tenant_scope(tenant):
        validate_statement_form(case, institution=runner.institution)
        db.session.commit()
    assert runner.refresh(case).state == "statement_validated"
    runner.flag(case, "serious_facts", people["listener"])
    team = [people["pool_director"], people["equalities"], people["expert"]]
    runner.take(case, "open_investigation", people["listener_2"], members=team)
    assert case.state == "investigation"
    return tenant, runner, people, case


def test_a_hearing_from_summons_to_sign_off_then_nothing_changes(app, investigation):
    tenant, runner, people, case = investigation
    public_id = runner.refresh(case).public_id
    team = staff_client(app, people["equalities"], tenant)
    base = f"/t/ciup/staff/cases/{public_id}/hearings"

    page = team.get(base + "?lang=en")
    assert page.status_code == 200
    planned = team.post(
        base + "?lang=en",
        data={
            "csrf_token": token(page.data),
            "person_kind": "implicated",
            "person_name": "Jo Bernard",
            "scheduled_at": "2030-06-15T10:30",
            "place": "Room 12, Maison internationale",
        },
    )
    assert planned.status_code == 303
    with tenant_scope(tenant):
        hearing = db.session.scalar(select(Hearing))
        assert (hearing.person_kind, hearing.person_name) == ("implicated", "Jo Bernard")
        assert hearing.scheduled_at.hour == 8  # 10:30 in Paris, in June
        hearing_id, hearing_pk = hearing.public_id, hearing.id
    here = planned.headers["Location"]
    page = team.get(here)
    text = page.get_data(as_text=True)
    assert "Hearing of Jo Bernard" in text and "Room 12, Maison internationale" in text

    # the summons: date, time, place and the right to be assisted; nothing of the facts
    summons = team.get(f"{base}/{hearing_id}/summons.pdf?lang=en")
    assert summons.status_code == 200
    assert summons.headers["Content-Type"] == "application/pdf"
    assert summons.headers["Cache-Control"] == "no-store"
    assert summons.headers["Content-Disposition"].startswith("attachment;")
    words = " ".join(pdf_pages(summons.data))
    assert "Summons to a hearing" in words and "Jo Bernard" in words
    assert "June 15, 2030" in words and "10:30" in words
    assert "Room 12, Maison internationale" in words
    assert "You may be assisted by a person of your choice." in words
    assert NARRATIVE not in words and "Camille" not in words
    french = " ".join(pdf_pages(team.get(f"{base}/{hearing_id}/summons.pdf?lang=fr").data))
    assert "15 juin 2030" in french

    def post(path, **data):
        page = team.get(here)
        prefix = path.replace("-", "_")
        fields = {f"{prefix}-{k}": v for k, v in data.items()}
        return team.post(
            f"{base}/{hearing_id}/{path}?lang=en",
            data={f"{prefix}-csrf_token": token(page.data), **fields},
        )

    # no acknowledgement before the summons
    assert post("acknowledgement", day="2030-06-02").status_code == 303
    with tenant_scope(tenant):
        assert db.session.get(Hearing, hearing_pk).acknowledged_at is None
    assert post("summons", day="2030-06-01").status_code == 303
    assert post("acknowledgement", day="2030-06-02").status_code == 303
    recorded = post(
        "record",
        held_at="2030-06-15T10:35",
        staff=[people["equalities"].public_id, people["expert"].public_id],
        others="Maître Dupont",
        assistance="Maître Dupont, lawyer",
        transcript="Q: Where were you on 3 March?\nA: In my room.",
    )
    assert recorded.status_code == 303
    assert post("sign-off", day="2030-06-16").status_code == 303
    with tenant_scope(tenant):
        hearing = db.session.get(Hearing, hearing_pk)
        assert hearing.summoned_at.date().isoformat() == "2030-06-01"
        assert hearing.acknowledged_at.date().isoformat() == "2030-06-02"
        assert hearing.attendees == {
            "staff": [people["equalities"].public_id, people["expert"].public_id],
            "others": ["Maître Dupont"],
        }
        assert hearing.transcript == "Q: Where were you on 3 March?\nA: In my room."
        assert hearing.signed_off_at is not None
    text = team.get(here).get_data(as_text=True)
    assert "nothing of it can change now" in text
    assert people["equalities"].display_name in text and "Maître Dupont" in text
    assert people["expert"].display_name in text

    # after the signature, every change is refused, through the page and the operations
    changed = post("details", person_kind="witness", person_name="Someone else", place="Elsewhere")
    assert changed.status_code == 303
    assert "can no longer change" in team.get(changed.headers["Location"]).get_data(as_text=True)
    inst = runner.institution
    with tenant_scope(tenant):
        hearing = db.session.get(Hearing, hearing_pk)
        assert hearing.person_name == "Jo Bernard"
        for change in (
            lambda: change_hearing(
                hearing,
                actor=people["equalities"],
                institution=inst,
                person_kind="witness",
                person_name="X",
                scheduled_at=None,
                place=None,
            ),
            lambda: record_summons(hearing, utcnow(), actor=people["equalities"], institution=inst),
            lambda: record_acknowledgement(
                hearing, utcnow(), actor=people["equalities"], institution=inst
            ),
            lambda: record_hearing(
                hearing,
                actor=people["equalities"],
                institution=inst,
                held_at=utcnow(),
                staff=[],
                others=[],
                assistance=None,
                transcript="Rewritten.",
            ),
            lambda: sign_off_hearing(
                hearing, utcnow(), actor=people["equalities"], institution=inst
            ),
        ):
            with pytest.raises(ProcedureRefusal) as refused:
                change()
            assert refused.value.rule == "signed_off"
        db.session.rollback()

    actions = [a for a, _ in audit_actions(tenant, "hearing.")]
    assert actions == [
        "hearing.created",
        "hearing.summoned",
        "hearing.acknowledged",
        "hearing.recorded",
        "hearing.signed_off",
    ]
    assert all(
        set(d) <= {"hearing", "person_kind", "staff_present"}
        for _, d in audit_actions(tenant, "hearing.")
    )
    exports = [d for a, d in audit_actions(tenant, "case.exported")]
    assert exports == [{"what": "summons", "hearing": hearing_id}] * 2
    with app.test_request_context("/?lang=en"), tenant_scope(tenant):
        kinds = [e["title"] for e in timeline_entries(case) if e["kind"] == "hearing"]
    assert kinds == ["Hearing planned", "Summons sent", "Hearing held", "Hearing report signed"]


def test_only_the_people_handling_the_case_or_its_team_record_hearings(app, investigation):
    tenant, runner, people, case = investigation
    public_id = runner.refresh(case).public_id
    inst = runner.institution
    with tenant_scope(tenant):
        # the listening unit still sees the case (it may pass on the form), but no longer acts
        with pytest.raises(ProcedureRefusal) as refused:
            create_hearing(
                case,
                actor=people["listener"],
                institution=inst,
                person_kind="victim",
                person_name="Camille Roux",
                scheduled_at=None,
                place=None,
            )
        assert refused.value.rule == "role"
        hearing = create_hearing(
            case,
            actor=people["expert"],
            institution=inst,
            person_kind="witness",
            person_name="A neighbour",
            scheduled_at=None,
            place=None,
        )
        # a summons needs a date and a place; staff present must sit on the case
        with pytest.raises(ProcedureRefusal) as refused:
            record_summons(hearing, utcnow(), actor=people["expert"], institution=inst)
        assert refused.value.rule == "summons"
        with pytest.raises(ProcedureRefusal) as refused:
            record_hearing(
                hearing,
                actor=people["expert"],
                institution=inst,
                held_at=utcnow(),
                staff=[people["delegate"]],
                others=[],
                assistance=None,
                transcript="Said nothing.",
            )
        assert refused.value.rule == "attendees"
        db.session.rollback()
    page = staff_client(app, people["listener"], tenant).get(
        f"/t/ciup/staff/cases/{public_id}/hearings?lang=en"
    )
    assert page.status_code == 200 and "Plan a hearing" not in page.get_data(as_text=True)


# -- documents ---------------------------------------------------------------------------------


def test_a_document_joins_the_file_only_with_the_persons_written_agreement(app, investigation):
    tenant, runner, people, case = investigation
    public_id = runner.refresh(case).public_id
    team = staff_client(app, people["pool_director"], tenant)
    url = f"/t/ciup/staff/cases/{public_id}/documents?lang=en"

    def upload(name: str, content: bytes, **fields):
        page = team.get(url)
        data = {
            "csrf_token": token(page.data),
            "file": (io.BytesIO(content), name),
            "provided_by": "Camille Roux",
            **fields,
        }
        return team.post(url, data=data, content_type="multipart/form-data")

    refused = upload("messages.txt", b"Text messages, copied.\r\n")
    assert refused.status_code == 422
    assert "only with the written agreement" in refused.get_data(as_text=True)
    with tenant_scope(tenant):
        assert db.session.scalar(select(func.count(CaseDocument.id))) == 0
        with pytest.raises(ProcedureRefusal) as caught:
            add_document(
                case,
                "messages.txt",
                b"x",
                actor=people["pool_director"],
                institution=runner.institution,
                provided_by="Camille Roux",
                agreed_in_writing=False,
            )
        assert caught.value.rule == "agreement"
        db.session.rollback()

    # cleaned as a reporter's evidence is: a program is refused whatever its name says
    program = upload("photo.jpg", b"MZ\x90\x00 not a picture", agreed="y")
    assert program.status_code == 422
    assert "This kind of file cannot be added." in program.get_data(as_text=True)

    added = upload(
        "messages.txt",
        b"Text messages, copied.\r\n",
        agreed="y",
        agreement_note="E-mail of 3 June 2026",
    )
    assert added.status_code == 303
    with tenant_scope(tenant):
        document = db.session.scalar(select(CaseDocument))
        assert (document.filename, document.media_type) == ("messages.txt", "text/plain")
        assert document.data == b"Text messages, copied.\n"  # newlines unified, as for evidence
        assert document.agreement_recorded_at is not None
        assert document.agreement_note == "E-mail of 3 June 2026"
        document_id = document.public_id

    listing = team.get(url).get_data(as_text=True)
    assert "E-mail of 3 June 2026" in listing
    download = team.get(f"/t/ciup/staff/cases/{public_id}/documents/{document_id}")
    assert download.status_code == 200 and download.data == b"Text messages, copied.\n"
    assert download.headers["Cache-Control"] == "no-store"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["Content-Type"].startswith("text/plain")
    details = [d for a, d in audit_actions(tenant, "document.")]
    assert [a for a, _ in audit_actions(tenant, "document.")] == [
        "document.added",
        "document.downloaded",
    ]
    assert details[0] == {
        "document": document_id,
        "media_type": "text/plain",
        "size": len(b"Text messages, copied.\n"),
    }
    with app.test_request_context("/?lang=en"), tenant_scope(tenant):
        assert [e["title"] for e in timeline_entries(case) if e["kind"] == "document"] == [
            "Document added"
        ]


# -- PDF exports -------------------------------------------------------------------------------


def test_the_statement_form_pdf_carries_its_readers_name_on_every_page(app, client, ciup):
    tenant, runner, people = ciup
    report_through_the_portal(client)
    case = heard(tenant, runner, people)
    public_id, reference = case.public_id, case.reference
    louise = staff_client(app, people["listener"], tenant)
    write_statement(louise, case=public_id, **answers())

    url = f"/t/ciup/staff/cases/{public_id}/statement-form/1/pdf?lang=en"
    exported = louise.get(url)
    assert exported.status_code == 200
    assert exported.headers["Content-Type"] == "application/pdf"
    assert exported.headers["Cache-Control"] == "no-store"
    pages = pdf_pages(exported.data)
    assert len(pages) >= 2
    louise_name = people["listener"].display_name
    for page in pages:
        assert f"copy made for {louise_name}" in page
    words = " ".join(pages)
    assert "Statement form" in words and "Camille Roux" in words
    assert "Not validated by the reporter." in words
    assert "89. On the 89th evening he knocked" in words
    metadata = PdfReader(io.BytesIO(exported.data)).metadata
    assert metadata.title == f"Statement form {reference}"
    assert not any(
        "Camille" in str(value) or "knocked" in str(value) for value in metadata.values()
    )

    lucien = staff_client(app, people["listener_2"], tenant)
    theirs = pdf_pages(lucien.get(url).data)
    assert all(people["listener_2"].display_name in page for page in theirs)
    assert not any(louise_name in page for page in theirs)
    french = pdf_pages(lucien.get(url.replace("lang=en", "lang=fr")).data)
    assert "Fiche de recueil de la parole" in french[0]
    exports = [d for _, d in audit_actions(tenant, "case.exported")]
    assert exports == [{"what": "statement_form", "version": 1}] * 3


def test_the_case_file_for_the_decision_maker(app, investigation):
    tenant, runner, people, case = investigation
    public_id = runner.refresh(case).public_id
    inst = runner.institution
    with tenant_scope(tenant):
        hearing = create_hearing(
            case,
            actor=people["expert"],
            institution=inst,
            person_kind="victim",
            person_name="Camille Roux",
            scheduled_at=utcnow(),
            place="Room 3",
        )
        record_hearing(
            hearing,
            actor=people["expert"],
            institution=inst,
            held_at=utcnow(),
            staff=[people["expert"]],
            others=[],
            assistance="A friend",
            transcript="She said the knocking started in April.",
        )
        add_document(
            case,
            "screenshot-notes.txt",
            b"notes",
            actor=people["expert"],
            institution=inst,
            provided_by="Camille Roux",
            agreed_in_writing=True,
        )
        db.session.commit()
    runner.take(
        case,
        "record_protective_measure",
        people["expert"],
        measures=["change_of_house_offered_to_victim"],
    )
    reference = runner.refresh(case).reference
    url = f"/t/ciup/staff/cases/{public_id}/export.pdf?lang=en"

    # the investigation team reads the file, but not the statement form: not passed on yet
    emma = staff_client(app, people["equalities"], tenant)
    assert emma.get(f"/t/ciup/staff/cases/{public_id}/statement-form?lang=en").status_code == 403
    pages = pdf_pages(emma.get(url).data)
    assert all(f"copy made for {people['equalities'].display_name}" in p for p in pages)
    words = " ".join(pages)
    for expected in (
        f"Case file {reference}",
        NARRATIVE,
        "She said the knocking started in April.",
        "screenshot-notes.txt",
        "Transfer to another house offered to the victim",
        "Open an investigation",
        "Statement form validated by the reporter",
        "Hearing held",
        "Not in this file: it has not been passed on to you",
    ):
        assert expected in words, expected
    assert "Camille Roux, Fondation Deutsch" not in words  # the statement form's content

    # passed on with the reporter's agreement, it is in the team's copy
    runner.consent(case, "share_statement_form")
    runner.take(case, "pass_statement_form_to_investigation", people["listener"])
    xavier = staff_client(app, people["expert"], tenant)
    pages = pdf_pages(xavier.get(url).data)
    assert all(f"copy made for {people['expert'].display_name}" in p for p in pages)
    assert not any(people["equalities"].display_name in p for p in pages)
    words = " ".join(pages)
    assert "Camille Roux, Fondation Deutsch de la Meurthe" in words
    assert "Validated by the reporter on" in words
    metadata = PdfReader(io.BytesIO(xavier.get(url).data)).metadata
    assert not any(NARRATIVE in str(value) for value in metadata.values())
    assert [d for _, d in audit_actions(tenant, "case.exported")][-1] == {"what": "case_file"}

    # someone of the tenant with no need to know gets nothing
    delphine = staff_client(app, people["delegate"], tenant)
    assert delphine.get(url).status_code == 404
    with tenant_scope(tenant):
        assert db.session.scalar(select(func.count(CaseMeasure.id))) == 1


# -- an institution without a statement form, and other tenants -----------------------------------


def test_neoma_has_no_statement_form_and_its_summons_says_its_own_rules(
    app, make_tenant, make_staff, make_case, plugins
):
    neoma = make_tenant("neoma", enable=("neoma",))
    officer = make_staff(neoma, "officer@neoma.test", Role.LISTENER)
    case = make_case(neoma, "What happened at the Rouen campus.")
    public_id = case.public_id
    inst = Institution.of(plugins, TenantInfo.of(neoma))
    assert inst.statement_form is None
    with pytest.raises(LookupError):
        statement_definition(inst)
    with tenant_scope(neoma):
        assert latest_statement(case) is None
    web = staff_client(app, officer, neoma)
    base = f"/t/neoma/staff/cases/{public_id}"
    assert web.get(f"{base}/statement-form").status_code == 404
    assert web.get(f"{base}/statement-form/1/pdf").status_code == 404
    overview = web.get(f"{base}/file?lang=en")
    assert overview.status_code == 200
    assert "statement-form" not in overview.get_data(as_text=True)

    with tenant_scope(neoma):
        hearing = create_hearing(
            case,
            actor=officer,
            institution=inst,
            person_kind="witness",
            person_name="Sam Lefèvre",
            scheduled_at=utcnow(),
            place="Legal department, Reims",
        )
        db.session.commit()
        hearing_id = hearing.public_id
    words = " ".join(pdf_pages(web.get(f"{base}/hearings/{hearing_id}/summons.pdf?lang=en").data))
    assert "You may not be assisted by another person, unless you are a minor." in words
    assert "Taking part is voluntary" in words
    assert "person of your choice" not in words
    # the case file of an institution without a statement form has no such part
    words = " ".join(pdf_pages(web.get(f"{base}/export.pdf?lang=en").data))
    assert "What happened at the Rouen campus." in words and "Statement form" not in words


@pytest.mark.parametrize(
    "path",
    [
        "file",
        "statement-form",
        "statement-form/1",
        "statement-form/1/pdf",
        "hearings",
        "documents",
        "export.pdf",
    ],
)
def test_another_tenants_cases_are_not_found(app, client, ciup, make_tenant, make_staff, path):
    tenant, runner, people = ciup
    report_through_the_portal(client)
    case = heard(tenant, runner, people)
    public_id = case.public_id
    write_statement(staff_client(app, people["listener"], tenant), case=public_id)
    other = make_tenant("other", enable=("ciup",))
    stranger = make_staff(other, "admin@other.test", Role.LISTENER, Role.ADMIN)
    web = staff_client(app, stranger, other)
    assert web.get(f"/t/other/staff/cases/{public_id}/{path}").status_code == 404
    # and at home, only with a need to know: without it, the same answer as for no case
    auditor = staff_client(app, make_staff(tenant, "audit@ciup.test", Role.AUDITOR), tenant)
    assert auditor.get(f"/t/ciup/staff/cases/{public_id}/{path}").status_code == 404
    owner = staff_client(app, people["listener"], tenant)
    assert owner.get(f"/t/ciup/staff/cases/{public_id}/{path}").status_code == 200


def reporter_space(app, receipt: str):
    reporter = app.test_client()
    login = reporter.get("/t/ciup/space/login?lang=en")
    reporter.post(
        "/t/ciup/space/login?lang=en", data={"csrf_token": token(login.data), "receipt": receipt}
    )
    return reporter


def test_a_version_sent_back_cannot_be_validated_by_any_path(app, client, ciup):
    tenant, runner, people = ciup
    receipt = report_through_the_portal(client)
    case = heard(tenant, runner, people)
    unit = staff_client(app, people["listener"], tenant)
    write_statement(unit, case=case.public_id, action="submit", **answers())
    reporter = reporter_space(app, receipt)
    space = reporter.get("/t/ciup/space?lang=en")
    sent_back = reporter.post(
        "/t/ciup/space/statement-form/return?lang=en",
        data={"csrf_token": token(space.data), "comment": "It was in April, not March."},
    )
    assert sent_back.status_code == 303

    # nothing waits for the reporter: the space offers no validation, by any name
    space = reporter.get("/t/ciup/space?lang=en")
    text = space.get_data(as_text=True)
    assert "/space/steps/validate_statement_form" not in text
    assert "I have read my statement form and it is right" not in text
    forced = reporter.post(
        "/t/ciup/space/steps/validate_statement_form?lang=en",
        data={"csrf_token": token(space.data)},
    )
    assert forced.status_code == 422
    assert "There is no statement form waiting for you." in forced.get_data(as_text=True)
    case = runner.refresh(case)
    assert case.state == "statement_drafted"
    [first] = versions(tenant, case)
    assert first.returned_at is not None and first.validated_at is None
    # nor through the engine itself
    refusal = runner.refusal(case, "validate_statement_form", "reporter")
    assert refusal.rule == "statement:not_pending"


def test_only_validated_versions_are_passed_on_and_only_once_validated(app, client, ciup):
    tenant, runner, people = ciup
    receipt = report_through_the_portal(client, anonymous="no", full_name="Camille Roux")
    case = heard(tenant, runner, people)
    public_id = case.public_id
    unit = staff_client(app, people["listener"], tenant)
    write_statement(unit, case=public_id, action="submit", **answers())
    with tenant_scope(tenant):
        validate_statement_form(case, institution=runner.institution)
        db.session.commit()
    # a second version, given to the reporter, who has not answered yet
    write_statement(
        unit, case=public_id, action="submit", **answers(x_when_and_where="April, on the stairs")
    )
    runner.flag(case, "serious_facts", people["listener"])
    team = [people["pool_director"], people["equalities"], people["expert"]]
    runner.take(case, "open_investigation", people["listener_2"], members=team)
    runner.consent(case, "share_statement_form")
    share = "pass_statement_form_to_investigation"
    assert runner.refusal(case, share, people["listener"]).rule == "statement:not_validated"

    # the reporter sends it back: the version they validated is what is passed on
    reporter = reporter_space(app, receipt)
    space = reporter.get("/t/ciup/space?lang=en")
    reporter.post(
        "/t/ciup/space/statement-form/return?lang=en",
        data={"csrf_token": token(space.data), "comment": "Not the stairs."},
    )
    runner.take(case, share, people["listener"])
    emma = staff_client(app, people["equalities"], tenant)
    base = f"/t/ciup/staff/cases/{public_id}"
    page = emma.get(f"{base}/statement-form?lang=en").get_data(as_text=True)
    assert "March, evenings" in page and "April, on the stairs" not in page
    assert emma.get(f"{base}/statement-form/1?lang=en").status_code == 200
    assert emma.get(f"{base}/statement-form/2?lang=en").status_code == 404
    assert emma.get(f"{base}/statement-form/2/pdf?lang=en").status_code == 404
    words = " ".join(pdf_pages(emma.get(f"{base}/export.pdf?lang=en").data))
    assert "March, evenings" in words and "April, on the stairs" not in words
    # the unit that writes it still reads every version
    assert "April, on the stairs" in unit.get(f"{base}/statement-form/2?lang=en").get_data(
        as_text=True
    )


def test_those_who_only_look_on_read_no_transcript_document_or_case_file(app, investigation):
    tenant, runner, people, case = investigation
    public_id = runner.refresh(case).public_id
    inst = runner.institution
    with tenant_scope(tenant):
        hearing = create_hearing(
            case,
            actor=people["expert"],
            institution=inst,
            person_kind="victim",
            person_name="Camille Roux",
            scheduled_at=utcnow(),
            place="Room 3",
        )
        record_hearing(
            hearing,
            actor=people["expert"],
            institution=inst,
            held_at=utcnow(),
            staff=[people["expert"]],
            others=[],
            assistance=None,
            transcript="She said the knocking started in April.",
        )
        document = add_document(
            case,
            "screenshot-notes.txt",
            b"notes",
            actor=people["expert"],
            institution=inst,
            provided_by="Camille Roux",
            agreed_in_writing=True,
        )
        db.session.commit()
        hearing_id, document_id = hearing.public_id, document.public_id
    base = f"/t/ciup/staff/cases/{public_id}"
    pages = [f"hearings/{hearing_id}", f"documents/{document_id}", "export.pdf"]

    # the listening unit looks on during the investigation: it sees the case and its stage
    louise = staff_client(app, people["listener"], tenant)
    assert louise.get(f"/t/ciup/staff/cases/{public_id}?lang=en").status_code == 200
    overview = louise.get(f"{base}/file?lang=en")
    assert overview.status_code == 200 and "export.pdf" not in overview.get_data(as_text=True)
    for page in pages:
        answer = louise.get(f"{base}/{page}?lang=en")
        assert answer.status_code == 403, page
        assert b"knocking" not in answer.data and answer.data != b"notes"
    with tenant_scope(tenant):
        found = db.session.scalar(select(CaseDocument).where(CaseDocument.id == document.id))
        with pytest.raises(ProcedureRefusal) as refused:
            read_document(found, actor=people["listener"], institution=inst)
        assert refused.value.rule == "role"
    assert not [d for _, d in audit_actions(tenant, "document.downloaded")]

    # the team that investigates reads them all
    xavier = staff_client(app, people["expert"], tenant)
    assert "knocking started in April" in xavier.get(f"{base}/{pages[0]}?lang=en").get_data(
        as_text=True
    )
    assert xavier.get(f"{base}/{pages[1]}").data == b"notes"
    assert xavier.get(f"{base}/{pages[2]}").status_code == 200
