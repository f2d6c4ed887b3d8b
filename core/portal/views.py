"""The reporter's portal: what happens next, help, the law, the report form, the reporter's
space. Views parse and render; `core.reports.operations` and the procedure engine decide.

Nothing here stores or logs who the visitor is: no address, no user agent, and no cookie
until a report's own session starts (the form's CSRF token, or a receipt login).
"""

import time

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import format_date, format_datetime, get_locale
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from werkzeug.exceptions import RequestEntityTooLarge

from core.casefile.forms import ReturnStatementForm
from core.casefile.operations import (
    return_statement_form,
    statement_status,
    statement_versions,
    validate_statement_form,
)
from core.cases.models import Case, CaseConsent, CaseEvent, CaseNotice, Message
from core.cases.operations import (
    REPORTER,
    ProcedureRefusal,
    available_transitions,
    record_consent,
    take_transition,
)
from core.extensions import csrf, db
from core.plugins.host import plugin_host
from core.plugins.hours import describe_hours
from core.plugins.i18n import plugin_gettext
from core.portal.forms import (
    ActionForm,
    EvidenceForm,
    MessageForm,
    NoticeForm,
    ReceiptForm,
    plugin_answers,
    report_form_class,
)
from core.portal.limits import receipt_attempt_allowed
from core.procedure.definition import Institution
from core.reports.evidence import MAX_FILES, EvidenceError, check_file_count, clean_evidence
from core.reports.models import Evidence
from core.reports.operations import (
    ReportError,
    Submission,
    add_evidence,
    first_report,
    format_receipt,
    mark_read_by_reporter,
    post_message,
    report_for_receipt,
    set_notify_email,
    submit_report,
)
from core.tenancy.cache import public_page

bp = Blueprint("portal", __name__, template_folder="templates")

# Where the quick-exit button leads: a neutral, everyday site.
EXIT_URL = "https://meteofrance.com/"
SPACE_IDLE_SECONDS = 30 * 60
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@bp.before_request
def _tenant_only():
    if g.get("tenant") is None:
        abort(404)
    g.pop("institution", None)  # g outlives a request when an app context is already pushed


def institution() -> Institution:
    if "institution" not in g:
        g.institution = Institution.of(plugin_host(), g.tenant_info)
    return g.institution


def localized(hook: str):
    """A hook's answer for this tenant, in the page's language."""
    return plugin_host().call(g.tenant_info, hook, locale=str(get_locale()))


def public_steps() -> list[dict]:
    """The procedure's public states, each with the deadlines that start on it."""
    procedure = localized("procedure")
    deadlines = [d for d in procedure["deadlines"] if d["public"]]
    return [
        {
            **state,
            "deadlines": [d for d in deadlines if state["key"] in d["starts"]],
        }
        for state in procedure["states"]
        if state["public"]
    ]


def emergency_lines() -> list[dict]:
    return [line for line in localized("helplines") if line["emergency"]]


def reason(problem: Exception) -> str:
    """Why something was refused, in the reader's language."""
    if isinstance(problem, ReportError):
        return _(problem.message)
    if isinstance(problem, EvidenceError):
        return str(problem.message)
    return str(problem)


def render_portal(template: str, status: int = 200, **context):
    response = make_response(
        render_template(template, profile=localized("institution_profile"), **context), status
    )
    if session.get("report"):
        response.headers.update(NO_STORE)
    return response


# -- information ---------------------------------------------------------------------------


@bp.route("/help")
@public_page
def help_lines():
    return render_portal("portal/help.html", lines=localized("helplines"))


@bp.route("/law")
@public_page
def law():
    definitions = localized("legal_definitions")
    groups: dict[str, list] = {}
    for definition in sorted(definitions, key=lambda d: d["order"]):
        groups.setdefault(definition["group"], []).append(definition)
    return render_portal("portal/law.html", groups=groups)


@bp.route("/exit", methods=["GET", "POST"])
def quick_exit():
    """Leave at once for a neutral site, forgetting the report's session."""
    session.clear()
    response = redirect(EXIT_URL, code=303)
    response.headers.update(NO_STORE)
    # not "cookies": that would clear every site of the domain (a school's webmail too)
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response


# -- the report form -----------------------------------------------------------------------


@bp.route("/report", methods=["GET", "POST"])
def report():
    profile = localized("institution_profile")
    fields = localized("report_form")
    form = report_form_class(profile, fields)()
    problems = []
    if form.validate_on_submit():
        try:
            files = _clean_files(request.files.getlist(form.files.name))
            response = _store_report(form, profile, fields, files)
        except (ReportError, EvidenceError, ProcedureRefusal) as problem:
            db.session.rollback()
            problems.append(reason(problem))
            field = getattr(form, getattr(problem, "field", None) or "", None)
            if field is not None:  # also next to the field it is about
                field.errors = [*field.errors, reason(problem)]
        except SQLAlchemyError:
            db.session.rollback()
            current_app.logger.exception("a report could not be stored")
            problems.append(
                _(
                    "Your report could not be saved just now. Nothing was lost on "
                    "this page: please send it again."
                )
            )
        else:
            return response
    elif form.is_submitted():
        problems.append(_("Some answers need your attention; they are marked below."))
    return _report_page(form, fields, problems)


def _report_page(form, fields, problems):
    response = render_portal(
        "portal/report.html",
        422 if problems else 200,
        form=form,
        fields=fields,
        problems=problems,
        max_files=MAX_FILES,
    )
    response.headers.update(NO_STORE)  # it holds what the reporter typed
    return response


def _store_report(form, profile, fields, files):
    """Store the report and answer with its receipt; the page is ready before the commit, so
    a stored report always reaches its reporter's screen with its receipt."""
    submission = _submission(form, profile, fields, files)
    try:
        return _commit_report(submission, form.once.data)
    except IntegrityError:
        # the same form, sent twice at once, was stored by the other request: trying again
        # finds it and gives it a new receipt
        db.session.rollback()
        return _commit_report(submission, form.once.data)


def _commit_report(submission: Submission, once: str):
    case, receipt = submit_report(
        submission, institution=institution(), host=plugin_host(), once=once
    )
    db.session.flush()
    response = render_portal(
        "portal/receipt.html", receipt=format_receipt(receipt), reference=case.reference
    )
    _start_space(case)
    db.session.commit()
    response.headers.update(NO_STORE)
    return response


def _submission(form, profile, fields, files) -> Submission:
    anonymous = form.anonymous.data == "yes" if profile["anonymous_reports"] else False
    answers = plugin_answers(form, fields)
    for core_field in ("when", "where", "people_implicated", "witnesses"):
        value = getattr(form, core_field, None)
        if value is not None and value.data:
            answers[f"core_{core_field}"] = value.data
    email = form.contact_email.data or None
    return Submission(
        relation=form.relation.data,
        anonymous=anonymous,
        narrative=form.narrative.data,
        categories=form.categories.data or [],
        answers=answers,
        full_name=None if anonymous else form.full_name.data,
        contact={"email": email} if email and not anonymous else None,
        notify_email=email if form.notify.data and not anonymous else None,
        files=files,
    )


def _clean_files(uploads) -> list:
    uploads = [u for u in uploads if u and u.filename]
    check_file_count(len(uploads))
    return [clean_evidence(u.filename, u.read()) for u in uploads]


# -- the reporter's space --------------------------------------------------------------------


def _start_space(case: Case) -> None:
    session.clear()
    session["report"] = {"tenant": g.tenant.id, "case": case.public_id, "seen": time.time()}


def current_case() -> Case | None:
    """The case of the reporter signed in with a receipt, for this tenant, if still fresh."""
    mine = session.get("report")
    if not mine or mine.get("tenant") != g.tenant.id:
        return None
    if time.time() - mine.get("seen", 0) > SPACE_IDLE_SECONDS:
        session.clear()
        return None
    case = db.session.scalar(select(Case).where(Case.public_id == mine["case"]))
    if case is None:
        session.clear()
        return None
    session["report"] = {**mine, "seen": time.time()}
    return case


@bp.route("/space/login", methods=["GET", "POST"])
def space_login():
    form = ReceiptForm()
    problem, status = None, 200
    if form.validate_on_submit():
        if not receipt_attempt_allowed():
            problem, status = _("Too many attempts. Please wait a few minutes and try again."), 429
        else:
            report = report_for_receipt(g.tenant.id, form.receipt.data)
            if report is None or report.case_id is None:
                problem, status = _("This receipt code does not open any report here."), 422
            else:
                _start_space(db.session.get(Case, report.case_id))
                return redirect(url_for("portal.space", lang=request.args.get("lang")), 303)
    response = render_portal("portal/space_login.html", status, form=form, problem=problem)
    response.headers.update(NO_STORE)
    return response


@bp.route("/space/logout", methods=["POST"])
def space_logout():
    ActionForm().validate_on_submit()
    session.clear()
    return redirect(url_for("tenancy.home", lang=request.args.get("lang")), 303)


def _space_context(case: Case) -> dict:
    procedure = localized("procedure")
    states = {s["key"]: s for s in procedure["states"]}
    report = first_report(case)
    visited = set(
        db.session.scalars(select(CaseEvent.to_state).where(CaseEvent.case_id == case.id))
    )
    consents = {
        c.key: c.given
        for c in db.session.scalars(select(CaseConsent).where(CaseConsent.case_id == case.id))
    }
    reporter_steps = [
        t for t, why in available_transitions(case, REPORTER, institution()) if not why
    ]
    labels = {t["key"]: t for t in procedure["transitions"]}
    statement = _statement_for_reporter(case)
    definition = institution().statement_form
    if definition is not None:
        # the validation step validates a version: it is offered only beside the version
        # waiting for the reporter (the statement section), never as a step of its own
        validate = definition["validate_transition"]
        reporter_steps = [t for t in reporter_steps if t["key"] != validate]
        if statement and statement["status"] == "submitted":
            step = labels.get(validate, {})
            statement["validate_label"] = step.get("reporter_label") or step.get("label")
    return {
        "case": case,
        "report": report,
        "state": states[case.state],
        "steps": [
            {
                **s,
                "done": s["key"] in visited and s["key"] != case.state,
                "current": s["key"] == case.state,
            }
            for s in public_steps()
        ],
        "messages": db.session.scalars(
            select(Message).where(Message.case_id == case.id).order_by(Message.created_at)
        ).all(),
        "news": _news_for_reporter(case),
        "consents": [
            {**c, "given": consents.get(c["key"])}
            for c in procedure["consents"]
            if c["asked_of_reporter"]
        ],
        "reporter_steps": [labels[t["key"]] for t in reporter_steps],
        "statement": statement,
        "return_form": ReturnStatementForm(),
        "message_form": MessageForm(),
        "evidence_form": EvidenceForm(),
        "notice_form": NoticeForm(data={"notify_email": report.notify_email}),
        "action_form": ActionForm(),
        "max_files": MAX_FILES,
        "evidence_count": db.session.scalar(
            select(func.count(Evidence.id)).where(Evidence.report_id == report.id)
        ),
    }


def _news_for_reporter(case: Case) -> list[dict]:
    """What the procedure tells the reporter at each step ("an investigation is open"), in
    the reader's language: the same words a named reporter's notice e-mail points to."""
    notices = db.session.scalars(
        select(CaseNotice)
        .where(CaseNotice.case_id == case.id, CaseNotice.party == REPORTER)
        .order_by(CaseNotice.created_at, CaseNotice.id)
    )
    return [
        {"at": notice.created_at, "message": plugin_gettext(g.tenant_info, notice.message)}
        for notice in notices
        if notice.message
    ]


def _statement_for_reporter(case: Case) -> dict | None:
    """The newest statement form the unit gave the reporter, with the form's fields in the
    reader's language (None if there is none, or the institution keeps none)."""
    definition = localized("statement_form")
    if definition is None:
        return None
    given = [v for v in statement_versions(case) if v.submitted_at is not None]
    if not given:
        return None
    version = given[-1]
    choices = {
        field["key"]: {c["value"]: c["label"] for c in field["choices"]}
        for section in definition["sections"]
        for field in section["fields"]
    }
    return {
        "definition": definition,
        "version": version,
        "status": statement_status(version),
        "choices": choices,
    }


def _signed_in_case() -> Case:
    case = current_case()
    if case is None:
        abort(redirect(url_for("portal.space_login", lang=request.args.get("lang")), 303))
    return case


@bp.route("/space")
def space():
    case = _signed_in_case()
    mark_read_by_reporter(case)
    response = render_portal("portal/space.html", **_space_context(case))
    db.session.commit()
    return response


def _back_to_space(notice: str | None = None, problem: str | None = None, status=303):
    if problem:
        case = _signed_in_case()
        return render_portal("portal/space.html", 422, problem=problem, **_space_context(case))
    return redirect(url_for("portal.space", lang=request.args.get("lang"), done=notice), status)


@bp.route("/space/messages", methods=["POST"])
def space_message():
    case = _signed_in_case()
    form = MessageForm()
    if not form.validate_on_submit():
        return _back_to_space(problem=_("Please write a message."))
    try:
        post_message(case, form.body.data, actor=REPORTER, institution=institution())
    except (ReportError, ProcedureRefusal) as problem:
        db.session.rollback()
        return _back_to_space(problem=reason(problem))
    db.session.commit()
    return _back_to_space("message")


@bp.route("/space/evidence", methods=["POST"])
def space_evidence():
    case = _signed_in_case()
    form = EvidenceForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        files = _clean_files(request.files.getlist(form.files.name))
        if not files:
            raise ReportError("no_file", _("Please choose a file."), "files")
        report = first_report(case)
        add_evidence(report, files)
    except (ReportError, EvidenceError) as problem:
        db.session.rollback()
        return _back_to_space(problem=reason(problem))
    db.session.commit()
    return _back_to_space("evidence")


@bp.route("/space/consents/<key>", methods=["POST"])
def space_consent(key: str):
    case = _signed_in_case()
    if not ActionForm().validate_on_submit() or key not in institution().procedure.consents:
        abort(400)
    given = request.form.get("given") == "yes"
    try:
        record_consent(
            case, key, given, actor=REPORTER, institution=institution(), host=plugin_host()
        )
    except ProcedureRefusal as refusal:
        db.session.rollback()
        return _back_to_space(problem=str(refusal))
    db.session.commit()
    return _back_to_space("consent")


@bp.route("/space/steps/<key>", methods=["POST"])
def space_step(key: str):
    case = _signed_in_case()
    if not ActionForm().validate_on_submit():
        abort(400)
    statement = institution().statement_form
    if statement and key == statement["validate_transition"]:
        return _validate_statement(case)  # which refuses when no version waits for them
    try:
        take_transition(case, key, actor=REPORTER, institution=institution())
    except ProcedureRefusal as refusal:
        db.session.rollback()
        return _back_to_space(problem=str(refusal))
    db.session.commit()
    return _back_to_space("step")


@bp.route("/space/statement-form/validate", methods=["POST"])
def space_statement_validate():
    case = _signed_in_case()
    if not ActionForm().validate_on_submit() or institution().statement_form is None:
        abort(400)
    return _validate_statement(case)


def _validate_statement(case: Case):
    try:
        validate_statement_form(case, institution=institution())
    except ProcedureRefusal as refusal:
        db.session.rollback()
        return _back_to_space(problem=str(refusal))
    db.session.commit()
    return _back_to_space("statement_validated")


@bp.route("/space/statement-form/return", methods=["POST"])
def space_statement_return():
    case = _signed_in_case()
    if institution().statement_form is None:
        abort(400)
    form = ReturnStatementForm()
    if not form.validate_on_submit():
        return _back_to_space(problem=_("Please say what should be corrected."))
    try:
        return_statement_form(case, form.comment.data, institution=institution())
    except (ReportError, ProcedureRefusal) as problem:
        db.session.rollback()
        return _back_to_space(problem=reason(problem))
    db.session.commit()
    return _back_to_space("statement_returned")


@bp.route("/space/notices", methods=["POST"])
def space_notices():
    case = _signed_in_case()
    form = NoticeForm()
    report = first_report(case)
    if report.is_anonymous:
        abort(400)
    if not form.validate_on_submit():
        return _back_to_space(problem=_("This does not look like an e-mail address."))
    set_notify_email(report, form.notify_email.data or None)
    db.session.commit()
    return _back_to_space("notices")


@bp.route("/space/proof")
def proof():
    """A printable proof that a report was made: date, institution, reference; no receipt."""
    case = _signed_in_case()
    report = first_report(case)
    return render_portal("portal/proof.html", case=case, report=report)


@bp.app_errorhandler(CSRFError)
def _stale_form(error):
    """A form sent without a valid token (an expired or cleared session): never a bare
    error page. The report form comes back with what was typed; the rest starts again."""
    if g.get("tenant") is None:
        return _("This page had expired. Please go back and try again."), 400
    problem = _(
        "This page had been open for a long time, so we could not accept it as it "
        "was. Please check it and send it again."
    )
    if request.endpoint == "portal.report":
        form = report_form_class(localized("institution_profile"), localized("report_form"))(
            formdata=request.form
        )
        return _report_page(form, localized("report_form"), [problem])
    return render_portal("portal/expired.html", 400, problem=problem)


@bp.app_errorhandler(RequestEntityTooLarge)
def _too_large(error):
    if g.get("tenant") is None:
        return _("This is too large."), 413
    return render_portal("portal/too_large.html", 413, max_files=MAX_FILES)


def init_app(app) -> None:
    from core.reports.evidence import MAX_FILE_BYTES

    # Flask's own defaults already hold these keys (as None), so `setdefault` would never
    # apply ours: fill them in unless the configuration chose a value.
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        # Refused from the Content-Length header, before the body is read.
        app.config["MAX_CONTENT_LENGTH"] = MAX_FILES * MAX_FILE_BYTES + 1024 * 1024
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Strict"
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    # a report may take longer than an hour to write: the token lives as long as the session
    # (Flask-WTF has already put its one-hour default in)
    app.config["WTF_CSRF_TIME_LIMIT"] = None
    app.register_blueprint(bp)
    csrf.exempt(quick_exit)  # leaving must always work, even from a stale page
    app.jinja_env.globals.update(
        public_steps=public_steps,
        emergency_lines=emergency_lines,
        describe_hours=describe_hours,
        format_date=format_date,
        format_datetime=format_datetime,
        exit_url=EXIT_URL,
    )
