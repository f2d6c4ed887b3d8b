"""Queueing, sending and sweeping e-mail notifications, and who gets which.

An e-mail is first a row of the outbox, written in the caller's transaction; a job sends
it once that transaction commits. The job is idempotent (a sent row is never sent again)
and a failure leaves the row pending for `sweep_pending_mail`, so losing Redis, a worker
or the SMTP server delays a notice without losing it. Nothing here logs an address.
"""

import logging

from flask import current_app
from sqlalchemy import select

from core.audit.operations import SYSTEM, record_event
from core.cases.models import Case
from core.cases.operations import HANDLING_COMMITTEE, committee_by_key, facts_of, may_act_as
from core.committees.models import Committee, CommitteeMember
from core.extensions import db
from core.identity.models import User
from core.jobs import enqueue_after_commit
from core.mail.delivery import compose, deliver, describe_failure
from core.mail.messages import KINDS, render_mail
from core.mail.models import OutboundMail
from core.procedure.definition import Institution
from core.reports.models import Report
from core.tenancy.models import Tenant
from core.tenancy.operations import SUPPORTED_LOCALES
from core.types import utcnow

logger = logging.getLogger(__name__)

# The sweep stops retrying an e-mail after this many failed attempts (an address the
# server refuses for good must not be retried forever); the row stays, with its reason.
MAX_ATTEMPTS = 10
SWEEP_BATCH = 200
_PARAM_TYPES = (str, int)


class MailError(ValueError):
    """An e-mail that cannot be queued as asked (unknown kind, language or parameter)."""


# -- the outbox ------------------------------------------------------------------------


def queue_mail(tenant_id: int, to: str, kind: str, *, locale: str, params: dict) -> OutboundMail:
    """Add an e-mail of `kind` to the tenant's outbox; it is sent once the caller commits.

    `params` are exactly the kind's parameters, short scalars (never report content).
    """
    definition = KINDS.get(kind)
    if definition is None:
        raise MailError(f"unknown kind of e-mail {kind!r}")
    if locale not in SUPPORTED_LOCALES:
        raise MailError(f"e-mails are written in {SUPPORTED_LOCALES}, not {locale!r}")
    if set(params) != set(definition.params):
        raise MailError(f"{kind} takes the parameters {definition.params}")
    for name, value in params.items():
        if not isinstance(value, _PARAM_TYPES) or len(str(value)) > 200:
            raise MailError(f"parameter {name!r} must be a short string or number")
    if not to or "@" not in to:
        raise MailError("an e-mail needs a recipient address")
    mail = OutboundMail(
        tenant_id=tenant_id,
        recipient=to,
        kind=kind,
        locale=locale,
        params=dict(params),
        attempts=0,
    )
    db.session.add(mail)
    db.session.flush()
    enqueue_after_commit(send_mail_job, mail.id, tenant_id=tenant_id)
    return mail


def send_mail_job(mail_id: int) -> str:
    """Send one outbox e-mail unless it is sent already; say what happened.

    Runs in the e-mail's tenant scope (see `core.jobs`). On PostgreSQL the row is locked,
    and a row another worker holds is left to it. A failure counts an attempt, keeps a short
    reason and leaves the e-mail pending; it is never raised, so that the count is kept.
    """
    app = current_app._get_current_object()
    if not app.config.get("MAIL_SERVER"):
        _warn_unconfigured(app)
        return "unconfigured"
    mail = db.session.scalar(
        select(OutboundMail)
        .where(OutboundMail.id == mail_id)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    if mail is None:
        return "skipped"  # gone, or being sent by another worker right now
    if mail.sent_at is not None:
        return "already sent"
    mail.attempts = (mail.attempts or 0) + 1
    try:
        rendered = render_mail(
            mail.kind,
            mail.locale,
            mail.params,
            address=tenant_address(db.session.get(Tenant, mail.tenant_id)),
        )
    except Exception as exc:
        # rendering reads no address: its traceback is safe to log
        logger.exception("e-mail %s (%s) could not be rendered", mail.public_id, mail.kind)
        return _failed(mail, exc)
    message = compose(
        app.config,
        recipient=mail.recipient,
        subject=rendered.subject,
        body=rendered.body,
        locale=mail.locale,
        message_id=mail.public_id,
    )
    try:
        deliver(app.config, message)
    except Exception as exc:
        # no traceback: SMTP errors quote the recipient
        logger.warning(
            "e-mail %s (%s) not sent: %s", mail.public_id, mail.kind, describe_failure(exc)
        )
        return _failed(mail, exc)
    mail.sent_at, mail.last_error = utcnow(), None
    record_event(
        mail.tenant_id,
        actor=SYSTEM,
        action="mail.sent",
        target=("mail", mail.public_id),
        details={"kind": mail.kind, "attempts": mail.attempts},
    )
    return "sent"


def _failed(mail: OutboundMail, exc: Exception) -> str:
    mail.last_error = describe_failure(exc)[:200]
    if mail.attempts >= MAX_ATTEMPTS:
        logger.warning(
            "e-mail %s (%s) failed %s times; the sweep no longer retries it",
            mail.public_id,
            mail.kind,
            mail.attempts,
        )
    db.session.flush()
    return "failed"


def _warn_unconfigured(app) -> None:
    state = app.extensions.setdefault("cellule.mail", {})
    if not state.get("warned_unconfigured"):
        state["warned_unconfigured"] = True
        app.logger.warning(
            "MAIL_SERVER is not set: e-mail notifications are not sent. They wait in the "
            "database until it is set and `cellule mail sweep` runs."
        )


def sweep_pending_mail(limit: int = SWEEP_BATCH) -> int:
    """Queue again the pending e-mails the current scope sees, oldest first; how many.

    For the periodic sweep and `cellule mail sweep`, in the platform scope (every tenant);
    e-mails that failed `MAX_ATTEMPTS` times are left alone. The jobs run once the caller
    commits, each in its e-mail's tenant scope.
    """
    rows = db.session.execute(
        select(OutboundMail.id, OutboundMail.tenant_id)
        .where(OutboundMail.sent_at.is_(None), OutboundMail.attempts < MAX_ATTEMPTS)
        .order_by(OutboundMail.created_at, OutboundMail.id)
        .limit(limit)
    ).all()
    for mail_id, tenant_id in rows:
        enqueue_after_commit(send_mail_job, mail_id, tenant_id=tenant_id)
    return len(rows)


def tenant_address(tenant: Tenant) -> str | None:
    """The tenant's web address for links in e-mails, or None when none can be known.

    Its first custom domain, else its sub-domain of CELLULE_BASE_DOMAIN, else its path under
    CELLULE_PUBLIC_URL.
    """
    config = current_app.config
    if tenant.domains:
        return f"https://{tenant.domains[0].host}/"
    if config.get("CELLULE_BASE_DOMAIN"):
        return f"https://{tenant.slug}.{config['CELLULE_BASE_DOMAIN']}/"
    if config.get("CELLULE_PUBLIC_URL"):
        return f"{config['CELLULE_PUBLIC_URL']}/t/{tenant.slug}/"
    return None


# -- who is told what ------------------------------------------------------------------


def notify_unit_of_new_case(case: Case, institution: Institution) -> list[OutboundMail]:
    """Tell each member serving the committee a new case was routed to, in the tenant's
    default language; the e-mail names the institution and the case's reference only."""
    routed = case.routing.get("committee")
    if not routed:
        return []
    committee = committee_by_key(case.tenant_id, routed)
    return _notify_staff(case, institution, committee, routed, "new_report")


def notify_unit_of_message(case: Case, institution: Institution) -> list[OutboundMail]:
    """Tell each member serving the committee that has the case now that the reporter wrote."""
    if case.committee_id is None:
        return []
    committee = db.session.get(Committee, case.committee_id)
    return _notify_staff(case, institution, committee, HANDLING_COMMITTEE, "new_message_for_unit")


def notify_reporter_of_message(case: Case) -> list[OutboundMail]:
    """Tell each named reporter of the case who left an address for notices that the unit
    wrote; the e-mail names the institution only."""
    tenant = db.session.get(Tenant, case.tenant_id)
    reports = db.session.scalars(
        select(Report)
        .where(Report.case_id == case.id, Report.notify_email.is_not(None))
        .order_by(Report.submitted_at, Report.id)
    )
    addresses = dict.fromkeys(r.notify_email for r in reports if not r.is_anonymous)
    return [
        queue_mail(
            case.tenant_id,
            address,
            "new_message_for_reporter",
            locale=tenant.default_locale,
            params={"institution": tenant.name},
        )
        for address in addresses
        if address
    ]


def _notify_staff(
    case: Case, institution: Institution, committee: Committee, role: str, kind: str
) -> list[OutboundMail]:
    db.session.flush()  # the case's reference is given on its first flush
    tenant = db.session.get(Tenant, case.tenant_id)
    params = {"institution": tenant.name, "reference": case.reference}
    return [
        queue_mail(case.tenant_id, user.email, kind, locale=tenant.default_locale, params=params)
        for user in staff_serving(case, institution, committee, role)
    ]


def staff_serving(
    case: Case, institution: Institution, committee: Committee, role: str
) -> list[User]:
    """The active members of `committee` who act as `role` for `case` (see `may_act_as`)."""
    members = db.session.scalars(
        select(User)
        .where(
            User.id.in_(
                select(CommitteeMember.user_id).where(CommitteeMember.committee_id == committee.id)
            ),
            User.disabled_at.is_(None),
        )
        .order_by(User.id)
    )
    facts = facts_of(case, institution)
    return [user for user in members if may_act_as(user, role, case, institution, facts)]
