"""Bearer tokens: how one is made, and how a request proves it holds one.

A token is 256 random bits, shown once; only its SHA-256 is stored. A random secret of that
size needs no slow hash: nobody can guess one, and the digest found in the database says
nothing about the token. A request is authenticated by the `Authorization: Bearer` header
alone (never a cookie) and only on its own tenant's host or path: the lookup runs in the
tenant's scope, so another tenant's token is simply not found.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from core.api.models import ApiToken
from core.extensions import db
from core.identity.models import User
from core.identity.operations import roles_of
from core.types import utcnow

# lets secret scanners and people recognise a Cellule token
TOKEN_PREFIX = "cel_"  # noqa: S105 (a prefix, not a secret)
# `last_used_at` is written at most this often, so that a busy integration does not turn
# every read into a write.
LAST_USED_EVERY = timedelta(minutes=1)


def new_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Caller:
    """Who is calling: the token, and the staff member it acts as."""

    token: ApiToken
    user: User


def bearer_secret(header: str | None) -> str | None:
    """The token in an `Authorization: Bearer <token>` header, if there is one."""
    scheme, _, secret = (header or "").strip().partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret or " " in secret:
        return None
    return secret


def authenticate(secret: str, tenant_id: int) -> Caller | None:
    """The caller `secret` authenticates in tenant `tenant_id`, or None.

    None for a token that is unknown here, revoked, whose account is disabled, or whose
    role its holder no longer has: a token is worth no more than its holder's standing now.
    """
    digest = token_digest(secret)
    token = db.session.scalar(
        select(ApiToken).where(ApiToken.tenant_id == tenant_id, ApiToken.token_hash == digest)
    )
    # The index finds the row; the comparison that decides is constant-time all the same.
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return None
    if token.revoked_at is not None:
        return None
    user = db.session.get(User, token.user_id)
    if user is None or not user.is_active or token.role not in roles_of(tenant_id, user):
        return None
    return Caller(token=token, user=user)


def note_use(token: ApiToken) -> bool:
    """Record that `token` was used now, unless it was less than a minute ago; whether it
    wrote anything."""
    now = utcnow()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_EVERY:
        return False
    token.last_used_at = now
    return True
