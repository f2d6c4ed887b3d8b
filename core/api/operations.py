"""What the JSON API does: tokens made by their holders and revoked by them or a tenant's
admins, and the cases, deadlines and people a token's holder may reach.

Every function takes the acting user (or "platform") and the tenant or its institution as
arguments and writes its audit event in the caller's transaction; views and the CLI commit.
What a caller may see is decided here, with the back office's own rule
(`core.cases.access.may_see_case`), never in a schema.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

from flask import has_request_context
from flask_babel import gettext
from sqlalchemy import and_, or_, select

from core.api.auth import new_secret, token_digest
from core.api.models import ApiToken
from core.audit.operations import record_event
from core.cases.access import may_see_case
from core.cases.inbox import candidates_clause
from core.cases.models import Case, Deadline
from core.extensions import db
from core.identity.access import has_standing
from core.identity.models import Role, User
from core.identity.operations import roles_of
from core.identity.security import check_totp
from core.procedure.definition import Institution
from core.types import utcnow


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated when shown."""
    return message


NAME_LENGTH = 100
# the most cases (or deadlines) one request reads to fill a page; see `_scan`
SCAN_LIMIT = 2000


class ApiTokenError(ValueError):
    """A token that cannot be made or changed as asked; nothing was stored.

    ``str()`` gives the reason in the reader's language inside a request, in English
    elsewhere (the CLI).
    """

    def __init__(self, code: str, message: str, **params):
        self.code, self.template, self.params = code, message, params
        super().__init__(message % params)

    def __str__(self) -> str:
        if not has_request_context():
            return self.template % self.params
        return gettext(self.template) % self.params


# -- tokens --------------------------------------------------------------------------------


def _checked_request(tenant_id: int, user: User, role: Role, name: str) -> str:
    """The token's name, trimmed, if a token with this name and role may act as `user`;
    else ApiTokenError."""
    name = (name or "").strip()
    if not name:
        raise ApiTokenError("name", N_("Please give the token a name, such as what it is for."))
    if len(name) > NAME_LENGTH:
        raise ApiTokenError(
            "name", N_("A token's name has at most %(count)s characters."), count=NAME_LENGTH
        )
    if not user.is_active:
        raise ApiTokenError("user", N_("This account is disabled."))
    if role not in roles_of(tenant_id, user):
        raise ApiTokenError("role", N_("This person does not hold this role here."))
    return name


def create_token(
    tenant_id: int, user: User, role: Role, name: str, *, actor
) -> tuple[ApiToken, str]:
    """Make a token acting as `user` with one of her roles in the tenant; return it with its
    secret, which is shown once and never stored (only its SHA-256 is).

    A token acts as its holder, so only she makes one (`create_own_token`, which asks her
    for a fresh TOTP code), or the platform's operator from the server's command line
    (`actor` "platform"). No one else — a tenant admin included — may: whoever saw the
    secret could read and act on her cases as her.
    """
    if actor != "platform" and getattr(actor, "id", None) != user.id:
        raise ApiTokenError(
            "holder", N_("Only the person a token acts as can make it, on their own account.")
        )
    name = _checked_request(tenant_id, user, role, name)
    secret = new_secret()
    token = ApiToken(
        tenant_id=tenant_id,
        user_id=user.id,
        name=name,
        role=role,
        token_hash=token_digest(secret),
        created_at=utcnow(),
    )
    db.session.add(token)
    db.session.flush()
    record_event(
        tenant_id,
        actor=actor,
        action="api_token.created",
        target=("api_token", token.public_id),
        details={"user": user.public_id, "role": role.value},
    )
    return token, secret


def create_own_token(
    tenant_id: int, user: User, role: Role, name: str, code: str
) -> tuple[ApiToken, str]:
    """A staff member makes a token acting as herself, with one of her roles, proving it is
    her with a fresh code of her authenticator app (a stolen session alone is not enough).
    A wrong code raises ApiTokenError with ``code == "code"``: the caller counts the failure
    (`core.identity.security.record_failure`) after rolling back."""
    _checked_request(tenant_id, user, role, name)
    if not check_totp(user, code or ""):
        raise ApiTokenError(
            "code", N_("This code is not right. Please type the code the app shows now.")
        )
    return create_token(tenant_id, user, role, name, actor=user)


def may_manage_token(user: User, token: ApiToken) -> bool:
    """Whether `user` may see `token` listed and revoke it: its holder, or an admin of its
    tenant. Nobody but the holder, once, ever sees a secret."""
    return token.user_id == user.id or Role.ADMIN in roles_of(token.tenant_id, user)


def revoke_token(token: ApiToken, *, actor) -> bool:
    """Revoke `token` at once (its next request is refused); False if it already was."""
    if actor != "platform" and not may_manage_token(actor, token):
        raise ApiTokenError("holder", N_("Only its holder or an administrator revokes a token."))
    if token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    holder = db.session.get(User, token.user_id)
    record_event(
        token.tenant_id,
        actor=actor,
        action="api_token.revoked",
        target=("api_token", token.public_id),
        details={"user": holder.public_id if holder else None, "role": token.role.value},
    )
    return True


def find_token(tenant_id: int, public_id: str) -> ApiToken | None:
    return db.session.scalar(
        select(ApiToken).where(ApiToken.tenant_id == tenant_id, ApiToken.public_id == public_id)
    )


def tenant_tokens(tenant_id: int, *, user: User | None = None) -> list[tuple[ApiToken, User]]:
    """Every token of the tenant (or only `user`'s) with its holder, live ones first,
    newest first."""
    query = (
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.tenant_id == tenant_id)
        .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc(), ApiToken.id)
    )
    if user is not None:
        query = query.where(ApiToken.user_id == user.id)
    return [(token, holder) for token, holder in db.session.execute(query)]


# -- need to know ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """One page of a keyset-paginated list: its items, and the key after which the next
    page starts (None on the last page). A page may hold fewer items than asked for while
    more follow (see `_scan`): only a missing key says the list is over."""

    items: list
    after: tuple | None


def visible_case(user: User, institution: Institution, public_id: str) -> Case | None:
    """The case `public_id` if `user` may see it now; None if it does not exist here or
    is not hers to see (the API answers both alike)."""
    case = db.session.scalar(
        select(Case).where(Case.tenant_id == institution.info.id, Case.public_id == public_id)
    )
    if case is None or not may_see_case(user, case, institution):
        return None
    return case


def visible_cases(
    user: User,
    institution: Institution,
    *,
    state: str | None = None,
    updated_since: datetime | None = None,
    after: tuple[datetime, str] | None = None,
    limit: int = 50,
) -> Page:
    """The cases `user` may see, least recently updated first, `limit` at a time.

    Keyset pagination on (updated_at, public_id): a page starts after the last case of the
    one before, so no case is listed twice or skipped while the list is read, and a case
    that changes meanwhile comes again at the end (an integration that syncs sees it).
    """
    query = (
        select(Case)
        .where(Case.tenant_id == institution.info.id, candidates_clause(user, institution))
        .order_by(Case.updated_at, Case.public_id)
    )
    if state is not None:
        query = query.where(Case.state == state)
    if updated_since is not None:
        query = query.where(Case.updated_at >= updated_since)
    found = _scan(
        query,
        after,
        lambda case: (case.updated_at, case.public_id),
        lambda key: or_(
            Case.updated_at > key[0], and_(Case.updated_at == key[0], Case.public_id > key[1])
        ),
        lambda case: may_see_case(user, case, institution),
        limit,
    )
    return Page(*found)


def visible_deadlines(
    user: User,
    institution: Institution,
    *,
    due_before: datetime | None = None,
    overdue: bool | None = None,
    after: tuple[datetime, str] | None = None,
    limit: int = 50,
    now: datetime | None = None,
) -> Page:
    """The open deadlines of the cases `user` may see, soonest due first, as (deadline,
    case) pairs; `overdue` True keeps the ones already past, False the ones still ahead."""
    now = now or utcnow()
    query = (
        select(Deadline, Case)
        .join(Case, Case.id == Deadline.case_id)
        .where(
            Deadline.tenant_id == institution.info.id,
            Deadline.met_at.is_(None),
            Deadline.cancelled_at.is_(None),
            candidates_clause(user, institution),
        )
        .order_by(Deadline.due_at, Deadline.public_id)
    )
    if due_before is not None:
        query = query.where(Deadline.due_at < due_before)
    if overdue is True:
        query = query.where(Deadline.due_at < now)
    elif overdue is False:
        query = query.where(Deadline.due_at >= now)
    seen: dict[int, bool] = {}

    def may_see(row) -> bool:
        case = row[1]
        if case.id not in seen:
            seen[case.id] = may_see_case(user, case, institution)
        return seen[case.id]

    found = _scan(
        query,
        after,
        lambda row: (row[0].due_at, row[0].public_id),
        lambda key: or_(
            Deadline.due_at > key[0],
            and_(Deadline.due_at == key[0], Deadline.public_id > key[1]),
        ),
        may_see,
        limit,
    )
    return Page(*found)


def _scan(query, after, key_of, after_key, keep, limit: int) -> tuple[list, tuple | None]:
    """Up to `limit` rows of `query` that `keep` accepts, read in batches from just after
    the key `after`, and the key the next page starts after (None at the end).

    At most `SCAN_LIMIT` rows are read per call: past that, the page ends early with the
    key of the last row read, so that one request's work stays bounded; those rows were
    not `keep`'s, so nothing is skipped and nothing comes twice.
    """
    batch_size = max(2 * limit, 100)
    kept, scanned = [], 0
    while True:
        batch_query = query if after is None else query.where(after_key(after))
        rows = [
            row[0] if len(row) == 1 else tuple(row)
            for row in db.session.execute(batch_query.limit(batch_size))
        ]
        for item in rows:
            scanned += 1
            if keep(item):
                if len(kept) == limit:
                    return kept, key_of(kept[-1])
                kept.append(item)
            if scanned >= SCAN_LIMIT:
                return kept, key_of(item)
        if len(rows) < batch_size:
            return kept, None
        after = key_of(rows[-1])


# -- cursors ---------------------------------------------------------------------------------


class CursorError(ValueError):
    """A pagination cursor this API did not give (or gave for another list)."""


def encode_cursor(kind: str, key: tuple[datetime, str]) -> str:
    """An opaque cursor for the key a page ends on; it holds no database id."""
    raw = json.dumps({"k": kind, "t": key[0].isoformat(), "p": key[1]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        if data["k"] != kind or not isinstance(data["p"], str):
            raise CursorError(cursor)
        moment = datetime.fromisoformat(data["t"])
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise CursorError(cursor) from exc
    if moment.tzinfo is None:
        raise CursorError(cursor)
    return moment, data["p"]


# -- people and reads ------------------------------------------------------------------------


def staff_by_public_ids(tenant_id: int, public_ids: list[str]) -> tuple[list[User], list[str]]:
    """The tenant's staff members with these public ids, in the order given, and the ids
    that name no one working for the tenant."""
    wanted = list(dict.fromkeys(public_ids))
    users = {
        user.public_id: user
        for user in db.session.scalars(select(User).where(User.public_id.in_(wanted)))
        if has_standing(user, tenant_id)
    }
    return [users[p] for p in wanted if p in users], [p for p in wanted if p not in users]


def _api_details(token: ApiToken, actor: User) -> dict:
    """What every API audit event says of how it was done: the token and its holder, by
    their public ids."""
    return {"via": "api", "token": token.public_id, "holder": actor.public_id}


def record_api_read(case: Case, *, actor: User, token: ApiToken, part: str) -> None:
    """A staff member read part of a case through the API: an audit event, like every read
    of a case in the back office."""
    record_event(
        case.tenant_id,
        actor=actor,
        action="case.read",
        target=("case", case.public_id),
        details={**_api_details(token, actor), "part": part},
    )


def record_api_list(tenant_id: int, *, actor: User, token: ApiToken, kind: str, count: int) -> None:
    """A staff member read one page of a list (`kind`: "cases" or "deadlines") through the
    API: one audit event per page, saying how many items it held and nothing of them."""
    record_event(
        tenant_id,
        actor=actor,
        action="api.list_read",
        target=("api_token", token.public_id),
        details={**_api_details(token, actor), "list": kind, "count": count},
    )
