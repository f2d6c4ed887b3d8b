"""Creating staff accounts and granting roles."""

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from core.audit.operations import record_event
from core.extensions import db
from core.identity.models import Membership, Role, User

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


def roles_of(tenant_id: int, user: User) -> set[Role]:
    return set(
        db.session.scalars(
            select(Membership.role).where(
                Membership.tenant_id == tenant_id, Membership.user_id == user.id
            )
        )
    )
