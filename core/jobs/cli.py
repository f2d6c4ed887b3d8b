"""`cellule worker`: an rq worker for Cellule's queue."""

import click
from flask import current_app
from flask.cli import with_appcontext


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


def init_app(app) -> None:
    app.cli.add_command(worker_command)
