"""The README's backup and restore, run as written, with an owner role that is neither a
superuser nor exempt from row-level security: pg_dump, pg_restore, `cellule db upgrade`,
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
from core.plugins.host import plugin_host
from core.reports.models import Report
from core.tenancy.models import Tenant
from core.tenancy.scoping import platform_scope, tenant_scope
from core.testing import CaseRunner
from tests.conftest import APP_ROLE, MASTER_KEY, _url, base_config

pytestmark = pytest.mark.postgresql
CELLULE = str(Path(sys.executable).parent / "cellule")
# PostgreSQL's client tools come with the server the tests need anyway
PG_DUMP, PG_RESTORE = shutil.which("pg_dump"), shutil.which("pg_restore")
OWNER = "cellule_owner_test"
NARRATIVE = "It happened in the library, on the third floor, after the seminar."


def libpq(url: str) -> str:
    """The URL as PostgreSQL's own tools take it (no SQLAlchemy driver name)."""
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def cellule(*args: str, database: tuple[str, str]) -> str:
    app_url, owner_url = database
    environ = {
        "PATH": os.environ["PATH"],
        "DATABASE_URL": app_url,
        "DATABASE_MIGRATION_URL": owner_url,
        "SECRET_KEY": "restored-secret-key",
        "CELLULE_MASTER_KEY": MASTER_KEY,
    }
    done = subprocess.run([CELLULE, *args], env=environ, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture
def owned_databases(postgres_admin):
    """Two empty databases owned by a plain owner role (as the README's `createdb --owner`):
    the one backed up and the one restored into, as (application URL, owner URL)."""
    names = [f"cellule_{what}_{uuid.uuid4().hex[:10]}" for what in ("saved", "restored")]
    with postgres_admin.connect() as connection:
        exists = connection.exec_driver_sql(
            f"SELECT 1 FROM pg_roles WHERE rolname = '{OWNER}'"
        ).scalar()
        if not exists:
            connection.exec_driver_sql(f"CREATE ROLE {OWNER} LOGIN NOSUPERUSER NOBYPASSRLS")
        for name in names:
            connection.exec_driver_sql(f"CREATE DATABASE {name} OWNER {OWNER}")
    yield [(_url(name, APP_ROLE), _url(name, OWNER)) for name in names]
    with postgres_admin.connect() as connection:
        for name in names:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_a_restored_backup_reads_again_with_the_master_key_and_only_with_it(
    owned_databases, tmp_path
):
    saved, restored = owned_databases
    cellule("db", "upgrade", database=saved)
    school = ("school", "--name", "A school", "--plugin", "polytechnique")
    cellule("tenant", "create", *school, database=saved)
    before = create_app(base_config(*saved), instance_path=str(tmp_path / "before"))
    with before.app_context():
        with platform_scope():
            tenant = db.session.scalar(select(Tenant).where(Tenant.slug == "school"))
        case = CaseRunner(tenant, plugin_host()).submit(narrative=NARRATIVE)
        tenant_id, case_id = tenant.id, case.id
        db.session.remove()
        db.engine.dispose()

    dump = tmp_path / "cellule.dump"
    plain = [PG_DUMP, "--format=custom", f"--file={dump}", libpq(saved[1])]
    refused = subprocess.run(plain, capture_output=True, text=True)
    assert refused.returncode != 0 and "row-level security" in refused.stderr, refused.stderr
    # the README's command: acting for the platform, with row security allowed
    subprocess.run(
        [PG_DUMP, "--enable-row-security", *plain[1:]],
        env={**os.environ, "PGOPTIONS": "-c cellule.platform=on"},
        check=True,
    )
    assert NARRATIVE.encode() not in dump.read_bytes(), "content is encrypted in the backup"

    subprocess.run(
        [PG_RESTORE, "--no-owner", f"--role={OWNER}", f"--dbname={libpq(restored[1])}", str(dump)],
        check=True,
    )
    cellule("db", "upgrade", database=restored)
    verified = cellule("audit", "verify", database=restored)
    assert verified.startswith("school: ok (") and "TAMPERED" not in verified

    def narrative_read_with(key: str, instance: str) -> str:
        again = create_app(
            {**base_config(*restored), "CELLULE_MASTER_KEY": key},
            instance_path=str(tmp_path / instance),
        )
        with again.app_context():
            try:
                with tenant_scope(tenant_id):
                    report = db.session.scalar(select(Report).where(Report.case_id == case_id))
                    return report.narrative
            finally:
                db.session.remove()
                db.engine.dispose()

    assert narrative_read_with(MASTER_KEY, "right") == NARRATIVE
    other_key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    with pytest.raises(KeyProblem):
        narrative_read_with(other_key, "wrong")
