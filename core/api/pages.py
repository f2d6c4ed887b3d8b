"""The tenant admin's page for API tokens: make one for a staff member and one of her roles
(its secret is shown once), see every token, revoke one."""

from flask import Blueprint, abort, flash, g, make_response, redirect, render_template, url_for
from flask_babel import gettext as _

from core.api.forms import RevokeForm, TokenForm
from core.api.operations import (
    ApiTokenError,
    create_token,
    find_token,
    revoke_token,
    tenant_tokens,
    token_grants,
)
from core.extensions import db
from core.identity.access import staff_required
from core.identity.models import Role
from core.tenancy.forms import ROLE_LABELS

bp = Blueprint("api_tokens", __name__, url_prefix="/staff", template_folder="templates")

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _holder_choices(grants) -> list[tuple[str, str]]:
    return [
        (
            f"{user.public_id}:{role.value}",
            f"{user.display_name} ({user.email}) — {ROLE_LABELS[role]}",
        )
        for user, role in grants
    ]


@bp.route("/api-tokens", methods=["GET", "POST"])
@staff_required(Role.ADMIN)
def tokens():
    grants = token_grants(g.tenant.id)
    form = TokenForm()
    form.holder.choices = _holder_choices(grants)
    created = None
    if form.validate_on_submit():
        public_id, _sep, role = form.holder.data.partition(":")
        user = next(u for u, r in grants if u.public_id == public_id and r.value == role)
        try:
            token, secret = create_token(
                g.tenant.id, user, Role(role), form.name.data, actor=g.staff
            )
        except ApiTokenError as problem:
            db.session.rollback()
            field = form.name if problem.code == "name" else form.holder
            field.errors = [*field.errors, str(problem)]
        else:
            db.session.commit()
            created = {
                "token": token,
                "secret": secret,
                "holder": user,
                "role": ROLE_LABELS[token.role],
            }
            form = TokenForm(formdata=None)
            form.holder.choices = _holder_choices(grants)
    status = 422 if form.errors else 200
    response = make_response(
        render_template(
            "api/tokens.html",
            form=form,
            created=created,
            tokens=tenant_tokens(g.tenant.id),
            role_labels=ROLE_LABELS,
        ),
        status,
    )
    response.headers.update(NO_STORE)  # it may hold a secret shown once
    return response


@bp.route("/api-tokens/<public_id>/revoke", methods=["POST"])
@staff_required(Role.ADMIN)
def revoke(public_id: str):
    token = find_token(g.tenant.id, public_id)
    if token is None:
        abort(404)
    if not RevokeForm().validate_on_submit():
        abort(400)
    if revoke_token(token, actor=g.staff):
        flash(_("The token “%(name)s” is revoked: it no longer works.", name=token.name), "info")
    db.session.commit()
    return redirect(url_for("api_tokens.tokens"), 303)
