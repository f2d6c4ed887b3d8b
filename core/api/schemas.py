"""The JSON API's shapes: what a request may send and what each answer holds.

Schemas only shape data. They read no database and decide nothing: the views hand them
plain data that `core.api.operations` has already chosen for the caller. The OpenAPI
document is generated from these same classes (`core.api.openapi`).
"""

from datetime import UTC

from flask_babel import gettext
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated when shown."""
    return message


LIMIT_MAX = 200
MESSAGE_MAX = 20_000

# marshmallow's own messages, in the words of this API (translated when shown)
FIELD_MESSAGES = {
    "Missing data for required field.": N_("This is required."),
    "Field may not be null.": N_("This cannot be null."),
    "Not a valid string.": N_("This must be text."),
    "Not a valid list.": N_("This must be a list."),
    "Not a valid integer.": N_("This must be a whole number."),
    "Not a valid boolean.": N_("This must be true or false."),
    "Not a valid datetime.": N_("This must be a date and time, such as 2026-03-02T09:30:00+01:00."),
    "Unknown field.": N_("This is not part of the request."),
    "Invalid input type.": N_("Send a JSON object."),
}


def field_messages(error: ValidationError) -> dict[str, list[str]]:
    """A validation error's messages by field (``items.0`` for an item of a list), in the
    reader's language."""
    flat: dict[str, list[str]] = {}

    def walk(messages, path: str) -> None:
        if isinstance(messages, dict):
            for key, value in messages.items():
                walk(value, f"{path}.{key}" if path else str(key))
        elif isinstance(messages, list | tuple):
            for message in messages:
                walk(message, path)
        else:
            text = str(messages)
            flat.setdefault(path or "_body", []).append(gettext(FIELD_MESSAGES.get(text, text)))

    walk(error.messages, "")
    return flat


def _text(description: str, **kwargs) -> fields.String:
    return fields.String(required=True, metadata={"description": description}, **kwargs)


def _optional_text(description: str) -> fields.String:
    return fields.String(required=True, allow_none=True, metadata={"description": description})


def _moment(description: str, *, optional: bool = False) -> fields.DateTime:
    return fields.AwareDateTime(
        required=True, allow_none=optional, metadata={"description": description}
    )


class OutputSchema(Schema):
    """An answer's shape: its fields are listed in the OpenAPI document, and nothing else
    may appear in an answer (``additionalProperties: false``)."""


# -- errors -----------------------------------------------------------------------------------


class ErrorDetailSchema(OutputSchema):
    code = _text(
        "What went wrong, for programs: not_authenticated, not_found, invalid, refused, "
        "forbidden, bad_request, method_not_allowed, error."
    )
    message = _text("What went wrong, for people, in the request's Accept-Language.")
    rule = fields.String(
        metadata={"description": "For a refused step: the procedure's rule that refused it."}
    )
    field_errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        data_key="fields",
        metadata={"description": "For invalid input: what is wrong with each field."},
    )


class ErrorSchema(OutputSchema):
    error = fields.Nested(ErrorDetailSchema, required=True)


# -- pieces of a case -------------------------------------------------------------------------


class LabelledSchema(OutputSchema):
    key = _text("The stable key (for programs).")
    label = _text("Its name, in the request's language.")


class CommitteeRefSchema(OutputSchema):
    key = _text("The committee's key in the institution's procedure.")
    name = _text("Its name, in the request's language.")


class DeadlineSchema(OutputSchema):
    id = _text("The deadline's public id.")
    key = _text("The procedure's key for this deadline.")
    label = _text("What must be done, in the request's language.")
    case_id = _text("The public id of its case.")
    case_reference = _text("Its case's reference.")
    started_at = _moment("When it started running.")
    due_at = _moment("When it is due, counted in working days or hours on the calendar.")
    indicative = fields.Boolean(
        required=True, metadata={"description": "A guideline that may be extended."}
    )
    open = fields.Boolean(required=True, metadata={"description": "Neither met nor cancelled."})
    overdue = fields.Boolean(required=True, metadata={"description": "Open and past due."})
    met_at = _moment("When it was met.", optional=True)
    cancelled_at = _moment("When it stopped running without being met.", optional=True)


class ConsentSchema(OutputSchema):
    key = _text("The procedure's key for this consent.")
    label = _text("What was agreed, in the request's language.")
    given = fields.Boolean(required=True, metadata={"description": "Given, or withheld."})
    recorded_at = _moment("When the current answer was recorded.")
    recorded_by = _text("reporter, or user (staff, on the person's word).")


class ActorSchema(OutputSchema):
    kind = _text("user (a staff member), reporter, or system.")
    id = _optional_text("The staff member's public id (for a user).")


class TimelineEntrySchema(OutputSchema):
    kind = _text("opened, transition, consent, flag, site, notice, routed…")
    key = _optional_text("The step, consent or flag concerned (keys, never content).")
    at = _moment("When it happened.")
    from_state = _optional_text("The stage before, for a step.")
    to_state = _optional_text("The stage after, for a step.")
    actor = fields.Nested(ActorSchema, required=True)


class CaseSummarySchema(OutputSchema):
    id = _text("The case's public id.")
    reference = _text("The short reference staff read aloud, such as K7QM-3XPA.")
    state = fields.Nested(LabelledSchema, required=True)
    committee = fields.Nested(
        CommitteeRefSchema,
        required=True,
        allow_none=True,
        metadata={"description": "The committee that has the case now."},
    )
    site = fields.Nested(
        LabelledSchema,
        required=True,
        allow_none=True,
        metadata={"description": "The site (campus, house) the case is handled for."},
    )
    opened_at = _moment("When the case was opened.")
    updated_at = _moment("When the case last changed.")
    closed_at = _moment("When the case was closed.", optional=True)


class CaseSchema(CaseSummarySchema):
    relation = _text("How the person reporting knows of the facts: victim, witness…")
    anonymous = fields.Boolean(required=True, metadata={"description": "Reported anonymously."})
    categories = fields.List(fields.Nested(LabelledSchema), required=True)
    flags = fields.List(fields.Nested(LabelledSchema), required=True)
    consents = fields.List(fields.Nested(ConsentSchema), required=True)
    deadlines = fields.List(
        fields.Nested(DeadlineSchema),
        required=True,
        metadata={"description": "The deadlines running now."},
    )
    timeline = fields.List(
        fields.Nested(TimelineEntrySchema),
        required=True,
        metadata={"description": "Everything that happened, oldest first: keys only."},
    )


class CaseListSchema(OutputSchema):
    items = fields.List(fields.Nested(CaseSummarySchema), required=True)
    next = _optional_text("The cursor of the next page; null on the last page.")


class EvidenceSchema(OutputSchema):
    id = _text("The file's public id.")
    media_type = _text("Its type, such as image/jpeg.")
    size = fields.Integer(required=True, metadata={"description": "Its size in bytes."})
    added_by = _text("reporter or staff.")
    created_at = _moment("When it was added.")


class ReportSchema(OutputSchema):
    id = _text("The report's public id.")
    submitted_at = _moment("When it was sent.")
    relation = _text("How the person reporting knows of the facts.")
    anonymous = fields.Boolean(required=True)
    site = _optional_text("The site key the report concerns.")
    categories = fields.List(fields.String(), required=True)
    narrative = _text("What the person reporting wrote.")
    answers = fields.Dict(
        keys=fields.String(),
        required=True,
        metadata={"description": "The answers to the institution's own form fields."},
    )
    evidence = fields.List(
        fields.Nested(EvidenceSchema),
        required=True,
        metadata={"description": "The files given with the report (not their contents)."},
    )


class ReportListSchema(OutputSchema):
    items = fields.List(fields.Nested(ReportSchema), required=True)


class MessageSchema(OutputSchema):
    id = _text("The message's public id.")
    author = fields.String(
        required=True,
        validate=validate.OneOf(["reporter", "staff"]),
        metadata={"description": "Who wrote it: the person reporting, or staff."},
    )
    author_id = _optional_text("The public id of the staff member who wrote it.")
    body = _text("The message.")
    created_at = _moment("When it was written.")
    read_at = _moment("When the other side read it (staff messages).", optional=True)


class MessageListSchema(OutputSchema):
    items = fields.List(fields.Nested(MessageSchema), required=True)


class DeadlineListSchema(OutputSchema):
    items = fields.List(fields.Nested(DeadlineSchema), required=True)
    next = _optional_text("The cursor of the next page; null on the last page.")


class TransitionOptionSchema(OutputSchema):
    key = _text("The step's key, to send to POST …/transitions.")
    label = _text("The step, in the request's language.")
    to = _optional_text("The stage it leads to (null: the case stays where it is).")
    allowed = fields.Boolean(
        required=True, metadata={"description": "Whether the token's holder may take it now."}
    )
    reason = _optional_text("Why not, in the request's language (null when allowed).")


class TransitionListSchema(OutputSchema):
    items = fields.List(fields.Nested(TransitionOptionSchema), required=True)


# -- what a request sends -------------------------------------------------------------------------


class _Query(Schema):
    class Meta:
        unknown = EXCLUDE  # `lang` and the like are the app's, not the list's

    cursor = fields.String(
        metadata={"description": "The `next` cursor of the page before (opaque)."}
    )
    limit = fields.Integer(
        load_default=50,
        validate=validate.Range(min=1, max=LIMIT_MAX, error=N_("Choose from 1 to 200.")),
        metadata={"description": "How many items a page holds (1 to 200)."},
    )


class CaseQuerySchema(_Query):
    state = fields.String(metadata={"description": "Only the cases at this stage (its key)."})
    updated_since = fields.AwareDateTime(
        default_timezone=UTC,
        metadata={"description": "Only the cases that changed at or after this moment."},
    )


class DeadlineQuerySchema(_Query):
    due_before = fields.AwareDateTime(
        default_timezone=UTC,
        metadata={"description": "Only the deadlines due before this moment."},
    )
    overdue = fields.Boolean(
        metadata={"description": "true: only those already past; false: only those ahead."}
    )


class MessageInputSchema(Schema):
    class Meta:
        unknown = RAISE

    body = fields.String(
        required=True,
        validate=validate.Length(
            min=1, max=MESSAGE_MAX, error=N_("A message holds from 1 to 20,000 characters.")
        ),
        metadata={
            "description": "The message to the person reporting; they are told a message "
            "is waiting (never what it says)."
        },
    )


class TransitionInputSchema(Schema):
    class Meta:
        unknown = RAISE

    transition = fields.String(
        required=True, metadata={"description": "The key of the step to take."}
    )
    participants = fields.List(
        fields.String(),
        load_default=list,
        metadata={"description": "Public ids of the staff members taking part with you."},
    )
    members = fields.List(
        fields.String(),
        load_default=list,
        metadata={"description": "Public ids of the staff members composing a committee."},
    )
    measures = fields.List(
        fields.String(),
        load_default=list,
        metadata={"description": "Keys of the measures decided at this step."},
    )
