"""Administration: a tenant's admins run their tenant; the platform operator runs tenants.

Views parse and render; `core.tenancy.operations`, `core.identity.operations` and
`core.committees.operations` change the data and write the audit trail. A refusal is shown
in the reader's language and nothing is saved. Admins and operators never see a case's
content: at most a case's reference, where a handover could not move it.
"""

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from core.committees.models import Committee, CommitteeMember
from core.committees.operations import (
    CommitteeError,
    hand_over,
    open_case_seats,
    remove_member,
    seat_member,
    staffing_gaps,
    sync_committees,
)
from core.extensions import db
from core.identity.access import operator_required, staff_required
from core.identity.models import Role, User
from core.identity.operations import (
    IdentityError,
    add_staff,
    grant_role,
    remove_from_tenant,
    revoke_role,
    roles_of,
    send_welcome,
    staff_of,
)
from core.plugins.host import PluginError, plugin_host
from core.procedure.definition import Institution
from core.tenancy import operations
from core.tenancy.forms import (
    LANGUAGE_NAMES,
    ROLE_HELP,
    ROLE_LABELS,
    BrandingForm,
    DomainForm,
    HandoverForm,
    LanguagesForm,
    RemoveStaffForm,
    SeatForm,
    StaffForm,
    TenantForm,
)
from core.tenancy.models import Tenant
from core.tenancy.operations import TenancyError
from core.tenancy.scoping import platform_scope, tenant_scope

bp = Blueprint("admin", __name__, url_prefix="/staff/admin", template_folder="templates")
operator_bp = Blueprint("operator", __name__, url_prefix="/operator", template_folder="templates")

REFUSALS = (TenancyError, IdentityError, CommitteeError)
NO_STORE = {"Cache-Control": "no-store"}
NO_CHOICE = SelectChoice("", "—")


def person_choice(user: User) -> SelectChoice:
    return SelectChoice(user.public_id, f"{user.display_name} <{user.email}>")


def _done(message: str, endpoint: str, **values):
    """Commit, say what was done, and go back to the page (303: a reload sends nothing)."""
    db.session.commit()
    flash(message, "success")
    return redirect(url_for(endpoint, **values), 303)


def _refused(problem: Exception, endpoint: str, **values):
    """Undo everything, say why, and go back to the page."""
    db.session.rollback()
    flash(str(problem), "error")
    return redirect(url_for(endpoint, **values), 303)


def _plugin_refusal(problem: PluginError) -> str:
    return _(
        "This cannot be done with the institution's plugins: %(problem)s", problem=str(problem)
    )


def _form_errors(form) -> str:
    return " ".join(str(e) for errors in form.errors.values() for e in errors)


def _render(template: str, status: int = 200, **context):
    return render_template(template, **context), status, NO_STORE


def _locale() -> str:
    return str(get_locale())


def _declared_committees(locale: str | None = None) -> dict[str, dict]:
    """The committees the tenant's plugins declare, by key (texts in `locale`)."""
    return {c["key"]: c for c in plugin_host().call(g.tenant_info, "committees", locale=locale)}


def _sites(locale: str | None = None) -> dict[str, str]:
    """The institution's sites (campuses, houses), key → name."""
    profile = plugin_host().call(g.tenant_info, "institution_profile", locale=locale)
    return {site["key"]: site["name"] for site in profile["sites"]} if profile else {}


def _tenant() -> Tenant:
    return db.session.get(Tenant, g.tenant.id)


# -- the overview ------------------------------------------------------------------------------


@bp.route("/")
@staff_required(Role.ADMIN)
def index():
    tenant = _tenant()
    declared = _declared_committees(_locale())
    committees = db.session.scalars(select(Committee).order_by(Committee.name)).all()
    committees = [c for c in committees if c.key in declared]
    gaps = {c.key: staffing_gaps(c, declared[c.key]) for c in committees}
    return _render(
        "admin/index.html",
        tenant=tenant,
        staff_count=len(staff_of(tenant.id)),
        committees=committees,
        short=[c for c in committees if gaps[c.key]],
        declared=declared,
        gaps=gaps,
        sites=_sites(_locale()),
        languages=LANGUAGE_NAMES,
    )


# -- branding ----------------------------------------------------------------------------------


@bp.route("/branding", methods=["GET", "POST"])
@staff_required(Role.ADMIN)
def branding():
    tenant = _tenant()
    profile = plugin_host().call(g.tenant_info, "institution_profile")
    defaults = profile["branding"] if profile else {}
    form = BrandingForm(data=None if request.method == "POST" else tenant.branding)
    problem = None
    if form.validate_on_submit():
        mark = operations.KEEP
        if form.remove_mark.data:
            mark = None
        elif form.mark.data:
            mark = form.mark.data.read(operations.MARK_MAX_BYTES + 1)
        try:
            operations.set_branding(
                tenant,
                primary_colour=form.primary_colour.data or "",
                accent_colour=form.accent_colour.data or "",
                mark_svg=mark,
                actor=g.staff,
            )
        except TenancyError as refusal:
            db.session.rollback()
            problem = str(refusal)
        else:
            return _done(_("The branding is saved."), "admin.branding")
    elif form.is_submitted():
        problem = _form_errors(form)
    return _render(
        "admin/branding.html",
        422 if problem else 200,
        form=form,
        tenant=tenant,
        defaults=defaults,
        problem=problem,
        has_own_mark=bool((tenant.branding or {}).get("mark_svg")),
    )


# -- domains -----------------------------------------------------------------------------------


@bp.route("/domains", methods=["GET", "POST"])
@staff_required(Role.ADMIN)
def domains():
    tenant = _tenant()
    form = DomainForm()
    problem = None
    if form.validate_on_submit():
        try:
            domain = operations.add_domain(tenant, form.host.data, actor=g.staff)
        except TenancyError as refusal:
            db.session.rollback()
            problem = str(refusal)
        else:
            return _done(_("%(host)s now serves the portal.", host=domain.host), "admin.domains")
    elif form.is_submitted():
        problem = _form_errors(form)
    return _render(
        "admin/domains.html",
        422 if problem else 200,
        form=form,
        tenant=_tenant(),
        problem=problem,
    )


@bp.route("/domains/remove", methods=["POST"])
@staff_required(Role.ADMIN)
def remove_domain():
    host = request.form.get("host", "")
    try:
        operations.remove_domain(_tenant(), host, actor=g.staff)
    except TenancyError as refusal:
        return _refused(refusal, "admin.domains")
    return _done(_("%(host)s no longer serves the portal.", host=host), "admin.domains")


# -- languages ---------------------------------------------------------------------------------


@bp.route("/languages", methods=["GET", "POST"])
@staff_required(Role.ADMIN)
def languages():
    tenant = _tenant()
    form = LanguagesForm(
        data=None
        if request.method == "POST"
        else {"locales": tenant.locales, "default_locale": tenant.default_locale}
    )
    problem = None
    if form.validate_on_submit():
        try:
            operations.set_locales(
                tenant, form.locales.data, form.default_locale.data, actor=g.staff
            )
        except TenancyError as refusal:
            db.session.rollback()
            problem = str(refusal)
        else:
            return _done(_("The languages are saved."), "admin.languages")
    elif form.is_submitted():
        problem = _form_errors(form)
    return _render("admin/languages.html", 422 if problem else 200, form=form, problem=problem)


# -- plugins -----------------------------------------------------------------------------------


@bp.route("/plugins")
@staff_required(Role.ADMIN)
def plugins():
    host = plugin_host()
    tenant = _tenant()
    return _render(
        "admin/plugins.html",
        tenant=tenant,
        installed=sorted(host.plugins.values(), key=lambda p: p.name),
        broken=dict(sorted(host.broken.items())),
    )


@bp.route("/plugins", methods=["POST"])
@staff_required(Role.ADMIN)
def change_plugin():
    name, action = request.form.get("plugin", ""), request.form.get("action")
    tenant, host = _tenant(), plugin_host()
    try:
        if action == "enable":
            operations.enable_plugin(tenant, name, host=host, actor=g.staff)
            message = _("%(plugin)s is enabled.", plugin=name)
        elif action == "disable":
            operations.disable_plugin(tenant, name, host=host, actor=g.staff)
            message = _("%(plugin)s is disabled.", plugin=name)
        else:
            abort(400)
    except PluginError as refusal:
        db.session.rollback()
        flash(_plugin_refusal(refusal), "error")
        return redirect(url_for("admin.plugins"), 303)
    except TenancyError as refusal:
        return _refused(refusal, "admin.plugins")
    return _done(message, "admin.plugins")


# -- staff -------------------------------------------------------------------------------------


def _seats_by_user(tenant_id: int) -> dict[int, list[CommitteeMember]]:
    seats: dict[int, list[CommitteeMember]] = {}
    for seat in db.session.scalars(
        select(CommitteeMember).where(CommitteeMember.tenant_id == tenant_id)
    ):
        seats.setdefault(seat.user_id, []).append(seat)
    return seats


@bp.route("/staff", methods=["GET", "POST"])
@staff_required(Role.ADMIN)
def staff():
    tenant = _tenant()
    form = StaffForm()
    problem = None
    if form.validate_on_submit():
        try:
            user, created = add_staff(
                tenant.id,
                form.email.data,
                form.display_name.data or "",
                form.roles.data,
                actor=g.staff,
            )
            if created:
                send_welcome(user, tenant)
        except IdentityError as refusal:
            db.session.rollback()
            problem = str(refusal)
        else:
            message = (
                _(
                    "The account is created: %(email)s will receive a link to choose a password.",
                    email=user.email,
                )
                if created
                else _("%(name)s now works for this institution too.", name=user.display_name)
            )
            return _done(message, "admin.staff_member", public_id=user.public_id)
    elif form.is_submitted():
        problem = _form_errors(form)
    people = staff_of(tenant.id)
    return _render(
        "admin/staff.html",
        422 if problem else 200,
        form=form,
        problem=problem,
        people=people,
        roles={user.id: roles_of(tenant.id, user) for user in people},
        seats=_seats_by_user(tenant.id),
        committees={c.id: c for c in db.session.scalars(select(Committee))},
        declared=_declared_committees(_locale()),
        role_labels=ROLE_LABELS,
        role_help=ROLE_HELP,
    )


def _staff_member(public_id: str) -> User:
    """A person who works for the tenant, or who still sits for one of its open cases."""
    user = db.session.scalar(select(User).where(User.public_id == public_id))
    if user is None:
        abort(404)
    works_here = any(person.id == user.id for person in staff_of(g.tenant.id))
    if not works_here and not open_case_seats(g.tenant.id, user):
        abort(404)
    return user


def _handover_form(user: User, seats, sitting) -> HandoverForm:
    form = HandoverForm()
    others = [p for p in staff_of(g.tenant.id) if p.id != user.id and p.is_active]
    form.successor.choices = [NO_CHOICE, *(person_choice(p) for p in others)]
    declared = _declared_committees(_locale())
    committees = {c.id: c for c in db.session.scalars(select(Committee))}
    keys = dict.fromkeys(
        [committees[s.committee_id].key for s in seats]
        + [committees[r.committee_id].key for r in sitting]
    )
    form.committee.choices = [
        SelectChoice("", _("All her seats and cases")),
        *(SelectChoice(key, declared[key]["name"] if key in declared else key) for key in keys),
    ]
    return form


def _member_page(user: User, *, handover=None, handover_form=None, status=200):
    tenant_id = g.tenant.id
    seats = _seats_by_user(tenant_id).get(user.id, [])
    sitting = open_case_seats(tenant_id, user)
    return _render(
        "admin/staff_member.html",
        status,
        person=user,
        roles=roles_of(tenant_id, user),
        all_roles=list(Role),
        role_labels=ROLE_LABELS,
        role_help=ROLE_HELP,
        seats=seats,
        committees={c.id: c for c in db.session.scalars(select(Committee))},
        declared=_declared_committees(_locale()),
        sites=_sites(_locale()),
        open_cases=len({row.case_id for row in sitting}),
        handover_form=handover_form or _handover_form(user, seats, sitting),
        remove_form=RemoveStaffForm(),
        handover=handover,
        is_self=user.id == g.staff.id,
    )


@bp.route("/staff/<public_id>")
@staff_required(Role.ADMIN)
def staff_member(public_id):
    return _member_page(_staff_member(public_id))


@bp.route("/staff/<public_id>/roles", methods=["POST"])
@staff_required(Role.ADMIN)
def change_role(public_id):
    user = _staff_member(public_id)
    try:
        role = Role(request.form.get("role", ""))
    except ValueError:
        abort(400)
    action = request.form.get("action")
    try:
        if action == "grant":
            grant_role(g.tenant.id, user, role, actor=g.staff)
            message = _(
                "%(name)s is now: %(role)s.", name=user.display_name, role=ROLE_LABELS[role]
            )
        elif action == "revoke":
            revoke_role(g.tenant.id, user, role, actor=g.staff)
            message = _(
                "%(name)s is no longer: %(role)s.", name=user.display_name, role=ROLE_LABELS[role]
            )
        else:
            abort(400)
    except IdentityError as refusal:
        return _refused(refusal, "admin.staff_member", public_id=public_id)
    return _done(message, "admin.staff_member", public_id=public_id)


@bp.route("/staff/<public_id>/remove", methods=["POST"])
@staff_required(Role.ADMIN)
def remove_staff(public_id):
    user = _staff_member(public_id)
    form = RemoveStaffForm()
    if not form.validate_on_submit():
        flash(_form_errors(form), "error")
        return redirect(url_for("admin.staff_member", public_id=public_id), 303)
    try:
        summary = remove_from_tenant(g.tenant.id, user, actor=g.staff)
    except IdentityError as refusal:
        return _refused(refusal, "admin.staff_member", public_id=public_id)
    db.session.commit()
    flash(_("%(name)s no longer works for this institution.", name=user.display_name), "success")
    if summary["open_cases"]:
        flash(
            _(
                "She still sat for %(count)s open case(s): hand them over to someone else "
                "from her page.",
                count=summary["open_cases"],
            ),
            "warning",
        )
        return redirect(url_for("admin.staff_member", public_id=public_id), 303)
    return redirect(url_for("admin.staff"), 303)


@bp.route("/staff/<public_id>/handover", methods=["POST"])
@staff_required(Role.ADMIN)
def handover(public_id):
    user = _staff_member(public_id)
    seats = _seats_by_user(g.tenant.id).get(user.id, [])
    form = _handover_form(user, seats, open_case_seats(g.tenant.id, user))
    if not form.validate_on_submit():
        flash(_form_errors(form), "error")
        return _member_page(user, handover_form=form, status=422)
    successor = db.session.scalar(select(User).where(User.public_id == form.successor.data))
    committee = None
    if form.committee.data:
        committee = db.session.scalar(select(Committee).where(Committee.key == form.committee.data))
    try:
        institution = Institution.of(plugin_host(), g.tenant_info)
        result = hand_over(
            g.tenant.id,
            user,
            successor,
            institution=institution,
            actor=g.staff,
            committee=committee,
        )
    except PluginError as refusal:
        db.session.rollback()
        flash(_plugin_refusal(refusal), "error")
        return redirect(url_for("admin.staff_member", public_id=public_id), 303)
    except CommitteeError as refusal:
        return _refused(refusal, "admin.staff_member", public_id=public_id)
    db.session.commit()
    return _member_page(user, handover={"result": result, "successor": successor})


# -- committees --------------------------------------------------------------------------------


def _committee(key: str) -> tuple[Committee, dict]:
    declared = _declared_committees(_locale()).get(key)
    committee = db.session.scalar(select(Committee).where(Committee.key == key))
    if committee is None or declared is None:
        abort(404)
    return committee, declared


@bp.route("/committees")
@staff_required(Role.ADMIN)
def committees():
    declared = _declared_committees(_locale())
    rows = [c for c in db.session.scalars(select(Committee)) if c.key in declared]
    rows.sort(key=lambda c: list(declared).index(c.key))
    counts = {}
    for seat in db.session.scalars(select(CommitteeMember)):
        counts[seat.committee_id] = counts.get(seat.committee_id, 0) + 1
    present = {c.key for c in rows}
    return _render(
        "admin/committees.html",
        committees=rows,
        declared=declared,
        missing=[c for key, c in declared.items() if key not in present],
        counts=counts,
        gaps={c.key: staffing_gaps(c, declared[c.key]) for c in rows},
        sites=_sites(_locale()),
    )


@bp.route("/committees", methods=["POST"])
@staff_required(Role.ADMIN)
def add_declared_committees():
    """Create the committees the plugins declare that the tenant has no row for yet (a
    plugin's new version may declare more)."""
    created = sync_committees(
        g.tenant.id, plugin_host().call(g.tenant_info, "committees"), actor=g.staff
    )
    return _done(_("Committees added: %(count)s.", count=len(created)), "admin.committees")


def _seat_form(committee: Committee, declared: dict) -> SeatForm:
    form = SeatForm()
    seated = {s.user_id for s in committee.members}
    form.user.choices = [
        NO_CHOICE,
        *(person_choice(p) for p in staff_of(g.tenant.id) if p.id not in seated and p.is_active),
    ]
    form.role.choices = [NO_CHOICE, *(SelectChoice(r["key"], r["name"]) for r in declared["roles"])]
    everywhere = "—" if declared["per_site"] else _("Every place")
    form.site.choices = [
        SelectChoice("", everywhere),
        *(SelectChoice(key, name) for key, name in _sites(_locale()).items()),
    ]
    return form


def _render_committee(committee, declared, form, problem=None, status=200):
    users = {
        u.id: u
        for u in db.session.scalars(
            select(User).where(User.id.in_([s.user_id for s in committee.members]))
        )
    }
    roles = {r["key"]: r["name"] for r in declared["roles"]}
    return _render(
        "admin/committee.html",
        status,
        committee=committee,
        declared=declared,
        members=sorted(committee.members, key=lambda s: users[s.user_id].display_name),
        users=users,
        roles=roles,
        sites=_sites(_locale()),
        gaps=staffing_gaps(committee, declared),
        form=form,
        problem=problem,
    )


@bp.route("/committees/<key>", methods=["GET", "POST"], endpoint="committee")
@staff_required(Role.ADMIN)
def committee_page(key):
    committee, declared = _committee(key)
    form = _seat_form(committee, declared)
    problem = None
    if form.validate_on_submit():
        user = db.session.scalar(select(User).where(User.public_id == form.user.data))
        try:
            seat_member(
                committee,
                user,
                declared,
                role_key=form.role.data,
                site_key=form.site.data,
                sites=_sites(),
                actor=g.staff,
            )
        except CommitteeError as refusal:
            db.session.rollback()
            problem = str(refusal)
        else:
            return _done(
                _("%(name)s now sits on this committee.", name=user.display_name),
                "admin.committee",
                key=key,
            )
    elif form.is_submitted():
        problem = _form_errors(form)
    return _render_committee(committee, declared, form, problem, 422 if problem else 200)


@bp.route("/committees/<key>/remove", methods=["POST"])
@staff_required(Role.ADMIN)
def remove_seat(key):
    committee, _declared = _committee(key)
    user = db.session.scalar(select(User).where(User.public_id == request.form.get("user", "")))
    if user is None:
        abort(404)
    try:
        remove_member(committee, user, actor=g.staff)
    except CommitteeError as refusal:
        return _refused(refusal, "admin.committee", key=key)
    return _done(
        _("%(name)s no longer sits on this committee.", name=user.display_name),
        "admin.committee",
        key=key,
    )


# -- the platform operator ---------------------------------------------------------------------


def _tenant_form() -> TenantForm:
    host = plugin_host()
    form = TenantForm()
    form.plugins.choices = [SelectChoice(name, name) for name in sorted(host.plugins)]
    return form


def _operator_page(form: TenantForm, problem=None, status=200):
    with platform_scope():
        tenants = db.session.scalars(select(Tenant).order_by(Tenant.slug)).all()
    return _render(
        "operator/index.html",
        status,
        tenants=tenants,
        form=form,
        problem=problem,
    )


@operator_bp.route("/", endpoint="index")
@operator_required
def operator_index():
    return _operator_page(_tenant_form())


@operator_bp.route("/tenants", methods=["POST"])
@operator_required
def create_tenant():
    form = _tenant_form()
    if not form.validate_on_submit():
        return _operator_page(form, _form_errors(form), 422)
    operator = g.staff
    try:
        with platform_scope():
            tenant = operations.create_tenant(
                form.slug.data.strip(),
                form.name.data,
                actor=operator,
                default_locale=form.default_locale.data,
            )
            for name in form.plugins.data:
                operations.enable_plugin(tenant, name, host=plugin_host(), actor=operator)
            with tenant_scope(tenant):
                admin, created = add_staff(
                    tenant.id,
                    form.admin_email.data,
                    form.admin_name.data or "",
                    [Role.ADMIN],
                    actor=operator,
                )
                if created:
                    send_welcome(admin, tenant)
    except PluginError as refusal:
        db.session.rollback()
        return _operator_page(form, _plugin_refusal(refusal), 422)
    except REFUSALS as refusal:
        db.session.rollback()
        return _operator_page(form, str(refusal), 422)
    db.session.commit()
    flash(
        _("%(name)s is created; its first administrator will receive an e-mail.", name=tenant.name),
        "success",
    )
    return redirect(url_for("operator.index"), 303)


def _operator_tenant(slug: str) -> Tenant:
    with platform_scope():
        tenant = operations.find_tenant(slug)
    if tenant is None:
        abort(404)
    return tenant


@operator_bp.route("/tenants/<slug>/suspend", methods=["POST"])
@operator_required
def suspend(slug):
    tenant = _operator_tenant(slug)
    try:
        with platform_scope():
            operations.suspend_tenant(tenant, actor=g.staff)
    except TenancyError as refusal:
        return _refused(refusal, "operator.index")
    return _done(
        _("%(name)s is suspended: its pages are no longer served.", name=tenant.name),
        "operator.index",
    )


@operator_bp.route("/tenants/<slug>/resume", methods=["POST"])
@operator_required
def resume(slug):
    tenant = _operator_tenant(slug)
    try:
        with platform_scope():
            operations.resume_tenant(tenant, actor=g.staff)
    except TenancyError as refusal:
        return _refused(refusal, "operator.index")
    return _done(_("%(name)s is served again.", name=tenant.name), "operator.index")
