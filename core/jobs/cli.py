"""`cellule worker`, `cellule jobs sweep|scheduler`, and `cellule run` with its sweeper."""

import inspect
import signal

import click
from flask import current_app
from flask.cli import AppGroup, ScriptInfo, get_debug_flag, run_command, with_appcontext
from werkzeug.serving import is_running_from_reloader


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop once the queue is empty.")
@with_appcontext
def worker_command(burst: bool) -> None:
    """Run an rq worker on REDIS_URL."""
    from rq import Worker

    from core.jobs import redis_queue

    if not current_app.config["REDIS_URL"]:
        raise click.UsageError("REDIS_URL is not set: without Redis, jobs run in process.")
    queue = redis_queue(current_app)
    Worker([queue], connection=queue.connection).work(burst=burst)


jobs_cli = AppGroup("jobs", help="The periodic sweep: e-mail, deadline reminders, notices.")


@jobs_cli.command("sweep")
def sweep_command() -> None:
    """Run every sweep once, here and now (pending e-mail, deadlines, notices)."""
    from core.jobs import run_job
    from core.jobs.sweep import SWEEP_JOB

    counts = run_job(SWEEP_JOB, None, (), {})
    click.echo(
        f"{counts['mail']} pending e-mail(s) queued, {counts['reminders']} reminder(s) and "
        f"{counts['alerts']} alert(s) sent, {counts['notices']} notice(s) carried out"
    )
    if counts["failed"]:
        raise click.ClickException(f"{counts['failed']} deadline(s) failed; see the log")


@jobs_cli.command("scheduler")
@click.option(
    "--seconds",
    type=click.IntRange(min=1),
    default=None,
    help="Between two sweeps (default: CELLULE_SWEEP_SECONDS).",
)
def scheduler_command(seconds: int | None) -> None:
    """Run the sweep every few seconds until stopped: enqueued for rq workers with Redis
    (rq's cron scheduler; run exactly one), in this process without."""
    from core.jobs.scheduler import rq_cron, sweep_every

    app = current_app._get_current_object()
    seconds = seconds or app.config["CELLULE_SWEEP_SECONDS"]
    if app.config["REDIS_URL"]:
        click.echo(f"enqueueing the sweep every {seconds} s for the rq workers")
        rq_cron(app, seconds).start()
        return
    import threading

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo(f"running the sweep in this process every {seconds} s (no REDIS_URL)")
    try:
        sweep_every(app, seconds, stop)
    except KeyboardInterrupt:
        stop.set()


@click.command(
    "run",
    params=run_command.params,
    help=f"{inspect.cleandoc(run_command.help)}\n\nWithout REDIS_URL, it also runs the "
    "periodic sweep in a background thread, every CELLULE_SWEEP_SECONDS.",
    short_help=run_command.short_help,
)
@click.pass_context
def run_with_sweeper(ctx, **options) -> None:
    app = ctx.ensure_object(ScriptInfo).load_app()
    reload = options["reload"] if options["reload"] is not None else get_debug_flag()
    serving = not reload or is_running_from_reloader()  # the reloader's parent only watches
    if serving and not app.config["REDIS_URL"]:
        from core.jobs.scheduler import start_sweeper_thread

        start_sweeper_thread(app, app.config["CELLULE_SWEEP_SECONDS"])
    ctx.invoke(run_command.callback, **options)


def init_app(app) -> None:
    app.cli.add_command(worker_command)
    app.cli.add_command(jobs_cli)
