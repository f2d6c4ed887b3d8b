"""Plain data for the API's schemas: a case and what hangs on it, with the institution's
names for its keys in the reader's language. It reads what the caller was already allowed
to reach (the views check need to know first) and never the reporter's identity."""

from datetime import datetime

from flask_babel import get_locale
from sqlalchemy import select

from core.cases.access import visible_answers
from core.cases.models import Case, CaseConsent, CaseEvent, Deadline, Message
from core.cases.operations import available_transitions, open_deadlines
from core.committees.models import Committee
from core.extensions import db
from core.identity.models import User
from core.plugins.host import plugin_host
from core.procedure.definition import Institution
from core.reports.models import Evidence, Report
from core.types import utcnow


class Labels:
    """What the tenant's plugins call each key, in the request's language."""

    def __init__(self, institution: Institution):
        host, info, locale = plugin_host(), institution.info, str(get_locale())
        procedure = host.call(info, "procedure", locale=locale)
        profile = host.call(info, "institution_profile", locale=locale)

        def by_key(items, text="label"):
            return {item["key"]: item[text] for item in items}

        self.states = by_key(procedure["states"])
        self.transitions = by_key(procedure["transitions"])
        self.deadlines = by_key(procedure["deadlines"])
        self.consents = by_key(procedure["consents"])
        self.flags = by_key(procedure["flags"])
        self.committees = by_key(host.call(info, "committees", locale=locale), "name")
        self.sites = by_key(profile["sites"], "name")
        self.categories = by_key(profile["categories"])
        self.committee_keys = dict(
            db.session.execute(
                select(Committee.id, Committee.key).where(Committee.tenant_id == info.id)
            ).all()
        )

    def labelled(self, names: dict, key: str) -> dict:
        return {"key": key, "label": names.get(key, key)}


def _public_ids(user_ids) -> dict[int, str]:
    wanted = {i for i in user_ids if i is not None}
    if not wanted:
        return {}
    rows = db.session.execute(select(User.id, User.public_id).where(User.id.in_(wanted)))
    return dict(rows.all())


def case_summary(case: Case, labels: Labels) -> dict:
    committee = labels.committee_keys.get(case.committee_id)
    return {
        "id": case.public_id,
        "reference": case.reference,
        "state": labels.labelled(labels.states, case.state),
        "committee": (
            {"key": committee, "name": labels.committees.get(committee, committee)}
            if committee
            else None
        ),
        "site": labels.labelled(labels.sites, case.site_key) if case.site_key else None,
        "opened_at": case.opened_at,
        "updated_at": case.updated_at,
        "closed_at": case.closed_at,
    }


def deadline_data(deadline: Deadline, case: Case, labels: Labels, now: datetime) -> dict:
    return {
        "id": deadline.public_id,
        "key": deadline.key,
        "label": labels.deadlines.get(deadline.key, deadline.key),
        "case_id": case.public_id,
        "case_reference": case.reference,
        "started_at": deadline.started_at,
        "due_at": deadline.due_at,
        "indicative": deadline.indicative,
        "open": deadline.is_open,
        "overdue": deadline.is_open and deadline.due_at < now,
        "met_at": deadline.met_at,
        "cancelled_at": deadline.cancelled_at,
    }


def case_deadlines(case: Case, labels: Labels, now: datetime | None = None) -> list[dict]:
    """Every deadline the case has had, soonest due first."""
    now = now or utcnow()
    rows = db.session.scalars(
        select(Deadline).where(Deadline.case_id == case.id).order_by(Deadline.due_at, Deadline.id)
    )
    return [deadline_data(row, case, labels, now) for row in rows]


def case_detail(case: Case, labels: Labels) -> dict:
    now = utcnow()
    reports = db.session.scalars(
        select(Report).where(Report.case_id == case.id).order_by(Report.submitted_at, Report.id)
    ).all()
    categories = dict.fromkeys(key for report in reports for key in report.categories)
    consents = db.session.scalars(
        select(CaseConsent).where(CaseConsent.case_id == case.id).order_by(CaseConsent.key)
    )
    events = db.session.scalars(
        select(CaseEvent)
        .where(CaseEvent.case_id == case.id)
        .order_by(CaseEvent.created_at, CaseEvent.id)
    ).all()
    actors = _public_ids(event.actor_user_id for event in events)
    return {
        **case_summary(case, labels),
        "relation": case.facts.get("relation") or "",
        "anonymous": bool(case.facts.get("anonymous", True)),
        "categories": [labels.labelled(labels.categories, key) for key in categories],
        "flags": [labels.labelled(labels.flags, key) for key in case.flags],
        "consents": [
            {
                "key": consent.key,
                "label": labels.consents.get(consent.key, consent.key),
                "given": consent.given,
                "recorded_at": consent.recorded_at,
                "recorded_by": consent.recorded_by,
            }
            for consent in consents
        ],
        "deadlines": [deadline_data(d, case, labels, now) for d in open_deadlines(case)],
        "timeline": [
            {
                "kind": event.kind,
                "key": event.key,
                "at": event.created_at,
                "from_state": event.from_state,
                "to_state": event.to_state,
                "actor": {"kind": event.actor_kind, "id": actors.get(event.actor_user_id)},
            }
            for event in events
        ],
    }


def case_reports(case: Case, user: User, institution: Institution) -> list[dict]:
    """The reports of the case: what was written and answered, the files' metadata; never
    who wrote it. The answers that name the person reporting (the victim's name, when the
    victim reports) are kept apart with the identity, which the API never gives
    (`core.cases.access.visible_answers` with ``shown=False``)."""
    reports = db.session.scalars(
        select(Report).where(Report.case_id == case.id).order_by(Report.submitted_at, Report.id)
    ).all()
    files: dict[int, list[Evidence]] = {}
    if reports:
        for evidence in db.session.scalars(
            select(Evidence)
            .where(Evidence.report_id.in_([r.id for r in reports]))
            .order_by(Evidence.created_at, Evidence.id)
        ):
            files.setdefault(evidence.report_id, []).append(evidence)
    return [
        {
            "id": report.public_id,
            "submitted_at": report.submitted_at,
            "relation": report.reporter_relation,
            "anonymous": report.is_anonymous,
            "site": report.site_key,
            "categories": list(report.categories),
            "narrative": report.narrative,
            "answers": visible_answers(report, user, case, institution, shown=False),
            "evidence": [
                {
                    "id": evidence.public_id,
                    "media_type": evidence.media_type,
                    "size": evidence.size,
                    "added_by": evidence.added_by,
                    "created_at": evidence.created_at,
                }
                for evidence in files.get(report.id, [])
            ],
        }
        for report in reports
    ]


def message_data(message: Message, authors: dict[int, str]) -> dict:
    return {
        "id": message.public_id,
        "author": message.author_kind,
        "author_id": authors.get(message.author_user_id),
        "body": message.body,
        "created_at": message.created_at,
        "read_at": message.read_at,
    }


def case_messages(case: Case) -> list[dict]:
    messages = db.session.scalars(
        select(Message).where(Message.case_id == case.id).order_by(Message.created_at, Message.id)
    ).all()
    authors = _public_ids(m.author_user_id for m in messages)
    return [message_data(m, authors) for m in messages]


def transition_options(case: Case, user: User, institution: Institution, labels) -> list[dict]:
    """The steps that leave the case's stage and apply to it, with why `user` may not take
    each (None if she may)."""
    return [
        {
            "key": transition["key"],
            "label": labels.transitions.get(transition["key"], transition["key"]),
            "to": transition["to"],
            "allowed": not why,
            "reason": why or None,
        }
        for transition, why in available_transitions(case, user, institution)
    ]
