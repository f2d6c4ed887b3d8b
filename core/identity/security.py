"""Staff sign-in, as operations: the password step and the lock-out, the TOTP second factor
and its recovery codes, password changes and resets by e-mail.

Each function takes the account and the tenant whose pages are used (None: the platform's
own pages, where only platform operators sign in) and writes its audit event in the
caller's transaction; the view commits. Accounts belong to the platform, so their rows are
written in the platform scope. At the platform root there is no tenant chain: an event is a
log line naming the account's public id, nothing else.
"""

import base64
import contextlib
import functools
import hashlib
import hmac
import logging
import secrets
import time
from datetime import timedelta

import pyotp
import segno
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, func, or_, select, union, update

from core.audit.operations import PLATFORM, SYSTEM, record_event
from core.committees.models import CommitteeMember
from core.crypto.keys import reseal, seal, unseal
from core.extensions import db
from core.identity.access import has_standing
from core.identity.models import Membership, RecoveryCode, User
from core.identity.operations import (
    IdentityError,
    check_password,
    find_user,
    load_user,
    password_hasher,
    set_password,
)
from core.tenancy.scoping import platform_scope
from core.types import utcnow

logger = logging.getLogger(__name__)

MAX_FAILURES = 5  # consecutive failed attempts (password or code) before the lock
LOCK_DURATION = timedelta(minutes=15)
TOTP_ISSUER = "Cellule"
TOTP_STEP_SECONDS = 30
TOTP_DRIFT_STEPS = 1  # a code of the step before or after is accepted too (clock drift)
RECOVERY_CODE_COUNT = 10
RECOVERY_CODE_BYTES = 10  # 80 bits, written as 16 base32 characters
RESET_LINK_SECONDS = 60 * 60
RESET_MAILS_PER_HOUR = 3
RESET_SALT = "cellule.staff.password-reset"
MIN_PASSWORD_LENGTH = 12  # what `core.identity.operations.set_password` demands


class SignInRefused(Exception):
    """The password step failed. `locked` says the account is locked (wait, or reset the
    password); otherwise the one answer for an unknown address, a wrong password or an
    account that does not sign in here."""

    def __init__(self, *, locked: bool):
        super().__init__("locked" if locked else "refused")
        self.locked = locked


# -- who signs in where ------------------------------------------------------------------


def may_sign_in_here(user: User, tenant) -> bool:
    """Whether `user` may sign in on the pages of `tenant` (None: the platform's own)."""
    if not user.is_active:
        return False
    if tenant is None:
        return bool(user.is_platform_operator)
    return has_standing(user, tenant.id)


def audit(tenant, user: User, action: str, *, actor=None, details: dict | None = None) -> None:
    """Record a sign-in event about `user` in `tenant`'s chain; by default the account itself
    acted. At the platform root, a log line with the account's public id only."""
    if tenant is None:
        logger.info("%s user=%s", action, user.public_id)
        return
    record_event(
        tenant.id,
        actor=user if actor is None else actor,
        action=action,
        target=("user", user.public_id),
        details=details,
    )


def tenants_of(user: User) -> list[int]:
    """The ids of the tenants where `user` has standing (a role or a committee seat)."""
    with platform_scope():
        query = union(
            select(Membership.tenant_id).where(Membership.user_id == user.id),
            select(CommitteeMember.tenant_id).where(CommitteeMember.user_id == user.id),
        )
        return sorted(db.session.scalars(select(query.subquery().c[0])))


# -- the password step and the lock-out -----------------------------------------------------


@functools.cache
def _dummy_hash() -> str:
    # verified against when no account may sign in with the address, so that every answer
    # costs one password hash and timing tells nothing
    return password_hasher.hash(secrets.token_urlsafe(24))


def _spend_a_hash(password: str) -> None:
    with contextlib.suppress(VerificationError, InvalidHashError):
        password_hasher.verify(_dummy_hash(), password)


def is_locked(user: User) -> bool:
    return user.locked_until is not None and user.locked_until > utcnow()


def sign_in_with_password(email: str, password: str, tenant) -> User:
    """The account `email` names, if `password` is its password and it may sign in here.

    Otherwise `SignInRefused`, with the failure counted toward the lock-out and audited
    (for an account that could have signed in here). A locked account is refused without
    its password being looked at. Every call costs one password hash.
    """
    try:
        user = find_user(email)
    except IdentityError:
        user = None
    if user is None or not may_sign_in_here(user, tenant):
        _spend_a_hash(password)
        raise SignInRefused(locked=False)
    if is_locked(user):
        _spend_a_hash(password)
        audit(tenant, user, "staff.sign_in_failed", actor=SYSTEM, details={"step": "locked"})
        raise SignInRefused(locked=True)
    with platform_scope():
        right = check_password(user, password)  # rehashes when the parameters changed
        db.session.flush()
    if not right:
        raise SignInRefused(locked=record_failure(user, tenant, step="password"))
    return user


def record_failure(user: User, tenant, *, step: str) -> bool:
    """Count one failed attempt of `user` (`step`: "password", "second_factor"…), locking
    the account for `LOCK_DURATION` at the `MAX_FAILURES`th; whether it is now locked."""
    now = utcnow()
    with platform_scope():
        if user.locked_until is not None and user.locked_until <= now:
            # a lock that has run out starts a fresh count
            user.locked_until, user.failed_logins = None, 1
        else:
            user.failed_logins = User.failed_logins + 1  # in SQL: concurrent attempts add up
        db.session.flush()
        db.session.refresh(user, ["failed_logins", "locked_until"])
        newly_locked = user.failed_logins >= MAX_FAILURES and not is_locked(user)
        if newly_locked:
            user.locked_until = now + LOCK_DURATION
            db.session.flush()
    audit(tenant, user, "staff.sign_in_failed", actor=SYSTEM, details={"step": step})
    if newly_locked:
        minutes = int(LOCK_DURATION.total_seconds() // 60)
        audit(tenant, user, "staff.locked", actor=SYSTEM, details={"minutes": minutes})
    return is_locked(user)


def record_sign_in(user: User, tenant, *, method: str) -> None:
    """Both steps done (`method`: "totp", "recovery_code" or "enrolment"): the count of
    failures starts again from zero."""
    with platform_scope():
        user.failed_logins, user.locked_until = 0, None
        db.session.flush()
    audit(tenant, user, "staff.sign_in", details={"method": method})


# -- TOTP ------------------------------------------------------------------------------------


def _totp_purpose(user: User) -> str:
    # bound to the account: a sealed secret copied onto another account does not open
    return f"staff.totp:{user.public_id}"


def totp_secret_of(user: User) -> str | None:
    if user.totp_secret is None:
        return None
    return unseal(bytes(user.totp_secret), _totp_purpose(user)).decode()


def has_second_factor(user: User) -> bool:
    return user.totp_secret is not None and user.totp_confirmed_at is not None


def begin_enrolment(user: User) -> str:
    """The TOTP secret `user` is enrolling: the one already waiting for its confirmation
    (a reloaded page shows the same code), else a new random one (160 bits), stored sealed."""
    if has_second_factor(user):
        raise IdentityError("this account already has a second factor")
    if user.totp_secret is not None:
        return totp_secret_of(user)
    secret = pyotp.random_base32()
    with platform_scope():
        user.totp_secret = seal(secret.encode(), _totp_purpose(user))
        user.totp_last_step = None
        db.session.flush()
    return secret


def provisioning_uri(user: User, secret: str) -> str:
    """The otpauth:// address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=TOTP_ISSUER)


def qr_code_svg_uri(text: str) -> str:
    """`text` as a QR code drawn in SVG, as a data: address an <img> shows without any
    request (the page's CSP allows data: images)."""
    return segno.make(text, error="m").svg_data_uri(scale=5, border=4, dark="#000", light="#fff")


def grouped(secret: str) -> str:
    """The secret in groups of four characters, for typing by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _claim_totp(user: User, secret: str, code: str, now: float | None = None) -> bool:
    """Whether `code` is the TOTP of a step around now not older than the last one accepted;
    the step is then recorded, in one conditional UPDATE, so a code is never taken twice,
    not even by two requests at once."""
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        return False
    totp = pyotp.TOTP(secret)
    current = int((time.time() if now is None else now) // TOTP_STEP_SECONDS)
    matching = [
        step
        for step in range(current - TOTP_DRIFT_STEPS, current + TOTP_DRIFT_STEPS + 1)
        if hmac.compare_digest(totp.generate_otp(step), code)
    ]
    if not matching:
        return False
    step = max(matching)
    with platform_scope():
        claimed = db.session.execute(
            update(User)
            .where(
                User.id == user.id,
                or_(User.totp_last_step.is_(None), User.totp_last_step < step),
            )
            .values(totp_last_step=step)
            .execution_options(synchronize_session=False)
        ).rowcount
    db.session.expire(user, ["totp_last_step"])
    return claimed == 1


def confirm_enrolment(user: User, code: str, tenant) -> list[str] | None:
    """Confirm the secret of `begin_enrolment` with a code from the app; the account's new
    recovery codes (shown once), or None if the code is not right."""
    secret = totp_secret_of(user)
    if secret is None or has_second_factor(user) or not _claim_totp(user, secret, code):
        return None
    with platform_scope():
        user.totp_confirmed_at = utcnow()
        db.session.flush()
    audit(tenant, user, "staff.totp_enrolled")
    return new_recovery_codes(user, tenant)


def check_totp(user: User, code: str) -> bool:
    """Whether `code` is a fresh TOTP of `user`'s confirmed secret (and take it)."""
    return has_second_factor(user) and _claim_totp(user, totp_secret_of(user), code)


def check_second_factor(user: User, code: str, tenant) -> str | None:
    """How `code` proves the second factor: "totp", "recovery_code" (now used up, audited),
    or None. Failures are the caller's to count (`record_failure`)."""
    if check_totp(user, code):
        return "totp"
    if use_recovery_code(user, code, tenant):
        return "recovery_code"
    return None


def reset_second_factor(user: User, *, actor=PLATFORM) -> list[int]:
    """Remove `user`'s TOTP secret and recovery codes (a lost phone): the next sign-in
    enrols afresh. Audited in every tenant where the account has standing; their ids."""
    with platform_scope():
        user.totp_secret = user.totp_confirmed_at = user.totp_last_step = None
        db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
        db.session.flush()
    tenants = tenants_of(user)
    for tenant_id in tenants:
        record_event(
            tenant_id,
            actor=actor,
            action="staff.second_factor_reset",
            target=("user", user.public_id),
        )
    logger.info("staff.second_factor_reset user=%s", user.public_id)
    return tenants


def reseal_totp_secrets() -> int:
    """Seal every TOTP secret again under the current master key (after a rotation), so
    the previous key is no longer needed; how many were sealed again. Platform scope."""
    count = 0
    for user in db.session.scalars(select(User).where(User.totp_secret.is_not(None))):
        fresh = reseal(bytes(user.totp_secret), _totp_purpose(user))
        if fresh is not None:
            user.totp_secret = fresh
            count += 1
    db.session.flush()
    return count


# -- recovery codes ---------------------------------------------------------------------------

# Letters and digits people confuse, read as the base32 character they stand for.
_LOOKALIKES = str.maketrans({"0": "O", "1": "I", "8": "B"})


def _normalise_recovery_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum()).translate(_LOOKALIKES)


def _recovery_code_hash(code: str) -> str:
    return hashlib.sha256(_normalise_recovery_code(code).encode()).hexdigest()


def new_recovery_codes(user: User, tenant) -> list[str]:
    """Replace `user`'s recovery codes with `RECOVERY_CODE_COUNT` new ones, returned once
    (only their SHA-256 is kept), written XXXX-XXXX-XXXX-XXXX."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = base64.b32encode(secrets.token_bytes(RECOVERY_CODE_BYTES)).decode()
        codes.append("-".join(raw[i : i + 4] for i in range(0, len(raw), 4)))
    with platform_scope():
        db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
        db.session.add_all(
            RecoveryCode(user_id=user.id, code_hash=_recovery_code_hash(code)) for code in codes
        )
        db.session.flush()
    audit(tenant, user, "staff.recovery_codes_generated", details={"count": len(codes)})
    return codes


def use_recovery_code(user: User, code: str, tenant) -> bool:
    """Whether `code` is one of `user`'s unused recovery codes; it is then used up (in one
    conditional UPDATE: two requests cannot both use it) and the use audited."""
    if len(_normalise_recovery_code(code)) != len(base64.b32encode(b"\0" * RECOVERY_CODE_BYTES)):
        return False
    with platform_scope():
        used = db.session.execute(
            update(RecoveryCode)
            .where(
                RecoveryCode.user_id == user.id,
                RecoveryCode.code_hash == _recovery_code_hash(code),
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
    if used != 1:
        return False
    audit(tenant, user, "staff.recovery_code_used", details={"left": recovery_codes_left(user)})
    return True


def recovery_codes_left(user: User) -> int:
    return db.session.scalar(
        select(func.count(RecoveryCode.id)).where(
            RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
        )
    )


# -- passwords ---------------------------------------------------------------------------------


def _replace_password(user: User, password: str) -> None:
    with platform_scope():
        set_password(user, password)  # IdentityError under 12 characters
        user.password_changed_at = utcnow()
        user.failed_logins, user.locked_until = 0, None
        db.session.flush()


def set_new_password(user: User, password: str, tenant, *, action: str) -> None:
    """Give `user` a new password (IdentityError if under 12 characters); the lock-out and
    its count are cleared. `action` names the audit event ("staff.password_changed"…)."""
    _replace_password(user, password)
    audit(tenant, user, action)


def set_password_by_operator(user: User, password: str) -> list[int]:
    """A new password given by the platform operator (`cellule user set-password`), for
    someone who cannot use the e-mail link (an operator has none). Audited in every tenant
    where the account has standing; their ids. The second factor is still asked for."""
    _replace_password(user, password)
    tenants = tenants_of(user)
    for tenant_id in tenants:
        record_event(
            tenant_id, actor=PLATFORM, action="staff.password_set", target=("user", user.public_id)
        )
    logger.info("staff.password_set user=%s", user.public_id)
    return tenants


def confirm_current_password(user: User, password: str) -> bool:
    """Whether `password` is `user`'s password (asked again before changing it)."""
    with platform_scope():
        right = check_password(user, password)
        db.session.flush()
    return right


# -- password reset by e-mail -------------------------------------------------------------------


def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=RESET_SALT)


def _password_fingerprint(user: User) -> str:
    # changes whenever the password hash does: a used link, or one older than the last
    # password change, no longer opens
    key = f"{RESET_SALT}:{current_app.config['SECRET_KEY']}".encode()
    return hmac.new(key, user.password_hash.encode(), hashlib.sha256).hexdigest()[:32]


def password_reset_token(user: User, tenant) -> str:
    """A signed, dated token for `user` on `tenant`'s pages, valid `RESET_LINK_SECONDS` and
    only until the password changes."""
    return _reset_serializer().dumps(
        {"u": user.public_id, "t": tenant.id, "p": _password_fingerprint(user)}
    )


def user_for_reset_token(token: str, tenant) -> User | None:
    """The account a reset token opens on `tenant`'s pages, or None (forged, expired, used,
    for another tenant, or the account may no longer sign in here)."""
    try:
        data = _reset_serializer().loads(token, max_age=RESET_LINK_SECONDS)
    except BadSignature:  # SignatureExpired included
        return None
    if not isinstance(data, dict) or data.get("t") != tenant.id:
        return None
    user = load_user(str(data.get("u")))
    if user is None or not may_sign_in_here(user, tenant):
        return None
    if not hmac.compare_digest(str(data.get("p")), _password_fingerprint(user)):
        return None
    return user


def _reset_mail_allowed(user: User) -> bool:
    from core.portal.limits import Attempts

    attempts = current_app.extensions.setdefault("cellule.attempts", Attempts())
    return attempts.hit(f"password-reset:{user.public_id}", RESET_MAILS_PER_HOUR, 60 * 60)


def request_password_reset(email: str, tenant, *, locale: str) -> bool:
    """E-mail a reset link if `email` names an account that may sign in at `tenant` and was
    sent fewer than `RESET_MAILS_PER_HOUR` links this hour; whether one was queued. The
    caller answers the same either way."""
    from core.mail.operations import queue_mail, tenant_address

    try:
        user = find_user(email)
    except IdentityError:
        return False
    if user is None or not may_sign_in_here(user, tenant):
        return False
    if tenant_address(tenant) is None:
        logger.warning(
            "no password reset e-mail: the link needs the tenant's address "
            "(set CELLULE_PUBLIC_URL or CELLULE_BASE_DOMAIN, or give the tenant a domain)"
        )
        return False
    if not _reset_mail_allowed(user):
        audit(tenant, user, "staff.password_reset_limited", actor=SYSTEM)
        return False
    queue_mail(
        tenant.id,
        user.email,
        "password_reset",
        locale=locale,
        params={"institution": tenant.name, "token": password_reset_token(user, tenant)},
    )
    audit(tenant, user, "staff.password_reset_requested", actor=SYSTEM)
    return True
