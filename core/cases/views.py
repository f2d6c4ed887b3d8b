"""The back office's inbox and case page. Views parse and render; the engine decides.

A case someone has no need to know is answered exactly like a case that does not exist
(404), so a page never tells whether a reference exists. Every POST goes through an
operation that checks the person's rights again; a refusal changes nothing and comes back
on the case page, in the reader's language, naming the rule (POST, redirect, GET).
"""

import io
import re
from datetime import date, time
from functools import cache, lru_cache
from typing import NamedTuple

from babel import Locale
from babel.dates import (
    DateTimePattern,
    format_date,
    get_date_format,
    get_datetime_format,
    get_time_format,
    parse_pattern,
)
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
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from core.cases.access import (
    may_record_flag,
    may_see_case,
    may_view_identity,
    visible_answers,
)
from core.cases.forms import (
    ActionForm,
    ConsentForm,
    InboxFilterForm,
    MessageForm,
    NoteForm,
    SiteForm,
    StepForm,
)
from core.cases.inbox import DEADLINE_FILTERS, InboxFilters, InboxKey, inbox_page, member_committees
from core.cases.models import Case, CaseConsent, CaseEvent, CaseMeasure, CaseNotice, Deadline
from core.cases.operations import (
    N_,
    NOTE_KINDS,
    PARTY_NAMES,
    ProcedureRefusal,
    add_note,
    available_transitions,
    case_evidence,
    case_measures,
    committee_by_id,
    lift_measure,
    mark_notice_done,
    mark_read_by_unit,
    may_handle,
    may_lift_measure,
    may_write_note,
    message_reporter,
    record_case_read,
    record_consent,
    record_evidence_download,
    reveal_identity,
    seat_covers,
    set_flag,
    set_party_site,
    take_transition,
)
from core.cases.timeline import NOTE_KIND_LABELS, TIMELINE_WINDOW, Words, case_timeline
from core.committees.models import Committee, CommitteeMember
from core.extensions import db
from core.identity.access import staff_required
from core.identity.models import User
from core.memo import memoized
from core.plugins.host import plugin_host
from core.procedure.definition import Institution
from core.reports.models import Evidence, Report
from core.types import utcnow

bp = Blueprint("cases", __name__, url_prefix="/staff", template_folder="templates")

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# Where the case file's pages are, if that part of the back office is installed.
CASEFILE_LINKS = (
    ("casefile.overview", N_("Case file")),
    ("casefile.statement_forms", N_("Statement forms")),
    ("casefile.hearings", N_("Hearings")),
    ("casefile.documents", N_("Documents")),
    ("casefile.case_file_pdf", N_("Case file (PDF)")),
)
# Core answers the portal's form adds beside the institution's own fields.
CORE_ANSWERS = {
    "core_when": N_("When"),
    "core_where": N_("Where"),
    "core_people_implicated": N_("Who did it"),
    "core_witnesses": N_("Who else saw it"),
}
# what the inbox's page links carry over (the filters and the language)
KEPT_IN_LINKS = ("state", "deadline", "site", "category", "committee", "lang")
PROBLEM_KEY = "case_problem"
SHOWN_IDENTITY_KEY = "case_identity_shown"


@bp.before_request
def _fresh_institution():
    g.pop("institution", None)  # g outlives a request when an app context is already pushed


def institution() -> Institution:
    if "institution" not in g:
        g.institution = Institution.of(plugin_host(), g.tenant_info)
    return g.institution


def local_time(moment, form: str = "short") -> str:
    """A moment in the tenant's time zone and the reader's language, as Babel's
    `format_datetime` writes it. A case page shows hundreds: the patterns are parsed once,
    and each day's text, and each minute's (each second's, if the pattern shows seconds),
    is written once (`_day_text`, `_clock_text`)."""
    if moment is None:
        return ""
    locale = get_locale()
    when = moment.astimezone(institution().calendar.zone)
    patterns = _datetime_patterns(form, str(locale))
    if patterns.clock_only:
        second = when.second if patterns.seconds else 0
        clock = _clock_text(form, str(locale), when.hour, when.minute, second)
    else:
        clock = patterns.time.apply(when, locale)
    day = _day_text(form, str(locale), when.date())
    return patterns.combined.replace("{0}", clock).replace("{1}", day)


def local_date(moment, form: str = "medium") -> str:
    when = moment.astimezone(institution().calendar.zone)
    return _day_text(form, str(get_locale()), when.date())


# What a time pattern may hold for its text to depend on the hour, minute and second alone.
CLOCK_FIELDS = frozenset("hHKkmsa")


class Patterns(NamedTuple):
    combined: str  # how the date ({1}) and the time ({0}) go together
    time: DateTimePattern
    date: DateTimePattern
    clock_only: bool  # the time's text depends on the hour, minute and second alone
    seconds: bool  # and it shows the seconds


@cache
def _datetime_patterns(form: str, locale: str) -> Patterns:
    time_pattern = parse_pattern(get_time_format(form, locale=locale).pattern)
    fields = [name[0] for name in re.findall(r"%\((\w+)\)s", time_pattern.format)]
    return Patterns(
        combined=get_datetime_format(form, locale=locale).replace("'", ""),
        time=time_pattern,
        date=parse_pattern(get_date_format(form, locale=locale).pattern),
        clock_only=all(field in CLOCK_FIELDS for field in fields),
        seconds="s" in fields,
    )


@lru_cache(maxsize=4096)
def _day_text(form: str, locale: str, day: date) -> str:
    return _datetime_patterns(form, locale).date.apply(day, Locale.parse(locale))


@lru_cache(maxsize=4096)
def _clock_text(form: str, locale: str, hour: int, minute: int, second: int) -> str:
    clock = time(hour, minute, second)
    return _datetime_patterns(form, locale).time.apply(clock, Locale.parse(locale))


@bp.context_processor
def _helpers():
    return {"local_time": local_time, "local_date": local_date, "lang": request.args.get("lang")}


def _page(template: str, status: int = 200, **context):
    response = make_response(render_template(template, **context), status)
    response.headers.update(NO_STORE)  # case content never stays in a cache
    return response


# -- the inbox --------------------------------------------------------------------------------


@bp.route("/")
@staff_required()
def inbox():
    inst, words = institution(), Words(institution())
    form = InboxFilterForm(formdata=request.args)
    states = list(inst.procedure.states)
    sites = [s["key"] for s in inst.profile["sites"]]
    categories = [c["key"] for c in inst.profile["categories"]]
    mine = member_committees(g.staff, inst.info.id)
    committees = [key for key in inst.committees if key in mine.values()]
    any_choice = [SelectChoice("", _("Any"))]
    form.state.choices = any_choice + [SelectChoice(s, words.state(s)) for s in states]
    form.site.choices = any_choice + [SelectChoice(s, words.site(s)) for s in sites]
    form.category.choices = any_choice + [SelectChoice(c, words.category(c)) for c in categories]
    form.committee.choices = any_choice + [SelectChoice(c, words.committee(c)) for c in committees]

    def chosen(field, allowed):
        return field.data if field.data in allowed else None

    filters = InboxFilters(
        state=chosen(form.state, states),
        deadline=chosen(form.deadline, DEADLINE_FILTERS),
        site=chosen(form.site, sites),
        category=chosen(form.category, categories),
        committee=chosen(form.committee, committees),
    )
    after = InboxKey.decode(request.args.get("after"))
    now = utcnow()
    page = inbox_page(g.staff, inst, filters, after=after, now=now)
    kept = {k: v for k, v in request.args.items() if k in KEPT_IN_LINKS and v}
    next_url = (
        url_for("cases.inbox", **kept, after=page.next_key.encode()) if page.next_key else None
    )
    first_url = url_for("cases.inbox", **kept) if after else None
    filtered = any(
        getattr(filters, name) for name in ("state", "deadline", "site", "category", "committee")
    )
    response = _page(
        "cases/inbox.html",
        form=form,
        page=page,
        words=words,
        next_url=next_url,
        first_url=first_url,
        filtered=filtered,
        committees=committees,
    )
    db.session.commit()
    return response


# -- the case page ----------------------------------------------------------------------------


def _load_case(public_id: str) -> Case:
    """The case, if this tenant has it and the member has a need to know it; else 404."""
    case = db.session.scalar(select(Case).where(Case.public_id == public_id))
    if case is None or not may_see_case(g.staff, case, institution()):
        abort(404)
    return case


def _back(case: Case, anchor: str = ""):
    url = url_for("cases.case", public_id=case.public_id, lang=request.args.get("lang"))
    return redirect(url + (f"#{anchor}" if anchor else ""), 303)


def _refused(case_public_id: str, problem: ProcedureRefusal | str, anchor: str = "problem"):
    """Nothing changed: say why on the case page, naming the rule that refused."""
    db.session.rollback()
    rule = getattr(problem, "rule", "form")
    session[PROBLEM_KEY] = {"case": case_public_id, "message": str(problem), "rule": rule}
    url = url_for("cases.case", public_id=case_public_id, lang=request.args.get("lang"))
    return redirect(f"{url}#{anchor}", 303)


def _done(case: Case, message: str, anchor: str = ""):
    db.session.commit()
    flash(message, "success")
    return _back(case, anchor)


@bp.route("/cases/<public_id>")
@staff_required()
def case(public_id: str):
    # The page asks the same need-to-know questions for every step and section; what it
    # writes (the read, in the audit trail and on the messages) changes none of the answers.
    with memoized():
        case = _load_case(public_id)
        inst = institution()
        record_case_read(case, actor=g.staff)
        mark_read_by_unit(case, actor=g.staff, institution=inst)
        problem = session.pop(PROBLEM_KEY, None)
        if problem and problem.get("case") != case.public_id:
            problem = None
        show_identity = session.pop(SHOWN_IDENTITY_KEY, None) == case.public_id
        response = _page("cases/case.html", **_case_context(case, problem, show_identity))
    db.session.commit()
    return response


def _case_context(case: Case, problem: dict | None, show_identity: bool) -> dict:
    inst, user = institution(), g.staff
    whole_timeline = request.args.get("timeline") == "all"
    words = Words(inst)
    handles = may_handle(user, case, inst)
    reports = db.session.scalars(
        select(Report).where(Report.case_id == case.id).order_by(Report.submitted_at, Report.id)
    ).all()
    named = any(report.identity is not None for report in reports)
    may_reveal = named and may_view_identity(user, case, inst)
    identities = [r.identity for r in reports if r.identity] if show_identity and may_reveal else []
    now = utcnow()
    return {
        "case": case,
        "words": words,
        "problem": problem,
        "state_label": words.state(case.state),
        "state_description": words.state_description(case.state),
        "committee_label": words.committee(_committee_key(case)),
        "reports": [_report_view(r, inst, words, bool(identities)) for r in reports],
        "named": named,
        "all_anonymous": all(report.is_anonymous for report in reports),
        "may_reveal": may_reveal,
        "identities": identities,
        "timeline": case_timeline(
            case, inst, words, latest=None if whole_timeline else TIMELINE_WINDOW
        ),
        "whole_timeline": whole_timeline,
        "timeline_window": TIMELINE_WINDOW,
        "steps": _steps(case, inst, words),
        "deadlines": _deadlines(case, inst, words, now),
        "consents": _consents(case, inst, words, handles),
        "flags": _flags(case, inst, words),
        "party_sites": _party_sites(case, inst, words, handles),
        "notices": _notices(case, words, handles),
        "measures": _measures(case, inst, words),
        "handles": handles,
        "message_form": MessageForm(prefix="message"),
        "note_form": _note_form(case, inst),
        "casefile_links": [
            (endpoint, _(label))
            for endpoint, label in CASEFILE_LINKS
            if endpoint in current_app.view_functions
        ],
    }


def _committee_key(case: Case) -> str | None:
    committee = committee_by_id(case.tenant_id, case.committee_id)
    return committee.key if committee is not None else None


def _report_view(report: Report, inst: Institution, words: Words, with_identity: bool) -> dict:
    """A report as staff read it: the narrative and answers, decrypted, in the form's order.

    When the person reporting is the victim, the answers naming the victim identify them:
    they are kept apart with the identity (`visible_answers`), and shown only with it."""
    case = db.session.get(Case, report.case_id)
    answers = visible_answers(report, g.staff, case, inst, shown=with_identity)
    withheld = any(key not in answers for key in report.form_data or {})
    rows = []
    for field in inst.form:
        if field["key"] not in answers:
            continue
        rows.append((words.t(field["label"]), _answer_text(field, answers[field["key"]], words)))
    for key, label in CORE_ANSWERS.items():
        if answers.get(key):
            rows.append((_(label), str(answers[key])))
    return {
        "report": report,
        "relation": words.relation(report.reporter_relation),
        "categories": [words.category(c) for c in report.categories or []],
        "answers": rows,
        "withheld": withheld,
        "evidence": [item for item in case_evidence(case) if item.report_id == report.id],
    }


def _answer_text(field: dict, value, words: Words) -> str:
    if field["type"] == "site":
        return words.site(value)
    if field["type"] == "date" and isinstance(value, str):
        try:
            return format_date(date.fromisoformat(value), "long", locale=get_locale())
        except ValueError:
            return value
    if field["type"] in ("boolean", "consent"):
        return _("Yes") if value else _("No")
    if field["choices"]:
        labels = {c["value"]: words.t(c["label"]) for c in field["choices"]}
        values = value if isinstance(value, list) else [value]
        return "; ".join(labels.get(v, str(v)) for v in values)
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return str(value)


# -- what the member may do now ---------------------------------------------------------------


def _members_of(committee_key: str, case: Case, inst: Institution, words: Words, *, besides=None):
    """(public id, label) of the members of a committee who could serve `case` (their seats
    cover its site, and no rule of the committee keeps them out), for a picker: no one
    else's name is shown."""
    rows = db.session.execute(
        select(User, CommitteeMember, Committee)
        .join(CommitteeMember, CommitteeMember.user_id == User.id)
        .join(Committee, Committee.id == CommitteeMember.committee_id)
        .where(Committee.tenant_id == inst.info.id, Committee.key == committee_key)
        .order_by(User.display_name, User.id)
    ).all()
    declared = inst.committees.get(committee_key, {})
    choices = []
    for member, seat, committee in rows:
        if besides is not None and member.id == besides.id:
            continue
        # a seat for another site is not offered; a conflict of interest is, so that
        # choosing that person is refused with the rule it breaks
        if not seat_covers(case, committee, seat, declared):
            continue
        role_key, site_key = seat.role_key, seat.site_key
        about = [words.committee_role(committee_key, role_key)]
        if site_key:
            about.append(words.site(site_key))
        label = member.display_name
        if any(about):
            label += " — " + ", ".join(a for a in about if a)
        choices.append(SelectChoice(member.public_id, label))
    return choices


def _measure_choices(transition: dict, inst: Institution, words: Words):
    """The ladder's measures this step lets one choose, gravest rank last."""
    allowed = set(transition["measures"])
    measures = [m for m in inst.measures.values() if {m["kind"], m["key"]} & allowed]
    measures.sort(key=lambda m: (m.get("rank") is None, m.get("rank") or 0))
    choices = []
    for measure in measures:
        label = words.measure(measure["key"])
        if measure.get("rank") is not None:
            label = _("%(rank)s. %(measure)s", rank=measure["rank"], measure=label)
        choices.append(SelectChoice(measure["key"], label))
    return choices


def _step_form(
    transition: dict, case: Case, inst: Institution, words: Words, formdata=None
) -> StepForm:
    form = StepForm(prefix=transition["key"], formdata=formdata)
    if transition["participants"]:
        form.participants.choices = _members_of(
            transition["participants"]["committee"], case, inst, words, besides=g.staff
        )
    if transition["compose"]:
        form.members.choices = _members_of(transition["compose"], case, inst, words)
    if transition["measures"]:
        form.measures.choices = _measure_choices(transition, inst, words)
    return form


def _steps(case: Case, inst: Institution, words: Words) -> dict:
    available, unavailable = [], []
    for transition, why in available_transitions(case, g.staff, inst):
        key = transition["key"]
        if why:
            unavailable.append({"key": key, "label": words.transition(key), "reason": why})
            continue
        needed = transition["participants"]
        available.append(
            {
                "key": key,
                "label": words.transition(key),
                "description": words.transition_description(key),
                "form": _step_form(transition, case, inst, words, formdata=None),
                "participants": bool(needed),
                "participants_min": (needed or {}).get("min", 0),
                "participants_committee": words.committee(needed["committee"]) if needed else "",
                "compose": words.committee(transition["compose"]) if transition["compose"] else "",
                "compose_rules": _rules(transition["compose"], inst, words),
                "measures": bool(transition["measures"]),
                "ranked": any(
                    m.get("rank") is not None
                    for m in inst.measures.values()
                    if {m["kind"], m["key"]} & set(transition["measures"])
                ),
                "leaves": bool(transition["to"]) and transition["to"] != case.state,
                "to": words.state(transition["to"]) if transition["to"] else "",
            }
        )
    return {"available": available, "unavailable": unavailable}


def _rules(committee_key: str | None, inst: Institution, words: Words) -> list[str]:
    """The rules a committee's composition must follow (conflicts of interest, roles)."""
    if not committee_key:
        return []
    declared = inst.committees[committee_key]
    rules = [
        words.t(rule["description"]) for rule in declared["conditions"] if rule["kind"] != "note"
    ]
    for role in declared["roles"]:
        if role["min"]:
            rules.append(
                _("At least %(count)s: %(role)s", count=role["min"], role=words.t(role["name"]))
            )
    return rules


def _deadlines(case: Case, inst: Institution, words: Words, now) -> list[dict]:
    calendar = inst.calendar
    today = now.astimezone(calendar.zone).date()
    rows = []
    for deadline in db.session.scalars(
        select(Deadline)
        .where(Deadline.case_id == case.id)
        .order_by(Deadline.started_at, Deadline.id)
    ):
        due_day = deadline.due_at.astimezone(calendar.zone).date()
        if deadline.met_at is not None:
            status = "met_late" if deadline.met_at > deadline.due_at else "met"
        elif deadline.cancelled_at is not None:
            status = "cancelled"
        elif deadline.due_at < now:
            status = "overdue"
        else:
            status = "open"
        rows.append(
            {
                "label": words.deadline(deadline.key),
                "deadline": deadline,
                "status": status,
                "working_days_left": calendar.working_days_between(today, due_day)
                if status in ("open", "overdue")
                else None,
            }
        )
    return rows


def _consents(case: Case, inst: Institution, words: Words, handles: bool) -> list[dict]:
    current = {
        c.key: c
        for c in db.session.scalars(select(CaseConsent).where(CaseConsent.case_id == case.id))
    }
    last_by: dict[str, int | None] = {}
    for event in db.session.scalars(
        select(CaseEvent)
        .where(CaseEvent.case_id == case.id, CaseEvent.kind == "consent")
        .order_by(CaseEvent.created_at, CaseEvent.id)
    ):
        last_by[event.key] = event.actor_user_id
    names = dict(
        db.session.execute(
            select(User.id, User.display_name).where(User.id.in_(set(last_by.values()) - {None}))
        ).all()
    )
    rows = []
    for key, consent in inst.procedure.consents.items():
        record = current.get(key)
        if record is None:
            who = None
        elif record.recorded_by == "reporter":
            who = _("the person reporting")
        else:
            who = _(
                "%(name)s, on the person's word",
                name=names.get(last_by.get(key), _("staff")),
            )
        rows.append(
            {
                "key": key,
                "label": words.consent(key),
                "description": words.t(consent["description"])
                if consent.get("description")
                else "",
                "record": record,
                "who": who,
                "asked_of_reporter": consent["asked_of_reporter"],
                "form": ConsentForm(prefix=f"consent-{key}", formdata=None) if handles else None,
            }
        )
    return rows


def _flags(case: Case, inst: Institution, words: Words) -> list[dict]:
    rows = []
    for key, flag in inst.procedure.flags.items():
        is_set = key in case.flags
        rows.append(
            {
                "key": key,
                "label": words.flag(key),
                "description": words.t(flag["description"]) if flag.get("description") else "",
                "set": is_set,
                "may_change": may_record_flag(g.staff, case, key, not is_set, inst),
            }
        )
    return rows


def _party_sites(case: Case, inst: Institution, words: Words, handles: bool) -> list[dict]:
    sites = case.facts.get("sites") or {}
    choices = [SelectChoice("", _("Not known"))] + [
        SelectChoice(s["key"], words.site(s["key"])) for s in inst.profile["sites"]
    ]
    rows = []
    for party, name in PARTY_NAMES.items():
        form = None
        if handles:
            form = SiteForm(
                prefix=f"site-{party}", formdata=None, data={"site": sites.get(party) or ""}
            )
            form.site.choices = choices
        rows.append(
            {"party": party, "label": _(name), "site": words.site(sites.get(party)), "form": form}
        )
    return rows


def _notices(case: Case, words: Words, handles: bool) -> list[dict]:
    notices = db.session.scalars(
        select(CaseNotice)
        .where(CaseNotice.case_id == case.id, CaseNotice.done_at.is_(None))
        .order_by(CaseNotice.created_at, CaseNotice.id)
    )
    return [
        {
            "notice": notice,
            "party": words.party(notice.party),
            "message": words.t(notice.message) if notice.message else "",
            "step": words.transition(notice.transition_key),
            "may_mark": handles,
        }
        for notice in notices
    ]


def _measures(case: Case, inst: Institution, words: Words) -> list[dict]:
    return [
        {
            "measure": measure,
            "label": words.measure(measure.key),
            "kind": words.measure_kind(measure.kind),
            "step": words.transition(measure.transition_key),
            "may_lift": may_lift_measure(g.staff, measure, case, inst),
        }
        for measure in case_measures(case)
    ]


def _note_form(case: Case, inst: Institution) -> NoteForm | None:
    form = NoteForm(prefix="note", formdata=None)
    allowed = [
        SelectChoice(kind, label)
        for kind, label in NOTE_KIND_LABELS.items()
        if may_write_note(g.staff, case, kind, inst)
    ]
    if not allowed:
        return None
    form.kind.choices = allowed
    return form


# -- changing the case ------------------------------------------------------------------------


def _users(public_ids: list[str]) -> list[User]:
    if not public_ids:
        return []
    found = {
        u.public_id: u
        for u in db.session.scalars(select(User).where(User.public_id.in_(public_ids)))
    }
    return [found[p] for p in public_ids if p in found]


def _unreadable_form():
    return _("This form could not be read. Please check your choices and try again.")


@bp.route("/cases/<public_id>/steps/<key>", methods=["POST"])
@staff_required()
def take_step(public_id: str, key: str):
    case = _load_case(public_id)
    inst, words = institution(), Words(institution())
    transition = inst.procedure.transitions.get(key)
    if transition is None:
        abort(404)
    form = _step_form(transition, case, inst, words, formdata=request.form)
    if not form.validate_on_submit():
        return _refused(public_id, _unreadable_form())
    try:
        take_transition(
            case,
            key,
            actor=g.staff,
            institution=inst,
            participants=_users(form.participants.data or []),
            members=_users(form.members.data or []),
            measures=form.measures.data or [],
        )
    except ProcedureRefusal as refusal:
        return _refused(public_id, refusal)
    return _done(case, _("Done: %(step)s.", step=words.transition(key)))


@bp.route("/cases/<public_id>/consents/<key>", methods=["POST"])
@staff_required()
def consent(public_id: str, key: str):
    case = _load_case(public_id)
    inst = institution()
    if key not in inst.procedure.consents:
        abort(404)
    form = ConsentForm(prefix=f"consent-{key}")
    if not form.validate_on_submit():
        return _refused(public_id, _("Please choose an answer."), f"consent-{key}")
    try:
        record_consent(
            case,
            key,
            form.given.data == "yes",
            actor=g.staff,
            institution=inst,
            host=plugin_host(),
        )
    except ProcedureRefusal as refusal:
        return _refused(public_id, refusal)
    return _done(case, _("The answer was recorded."), "consents")


@bp.route("/cases/<public_id>/flags/<key>", methods=["POST"])
@staff_required()
def flag(public_id: str, key: str):
    case = _load_case(public_id)
    inst = institution()
    if key not in inst.procedure.flags or request.form.get("value") not in ("set", "clear"):
        abort(404)
    if not ActionForm().validate_on_submit():
        return _refused(public_id, _unreadable_form())
    try:
        set_flag(case, key, request.form["value"] == "set", actor=g.staff, institution=inst)
    except ProcedureRefusal as refusal:
        return _refused(public_id, refusal)
    return _done(case, _("Recorded."), "flags")


@bp.route("/cases/<public_id>/sites/<party>", methods=["POST"])
@staff_required()
def party_site(public_id: str, party: str):
    case = _load_case(public_id)
    inst = institution()
    if party not in PARTY_NAMES:
        abort(404)
    form = SiteForm(prefix=f"site-{party}")
    form.site.choices = [SelectChoice("", "")] + [
        SelectChoice(s["key"], s["key"]) for s in inst.profile["sites"]
    ]
    if not form.validate_on_submit():
        return _refused(public_id, _unreadable_form())
    try:
        set_party_site(case, party, form.site.data or None, actor=g.staff, institution=inst)
    except ProcedureRefusal as refusal:
        return _refused(public_id, refusal)
    return _done(case, _("Recorded."), "parties")


@bp.route("/cases/<public_id>/notices/<notice_id>", methods=["POST"])
@staff_required()
def notice_done(public_id: str, notice_id: str):
    case = _load_case(public_id)
    notice = db.session.scalar(
        select(CaseNotice).where(CaseNotice.public_id == notice_id, CaseNotice.case_id == case.id)
    )
    if notice is None:
        abort(404)
    if not ActionForm().validate_on_submit():
        return _refused(public_id, _unreadable_form())
    try:
        mark_notice_done(notice, actor=g.staff, institution=institution())
    except ProcedureRefusal as refusal:
        return _refused(public_id, refusal)
    return _done(case, _("Marked as done."), "notices")


@bp.route("/cases/<public_id>/messages", methods=["POST"])
@staff_required()
def message(public_id: str):
    case = _load_case(public_id)
    form = MessageForm(prefix="message")
    if not form.validate_on_submit():
        return _refused(public_id, _("Please write a message."), "message")
    try:
        message_reporter(case, form.body.data, actor=g.staff, institution=institution())
    except ProcedureRefusal as refusal:
        return _refused(public_id, refusal)
    return _done(case, _("Your message was sent."), "timeline")


@bp.route("/cases/<public_id>/notes", methods=["POST"])
@staff_required()
def note(public_id: str):
    case = _load_case(public_id)
    form = NoteForm(prefix="note")
    if not form.validate_on_submit() or form.kind.data not in NOTE_KINDS:
        return _refused(public_id, _("Please write the note."), "notes")
    try:
        add_note(case, form.kind.data, form.body.data, actor=g.staff, institution=institution())
    except ProcedureRefusal as refusal:
        return _refused(public_id, refusal)
    return _done(case, _("The note was added."), "timeline")


@bp.route("/cases/<public_id>/measures/<measure_id>/lift", methods=["POST"])
@staff_required()
def lift(public_id: str, measure_id: str):
    case = _load_case(public_id)
    measure = db.session.scalar(
        select(CaseMeasure).where(
            CaseMeasure.public_id == measure_id, CaseMeasure.case_id == case.id
        )
    )
    if measure is None:
        abort(404)
    if not ActionForm().validate_on_submit():
        return _refused(public_id, _unreadable_form())
    try:
        lift_measure(measure, actor=g.staff, institution=institution())
    except ProcedureRefusal as refusal:
        return _refused(public_id, refusal)
    return _done(case, _("The measure was lifted."), "measures")


@bp.route("/cases/<public_id>/identity", methods=["POST"])
@staff_required()
def identity(public_id: str):
    case = _load_case(public_id)
    if not ActionForm().validate_on_submit():
        return _refused(public_id, _unreadable_form())
    try:
        reveal_identity(case, actor=g.staff, institution=institution())
    except ProcedureRefusal as refusal:
        return _refused(public_id, refusal, "identity")
    db.session.commit()
    # shown once, on the page this redirect leads to; a reload hides it again
    session[SHOWN_IDENTITY_KEY] = case.public_id
    return _back(case, "identity")


@bp.route("/cases/<public_id>/evidence/<evidence_id>")
@staff_required()
def evidence(public_id: str, evidence_id: str):
    case = _load_case(public_id)
    item = db.session.scalar(
        select(Evidence)
        .join(Report, Report.id == Evidence.report_id)
        .where(Evidence.public_id == evidence_id, Report.case_id == case.id)
    )
    if item is None:
        abort(404)
    record_evidence_download(case, item, actor=g.staff)
    response = send_file(
        io.BytesIO(item.data),
        mimetype=item.media_type,
        as_attachment=True,
        download_name=item.filename,
        etag=False,
        max_age=0,
    )
    db.session.commit()
    response.headers.update(NO_STORE)
    return response
