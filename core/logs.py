"""Logs: one event per line, as JSON in production, and never anything personal.

Cellule's own log lines name jobs, counts, public ids and rule keys, never report content,
an identity, a receipt code or an address. Two things can still slip in from the libraries
beneath it, and are kept out here: the client's IP address that the development server and
gunicorn put in some lines (`WithoutClientAddress`), and the values bound to a failed SQL
statement (the engine runs with `hide_parameters`, see `core.db_setup`). Requests are logged
by the app itself (`core.metrics`), by route pattern: never the path, whose tokens and ids
belong to somebody.

`CELLULE_LOG_FORMAT=json` (the container's default) writes JSON lines on stdout for every
process (gunicorn, the rq worker and the scheduler); `text`, the default elsewhere, leaves
Python's logging as it is.
"""

import logging
import logging.config
import re

LOG_FORMATS = ("text", "json")
# What every JSON line carries, besides the fields a call passes with `extra=`.
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s"
RENAMED = {"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"}


class WithoutClientAddress(logging.Filter):
    """Drop the client's address from the lines that carry it.

    The development server starts each request line with it ("203.0.113.9 - - [..."), and
    gunicorn names it when it refuses a malformed request ("Invalid request from ip=...").
    The rest of the line stays.
    """

    PATTERNS = (
        (re.compile(r"^\S+ - - \["), "- - - ["),
        # up to ": " (an IPv6 address holds colons, never a colon and a space)
        (re.compile(r"\bfrom ip=\S*?(?=: |$)"), "from ip=-"),
    )

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            message = record.msg
            if record.args:
                try:
                    message = message % record.args
                except (TypeError, ValueError, KeyError):
                    return True
            scrubbed = message
            for pattern, replacement in self.PATTERNS:
                scrubbed = pattern.sub(replacement, scrubbed, count=1)
            if scrubbed != message:
                record.msg, record.args = scrubbed, None
        return True


def logging_config(log_format: str, level: str = "INFO") -> dict:
    """A `logging.config.dictConfig` dictionary: every line on stdout, in `log_format`.

    gunicorn takes it as its `logconfig_dict`, so its own lines come out alike; its access
    log is left off (the app logs requests without the client's address or the path).
    """
    if log_format not in LOG_FORMATS:
        raise RuntimeError(f"CELLULE_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}")
    formatter = (
        {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": JSON_FIELDS,
            "rename_fields": RENAMED,
            "datefmt": "%Y-%m-%dT%H:%M:%S%z",
        }
        if log_format == "json"
        else {"format": "%(asctime)s %(levelname)s [%(name)s] %(message)s"}
    )
    stdout = {
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stdout",
        "formatter": "line",
        "filters": ["without_client_address"],
    }
    quiet = {"level": "WARNING", "handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"without_client_address": {"()": WithoutClientAddress}},
        "formatters": {"line": formatter},
        "handlers": {"stdout": stdout},
        "root": {"level": level, "handlers": ["stdout"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
            # the development server's request lines, and the libraries' chatter
            "werkzeug": quiet,
            "urllib3": quiet,
            "alembic": quiet,
            "fontTools": quiet,
            "weasyprint": quiet,
        },
    }


def configure(log_format: str) -> None:
    """Send this process's logs to stdout in `log_format` ("json"); "text" changes nothing."""
    if log_format == "json" and not getattr(configure, "done", False):
        logging.config.dictConfig(logging_config("json"))
        configure.done = True


def keep_client_address_out_of(logger: logging.Logger) -> None:
    if not any(isinstance(f, WithoutClientAddress) for f in logger.filters):
        logger.addFilter(WithoutClientAddress())
