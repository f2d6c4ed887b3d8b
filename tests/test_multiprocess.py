"""The platform as production runs it: separate processes sharing PostgreSQL and Redis.

A new, empty PostgreSQL database is migrated with `cellule db upgrade` (as the owner, which
grants the application's role), the tenant and its staff are made with the `cellule`
command, then gunicorn serves the app with two worker processes and one `cellule worker`
runs the jobs. Everything after that goes over real HTTP on 127.0.0.1, each person with
cookies of their own and each request on a new connection, so either web worker may answer
it: the admin seats the listener on the unit, a reporter sends an anonymous report, the rq
worker e-mails the unit, the listener signs in for the first time (second factor set up from
the page), opens the case and replies, and the reporter reads the reply with the receipt.
The processes' JSON logs show who served what, and nothing of what was said or by whom.
"""

import html
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from benchmarks.browser import Browser, Page
from tests.conftest import APP_ROLE, MASTER_KEY, _free_port, _url, descendants

pytestmark = [pytest.mark.postgresql, pytest.mark.redis]

BIN = Path(sys.executable).parent  # the virtualenv's scripts: cellule, gunicorn
WAIT = 30  # seconds a process, a page or a job may take before the test fails
SLUG = "polytechnique"  # École polytechnique takes anonymous reports...
UNIT = "dhamis_unit"  # ...and routes every one to its DHAMIS Unit
PASSWORD = "correct horse battery staple"
ADMIN = "admin@polytechnique.test"
LISTENER, LISTENER_NAME = "listener@polytechnique.test", "Camille Listener"
NARRATIVE = "He followed her home twice after the evening lecture."
REPLY = "We read your report. Could we meet on Thursday afternoon?"
SEND_MAIL_JOB = "core.mail.operations:send_mail_job"
METRICS_TOKEN = "multiprocess-test-metrics-token"


# -- the processes -------------------------------------------------------------------------


@dataclass
class Platform:
    """The running platform: its address, gunicorn's master, each process's output."""

    url: str
    metrics_url: str  # gunicorn's second address, for Prometheus only
    web: subprocess.Popen
    outputs: dict[str, Path]

    def output(self, name: str) -> str:
        return self.outputs[name].read_text(errors="replace")

    def everything_logged(self) -> str:
        return "".join(f"--- {name}\n{self.output(name)}" for name in self.outputs)

    def requests_logged(self) -> list[dict]:
        """The app's line for each request gunicorn's workers answered."""
        lines = [line for line in self.output("gunicorn").splitlines() if line.startswith("{")]
        return [
            entry for entry in map(json.loads, lines) if entry.get("logger") == "cellule.request"
        ]


@pytest.fixture
def empty_database(postgres_admin):
    """A new, empty PostgreSQL database: (application role's URL, owner's URL)."""
    name = f"cellule_test_{uuid.uuid4().hex[:12]}"
    with postgres_admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    yield _url(name, APP_ROLE), _url(name)
    with postgres_admin.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def platform(empty_database, worker_redis_url, smtp, tmp_path):
    """Migrate, create the tenant and its staff, then run gunicorn (two workers) and an rq
    worker until the test ends; each process's output goes to a file in `tmp_path`."""
    app_url, owner_url = empty_database
    port, metrics_port = _free_port(), _free_port()
    environ = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("CELLULE_", "MAIL_", "DATABASE_", "REDIS_", "PROMETHEUS_"))
            and k not in {"SECRET_KEY", "WEB_CONCURRENCY", "GUNICORN_CMD_ARGS"}
        },
        "DATABASE_URL": app_url,
        "REDIS_URL": worker_redis_url,
        "SECRET_KEY": "multiprocess-test-secret-key",
        "CELLULE_MASTER_KEY": MASTER_KEY,
        "CELLULE_INSTANCE_PATH": str(tmp_path / "instance"),
        "CELLULE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "CELLULE_SECURE_COOKIES": "off",  # plain HTTP on 127.0.0.1
        "CELLULE_LOG_FORMAT": "json",
        "CELLULE_METRICS_BIND": f"127.0.0.1:{metrics_port}",
        "CELLULE_METRICS_TOKEN": METRICS_TOKEN,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp.port),
    }
    outputs = {name: tmp_path / f"{name}.log" for name in ("setup", "gunicorn", "worker")}
    cellule = str(BIN / "cellule")

    def setup(*args: str, **more: str) -> None:
        with outputs["setup"].open("ab") as sink:
            done = subprocess.run(
                [cellule, *args],
                env={**environ, **more},
                stdout=sink,
                stderr=subprocess.STDOUT,
                timeout=WAIT * 4,
            )
        assert done.returncode == 0, f"cellule {args[0]} failed:\n{outputs['setup'].read_text()}"

    setup("db", "upgrade", DATABASE_MIGRATION_URL=owner_url)
    setup("tenant", "create", SLUG, "--name", "École polytechnique", "--plugin", "polytechnique")
    for email, name, role in (
        (ADMIN, "Alex Admin", "admin"),
        (LISTENER, LISTENER_NAME, "listener"),
    ):
        setup(
            *("user", "create", email, "--name", name),
            *("--tenant", SLUG, "--role", role, "--password", PASSWORD),
        )

    started: list[subprocess.Popen] = []

    def start(name: str, command: list[str], **more: str) -> subprocess.Popen:
        with outputs[name].open("wb") as sink:
            started.append(
                subprocess.Popen(
                    command,
                    env={**environ, **more},
                    cwd=tmp_path,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # a group of its own: gunicorn's workers, rq's horse
                )
            )
        return started[-1]

    try:
        web = start(
            "gunicorn",
            [str(BIN / "gunicorn"), "--config", "python:core.gunicorn_conf"],
            CELLULE_BIND=f"127.0.0.1:{port}",
            WEB_CONCURRENCY="2",
            PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
        )
        start("worker", [cellule, "worker"])
        platform = Platform(
            f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}", web, outputs
        )
        wait_until_ready(platform, started)
        yield platform
    finally:
        for process in started:
            stop(process)


def wait_until_ready(platform: Platform, started: list[subprocess.Popen]) -> None:
    """Until /readyz answers 200 and gunicorn has both workers; fail with every output."""
    probe = Browser(platform.url, keep_alive=False, timeout=WAIT)
    limit = time.monotonic() + WAIT
    while True:
        try:
            if probe.get("/readyz").status == 200 and len(descendants(platform.web.pid)) == 2:
                return
        except ConnectionError:
            pass  # not listening yet
        exited = [Path(p.args[0]).name for p in started if p.poll() is not None]
        if exited or time.monotonic() > limit:
            pytest.fail(
                f"the platform was not ready within {WAIT} s (exited: {exited or 'none'}):\n"
                + platform.everything_logged()
            )
        time.sleep(0.2)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the process's group, as an orchestrator stops a pod; SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=WAIT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=WAIT)


def wait_for(condition, what: str, platform: Platform) -> None:
    limit = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > limit:
            pytest.fail(f"waited {WAIT} s for {what}:\n{platform.everything_logged()}")
        time.sleep(0.1)


def sign_in_the_first_time(browser: Browser, email: str) -> Page:
    """Password, then the second factor set up with the key the enrolment page shows, then
    on past the recovery codes: the first page of the person's work."""
    login = browser.get(f"/t/{SLUG}/staff/login?lang=en")
    enrolment = browser.submit(login, "/staff/login", email=email, password=PASSWORD)
    assert enrolment.status == 200 and "/staff/enrol" in enrolment.url, enrolment.status
    key = re.search(r'class="secret-key"><code>([^<]+)</code>', enrolment.text).group(1)
    codes = browser.submit(enrolment, "/staff/enrol", code=pyotp.TOTP(re.sub(r"\s", "", key)).now())
    assert codes.status == 200 and "recovery-codes" in codes.text, codes.status
    onwards = re.search(r'href="([^"]+)"[^>]*>I have kept my codes', codes.text).group(1)
    return browser.get(html.unescape(onwards))


def requests_counted(platform: Platform) -> dict[tuple[str, str, str], float]:
    """What /metrics counts, whichever worker answers: (method, route, status) → requests."""
    bearer = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    public = Browser(platform.url, keep_alive=False, timeout=WAIT).get("/metrics", **bearer)
    assert public.status == 404, "the public address never serves the metrics"
    scrape = Browser(platform.metrics_url, keep_alive=False, timeout=WAIT).get("/metrics", **bearer)
    assert scrape.status == 200, scrape.status
    return {
        (sample.labels["method"], sample.labels["route"], sample.labels["status"]): sample.value
        for family in text_string_to_metric_families(scrape.text)
        for sample in family.samples
        if sample.name == "cellule_http_requests_total"
    }


def stored_rows(owner_url: str) -> str:
    """Every row of every table, as text, read as the tables' owner."""
    engine = sa.create_engine(owner_url)
    try:
        with engine.connect() as connection:
            tables = connection.exec_driver_sql(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).scalars()
            return "\n".join(
                row
                for table in list(tables)
                for row in connection.exec_driver_sql(f'SELECT t::text FROM "{table}" t').scalars()
            )
    finally:
        engine.dispose()


# -- the test ------------------------------------------------------------------------------


def test_a_report_its_reply_and_the_reading_go_through_separate_processes(
    platform, smtp, empty_database
):
    # The tenant's admin seats the listener on the unit every report goes to: a role given
    # with `cellule user create` is no seat, and only the unit's members see its cases.
    admin = Browser(platform.url, keep_alive=False, timeout=WAIT)
    sign_in_the_first_time(admin, ADMIN)
    committee = admin.get(f"/t/{SLUG}/staff/admin/committees/{UNIT}?lang=en")
    assert committee.status == 200, committee.status
    listener_id = re.search(
        rf'<option value="([^"]+)"[^>]*>{LISTENER_NAME} &lt;', committee.text
    ).group(1)
    seated = admin.submit(committee, f"/committees/{UNIT}", user=listener_id, role="", site="")
    assert seated.status == 200 and "now sits on this committee" in seated.text, seated.status

    # An anonymous report; its receipt is shown once.
    reporter = Browser(platform.url, keep_alive=False, timeout=WAIT)
    form = reporter.get(f"/t/{SLUG}/report?lang=en")
    assert form.status == 200, form.status
    sent = reporter.submit(
        form, "/report", relation="witness", anonymous="yes", narrative=NARRATIVE, when="last week"
    )
    assert sent.status == 200, sent.status
    receipt = re.search(r'class="receipt-code"[^>]*><strong>([0-9 ]+)</strong>', sent.text)[1]
    reference = re.search(r"Reference of your report: ([^.\s]+)\.", sent.text)[1]

    # The rq worker tells the unit's member, once, by reference only.
    wait_for(lambda: smtp.messages, "the e-mail to the unit", platform)
    wait_for(lambda: "Job OK" in platform.output("worker"), "the job's end", platform)
    assert SEND_MAIL_JOB in platform.output("worker")
    time.sleep(1)  # room for a second copy, which must not come
    assert smtp.recipients == [LISTENER]
    (notice,) = smtp.messages
    body = notice.get_body(("plain",)).get_content()
    assert reference in notice["Subject"] and reference in body
    assert NARRATIVE not in body and receipt.replace(" ", "") not in body.replace(" ", "")

    # The listener signs in for the first time, finds the case and writes to the reporter.
    listener = Browser(platform.url, keep_alive=False, timeout=WAIT)
    inbox = sign_in_the_first_time(listener, LISTENER)
    assert inbox.status == 200 and reference in inbox.text, inbox.status
    case_url = re.search(rf'<a href="([^"]+)">{re.escape(reference)}</a>', inbox.text)[1]
    case = listener.get(html.unescape(case_url))
    assert case.status == 200 and NARRATIVE in case.text, case.status
    replied = listener.submit(case, "/messages", message__body=REPLY)
    assert replied.status == 200 and "Your message was sent." in replied.text, replied.status

    # The reporter comes back in another browser with the receipt, and reads the reply.
    back = Browser(platform.url, keep_alive=False, timeout=WAIT)
    login = back.get(f"/t/{SLUG}/space/login?lang=en")
    space = back.submit(login, "/space/login", receipt=receipt)
    assert space.status == 200 and urllib.parse.urlsplit(space.url).path == f"/t/{SLUG}/space"
    assert REPLY in space.text

    # gunicorn's two workers served this flow (which of them took each connection is the
    # kernel's choice: usually both), and /metrics, whichever answers, counts it all.
    requests = platform.requests_logged()
    workers = descendants(platform.web.pid)
    assert len(workers) == 2, workers
    assert {entry["pid"] for entry in requests} <= set(workers), platform.output("gunicorn")
    logged = {}
    for entry in requests:
        key = (entry["method"], entry["route"], str(entry["status"]))
        logged[key] = logged.get(key, 0) + 1
    counted = requests_counted(platform)
    assert {key: counted.get(key) for key in logged} == logged

    # No process wrote what was said, the receipt, or a client's address.
    everything = platform.everything_logged()
    for secret in (NARRATIVE, REPLY, receipt, receipt.replace(" ", "")):
        assert secret not in everything
    addresses = [line for line in everything.splitlines() if "127.0.0.1" in line]
    assert [line for line in addresses if "Listening at: http://127.0.0.1:" not in line] == []

    # Nor does the database hold it in the clear.
    stored = stored_rows(empty_database[1])
    for secret in ("followed her home", "Thursday afternoon", receipt.replace(" ", "")):
        assert secret not in stored
