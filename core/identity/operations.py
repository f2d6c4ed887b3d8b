"""Creating staff accounts and granting roles."""

import hmac
import secrets
from collections.abc import Iterable
from contextvars import ContextVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from core.audit.operations import record_event
from core.extensions import db
from core.identity.models import Membership, Role, User
from core.memo import remember

password_hasher = PasswordHasher()  # argon2id with the library's recommended parameters


class IdentityError(ValueError):
    """A request about accounts that cannot be carried out as asked."""


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        raise IdentityError(f"not an e-mail address: {email!r}")
    return email


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


def user_of_session(session_id: str) -> User | None:
    """The account a staff session names (`User.get_id`), if its password is unchanged since."""
    public_id, _, fingerprint = session_id.partition(":")
    user = load_user(public_id)
    if user is None or not hmac.compare_digest(fingerprint, user.password_fingerprint):
        return None
    return user


def load_user(public_id: str) -> User | None:
    return db.session.scalar(select(User).where(User.public_id == public_id))


def create_user(
    email: str, display_name: str, password: str | None, *, password_hash: str | None = None
) -> User:
    """Create a staff account with an argon2id password hash.

    `password_hash` gives an existing argon2id hash instead of a password (accounts made in
    bulk: the demo, the test kit, benchmarks), sparing a deliberately slow hash per account.
    """
    if password_hash is None and (password is None or len(password) < 12):
        raise IdentityError("a password needs at least 12 characters")
    email = normalise_email(email)
    if find_user(email) is not None:
        raise IdentityError(f"a user with e-mail {email} already exists")
    user = User(
        email=email,
        display_name=display_name,
        password_hash=password_hash or password_hasher.hash(password),
    )
    db.session.add(user)
    db.session.flush()
    return user


def set_password(user: User, password: str) -> None:
    if len(password) < 12:
        raise IdentityError("a password needs at least 12 characters")
    user.password_hash = password_hasher.hash(password)


def check_password(user: User, password: str) -> bool:
    try:
        password_hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if password_hasher.check_needs_rehash(user.password_hash):
        user.password_hash = password_hasher.hash(password)
    return True


def grant_role(tenant_id: int, user: User, role: Role, *, actor) -> Membership:
    """Give `user` a role in the tenant (idempotent), audited."""
    existing = db.session.scalar(
        select(Membership).where(
            Membership.tenant_id == tenant_id,
            Membership.user_id == user.id,
            Membership.role == role,
        )
    )
    if existing is not None:
        return existing
    membership = Membership(tenant_id=tenant_id, user_id=user.id, role=role)
    db.session.add(membership)
    db.session.flush()
    record_event(
        tenant_id,
        actor=actor,
        action="membership.granted",
        target=("user", user.public_id),
        details={"role": role.value},
    )
    return membership


# (user id, roles) while a request acts with fewer roles than its user holds (an API token)
_role_limit: ContextVar[tuple[int, frozenset[Role]] | None] = ContextVar(
    "cellule_role_limit", default=None
)


# the roles whose work is handling cases; a committee seat is part of that work
CASE_HANDLING_ROLES = frozenset({Role.LISTENER, Role.COMMITTEE_MEMBER, Role.DECISION_MAKER})


def limit_roles(user: User, roles: Iterable[Role]):
    """Until `release_role_limit(token)`, `roles_of` gives `user` no role outside `roles`:
    a request made with an API token acts as its user with the token's role alone. Her
    committee seats count only if one of `roles` handles cases (`seats_count`): an `admin`
    or `auditor` token has no committee standing at all. Returns the token to release."""
    return _role_limit.set((user.id, frozenset(roles)))


def release_role_limit(token) -> None:
    _role_limit.reset(token)


def seats_count(user: User) -> bool:
    """Whether `user`'s committee seats give her standing now: always, unless a role limit
    is active for her (an API token) with no case-handling role — the token's role is an
    upper bound, and a seat must not lift an `admin` or `auditor` token above it."""
    limit = _role_limit.get()
    return limit is None or limit[0] != user.id or bool(limit[1] & CASE_HANDLING_ROLES)


def roles_of(tenant_id: int, user: User) -> set[Role]:
    roles = set(
        remember(
            ("roles", tenant_id, user.id),
            lambda: frozenset(
                db.session.scalars(
                    select(Membership.role).where(
                        Membership.tenant_id == tenant_id, Membership.user_id == user.id
                    )
                )
            ),
        )
    )
    limit = _role_limit.get()
    if limit is not None and limit[0] == user.id:
        roles &= limit[1]
    return roles


# -- a tenant's staff, as its admins run it -----------------------------------------------


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated when shown."""
    return message


class AccountRefusal(IdentityError):
    """A change of a tenant's staff that cannot be made; ``str()`` is in the reader's
    language inside a request, else in English."""

    def __init__(self, message: str, /, **params):
        self.template, self.params = message, params
        super().__init__(message % params if params else message)

    def __str__(self) -> str:
        from flask import has_request_context
        from flask_babel import gettext

        if not has_request_context():
            return self.args[0]
        return gettext(self.template, **self.params)


def staff_of(tenant_id: int) -> list[User]:
    """Everyone who works for the tenant: a role in it, or a seat on one of its committees."""
    from core.committees.models import CommitteeMember

    with_role = select(Membership.user_id).where(Membership.tenant_id == tenant_id)
    seated = select(CommitteeMember.user_id).where(CommitteeMember.tenant_id == tenant_id)
    return list(
        db.session.scalars(
            select(User)
            .where(User.id.in_(with_role) | User.id.in_(seated))
            .order_by(User.display_name, User.email)
        )
    )


def _admins(tenant_id: int) -> set[int]:
    return set(
        db.session.scalars(
            select(Membership.user_id).where(
                Membership.tenant_id == tenant_id, Membership.role == Role.ADMIN
            )
        )
    )


def revoke_role(tenant_id: int, user: User, role: Role, *, actor) -> None:
    """Take a role in the tenant away from `user`, audited; the tenant keeps one admin."""
    membership = db.session.scalar(
        select(Membership).where(
            Membership.tenant_id == tenant_id,
            Membership.user_id == user.id,
            Membership.role == role,
        )
    )
    if membership is None:
        raise AccountRefusal(N_("%(person)s does not have this role."), person=user.display_name)
    if role == Role.ADMIN and _admins(tenant_id) == {user.id}:
        raise AccountRefusal(
            N_("The institution must keep at least one administrator: make someone else one first.")
        )
    db.session.delete(membership)
    db.session.flush()
    record_event(
        tenant_id,
        actor=actor,
        action="membership.revoked",
        target=("user", user.public_id),
        details={"role": role.value},
    )


def remove_from_tenant(tenant_id: int, user: User, *, actor) -> dict:
    """Stop `user` working for the tenant: every role and committee seat she has there goes
    (her account, her other tenants and the history of her cases stay). Audited; says what
    was removed and on how many open cases she still sat (to be handed over)."""
    from core.committees.models import Committee, CommitteeMember
    from core.committees.operations import open_case_seats

    if actor is not None and not isinstance(actor, str) and actor.id == user.id:
        raise AccountRefusal(N_("You cannot remove your own access."))
    if _admins(tenant_id) == {user.id}:
        raise AccountRefusal(
            N_("The institution must keep at least one administrator: make someone else one first.")
        )
    memberships = list(
        db.session.scalars(
            select(Membership).where(
                Membership.tenant_id == tenant_id, Membership.user_id == user.id
            )
        )
    )
    seats = list(
        db.session.scalars(
            select(CommitteeMember).where(
                CommitteeMember.tenant_id == tenant_id, CommitteeMember.user_id == user.id
            )
        )
    )
    if not memberships and not seats:
        raise AccountRefusal(
            N_("%(person)s does not work for this institution."), person=user.display_name
        )
    committees = {
        c.id: c.key
        for c in db.session.scalars(
            select(Committee).where(Committee.id.in_([s.committee_id for s in seats]))
        )
    }
    summary = {
        "roles": sorted(m.role.value for m in memberships),
        "committees": sorted(committees[s.committee_id] for s in seats),
        "open_cases": len({row.case_id for row in open_case_seats(tenant_id, user)}),
    }
    for row in (*memberships, *seats):
        db.session.delete(row)
    db.session.flush()
    record_event(
        tenant_id,
        actor=actor,
        action="staff.removed",
        target=("user", user.public_id),
        details=summary,
    )
    return summary


def add_staff(tenant_id: int, email: str, display_name: str, roles, *, actor) -> tuple[User, bool]:
    """Give someone roles in the tenant: her existing account (a person may work for several
    institutions), or a new one with no usable password until she sets one. Says whether
    the account is new. Audited."""
    from core.tenancy.scoping import platform_scope

    roles = [Role(role) for role in dict.fromkeys(roles)]
    if not roles:
        raise AccountRefusal(N_("Choose at least one role."))
    try:
        email = normalise_email(email)
    except IdentityError:
        raise AccountRefusal(N_("This is not an e-mail address.")) from None
    user = find_user(email)
    created = user is None
    if created:
        if not display_name.strip():
            raise AccountRefusal(N_("Give the person's name."))
        with platform_scope():
            # a random password no one knows: the account opens once she sets her own
            user = create_user(email, display_name.strip(), secrets.token_urlsafe(32))
    elif user.disabled_at is not None:
        raise AccountRefusal(N_("This account is disabled on the platform."))
    for role in roles:
        grant_role(tenant_id, user, role, actor=actor)
    record_event(
        tenant_id,
        actor=actor,
        action="staff.added",
        target=("user", user.public_id),
        details={"roles": [r.value for r in roles], "new_account": created},
    )
    return user, created


def send_welcome(user: User, tenant) -> None:
    """E-mail a new account's owner a one-time link to choose her password (the password
    reset's: `core.identity.security`), in the tenant's language; audited. Refused when the
    platform cannot know the tenant's address, since the link would lead nowhere."""
    from core.identity.security import password_reset_token
    from core.mail.operations import queue_mail, tenant_address

    if tenant_address(tenant) is None:
        raise AccountRefusal(
            N_(
                "No e-mail can be sent: the platform does not know its own address. Ask the "
                "platform's operator to set CELLULE_PUBLIC_URL."
            )
        )
    queue_mail(
        tenant.id,
        user.email,
        "staff_welcome",
        locale=tenant.default_locale,
        params={"institution": tenant.name, "token": password_reset_token(user, tenant)},
    )
    record_event(
        tenant.id, actor="system", action="staff.welcome_sent", target=("user", user.public_id)
    )
