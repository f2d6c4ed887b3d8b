"""The API's OpenAPI 3.1 document, generated from its marshmallow schemas with apispec.

Every path the `api` blueprint serves is described here with its parameters, its answers
and its errors; a test checks that the document is valid, that it lists every route, and
that real answers match it.
"""

import copy
import functools

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from core.api import schemas

TITLE = "Cellule API"
VERSION = "1.0.0"
DESCRIPTION = """\
The JSON API of one school on Cellule, for its own integrations.

Every call carries `Authorization: Bearer <token>`. A token is made by the staff member it
acts as, for one of her roles (Back office → API tokens, with a code of her authenticator
app), or by the platform's operator with `cellule api create-token`; it acts as that person
with that role alone (committee seats count only for `listener`, `committee_member` and
`decision_maker` tokens), and sees only the cases she has a need to know. A case she may not
see answers 404, like one that does not exist. Errors are JSON objects
`{"error": {"code", "message", …}}`, in the language the request's `Accept-Language` asks
for (French or English); a refused call changes nothing. Every read — each part of a case,
each page of a list — is recorded in the school's audit trail.
"""

CASE_ID = {
    "name": "case_id",
    "in": "path",
    "required": True,
    "description": "The case's public id.",
    "schema": {"type": "string"},
}

ERROR_RESPONSES = {
    "BadRequest": "The body is not a JSON object.",
    "Unauthorized": "No token, or one that does not work here (unknown, revoked, another "
    "school's, or its holder no longer has its role).",
    "Forbidden": "The token's holder may see the case but not do this.",
    "NotFound": "No such case here, or not one the token's holder may see.",
    "Refused": "The procedure does not allow this step now; `rule` names the rule that "
    "refused it. Nothing was changed.",
    "Invalid": "Some parameters or fields are not valid; `fields` says which and why.",
    "Error": "Something else went wrong; nothing was changed.",
}


def _ok(schema, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _json_body(schema, description: str) -> dict:
    return {
        "required": True,
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }


def _operation(operation_id: str, summary: str, responses: dict, **more) -> dict:
    return {
        "operationId": operation_id,
        "summary": summary,
        "responses": {**responses, "401": "Unauthorized", "default": "Error"},
        **more,
    }


OPERATIONS = {
    "/cases": {
        "get": _operation(
            "listCases",
            "The cases the token's holder may see, least recently updated first. Each page "
            "is audited (how many, never which).",
            {
                "200": _ok(schemas.CaseListSchema, "One page of cases."),
                "422": "Invalid",
            },
            parameters=[{"in": "query", "schema": schemas.CaseQuerySchema}],
        )
    },
    "/cases/{case_id}": {
        "get": _operation(
            "getCase",
            "A case: its stage, committee, site, categories, flags, consents, running "
            "deadlines and timeline (keys only; never who reported). Audited.",
            {"200": _ok(schemas.CaseSchema, "The case."), "404": "NotFound"},
            parameters=[CASE_ID],
        )
    },
    "/cases/{case_id}/reports": {
        "get": _operation(
            "listCaseReports",
            "What was reported: narrative, answers (except those naming the person "
            "reporting) and the files' metadata. Audited.",
            {"200": _ok(schemas.ReportListSchema, "The case's reports."), "404": "NotFound"},
            parameters=[CASE_ID],
        )
    },
    "/cases/{case_id}/messages": {
        "get": _operation(
            "listCaseMessages",
            "The messages exchanged with the person reporting, oldest first. Audited.",
            {"200": _ok(schemas.MessageListSchema, "The messages."), "404": "NotFound"},
            parameters=[CASE_ID],
        ),
        "post": _operation(
            "postCaseMessage",
            "Write to the person reporting; they are told a message is waiting.",
            {
                "201": _ok(schemas.MessageSchema, "The message, as stored."),
                "400": "BadRequest",
                "403": "Forbidden",
                "404": "NotFound",
                "409": "Refused",
                "422": "Invalid",
            },
            parameters=[CASE_ID],
            requestBody=_json_body(schemas.MessageInputSchema, "The message."),
        ),
    },
    "/cases/{case_id}/deadlines": {
        "get": _operation(
            "listCaseDeadlines",
            "Every deadline the case has had (running, met, cancelled), soonest due first. "
            "Audited.",
            {"200": _ok(schemas.DeadlineListSchema, "The deadlines."), "404": "NotFound"},
            parameters=[CASE_ID],
        )
    },
    "/cases/{case_id}/transitions": {
        "get": _operation(
            "listCaseTransitions",
            "The steps that leave the case's stage, and whether the token's holder may "
            "take each now. Audited.",
            {"200": _ok(schemas.TransitionListSchema, "The steps."), "404": "NotFound"},
            parameters=[CASE_ID],
        ),
        "post": _operation(
            "takeCaseTransition",
            "Take a step of the procedure, checked like in the back office.",
            {
                "200": _ok(schemas.CaseSchema, "The case after the step."),
                "400": "BadRequest",
                "404": "NotFound",
                "409": "Refused",
                "422": "Invalid",
            },
            parameters=[CASE_ID],
            requestBody=_json_body(schemas.TransitionInputSchema, "The step to take."),
        ),
    },
    "/deadlines": {
        "get": _operation(
            "listDeadlines",
            "The running deadlines of every case the token's holder may see, soonest first. "
            "Each page is audited (how many, never which).",
            {
                "200": _ok(schemas.DeadlineListSchema, "One page of deadlines."),
                "422": "Invalid",
            },
            parameters=[{"in": "query", "schema": schemas.DeadlineQuerySchema}],
        )
    },
    "/openapi.json": {
        "get": {
            "operationId": "getOpenApiDocument",
            "summary": "This document.",
            "security": [],
            "responses": {
                "200": {
                    "description": "The OpenAPI 3.1 document.",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    },
}


@functools.cache
def _document() -> dict:
    spec = APISpec(
        title=TITLE,
        version=VERSION,
        openapi_version="3.1.0",
        plugins=[MarshmallowPlugin()],
        info={"description": DESCRIPTION},
    )
    spec.components.security_scheme(
        "bearerToken",
        {
            "type": "http",
            "scheme": "bearer",
            "description": "A token made by the staff member it acts as (shown once).",
        },
    )
    spec.components.schema("Error", schema=schemas.ErrorSchema)
    for name, description in ERROR_RESPONSES.items():
        response = _ok(schemas.ErrorSchema, description)
        if name == "Unauthorized":
            response["headers"] = {
                "WWW-Authenticate": {
                    "description": "The Bearer scheme, and why the token was refused.",
                    "schema": {"type": "string"},
                }
            }
        spec.components.response(name, response)
    for path, operations in OPERATIONS.items():
        spec.path(path=path, operations=copy.deepcopy(operations))
    document = spec.to_dict()
    document["security"] = [{"bearerToken": []}]
    return document


def document(*, server: str) -> dict:
    """The document, for an API served at `server` (such as ``/t/<slug>/api/v1``)."""
    return {**copy.deepcopy(_document()), "servers": [{"url": server or "/"}]}
