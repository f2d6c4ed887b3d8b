"""Statement forms, hearings, documents and the PDF exports of a case.

Views parse and render; `core.casefile.operations` decides and audits. Every page is for
staff who may see the case (`may_see_case`), and says nothing of a case of another tenant
(404); what people wrote is never cached by the browser.
"""

import io
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from core.audit.operations import record_event
from core.casefile import operations as ops
from core.casefile.forms import (
    AcknowledgementForm,
    DocumentForm,
    HearingForm,
    HearingRecordForm,
    SignOffForm,
    SummonsForm,
    statement_answers,
    statement_form_class,
)
from core.casefile.models import CaseDocument, CaseNote, Hearing
from core.casefile.pdf import render_pdf
from core.cases.access import may_see_case, visible_answers
from core.cases.models import Case, CaseEvent, CaseMeasure
from core.cases.operations import ProcedureRefusal
from core.extensions import db
from core.identity.access import staff_required
from core.identity.models import User
from core.plugins.host import plugin_host
from core.plugins.i18n import plugin_gettext
from core.procedure.definition import Institution
from core.reports.evidence import EvidenceError
from core.reports.models import Evidence, Report
from core.types import utcnow

bp = Blueprint("casefile", __name__, url_prefix="/staff/cases", template_folder="templates")

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@bp.before_request
def _fresh():
    g.pop("casefile_institution", None)  # g outlives a request when an app context is pushed


@bp.after_request
def _never_cached(response):
    response.headers.update(NO_STORE)
    return response


def institution() -> Institution:
    if "casefile_institution" not in g:
        g.casefile_institution = Institution.of(plugin_host(), g.tenant_info)
    return g.casefile_institution


def localized(hook: str):
    """A hook's answer for this tenant, in the page's language."""
    return plugin_host().call(g.tenant_info, hook, locale=str(get_locale()))


# -- dates in the institution's time zone ------------------------------------------------------


def _zone() -> ZoneInfo:
    return ZoneInfo(institution().profile["timezone"])


def from_local(moment: datetime | None) -> datetime | None:
    """A date and time typed in the institution's time zone, in UTC."""
    return moment.replace(tzinfo=_zone()).astimezone(UTC) if moment is not None else None


def from_local_day(day) -> datetime:
    """A day, as noon of that day in the institution's time zone."""
    return datetime.combine(day, time(12), tzinfo=_zone()).astimezone(UTC)


def local_input(moment: datetime | None) -> datetime | None:
    """A stored moment as the institution's local time, for a form field."""
    return moment.astimezone(_zone()).replace(tzinfo=None) if moment is not None else None


def when(moment: datetime | None, format: str = "medium") -> str:
    if moment is None:
        return ""
    return babel_format_datetime(moment, format, tzinfo=_zone(), locale=get_locale())


def day(moment: datetime | None, format: str = "long") -> str:
    if moment is None:
        return ""
    return babel_format_date(moment.astimezone(_zone()).date(), format, locale=get_locale())


@bp.context_processor
def _helpers():
    return {
        "when": when,
        "day": day,
        "person_kind_label": ops.person_kind_label,
        "has_statement_form": lambda: institution().statement_form is not None,
        # transcripts, documents and the whole file are for those who may write them
        "reads_case_file": lambda case: ops.may_investigate(g.staff, case, institution()),
    }


# -- finding a case, and who may do what -------------------------------------------------------


def _case(public_id: str) -> Case:
    """The case, for staff who may see it; 404 otherwise, whether it does not exist here or
    they have no need to know it, so a page never tells whether a reference exists."""
    case = db.session.scalar(select(Case).where(Case.public_id == public_id))
    if case is None or not may_see_case(g.staff, case, institution()):
        abort(404)
    return case


def _viewed(case: Case, page: str, **ids) -> None:
    """Every staff read of a case is on the audit trail."""
    record_event(
        case.tenant_id,
        actor=g.staff,
        action="casefile.viewed",
        target=("case", case.public_id),
        details={"page": page, **ids},
    )


def _exported(case: Case, what: str, **ids) -> None:
    record_event(
        case.tenant_id,
        actor=g.staff,
        action="case.exported",
        target=("case", case.public_id),
        details={"what": what, **ids},
    )


def case_url(case: Case) -> str:
    """The case's own page (the file's overview until the case page exists)."""
    if "cases.case" in current_app.view_functions:
        return link("cases.case", public_id=case.public_id)
    return link("casefile.overview", public_id=case.public_id)


def link(endpoint: str, **values) -> str:
    """A page of the back office, in the language of this one."""
    return url_for(endpoint, lang=request.args.get("lang"), **values)


def _refused(refusal: Exception, to: str):
    db.session.rollback()
    flash(str(refusal), "error")
    return redirect(to, 303)


def _done(message: str, to: str):
    db.session.commit()
    flash(message, "success")
    return redirect(to, 303)


def _pdf(data: bytes, filename: str):
    response = make_response(data)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# -- the file's overview -----------------------------------------------------------------------


@bp.route("/<public_id>/file")
@staff_required()
def overview(public_id: str):
    case = _case(public_id)
    inst = institution()
    definition = localized("statement_form")
    reads_statement = definition is not None and ops.may_read_statement(g.staff, case, inst)
    readable = ops.readable_statement_versions(g.staff, case, inst) if reads_statement else []
    latest = readable[-1] if readable else None
    _viewed(case, "overview")
    response = render_template(
        "casefile/overview.html",
        case=case,
        case_url=case_url(case),
        definition=definition,
        reads_statement=reads_statement,
        latest=latest,
        status=ops.statement_status(latest) if latest else None,
        hearings=ops.case_hearings(case),
        documents=ops.case_documents(case),
        may_investigate=ops.may_investigate(g.staff, case, inst),
    )
    db.session.commit()
    return response


# -- the statement form ------------------------------------------------------------------------


def _definition() -> dict:
    definition = localized("statement_form")
    if definition is None:
        abort(404)  # this institution keeps no statement form
    return definition


def _statement_reader(case: Case) -> None:
    if not ops.may_read_statement(g.staff, case, institution()):
        abort(403)


def choice_labels(definition: dict) -> dict[str, dict[str, str]]:
    return {
        field["key"]: {c["value"]: c["label"] for c in field["choices"]}
        for field in ops.statement_fields(definition)
        if field["type"] == "choice"
    }


@bp.route("/<public_id>/statement-form", methods=["GET", "POST"], defaults={"version": None})
@bp.route("/<public_id>/statement-form/<int:version>")
@staff_required()
def statement_forms(public_id: str, version: int | None):
    case = _case(public_id)
    definition = _definition()
    inst = institution()
    _statement_reader(case)
    versions = ops.readable_statement_versions(g.staff, case, inst)
    latest = versions[-1] if versions else None
    shown = latest
    if version is not None:
        shown = next((v for v in versions if v.version == version), None)
        if shown is None:
            abort(404)
    may_write = ops.may_write_statement(g.staff, case, inst)
    # a version's own address shows it as it is; the form's address is where the unit writes
    editing = request.method == "POST" or (
        version is None and may_write and ops.statement_editable(case, inst)
    )
    form_class = statement_form_class(definition)
    if request.method == "POST":
        form = form_class()
        if form.validate_on_submit():
            return _save_statement(case, form, definition, inst)
        status = 422
    else:
        prefill = dict(latest.content) if latest is not None else {}
        form = form_class(formdata=None, data=_form_data(prefill, definition))
        status = 200
    if request.method == "GET":
        _viewed(case, "statement_form", version=shown.version if shown else None)
    response = make_response(
        render_template(
            "casefile/statement_form.html",
            case=case,
            case_url=case_url(case),
            definition=definition,
            versions=versions,
            shown=shown,
            latest=latest,
            status_of=ops.statement_status,
            editing=editing,
            new_version=latest is not None and ops.statement_status(latest) != "draft",
            form=form,
            choices=choice_labels(definition),
        ),
        status,
    )
    db.session.commit()
    return response


def _form_data(content: dict, definition: dict) -> dict:
    data = {}
    for field in ops.statement_fields(definition):
        value = content.get(field["key"])
        if value and field["type"] == "date":
            value = datetime.fromisoformat(value).date()
        data[f"x_{field['key']}"] = value
    return data


def _save_statement(case: Case, form, definition: dict, inst: Institution):
    here = link("casefile.statement_forms", public_id=case.public_id)
    try:
        saved = ops.save_statement_form(
            case, statement_answers(form, definition), actor=g.staff, institution=inst
        )
        db.session.commit()  # a draft is kept even if giving it to the reporter is refused
        if form.action.data != "submit":
            return _done(_("The draft is saved."), here)
        ops.submit_statement_form(case, actor=g.staff, institution=inst)
    except ProcedureRefusal as refusal:
        return _refused(refusal, here)
    return _done(
        _(
            "Version %(version)s is now with the reporter, to read and validate.",
            version=saved.version,
        ),
        here,
    )


@bp.route("/<public_id>/statement-form/<int:version>/pdf")
@staff_required()
def statement_form_pdf(public_id: str, version: int):
    case = _case(public_id)
    definition = _definition()
    _statement_reader(case)
    readable = ops.readable_statement_versions(g.staff, case, institution())
    form = next((v for v in readable if v.version == version), None)
    if form is None:
        abort(404)
    data = render_pdf(
        "casefile/pdf/statement_form.html",
        **_pdf_context(case, _("Statement form")),
        definition=definition,
        forms=[form],
        status_of=ops.statement_status,
        choices=choice_labels(definition),
    )
    _exported(case, "statement_form", version=version)
    db.session.commit()
    return _pdf(data, f"statement-form-{case.reference}-v{version}.pdf")


def _pdf_context(case: Case, title: str) -> dict:
    """What every exported page shows: whose copy it is, and when it was made."""
    return {
        "case": case,
        "profile": localized("institution_profile"),
        "pdf_title": f"{title} {case.reference}",
        "reader": g.staff.display_name,
        "made_on": day(utcnow()),
    }


# -- hearings ----------------------------------------------------------------------------------


def _hearing(case: Case, hearing_id: str) -> Hearing:
    hearing = db.session.scalar(
        select(Hearing).where(Hearing.public_id == hearing_id, Hearing.case_id == case.id)
    )
    if hearing is None:
        abort(404)
    return hearing


def _investigator(case: Case) -> None:
    if not ops.may_investigate(g.staff, case, institution()):
        abort(403)


@bp.route("/<public_id>/hearings", methods=["GET", "POST"])
@staff_required()
def hearings(public_id: str):
    case = _case(public_id)
    inst = institution()
    may_investigate = ops.may_investigate(g.staff, case, inst)
    form = HearingForm()
    status = 200
    if request.method == "POST":
        if not may_investigate:
            abort(403)
        if form.validate_on_submit():
            try:
                hearing = ops.create_hearing(
                    case,
                    actor=g.staff,
                    institution=inst,
                    person_kind=form.person_kind.data,
                    person_name=form.person_name.data,
                    scheduled_at=from_local(form.scheduled_at.data),
                    place=form.place.data,
                )
            except ProcedureRefusal as refusal:
                return _refused(refusal, link("casefile.hearings", public_id=case.public_id))
            return _done(
                _("The hearing is planned."),
                link("casefile.hearing", public_id=case.public_id, hearing_id=hearing.public_id),
            )
        status = 422
    else:
        _viewed(case, "hearings")
    response = make_response(
        render_template(
            "casefile/hearings.html",
            case=case,
            case_url=case_url(case),
            hearings=ops.case_hearings(case),
            may_investigate=may_investigate,
            form=form,
        ),
        status,
    )
    db.session.commit()
    return response


def _staff_choices(case: Case) -> list[SelectChoice]:
    return [
        SelectChoice(u.public_id, u.display_name) for u in ops.hearing_staff(case, institution())
    ]


def _hearing_page(case: Case, hearing: Hearing, status: int = 200, **forms):
    inst = institution()
    staff_choices = _staff_choices(case)
    details = forms.get("details") or HearingForm(
        prefix="details",
        formdata=None,
        data={
            "person_kind": hearing.person_kind,
            "person_name": hearing.person_name,
            "scheduled_at": local_input(hearing.scheduled_at),
            "place": hearing.place,
        },
    )
    record = forms.get("record") or HearingRecordForm(
        prefix="record",
        formdata=None,
        data={
            "held_at": local_input(hearing.held_at or hearing.scheduled_at),
            "staff": (hearing.attendees or {}).get("staff", []),
            "others": "\n".join((hearing.attendees or {}).get("others", [])),
            "assistance": hearing.assistance,
            "transcript": hearing.transcript,
        },
    )
    record.staff.choices = staff_choices
    today = datetime.now(_zone()).date()
    staff_present, others_present = ops.attendee_names(hearing)
    return make_response(
        render_template(
            "casefile/hearing.html",
            case=case,
            case_url=case_url(case),
            hearing=hearing,
            may_investigate=ops.may_investigate(g.staff, case, inst),
            details=details,
            summons=forms.get("summons") or SummonsForm(prefix="summons", data={"day": today}),
            acknowledgement=forms.get("acknowledgement")
            or AcknowledgementForm(prefix="acknowledgement", data={"day": today}),
            record=record,
            sign_off=forms.get("sign_off") or SignOffForm(prefix="sign_off", data={"day": today}),
            staff_present=staff_present,
            others_present=others_present,
            documents=[d for d in ops.case_documents(case) if d.hearing_id == hearing.id],
            locales=g.tenant_info.locales,
        ),
        status,
    )


@bp.route("/<public_id>/hearings/<hearing_id>")
@staff_required()
def hearing(public_id: str, hearing_id: str):
    case = _case(public_id)
    found = _hearing(case, hearing_id)
    _investigator(case)  # what people said at a hearing is for those who record hearings
    _viewed(case, "hearing", hearing=found.public_id)
    response = _hearing_page(case, found)
    db.session.commit()
    return response


def _hearing_action(public_id: str, hearing_id: str, name: str, form, act, done: str):
    """Run one change of a hearing from its page's form `name`."""
    case = _case(public_id)
    found = _hearing(case, hearing_id)
    _investigator(case)
    here = link("casefile.hearing", public_id=case.public_id, hearing_id=found.public_id)
    if not form.validate_on_submit():
        if name == "record":
            form.staff.choices = _staff_choices(case)
        return _hearing_page(case, found, 422, **{name: form})
    try:
        act(case, found, form)
    except ProcedureRefusal as refusal:
        return _refused(refusal, here)
    return _done(done, here)


@bp.route("/<public_id>/hearings/<hearing_id>/details", methods=["POST"])
@staff_required()
def hearing_details(public_id: str, hearing_id: str):
    def act(case, hearing, form):
        ops.change_hearing(
            hearing,
            actor=g.staff,
            institution=institution(),
            person_kind=form.person_kind.data,
            person_name=form.person_name.data,
            scheduled_at=from_local(form.scheduled_at.data),
            place=form.place.data,
        )

    form = HearingForm(prefix="details")
    return _hearing_action(public_id, hearing_id, "details", form, act, _("Saved."))


@bp.route("/<public_id>/hearings/<hearing_id>/summons", methods=["POST"])
@staff_required()
def hearing_summons(public_id: str, hearing_id: str):
    def act(case, hearing, form):
        ops.record_summons(
            hearing, from_local_day(form.day.data), actor=g.staff, institution=institution()
        )

    form = SummonsForm(prefix="summons")
    done = _("The summons is recorded as sent.")
    return _hearing_action(public_id, hearing_id, "summons", form, act, done)


@bp.route("/<public_id>/hearings/<hearing_id>/acknowledgement", methods=["POST"])
@staff_required()
def hearing_acknowledgement(public_id: str, hearing_id: str):
    def act(case, hearing, form):
        ops.record_acknowledgement(
            hearing, from_local_day(form.day.data), actor=g.staff, institution=institution()
        )

    form = AcknowledgementForm(prefix="acknowledgement")
    done = _("The acknowledgement is recorded.")
    return _hearing_action(public_id, hearing_id, "acknowledgement", form, act, done)


@bp.route("/<public_id>/hearings/<hearing_id>/record", methods=["POST"])
@staff_required()
def hearing_record(public_id: str, hearing_id: str):
    case = _case(public_id)
    form = HearingRecordForm(prefix="record")
    form.staff.choices = _staff_choices(case)

    def act(case, hearing, form):
        chosen = list(dict.fromkeys(form.staff.data or []))
        found = (
            {
                u.public_id: u
                for u in db.session.scalars(select(User).where(User.public_id.in_(chosen)))
            }
            if chosen
            else {}
        )
        staff = [found[public_id] for public_id in chosen if public_id in found]
        if len(staff) != len(chosen):
            raise ProcedureRefusal("attendees", ops.N_("One of the staff chosen is not known."))
        ops.record_hearing(
            hearing,
            actor=g.staff,
            institution=institution(),
            held_at=from_local(form.held_at.data),
            staff=staff,
            others=(form.others.data or "").splitlines(),
            assistance=form.assistance.data,
            transcript=form.transcript.data,
        )

    done = _("The hearing and its transcript are recorded.")
    return _hearing_action(public_id, hearing_id, "record", form, act, done)


@bp.route("/<public_id>/hearings/<hearing_id>/sign-off", methods=["POST"])
@staff_required()
def hearing_sign_off(public_id: str, hearing_id: str):
    def act(case, hearing, form):
        ops.sign_off_hearing(
            hearing, from_local_day(form.day.data), actor=g.staff, institution=institution()
        )

    form = SignOffForm(prefix="sign_off")
    done = _("The signature is recorded. This hearing can no longer change.")
    return _hearing_action(public_id, hearing_id, "sign_off", form, act, done)


@bp.route("/<public_id>/hearings/<hearing_id>/summons.pdf")
@staff_required()
def summons_pdf(public_id: str, hearing_id: str):
    """The summons to print or send: who, when, where and the person's rights, nothing of
    the facts. In the language asked for (``?lang=``)."""
    case = _case(public_id)
    found = _hearing(case, hearing_id)
    _investigator(case)
    if found.scheduled_at is None or not found.place:
        flash(_("Give the hearing's date, time and place before summoning the person."), "error")
        return redirect(
            link("casefile.hearing", public_id=case.public_id, hearing_id=found.public_id), 303
        )
    data = render_pdf(
        "casefile/pdf/summons.html",
        profile=localized("institution_profile"),
        pdf_title=_("Summons to a hearing"),
        hearing=found,
        rules=localized("hearing_rules"),
    )
    _exported(case, "summons", hearing=found.public_id)
    db.session.commit()
    return _pdf(data, f"summons-{case.reference}.pdf")


# -- documents ---------------------------------------------------------------------------------


def _document_form(case: Case) -> DocumentForm:
    form = DocumentForm()
    form.hearing.choices = [SelectChoice("", "—")] + [
        SelectChoice(h.public_id, f"{ops.person_kind_label(h.person_kind)} · {h.person_name}")
        for h in ops.case_hearings(case)
    ]
    return form


@bp.route("/<public_id>/documents", methods=["GET", "POST"])
@staff_required()
def documents(public_id: str):
    case = _case(public_id)
    inst = institution()
    may_investigate = ops.may_investigate(g.staff, case, inst)
    form = _document_form(case)
    problem, status = None, 200
    if request.method == "POST":
        if not may_investigate:
            abort(403)
        if form.validate_on_submit():
            upload = form.file.data
            hearing = None
            if form.hearing.data:
                hearing = _hearing(case, form.hearing.data)
            try:
                ops.add_document(
                    case,
                    upload.filename or "",
                    upload.read(),
                    actor=g.staff,
                    institution=inst,
                    provided_by=form.provided_by.data,
                    agreed_in_writing=form.agreed.data,
                    agreement_note=form.agreement_note.data,
                    hearing=hearing,
                )
            except (ProcedureRefusal, EvidenceError) as refused:
                db.session.rollback()
                problem = (
                    str(refused.message) if isinstance(refused, EvidenceError) else str(refused)
                )
            else:
                here = link("casefile.documents", public_id=case.public_id)
                return _done(_("The document is added to the case file."), here)
        status = 422
    else:
        _viewed(case, "documents")
    response = make_response(
        render_template(
            "casefile/documents.html",
            case=case,
            case_url=case_url(case),
            documents=ops.case_documents(case),
            hearings={h.id: h for h in ops.case_hearings(case)},
            may_investigate=may_investigate,
            form=form,
            problem=problem,
        ),
        status,
    )
    db.session.commit()
    return response


@bp.route("/<public_id>/documents/<document_id>")
@staff_required()
def document(public_id: str, document_id: str):
    case = _case(public_id)
    found = db.session.scalar(
        select(CaseDocument).where(
            CaseDocument.public_id == document_id, CaseDocument.case_id == case.id
        )
    )
    if found is None:
        abort(404)
    _investigator(case)
    ops.read_document(found, actor=g.staff, institution=institution())
    db.session.commit()
    return send_file(
        io.BytesIO(found.data),
        mimetype=found.media_type,
        as_attachment=True,
        download_name=found.filename,
        conditional=False,
        etag=False,
        max_age=0,
    )


# -- the case file for the decision maker ------------------------------------------------------


@bp.route("/<public_id>/export.pdf")
@staff_required()
def case_file_pdf(public_id: str):
    """The whole case file as one PDF: reports, statement forms, hearings with their
    transcripts, documents (listed), measures, notes and the timeline; for those who may
    write the file, not for those who only look on."""
    case = _case(public_id)
    _investigator(case)
    inst = institution()
    definition = localized("statement_form")
    reads_statement = definition is not None and ops.may_read_statement(g.staff, case, inst)
    reports = list(
        db.session.scalars(
            select(Report).where(Report.case_id == case.id).order_by(Report.submitted_at)
        )
    )
    evidence = (
        list(
            db.session.scalars(
                select(Evidence)
                .where(Evidence.report_id.in_([r.id for r in reports]))
                .order_by(Evidence.created_at)
            )
        )
        if reports
        else []
    )
    hearings = ops.case_hearings(case)
    data = render_pdf(
        "casefile/pdf/case_file.html",
        **_pdf_context(case, _("Case file")),
        state={s["key"]: s["label"] for s in localized("procedure")["states"]}.get(
            case.state, case.state
        ),
        reports=[(r, _answers(r, case, inst)) for r in reports],
        categories={c["key"]: c["label"] for c in localized("institution_profile")["categories"]},
        evidence=evidence,
        definition=definition,
        reads_statement=reads_statement,
        forms=ops.readable_statement_versions(g.staff, case, inst) if reads_statement else [],
        status_of=ops.statement_status,
        choices=choice_labels(definition) if definition else {},
        hearings=[(h, *ops.attendee_names(h)) for h in hearings],
        documents=ops.case_documents(case),
        hearing_of={h.id: h for h in hearings},
        measures=_measures(case, inst),
        notes=_notes(case),
        timeline=_timeline(case, inst),
    )
    _exported(case, "case_file")
    db.session.commit()
    return _pdf(data, f"case-file-{case.reference}.pdf")


def _answers(report: Report, case: Case, inst: Institution) -> list[tuple[str, str]]:
    """The report's answers to the form's own fields, labelled in the reader's language.

    A victim reporting is identified by the answers naming the victim: those are kept apart
    with the identity, by the same rule as on the case page (`visible_answers`)."""
    fields = {f["key"]: f for f in localized("report_form")}
    sites = {s["key"]: s["name"] for s in localized("institution_profile")["sites"]}
    core = {
        "core_when": _("When did it happen?"),
        "core_where": _("Where did it happen?"),
        "core_people_implicated": _("Who did it?"),
        "core_witnesses": _("Did anyone else see it?"),
    }
    answers = []
    for key, value in visible_answers(report, g.staff, case, inst).items():
        if key in core:
            answers.append((core[key], str(value)))
            continue
        field = fields.get(key)
        if field is None:
            continue
        choices = {c["value"]: c["label"] for c in field["choices"]}
        if field["type"] == "site":
            value = sites.get(value, value)
        elif field["type"] in {"boolean", "consent"}:
            value = _("yes") if value else _("no")
        elif isinstance(value, list):
            value = ", ".join(choices.get(v, v) for v in value)
        else:
            value = choices.get(value, value)
        answers.append((field["label"], str(value)))
    return answers


def _measures(case: Case, inst: Institution) -> list[dict]:
    rows = db.session.scalars(
        select(CaseMeasure).where(CaseMeasure.case_id == case.id).order_by(CaseMeasure.decided_at)
    )
    return [
        {
            "label": plugin_gettext(inst.info, inst.measures.get(m.key, {}).get("label", m.key)),
            "kind": m.kind,
            "decided_at": m.decided_at,
            "lifted_at": m.lifted_at,
        }
        for m in rows
    ]


NOTE_KINDS = {
    "note": ops.N_("Note"),
    "recommendation": ops.N_("Recommendation"),
    "decision": ops.N_("Decision"),
    "appeal": ops.N_("Appeal"),
    "support_plan": ops.N_("Support plan"),
}


def _notes(case: Case) -> list[dict]:
    rows = list(
        db.session.scalars(
            select(CaseNote).where(CaseNote.case_id == case.id).order_by(CaseNote.created_at)
        )
    )
    authors = _names({n.author_user_id for n in rows})
    return [
        {
            "kind": _(NOTE_KINDS.get(n.kind, NOTE_KINDS["note"])),
            "author": authors.get(n.author_user_id, ""),
            "at": n.created_at,
            "body": n.body,
        }
        for n in rows
    ]


def _names(ids) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return {u.id: u.display_name for u in db.session.scalars(select(User).where(User.id.in_(ids)))}


def _timeline(case: Case, inst: Institution) -> list[dict]:
    """The procedure's events and the file's entries, oldest first (no content)."""
    procedure = inst.procedure
    translate = lambda text: plugin_gettext(inst.info, text)  # noqa: E731
    events = list(
        db.session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.created_at)
        )
    )
    names = _names({e.actor_user_id for e in events})
    entries = []
    for event in events:
        title = _event_title(event, procedure, translate)
        if event.actor_kind == "reporter":
            who = _("the reporter")
        elif event.actor_user_id is not None:
            who = names.get(event.actor_user_id, "")
        else:
            who = _("the platform")
        entries.append({"at": event.created_at, "title": title, "detail": who})
    entries += [
        {"at": e["at"], "title": e["title"], "detail": e["detail"]}
        for e in ops.timeline_entries(case)
    ]
    entries.sort(key=lambda entry: entry["at"])
    return entries


def _event_title(event: CaseEvent, procedure, translate) -> str:
    key = event.key
    if event.kind == "opened":
        return _("Case opened")
    if event.kind == "transition" and key in procedure.transitions:
        return translate(procedure.transitions[key]["label"])
    if event.kind == "consent" and key in procedure.consents:
        label = translate(procedure.consents[key]["label"])
        given = (event.details or {}).get("given")
        return (
            _("Consent given: %(consent)s", consent=label)
            if given
            else _("Consent withdrawn: %(consent)s", consent=label)
        )
    if event.kind == "flag" and key in procedure.flags:
        label = translate(procedure.flags[key]["label"])
        return (
            _("Recorded: %(flag)s", flag=label)
            if (event.details or {}).get("set")
            else _("No longer recorded: %(flag)s", flag=label)
        )
    if event.kind == "routed":
        return _("Case sent to another committee")
    if event.kind == "notice":
        return _("A party was informed")
    if event.kind == "site":
        return _("Where a person belongs was recorded")
    return _("Case updated")
