"""Reminders before, and alerts after, each deadline of a case, from the deadline rows.

A deadline row is the durable truth (see DESIGN.md, decision 4): when it starts, the engine
stores when to remind (`reminder_time`); `sweep_deadlines` then sends each reminder and each
alert exactly once. Every one is claimed by a conditional UPDATE (``… WHERE reminded_at IS
NULL``) in the same transaction that queues its e-mails, writes the case's timeline and the
audit trail, and that transaction is committed on its own: a sweep killed half-way leaves
each deadline either fully reminded or untouched, and of two sweeps running at once only one
wins each row (on PostgreSQL the loser waits for the winner's commit, then finds the row
taken; on SQLite writers take turns).

When to remind (the same rule for indicative deadlines, which often exist precisely to keep
a task in mind, such as "inform the parties of progress"):

* N working days: at 08:00 (tenant's time) on the working day before the due day, so the
  people who must meet it have a full working day and the due day; for one working day, at
  08:00 on the due day.
* N calendar days: the same, with calendar days.
* N hours: when a quarter of the time is left (18 hours before a 72-hour deadline).

An alert goes out once a deadline is past due and still open. A deadline met or cancelled
(the step that ends it was taken, or the case closed) never reminds or alerts, and an
overdue deadline gets its alert, not a late reminder.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from babel.dates import format_datetime
from sqlalchemy import select, update

from core.audit.operations import SYSTEM, record_event
from core.cases.models import Case, CaseEvent, Deadline
from core.extensions import db
from core.procedure.calendar import WorkingCalendar
from core.tenancy.models import Tenant
from core.tenancy.scoping import platform_scope, tenant_scope
from core.types import utcnow

logger = logging.getLogger(__name__)

REMINDER_HOUR = 8
BATCH = 500


def reminder_time(
    calendar: WorkingCalendar,
    started_at: datetime,
    *,
    working_days=None,
    calendar_days=None,
    hours=None,
) -> datetime | None:
    """When to remind the people who must meet a deadline started at `started_at` (see the
    module's rule); give its length as to `WorkingCalendar.due`."""
    due_at = calendar.due(
        started_at, working_days=working_days, calendar_days=calendar_days, hours=hours
    )
    if hours is not None:
        remind = due_at - timedelta(hours=hours) / 4
        return remind if remind > started_at else None
    due_day = due_at.astimezone(calendar.zone).date()
    if working_days is not None:
        day = due_day
        if working_days >= 2:
            day -= timedelta(days=1)
            while not calendar.is_working_day(day):
                day -= timedelta(days=1)
    elif calendar_days is not None:
        day = due_day - timedelta(days=1) if calendar_days >= 2 else due_day
    else:
        raise ValueError("a deadline needs working_days, calendar_days or hours")
    remind = datetime.combine(day, time(REMINDER_HOUR), calendar.zone).astimezone(due_at.tzinfo)
    return remind if started_at < remind < due_at else None


# -- the sweep ---------------------------------------------------------------------------


@dataclass
class DeadlineSweep:
    """What one sweep did: reminders and alerts sent, e-mails queued, rows that failed."""

    reminded: int = 0
    alerted: int = 0
    mails: int = 0
    failed: list[str] = field(default_factory=list)


def sweep_deadlines(now: datetime | None = None, *, batch: int = BATCH) -> DeadlineSweep:
    """Send every reminder and alert due at `now`, in every active tenant, exactly once.

    Commits each deadline's reminder or alert on its own (see the module's docstring); each
    tenant is swept in its own scope. Must run outside any transaction of the caller's.
    """
    now = now or utcnow()
    result = DeadlineSweep()
    with platform_scope():
        tenant_ids = list(
            db.session.scalars(
                select(Tenant.id).where(Tenant.suspended_at.is_(None)).order_by(Tenant.id)
            )
        )
        db.session.commit()
    for tenant_id in tenant_ids:
        with tenant_scope(tenant_id):
            _sweep_tenant(tenant_id, now, batch, result)
    return result


def _sweep_tenant(tenant_id: int, now: datetime, batch: int, result: DeadlineSweep) -> None:
    still_open = (Deadline.met_at.is_(None), Deadline.cancelled_at.is_(None))
    reminders = list(
        db.session.scalars(
            select(Deadline.id)
            .where(*still_open, Deadline.reminded_at.is_(None), Deadline.remind_at <= now)
            .where(Deadline.due_at > now)
            .order_by(Deadline.remind_at, Deadline.id)
            .limit(batch)
        )
    )
    alerts = list(
        db.session.scalars(
            select(Deadline.id)
            .where(*still_open, Deadline.alerted_at.is_(None), Deadline.due_at <= now)
            .order_by(Deadline.due_at, Deadline.id)
            .limit(batch)
        )
    )
    db.session.commit()  # nothing is held while the rows are claimed one by one
    context = _TenantContext(tenant_id)
    for what, ids in (("reminder", reminders), ("alert", alerts)):
        for deadline_id in ids:
            try:
                sent = _send(what, deadline_id, now, context)
                db.session.commit()
            except Exception:
                db.session.rollback()
                # the row stays unclaimed, for the next sweep; no content in the log
                logger.exception("deadline %s: the %s could not be sent", deadline_id, what)
                result.failed.append(f"{what}:{deadline_id}")
                continue
            if sent is not None:
                result.mails += sent
                if what == "reminder":
                    result.reminded += 1
                else:
                    result.alerted += 1


class _TenantContext:
    """The tenant's institution, read once per sweep."""

    def __init__(self, tenant_id: int):
        self.tenant_id = tenant_id
        self._institution = None

    @property
    def institution(self):
        if self._institution is None:
            from core.plugins.host import TenantInfo, plugin_host
            from core.procedure.definition import Institution

            tenant = db.session.get(Tenant, self.tenant_id)
            self._institution = Institution.of(plugin_host(), TenantInfo.of(tenant))
        return self._institution


def _send(what: str, deadline_id: int, now: datetime, context: _TenantContext) -> int | None:
    """Claim one deadline's reminder or alert and queue its e-mails; None if another sweep
    (or the step that meets the deadline) came first."""
    from core.mail.operations import notify_staff_of_deadline  # mail reads the engine

    column = Deadline.reminded_at if what == "reminder" else Deadline.alerted_at
    claimed = db.session.execute(
        update(Deadline)
        .where(
            Deadline.id == deadline_id,
            column.is_(None),
            Deadline.met_at.is_(None),
            Deadline.cancelled_at.is_(None),
        )
        .values({column: now})
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return None
    deadline = db.session.scalars(
        select(Deadline).where(Deadline.id == deadline_id).execution_options(populate_existing=True)
    ).one()
    case = db.session.get(Case, deadline.case_id)
    mails = notify_staff_of_deadline(case, context.institution, deadline, what)
    db.session.add(
        CaseEvent(
            tenant_id=case.tenant_id,
            case_id=case.id,
            kind=what,
            key=deadline.key,
            actor_kind=SYSTEM,
            created_at=now,
            details={"deadline": deadline.public_id, "recipients": len(mails)},
        )
    )
    record_event(
        case.tenant_id,
        actor=SYSTEM,
        action="deadline.reminded" if what == "reminder" else "deadline.alerted",
        target=("case", case.public_id),
        details={"deadline": deadline.key, "recipients": len(mails)},
    )
    return len(mails)


def format_due(due_at: datetime, calendar: WorkingCalendar, locale: str) -> str:
    """A due time as staff read it: day, date and time on the tenant's clock."""
    return format_datetime(due_at, "EEEE d MMMM y, HH:mm", tzinfo=calendar.zone, locale=locale)
