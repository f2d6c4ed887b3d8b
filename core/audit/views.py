"""The audit viewer: the tenant's trail, its chain verified, for auditors.

Auditors read who did what and when, never a case's content: events hold keys and ids,
which this page shows as names (a case's reference, a staff member's name). Reading the
trail and verifying the chain are events of the trail too.
"""

import uuid
from datetime import UTC
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import Blueprint, g, render_template, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice

from core.audit.models import AuditEvent
from core.audit.operations import record_event, verify_chain
from core.cases.models import Case
from core.committees.models import Committee
from core.extensions import db
from core.identity.access import staff_required
from core.identity.models import Role, User
from core.identity.operations import staff_of
from core.plugins.host import plugin_host

bp = Blueprint("audit", __name__, url_prefix="/staff/audit", template_folder="templates")

PAGE_SIZE = 50
NO_STORE = {"Cache-Control": "no-store"}
# who acted, when it was not a staff member
ACTOR_KINDS = {
    "reporter": _l("The person reporting"),
    "system": _l("The platform, on its own"),
    "platform": _l("The platform's operator"),
}
ACTIONS = {
    "audit.viewed": _l("Read the audit trail"),
    "audit.verified": _l("Verified the audit chain"),
    "tenant.created": _l("Institution created"),
    "tenant.suspended": _l("Institution suspended"),
    "tenant.resumed": _l("Institution served again"),
    "tenant.domain_added": _l("Domain added"),
    "tenant.domain_removed": _l("Domain removed"),
    "tenant.branding_changed": _l("Branding changed"),
    "tenant.locales_changed": _l("Languages changed"),
    "plugin.enabled": _l("Plugin enabled"),
    "plugin.disabled": _l("Plugin disabled"),
    "keys.rewrapped": _l("Encryption keys re-wrapped"),
    "committee.created": _l("Committee created"),
    "committee.member_added": _l("Member seated on a committee"),
    "committee.member_removed": _l("Member's seat on a committee released"),
    "membership.granted": _l("Role given"),
    "membership.revoked": _l("Role taken away"),
    "staff.added": _l("Staff member added"),
    "staff.removed": _l("Staff member removed from the institution"),
    "staff.welcome_sent": _l("Link to choose a password sent"),
    "staff.handover": _l("Staff member's cases handed over"),
    "staff.sign_in": _l("Signed in"),
    "staff.sign_out": _l("Signed out"),
    "staff.sign_in_failed": _l("Sign-in failed"),
    "staff.locked": _l("Account locked after failed sign-ins"),
    "staff.totp_enrolled": _l("Authenticator app set up"),
    "staff.second_factor_reset": _l("Second factor reset"),
    "staff.recovery_codes_generated": _l("Recovery codes made"),
    "staff.recovery_code_used": _l("Recovery code used"),
    "staff.password_changed": _l("Password changed"),
    "staff.password_set": _l("Password chosen"),
    "staff.password_reset": _l("Password reset"),
    "staff.password_reset_requested": _l("Password reset asked for"),
    "staff.password_reset_limited": _l("Password reset refused (too many asked)"),
    "api_token.created": _l("API token created"),
    "api_token.revoked": _l("API token revoked"),
    "report.submitted": _l("Report submitted"),
    "report.evidence_added": _l("Evidence added to a report"),
    "report.notices": _l("Notice e-mails chosen by the person reporting"),
    "report.receipt_reissued": _l("Receipt code issued again"),
    "case.opened": _l("Case opened"),
    "case.read": _l("Case read"),
    "casefile.viewed": _l("Case file read"),
    "case.exported": _l("Case exported"),
    "case.identity_viewed": _l("Reporter's identity shown"),
    "case.transition": _l("Step taken"),
    "case.consent": _l("Consent recorded"),
    "case.flag": _l("Flag recorded"),
    "case.party_site": _l("Where a person belongs recorded"),
    "case.rerouted": _l("Case routed again"),
    "case.handover": _l("Case handed over to another member"),
    "case.message": _l("Message written"),
    "case.note": _l("Note written"),
    "case.notice_done": _l("Person told of a step"),
    "case.notice_sent": _l("Notice sent"),
    "case.measure_lifted": _l("Measure lifted"),
    "case.possible_repeat": _l("Possible repeat report noticed"),
    "deadline.reminded": _l("Deadline reminder sent"),
    "deadline.alerted": _l("Deadline alert sent"),
    "document.downloaded": _l("Document downloaded"),
    "evidence.downloaded": _l("Evidence downloaded"),
    "hearing.summoned": _l("Hearing summons sent"),
    "hearing.acknowledged": _l("Hearing summons acknowledged"),
    "hearing.changed": _l("Hearing changed"),
    "hearing.signed_off": _l("Hearing transcript signed off"),
    "mail.sent": _l("E-mail sent"),
    "api.list_read": _l("Cases or deadlines listed through the API"),
}


class TrailFilter(FlaskForm):
    """The trail's filters: read from the address (a GET form changes nothing)."""

    class Meta:
        csrf = False

    case = StringField(
        _l("Case"),
        description=_l("Its reference (such as K7QM-3XPA) or its identifier."),
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    actor = SelectField(_l("Who acted"), default="")


def _uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def find_case(text: str) -> Case | None:
    """The tenant's case with this reference (any case, any spacing) or public id."""
    text = text.strip()
    if _uuid(text):
        return db.session.scalar(select(Case).where(Case.public_id == text.lower()))
    reference = "".join(text.upper().split())
    if len(reference) == 8 and "-" not in reference:
        reference = f"{reference[:4]}-{reference[4:]}"
    return db.session.scalar(select(Case).where(Case.reference == reference))


def _filter_form() -> TrailFilter:
    form = TrailFilter(request.args)
    people = staff_of(g.tenant.id)
    chosen = request.args.get("actor", "")
    if _uuid(chosen) and all(p.public_id != chosen for p in people):
        # someone no longer on the staff (or the operator) still has her events
        # (only someone who acted here: never any account of the platform by its id)
        former = db.session.scalar(
            select(User)
            .join(AuditEvent, AuditEvent.actor_user_id == User.id)
            .where(User.public_id == chosen, AuditEvent.tenant_id == g.tenant.id)
            .limit(1)
        )
        people += [former] if former is not None else []
    form.actor.choices = [
        SelectChoice("", _l("Anyone")),
        *(SelectChoice(p.public_id, f"{p.display_name} <{p.email}>") for p in people),
        *(SelectChoice(kind, label) for kind, label in ACTOR_KINDS.items()),
    ]
    return form


def _names(events: list[AuditEvent]) -> dict:
    """What the page needs to show events readably: users by id and public id, cases by
    public id, committees by key (their names are the plugin's, kept on the row)."""
    user_ids = {e.actor_user_id for e in events if e.actor_user_id}
    public_ids = {e.target_id for e in events if e.target_type == "user"}
    case_ids = {e.target_id for e in events if e.target_type == "case"}
    for event in events:
        for value in event.details.values():
            values = value if isinstance(value, list) else [value]
            public_ids.update(v for v in values if isinstance(v, str) and _uuid(v))
    users = db.session.scalars(
        select(User).where(User.id.in_(user_ids) | User.public_id.in_(public_ids))
    ).all()
    cases = db.session.execute(
        select(Case.public_id, Case.reference).where(Case.public_id.in_(case_ids))
    ).all()
    return {
        "users": {u.id: u for u in users},
        "people": {u.public_id: u for u in users},
        "cases": dict(cases),
        "committees": dict(db.session.execute(select(Committee.key, Committee.name)).all()),
    }


def _when_formatter():
    """Format a moment in the institution's time zone (UTC without a plugin)."""
    profile = plugin_host().call(g.tenant_info, "institution_profile")
    zone = ZoneInfo(profile["timezone"]) if profile else UTC
    return lambda moment: format_datetime(moment, "medium", tzinfo=zone, locale=get_locale())


def _trail_page(form: TrailFilter, report=None, status: int = 200):
    """The trail's page for the filters in `form` (and `report`, a chain verification)."""
    query = select(AuditEvent).where(AuditEvent.tenant_id == g.tenant.id)
    problem, case, actor = None, None, request.args.get("actor", "")
    if form.case.data and form.case.data.strip():
        case = find_case(form.case.data)
        if case is None:
            problem = _l("No case of this institution has this reference.")
        query = query.where(
            AuditEvent.target_type == "case",
            AuditEvent.target_id == (case.public_id if case else ""),
        )
    if actor in ACTOR_KINDS:
        query = query.where(AuditEvent.actor_kind == actor)
    elif actor:
        user = db.session.scalar(select(User).where(User.public_id == actor))
        query = query.where(AuditEvent.actor_user_id == (user.id if user else -1))
    before = request.args.get("before", type=int)
    if before is not None:
        query = query.where(AuditEvent.seq < before)
    events = list(db.session.scalars(query.order_by(AuditEvent.seq.desc()).limit(PAGE_SIZE + 1)))
    more = len(events) > PAGE_SIZE
    events = events[:PAGE_SIZE]
    filters = {"case": case.public_id if case else None, "actor": actor or None}
    record_event(
        g.tenant.id,
        actor=g.staff,
        action="audit.viewed",
        target=("audit", "trail"),
        details={**filters, "before": before, "shown": len(events)},
    )
    db.session.commit()
    args = {k: v for k, v in request.args.items() if k in ("case", "actor", "lang") and v}
    return (
        render_template(
            "audit/trail.html",
            form=form,
            events=events,
            names=_names(events),
            actions=ACTIONS,
            actor_kinds=ACTOR_KINDS,
            when=_when_formatter(),
            problem=problem,
            report=report,
            next_args={**args, "before": events[-1].seq} if more else None,
            first_args=args if before is not None else None,
        ),
        status,
        NO_STORE,
    )


@bp.route("/")
@staff_required(Role.AUDITOR)
def trail():
    form = _filter_form()
    form.validate()
    return _trail_page(form)


@bp.route("/verify", methods=["POST"])
@staff_required(Role.AUDITOR)
def verify():
    """Recompute the tenant's whole chain and say whether, and where, it was altered."""
    report = verify_chain(g.tenant.id)
    record_event(
        g.tenant.id,
        actor=g.staff,
        action="audit.verified",
        target=("audit", "chain"),
        details={
            "ok": report.ok,
            "checked": report.checked,
            "problems": len(report.problems),
            "broken_at": report.broken_at,
        },
    )
    db.session.commit()
    form = _filter_form()
    form.validate()
    return _trail_page(form, report=report)
