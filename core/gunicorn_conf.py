"""gunicorn's configuration for Cellule's web processes: `gunicorn -c python:core.gunicorn_conf`.

Everything the app needs comes from its own settings (README, "Configuration"); the few read
here shape the processes. gunicorn's own `GUNICORN_CMD_ARGS` and command-line options still
override any of it.
"""

import os
import shutil
import tempfile
from pathlib import Path

from core.logs import logging_config

wsgi_app = "core:create_app()"
bind = os.environ.get("CELLULE_BIND") or "127.0.0.1:8000"
workers = int(os.environ.get("WEB_CONCURRENCY") or 2)
# Threads let a worker wait on PostgreSQL, SMTP or a PDF export while it answers others.
worker_class = "gthread"
threads = int(os.environ.get("CELLULE_WEB_THREADS") or 4)
# A whole case file rendered as a PDF may take a few seconds; nothing legitimate takes 60.
timeout = 60
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then, at staggered moments, so no slow leak builds up.
max_requests = 2000
max_requests_jitter = 200
# The workers' heartbeat files go to TMPDIR (the one writable volume of a read-only image).

# No run-time control socket (gunicorn 24+): nothing administers the workers but signals,
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
os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", os.path.join(tempfile.gettempdir(), "cellule-metrics")
)


def on_starting(server):
    """Start the metrics of this run afresh: the files of a previous run are stale."""
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(directory, ignore_errors=True)
    Path(directory).mkdir(parents=True, exist_ok=True)


def child_exit(server, worker):
    """A worker is gone: its live gauges leave the metrics (its counters stay summed)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
