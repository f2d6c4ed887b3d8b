"""Settings, read from environment variables with documented defaults.

Every setting is listed in the README's reference table. `settings_from_env` reads the app's;
the few that shape gunicorn's processes are read by `core/gunicorn_conf.py`.
"""

import os
import secrets
from pathlib import Path

import click

# (variable, default, what it is for). The README's settings table mirrors this list.
SETTINGS = [
    (
        "CELLULE_INSTANCE_PATH",
        "<project>/instance",
        "Folder for the embedded database and the secrets generated on first start.",
    ),
    (
        "DATABASE_URL",
        "sqlite:///<instance>/cellule.db",
        "Database the web and worker processes use. On PostgreSQL: a role subject to "
        "row-level security (not the owner, not a superuser).",
    ),
    (
        "DATABASE_MIGRATION_URL",
        "DATABASE_URL",
        "Connection that runs migrations (the owner of the tables).",
    ),
    ("REDIS_URL", "(none)", "Redis for rq jobs; when absent, jobs run in process."),
    (
        "CELLULE_SWEEP_SECONDS",
        "60",
        "How often the periodic sweep runs (pending e-mail, deadline reminders and alerts, "
        "the procedure's notices): in `cellule jobs scheduler`, or in `cellule run` without "
        "Redis.",
    ),
    (
        "SECRET_KEY",
        "generated once into the instance folder, on SQLite only; required otherwise",
        "Signs sessions and CSRF tokens.",
    ),
    (
        "CELLULE_MASTER_KEY",
        "generated once into the instance folder (with a warning), on SQLite only; "
        "required otherwise",
        "Base64 of 32 random bytes; wraps every tenant's data keys.",
    ),
    (
        "CELLULE_PREVIOUS_MASTER_KEYS",
        "(none)",
        "Comma-separated older master keys that still open data keys; needed only during a "
        "rotation, until `cellule keys rewrap` has run.",
    ),
    (
        "CELLULE_BASE_DOMAIN",
        "(none)",
        "Tenants are also served on <slug>.<base domain>, e.g. myschool.cellule.example.org.",
    ),
    (
        "CELLULE_TENANT_DIRECTORY",
        "off",
        "When on, the platform's home page lists the tenants' portals (demo use).",
    ),
    ("CELLULE_DEFAULT_LOCALE", "fr", "Locale when neither tenant nor browser decides."),
    (
        "CELLULE_TRUSTED_PROXIES",
        "0",
        "How many reverse proxies (ingress, load balancer) stand in front of Cellule: their "
        "X-Forwarded-For/-Proto/-Host headers are then believed, so each reporter's attempts "
        "are counted apart and HTTPS is recognised.",
    ),
    (
        "CELLULE_SECURE_COOKIES",
        "on, except on the embedded SQLite default",
        "Send the session cookie over HTTPS only.",
    ),
    (
        "CELLULE_PUBLIC_URL",
        "(none)",
        "The platform's address, e.g. https://cellule.example.org: links in e-mails to a tenant "
        "with neither a custom domain nor a sub-domain point to <address>/t/<slug>/.",
    ),
    (
        "CELLULE_STAFF_IDLE_MINUTES",
        "20",
        "A staff session ends after this many minutes without a request.",
    ),
    (
        "CELLULE_RECEIPT_ATTEMPTS_PER_MINUTE",
        "600",
        "Receipt attempts the whole platform accepts in a minute, on top of 10 per client in "
        "15 minutes: a brake on guessing receipts from many addresses. Each attempt costs one "
        "argon2id hash; raise it with the web processes' capacity.",
    ),
    (
        "CELLULE_TENANT_CACHE_SECONDS",
        "5",
        "How long a web process trusts what it remembers of the tenants (who each host and "
        "path names, their revision, whether they are suspended) to serve their public pages "
        "(landing, help lines, the law) from memory, to visitors without a session. A change "
        "to a tenant's branding or plugins, a suspension or a moved domain reaches those pages "
        "in the other processes within this time; the process that made it forgets at once. "
        "Every other page finds its tenant in the database on every request. 0 turns it off.",
    ),
    (
        "MAIL_SERVER",
        "(none)",
        "SMTP server for e-mail notifications. When absent, no mail is sent: messages wait in "
        "the database (a warning says so) until it is set and `cellule mail sweep` runs.",
    ),
    ("MAIL_PORT", "25", "Port of the SMTP server."),
    ("MAIL_USE_TLS", "off", "When on, STARTTLS before sending, with the certificate checked."),
    ("MAIL_USERNAME", "(none)", "SMTP login, when the server asks for one."),
    ("MAIL_PASSWORD", "(none)", "SMTP password, with MAIL_USERNAME."),
    ("MAIL_FROM", "cellule@localhost", "Sender of the notifications, e.g. Cellule <no-reply@…>."),
    (
        "CELLULE_LOG_FORMAT",
        "text (json in the container image)",
        "`json`: every process writes one JSON object per line on stdout (time, level, logger, "
        "pid, message); `text` leaves Python's logging as it is. Either way no line holds "
        "report content, an identity, a receipt code or a client's address.",
    ),
    (
        "CELLULE_METRICS_BIND",
        "(none)",
        "A second address gunicorn listens on, e.g. 0.0.0.0:9100, for Prometheus: `/metrics` "
        "answers there and nowhere else (that address serves only the metrics and the probes). "
        "Expose it to the monitoring system only, never through the Ingress. Without it there "
        "is no `/metrics`.",
    ),
    (
        "CELLULE_METRICS_TOKEN",
        "(none)",
        "When set, `/metrics` also asks for this bearer token.",
    ),
    (
        "CELLULE_BIND",
        "127.0.0.1:8000 (0.0.0.0:8000 in the container image)",
        "Address gunicorn listens on (`core/gunicorn_conf.py`).",
    ),
    ("WEB_CONCURRENCY", "2", "gunicorn worker processes."),
    ("CELLULE_WEB_THREADS", "4", "Threads per gunicorn worker process."),
    (
        "PROMETHEUS_MULTIPROC_DIR",
        "a new temporary folder under gunicorn",
        "Writable folder where each gunicorn worker keeps its metrics for `/metrics` to add up; "
        "its metric files are removed when gunicorn starts.",
    ),
]


def _instance_secret(instance_path: Path, name: str, make) -> tuple[str, bool]:
    """Return the secret stored in the instance folder, creating it once; and if it is new."""
    path = instance_path / name
    if path.exists():
        return path.read_text().strip(), False
    instance_path.mkdir(parents=True, exist_ok=True)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value, True


def settings_from_env(instance_path: str, environ=os.environ) -> dict:
    """Build the Flask configuration from `environ`; secrets left None are filled later."""
    instance = Path(instance_path)
    database_url = environ.get("DATABASE_URL") or f"sqlite:///{instance / 'cellule.db'}"
    database_url = _normalise_database_url(database_url)
    previous = [k for k in environ.get("CELLULE_PREVIOUS_MASTER_KEYS", "").split(",") if k]
    return {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "DATABASE_MIGRATION_URL": _normalise_database_url(
            environ.get("DATABASE_MIGRATION_URL") or database_url
        ),
        "REDIS_URL": environ.get("REDIS_URL") or None,
        "CELLULE_SWEEP_SECONDS": _seconds(environ.get("CELLULE_SWEEP_SECONDS") or "60"),
        "SECRET_KEY": environ.get("SECRET_KEY") or None,
        "CELLULE_MASTER_KEY": environ.get("CELLULE_MASTER_KEY") or None,
        "CELLULE_PREVIOUS_MASTER_KEYS": previous,
        "CELLULE_BASE_DOMAIN": (environ.get("CELLULE_BASE_DOMAIN") or "").lower() or None,
        "CELLULE_TENANT_DIRECTORY": environ.get("CELLULE_TENANT_DIRECTORY", "off").lower()
        in {"1", "on", "true", "yes"},
        "BABEL_DEFAULT_LOCALE": environ.get("CELLULE_DEFAULT_LOCALE", "fr"),
        "CELLULE_PUBLIC_URL": (environ.get("CELLULE_PUBLIC_URL") or "").rstrip("/") or None,
        "CELLULE_TRUSTED_PROXIES": _count(environ, "CELLULE_TRUSTED_PROXIES", "0"),
        "SESSION_COOKIE_SECURE": _flag(
            environ.get("CELLULE_SECURE_COOKIES")
            or ("off" if database_url.startswith("sqlite") else "on")
        ),
        "CELLULE_STAFF_IDLE_MINUTES": _count(environ, "CELLULE_STAFF_IDLE_MINUTES", "20"),
        "CELLULE_RECEIPT_ATTEMPTS_PER_MINUTE": _count(
            environ, "CELLULE_RECEIPT_ATTEMPTS_PER_MINUTE", "600"
        ),
        "CELLULE_TENANT_CACHE_SECONDS": _count(environ, "CELLULE_TENANT_CACHE_SECONDS", "5"),
        "MAIL_SERVER": environ.get("MAIL_SERVER") or None,
        "MAIL_PORT": _port(environ.get("MAIL_PORT") or "25"),
        "MAIL_USE_TLS": _flag(environ.get("MAIL_USE_TLS", "off")),
        "MAIL_USERNAME": environ.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": environ.get("MAIL_PASSWORD") or None,
        "MAIL_FROM": environ.get("MAIL_FROM") or "cellule@localhost",
        "CELLULE_LOG_FORMAT": _log_format(environ.get("CELLULE_LOG_FORMAT") or "text"),
        "CELLULE_METRICS_BIND": _address(environ, "CELLULE_METRICS_BIND"),
        "CELLULE_METRICS_TOKEN": environ.get("CELLULE_METRICS_TOKEN") or None,
    }


def _flag(value: str) -> bool:
    return value.lower() in {"1", "on", "true", "yes"}


def _count(environ, name: str, default: str) -> int:
    value = environ.get(name) or default
    if not value.isdigit():
        raise RuntimeError(f"{name} must be a number, not {value!r}")
    return int(value)


def _seconds(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise RuntimeError(f"CELLULE_SWEEP_SECONDS must be a number of seconds, not {value!r}")
    return int(value)


def _address(environ, name: str) -> str | None:
    value = environ.get(name) or None
    if value is not None and not value.rpartition(":")[2].isdigit():
        raise RuntimeError(f"{name} must be a host and port such as 0.0.0.0:9100, not {value!r}")
    return value


def _log_format(value: str) -> str:
    from core.logs import LOG_FORMATS

    if value.lower() not in LOG_FORMATS:
        raise RuntimeError(f"CELLULE_LOG_FORMAT must be text or json, not {value!r}")
    return value.lower()


def _port(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise RuntimeError(f"MAIL_PORT must be a port number, not {value!r}")
    return int(value)


def fill_instance_secrets(config, instance_path: str) -> None:
    """Generate, once, the secrets the embedded default runs without being given."""
    from core.crypto.keys import generate_master_key

    instance = Path(instance_path)
    embedded = config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")
    missing = [k for k in ("SECRET_KEY", "CELLULE_MASTER_KEY") if not config.get(k)]
    if missing and not embedded:
        # Every process of a real deployment must share these, and the operator backs them up.
        raise RuntimeError(
            f"{' and '.join(missing)} must be set outside the embedded SQLite default"
        )
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _instance_secret(
            instance, "secret_key", lambda: secrets.token_urlsafe(48)
        )[0]
    if not config.get("CELLULE_MASTER_KEY"):
        config["CELLULE_MASTER_KEY"], created = _instance_secret(
            instance, "master_key", generate_master_key
        )
        if created:
            click.secho(
                f"WARNING: no CELLULE_MASTER_KEY set; generated one in {instance / 'master_key'}. "
                "Fine for the embedded demo; in production supply and back up your own.",
                fg="yellow",
                err=True,
            )


def _normalise_database_url(url: str) -> str:
    """Use psycopg 3 for plain `postgresql://` URLs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
