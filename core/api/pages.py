"""The API tokens page: every staff member makes her own tokens, for one of her roles, with
a fresh code of her authenticator app (the secret is shown to her once), and revokes them;
a tenant admin sees every token of the tenant and revokes any, but makes none for anyone
else and never sees a secret."""

from flask import Blueprint, abort, flash, g, make_response, redirect, render_template, url_for
from flask_babel import gettext as _

from core.api.forms import RevokeForm, TokenForm
from core.api.operations import (
    ApiTokenError,
    create_own_token,
    find_token,
    may_manage_token,
    revoke_token,
    tenant_tokens,
)
from core.extensions import db
from core.identity import security
from core.identity.access import staff_required
from core.identity.models import Role
from core.identity.views import locked_out
from core.tenancy.forms import ROLE_LABELS

bp = Blueprint("api_tokens", __name__, url_prefix="/staff", template_folder="templates")

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _token_form(*, blank: bool = False) -> TokenForm:
    form = TokenForm(formdata=None) if blank else TokenForm()
    form.role.choices = [
        (role.value, str(ROLE_LABELS[role])) for role in Role if role in g.staff_roles
    ]
    return form


@bp.route("/api-tokens", methods=["GET", "POST"])
@staff_required()
def tokens():
    form = _token_form()
    created = None
    if form.validate_on_submit():
        role = Role(form.role.data)
        try:
            token, secret = create_own_token(
                g.tenant.id, g.staff, role, form.name.data, form.code.data
            )
        except ApiTokenError as problem:
            db.session.rollback()
            if problem.code == "code":
                locked = security.record_failure(g.staff, g.tenant, step="second_factor")
                db.session.commit()
                if locked:
                    return locked_out(None)
            field = {"name": form.name, "code": form.code}.get(problem.code, form.role)
            field.errors = [*field.errors, str(problem)]
        else:
            db.session.commit()
            created = {"token": token, "secret": secret, "role": ROLE_LABELS[token.role]}
            form = _token_form(blank=True)
    status = 422 if form.errors else 200
    manages_all = Role.ADMIN in g.staff_roles
    response = make_response(
        render_template(
            "api/tokens.html",
            form=form,
            created=created,
            manages_all=manages_all,
            tokens=tenant_tokens(g.tenant.id, user=None if manages_all else g.staff),
            role_labels=ROLE_LABELS,
        ),
        status,
    )
    response.headers.update(NO_STORE)  # it may hold a secret shown once
    return response


@bp.route("/api-tokens/<public_id>/revoke", methods=["POST"])
@staff_required()
def revoke(public_id: str):
    token = find_token(g.tenant.id, public_id)
    if token is None or not may_manage_token(g.staff, token):
        abort(404)
    if not RevokeForm().validate_on_submit():
        abort(400)
    if revoke_token(token, actor=g.staff):
        flash(_("The token “%(name)s” is revoked: it no longer works.", name=token.name), "info")
    db.session.commit()
    return redirect(url_for("api_tokens.tokens"), 303)
