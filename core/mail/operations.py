"""Queueing, sending and sweeping e-mail notifications, and who gets which.

An e-mail is first a row of the outbox, written in the caller's transaction; a job sends
it once that transaction commits. The job is idempotent (a sent row is never sent again)
and a failure leaves the row pending for `sweep_pending_mail`, so losing Redis, a worker
or the SMTP server delays a notice without losing it. Nothing here logs an address.
"""

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, func, or_, select, update

from core.audit.operations import SYSTEM, record_event
from core.cases.models import Case, CaseEvent, CaseNotice, Deadline
from core.cases.operations import (
    HANDLING_COMMITTEE,
    REPORTER,
    committee_by_key,
    facts_of,
    may_act_as,
    prefetch_seats,
)
from core.committees.models import Committee, CommitteeMember
from core.extensions import db
from core.identity.models import User
from core.jobs import enqueue_after_commit
from core.mail.delivery import compose, deliver, describe_failure
from core.mail.messages import KINDS, render_mail
from core.mail.models import OutboundMail
from core.memo import memoized
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


def retry_after(tries: int) -> timedelta:
    """How long after its creation an e-mail tried `tries` times is tried again by the
    periodic sweep: 1, 2, 4… minutes, so ten tries span about eight and a half hours."""
    return timedelta(minutes=2**tries)


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


def sweep_pending_mail(limit: int = SWEEP_BATCH, *, due_by: datetime | None = None) -> int:
    """Queue again the pending e-mails the current scope sees, oldest first; how many.

    For the periodic sweep and `cellule mail sweep`, in the platform scope (every tenant);
    e-mails that failed `MAX_ATTEMPTS` times are left alone. With `due_by` (the periodic
    sweep), only the e-mails whose next try is due by then (`retry_after`): a sweep every
    minute must not spend an e-mail's ten tries in ten minutes of SMTP outage. The jobs run
    once the caller commits, each in its e-mail's tenant scope.
    """
    query = select(OutboundMail.id, OutboundMail.tenant_id).where(
        OutboundMail.sent_at.is_(None), OutboundMail.attempts < MAX_ATTEMPTS
    )
    if due_by is not None:
        query = query.where(
            or_(
                *(
                    and_(OutboundMail.attempts == tries, OutboundMail.created_at <= due_by - wait)
                    for tries, wait in enumerate(map(retry_after, range(MAX_ATTEMPTS)))
                )
            )
        )
    rows = db.session.execute(
        query.order_by(OutboundMail.created_at, OutboundMail.id).limit(limit)
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
    ).all()
    # one question for every member: their seats, the case's composition and the tenant's
    # committees are read once, not once per member (afresh: the caller has just written)
    with memoized(fresh=True):
        prefetch_seats(members)
        facts = facts_of(case, institution)
        return [user for user in members if may_act_as(user, role, case, institution, facts)]


# -- deadlines, the procedure's notices, the repeat signal -----------------------------


def notify_staff_of_deadline(
    case: Case, institution: Institution, deadline: Deadline, what: str
) -> list[OutboundMail]:
    """Remind (`what` = "reminder") or alert ("alert") the members serving the committee
    that has the case of one of its deadlines: reference, deadline and due time only."""
    if case.committee_id is None:
        return []
    from core.cases.reminders import format_due  # the reminders module sends through here

    tenant = db.session.get(Tenant, case.tenant_id)
    locale = tenant.default_locale
    committee = db.session.get(Committee, case.committee_id)
    definition = next(
        (d for d in institution.procedure.deadlines if d["key"] == deadline.key), None
    )
    label = definition["label"] if definition else deadline.key
    params = {
        "institution": tenant.name,
        "reference": case.reference,
        "deadline": _short(plugin_text(institution, label, locale)),
        "due": format_due(deadline.due_at, institution.calendar, locale),
        "indicative": int(bool(deadline.indicative)),
        "path": case_path(case),
    }
    kind = "deadline_reminder" if what == "reminder" else "deadline_alert"
    return [
        queue_mail(case.tenant_id, user.email, kind, locale=locale, params=params)
        for user in staff_serving(case, institution, committee, HANDLING_COMMITTEE)
    ]


def notify_committees_of_new_case(case: Case, institution: Institution) -> list[OutboundMail]:
    """Tell the members of each committee the route also names (``also_notify``) that a
    case opened: reference and the committee's name only. A committee the tenant does not
    have is skipped with a warning, never a reason to refuse a report."""
    db.session.flush()
    tenant = db.session.get(Tenant, case.tenant_id)
    mails = []
    for key in dict.fromkeys(case.routing.get("also_notify") or []):
        try:
            committee = committee_by_key(case.tenant_id, key)
        except LookupError:
            logger.warning("the route names committee %r to notify, which the tenant lacks", key)
            continue
        params = {
            "institution": tenant.name,
            "reference": case.reference,
            "committee": _short(_committee_name(institution, key, tenant.default_locale)),
        }
        mails += [
            queue_mail(
                case.tenant_id,
                user.email,
                "new_case_for_committee",
                locale=tenant.default_locale,
                params=params,
            )
            for user in staff_serving(case, institution, committee, key)
        ]
    return mails


def notify_unit_of_possible_repeat(
    case: Case, institution: Institution, references: list[str]
) -> list[OutboundMail]:
    """Tell the members serving the committee that has `case` that its report may concern a
    person named in the cases `references`; no name, references only."""
    if case.committee_id is None or not references:
        return []
    tenant = db.session.get(Tenant, case.tenant_id)
    committee = db.session.get(Committee, case.committee_id)
    params = {
        "institution": tenant.name,
        "reference": case.reference,
        "others": _short(", ".join(references)),
        "path": case_path(case),
    }
    return [
        queue_mail(
            case.tenant_id,
            user.email,
            "possible_repeat",
            locale=tenant.default_locale,
            params=params,
        )
        for user in staff_serving(case, institution, committee, HANDLING_COMMITTEE)
    ]


def deliver_case_notices(case_id: int, now: datetime | None = None) -> int:
    """Carry out the case's pending notices the platform can: e-mail the members serving a
    committee the procedure names, or the reporter; how many were carried out.

    A job, queued when a step adds notices, and run again by the sweep. Each notice is
    claimed (``done_at`` set where it is still empty) in the transaction that queues its
    e-mails, so it is e-mailed once however many jobs and sweeps run. A committee nobody
    serves yet, and the people the procedure names (victim, person implicated, a director…),
    stay tasks for staff to do and mark done.
    """
    from core.plugins.host import TenantInfo, plugin_host

    now = now or utcnow()
    case = db.session.get(Case, case_id)
    if case is None:
        return 0
    tenant = db.session.get(Tenant, case.tenant_id)
    institution = Institution.of(plugin_host(), TenantInfo.of(tenant))
    reachable = {REPORTER, *institution.committees}
    notices = db.session.scalars(
        select(CaseNotice)
        .where(
            CaseNotice.case_id == case.id,
            CaseNotice.done_at.is_(None),
            CaseNotice.party.in_(reachable),
        )
        .order_by(CaseNotice.id)
    ).all()
    delivered = 0
    for notice in notices:
        if notice.party == REPORTER:
            recipients = _reporter_addresses(case)
        else:
            committee = committee_by_key(case.tenant_id, notice.party)
            recipients = [
                user.email for user in staff_serving(case, institution, committee, notice.party)
            ]
            if not recipients:
                continue  # nobody serves it yet: a task for staff, tried again by the sweep
        if not _claim_notice(notice, now):
            continue
        if notice.party == REPORTER:
            kind, params = "news_for_reporter", {"institution": tenant.name}
        else:
            kind = "case_needs_committee"
            params = {
                "institution": tenant.name,
                "reference": case.reference,
                "committee": _short(
                    _committee_name(institution, notice.party, tenant.default_locale)
                ),
                "path": case_path(case),
            }
        for address in recipients:
            queue_mail(case.tenant_id, address, kind, locale=tenant.default_locale, params=params)
        db.session.add(
            CaseEvent(
                tenant_id=case.tenant_id,
                case_id=case.id,
                kind="notice",
                key=notice.party,
                actor_kind=SYSTEM,
                created_at=now,
                details={"transition": notice.transition_key, "emailed": len(recipients)},
            )
        )
        record_event(
            case.tenant_id,
            actor=SYSTEM,
            action="case.notice_sent",
            target=("case", case.public_id),
            details={"party": notice.party, "recipients": len(recipients)},
        )
        delivered += 1
    db.session.flush()
    return delivered


def _claim_notice(notice: CaseNotice, now: datetime) -> bool:
    claimed = db.session.execute(
        update(CaseNotice)
        .where(CaseNotice.id == notice.id, CaseNotice.done_at.is_(None))
        .values(done_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return False
    db.session.refresh(notice)
    return True


def sweep_case_notices(limit: int = SWEEP_BATCH) -> int:
    """Carry out the pending notices of every active tenant (see `deliver_case_notices`),
    each case in its own committed transaction; how many were carried out."""
    from core.tenancy.scoping import platform_scope, tenant_scope

    with platform_scope():
        tenants = list(
            db.session.scalars(
                select(Tenant.id).where(Tenant.suspended_at.is_(None)).order_by(Tenant.id)
            )
        )
        db.session.commit()
    delivered = 0
    for tenant_id in tenants:
        with tenant_scope(tenant_id):
            committees = set(
                db.session.scalars(select(Committee.key).where(Committee.tenant_id == tenant_id))
            )
            case_ids = list(
                db.session.scalars(
                    select(CaseNotice.case_id)
                    .where(
                        CaseNotice.done_at.is_(None),
                        CaseNotice.party.in_({REPORTER, *committees}),
                    )
                    .group_by(CaseNotice.case_id)
                    .order_by(func.min(CaseNotice.id))
                    .limit(limit)
                )
            )
            db.session.commit()
            for case_id in case_ids:
                try:
                    delivered += deliver_case_notices(case_id)
                    db.session.commit()
                except Exception:
                    db.session.rollback()
                    logger.exception("the notices of case %s could not be carried out", case_id)
    return delivered


def _reporter_addresses(case: Case) -> list[str]:
    reports = db.session.scalars(
        select(Report)
        .where(Report.case_id == case.id, Report.notify_email.is_not(None))
        .order_by(Report.submitted_at, Report.id)
    )
    return [a for a in dict.fromkeys(r.notify_email for r in reports if not r.is_anonymous) if a]


def plugin_text(institution: Institution, text: str, locale: str) -> str:
    """A text of the tenant's plugins in `locale` (e-mails are written outside requests)."""
    from core.plugins.host import plugin_host

    translators = plugin_host().translators
    for name in institution.info.enabled_plugins:
        translator = translators.get(name)
        translated = translator.gettext(locale, text) if translator else text
        if translated != text:
            return translated
    return text


def _committee_name(institution: Institution, key: str, locale: str) -> str:
    declared = institution.committees.get(key)
    return plugin_text(institution, declared["name"], locale) if declared else key


def _short(text: str, limit: int = 200) -> str:
    """A parameter fits the outbox's limit (a long plugin label is cut, not refused)."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# The back office's case page, else its inbox, relative to the tenant's address.
CASE_PAGE = ("cases.case", "public_id")
INBOX = "cases.inbox"


def case_path(case: Case) -> str:
    """Where a member finds the case, relative to the tenant's address (no leading slash)."""
    from werkzeug.routing import BuildError

    adapter = current_app.url_map.bind("localhost")
    endpoint, argument = CASE_PAGE
    try:
        return adapter.build(endpoint, {argument: case.public_id}).lstrip("/")
    except BuildError:
        try:
            return adapter.build(INBOX).lstrip("/")
        except BuildError:
            return "staff/"
