"""gunicorn's configuration for Cellule's web processes: `gunicorn -c python:core.gunicorn_conf`.

Everything the app needs comes from its own settings (README, "Configuration"); the few read
here shape the processes. gunicorn's own `GUNICORN_CMD_ARGS` and command-line options still
override any of it.
"""

import gc
import os
import tempfile
from pathlib import Path

from core.logs import logging_config

wsgi_app = "core:create_app()"
bind = [os.environ.get("CELLULE_BIND") or "127.0.0.1:8000"]
# Prometheus' own address (core.metrics): /metrics answers there only.
if os.environ.get("CELLULE_METRICS_BIND"):
    bind.append(os.environ["CELLULE_METRICS_BIND"])
workers = int(os.environ.get("WEB_CONCURRENCY") or 2)
# Threads let a worker wait on PostgreSQL, SMTP or a PDF export while it answers others.
worker_class = "gthread"
threads = int(os.environ.get("CELLULE_WEB_THREADS") or 4)
# A worker silent for 60 s is restarted. gthread workers heartbeat whatever their requests
# do, so this catches a stuck worker, not a slow request: the database's own timeouts bound
# those (core.db_setup).
timeout = 60
graceful_timeout = 30
# Longer than a reverse proxy keeps idle connections to its upstreams (ingress-nginx: 60 s),
# so the proxy never sends a request on a connection gunicorn has just closed.
keepalive = 75
# The workers' heartbeat files go to TMPDIR (the one writable volume of a read-only image).
# No run-time control socket (gunicorn 25.1+): nothing administers the workers but signals,
# and $HOME is read-only in the image.
control_socket_disable = True

# The app logs each request itself, by route and without the client's address
# (core.metrics); gunicorn's access log would print both.
accesslog = None
errorlog = "-"
loglevel = "info"
logconfig_dict = logging_config(os.environ.get("CELLULE_LOG_FORMAT") or "text")

# Each worker counts its requests in files of this folder, and /metrics, whichever worker
# answers it, adds them up. Set before any worker imports prometheus_client.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="cellule-metrics-")


def on_starting(server):
    """Start the metrics of this run afresh: the files of a previous run are stale. Only
    prometheus_client's own files go, whatever else the folder holds."""
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink(missing_ok=True)


def post_worker_init(worker):
    """The application is loaded: what it keeps for the process's life (modules, templates,
    plugin data) leaves the collector's watch, so full collections do not walk it again."""
    gc.freeze()


def child_exit(server, worker):
    """A worker is gone: its live gauges leave the metrics (its counters stay summed)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
