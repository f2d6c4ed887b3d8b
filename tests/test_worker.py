"""The sweep in real rq workers on Redis, real scheduler processes, and a worker killed mid-job.

Each worker here is a separate `cellule worker` process on the test's database (SQLite file
or PostgreSQL, as the application's role) and on a Redis database of its own; e-mail goes to
a real SMTP server on 127.0.0.1. Killing a worker with SIGKILL, wherever it stands, loses
and duplicates nothing: the rows it was working on are either committed whole or untouched,
and the next sweep finishes the work.
"""

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from redis import Redis
from rq import Queue
from sqlalchemy import select

from core import PROJECT_ROOT, create_app
from core.cases.models import CaseEvent, Deadline
from core.extensions import db
from core.jobs import QUEUE_NAME, redis_queue, run_job
from core.jobs.scheduler import rq_cron, start_sweeper_thread
from core.jobs.sweep import SWEEP_JOB, sweep_everything
from core.mail.models import OutboundMail
from core.tenancy.scoping import tenant_scope
from core.types import utcnow
from tests.conftest import SMTPServer, descendants

pytestmark = pytest.mark.redis

WAIT = 30  # seconds a test waits for a process before failing


class HoldingHandler:
    """An SMTP handler that, while `hold` is set, keeps each client waiting after MAIL FROM
    (before any message is handed over); it keeps every message it accepts."""

    def __init__(self):
        self.envelopes = []
        self.hold = threading.Event()
        self.held = threading.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        while self.hold.is_set():
            self.held.set()
            await asyncio.sleep(0.05)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp():
    server = SMTPServer()
    server.handler = HoldingHandler()
    server.start()
    yield server
    server.handler.hold.clear()
    server.stop()


@pytest.fixture
def config(config, smtp, worker_redis_url):
    return {
        **config,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": smtp.port,
        "MAIL_USE_TLS": False,
        "REDIS_URL": worker_redis_url,
    }


@pytest.fixture
def queue(app, worker_redis_url):
    return Queue(QUEUE_NAME, connection=Redis.from_url(worker_redis_url))


class Processes:
    """`cellule` commands started as real processes on the test's settings."""

    def __init__(self, config, instance_path):
        self.environ = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("CELLULE_", "MAIL_"))},
            "DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
            "DATABASE_MIGRATION_URL": config["DATABASE_MIGRATION_URL"],
            "SECRET_KEY": config["SECRET_KEY"],
            "CELLULE_MASTER_KEY": config["CELLULE_MASTER_KEY"],
            "CELLULE_BASE_DOMAIN": config["CELLULE_BASE_DOMAIN"],
            "CELLULE_INSTANCE_PATH": str(instance_path),
            "REDIS_URL": config["REDIS_URL"] or "",
            "MAIL_SERVER": config["MAIL_SERVER"],
            "MAIL_PORT": str(config["MAIL_PORT"]),
        }
        self.started = []

    def start(self, *args, **environ) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-c", "from core.cli import main; main()", *args],
            cwd=PROJECT_ROOT,
            env={**self.environ, **environ},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a worker and its work horse
        )
        self.started.append(process)
        return process

    def run(self, *args) -> str:
        process = self.start(*args)
        output, _ = process.communicate(timeout=WAIT)
        assert process.returncode == 0, output.decode()
        return output.decode()

    @staticmethod
    def kill(process) -> None:
        """SIGKILL the process and everything it forked, as an out-of-memory kill would (an
        rq work horse runs in a process group of its own, so it is found by its parent)."""
        family = [process.pid, *descendants(process.pid)]
        for pid in reversed(family):
            os.kill(pid, signal.SIGKILL)
        process.wait(timeout=WAIT)
        for pid in family[1:]:
            wait_for(lambda pid=pid: not alive(pid), f"process {pid} to die")

    @staticmethod
    def stop(process) -> str:
        """SIGTERM, as Kubernetes stops a pod; its output."""
        os.killpg(process.pid, signal.SIGTERM)
        output, _ = process.communicate(timeout=WAIT)
        return output.decode()

    def clean_up(self) -> None:
        for process in self.started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=WAIT)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def processes(config, tmp_path):
    started = Processes(config, tmp_path / "processes")
    yield started
    started.clean_up()


@pytest.fixture
def school(make_tenant, make_member, case_runner):
    """École polytechnique's unit, and a case whose 72-hour reply is overdue."""
    tenant = make_tenant("poly", enable=("polytechnique",), name="École polytechnique")
    unit = [make_member(tenant, "dhamis_unit") for _ in "ab"]
    case = case_runner(tenant).submit(now=utcnow() - timedelta(days=4))
    return tenant, unit, case


def wait_for(condition, what: str, seconds: float = WAIT) -> None:
    limit = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > limit:
            pytest.fail(f"waited {seconds} s for {what}")
        time.sleep(0.05)


def reply_deadline(tenant, case) -> Deadline:
    with tenant_scope(tenant):
        db.session.expire_all()
        return db.session.scalar(select(Deadline).where(Deadline.case_id == case.id))


def outbox(tenant) -> list[OutboundMail]:
    with tenant_scope(tenant):
        db.session.expire_all()
        return list(db.session.scalars(select(OutboundMail).order_by(OutboundMail.id)))


def alerts_in_timeline(tenant, case) -> int:
    with tenant_scope(tenant):
        return len(
            db.session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == "alert")
            ).all()
        )


def enqueue_sweep(app) -> None:
    redis_queue(app).enqueue(run_job, SWEEP_JOB, None, (), {}, description=SWEEP_JOB)


# -- real workers ------------------------------------------------------------------------------


def test_a_real_worker_runs_the_sweep_and_the_alert_reaches_the_smtp_server(
    app, smtp, school, queue, processes
):
    tenant, unit, case = school
    enqueue_sweep(app)
    assert queue.count == 1

    processes.run("worker", "--burst")  # the sweep, then the e-mail jobs it queued

    assert sorted(smtp.recipients) == sorted(u.email for u in unit)
    with tenant_scope(tenant):
        reference = db.session.get(type(case), case.id).reference
    assert all(reference in m["Subject"] for m in smtp.messages)
    assert reply_deadline(tenant, case).alerted_at is not None
    assert all(m.sent_at is not None for m in outbox(tenant))
    assert queue.count == 0


def test_the_scheduler_and_a_worker_alert_exactly_once_however_often_they_sweep(
    app, smtp, school, processes
):
    tenant, unit, case = school
    worker = processes.start("worker")
    scheduler = processes.start("jobs", "scheduler", "--seconds", "1")
    wait_for(lambda: len(smtp.messages) == 2, "the alert to reach both members of the unit")
    time.sleep(3)  # three more sweeps
    log = processes.stop(scheduler)
    processes.stop(worker)

    assert "enqueueing the sweep every 1 s" in log
    assert sorted(smtp.recipients) == sorted(u.email for u in unit)
    assert alerts_in_timeline(tenant, case) == 1
    assert len(outbox(tenant)) == 2


def test_a_worker_killed_while_sending_loses_and_duplicates_nothing(
    app, smtp, school, queue, processes
):
    tenant, unit, case = school
    smtp.handler.hold.set()  # the SMTP server keeps the first e-mail waiting
    enqueue_sweep(app)
    worker = processes.start("worker")
    wait_for(smtp.handler.held.is_set, "the worker to be sending the first e-mail")
    assert descendants(worker.pid), "the job runs in a work horse"

    Processes.kill(worker)  # mid-job: the e-mail is neither sent nor recorded
    smtp.handler.hold.clear()
    time.sleep(0.5)  # had anything survived the kill, it would now send

    assert smtp.messages == []
    # the sweep's work was committed whole before the e-mail jobs ran: alerted once,
    # one e-mail per member, both still waiting (the killed attempt was never recorded)
    assert reply_deadline(tenant, case).alerted_at is not None
    mails = outbox(tenant)
    assert [(m.sent_at, m.attempts) for m in mails] == [(None, 0), (None, 0)]

    # the next sweep (past the retry delay) queues the waiting e-mails again; the alert is
    # not sent twice. The killed job's twin and the new jobs all run: each e-mail goes once.
    later = utcnow() + timedelta(minutes=5)
    assert run_job(SWEEP_JOB, None, (), {"now": later})["alerts"] == 0
    assert queue.count >= 2
    processes.run("worker", "--burst")

    assert sorted(smtp.recipients) == sorted(u.email for u in unit)
    assert alerts_in_timeline(tenant, case) == 1
    assert all(m.sent_at is not None for m in outbox(tenant))

    assert run_job(SWEEP_JOB, None, (), {"now": later})["mail"] == 0
    processes.run("worker", "--burst")
    assert len(smtp.messages) == 2


@pytest.mark.postgresql
def test_a_worker_killed_while_claiming_leaves_the_deadline_untouched(
    app, config, smtp, school, processes, owner_engine, tmp_path
):
    tenant, unit, case = school
    deadline_id = reply_deadline(tenant, case).id
    with owner_engine.connect() as holder:
        # another transaction holds the deadline: the worker's claim waits for it
        holder.execute(sa.text("SELECT set_config('cellule.platform', 'on', true)"))
        holder.execute(
            sa.text("SELECT id FROM deadlines WHERE id = :id FOR UPDATE"), {"id": deadline_id}
        )
        enqueue_sweep(app)
        worker = processes.start("worker")

        def waiting() -> bool:
            with owner_engine.connect() as look:
                return bool(
                    look.execute(
                        sa.text(
                            "SELECT count(*) FROM pg_stat_activity WHERE "
                            "datname = current_database() AND wait_event_type = 'Lock' "
                            "AND query LIKE 'UPDATE deadlines%'"
                        )
                    ).scalar()
                )

        wait_for(waiting, "the worker's claim to wait for the row")
        Processes.kill(worker)
        holder.rollback()

    # the dead worker's claim never committed: nothing happened
    assert reply_deadline(tenant, case).alerted_at is None
    assert outbox(tenant) == []
    assert smtp.messages == []

    # the next sweep, in process (the embedded way), alerts once
    embedded = create_app({**config, "REDIS_URL": None}, instance_path=str(tmp_path / "e"))
    with embedded.app_context():
        counts = sweep_everything()
        db.session.remove()
        db.engine.dispose()
    assert counts["alerts"] == 1
    assert sorted(smtp.recipients) == sorted(u.email for u in unit)
    assert alerts_in_timeline(tenant, case) == 1


# -- the embedded default: no Redis ------------------------------------------------------------


@pytest.fixture
def embedded(config, tmp_path):
    """The app as the embedded default runs it: no Redis, jobs in process."""
    app = create_app({**config, "REDIS_URL": None}, instance_path=str(tmp_path / "embedded"))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def test_without_redis_a_background_thread_sweeps_periodically(embedded, smtp, school):
    tenant, unit, case = school
    stop = start_sweeper_thread(embedded, 0.2)
    try:
        wait_for(lambda: len(smtp.messages) == 2, "the sweeper thread to send the alert")
        time.sleep(0.6)  # a few more sweeps
    finally:
        stop.set()
    assert sorted(smtp.recipients) == sorted(u.email for u in unit)
    assert alerts_in_timeline(tenant, case) == 1


def test_cellule_run_sweeps_in_the_embedded_default(embedded, smtp, school, processes):
    _, unit, _ = school
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = processes.start(
        "run", "--host", "127.0.0.1", "--port", str(port), REDIS_URL="", CELLULE_SWEEP_SECONDS="1"
    )
    wait_for(lambda: len(smtp.messages) == 2, "`cellule run` to sweep and send the alert")
    processes.stop(server)
    assert sorted(smtp.recipients) == sorted(u.email for u in unit)


def test_without_redis_the_scheduler_sweeps_in_its_own_process(embedded, smtp, school, processes):
    tenant, unit, case = school
    scheduler = processes.start("jobs", "scheduler", REDIS_URL="", CELLULE_SWEEP_SECONDS="1")
    wait_for(lambda: len(smtp.messages) == 2, "the scheduler to sweep and send the alert")
    time.sleep(2.5)
    log = processes.stop(scheduler)
    assert "running the sweep in this process every 1 s" in log
    assert sorted(smtp.recipients) == sorted(u.email for u in unit)
    assert alerts_in_timeline(tenant, case) == 1


def test_the_rq_scheduler_enqueues_the_sweep_job(app, queue):
    scheduler = rq_cron(app, 60)
    assert [job.interval for job in scheduler.get_jobs()] == [60]
    enqueued = scheduler.enqueue_jobs()  # the first turn is at once
    assert len(enqueued) == 1 and queue.count == 1
    job = queue.jobs[0]
    assert job.func_name == "core.jobs.run_job"
    assert job.args == (SWEEP_JOB, None, (), {})
    assert scheduler.enqueue_jobs() == []  # not again before its interval
