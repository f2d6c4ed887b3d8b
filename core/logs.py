"""Logs: one event per line, as JSON in production, and never anything personal.

Cellule's own log lines name jobs, counts, public ids and rule keys, never report content,
an identity, a receipt code or an address. What could still slip in from the libraries
beneath it is kept out here (`Scrubbed`, on every line the configured handler writes, its
traceback included): the client's IP address that the development server and gunicorn put
in some lines, the path gunicorn names when a request fails (it may hold a reset token), and
the row values PostgreSQL quotes in an error's DETAIL ("Key (email)=(…) already exists").
The values bound to a failed statement never reach an error at all (the engines run with
`hide_parameters`). Requests are logged by the app itself (`core.metrics`), by route
pattern: never the path, whose tokens and ids belong to somebody.

`CELLULE_LOG_FORMAT=json` (the container's default) writes JSON lines on stdout for every
process (gunicorn, the rq worker and the scheduler); `text`, the default elsewhere, leaves
Python's logging as it is.
"""

import logging
import logging.config
import re
import traceback

LOG_FORMATS = ("text", "json")
# What every JSON line carries, besides the fields a call passes with `extra=`.
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s"
RENAMED = {"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"}


def scrub(text: str) -> str:
    """`text` without what `Scrubbed` keeps out of the logs."""
    for pattern, replacement in Scrubbed.PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class Scrubbed(logging.Filter):
    """Take out of a line (and its traceback) what may name or locate a person.

    The development server starts each request line with the client's address ("203.0.113.9
    - - [..."); gunicorn names it when it refuses a malformed request ("Invalid request from
    ip=..."), and names the path and query when the app fails on a request ("Error handling
    request GET /staff/password/reset/<token>"); PostgreSQL's errors quote the row or key
    they are about ("DETAIL:  Key (email)=(…) already exists", "Failing row contains (…)").
    The rest of the line stays.
    """

    PATTERNS = (
        (re.compile(r"^\S+ - - \[", re.MULTILINE), "- - - ["),
        # up to ": " (an IPv6 address holds colons, never a colon and a space)
        (re.compile(r"\bfrom ip=\S*?(?=: |$)", re.MULTILINE), "from ip=-"),
        (re.compile(r"(Error handling request \S+) \S+"), r"\1 -"),
        (re.compile(r"^(\s*DETAIL:).*$", re.MULTILINE), r"\1 (left out)"),
        (re.compile(r"Failing row contains \(.*?\)(?=\.?$)", re.MULTILINE), "Failing row …"),
        (re.compile(r"Key \((.*?)\)=\(.*?\)(?= )"), r"Key (\1)=(…)"),
    )

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            message = record.msg
            if record.args:
                try:
                    message = message % record.args
                except (TypeError, ValueError, KeyError):
                    message = None
            if message is not None and (scrubbed := scrub(message)) != message:
                record.msg, record.args = scrubbed, None
        if record.exc_info and record.exc_info[0] is not None:
            # the traceback as the formatter would write it, scrubbed; the formatters write
            # `exc_text` when `exc_info` is gone
            written = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text = scrub(written)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True


def logging_config(log_format: str, level: str = "INFO") -> dict:
    """A `logging.config.dictConfig` dictionary: every line on stdout, in `log_format`.

    gunicorn takes it as its `logconfig_dict`, so its own lines come out alike; its access
    log is left off (the app logs requests without the client's address or the path).
    """
    log_format = log_format.lower()
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
        "filters": ["scrubbed"],
    }
    quiet = {"level": "WARNING", "handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"scrubbed": {"()": Scrubbed}},
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


def scrub_lines_of(logger: logging.Logger) -> None:
    """Scrub what `logger` logs even where this module configured no handler (the
    development server's request lines in `cellule run`)."""
    if not any(isinstance(f, Scrubbed) for f in logger.filters):
        logger.addFilter(Scrubbed())
