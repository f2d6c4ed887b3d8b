"""What operators see: the metrics endpoint, request log lines and JSON logs, none personal."""

import io
import json
import logging
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.exc import IntegrityError

from core import create_app
from core.extensions import db
from core.logs import Scrubbed, logging_config
from core.tenancy.models import Tenant
from core.tenancy.scoping import platform_scope

TOKEN = "scrape-me-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
METRICS = {"CELLULE_METRICS_BIND": "127.0.0.1:9100", "CELLULE_METRICS_TOKEN": TOKEN}
# how gunicorn tells the app which of its addresses a request came to
ON_METRICS_PORT = {"SERVER_PORT": "9100"}


@pytest.fixture
def metered(app):
    app.config.update(METRICS)
    return app


def scrape(client, headers=BEARER, **more):
    return client.get("/metrics", headers=headers, environ_overrides=ON_METRICS_PORT, **more)


def samples(response) -> dict[tuple, float]:
    """{(sample name, sorted label items): value} of a Prometheus text exposition."""
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def test_without_a_metrics_address_there_are_no_metrics(client):
    assert scrape(client).status_code == 404


def test_metrics_answer_on_their_own_address_only(metered, make_tenant):
    make_tenant("public", enable=("ciup",))
    client = metered.test_client()
    # the public address (what the Ingress reaches), whatever the host or the token
    for host in ("localhost", "public.cellule.test"):
        assert client.get("/metrics", headers={**BEARER, "Host": host}).status_code == 404
    assert client.get("/t/public/metrics", headers=BEARER).status_code == 404
    # the metrics' address serves the metrics and the probes, and no page
    assert scrape(client).status_code == 200
    assert client.get("/livez", environ_overrides=ON_METRICS_PORT).status_code == 200
    assert client.get("/t/public/", environ_overrides=ON_METRICS_PORT).status_code == 404
    assert client.get("/t/public/").status_code == 200


def test_metrics_need_the_bearer_token_when_one_is_set_and_set_no_cookie(metered, caplog):
    client = metered.test_client()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        with caplog.at_level(logging.WARNING, logger="cellule.request"):
            refused = scrape(client, headers)
        assert refused.status_code == 401
        assert TOKEN not in refused.get_data(as_text=True)
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert caplog.text.count("without the right token was refused") == 3
    answered = scrape(client)
    assert answered.status_code == 200
    assert "Set-Cookie" not in answered.headers
    assert answered.headers["Cache-Control"] == "no-store"
    metered.config["CELLULE_METRICS_TOKEN"] = None
    assert scrape(client, {}).status_code == 200  # the address alone guards it


def test_a_method_the_client_makes_up_is_counted_as_other(metered):
    client = metered.test_client()
    assert client.open("/livez", method="MADEUP").status_code == 405
    exposed = scrape(client).get_data(as_text=True)
    assert "MADEUP" not in exposed
    assert 'cellule_http_requests_total{method="OTHER",route="<unmatched>",status="405"}' in exposed


def test_requests_are_counted_by_route_pattern_never_by_path(metered, make_tenant):
    make_tenant("metered", enable=("ciup",))
    client = metered.test_client()

    def count(route: str, status: str) -> float:
        key = (
            "cellule_http_requests_total",
            (("method", "GET"), ("route", route), ("status", status)),
        )
        return samples(scrape(client)).get(key, 0.0)

    before = count("/", "200"), count("<unmatched>", "404")
    assert client.get("/t/metered/").status_code == 200
    assert client.get("/no/such/secret-path-1234").status_code == 404
    exposed = scrape(client).get_data(as_text=True)
    assert count("/", "200") == before[0] + 1
    assert count("<unmatched>", "404") == before[1] + 1
    assert "secret-path-1234" not in exposed and "/t/metered/" not in exposed
    assert 'cellule_http_request_duration_seconds_bucket{le="0.005",method="GET"' in exposed


def test_overdue_deadlines_and_unsent_mail_are_counted_per_tenant(
    metered, make_tenant, case_runner
):
    neoma = make_tenant("neoma-metrics", enable=("neoma",))
    make_tenant("quiet", enable=("ciup",))
    runner = case_runner(neoma)
    # reported months ago and never acknowledged: its deadlines are past
    old = runner.submit(
        anonymous=False, answers={"campus": "rouen"}, now=datetime(2026, 1, 5, 9, tzinfo=UTC)
    )
    runner.submit(anonymous=False, answers={"campus": "reims"})  # today: nothing overdue yet
    got = samples(scrape(metered.test_client()))
    overdue = {
        dict(labels)["tenant"]: value
        for (name, labels), value in got.items()
        if name == "cellule_deadlines_overdue"
    }
    now = datetime.now(UTC)
    past = [d for d in runner.deadlines(old).values() if d.is_open and d.due_at < now]
    assert past, "the old case has deadlines past due"
    assert overdue == {"neoma-metrics": len(past), "quiet": 0}
    assert got[("cellule_mail_unsent", (("state", "abandoned"), ("tenant", "quiet")))] == 0
    assert ("cellule_dependency_up", (("dependency", "database"),)) in got
    assert got[("cellule_dependency_up", (("dependency", "database"),))] == 1


def test_queue_depth_and_workers_come_from_redis(redis_app):
    app, queue = redis_app
    app.config.update(METRICS)
    queue.enqueue("core.jobs.sweep.sweep_everything")
    queue.enqueue("core.jobs.sweep.sweep_everything")
    got = samples(scrape(app.test_client()))
    assert got[("cellule_queue_jobs", (("state", "queued"),))] == 2
    assert got[("cellule_queue_jobs", (("state", "failed"),))] == 0
    assert got[("cellule_queue_workers", ())] == 0
    assert got[("cellule_dependency_up", (("dependency", "redis"),))] == 1


def test_an_unreachable_redis_is_reported_not_raised(config, tmp_path):
    from tests.conftest import _free_port

    app = create_app(
        {
            **config,
            "REDIS_URL": f"redis://127.0.0.1:{_free_port()}/0",
            **METRICS,
        },
        instance_path=str(tmp_path / "i"),
    )
    got = samples(scrape(app.test_client()))
    assert got[("cellule_dependency_up", (("dependency", "redis"),))] == 0
    assert not any(name == "cellule_queue_jobs" for name, _ in got)


def test_each_request_is_logged_by_route_without_address_or_path(app, make_tenant, caplog):
    make_tenant("logged", enable=("ciup",))
    client = app.test_client()
    with caplog.at_level(logging.INFO, logger="cellule.request"):
        client.get("/t/logged/", environ_base={"REMOTE_ADDR": "203.0.113.77"})
        client.get("/livez")
    lines = [r for r in caplog.records if r.name == "cellule.request"]
    assert len(lines) == 1, "probes are not logged"
    (line,) = lines
    assert (line.method, line.route, line.status, line.tenant) == (
        "GET",
        "/",
        200,
        "logged",
    )
    assert line.duration_ms >= 0
    assert "203.0.113.77" not in line.getMessage() and "/t/logged/" not in line.getMessage()


def test_an_unhandled_error_is_logged_by_route_not_by_path(config, tmp_path, caplog):
    app = create_app({**config, "PROPAGATE_EXCEPTIONS": False}, instance_path=str(tmp_path / "i"))

    @app.route("/boom/<token>")
    def boom(token):
        raise RuntimeError("broken")

    with caplog.at_level(logging.ERROR):
        response = app.test_client().get("/boom/reset-token-secret-42")
    assert response.status_code == 500
    (record,) = [r for r in caplog.records if r.exc_info]
    assert record.getMessage() == "Exception on /boom/<token> [GET]"
    assert "reset-token-secret-42" not in caplog.text


def test_a_failed_statement_never_shows_its_values(app):
    with platform_scope():
        db.session.add(Tenant(slug="taken", name="A", default_locale="fr", locales=["fr"]))
        db.session.commit()
        db.session.add(Tenant(slug="taken", name="Somebody's secret", locales=["fr"]))
        with pytest.raises(IntegrityError) as failure:
            db.session.commit()
        db.session.rollback()
    error = str(failure.value)
    assert "Somebody's secret" not in error
    assert "hidden due to hide_parameters" in error
    # the line a log handler writes, traceback included, holds neither
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.addFilter(Scrubbed())
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("cellule.test.scrubbed")
    logger.addHandler(handler)
    try:
        try:
            raise failure.value
        except IntegrityError:
            logger.exception("could not save: %s", error)
    finally:
        logger.removeHandler(handler)
    assert "IntegrityError" in written.getvalue()
    assert "(taken)" not in written.getvalue() and "Somebody" not in written.getvalue()


@pytest.mark.parametrize(
    ("line", "args", "expected"),
    [
        (
            '203.0.113.9 - - [23/Nov/2026 18:00:00] "GET /t/x/ HTTP/1.1" 200 -',
            (),
            '- - - [23/Nov/2026 18:00:00] "GET /t/x/ HTTP/1.1" 200 -',
        ),
        (
            '%s - - [%s] "%s" %s %s',
            ("2001:db8::7", "now", "GET /", "200", "-"),
            '- - - [now] "GET /" 200 -',
        ),
        (
            "Invalid request from ip=198.51.100.4: Invalid HTTP method",
            (),
            "Invalid request from ip=-: Invalid HTTP method",
        ),
        ("Invalid request from ip=2001:db8::5: bad", (), "Invalid request from ip=-: bad"),
        (
            "Error handling request %s %s",
            ("GET", "/staff/password/reset/TOKEN-42?email=a@b.fr"),
            "Error handling request GET -",
        ),
        (
            "duplicate key value\nDETAIL:  Key (email)=(alice@school.fr) already exists.",
            (),
            "duplicate key value\nDETAIL: (left out)",
        ),
        ("Listening at: http://0.0.0.0:8000 (12)", (), "Listening at: http://0.0.0.0:8000 (12)"),
    ],
)
def test_client_addresses_are_kept_out_of_server_lines(line, args, expected):
    record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, line, args, None)
    assert Scrubbed().filter(record)
    assert record.getMessage() == expected


def test_an_unknown_log_format_is_refused():
    with pytest.raises(RuntimeError, match="CELLULE_LOG_FORMAT"):
        logging_config("xml")


def test_json_logs_are_one_object_per_line_on_stdout(tmp_path):
    """A real process with CELLULE_LOG_FORMAT=json: the sweep's line, parsed as JSON."""
    env = {
        "PATH": "/usr/bin:/bin",
        "CELLULE_INSTANCE_PATH": str(tmp_path),
        "CELLULE_LOG_FORMAT": "json",
    }
    cellule = [str(Path(sys.executable).parent / "cellule")]
    subprocess.run([*cellule, "db", "upgrade"], env=env, check=True, capture_output=True)
    done = subprocess.run(
        [*cellule, "jobs", "sweep"], env=env, check=True, capture_output=True, text=True
    )
    records = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    (sweep,) = [r for r in records if r["logger"] == "core.jobs.sweep"]
    assert sweep["level"] == "INFO" and sweep["message"].startswith("sweep: mail 0")
    assert {"time", "pid"} <= sweep.keys()


def test_a_web_worker_freezes_what_it_loaded(tmp_path):
    script = (
        "import gc, json, core.gunicorn_conf as conf\n"
        "before = gc.get_freeze_count()\n"
        "conf.post_worker_init(None)\n"
        "print(json.dumps([before, gc.get_freeze_count()]))\n"
    )
    environ = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    printed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=environ, check=True
    ).stdout
    before, after = json.loads(printed)
    assert before == 0 and after > 1000  # what was loaded before the worker serves
