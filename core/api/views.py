"""The JSON API for integrations, with its OpenAPI document.

Every request carries `Authorization: Bearer <token>` (no cookie counts) and runs as the
token's holder with the token's role alone (`core.identity.operations.limit_roles`): her
other roles do not count, and her committee seats count only for a token whose role
handles cases (not `admin` or `auditor`). A case she may not see answers 404, exactly like
a case that does not exist. Every read is in the audit trail: each part of a case read,
and each page of a list. Errors are JSON
(`core.api.schemas.ErrorSchema`) in the request's Accept-Language, and leave nothing
changed.
"""

from flask import Blueprint, g, jsonify, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError
from werkzeug.exceptions import (
    HTTPException,
    InternalServerError,
    MethodNotAllowed,
    NotFound,
    RequestEntityTooLarge,
)

from core.api import openapi
from core.api.auth import authenticate, bearer_secret, note_use
from core.api.operations import (
    CursorError,
    decode_cursor,
    encode_cursor,
    record_api_list,
    record_api_read,
    staff_by_public_ids,
    visible_case,
    visible_cases,
    visible_deadlines,
)
from core.api.present import (
    Labels,
    case_deadlines,
    case_detail,
    case_messages,
    case_reports,
    case_summary,
    deadline_data,
    message_data,
    transition_options,
)
from core.api.schemas import (
    CaseListSchema,
    CaseQuerySchema,
    CaseSchema,
    DeadlineListSchema,
    DeadlineQuerySchema,
    ErrorSchema,
    MessageInputSchema,
    MessageListSchema,
    MessageSchema,
    ReportListSchema,
    TransitionInputSchema,
    TransitionListSchema,
    field_messages,
)
from core.cases.models import Case
from core.cases.operations import ProcedureRefusal, may_handle, take_transition
from core.extensions import db
from core.identity.operations import limit_roles, release_role_limit
from core.plugins.host import plugin_host
from core.procedure.definition import Institution
from core.reports.operations import ReportError, post_message
from core.types import utcnow

bp = Blueprint("api", __name__, url_prefix="/api/v1")

PUBLIC_ENDPOINTS = {"api.openapi_document"}
REALM = 'Bearer realm="Cellule API"'
CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "refused",
    413: "too_large",
    422: "invalid",
}


class ApiError(Exception):
    """An answer other than success: raised anywhere in a view, answered as JSON after
    the transaction is rolled back."""

    def __init__(self, status: int, message: str, *, headers=None, **extra):
        super().__init__(message)
        self.status, self.message, self.headers, self.extra = status, message, headers, extra


def error_response(status: int, message: str, *, headers=None, **extra):
    detail = {"code": extra.pop("code", CODES.get(status, "error")), "message": str(message)}
    detail.update(extra)
    response = jsonify(ErrorSchema().dump({"error": detail}))
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _not_found() -> ApiError:
    return ApiError(404, _("There is nothing here, or it is not yours to see."))


# -- every request -------------------------------------------------------------------------


@bp.before_app_request
def _json_routing_errors():
    """An unknown path or method under the API answers in JSON too: such a request reaches
    no blueprint, so the blueprint's own error handlers never see it."""
    error = request.routing_exception
    prefix = bp.url_prefix
    if error is None or not (request.path == prefix or request.path.startswith(prefix + "/")):
        return None
    if isinstance(error, MethodNotAllowed):
        allow = {"Allow": ", ".join(sorted(error.valid_methods or ()))}
        return error_response(405, _("This method is not allowed here."), headers=allow)
    if isinstance(error, NotFound):
        return error_response(404, _("There is nothing here, or it is not yours to see."))
    return None


@bp.before_request
def _authenticate():
    # `g` outlives a request when an app context was already pushed (tests, CLI)
    for name in ("api_caller", "api_institution", "api_labels"):
        g.pop(name, None)
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if g.get("tenant") is None:
        return error_response(404, _("There is nothing here, or it is not yours to see."))
    secret = bearer_secret(request.headers.get("Authorization"))
    if secret is None:
        return error_response(
            401,
            _("Send your API token in the Authorization header: Bearer <token>."),
            headers={"WWW-Authenticate": REALM},
        )
    caller = authenticate(secret, g.tenant.id)
    if caller is None:
        return error_response(
            401,
            _(
                "This token does not work here: it is unknown, revoked, or no longer "
                "matches its holder's roles."
            ),
            headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'},
        )
    if note_use(caller.token):
        db.session.commit()  # apart from the request's own changes, which may be refused
    g.api_caller = caller
    g.api_role_limit = limit_roles(caller.user, {caller.token.role})
    return None


@bp.teardown_request
def _release_role_limit(exc=None):
    token = g.pop("api_role_limit", None)
    if token is not None:
        release_role_limit(token)


@bp.after_request
def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(ApiError)
def _api_error(error: ApiError):
    db.session.rollback()
    return error_response(error.status, error.message, headers=error.headers, **error.extra)


def _http_error(error: HTTPException):
    db.session.rollback()
    if isinstance(error, InternalServerError):
        message = _("Something went wrong on our side and nothing was changed. Please try again.")
    elif isinstance(error, NotFound):
        message = _("There is nothing here, or it is not yours to see.")
    elif isinstance(error, MethodNotAllowed):
        message = _("This method is not allowed here.")
    elif isinstance(error, RequestEntityTooLarge):
        message = _("This request is too large.")
    else:
        message = error.description or error.name
    return error_response(error.code or 500, message)


# Registered for each code too: the app answers some codes with HTML pages (404, 413, a
# CSRF 400), and a handler for a code wins over one for a class.
bp.register_error_handler(HTTPException, _http_error)
for _code in (400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 500):
    bp.register_error_handler(_code, _http_error)


# -- helpers -------------------------------------------------------------------------------


def _user():
    return g.api_caller.user


def _institution() -> Institution:
    if "api_institution" not in g:
        g.api_institution = Institution.of(plugin_host(), g.tenant_info)
    return g.api_institution


def _labels() -> Labels:
    if "api_labels" not in g:
        g.api_labels = Labels(_institution())
    return g.api_labels


def _query(schema) -> dict:
    try:
        return schema.load(request.args.to_dict())
    except ValidationError as invalid:
        raise ApiError(
            422, _("Some parameters are not valid."), field_errors=field_messages(invalid)
        ) from invalid


def _body(schema) -> dict:
    data = request.get_json(silent=True)
    if data is None:
        raise ApiError(400, _("Send a JSON object, with Content-Type: application/json."))
    try:
        return schema.load(data)
    except ValidationError as invalid:
        raise ApiError(
            422, _("Some fields are not valid."), field_errors=field_messages(invalid)
        ) from invalid


def _cursor(kind: str, cursor: str | None):
    if cursor is None:
        return None
    try:
        return decode_cursor(kind, cursor)
    except CursorError as invalid:
        raise ApiError(
            422,
            _("Some parameters are not valid."),
            field_errors={"cursor": [_("Use the `next` value of the page before.")]},
        ) from invalid


def _case(case_id: str) -> Case:
    case = visible_case(_user(), _institution(), case_id)
    if case is None:
        raise _not_found()
    return case


def _staff(public_ids: list[str], field: str) -> list:
    found, unknown = staff_by_public_ids(g.tenant.id, public_ids)
    if unknown:
        raise ApiError(
            422,
            _("Some fields are not valid."),
            field_errors={
                field: [_("No staff member here has the id %(id)s.", id=pid) for pid in unknown]
            },
        )
    return found


def _answer(schema, data, status: int = 200, headers=None):
    response = jsonify(schema.dump(data))
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _read(case: Case, part: str) -> None:
    record_api_read(case, actor=_user(), token=g.api_caller.token, part=part)


def _listed(kind: str, count: int) -> None:
    record_api_list(g.tenant.id, actor=_user(), token=g.api_caller.token, kind=kind, count=count)


# -- the document --------------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi_document():
    """The OpenAPI 3.1 document of this API (no token needed)."""
    return jsonify(openapi.document(server=request.script_root + bp.url_prefix))


# -- cases ---------------------------------------------------------------------------------


@bp.get("/cases")
def list_cases():
    query = _query(CaseQuerySchema())
    page = visible_cases(
        _user(),
        _institution(),
        state=query.get("state"),
        updated_since=query.get("updated_since"),
        after=_cursor("cases", query.get("cursor")),
        limit=query["limit"],
    )
    labels = _labels()
    body = {
        "items": [case_summary(case, labels) for case in page.items],
        "next": encode_cursor("cases", page.after) if page.after else None,
    }
    _listed("cases", len(page.items))
    db.session.commit()
    return _answer(CaseListSchema(), body)


@bp.get("/cases/<case_id>")
def get_case(case_id: str):
    case = _case(case_id)
    body = case_detail(case, _labels())
    _read(case, "case")
    db.session.commit()
    return _answer(CaseSchema(), body)


@bp.get("/cases/<case_id>/reports")
def list_reports(case_id: str):
    case = _case(case_id)
    body = {"items": case_reports(case, _user(), _institution())}
    _read(case, "reports")
    db.session.commit()
    return _answer(ReportListSchema(), body)


@bp.get("/cases/<case_id>/messages")
def list_messages(case_id: str):
    case = _case(case_id)
    body = {"items": case_messages(case)}
    _read(case, "messages")
    db.session.commit()
    return _answer(MessageListSchema(), body)


@bp.post("/cases/<case_id>/messages")
def create_message(case_id: str):
    case = _case(case_id)
    data = _body(MessageInputSchema())
    user = _user()
    if not may_handle(user, case, _institution()):
        raise ApiError(403, _("Only the staff handling this case write to the person reporting."))
    try:
        message = post_message(case, data["body"], actor=user, institution=_institution())
    except ReportError as problem:
        raise ApiError(
            422,
            _("Some fields are not valid."),
            field_errors={problem.field or "_body": [_(problem.message)]},
        ) from problem
    except ProcedureRefusal as refusal:
        raise ApiError(409, str(refusal), rule=refusal.rule) from refusal
    body = message_data(message, {user.id: user.public_id})
    db.session.commit()
    location = url_for("api.list_messages", case_id=case.public_id)
    return _answer(MessageSchema(), body, 201, {"Location": location})


@bp.get("/cases/<case_id>/deadlines")
def list_case_deadlines(case_id: str):
    case = _case(case_id)
    body = {"items": case_deadlines(case, _labels()), "next": None}
    _read(case, "deadlines")
    db.session.commit()
    return _answer(DeadlineListSchema(), body)


@bp.get("/cases/<case_id>/transitions")
def list_transitions(case_id: str):
    case = _case(case_id)
    body = {"items": transition_options(case, _user(), _institution(), _labels())}
    _read(case, "transitions")
    db.session.commit()
    return _answer(TransitionListSchema(), body)


@bp.post("/cases/<case_id>/transitions")
def take_step(case_id: str):
    case = _case(case_id)
    data = _body(TransitionInputSchema())
    if data["transition"] not in _institution().procedure.transitions:
        raise ApiError(
            422,
            _("Some fields are not valid."),
            field_errors={"transition": [_("This step is not part of the procedure.")]},
        )
    participants = _staff(data["participants"], "participants")
    members = _staff(data["members"], "members")
    try:
        take_transition(
            case,
            data["transition"],
            actor=_user(),
            institution=_institution(),
            participants=participants,
            members=members,
            measures=data["measures"],
        )
    except ProcedureRefusal as refusal:
        raise ApiError(409, str(refusal), rule=refusal.rule) from refusal
    db.session.commit()
    return _answer(CaseSchema(), case_detail(case, _labels()))


# -- deadlines -----------------------------------------------------------------------------


@bp.get("/deadlines")
def list_deadlines():
    query = _query(DeadlineQuerySchema())
    now = utcnow()
    page = visible_deadlines(
        _user(),
        _institution(),
        due_before=query.get("due_before"),
        overdue=query.get("overdue"),
        after=_cursor("deadlines", query.get("cursor")),
        limit=query["limit"],
        now=now,
    )
    labels = _labels()
    body = {
        "items": [deadline_data(d, case, labels, now) for d, case in page.items],
        "next": encode_cursor("deadlines", page.after) if page.after else None,
    }
    _listed("deadlines", len(page.items))
    db.session.commit()
    return _answer(DeadlineListSchema(), body)
