"""The written record of a case: statement forms, hearings and documents.

Each operation takes the acting user (or REPORTER) and the tenant's institution, checks the
person may do it, changes the rows and writes the audit event (keys and ids only, never what
anyone wrote or a name) in the caller's transaction; it raises `ProcedureRefusal` (naming
the rule) without changing anything. The statement form is tied to the procedure only by
the step names the institution's ``statement_form`` hook gives.
"""

from collections.abc import Sequence
from datetime import date, datetime

from flask import has_request_context, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from core.audit.operations import record_event
from core.casefile.models import CaseDocument, Hearing, StatementForm
from core.cases.access import may_see_case
from core.cases.models import Case, CaseMember, CaseNotice
from core.cases.operations import (
    HANDLING_COMMITTEE,
    REPORTER,
    ProcedureRefusal,
    facts_of,
    may_act_as,
    may_handle,
    plugin_translator,
    take_transition,
    taken_transitions,
)
from core.committees.models import Committee, CommitteeMember
from core.extensions import db
from core.identity.models import User
from core.procedure.definition import Institution
from core.reports.evidence import clean_evidence
from core.reports.operations import post_message
from core.types import utcnow


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated when shown."""
    return message


PERSON_KINDS = {
    "victim": N_("The victim"),
    "implicated": N_("The person implicated"),
    "witness": N_("A witness"),
    "other": N_("Another person"),
}
TEXT_MAX = 1_000
TEXTAREA_MAX = 100_000


def person_kind_label(kind: str) -> str:
    return _(PERSON_KINDS.get(kind, PERSON_KINDS["other"]))


def _audit(case: Case, actor, action: str, details: dict) -> None:
    record_event(
        case.tenant_id, actor=actor, action=action, target=("case", case.public_id), details=details
    )


def _open(case: Case) -> None:
    if case.closed_at is not None:
        raise ProcedureRefusal("closed", N_("This case is closed: its file no longer changes."))


# -- the statement form ----------------------------------------------------------------------


def statement_definition(institution: Institution) -> dict:
    """The institution's statement form; LookupError if it has none."""
    if institution.statement_form is None:
        raise LookupError("this institution has no statement form")
    return institution.statement_form


def statement_fields(definition: dict) -> list[dict]:
    return [field for section in definition["sections"] for field in section["fields"]]


def drafting_states(institution: Institution) -> set[str]:
    """The states in which the unit writes or corrects the statement form."""
    definition = statement_definition(institution)
    if definition["draft_in"]:
        return set(definition["draft_in"])
    submit = institution.procedure.transitions[definition["submit_transition"]]
    if "*" in submit["from"]:
        return {k for k in institution.procedure.states if not institution.procedure.is_final(k)}
    return set(submit["from"])


def statement_versions(case: Case) -> list[StatementForm]:
    return list(
        db.session.scalars(
            select(StatementForm)
            .where(StatementForm.case_id == case.id)
            .order_by(StatementForm.version)
        )
    )


def latest_statement(case: Case) -> StatementForm | None:
    return db.session.scalars(
        select(StatementForm)
        .where(StatementForm.case_id == case.id)
        .order_by(StatementForm.version.desc())
        .limit(1)
    ).first()


def statement_status(form: StatementForm) -> str:
    """``draft``, ``submitted`` (waiting for the reporter), ``validated`` or ``returned``."""
    if form.validated_at is not None:
        return "validated"
    if form.returned_at is not None:
        return "returned"
    if form.submitted_at is not None:
        return "submitted"
    return "draft"


def pending_statement(case: Case) -> StatementForm | None:
    """The version the reporter has to read and answer, if any."""
    latest = latest_statement(case)
    return latest if latest is not None and statement_status(latest) == "submitted" else None


def may_write_statement(user: User, case: Case, institution: Institution) -> bool:
    return may_see_case(user, case, institution) and may_handle(user, case, institution)


def writes_statement(user: User, case: Case, institution: Institution) -> bool:
    """Whether `user` is among those who write the statement form (the roles of the submit
    step)."""
    definition = statement_definition(institution)
    submit = institution.procedure.transitions[definition["submit_transition"]]
    return any(
        may_act_as(user, role, case, institution) for role in submit["roles"] if role != REPORTER
    )


def may_read_statement(user: User, case: Case, institution: Institution) -> bool:
    """Whether `user` may read the case's statement form: those who write it (the roles of
    the submit step) whenever they see the case; anyone else who sees it once the form was
    passed on (the share step), or at once if the procedure has no such step."""
    definition = statement_definition(institution)
    if not may_see_case(user, case, institution):
        return False
    share = definition["share_transition"]
    if share is None or share in taken_transitions(case):
        return True
    return writes_statement(user, case, institution)


def readable_statement_versions(
    user: User, case: Case, institution: Institution
) -> list[StatementForm]:
    """The versions of the statement form `user` may read, oldest first: every version for
    those who write it; only the versions the reporter validated for anyone else (a draft,
    or a version the reporter has not validated or sent back, stays with the unit)."""
    if not may_read_statement(user, case, institution):
        return []
    versions = statement_versions(case)
    if writes_statement(user, case, institution):
        return versions
    return [version for version in versions if statement_status(version) == "validated"]


def statement_editable(case: Case, institution: Institution) -> bool:
    """Whether the unit may write on the statement form now (whoever they are)."""
    if case.closed_at is not None or case.state not in drafting_states(institution):
        return False
    latest = latest_statement(case)
    return latest is None or statement_status(latest) != "submitted"


def clean_answers(definition: dict, answers: dict) -> dict:
    """The answers to the form's fields, trimmed; empty ones left out, unknown keys ignored."""
    content = {}
    for field in statement_fields(definition):
        value = answers.get(field["key"])
        if isinstance(value, date):
            value = value.isoformat()
        if value is None:
            continue
        if not isinstance(value, str):
            raise ProcedureRefusal("answer", N_("One of the answers could not be read."))
        value = value.strip() if field["type"] != "textarea" else value.strip("\n\r ")
        if not value:
            continue
        limit = TEXTAREA_MAX if field["type"] == "textarea" else TEXT_MAX
        if len(value) > limit:
            raise ProcedureRefusal("answer", N_("One of the answers is too long."))
        if field["type"] == "choice" and value not in {c["value"] for c in field["choices"]}:
            raise ProcedureRefusal("answer", N_("One of the answers is not among its choices."))
        if field["type"] == "date":
            try:
                value = date.fromisoformat(value).isoformat()
            except ValueError as exc:
                raise ProcedureRefusal("answer", N_("One of the dates could not be read.")) from exc
        content[field["key"]] = value
    return content


def _check_statement_writer(case: Case, actor, institution: Institution) -> dict:
    definition = statement_definition(institution)
    _open(case)
    if not isinstance(actor, User) or not may_write_statement(actor, case, institution):
        raise ProcedureRefusal(
            "role", N_("Only the people handling this case write its statement form.")
        )
    if case.state not in drafting_states(institution):
        raise ProcedureRefusal(
            "not_from_state",
            N_("The statement form cannot be written at the case's current stage."),
        )
    return definition


def save_statement_form(
    case: Case, answers: dict, *, actor: User, institution: Institution, now=None
) -> StatementForm:
    """Write the statement form's draft. After the reporter sent a version back or validated
    it, this starts a new version; a version the reporter is reading does not change."""
    now = now or utcnow()
    definition = _check_statement_writer(case, actor, institution)
    content = clean_answers(definition, answers)
    latest = latest_statement(case)
    status = statement_status(latest) if latest is not None else None
    if status == "submitted":
        raise ProcedureRefusal(
            "submitted",
            N_("The reporter is reading this version. Wait for their answer to write another."),
        )
    if status == "draft":
        form, action = latest, "statement_form.updated"
        form.content, form.updated_at = content, now
    else:
        form = StatementForm(
            tenant_id=case.tenant_id,
            case_id=case.id,
            version=latest.version + 1 if latest is not None else 1,
            content=content,
            drafted_by_user_id=actor.id,
            drafted_at=now,
            updated_at=now,
        )
        db.session.add(form)
        action = "statement_form.drafted"
    db.session.flush()
    _audit(case, actor, action, {"version": form.version})
    return form


def submit_statement_form(
    case: Case, *, actor: User, institution: Institution, now=None
) -> StatementForm:
    """Give the draft to the reporter to read and validate.

    The first time, this takes the procedure's submit step (its rules, notices and
    deadlines apply); a corrected version, once the case is past that step, reaches the
    reporter with the same notices.
    """
    now = now or utcnow()
    definition = _check_statement_writer(case, actor, institution)
    form = latest_statement(case)
    if form is None or statement_status(form) != "draft":
        raise ProcedureRefusal("nothing_to_submit", N_("There is no draft to give the reporter."))
    for field in statement_fields(definition):
        if field["required"] and not form.content.get(field["key"]):
            raise ProcedureRefusal(
                "incomplete",
                N_("Fill in this part of the form first: %(field)s."),
                plugin_translator(institution),
                field=field["label"],
            )
    key = definition["submit_transition"]
    transition = institution.procedure.transitions[key]
    took = transition in institution.procedure.transitions_from(case.state)
    if took:
        take_transition(case, key, actor=actor, institution=institution, now=now)
    else:
        for inform in transition["informs"]:
            db.session.add(
                CaseNotice(
                    tenant_id=case.tenant_id,
                    case_id=case.id,
                    party=inform["party"],
                    message=inform["message"],
                    transition_key=key,
                    created_at=now,
                )
            )
    form.submitted_at = now
    db.session.flush()
    _audit(
        case,
        actor,
        "statement_form.submitted",
        {"version": form.version, "transition": key if took else None},
    )
    return form


def validate_statement_form(case: Case, *, institution: Institution, now=None) -> StatementForm:
    """The reporter validates the version they read: the procedure's validation step is
    taken if the case is where it leaves from."""
    now = now or utcnow()
    definition = statement_definition(institution)
    _open(case)
    form = pending_statement(case)
    if form is None:
        raise ProcedureRefusal(
            "nothing_to_validate", N_("There is no statement form waiting for you.")
        )
    key = definition["validate_transition"]
    took = _take_if_leaving(case, key, institution, now)
    form.validated_at = now
    db.session.flush()
    _audit(
        case,
        REPORTER,
        "statement_form.validated",
        {"version": form.version, "transition": key if took else None},
    )
    return form


def return_statement_form(
    case: Case, comment: str, *, institution: Institution, now=None
) -> StatementForm:
    """The reporter sends the version back with a comment, which reaches the unit as a
    message; the case goes back a step only if the procedure has one for that."""
    now = now or utcnow()
    definition = statement_definition(institution)
    _open(case)
    form = pending_statement(case)
    if form is None:
        raise ProcedureRefusal(
            "nothing_to_return", N_("There is no statement form waiting for you.")
        )
    post_message(case, comment, actor=REPORTER, institution=institution)
    key = definition["return_transition"]
    took = bool(key) and _take_if_leaving(case, key, institution, now)
    form.returned_at = now
    db.session.flush()
    _audit(
        case,
        REPORTER,
        "statement_form.returned",
        {"version": form.version, "transition": key if took else None},
    )
    return form


def _take_if_leaving(case: Case, key: str, institution: Institution, now) -> bool:
    """Take the reporter's step `key` if it leaves the case's state; whether it was taken."""
    transition = institution.procedure.transitions[key]
    if transition not in institution.procedure.transitions_from(case.state):
        return False
    take_transition(case, key, actor=REPORTER, institution=institution, now=now)
    return True


# -- hearings --------------------------------------------------------------------------------


def composed_committees(case: Case) -> list[str]:
    """Keys of the committees composed for the case (members still sitting)."""
    return list(
        db.session.scalars(
            select(Committee.key)
            .join(CaseMember, CaseMember.committee_id == Committee.id)
            .where(
                CaseMember.case_id == case.id,
                CaseMember.capacity == "composed",
                CaseMember.released_at.is_(None),
            )
            .distinct()
        )
    )


def may_investigate(user: User, case: Case, institution: Institution) -> bool:
    """Whether `user` may record hearings and documents: they see the case, and handle it
    or sit on a committee composed for it."""
    if not may_see_case(user, case, institution):
        return False
    if may_handle(user, case, institution):
        return True
    return any(may_act_as(user, key, case, institution) for key in composed_committees(case))


def hearing_staff(case: Case, institution: Institution) -> list[User]:
    """The staff who may be recorded as present at a hearing: those who sat on the case and
    the members of the committee that has it who serve this case (never a member whose
    seat is for another site)."""
    sat = select(CaseMember.user_id).where(
        CaseMember.case_id == case.id, CaseMember.released_at.is_(None)
    )
    ids = set(db.session.scalars(sat))
    if case.committee_id is not None:
        members = db.session.scalars(
            select(User)
            .join(CommitteeMember, CommitteeMember.user_id == User.id)
            .where(CommitteeMember.committee_id == case.committee_id)
            .distinct()
        )
        facts = facts_of(case, institution)
        ids |= {
            user.id
            for user in members
            if user.id not in ids and may_act_as(user, HANDLING_COMMITTEE, case, institution, facts)
        }
    if not ids:
        return []
    return list(
        db.session.scalars(select(User).where(User.id.in_(ids)).order_by(User.display_name))
    )


def case_hearings(case: Case) -> list[Hearing]:
    return list(
        db.session.scalars(
            select(Hearing)
            .where(Hearing.case_id == case.id)
            .order_by(Hearing.scheduled_at.is_(None), Hearing.scheduled_at, Hearing.created_at)
        )
    )


def _check_investigator(case: Case, actor, institution: Institution) -> None:
    _open(case)
    if not isinstance(actor, User) or not may_investigate(actor, case, institution):
        raise ProcedureRefusal(
            "role",
            N_(
                "Only the people handling this case, or the committee composed for it, "
                "record its hearings and documents."
            ),
        )


def _check_changeable(hearing: Hearing, case: Case, actor, institution: Institution) -> None:
    _check_investigator(case, actor, institution)
    if hearing.signed_off_at is not None:
        raise ProcedureRefusal(
            "signed_off",
            N_("The person heard signed the report of this hearing: it can no longer change."),
        )


def _check_person(person_kind: str, person_name: str) -> str:
    if person_kind not in PERSON_KINDS:
        raise ProcedureRefusal("answer", N_("Say who is heard."))
    name = (person_name or "").strip()
    if not name or len(name) > TEXT_MAX:
        raise ProcedureRefusal("answer", N_("Give the name of the person heard."))
    return name


def create_hearing(
    case: Case,
    *,
    actor: User,
    institution: Institution,
    person_kind: str,
    person_name: str,
    scheduled_at: datetime | None,
    place: str | None,
    now=None,
) -> Hearing:
    """Plan the hearing of one person."""
    _check_investigator(case, actor, institution)
    hearing = Hearing(
        tenant_id=case.tenant_id,
        case_id=case.id,
        person_kind=person_kind,
        person_name=_check_person(person_kind, person_name),
        scheduled_at=scheduled_at,
        place=(place or "").strip() or None,
        created_by_user_id=actor.id,
        created_at=now or utcnow(),
    )
    db.session.add(hearing)
    db.session.flush()
    _audit(
        case,
        actor,
        "hearing.created",
        {"hearing": hearing.public_id, "person_kind": person_kind},
    )
    return hearing


def change_hearing(
    hearing: Hearing,
    *,
    actor: User,
    institution: Institution,
    person_kind: str,
    person_name: str,
    scheduled_at: datetime | None,
    place: str | None,
) -> Hearing:
    """Change who is heard, when or where (until the person signs the report)."""
    case = db.session.get(Case, hearing.case_id)
    _check_changeable(hearing, case, actor, institution)
    hearing.person_name = _check_person(person_kind, person_name)
    hearing.person_kind = person_kind
    hearing.scheduled_at, hearing.place = scheduled_at, (place or "").strip() or None
    db.session.flush()
    _audit(case, actor, "hearing.changed", {"hearing": hearing.public_id})
    return hearing


def record_summons(
    hearing: Hearing, sent_at: datetime, *, actor: User, institution: Institution
) -> Hearing:
    """Record that the summons was sent (when)."""
    case = db.session.get(Case, hearing.case_id)
    _check_changeable(hearing, case, actor, institution)
    if hearing.scheduled_at is None or not hearing.place:
        raise ProcedureRefusal(
            "summons", N_("Give the hearing's date, time and place before summoning the person.")
        )
    hearing.summoned_at = sent_at
    db.session.flush()
    _audit(case, actor, "hearing.summoned", {"hearing": hearing.public_id})
    return hearing


def record_acknowledgement(
    hearing: Hearing, received_at: datetime, *, actor: User, institution: Institution
) -> Hearing:
    """Record that the person acknowledged the summons (when)."""
    case = db.session.get(Case, hearing.case_id)
    _check_changeable(hearing, case, actor, institution)
    if hearing.summoned_at is None:
        raise ProcedureRefusal("acknowledgement", N_("Record the summons first."))
    hearing.acknowledged_at = received_at
    db.session.flush()
    _audit(case, actor, "hearing.acknowledged", {"hearing": hearing.public_id})
    return hearing


def record_hearing(
    hearing: Hearing,
    *,
    actor: User,
    institution: Institution,
    held_at: datetime,
    staff: Sequence[User],
    others: Sequence[str],
    assistance: str | None,
    transcript: str,
) -> Hearing:
    """Record the hearing as held: who was present (staff who sit on the case or serve its
    committee, and others by name), who assisted the person, and the literal transcript."""
    case = db.session.get(Case, hearing.case_id)
    _check_changeable(hearing, case, actor, institution)
    allowed = {user.id for user in hearing_staff(case, institution)}
    if any(user.id not in allowed for user in staff):
        raise ProcedureRefusal(
            "attendees",
            N_("Staff present must sit on this case or serve the committee that has it."),
        )
    transcript = (transcript or "").strip("\n\r ")
    if not transcript:
        raise ProcedureRefusal("transcript", N_("Write the transcript of the hearing."))
    if len(transcript) > TEXTAREA_MAX:
        raise ProcedureRefusal("transcript", N_("The transcript is too long."))
    hearing.held_at = held_at
    hearing.attendees = {
        "staff": [user.public_id for user in dict.fromkeys(staff)],
        "others": [name.strip()[:TEXT_MAX] for name in others if name and name.strip()],
    }
    hearing.assistance = (assistance or "").strip()[:TEXT_MAX] or None
    hearing.transcript = transcript
    db.session.flush()
    _audit(
        case,
        actor,
        "hearing.recorded",
        {"hearing": hearing.public_id, "staff_present": len(hearing.attendees["staff"])},
    )
    return hearing


def sign_off_hearing(
    hearing: Hearing, signed_at: datetime, *, actor: User, institution: Institution
) -> Hearing:
    """Record that the person heard signed the report of the hearing: from then on nothing
    of the hearing changes."""
    case = db.session.get(Case, hearing.case_id)
    _check_changeable(hearing, case, actor, institution)
    if hearing.held_at is None or not hearing.transcript:
        raise ProcedureRefusal(
            "not_held", N_("Record the hearing and its transcript before the signature.")
        )
    hearing.signed_off_at = signed_at
    db.session.flush()
    _audit(case, actor, "hearing.signed_off", {"hearing": hearing.public_id})
    return hearing


def attendee_names(hearing: Hearing) -> tuple[list[str], list[str]]:
    """The names of the staff present and of the other people present."""
    attendees = hearing.attendees or {}
    ids = attendees.get("staff", [])
    users = (
        {u.public_id: u for u in db.session.scalars(select(User).where(User.public_id.in_(ids)))}
        if ids
        else {}
    )
    return [users[i].display_name for i in ids if i in users], list(attendees.get("others", []))


# -- documents -------------------------------------------------------------------------------


def case_documents(case: Case) -> list[CaseDocument]:
    return list(
        db.session.scalars(
            select(CaseDocument)
            .where(CaseDocument.case_id == case.id)
            .order_by(CaseDocument.created_at)
        )
    )


def add_document(
    case: Case,
    filename: str,
    data: bytes,
    *,
    actor: User,
    institution: Institution,
    provided_by: str,
    agreed_in_writing: bool,
    agreement_note: str | None = None,
    hearing: Hearing | None = None,
    now=None,
) -> CaseDocument:
    """Add a document someone gave, once their written agreement that it joins the case
    file is recorded. The file is checked and cleaned exactly as a reporter's evidence
    (`core.reports.evidence.clean_evidence`, whose `EvidenceError` passes through)."""
    now = now or utcnow()
    _check_investigator(case, actor, institution)
    if not agreed_in_writing:
        raise ProcedureRefusal(
            "agreement",
            N_(
                "A document joins the case file only with the written agreement of the "
                "person who gave it. Record that agreement first."
            ),
        )
    provided_by = (provided_by or "").strip()
    if not provided_by or len(provided_by) > TEXT_MAX:
        raise ProcedureRefusal("provided_by", N_("Say who gave the document."))
    if hearing is not None and hearing.case_id != case.id:
        raise ProcedureRefusal("hearing", N_("This hearing is not one of this case's."))
    clean = clean_evidence(filename, data)
    document = CaseDocument(
        tenant_id=case.tenant_id,
        case_id=case.id,
        hearing_id=hearing.id if hearing is not None else None,
        filename=clean.safe_name,
        media_type=clean.media_type,
        size=clean.size,
        data=clean.data,
        provided_by=provided_by,
        agreement_recorded_at=now,
        agreement_note=(agreement_note or "").strip()[:TEXT_MAX] or None,
        added_by_user_id=actor.id,
        created_at=now,
    )
    db.session.add(document)
    db.session.flush()
    _audit(
        case,
        actor,
        "document.added",
        {"document": document.public_id, "media_type": clean.media_type, "size": clean.size},
    )
    return document


def read_document(document: CaseDocument, *, actor: User, institution: Institution) -> CaseDocument:
    """A document for someone who may add documents to its case (`may_investigate`), not
    for those who only look on; the download is audited."""
    case = db.session.get(Case, document.case_id)
    if not may_investigate(actor, case, institution):
        raise ProcedureRefusal(
            "role",
            N_(
                "Only the people handling this case, or the committee composed for it, "
                "read its documents."
            ),
        )
    _audit(case, actor, "document.downloaded", {"document": document.public_id})
    return document


# -- the case's timeline -------------------------------------------------------------------


def _link(endpoint: str, **values) -> str | None:
    return url_for(endpoint, **values) if has_request_context() else None


def timeline_entries(case: Case) -> list[dict]:
    """What the case file adds to the case's timeline, oldest first: statement-form versions
    (drafted, submitted, validated, sent back), hearings (planned, summons sent, held,
    signed off) and documents added. Each entry is ``{"at", "kind", "title", "detail",
    "url"}``; titles are in the reader's language, and no entry holds what anyone wrote
    (a document's entry names its file)."""
    entries: list[dict] = []

    def add(at: datetime | None, kind: str, title: str, detail=None, url=None) -> None:
        if at is not None:
            entries.append({"at": at, "kind": kind, "title": title, "detail": detail, "url": url})

    for form in statement_versions(case):
        url = _link("casefile.statement_forms", public_id=case.public_id, version=form.version)
        version = _("Version %(version)s", version=form.version)
        add(form.drafted_at, "statement_form", _("Statement form drafted"), version, url)
        add(
            form.submitted_at,
            "statement_form",
            _("Statement form given to the reporter"),
            version,
            url,
        )
        add(
            form.validated_at,
            "statement_form",
            _("Statement form validated by the reporter"),
            version,
            url,
        )
        add(
            form.returned_at,
            "statement_form",
            _("Statement form sent back by the reporter"),
            version,
            url,
        )

    for hearing in case_hearings(case):
        url = _link("casefile.hearing", public_id=case.public_id, hearing_id=hearing.public_id)
        who = person_kind_label(hearing.person_kind)
        add(hearing.created_at, "hearing", _("Hearing planned"), who, url)
        add(hearing.summoned_at, "hearing", _("Summons sent"), who, url)
        add(hearing.held_at, "hearing", _("Hearing held"), who, url)
        add(hearing.signed_off_at, "hearing", _("Hearing report signed"), who, url)

    for document in case_documents(case):
        url = _link("casefile.document", public_id=case.public_id, document_id=document.public_id)
        add(document.created_at, "document", _("Document added"), document.filename, url)

    entries.sort(key=lambda entry: entry["at"])
    return entries
