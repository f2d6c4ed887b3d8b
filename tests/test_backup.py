"""The README's backup and restore, run as written: pg_dump, pg_restore, `cellule db upgrade`,
`cellule audit verify`, and the content readable again only with the master key."""

import base64
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from core import create_app
from core.crypto.keys import KeyProblem
from core.extensions import db
from core.reports.models import Report
from core.tenancy.scoping import tenant_scope
from tests.conftest import APP_ROLE, _url, base_config

pytestmark = pytest.mark.postgresql
CELLULE = str(Path(sys.executable).parent / "cellule")
# PostgreSQL's client tools come with the server the tests need anyway
PG_DUMP, PG_RESTORE = shutil.which("pg_dump"), shutil.which("pg_restore")
NARRATIVE = "It happened in the library, on the third floor, after the seminar."


def libpq(url: str) -> str:
    """The URL as PostgreSQL's own tools take it (no SQLAlchemy driver name)."""
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def cellule(*args: str, database: tuple[str, str], master_key: str) -> str:
    app_url, owner_url = database
    environ = {
        "PATH": os.environ["PATH"],
        "DATABASE_URL": app_url,
        "DATABASE_MIGRATION_URL": owner_url,
        "SECRET_KEY": "restored-secret-key",
        "CELLULE_MASTER_KEY": master_key,
    }
    done = subprocess.run([CELLULE, *args], env=environ, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture
def restored_database(postgres_admin):
    name = f"cellule_restored_{uuid.uuid4().hex[:12]}"
    with postgres_admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    yield _url(name, APP_ROLE), _url(name)
    with postgres_admin.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_a_restored_backup_reads_again_with_the_master_key_and_only_with_it(
    restored_database, app, config, make_tenant, make_case, tmp_path
):
    tenant = make_tenant("restored", enable=("ciup",))
    case = make_case(tenant, NARRATIVE, message="A message of the reporter.")
    master_key = app.config["CELLULE_MASTER_KEY"]
    dump = tmp_path / "cellule.dump"
    subprocess.run(
        [PG_DUMP, "--format=custom", f"--file={dump}", libpq(config["DATABASE_MIGRATION_URL"])],
        check=True,
    )
    assert NARRATIVE.encode() not in dump.read_bytes(), "content is encrypted in the backup"

    restored = restored_database
    subprocess.run(
        [PG_RESTORE, "--no-owner", f"--dbname={libpq(restored[1])}", str(dump)], check=True
    )
    cellule("db", "upgrade", database=restored, master_key=master_key)
    verified = cellule("audit", "verify", database=restored, master_key=master_key)
    assert verified.startswith("restored: ok (") and "TAMPERED" not in verified

    def narrative_read_with(key: str, instance: str) -> str:
        again = create_app(
            {**base_config(*restored), "CELLULE_MASTER_KEY": key},
            instance_path=str(tmp_path / instance),
        )
        with again.app_context():
            try:
                with tenant_scope(tenant.id):
                    report = db.session.scalar(select(Report).where(Report.case_id == case.id))
                    return report.narrative
            finally:
                db.session.remove()
                db.engine.dispose()

    assert narrative_read_with(master_key, "right") == NARRATIVE
    other_key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    with pytest.raises(KeyProblem):
        narrative_read_with(other_key, "wrong")
