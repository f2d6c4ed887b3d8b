"""What reporters do: submit a report, come back with its receipt, write, add evidence.

A receipt is the anonymous reporter's only key back. It is 20 random digits shown once and
stored only as an argon2id hash, salted per tenant rather than per report so that the
hash itself finds the report; with 10^20 possible receipts, that salt costs nothing in
security, and every check costs one argon2id computation whether the receipt exists or
not.
"""

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from argon2.low_level import Type, hash_secret
from argon2.profiles import RFC_9106_LOW_MEMORY
from sqlalchemy import func, select

from core.audit.operations import record_event
from core.cases.models import Case, Message
from core.cases.operations import N_, REPORTER, ProcedureRefusal, open_case
from core.cases.signals import signal_repeated_people
from core.extensions import db
from core.mail.operations import (
    notify_committees_of_new_case,
    notify_reporter_of_message,
    notify_unit_of_message,
    notify_unit_of_new_case,
)
from core.procedure.definition import Institution
from core.reports.evidence import CleanFile
from core.reports.models import Evidence, Report, ReporterIdentity
from core.types import utcnow

RECEIPT_DIGITS = 20
_RECEIPT_INPUT = re.compile(rf"^[0-9]{{{RECEIPT_DIGITS}}}$")


class ReportError(ValueError):
    """A submission that cannot be accepted as it is; nothing was stored.

    `code` is stable, `field` names the form field at fault, ``str()`` is a message marked
    for translation (the view translates it for the reader).
    """

    def __init__(self, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


def new_receipt() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(RECEIPT_DIGITS))


def format_receipt(receipt: str) -> str:
    """Groups of four digits, easier to copy by hand: ``1234 5678 …``."""
    return " ".join(receipt[i : i + 4] for i in range(0, len(receipt), 4))


def receipt_hash(tenant_id: int, receipt: str) -> str:
    """The argon2id hash a receipt is stored and found as (the tenant's salt)."""
    salt = hashlib.sha256(f"cellule receipt salt {tenant_id}".encode()).digest()[:16]
    profile = RFC_9106_LOW_MEMORY
    return hash_secret(
        receipt.encode(),
        salt,
        time_cost=profile.time_cost,
        memory_cost=profile.memory_cost,
        parallelism=profile.parallelism,
        hash_len=profile.hash_len,
        type=Type.ID,
    ).decode()


def normalise_receipt(typed: str) -> str | None:
    """The receipt's digits if `typed` holds exactly one receipt (spaces and dashes ignored)."""
    digits = re.sub(r"[\s\-.]", "", typed or "")
    return digits if _RECEIPT_INPUT.match(digits) else None


def report_for_receipt(tenant_id: int, typed: str) -> Report | None:
    """The report this receipt opens, or None; as slow for a wrong receipt as a right one."""
    receipt = normalise_receipt(typed)
    digest = receipt_hash(tenant_id, receipt or "0" * RECEIPT_DIGITS)
    if receipt is None:
        return None
    return db.session.scalar(
        select(Report).where(Report.tenant_id == tenant_id, Report.receipt_hash == digest)
    )


@dataclass(frozen=True)
class Submission:
    """What a reporter sends, already parsed by the form (no file read beyond its limit)."""

    relation: str
    anonymous: bool
    narrative: str
    categories: Sequence[str] = ()
    answers: dict | None = None
    full_name: str | None = None
    contact: dict | None = None
    notify_email: str | None = None
    files: Sequence[CleanFile] = ()


def _check(submission: Submission, institution: Institution) -> None:
    profile = institution.profile
    if submission.relation not in profile["relations"]:
        raise ReportError(
            "relation", N_("Please say how you know about what happened."), "relation"
        )
    if submission.anonymous and not profile["anonymous_reports"]:
        raise ReportError(
            "anonymous_reports",
            N_("This institution takes reports only with the name of the person reporting."),
            "anonymous",
        )
    if not submission.anonymous and not (submission.full_name or "").strip():
        message = (
            N_("Please give your name, or report anonymously.")
            if profile["anonymous_reports"]
            else N_("Please give your name.")
        )
        raise ReportError("full_name", message, "full_name")
    if not submission.narrative.strip():
        raise ReportError("narrative", N_("Please tell us what happened."), "narrative")
    known = {c["key"] for c in profile["categories"]}
    if set(submission.categories) - known:
        raise ReportError(
            "categories", N_("Please choose among the listed situations."), "categories"
        )


def submit_report(
    submission: Submission, *, institution: Institution, host, once: str | None = None
) -> tuple[Case, str]:
    """Store a report, open its case through the procedure, and return the case and receipt.

    The receipt is returned once and never stored. Everything happens in the caller's
    transaction: a refusal (ReportError, ProcedureRefusal) leaves nothing behind. `once` is
    the form's one-time token: the same form sent twice (a double click) gives the same
    report, with a new receipt replacing the one its first answer may have lost.
    """
    _check(submission, institution)
    tenant_id = institution.info.id
    receipt = new_receipt()
    digest = hashlib.sha256(f"{tenant_id}:{once}".encode()).hexdigest() if once else None
    if digest is not None:
        earlier = db.session.scalar(
            select(Report).where(Report.tenant_id == tenant_id, Report.submission_digest == digest)
        )
        if earlier is not None:
            earlier.receipt_hash = receipt_hash(tenant_id, receipt)
            record_event(
                tenant_id,
                actor=REPORTER,
                action="report.receipt_reissued",
                target=("report", earlier.public_id),
            )
            return db.session.get(Case, earlier.case_id), receipt
    report = Report(
        tenant_id=tenant_id,
        reporter_relation=submission.relation,
        is_anonymous=submission.anonymous,
        categories=list(submission.categories),
        narrative=submission.narrative.strip(),
        form_data=dict(submission.answers or {}),
        receipt_hash=receipt_hash(tenant_id, receipt),
        submission_digest=digest,
        notify_email=None if submission.anonymous else submission.notify_email,
    )
    if not submission.anonymous:
        report.identity = ReporterIdentity(
            tenant_id=tenant_id, full_name=submission.full_name.strip(), contact=submission.contact
        )
    for clean in submission.files:
        report.evidence.append(_evidence(tenant_id, clean, added_by=REPORTER))
    db.session.add(report)
    case = open_case(report, institution=institution, host=host)
    record_event(
        tenant_id,
        actor=REPORTER,
        action="report.submitted",
        target=("report", report.public_id),
        details={"anonymous": submission.anonymous, "files": len(submission.files)},
    )
    notify_unit_of_new_case(case, institution)
    notify_committees_of_new_case(case, institution)
    signal_repeated_people(case, report, institution)
    return case, receipt


def _evidence(tenant_id: int, clean: CleanFile, *, added_by: str) -> Evidence:
    return Evidence(
        tenant_id=tenant_id,
        filename=clean.safe_name,
        media_type=clean.media_type,
        size=clean.size,
        data=clean.data,
        added_by=added_by,
    )


MAX_EVIDENCE_PER_REPORT = 30


def first_report(case: Case) -> Report:
    """The report that opened `case` (later reports may join it)."""
    return db.session.scalars(
        select(Report).where(Report.case_id == case.id).order_by(Report.submitted_at, Report.id)
    ).first()


def add_evidence(report: Report, files: Sequence[CleanFile], *, actor=REPORTER) -> None:
    """Add files to a report later (from the reporter's space, or staff on their behalf)."""
    case = db.session.get(Case, report.case_id)
    if case is not None and case.closed_at is not None:
        raise ReportError("closed", N_("This case is closed; you can no longer add files."))
    held = db.session.scalar(select(func.count(Evidence.id)).where(Evidence.report_id == report.id))
    if held + len(files) > MAX_EVIDENCE_PER_REPORT:
        raise ReportError(
            "too_many_files", N_("This report already holds as many files as it can."), "files"
        )
    added_by = "reporter" if actor == REPORTER else "staff"
    for clean in files:
        report.evidence.append(_evidence(report.tenant_id, clean, added_by=added_by))
    db.session.flush()
    record_event(
        report.tenant_id,
        actor=actor,
        action="report.evidence_added",
        target=("report", report.public_id),
        details={"files": len(files)},
    )


def mark_read_by_reporter(case: Case) -> None:
    """The reporter has seen the unit's messages."""
    now = utcnow()
    for message in case.messages:
        if message.author_kind == "staff" and message.read_at is None:
            message.read_at = now


def set_notify_email(report: Report, address: str | None) -> None:
    """Where a named reporter wants "new message" notices (None: none); audited, no address."""
    if report.is_anonymous:
        raise ReportError("anonymous", N_("An anonymous report has no e-mail notices."))
    report.notify_email = address
    record_event(
        report.tenant_id,
        actor=REPORTER,
        action="report.notices",
        target=("report", report.public_id),
        details={"on": address is not None},
    )


def post_message(case: Case, body: str, *, actor, institution: Institution) -> Message:
    """A message on the case, from the reporter (`actor` is REPORTER) or a staff member;
    the other side gets a notice (never the message itself)."""
    body = (body or "").strip()
    if not body:
        raise ReportError("empty_message", N_("Please write a message."), "body")
    if case.closed_at is not None and actor == REPORTER:
        raise ProcedureRefusal("closed", N_("This case is closed; you can no longer write here."))
    message = Message(
        tenant_id=case.tenant_id,
        case_id=case.id,
        author_kind="reporter" if actor == REPORTER else "staff",
        author_user_id=None if actor == REPORTER else actor.id,
        body=body,
    )
    db.session.add(message)
    db.session.flush()
    record_event(
        case.tenant_id,
        actor=actor,
        action="case.message",
        target=("case", case.public_id),
        details={"from": message.author_kind},
    )
    if actor == REPORTER:
        notify_unit_of_message(case, institution)
    else:
        notify_reporter_of_message(case)
    return message
