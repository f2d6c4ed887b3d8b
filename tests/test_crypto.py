"""Sensitive columns are stored encrypted with per-tenant keys wrapped by the master key."""

import base64
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import StatementError

from core import create_app
from core.audit.operations import verify_chain
from core.cases.models import Message
from core.crypto.fields import FORMAT_VERSION, KEY_ID_SIZE, decrypt, encrypt
from core.crypto.keys import KeyProblem, decode_master_key, generate_master_key, master_key_id
from core.extensions import db
from core.reports.models import Report, ReporterIdentity
from core.tenancy.scoping import TenantScopeError, platform_scope, tenant_scope

NARRATIVE = "He followed me to car park marigold-7731 after the seminar"
MESSAGE = "Can we meet on Tuesday, heliotrope-4410?"
REPORTER = "Ottoline Quarrington-Vex"
# Fragments distinctive enough that finding one anywhere in the database is a leak.
DISTINCTIVE = ("marigold-7731", "heliotrope-4410", "Quarrington")
# (table, encrypted column, plaintext it was given)
ENCRYPTED_COLUMNS = (
    ("reports", "narrative", NARRATIVE),
    ("messages", "body", MESSAGE),
    ("reporter_identities", "full_name", REPORTER),
)


def raw_values(owner_engine, table: str, column: str, tenant_id: int) -> list[bytes]:
    """The stored bytes of a column, read as the table owner, in id order."""
    with owner_engine.connect() as connection:
        rows = connection.execute(
            text(f"SELECT {column} FROM {table} WHERE tenant_id = :t ORDER BY id"),
            {"t": tenant_id},
        )
        return [bytes(value) for (value,) in rows]


def overwrite_narrative(owner_engine, report_id: int, blob: bytes) -> None:
    db.session.commit()
    with owner_engine.begin() as connection:
        connection.execute(
            text("UPDATE reports SET narrative = :blob WHERE id = :id"),
            {"blob": blob, "id": report_id},
        )
    db.session.expire_all()


def read_narratives(tenant) -> list[str]:
    """The tenant's narratives as the application reads them (decrypted)."""
    with tenant_scope(tenant):
        try:
            return list(db.session.scalars(select(Report.narrative).order_by(Report.id)))
        finally:
            db.session.rollback()


def tenant_keys(owner_engine) -> dict[str, tuple[bytes, str]]:
    """Every stored data key: key id -> (wrapped bytes, id of the master key that wrapped it)."""
    with owner_engine.connect() as connection:
        rows = connection.execute(text("SELECT key_id, wrapped, master_key_id FROM tenant_keys"))
        return {key_id: (bytes(wrapped), master) for key_id, wrapped, master in rows}


@contextmanager
def running(app):
    """Push another app's context for the block, and release its connections after."""
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def alpha_report(make_tenant, make_case):
    """A tenant and the id of its one report, with a message and a named reporter."""
    tenant = make_tenant("zephyr-academy")
    case = make_case(tenant, NARRATIVE, message=MESSAGE, reporter_name=REPORTER)
    with tenant_scope(tenant):
        report_id = case.reports[0].id
    db.session.rollback()
    return tenant, report_id


# -- nothing readable at rest -------------------------------------------------------------


def test_encrypted_columns_hold_only_ciphertext(alpha_report, owner_engine):
    tenant, _ = alpha_report
    for table, column, plaintext in ENCRYPTED_COLUMNS:
        (stored,) = raw_values(owner_engine, table, column, tenant.id)
        assert plaintext.encode() not in stored
        assert stored.startswith(FORMAT_VERSION)
        assert len(stored) > len(plaintext.encode())

    db.session.expire_all()
    with tenant_scope(tenant):
        report = db.session.scalar(select(Report))
        assert report.narrative == NARRATIVE
        assert report.identity.full_name == REPORTER
        assert db.session.scalar(select(Message.body)) == MESSAGE
    db.session.rollback()


@pytest.mark.sqlite_only
def test_the_database_file_holds_no_plaintext(alpha_report):
    path = Path(db.engine.url.database)
    raw = b"".join(
        candidate.read_bytes()
        for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-journal"))
        if candidate.exists()
    )
    assert b"zephyr-academy" in raw  # the file does hold what is not encrypted
    for fragment in DISTINCTIVE:
        assert fragment.encode() not in raw, fragment
        assert fragment.encode("utf-16-le") not in raw, fragment


# -- ciphertexts ------------------------------------------------------------------------


def test_same_plaintext_gives_different_ciphertexts_carrying_the_key_id(
    alpha_report, make_case, owner_engine
):
    tenant, _ = alpha_report
    make_case(tenant, NARRATIVE)
    first, second = raw_values(owner_engine, "reports", "narrative", tenant.id)
    assert first != second
    (key_id,) = tenant_keys(owner_engine)
    for blob in (first, second):
        assert blob[:1] == FORMAT_VERSION
        assert blob[1 : 1 + KEY_ID_SIZE].hex() == key_id
    assert read_narratives(tenant) == [NARRATIVE, NARRATIVE]


@pytest.mark.parametrize(
    "position", [0, 1, 10, 30, -1], ids=["version", "key-id", "nonce", "body", "tag"]
)
def test_a_changed_byte_makes_the_value_unreadable(alpha_report, owner_engine, position):
    tenant, report_id = alpha_report
    assert read_narratives(tenant) == [NARRATIVE]
    (blob,) = raw_values(owner_engine, "reports", "narrative", tenant.id)
    altered = bytearray(blob)
    altered[position] ^= 0x01
    overwrite_narrative(owner_engine, report_id, bytes(altered))
    with pytest.raises(KeyProblem):
        read_narratives(tenant)


def test_another_tenants_ciphertext_is_not_readable_here(
    alpha_report, make_tenant, make_case, owner_engine, app
):
    alpha, alpha_report_id = alpha_report
    beta = make_tenant("beta")
    make_case(beta, "beta's own narrative")
    assert read_narratives(alpha) == [NARRATIVE]
    (beta_blob,) = raw_values(owner_engine, "reports", "narrative", beta.id)
    overwrite_narrative(owner_engine, alpha_report_id, beta_blob)

    with pytest.raises(KeyProblem, match="another tenant"):
        read_narratives(alpha)
    # With a cold key cache, beta's key must be looked up (PostgreSQL's RLS hides it).
    app.extensions["cellule.keys"].clear()
    with pytest.raises(KeyProblem):
        read_narratives(alpha)
    assert read_narratives(beta) == ["beta's own narrative"]


def test_encrypting_needs_a_tenant_in_scope(alpha_report):
    tenant, report_id = alpha_report
    narrative_type = Report.__table__.c.narrative.type
    with platform_scope(), pytest.raises(TenantScopeError, match="no tenant in scope"):
        narrative_type.process_bind_param("x", db.engine.dialect)
    with tenant_scope(tenant):
        report = db.session.get(Report, report_id)
    with platform_scope():
        report.narrative = "changed from the platform"
        # SQLAlchemy wraps errors raised while binding parameters; the cause is ours.
        with pytest.raises(StatementError) as raised:
            db.session.flush()
        assert isinstance(raised.value.orig, TenantScopeError)
        db.session.rollback()
    assert read_narratives(tenant) == [NARRATIVE]


def test_values_are_bound_to_their_tenant(alpha_report, make_tenant):
    alpha, _ = alpha_report
    beta = make_tenant("beta")
    with tenant_scope(alpha):
        blob = encrypt(b"for alpha only", alpha.id, "report.narrative")
        assert decrypt(blob, "report.narrative") == b"for alpha only"
    with tenant_scope(beta), pytest.raises(KeyProblem, match="another tenant"):
        decrypt(blob, "report.narrative")
    db.session.rollback()


def test_values_are_bound_to_their_column(alpha_report, owner_engine):
    """A narrative's ciphertext copied into a message body does not open there."""
    alpha, _ = alpha_report
    with tenant_scope(alpha):
        blob = encrypt(b"a narrative", alpha.id, "report.narrative")
        with pytest.raises(KeyProblem, match="altered or belongs elsewhere"):
            decrypt(blob, "message.body")
    db.session.rollback()


# -- master keys ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoded", "message"),
    [
        ("not base64 at all!", "not valid base64"),
        (base64.urlsafe_b64encode(b"short").decode(), "must be 32 bytes, got 5"),
        (base64.urlsafe_b64encode(b"k" * 33).decode(), "must be 32 bytes, got 33"),
        ("", "must be 32 bytes, got 0"),
    ],
    ids=["not-base64", "short", "long", "empty"],
)
def test_a_malformed_master_key_is_refused_clearly(encoded, message):
    with pytest.raises(KeyProblem, match=message):
        decode_master_key(encoded)


def test_the_app_does_not_start_with_a_malformed_master_key(tmp_path):
    config = {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'unused.db'}",
        "SECRET_KEY": "test-secret-key",
        "CELLULE_MASTER_KEY": "too-short",
        "CELLULE_PREVIOUS_MASTER_KEYS": [],
    }
    with pytest.raises(KeyProblem, match="master key"):
        create_app(config, instance_path=str(tmp_path / "instance"))


def test_a_wrong_master_key_opens_nothing(alpha_report, config, tmp_path):
    tenant, _ = alpha_report
    db.session.commit()
    stranger = create_app(
        {**config, "CELLULE_MASTER_KEY": generate_master_key()},
        instance_path=str(tmp_path / "stranger"),
    )
    with running(stranger), pytest.raises(KeyProblem, match="no configured master key"):
        read_narratives(tenant.id)


def test_a_generated_master_key_is_well_formed():
    first, second = generate_master_key(), generate_master_key()
    assert first != second
    assert len(decode_master_key(first)) == 32


def test_rotation_rewraps_keys_without_reencrypting_data(
    app, config, alpha_report, make_tenant, owner_engine, tmp_path
):
    alpha, _ = alpha_report
    beta = make_tenant("beta")
    old_key, new_key = config["CELLULE_MASTER_KEY"], generate_master_key()
    new_id = master_key_id(decode_master_key(new_key))
    keys_before = tenant_keys(owner_engine)
    narrative_before = raw_values(owner_engine, "reports", "narrative", alpha.id)
    assert {master for _, master in keys_before.values()} == {
        master_key_id(decode_master_key(old_key))
    }
    db.session.commit()  # the outer app holds no transaction while another app writes

    rotating = create_app(
        {**config, "CELLULE_MASTER_KEY": new_key, "CELLULE_PREVIOUS_MASTER_KEYS": [old_key]},
        instance_path=str(tmp_path / "rotating"),
    )
    # The CLI runs in whichever app context is current: push the rotating app's own.
    with running(rotating):
        result = rotating.test_cli_runner().invoke(args=["keys", "rewrap"])
    assert result.exit_code == 0, result.output
    assert "re-wrapped 2 data keys of 2 tenants" in result.output

    keys_after = tenant_keys(owner_engine)
    assert keys_after.keys() == keys_before.keys()
    for key_id, (wrapped, master) in keys_after.items():
        assert master == new_id
        assert wrapped != keys_before[key_id][0]
    assert raw_values(owner_engine, "reports", "narrative", alpha.id) == narrative_before
    with owner_engine.connect() as connection:
        rewrapped = connection.execute(
            text("SELECT tenant_id FROM audit_events WHERE action = 'keys.rewrapped'")
        ).scalars()
        assert sorted(rewrapped) == sorted([alpha.id, beta.id])

    alpha_id = alpha.id
    new_only = create_app(
        {**config, "CELLULE_MASTER_KEY": new_key, "CELLULE_PREVIOUS_MASTER_KEYS": []},
        instance_path=str(tmp_path / "new-only"),
    )
    with running(new_only):
        with tenant_scope(alpha_id):
            assert db.session.scalar(select(Report.narrative)) == NARRATIVE
            assert db.session.scalar(select(ReporterIdentity.full_name)) == REPORTER
            chain = verify_chain(alpha_id)
        assert chain.ok, chain.problems

    # The original app holds only the old key: once its cache is cold it can read nothing.
    app.extensions["cellule.keys"].clear()
    db.session.expire_all()
    with pytest.raises(KeyProblem, match="no configured master key"):
        read_narratives(alpha)
