"""Encrypted column types, and the per-process cache of unwrapped tenant data keys.

A value is stored as `version | data-key id | nonce | AES-GCM ciphertext`, with the owning
tenant bound in as associated data. Encryption uses the active key of the tenant in scope;
decryption finds the key from the id in the value, so an old key keeps opening old rows.
"""

import json
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app
from sqlalchemy import LargeBinary, select
from sqlalchemy.types import TypeDecorator

from core.crypto.keys import NONCE_SIZE, KeyProblem, MasterKeys, derive_subkey, unwrap_data_key
from core.extensions import db

FORMAT_VERSION = b"\x01"
KEY_ID_SIZE = 8


@dataclass(frozen=True)
class DataKey:
    tenant_id: int
    key_id: str
    secret: bytes

    def aad(self, purpose: str) -> bytes:
        return f"cellule:{self.tenant_id}:{purpose}".encode()


class KeyCache:
    """Unwrapped data keys of this process, by key id and by tenant (its active key)."""

    def __init__(self, master_keys: MasterKeys):
        self.master_keys = master_keys
        self.by_id: dict[str, DataKey] = {}
        self.active: dict[int, str] = {}
        self.audit: dict[int, bytes] = {}

    def remember(self, tenant_id: int, key_id: str, secret: bytes, *, active: bool) -> DataKey:
        key = DataKey(tenant_id, key_id, secret)
        self.by_id[key_id] = key
        if active:
            self.active[tenant_id] = key_id
        return key

    def clear(self) -> None:
        self.by_id.clear()
        self.active.clear()
        self.audit.clear()


def key_cache() -> KeyCache:
    return current_app.extensions["cellule.keys"]


def _load(where) -> list[DataKey]:
    """Read and unwrap keys with a Core query on the session's connection.

    Core, not ORM, because this runs while SQLAlchemy binds or reads a row (possibly in the
    middle of a flush); PostgreSQL's row-level security still applies to the query.
    """
    from core.crypto.models import TenantKey

    cache = key_cache()
    table = TenantKey.__table__
    rows = db.session.connection().execute(
        select(table.c.tenant_id, table.c.key_id, table.c.wrapped, table.c.master_key_id)
        .where(where(table))
        .order_by(table.c.id)
    )
    loaded = []
    for row in rows:
        master = cache.master_keys.by_id(row.master_key_id)
        secret = unwrap_data_key(master, row.tenant_id, row.key_id, row.wrapped)
        loaded.append(cache.remember(row.tenant_id, row.key_id, secret, active=False))
    return loaded


def active_key(tenant_id: int) -> DataKey:
    cache = key_cache()
    key_id = cache.active.get(tenant_id)
    if key_id is None:
        loaded = _load(lambda t: t.c.tenant_id == tenant_id)
        if not loaded:
            raise KeyProblem(f"tenant {tenant_id} has no data key")
        key_id = cache.active[tenant_id] = loaded[-1].key_id
    return cache.by_id[key_id]


def _key_by_id(key_id: str) -> DataKey:
    from core.tenancy.scoping import current_scope

    key = key_cache().by_id.get(key_id)
    if key is None:
        _load(lambda t: t.c.key_id == key_id)
        key = key_cache().by_id.get(key_id)
        if key is None:
            raise KeyProblem("no readable data key for this value (another tenant's data?)")
    scope = current_scope()
    if scope is not None and not scope.is_platform and scope.tenant_id != key.tenant_id:
        raise KeyProblem("value encrypted for another tenant")
    return key


def audit_key(tenant_id: int) -> bytes:
    """The key that seals the tenant's audit chain, derived from its first data key."""
    from core.crypto.models import TenantKey

    cache = key_cache()
    if tenant_id in cache.audit:
        return cache.audit[tenant_id]
    table = TenantKey.__table__
    first = (
        db.session.connection()
        .execute(
            select(table.c.key_id)
            .where(table.c.tenant_id == tenant_id)
            .order_by(table.c.id)
            .limit(1)
        )
        .scalar_one_or_none()
    )
    if first is None:
        raise KeyProblem(f"tenant {tenant_id} has no data key")
    key = cache.audit[tenant_id] = derive_subkey(_key_by_id(first).secret, "audit-chain")
    return key


def encrypt(plaintext: bytes, tenant_id: int, purpose: str) -> bytes:
    """Seal `plaintext` for `tenant_id`; it opens only for the same tenant and `purpose`."""
    key = active_key(tenant_id)
    nonce = os.urandom(NONCE_SIZE)
    sealed = AESGCM(key.secret).encrypt(nonce, plaintext, key.aad(purpose))
    return FORMAT_VERSION + bytes.fromhex(key.key_id) + nonce + sealed


def decrypt(blob: bytes, purpose: str) -> bytes:
    if blob[:1] != FORMAT_VERSION:
        raise KeyProblem("unknown encrypted value format")
    key = _key_by_id(blob[1 : 1 + KEY_ID_SIZE].hex())
    start = 1 + KEY_ID_SIZE
    try:
        return AESGCM(key.secret).decrypt(
            blob[start : start + NONCE_SIZE], blob[start + NONCE_SIZE :], key.aad(purpose)
        )
    except InvalidTag as exc:
        raise KeyProblem("encrypted value was altered or belongs elsewhere") from exc


class EncryptedText(TypeDecorator):
    """Text encrypted with the data key of the tenant in scope.

    `purpose` (e.g. ``"report.narrative"``) is sealed in with the value, so a ciphertext
    moved to another column, or to another tenant, no longer opens.
    """

    impl = LargeBinary
    cache_ok = True

    def __init__(self, purpose: str):
        super().__init__()
        self.purpose = purpose

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        from core.tenancy.scoping import current_tenant_id

        return encrypt(self._encode(value), current_tenant_id(), self.purpose)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return self._decode(decrypt(bytes(value), self.purpose))

    def _encode(self, value) -> bytes:
        return value.encode()

    def _decode(self, raw: bytes):
        return raw.decode()


class EncryptedJSON(EncryptedText):
    """A JSON document encrypted like `EncryptedText`."""

    def _encode(self, value) -> bytes:
        return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()

    def _decode(self, raw: bytes):
        return json.loads(raw)


class EncryptedBytes(EncryptedText):
    """Binary data (an evidence file) encrypted like `EncryptedText`."""

    def _encode(self, value) -> bytes:
        return bytes(value)

    def _decode(self, raw: bytes):
        return raw
