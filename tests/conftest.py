"""Shared fixtures: an app on a fresh database per test, on SQLite and on PostgreSQL.

Tests that take the `app` fixture run once per backend. PostgreSQL and Redis are real
servers on 127.0.0.1; when one is missing the tests that need it are skipped locally and
fail when CI=true. The application connects to PostgreSQL as a role subject to row-level
security; migrations run as the owner, as in production.
"""

import base64
import email
import os
import shutil
import socket
import subprocess
import sys
import uuid
from email.policy import default as default_policy
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask_migrate import upgrade
from redis import Redis
from rq import Queue

from core import create_app
from core.extensions import db
from core.jobs import QUEUE_NAME

POSTGRES_ADMIN_URL = os.environ.get(
    "CELLULE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("CELLULE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
APP_ROLE = "cellule_app_test"
TEMPLATE_DB = f"cellule_test_template_{os.getpid()}"
MASTER_KEY = base64.urlsafe_b64encode(b"k" * 32).decode()
# the key by which a test run claims a Redis database of its own (`worker_redis_url`)
REDIS_LOCK = "cellule-tests:in-use"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

pytest_plugins = ["core.testing"]


def _unavailable(service: str, problem: Exception):
    message = f"{service} is not reachable ({problem})"
    if IN_CI:
        pytest.fail(f"{message}; CI=true requires it", pytrace=False)
    pytest.skip(message)


def _url(database: str, user: str | None = None) -> str:
    url = sa.make_url(POSTGRES_ADMIN_URL).set(database=database)
    return (url.set(username=user) if user else url).render_as_string(hide_password=False)


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        if metafunc.definition.get_closest_marker("postgresql"):
            backends = ["postgresql"]
        elif metafunc.definition.get_closest_marker("sqlite_only"):
            backends = ["sqlite"]
        else:
            backends = ["sqlite", "postgresql"]
        metafunc.parametrize("backend", backends, scope="function")


def base_config(database_url: str, migration_url: str | None = None) -> dict:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "DATABASE_MIGRATION_URL": migration_url or database_url,
        "SECRET_KEY": "test-secret-key",
        "CELLULE_MASTER_KEY": MASTER_KEY,
        "CELLULE_PREVIOUS_MASTER_KEYS": [],
        "REDIS_URL": None,
        "CELLULE_BASE_DOMAIN": "cellule.test",
        "CELLULE_TENANT_DIRECTORY": False,
    }


def migrate_database(config: dict, instance_path: Path) -> None:
    app = create_app(config, instance_path=str(instance_path))
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def postgres_admin(tmp_path_factory):
    """An engine on the server as a superuser, and the template database, migrated."""
    engine = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except sa.exc.OperationalError as exc:
        engine.dispose()
        _unavailable("PostgreSQL", exc)
    with engine.connect() as connection:
        exists = connection.exec_driver_sql(
            f"SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}'"
        ).scalar()
        if not exists:
            connection.exec_driver_sql(
                f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE"
            )
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {TEMPLATE_DB} WITH (FORCE)")
        connection.exec_driver_sql(f"CREATE DATABASE {TEMPLATE_DB}")
    instance = tmp_path_factory.mktemp("postgres-template")
    migrate_database(base_config(_url(TEMPLATE_DB, APP_ROLE), _url(TEMPLATE_DB)), instance)
    yield engine
    with engine.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {TEMPLATE_DB} WITH (FORCE)")
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A migrated SQLite database file that each test copies."""
    folder = tmp_path_factory.mktemp("sqlite-template")
    path = folder / "template.db"
    migrate_database(base_config(f"sqlite:///{path}"), folder)
    return path


@pytest.fixture
def database(backend, request, tmp_path):
    """A fresh, migrated database for one test: (application URL, owner URL)."""
    if backend == "sqlite":
        path = tmp_path / "cellule.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
        yield url, url
        return
    admin = request.getfixturevalue("postgres_admin")
    name = f"cellule_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")
    yield _url(name, APP_ROLE), _url(name)
    with admin.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def config(database):
    app_url, owner_url = database
    return base_config(app_url, owner_url)


@pytest.fixture
def app(config, tmp_path):
    app = create_app(config, instance_path=str(tmp_path / "instance"))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def owner_engine(database):
    """A connection as the tables' owner, for tampering the way an intruder would."""
    engine = sa.create_engine(database[1])
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def redis_url():
    from redis import Redis
    from redis.exceptions import ConnectionError as RedisConnectionError

    connection = Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except RedisConnectionError as exc:
        _unavailable("Redis", exc)
    connection.flushdb()
    yield REDIS_URL
    connection.flushdb()


def compile_catalogues(folder: Path) -> None:
    """Compile every .po catalogue under `folder` to the .mo beside it (`pybabel compile`)."""
    for po in folder.rglob("*.po"):
        with po.open("rb") as source:
            catalog = read_po(source)
        with po.with_suffix(".mo").open("wb") as compiled:
            write_mo(compiled, catalog)


def pip_install(source: Path, workdir: Path) -> Path:
    """Install the distribution at `source` with pip into a folder of its own; return it.

    Its catalogues are compiled first, as an author does before publishing: .mo files are
    not kept in the repository.
    """
    # pip builds in the source tree and leaves build/ and *.egg-info behind: build a copy.
    copy_of_source = workdir / "source"
    shutil.copytree(
        source,
        copy_of_source,
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "*.mo"),
    )
    compile_catalogues(copy_of_source)
    target = workdir / "site-packages"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "--target",
            str(target),
            str(copy_of_source),
        ],
        check=True,
    )
    return target


@pytest.fixture(scope="session")
def pip_installed(tmp_path_factory):
    """`pip_installed(source)`: the distribution at `source`, installed with pip into a
    temporary folder once per session; returns the folder to put on `sys.path`."""
    folders: dict[Path, Path] = {}

    def install(source: Path) -> Path:
        if source not in folders:
            folders[source] = pip_install(source, tmp_path_factory.mktemp(source.name))
        return folders[source]

    return install


@pytest.fixture
def redis_app(app, config, redis_url, tmp_path):
    """A second app, using Redis, whose context is pushed above the default one."""
    with_redis = create_app({**config, "REDIS_URL": redis_url}, instance_path=str(tmp_path / "r"))
    queue = Queue(QUEUE_NAME, connection=Redis.from_url(redis_url))
    queue.empty()
    with with_redis.app_context():
        yield with_redis, queue
        db.session.remove()
        db.engine.dispose()
    queue.empty()


# -- a real SMTP server ------------------------------------------------------------------


class Collector:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


class SMTPServer:
    """aiosmtpd on 127.0.0.1, which a test can stop (an outage) and start again."""

    def __init__(self, **options):
        self.handler = Collector()
        self.options = options
        self.port = _free_port()
        self.controller = None

    def start(self) -> None:
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, **self.options
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self) -> list[email.message.EmailMessage]:
        return [
            email.message_from_bytes(envelope.original_content, policy=default_policy)
            for envelope in self.handler.envelopes
        ]

    @property
    def recipients(self) -> list[str]:
        return [rcpt for envelope in self.handler.envelopes for rcpt in envelope.rcpt_tos]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp():
    server = SMTPServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def worker_redis_url(redis_url):
    """A Redis database for this test alone: its workers must never take jobs queued by
    other tests or by another test run on the same server (which point at other databases).
    It claims the first free database from 1 to 14 with a lock key, empties it, and leaves
    it empty."""
    base = redis_url.rsplit("/", 1)[0]
    for number in range(1, 15):
        connection = Redis.from_url(f"{base}/{number}")
        if connection.set(REDIS_LOCK, os.getpid(), nx=True, ex=900):
            break
        connection.close()
    else:
        pytest.fail("no free Redis database for the worker tests")

    def empty() -> None:
        for key in connection.scan_iter():
            if key != REDIS_LOCK.encode():
                connection.delete(key)

    empty()
    yield f"{base}/{number}"
    empty()
    connection.delete(REDIS_LOCK)
    connection.close()


def descendants(pid: int) -> list[int]:
    """Every process `pid` forked, and theirs, from /proc."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found
