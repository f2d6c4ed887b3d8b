"""Running the sweep every CELLULE_SWEEP_SECONDS.

With Redis, one scheduler process (`cellule jobs scheduler`) enqueues the sweep job on
Cellule's queue through rq's own cron scheduler, and rq workers run it. Without Redis (the
embedded default), the sweep runs in process: in `cellule jobs scheduler`, or in a
background thread of `cellule run`, so `make run` reminds on time with nothing else started.
Two schedulers at once do no harm (every sweep claims its rows), they only waste work.
"""

import logging
import threading

from core.jobs import FAILED_JOB_TTL, QUEUE_NAME, redis_queue, run_job
from core.jobs.sweep import SWEEP_JOB

logger = logging.getLogger(__name__)

# A sweep over many tenants may take a while; rq stops a job after this many seconds.
SWEEP_TIMEOUT = 600


def sweep_in_process(app) -> dict | None:
    """Run the sweep once in this process, in a fresh app context; None if it failed (it is
    logged: a periodic sweep must outlive a database outage)."""
    try:
        with app.app_context():
            return run_job(SWEEP_JOB, None, (), {})
    except Exception:
        logger.exception("the periodic sweep failed; it runs again at its next turn")
        return None


def sweep_every(app, seconds: float, stop: threading.Event) -> None:
    """Run the sweep in process now, then every `seconds`, until `stop` is set."""
    while not stop.is_set():
        sweep_in_process(app)
        stop.wait(seconds)


def start_sweeper_thread(app, seconds: float) -> threading.Event:
    """Run `sweep_every` in a daemon thread (the embedded default's `cellule run`); set the
    returned event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(
        target=sweep_every, args=(app, seconds, stop), name="cellule-sweeper", daemon=True
    )
    thread.start()
    return stop


def rq_cron(app, seconds: int):
    """An rq `CronScheduler` that enqueues the sweep on Cellule's queue every `seconds`
    (its first turn at once); `.start()` runs it until SIGTERM or SIGINT."""
    from rq.cron import CronScheduler

    queue = redis_queue(app)
    scheduler = CronScheduler(connection=queue.connection)
    scheduler.register(
        run_job,
        QUEUE_NAME,
        args=(SWEEP_JOB, None, (), {}),
        interval=seconds,
        job_timeout=SWEEP_TIMEOUT,
        result_ttl=0,
        failure_ttl=FAILED_JOB_TTL,
    )
    return scheduler
