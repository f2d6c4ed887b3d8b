"""Who is signed in to a tenant's back office, and the checks every staff page makes.

A staff session belongs to one tenant: it starts on that tenant's sign-in page, holds the
tenant's id, and counts only there (one host can serve several tenants under `/t/<slug>/`).
It is complete once the second factor is checked, and ends after `STAFF_IDLE_SECONDS`
without a request.
"""

import functools
import time

from flask import abort, current_app, g, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from core.committees.models import CommitteeMember
from core.extensions import db
from core.identity.models import Role, User
from core.identity.operations import roles_of
from core.memo import memoized

SESSION_KEY = "staff"


def idle_seconds() -> int:
    return current_app.config["CELLULE_STAFF_IDLE_MINUTES"] * 60


def start_staff_session(user: User, tenant, *, second_factor: bool) -> None:
    """Sign `user` in to `tenant`'s back office (`tenant` None: the platform operator's pages);
    `second_factor` says the TOTP (or a recovery code) was checked. A session without it
    reaches only the second-factor pages."""
    session.clear()  # a new identity never inherits what the session held before
    login_user(user)
    session[SESSION_KEY] = {
        "tenant": tenant.id if tenant is not None else None,
        "second_factor": second_factor,
        "seen": int(time.time()),
    }
    session.permanent = False


def complete_second_factor() -> None:
    state = dict(session[SESSION_KEY])
    state["second_factor"] = True
    state["seen"] = int(time.time())
    session[SESSION_KEY] = state


def end_staff_session() -> None:
    logout_user()
    session.clear()


def staff_session_state() -> dict | None:
    """The staff session for the tenant of this request (the platform's, on the platform's
    own pages), if one is live (else None)."""
    state = session.get(SESSION_KEY)
    tenant = g.get("tenant")
    if not state or state.get("tenant") != (tenant.id if tenant is not None else None):
        return None
    if not current_user.is_authenticated:
        end_staff_session()  # the account was disabled (or deleted) since: out for good
        return None
    if time.time() - state.get("seen", 0) > idle_seconds():
        end_staff_session()
        return None
    return state


def has_standing(user: User, tenant_id: int) -> bool:
    """Whether `user` works for the tenant at all: a role, or a seat on one of its committees."""
    if roles_of(tenant_id, user):
        return True
    return (
        db.session.scalar(
            select(CommitteeMember.id)
            .where(CommitteeMember.tenant_id == tenant_id, CommitteeMember.user_id == user.id)
            .limit(1)
        )
        is not None
    )


def staff_required(*roles: Role, second_factor: bool = True):
    """Decorate a back-office view: a live staff session of this tenant, with the second
    factor checked (unless `second_factor=False`, for the enrolment pages), from an active
    account with standing in the tenant and, if `roles` are given, one of them.

    Sets ``g.staff`` (the User) and ``g.staff_roles``. Without a session the visitor is sent
    to the sign-in page; a session without the role gets 403.
    """

    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if request.method in ("GET", "HEAD"):
                # a page that only reads asks each need-to-know question once (core.memo)
                with memoized():
                    return checked(*args, **kwargs)
            return checked(*args, **kwargs)

        def checked(*args, **kwargs):
            if g.get("tenant") is None:
                abort(404)
            state = staff_session_state()
            if state is None:
                return redirect(url_for("staff_auth.login", next=request.full_path))
            user: User = current_user._get_current_object()
            if not user.is_active or not has_standing(user, g.tenant.id):
                end_staff_session()
                return redirect(url_for("staff_auth.login"))
            if second_factor and not state.get("second_factor"):
                return redirect(url_for("staff_auth.second_factor", next=request.full_path))
            g.staff, g.staff_roles = user, roles_of(g.tenant.id, user)
            if roles and not g.staff_roles & set(roles):
                abort(403)
            state = dict(state)
            state["seen"] = int(time.time())
            session[SESSION_KEY] = state
            return view(*args, **kwargs)

        return wrapped

    return decorate


def operator_required(view):
    """Decorate a platform operator's page (served outside any tenant): a live platform
    session, second factor checked, from an active platform operator account; else 404
    inside a tenant, the sign-in page without a session, 403 for other accounts."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if g.get("tenant") is not None:
            abort(404)
        state = staff_session_state()
        if state is None:
            return redirect(url_for("staff_auth.login", next=request.full_path))
        user: User = current_user._get_current_object()
        if not user.is_active:
            end_staff_session()
            return redirect(url_for("staff_auth.login"))
        if not state.get("second_factor"):
            return redirect(url_for("staff_auth.second_factor", next=request.full_path))
        if not user.is_platform_operator:
            abort(403)
        g.staff, g.staff_roles = user, set()
        state = dict(state)
        state["seen"] = int(time.time())
        session[SESSION_KEY] = state
        return view(*args, **kwargs)

    return wrapped
