"""Background jobs: rq workers when REDIS_URL is set, in process otherwise.

Jobs are enqueued only once the transaction that asked for them has committed, so a
worker always sees the rows it works on, and a rolled-back request enqueues nothing. The
durable truth stays in the database: a job is an idempotent worker over rows, and losing
Redis or a worker delays the work without losing it.
"""

import importlib
import os

from flask import current_app
from flask_sqlalchemy.session import Session
from sqlalchemy import event

from core.extensions import db

QUEUE_NAME = "cellule"
# A failed job stays in rq's failed registry (for `rq info`, the metrics) this long, not
# rq's default year: its traceback is text from the libraries beneath Cellule.
FAILED_JOB_TTL = 7 * 24 * 3600


def enqueue_after_commit(func, *args, tenant_id: int | None = None, **kwargs) -> None:
    """Run `func(*args, **kwargs)` as a job once the current transaction commits.

    `func` must be a module-level function; it runs in an app context, inside the scope
    of `tenant_id` when one is given, and its own transaction is committed after it.
    """
    path = f"{func.__module__}:{func.__qualname__}"
    db.session.info.setdefault("cellule.jobs", []).append((path, tenant_id, args, kwargs))


def _after_commit(session) -> None:
    jobs = session.info.pop("cellule.jobs", [])
    if not jobs:
        return
    app = current_app._get_current_object()
    # What was committed stays committed: a job that cannot be queued or that fails is
    # logged, never turned into a failed request (a reporter must not think her report was
    # lost). The rows it works on are still there for the periodic sweep to pick up.
    if app.config["REDIS_URL"]:
        queue = redis_queue(app)
        for path, tenant_id, args, kwargs in jobs:
            try:
                # The description (logged by workers) names the job, never its arguments.
                queue.enqueue(
                    run_job,
                    path,
                    tenant_id,
                    args,
                    kwargs,
                    result_ttl=0,
                    failure_ttl=FAILED_JOB_TTL,
                    description=path,
                )
            except Exception:
                app.logger.exception("could not queue job %s", path)
        return
    for path, tenant_id, args, kwargs in jobs:
        try:
            with app.app_context():
                run_job(path, tenant_id, args, kwargs)
        except Exception:
            app.logger.exception("job %s failed", path)


def _after_soft_rollback(session, previous_transaction) -> None:
    # Only the outermost rollback drops the jobs: a savepoint rolled back inside a
    # transaction that then commits keeps them (jobs are idempotent, so an extra run of one
    # asked for inside the savepoint does no harm).
    if previous_transaction.parent is None:
        session.info.pop("cellule.jobs", None)


def redis_queue(app):
    from redis import Redis
    from rq import Queue

    connection = app.extensions.get("cellule.redis")
    if connection is None:
        # Bounded waits: an unreachable Redis must not hang the commit that queues a job.
        connection = app.extensions["cellule.redis"] = Redis.from_url(
            app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=5
        )
    return Queue(QUEUE_NAME, connection=connection)


_worker_app = None


def run_job(path: str, tenant_id: int | None, args, kwargs):
    """Entry point of every job, in a worker or in process."""
    from core.tenancy.scoping import platform_scope, tenant_scope

    global _worker_app
    try:
        app = current_app._get_current_object()
    except RuntimeError:
        if _worker_app is None:
            from core import create_app

            _worker_app = create_app()
        app = _worker_app
    module_name, _, name = path.partition(":")
    func = getattr(importlib.import_module(module_name), name)
    with app.app_context():
        _forget_inherited_connections(app)
        scope = tenant_scope(tenant_id) if tenant_id is not None else platform_scope()
        try:
            with scope:
                result = func(*args, **kwargs)
                db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        return result


def _forget_inherited_connections(app) -> None:
    """After rq forks a work horse, never reuse the parent's database connections."""
    pid = os.getpid()
    if app.extensions.get("cellule.pid", pid) != pid:
        db.engine.dispose(close=False)
    app.extensions["cellule.pid"] = pid


def init_app(app) -> None:
    from core.jobs import cli

    app.extensions["cellule.pid"] = os.getpid()
    for name, listener in (
        ("after_commit", _after_commit),
        ("after_soft_rollback", _after_soft_rollback),
    ):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)
    cli.init_app(app)
