"""What operators watch: Prometheus metrics at `/metrics`, and one log line per request.

Counts only. Requests are labelled by method, route pattern (`/staff/cases/<public_id>`,
never the path itself) and status; the platform's state by tenant slug: deadlines overdue,
e-mails waiting or abandoned, jobs on the queue. No metric and no log line names a person,
a case or an address.

Under gunicorn each worker counts in files of `PROMETHEUS_MULTIPROC_DIR` (set by
`core/gunicorn_conf.py`) and whichever worker answers `/metrics` adds them all up; the
platform's gauges are read from the database and Redis when Prometheus asks.

`/metrics` answers only on its own address, `CELLULE_METRICS_BIND` (a second socket
gunicorn listens on, which no Service or Ingress exposes), and, when `CELLULE_METRICS_TOKEN`
is set, only to a scraper sending it; that address serves nothing but the metrics and the
probes. Without `CELLULE_METRICS_BIND` there is no `/metrics`.
"""

import hmac
import logging
import os
import time

from flask import Blueprint, Response, abort, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import and_, func, select
from sqlalchemy.exc import SQLAlchemyError

from core.extensions import db

bp = Blueprint("metrics", __name__)
logger = logging.getLogger("cellule.request")

REQUESTS = Counter(
    "cellule_http_requests",
    "HTTP requests answered, by method, route pattern and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "cellule_http_request_duration_seconds",
    "Time taken to answer HTTP requests, by method and route pattern.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
# Probes and scrapes come every few seconds: counted, but not logged.
UNLOGGED = frozenset({"web.livez", "web.readyz", "metrics.scrape", "static"})
# What the metrics' own address serves.
ON_METRICS_PORT = frozenset({"web.livez", "web.readyz", "metrics.scrape"})
UNMATCHED = "<unmatched>"
# Any other method a client sends is counted as OTHER: a label value is never the client's
# to choose, or anyone could add series without end.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def metrics_port(app) -> str | None:
    """The port of `CELLULE_METRICS_BIND`, as gunicorn reports it in SERVER_PORT."""
    bind = app.config.get("CELLULE_METRICS_BIND")
    return bind.rsplit(":", 1)[1] if bind else None


def _on_metrics_port() -> bool:
    port = metrics_port(current_app)
    return port is not None and request.environ.get("SERVER_PORT") == port


def _start_clock() -> None:
    g.request_started = time.perf_counter()
    if _on_metrics_port() and request.endpoint not in ON_METRICS_PORT:
        abort(404)  # the metrics' address is not a way into the pages


def _count_and_log(response):
    started = g.pop("request_started", None)
    elapsed = time.perf_counter() - started if started is not None else 0.0
    route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
    method = request.method if request.method in METHODS else "OTHER"
    REQUESTS.labels(method, route, str(response.status_code)).inc()
    LATENCY.labels(method, route).observe(elapsed)
    if request.endpoint not in UNLOGGED:
        tenant = g.get("tenant_info")
        milliseconds = round(elapsed * 1000, 1)
        logger.info(
            "%s %s %s %.1f ms",
            method,
            route,
            response.status_code,
            milliseconds,
            extra={
                "method": method,
                "route": route,
                "status": response.status_code,
                "duration_ms": milliseconds,
                "tenant": tenant.slug if tenant is not None else None,
            },
        )
    return response


@bp.route("/metrics")
def scrape():
    if not _on_metrics_port():
        abort(404)
    token = current_app.config.get("CELLULE_METRICS_TOKEN")
    given = request.headers.get("Authorization", "")
    if token and not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        logger.warning("metrics: a scrape without the right token was refused")
        return Response(
            "a bearer token is needed\n",
            401,
            {"WWW-Authenticate": 'Bearer realm="metrics"', "Cache-Control": "no-store"},
            mimetype="text/plain",
        )
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(PlatformCollector(current_app._get_current_object()))
    return Response(
        generate_latest(registry),
        mimetype=CONTENT_TYPE_LATEST,
        headers={"Cache-Control": "no-store"},
    )


class _ThisProcess:
    """One process on its own (the development server, tests): its default registry."""

    def collect(self):
        return REGISTRY.collect()


class PlatformCollector:
    """The platform's state when Prometheus asks: counts per tenant, and the job queue."""

    def __init__(self, app):
        self.app = app

    def collect(self):
        up = GaugeMetricFamily(
            "cellule_dependency_up",
            "1 when the dependency answered this scrape, 0 when it did not.",
            labels=["dependency"],
        )
        try:
            yield from self._tenant_counts()
            up.add_metric(["database"], 1)
        except SQLAlchemyError as exc:
            db.session.rollback()
            logger.warning("metrics: the database does not answer (%s)", type(exc).__name__)
            up.add_metric(["database"], 0)
        if self.app.config.get("REDIS_URL"):
            from redis.exceptions import RedisError

            try:
                yield from self._queue_counts()
                up.add_metric(["redis"], 1)
            except RedisError as exc:
                logger.warning("metrics: Redis does not answer (%s)", type(exc).__name__)
                up.add_metric(["redis"], 0)
        yield up

    def _tenant_counts(self):
        from core.cases.models import Deadline
        from core.mail.models import OutboundMail
        from core.mail.operations import MAX_ATTEMPTS
        from core.tenancy.models import Tenant
        from core.tenancy.scoping import platform_scope
        from core.types import utcnow

        now = utcnow()
        overdue = GaugeMetricFamily(
            "cellule_deadlines_overdue",
            "Deadlines past due and neither met nor cancelled, per tenant.",
            labels=["tenant"],
        )
        mail = GaugeMetricFamily(
            "cellule_mail_unsent",
            "E-mails not yet taken by the SMTP server, per tenant: pending (still retried) "
            "or abandoned (after the last try).",
            labels=["tenant", "state"],
        )
        open_deadline = and_(
            Deadline.tenant_id == Tenant.id,
            Deadline.met_at.is_(None),
            Deadline.cancelled_at.is_(None),
            Deadline.due_at < now,
        )
        unsent = and_(OutboundMail.tenant_id == Tenant.id, OutboundMail.sent_at.is_(None))
        abandoned = OutboundMail.attempts >= MAX_ATTEMPTS
        with platform_scope():
            for slug, count in db.session.execute(
                select(Tenant.slug, func.count(Deadline.id))
                .outerjoin(Deadline, open_deadline)
                .group_by(Tenant.slug)
                .order_by(Tenant.slug)
            ):
                overdue.add_metric([slug], count)
            for slug, pending, given_up in db.session.execute(
                select(
                    Tenant.slug,
                    func.count(OutboundMail.id).filter(~abandoned),
                    func.count(OutboundMail.id).filter(abandoned),
                )
                .outerjoin(OutboundMail, unsent)
                .group_by(Tenant.slug)
                .order_by(Tenant.slug)
            ):
                mail.add_metric([slug, "pending"], pending)
                mail.add_metric([slug, "abandoned"], given_up)
            db.session.rollback()  # read only; end the transaction, give the connection back
        yield overdue
        yield mail

    def _queue_counts(self):
        from rq import Worker

        from core.jobs import redis_queue

        queue = redis_queue(self.app)
        jobs = GaugeMetricFamily(
            "cellule_queue_jobs",
            "Jobs on Cellule's rq queue, by state.",
            labels=["state"],
        )
        jobs.add_metric(["queued"], queue.count)
        # counted as they are: a scrape never cleans a registry up (that is the workers' job)
        for state, registry in (
            ("started", queue.started_job_registry),
            ("deferred", queue.deferred_job_registry),
            ("scheduled", queue.scheduled_job_registry),
            ("failed", queue.failed_job_registry),
        ):
            jobs.add_metric([state], registry.get_job_count(cleanup=False))
        workers = GaugeMetricFamily(
            "cellule_queue_workers", "rq workers listening on Cellule's queue."
        )
        workers.add_metric([], Worker.count(queue=queue))
        yield jobs
        yield workers


def init_app(app) -> None:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:  # any process of the image, not only gunicorn (which empties it first)
        os.makedirs(directory, exist_ok=True)
    app.register_blueprint(bp)
    # first, so the clock starts before tenant resolution and sign-in checks
    app.before_request_funcs.setdefault(None, []).insert(0, _start_clock)
    app.after_request(_count_and_log)
