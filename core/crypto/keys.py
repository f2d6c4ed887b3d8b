"""Master key handling and the wrapping of tenant data keys (envelope encryption).

Each tenant has a random 256-bit data key that encrypts its sensitive columns with
AES-GCM. The data key is stored only wrapped (AES-GCM) under the operator's master key,
with the tenant bound in as associated data, so a wrapped key cannot be moved to another
tenant. Rotating the master key re-wraps data keys; the data itself is not re-encrypted.
"""

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_SIZE = 12


class KeyProblem(Exception):
    """A key is missing, malformed or does not open what it should."""


def generate_master_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def decode_master_key(encoded: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(encoded.strip().encode())
    except (binascii.Error, ValueError) as exc:
        raise KeyProblem("the master key is not valid base64") from exc
    if len(raw) != 32:
        raise KeyProblem(f"the master key must be 32 bytes, got {len(raw)}")
    return raw


def master_key_id(raw: bytes) -> str:
    """A short public fingerprint telling which master key wrapped a data key."""
    return hashlib.sha256(b"cellule-master-key-id" + raw).hexdigest()[:16]


@dataclass(frozen=True)
class MasterKeys:
    """The current master key and, during a rotation, the previous ones."""

    current: bytes
    previous: tuple[bytes, ...] = ()

    @classmethod
    def from_config(cls, config) -> "MasterKeys":
        return cls(
            current=decode_master_key(config["CELLULE_MASTER_KEY"]),
            previous=tuple(decode_master_key(k) for k in config["CELLULE_PREVIOUS_MASTER_KEYS"]),
        )

    @property
    def current_id(self) -> str:
        return master_key_id(self.current)

    def by_id(self, key_id: str) -> bytes:
        for key in (self.current, *self.previous):
            if master_key_id(key) == key_id:
                return key
        raise KeyProblem(
            f"no configured master key has id {key_id}; set it in CELLULE_MASTER_KEY "
            "or CELLULE_PREVIOUS_MASTER_KEYS"
        )


def _wrap_aad(tenant_id: int, data_key_id: str) -> bytes:
    return f"cellule-data-key:{tenant_id}:{data_key_id}".encode()


def wrap_data_key(master: bytes, tenant_id: int, data_key_id: str, data_key: bytes) -> bytes:
    nonce = os.urandom(NONCE_SIZE)
    return nonce + AESGCM(master).encrypt(nonce, data_key, _wrap_aad(tenant_id, data_key_id))


def unwrap_data_key(master: bytes, tenant_id: int, data_key_id: str, wrapped: bytes) -> bytes:
    from cryptography.exceptions import InvalidTag

    try:
        return AESGCM(master).decrypt(
            wrapped[:NONCE_SIZE], wrapped[NONCE_SIZE:], _wrap_aad(tenant_id, data_key_id)
        )
    except InvalidTag as exc:
        raise KeyProblem(f"data key {data_key_id} of tenant {tenant_id} does not unwrap") from exc


def derive_subkey(data_key: bytes, purpose: str) -> bytes:
    """A key for another purpose (e.g. the audit chain), derived so it never equals the data key."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"cellule:{purpose}".encode()
    ).derive(data_key)


# -- values sealed under the master key --------------------------------------------------
#
# For the few secrets that belong to no tenant (a staff member's TOTP secret): sealed with
# AES-GCM under a key derived from the master key, `purpose` bound in as associated data.
# The master key's id travels in the value, so a value sealed before a rotation still opens
# while the old key is listed in CELLULE_PREVIOUS_MASTER_KEYS, and `reseal` moves it on.

SEAL_VERSION = b"\x01"
_SEAL_KEY_ID_SIZE = 8


def _seal_key(master: bytes) -> bytes:
    return derive_subkey(master, "sealed-values")


def _seal_aad(purpose: str) -> bytes:
    return f"cellule-sealed:{purpose}".encode()


def _app_master_keys() -> MasterKeys:
    from flask import current_app

    return current_app.extensions["cellule.keys"].master_keys


def seal(plaintext: bytes, purpose: str, *, master_keys: MasterKeys | None = None) -> bytes:
    """Encrypt `plaintext` under the current master key; it opens only with the same `purpose`.

    The value is `version | master key id | nonce | AES-GCM ciphertext`.
    """
    keys = master_keys or _app_master_keys()
    nonce = os.urandom(NONCE_SIZE)
    sealed = AESGCM(_seal_key(keys.current)).encrypt(nonce, plaintext, _seal_aad(purpose))
    return SEAL_VERSION + bytes.fromhex(keys.current_id) + nonce + sealed


def sealed_with(blob: bytes) -> str:
    """The id of the master key that sealed `blob`."""
    if blob[:1] != SEAL_VERSION or len(blob) < 1 + _SEAL_KEY_ID_SIZE + NONCE_SIZE:
        raise KeyProblem("unknown sealed value format")
    return blob[1 : 1 + _SEAL_KEY_ID_SIZE].hex()


def unseal(blob: bytes, purpose: str, *, master_keys: MasterKeys | None = None) -> bytes:
    """Open a value made by `seal` with the same `purpose`, under whichever configured master
    key sealed it; KeyProblem if that key is gone or the value was altered or moved."""
    from cryptography.exceptions import InvalidTag

    keys = master_keys or _app_master_keys()
    master = keys.by_id(sealed_with(blob))
    start = 1 + _SEAL_KEY_ID_SIZE
    try:
        return AESGCM(_seal_key(master)).decrypt(
            blob[start : start + NONCE_SIZE], blob[start + NONCE_SIZE :], _seal_aad(purpose)
        )
    except InvalidTag as exc:
        raise KeyProblem("sealed value was altered or belongs elsewhere") from exc


def reseal(blob: bytes, purpose: str, *, master_keys: MasterKeys | None = None) -> bytes | None:
    """`blob` sealed again under the current master key, or None if it already is."""
    keys = master_keys or _app_master_keys()
    if sealed_with(blob) == keys.current_id:
        return None
    return seal(unseal(blob, purpose, master_keys=keys), purpose, master_keys=keys)
