"""Staff sign-in: password, second factor (TOTP or a recovery code), password reset.

On a tenant's host (or under `/t/<slug>/`) the staff of that tenant sign in; at the
platform's root, the platform operators. The password step opens a session that reaches
only the second-factor pages (`start_staff_session(..., second_factor=False)`); a code
completes it. Every answer of these pages is kept out of caches.
"""

import functools
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_user

from core.extensions import db
from core.identity import security
from core.identity.access import (
    complete_second_factor,
    end_staff_session,
    operator_required,
    staff_required,
    staff_session_state,
    start_staff_session,
)
from core.identity.forms import (
    ChangePasswordForm,
    EnrolForm,
    ForgotPasswordForm,
    LoginForm,
    NewRecoveryCodesForm,
    ResetPasswordForm,
    SecondFactorForm,
)
from core.identity.models import Role
from core.identity.operations import roles_of
from core.tenancy.operations import SUPPORTED_LOCALES

bp = Blueprint("staff_auth", __name__, url_prefix="/staff", template_folder="templates")

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
FEW_RECOVERY_CODES = 3


@bp.before_app_request
def _forget_the_previous_requests_user():
    # Flask-Login keeps the signed-in user on `g`, which outlives a request when an app
    # context was already pushed (tests, CLI): every request loads it from its own session.
    g.pop("_login_user", None)


def page(template: str, status: int = 200, **context):
    response = make_response(render_template(f"staff_auth/{template}", **context), status)
    response.headers.update(NO_STORE)
    return response


def locked_message() -> str:
    return _(
        "This account is locked for a few minutes after too many attempts. Please wait "
        "15 minutes and try again, or choose a new password with the link below."
    )


# -- where to go next --------------------------------------------------------------------------


def safe_next(value: str | None) -> str | None:
    """`value` if it is a path on this site (what the staff pages put in `next`), else None:
    never another site's address, written plainly (`https://…`), protocol-relative (`//…`)
    or in a form browsers read as one (a backslash, a control character)."""
    if not value or len(value) > 2000 or not value.startswith("/") or value.startswith("//"):
        return None
    if "\\" in value or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return value.rstrip("?")


def landing_url(user) -> str:
    """The first page of `user`'s work here: the cases, administration or the audit trail,
    as their roles say; their account page when none of those pages exists."""
    tenant = g.get("tenant")
    if tenant is None:
        candidates = ["operator.index"]
    else:
        roles = roles_of(tenant.id, user)
        candidates = []
        if not roles or roles - {Role.ADMIN, Role.AUDITOR}:
            candidates.append("cases.inbox")  # a role with cases, or a committee seat
        if Role.ADMIN in roles:
            candidates.append("admin.index")
        if Role.AUDITOR in roles:
            candidates.append("audit.trail")
    for endpoint in candidates:
        if endpoint in current_app.view_functions:
            return url_for(endpoint)
    return url_for("staff_auth.account")


def carry_on(user, next_path: str | None):
    """To the page the person was going to (under this tenant's prefix), else their first."""
    if next_path:
        return redirect(request.script_root + next_path, 303)
    return redirect(landing_url(user), 303)


# -- who is here -----------------------------------------------------------------------------


def pending_sign_in():
    """(account, session state) of the sign-in in progress on these pages: the password
    step done here and not idle for too long, by an account that may still sign in here.
    None otherwise (the session is then ended if it was for an account that may not)."""
    state = staff_session_state()
    if state is None:
        return None
    user = current_user._get_current_object()
    if not security.may_sign_in_here(user, g.get("tenant")):
        end_staff_session()
        return None
    return user, state


def signed_in(view):
    """A page of the signed-in person's own account: any staff member of this tenant, or
    at the platform's root the operator (second factor checked in both cases)."""
    for_staff, for_operator = staff_required()(view), operator_required(view)

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        chosen = for_staff if g.get("tenant") is not None else for_operator
        return chosen(*args, **kwargs)

    return wrapped


def tenant_only() -> None:
    if g.get("tenant") is None:
        abort(404)  # password reset e-mails link to a tenant's pages


def locked_out(next_path: str | None):
    end_staff_session()
    flash(locked_message(), "error")
    return redirect(url_for("staff_auth.login", next=next_path), 303)


# -- signing in ------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_path = safe_next(request.args.get("next"))
    form = LoginForm()
    problem, status = None, 200
    if form.validate_on_submit():
        tenant = g.get("tenant")
        try:
            user = security.sign_in_with_password(form.email.data, form.password.data, tenant)
        except security.SignInRefused as refusal:
            db.session.commit()  # the failure's count and audit event
            if refusal.locked:
                problem, status = locked_message(), 429
            else:
                problem, status = _("The e-mail address or the password is not right."), 422
        else:
            start_staff_session(user, tenant, second_factor=False)
            db.session.commit()  # a password hash made stronger
            step = "second_factor" if security.has_second_factor(user) else "enrol"
            return redirect(url_for(f"staff_auth.{step}", next=next_path), 303)
    return page("login.html", status, form=form, problem=problem, next_path=next_path)


@bp.route("/second-factor", methods=["GET", "POST"])
def second_factor():
    next_path = safe_next(request.args.get("next"))
    pending = pending_sign_in()
    if pending is None:
        return redirect(url_for("staff_auth.login", next=next_path), 303)
    user, state = pending
    if state.get("second_factor"):
        return carry_on(user, next_path)
    if not security.has_second_factor(user):
        return redirect(url_for("staff_auth.enrol", next=next_path), 303)
    if security.is_locked(user):
        return locked_out(next_path)
    tenant = g.get("tenant")
    form = SecondFactorForm()
    problem, status = None, 200
    if form.validate_on_submit():
        method = security.check_second_factor(user, form.code.data, tenant)
        if method is not None:
            security.record_sign_in(user, tenant, method=method)
            complete_second_factor()
            db.session.commit()
            if method == "recovery_code":
                left = security.recovery_codes_left(user)
                flash(
                    _(
                        "You signed in with a recovery code; it cannot be used again. "
                        "Recovery codes left: %(count)s.",
                        count=left,
                    ),
                    "notice",
                )
                if left <= FEW_RECOVERY_CODES:
                    flash(_("Please make new recovery codes on your account page."), "notice")
            return carry_on(user, next_path)
        locked = security.record_failure(user, tenant, step="second_factor")
        db.session.commit()
        if locked:
            return locked_out(next_path)
        problem, status = (
            _(
                "This code is not right. Please type the code the app shows now (check that "
                "your phone is on time), or one of your recovery codes."
            ),
            422,
        )
    return page("second_factor.html", status, form=form, problem=problem, next_path=next_path)


@bp.route("/enrol", methods=["GET", "POST"])
def enrol():
    next_path = safe_next(request.args.get("next"))
    pending = pending_sign_in()
    if pending is None:
        return redirect(url_for("staff_auth.login", next=next_path), 303)
    user, state = pending
    if security.has_second_factor(user):
        # replacing a second factor needs the operator (`cellule user reset-2fa`), never
        # only the password
        if state.get("second_factor"):
            return redirect(url_for("staff_auth.account"), 303)
        return redirect(url_for("staff_auth.second_factor", next=next_path), 303)
    if security.is_locked(user):
        return locked_out(next_path)
    tenant = g.get("tenant")
    secret = security.begin_enrolment(user)
    db.session.commit()
    form = EnrolForm()
    problem, status = None, 200
    if form.validate_on_submit():
        codes = security.confirm_enrolment(user, form.code.data, tenant)
        if codes is not None:
            security.record_sign_in(user, tenant, method="enrolment")
            complete_second_factor()
            db.session.commit()
            return page(
                "recovery_codes.html",
                codes=codes,
                continue_url=request.script_root + next_path if next_path else landing_url(user),
            )
        problem, status = (
            _(
                "This code is not right. Please check that the app shows this account, "
                "then type the code it shows now."
            ),
            422,
        )
    return page(
        "enrol.html",
        status,
        form=form,
        problem=problem,
        next_path=next_path,
        qr_code=security.qr_code_svg_uri(security.provisioning_uri(user, secret)),
        secret=security.grouped(secret),
    )


@bp.route("/logout", methods=["POST"])
def logout():
    # the CSRF token was checked before this runs (CSRFProtect), so no other site can sign
    # anyone out
    if staff_session_state() is not None:
        security.audit(g.get("tenant"), current_user._get_current_object(), "staff.sign_out")
        db.session.commit()
    end_staff_session()
    flash(_("You are signed out."), "notice")
    return redirect(url_for("staff_auth.login"), 303)


# -- forgotten password ----------------------------------------------------------------------


def mail_locale() -> str:
    locale = str(get_locale())
    return locale if locale in SUPPORTED_LOCALES else g.tenant.default_locale


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot_password():
    tenant_only()
    form = ForgotPasswordForm()
    sent = False
    if form.validate_on_submit():
        security.request_password_reset(form.email.data, g.tenant, locale=mail_locale())
        db.session.commit()
        sent = True  # the same answer whether or not the address has an account here
    return page("forgot.html", form=form, sent=sent)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    tenant_only()
    user = security.user_for_reset_token(token, g.tenant)
    if user is None:
        return page("reset_expired.html", 410)
    form = ResetPasswordForm()
    if form.validate_on_submit():
        security.set_new_password(user, form.password.data, g.tenant, action="staff.password_reset")
        # the new password is the first step; the second factor is still asked for
        start_staff_session(user, g.tenant, second_factor=False)
        db.session.commit()
        flash(_("Your new password is saved."), "notice")
        step = "second_factor" if security.has_second_factor(user) else "enrol"
        return redirect(url_for(f"staff_auth.{step}"), 303)
    return page("reset.html", 422 if form.errors else 200, form=form, token=token)


# -- the person's own account ----------------------------------------------------------------


def account_page(status: int = 200, *, password_form=None, codes_form=None):
    return page(
        "account.html",
        status,
        password_form=password_form or ChangePasswordForm(formdata=None),
        codes_form=codes_form or NewRecoveryCodesForm(formdata=None),
        codes_left=security.recovery_codes_left(g.staff),
    )


@bp.route("/account")
@signed_in
def account():
    return account_page()


@bp.route("/account/password", methods=["POST"])
@signed_in
def change_password():
    tenant = g.get("tenant")
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if security.confirm_current_password(g.staff, form.current.data):
            security.set_new_password(
                g.staff, form.password.data, tenant, action="staff.password_changed"
            )
            db.session.commit()
            login_user(g.staff)  # this session goes on; the others end with the old password
            flash(_("Your password is changed."), "notice")
            return redirect(url_for("staff_auth.account"), 303)
        locked = security.record_failure(g.staff, tenant, step="password_change")
        db.session.commit()
        if locked:
            return locked_out(None)
        form.current.errors.append(_("This is not your current password."))
    return account_page(422, password_form=form)


@bp.route("/account/recovery-codes", methods=["POST"])
@signed_in
def new_recovery_codes():
    tenant = g.get("tenant")
    form = NewRecoveryCodesForm()
    if form.validate_on_submit():
        if security.check_totp(g.staff, form.code.data):
            codes = security.new_recovery_codes(g.staff, tenant)
            db.session.commit()
            return page(
                "recovery_codes.html", codes=codes, continue_url=url_for("staff_auth.account")
            )
        locked = security.record_failure(g.staff, tenant, step="second_factor")
        db.session.commit()
        if locked:
            return locked_out(None)
        form.code.errors.append(
            _("This code is not right. Please type the code the app shows now.")
        )
    return account_page(422, codes_form=form)
