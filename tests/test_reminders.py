"""Reminders before and alerts after each deadline, and the notices the procedure names.

Driven on NEOMA's and École polytechnique's own procedures, with e-mail through a real SMTP
server on 127.0.0.1 (aiosmtpd); jobs run in process, as in the embedded default. Each
reminder, alert and notice is sent exactly once, however many sweeps run, even at once.
"""

import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from core.audit.models import AuditEvent
from core.audit.operations import verify_chain
from core.cases.models import Case, CaseEvent, CaseNotice, Deadline
from core.cases.reminders import reminder_time, sweep_deadlines
from core.extensions import db
from core.mail.models import OutboundMail
from core.mail.operations import sweep_case_notices, sweep_pending_mail
from core.plugins import hookimpl
from core.procedure.calendar import WorkingCalendar
from core.reports.models import Report
from core.reports.operations import Submission, submit_report
from core.tenancy.models import Tenant
from core.tenancy.scoping import platform_scope, tenant_scope
from core.testing import CaseRunner
from core.types import utcnow

PARIS = ZoneInfo("Europe/Paris")
CALENDAR = WorkingCalendar("FR", None, "Europe/Paris")
NARRATIVE = "Narrative-Vermeil-2290: he waited for me outside the gym."
REPORTER_ADDRESS = "reporter-news@example.org"


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS).astimezone(UTC)


@pytest.fixture
def config(config, smtp):
    """The app's settings, sending mail to the test's SMTP server."""
    return {**config, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp.port, "MAIL_USE_TLS": False}


def in_english(tenant: Tenant) -> None:
    """E-mails in English: the tenant's default language decides."""
    with platform_scope():
        db.session.get(Tenant, tenant.id).default_locale = "en"
        db.session.commit()


@dataclass
class Neoma:
    tenant: Tenant
    cases: CaseRunner
    rouen: list  # the Angela unit's officers on the Rouen campus
    reims: list
    student_life: object
    legal: object
    rouen_director: object


@pytest.fixture
def neoma(make_tenant, make_member, case_runner) -> Neoma:
    tenant = make_tenant("neoma", enable=("neoma",), name="NEOMA Business School")
    in_english(tenant)
    return Neoma(
        tenant=tenant,
        cases=case_runner(tenant),
        rouen=[make_member(tenant, "angela_unit", role="officer", site="rouen") for _ in "ab"],
        reims=[make_member(tenant, "angela_unit", role="officer", site="reims")],
        student_life=make_member(tenant, "pre_analysis", role="director_of_student_life"),
        legal=make_member(tenant, "pre_analysis", role="head_of_legal"),
        rouen_director=make_member(tenant, "campus_direction", site="rouen"),
    )


def submit_in_rouen(neoma: Neoma, now: datetime) -> Case:
    return neoma.cases.submit(
        anonymous=False, answers={"campus": "rouen"}, narrative=NARRATIVE, now=now
    )


def deadline(tenant, case, key) -> Deadline:
    with tenant_scope(tenant):
        db.session.expire_all()
        return db.session.scalars(
            select(Deadline)
            .where(Deadline.case_id == case.id, Deadline.key == key)
            .order_by(Deadline.id.desc())
        ).first()


def outbox(tenant) -> list[OutboundMail]:
    with tenant_scope(tenant):
        db.session.expire_all()
        return list(db.session.scalars(select(OutboundMail).order_by(OutboundMail.id)))


def timeline(tenant, case, *kinds) -> list[tuple[str, str]]:
    with tenant_scope(tenant):
        rows = db.session.scalars(
            select(CaseEvent)
            .where(CaseEvent.case_id == case.id, CaseEvent.kind.in_(kinds))
            .order_by(CaseEvent.id)
        )
        return [(row.kind, row.key) for row in rows]


def audited(tenant, prefix: str) -> list[tuple[str, dict]]:
    with tenant_scope(tenant):
        rows = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action.like(f"{prefix}%")).order_by(AuditEvent.seq)
        )
        return [(row.action, row.details) for row in rows]


def chain_ok(tenant) -> bool:
    with tenant_scope(tenant):
        return verify_chain(tenant.id).ok


def messages_of_kind(smtp, word: str):
    return [m for m in smtp.messages if word in m["Subject"]]


# -- when to remind ----------------------------------------------------------------------


EASTER_FRIDAY = paris(2026, 4, 3, 12)  # Monday 6 April 2026 is a public holiday
CHRISTMAS_EVE = paris(2026, 12, 24, 10)  # Friday 25 is a holiday, then the weekend


@pytest.mark.parametrize(
    ("started", "length", "due", "remind"),
    [
        (EASTER_FRIDAY, {"working_days": 2}, paris(2026, 4, 8, 23, 59, 59), paris(2026, 4, 7, 8)),
        (EASTER_FRIDAY, {"working_days": 1}, paris(2026, 4, 7, 23, 59, 59), paris(2026, 4, 7, 8)),
        (
            CHRISTMAS_EVE,
            {"working_days": 2},
            paris(2026, 12, 29, 23, 59, 59),
            paris(2026, 12, 28, 8),
        ),
        # ten working days over Easter Monday: due Monday 20 April, reminder on Friday 17
        (
            EASTER_FRIDAY,
            {"working_days": 10},
            paris(2026, 4, 20, 23, 59, 59),
            paris(2026, 4, 17, 8),
        ),
        (EASTER_FRIDAY, {"calendar_days": 3}, paris(2026, 4, 6, 23, 59, 59), paris(2026, 4, 5, 8)),
        # hours: when a quarter of the time is left
        (paris(2026, 11, 27, 19), {"hours": 72}, paris(2026, 11, 30, 19), paris(2026, 11, 30, 1)),
        (paris(2026, 5, 4, 11), {"hours": 24}, paris(2026, 5, 5, 11), paris(2026, 5, 5, 5)),
    ],
)
def test_the_reminder_comes_a_working_day_or_a_quarter_of_the_time_before(
    started, length, due, remind
):
    assert CALENDAR.due(started, **length) == due
    assert reminder_time(CALENDAR, started, **length) == remind


def test_a_deadline_stores_its_reminder_when_it_starts(app, neoma):
    case = submit_in_rouen(neoma, paris(2026, 4, 3, 12))
    acknowledgement = deadline(neoma.tenant, case, "acknowledgement")
    assert acknowledgement.due_at == paris(2026, 4, 8, 23, 59, 59)
    assert acknowledgement.remind_at == paris(2026, 4, 7, 8)
    # indicative deadlines remind too (45 working days, with Easter Monday, 1 and 8 May,
    # Ascension Day and Whit Monday off: due Friday 12 June)
    whole = deadline(neoma.tenant, case, "whole_process")
    assert whole.due_at == paris(2026, 6, 12, 23, 59, 59)
    assert whole.indicative and whole.remind_at == paris(2026, 6, 11, 8)


# -- reminders and alerts ------------------------------------------------------------------


def test_a_deadline_over_easter_reminds_on_tuesday_and_alerts_after_wednesday(app, smtp, neoma):
    case = submit_in_rouen(neoma, paris(2026, 4, 3, 12))  # Friday before Easter
    with tenant_scope(neoma.tenant):
        reference, public_id = case.reference, case.public_id

    # Easter Monday: too early
    assert sweep_deadlines(paris(2026, 4, 6, 12)).reminded == 0
    assert smtp.messages == []

    # Tuesday 8:00: the two Rouen officers (not Reims, not the other committees)
    swept = sweep_deadlines(paris(2026, 4, 7, 8))
    assert (swept.reminded, swept.alerted, swept.mails) == (1, 0, 2)
    assert sorted(smtp.recipients) == sorted(u.email for u in neoma.rouen)
    message = smtp.messages[0]
    assert message["Subject"] == (
        f"Deadline coming up: Acknowledge receipt in writing ({reference})"
    )
    body = message.get_content()
    assert "Acknowledge receipt in writing: due by Wednesday 8 April 2026, 23:59." in body
    assert f"Reference {reference}." in body
    assert f"https://neoma.cellule.test/staff/cases/{public_id}" in body
    assert NARRATIVE not in body and "rouen" not in body.lower()

    # the same sweep again, and a later one, send nothing more
    assert sweep_deadlines(paris(2026, 4, 7, 8)).reminded == 0
    assert sweep_deadlines(paris(2026, 4, 8, 20)).reminded == 0
    assert len(smtp.messages) == 2

    # Thursday: overdue, an alert, once
    swept = sweep_deadlines(paris(2026, 4, 9, 9))
    assert (swept.reminded, swept.alerted) == (0, 1)
    assert sweep_deadlines(paris(2026, 4, 9, 10)).alerted == 0
    alerts = messages_of_kind(smtp, "Deadline passed")
    assert sorted(m["To"] for m in alerts) == sorted(u.email for u in neoma.rouen)
    assert "it was due by Wednesday 8 April 2026, 23:59." in alerts[0].get_content()

    acknowledgement = deadline(neoma.tenant, case, "acknowledgement")
    assert acknowledgement.reminded_at == paris(2026, 4, 7, 8)
    assert acknowledgement.alerted_at == paris(2026, 4, 9, 9)
    assert timeline(neoma.tenant, case, "reminder", "alert") == [
        ("reminder", "acknowledgement"),
        ("alert", "acknowledgement"),
    ]
    assert audited(neoma.tenant, "deadline.") == [
        ("deadline.reminded", {"deadline": "acknowledgement", "recipients": 2}),
        ("deadline.alerted", {"deadline": "acknowledgement", "recipients": 2}),
    ]
    assert chain_ok(neoma.tenant)


def test_a_met_or_cancelled_deadline_never_reminds_nor_alerts(app, smtp, neoma):
    case = submit_in_rouen(neoma, paris(2026, 4, 3, 12))
    neoma.cases.take(case, "acknowledge_receipt", neoma.rouen[0], now=paris(2026, 4, 3, 15))
    assert deadline(neoma.tenant, case, "acknowledgement").met_at is not None

    swept = sweep_deadlines(paris(2026, 4, 10, 9))  # past the acknowledgement's due date
    assert (swept.reminded, swept.alerted) == (0, 0)
    assert messages_of_kind(smtp, "Deadline") == []

    # the case closes: its running deadlines are cancelled and stay silent
    neoma.cases.take(
        case, "register_report", neoma.rouen[0], participants=[neoma.rouen[1]],
        now=paris(2026, 4, 10, 10),
    )  # fmt: skip
    neoma.cases.take(case, "refer_to_pre_analysis", neoma.rouen[0], now=paris(2026, 4, 10, 11))
    neoma.cases.take(
        case, "raise_awareness", neoma.student_life, measures=["awareness_raising"],
        now=paris(2026, 4, 13, 12),
    )  # fmt: skip
    with tenant_scope(neoma.tenant):
        still_open = db.session.scalars(
            select(Deadline.key).where(
                Deadline.case_id == case.id,
                Deadline.met_at.is_(None),
                Deadline.cancelled_at.is_(None),
            )
        ).all()
    assert still_open == []
    swept = sweep_deadlines(paris(2026, 12, 1, 9))  # long after every due date
    assert (swept.reminded, swept.alerted) == (0, 0)
    assert messages_of_kind(smtp, "Deadline") == []


def test_the_periodic_sweep_command_alerts_once(
    app, smtp, make_tenant, make_member, case_runner, runner
):
    tenant = make_tenant("poly", enable=("polytechnique",), name="École polytechnique")
    in_english(tenant)
    unit = [make_member(tenant, "dhamis_unit") for _ in "ab"]
    case = case_runner(tenant).submit(now=utcnow() - timedelta(days=4))  # 72 hours to reply

    result = runner.invoke(args=["jobs", "sweep"])
    assert result.exit_code == 0, result.output
    assert "0 reminder(s) and 1 alert(s) sent" in result.output
    assert sorted(smtp.recipients) == sorted(u.email for u in unit)
    with tenant_scope(tenant):
        assert case.reference in smtp.messages[0]["Subject"]

    again = runner.invoke(args=["jobs", "sweep"])
    assert "0 reminder(s) and 0 alert(s) sent" in again.output
    assert len(smtp.messages) == 2


def test_a_suspended_tenant_is_not_swept(app, smtp, neoma):
    submit_in_rouen(neoma, paris(2026, 4, 3, 12))
    with platform_scope():
        db.session.get(Tenant, neoma.tenant.id).suspended_at = utcnow()
        db.session.commit()
    assert sweep_deadlines(paris(2026, 4, 9, 9)).alerted == 0
    assert smtp.messages == []


@pytest.mark.parametrize("ended", ["met_at", "cancelled_at"])
def test_the_claim_checks_the_deadline_is_still_open(app, smtp, neoma, monkeypatch, ended):
    """A step that meets the deadline (or a restart that cancels it) between the sweep's
    look and its claim wins: nothing is sent."""
    case = submit_in_rouen(neoma, paris(2026, 4, 3, 12))
    acknowledgement = deadline(neoma.tenant, case, "acknowledgement")

    from core.cases import reminders

    claim = reminders._send

    def meanwhile(what, deadline_id, now, context):
        with app.app_context(), tenant_scope(neoma.tenant):
            row = db.session.get(Deadline, acknowledgement.id)
            setattr(row, ended, paris(2026, 4, 7, 7))
            db.session.commit()
        return claim(what, deadline_id, now, context)

    monkeypatch.setattr(reminders, "_send", meanwhile)
    assert sweep_deadlines(paris(2026, 4, 9, 8)).alerted == 0
    assert smtp.messages == []
    assert deadline(neoma.tenant, case, "acknowledgement").alerted_at is None


# -- two sweeps at once ----------------------------------------------------------------------


@pytest.fixture
def write_lock(app, owner_engine, config):
    """Holds the deadline row (PostgreSQL) or the database (SQLite) until released, the way
    another sweep in the middle of its claim does."""

    class Lock:
        def __init__(self):
            self.release = lambda: None

        def take(self, deadline_id: int) -> None:
            if db.engine.dialect.name == "postgresql":
                connection = owner_engine.connect()
                connection.execute(sa.text("SELECT set_config('cellule.platform', 'on', true)"))
                connection.execute(
                    sa.text("SELECT id FROM deadlines WHERE id = :id FOR UPDATE"),
                    {"id": deadline_id},
                )

                def release():
                    connection.rollback()
                    connection.close()

            else:
                path = config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
                connection = sqlite3.connect(path, isolation_level=None)
                connection.execute("BEGIN IMMEDIATE")

                def release():
                    connection.execute("ROLLBACK")
                    connection.close()

            def release_once():
                self.release = lambda: None
                release()

            self.release = release_once

        def waiting(self) -> int:
            """How many sessions of the application wait for a lock (PostgreSQL only)."""
            with owner_engine.connect() as connection:
                return connection.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                ).scalar()

    lock = Lock()
    yield lock
    lock.release()


def test_two_sweeps_at_once_send_one_alert(app, smtp, neoma, write_lock):
    case = submit_in_rouen(neoma, paris(2026, 4, 3, 12))
    acknowledgement = deadline(neoma.tenant, case, "acknowledgement")
    now = paris(2026, 4, 9, 9)
    results, errors = [], []

    def sweep():
        try:
            with app.app_context():
                results.append(sweep_deadlines(now))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    write_lock.take(acknowledgement.id)
    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    if db.engine.dialect.name == "postgresql":
        deadline_at = time.monotonic() + 10
        while write_lock.waiting() < 2 and time.monotonic() < deadline_at:
            time.sleep(0.05)
        assert write_lock.waiting() == 2, "both sweeps should wait for the row"
    else:
        time.sleep(0.5)  # both sweeps are at their claim, waiting for the database
    assert smtp.messages == []
    write_lock.release()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []

    assert sorted(r.alerted for r in results) == [0, 1]
    assert [r.failed for r in results] == [[], []]
    assert len(messages_of_kind(smtp, "Deadline passed")) == 2  # one per officer
    assert timeline(neoma.tenant, case, "alert") == [("alert", "acknowledgement")]
    assert [a for a, _ in audited(neoma.tenant, "deadline.")] == ["deadline.alerted"]
    assert chain_ok(neoma.tenant)


# -- notices to the parties the procedure names ----------------------------------------------


def reach_pre_analysis(neoma: Neoma, case: Case) -> None:
    neoma.cases.take(case, "register_report", neoma.rouen[0], participants=[neoma.rouen[1]])
    neoma.cases.take(case, "refer_to_pre_analysis", neoma.rouen[0])


def notices(tenant, case) -> dict[str, tuple]:
    with tenant_scope(tenant):
        db.session.expire_all()
        rows = db.session.scalars(
            select(CaseNotice).where(CaseNotice.case_id == case.id).order_by(CaseNotice.id)
        )
        return {row.party: (row.done_at is not None, row.done_by_user_id) for row in rows}


def set_reporter_address(tenant, case, address: str | None) -> None:
    with tenant_scope(tenant):
        report = db.session.scalar(select(Report).where(Report.case_id == case.id))
        report.notify_email = address
        db.session.commit()


def test_committees_and_the_reporter_are_emailed_once_others_stay_tasks(app, smtp, neoma):
    case = submit_in_rouen(neoma, utcnow())
    set_reporter_address(neoma.tenant, case, REPORTER_ADDRESS)
    reach_pre_analysis(neoma, case)
    smtp.handler.envelopes.clear()
    with tenant_scope(neoma.tenant):
        reference, public_id = case.reference, case.public_id

    neoma.cases.take(case, "decide_no_investigation", neoma.student_life)

    # the Angela unit's Rouen officers and the Rouen campus director; the reporter
    needs = messages_of_kind(smtp, "A case needs you")
    assert sorted(m["To"] for m in needs) == sorted(
        [*(u.email for u in neoma.rouen), neoma.rouen_director.email]
    )
    assert all(m["Subject"] == f"A case needs you ({reference})" for m in needs)
    bodies = {m["To"]: m.get_content() for m in needs}
    assert "A case at NEOMA Business School needs Angela unit." in bodies[neoma.rouen[0].email]
    assert "needs Campus Director." in bodies[neoma.rouen_director.email]
    assert (
        f"The case: https://neoma.cellule.test/staff/cases/{public_id}"
        in bodies[neoma.rouen[0].email]
    )
    news = messages_of_kind(smtp, "News about your report")
    assert [m["To"] for m in news] == [REPORTER_ADDRESS]
    assert reference not in news[0].get_content()  # a reporter's mailbox may not be private
    for message in smtp.messages:
        assert NARRATIVE not in message.get_content()

    told = notices(neoma.tenant, case)
    assert told["angela_unit"] == (True, None)
    assert told["campus_direction"] == (True, None)
    assert told["reporter"] == (True, None)
    # people the platform cannot reach stay tasks for staff
    assert told["programme_director"] == (False, None)
    assert told["implicated"] == (False, None)

    # the sweep finds nothing left to send
    sent = len(smtp.messages)
    assert sweep_case_notices() == 0
    assert len(smtp.messages) == sent
    assert [d["party"] for _, d in audited(neoma.tenant, "case.notice_sent")] == [
        "angela_unit",
        "campus_direction",
        "reporter",
    ]
    assert ("notice", "angela_unit") in timeline(neoma.tenant, case, "notice")


def test_an_anonymous_or_silent_reporter_gets_no_mail_but_the_notice_is_done(app, smtp, neoma):
    case = submit_in_rouen(neoma, utcnow())  # no address for notices
    neoma.cases.take(case, "acknowledge_receipt", neoma.rouen[0])
    assert messages_of_kind(smtp, "News") == []
    assert notices(neoma.tenant, case)["reporter"] == (True, None)


def test_a_committee_nobody_serves_yet_stays_a_task_until_someone_does(
    app, smtp, make_tenant, make_member, case_runner
):
    tenant = make_tenant("neoma", enable=("neoma",))
    in_english(tenant)
    cases = case_runner(tenant)
    rouen = [make_member(tenant, "angela_unit", role="officer", site="rouen") for _ in "ab"]
    student_life = make_member(tenant, "pre_analysis", role="director_of_student_life")
    make_member(tenant, "campus_direction", site="reims")  # another campus
    case = cases.submit(anonymous=False, answers={"campus": "rouen"})
    cases.take(case, "register_report", rouen[0], participants=[rouen[1]])
    cases.take(case, "refer_to_pre_analysis", rouen[0])
    cases.take(case, "decide_no_investigation", student_life)
    assert notices(tenant, case)["campus_direction"] == (False, None)
    assert messages_of_kind(smtp, "needs") and all(
        "Campus Director" not in m.get_content() for m in messages_of_kind(smtp, "needs")
    )

    director = make_member(tenant, "campus_direction", site="rouen")
    assert sweep_case_notices() == 1
    assert notices(tenant, case)["campus_direction"] == (True, None)
    assert [m["To"] for m in smtp.messages if "Campus Director" in m.get_content()] == [
        director.email
    ]
    assert sweep_case_notices() == 0


def test_a_lost_notice_job_is_done_by_the_sweep(app, smtp, neoma, monkeypatch):
    case = submit_in_rouen(neoma, utcnow())
    set_reporter_address(neoma.tenant, case, REPORTER_ADDRESS)
    # the step's job is lost (a worker died, Redis was flushed): nothing is sent
    monkeypatch.setattr("core.cases.operations.enqueue_after_commit", lambda *a, **k: None)
    neoma.cases.take(case, "acknowledge_receipt", neoma.rouen[0])
    assert smtp.messages == []
    monkeypatch.undo()
    assert sweep_case_notices() == 1
    assert smtp.recipients == [REPORTER_ADDRESS]
    assert sweep_case_notices() == 0


# -- committees the route also names -------------------------------------------------------


class AlsoNotifyManagement:
    """Routes like École polytechnique, and asks that its management is told too."""

    @hookimpl
    def route_report(self, tenant, report):
        return {
            "committee": "dhamis_unit",
            "also_notify": ["management", "no_such_committee"],
            "reason": "Reports go to the unit; management is told.",
        }


def test_committees_the_route_also_names_are_told_when_a_case_opens(
    app, smtp, make_tenant, make_member, ad_hoc_plugin, plugins
):
    ad_hoc_plugin("also_management", AlsoNotifyManagement())
    tenant = make_tenant("poly", enable=("polytechnique", "also_management"), name="X")
    in_english(tenant)
    unit = make_member(tenant, "dhamis_unit")
    management = [make_member(tenant, "management") for _ in "ab"]
    with tenant_scope(tenant):
        case, _ = submit_report(
            Submission(relation="victim", anonymous=True, narrative=NARRATIVE),
            institution=CaseRunner(tenant, plugins).institution,
            host=plugins,
        )
        reference = case.reference
        db.session.commit()
    told = [m for m in smtp.messages if m["To"] in {u.email for u in management}]
    assert sorted(m["To"] for m in told) == sorted(u.email for u in management)
    assert told[0]["Subject"] == f"New report received ({reference})"
    assert (
        "The procedure asks that Management of École Polytechnique is told."
        in told[0].get_content()
    )
    assert unit.email in smtp.recipients  # and the unit, as always
    assert len(smtp.messages) == 3


# -- e-mail retries in the periodic sweep ----------------------------------------------------


def test_the_periodic_sweep_retries_mail_on_a_growing_delay(app, smtp, neoma):
    """A sweep every minute must not spend an e-mail's ten tries in ten minutes of outage."""

    def sweep_mail(now) -> int:
        with platform_scope():
            count = sweep_pending_mail(due_by=now)
            db.session.commit()
        return count

    smtp.stop()
    submit_in_rouen(neoma, paris(2026, 4, 3, 12))
    sweep_deadlines(paris(2026, 4, 7, 8))  # a reminder for each Rouen officer, not sent
    mails = outbox(neoma.tenant)
    assert [(m.attempts, m.sent_at) for m in mails] == [(1, None), (1, None)]
    written = max(m.created_at for m in mails)

    # tried once: the next try is due two minutes after the e-mail was written
    assert sweep_mail(written + timedelta(seconds=90)) == 0
    assert sweep_mail(written + timedelta(minutes=2)) == 2
    assert {m.attempts for m in outbox(neoma.tenant)} == {2}
    assert sweep_mail(written + timedelta(minutes=3)) == 0  # the third try: at 4 minutes
    smtp.start()
    assert sweep_mail(written + timedelta(minutes=4)) == 2
    assert sorted(smtp.recipients) == sorted(u.email for u in neoma.rouen)
    assert sweep_mail(written + timedelta(hours=9)) == 0


def test_how_often_the_sweep_runs_is_a_setting(tmp_path):
    from core.config import settings_from_env

    assert settings_from_env(str(tmp_path), {})["CELLULE_SWEEP_SECONDS"] == 60
    assert (
        settings_from_env(str(tmp_path), {"CELLULE_SWEEP_SECONDS": "15"})["CELLULE_SWEEP_SECONDS"]
        == 15
    )
    for wrong in ("0", "soon", "-5"):
        with pytest.raises(RuntimeError, match="CELLULE_SWEEP_SECONDS"):
            settings_from_env(str(tmp_path), {"CELLULE_SWEEP_SECONDS": wrong})
