"""The shapes of the data plugins return, one schema per hook.

Schemas only shape and check data; they never query the database or decide permissions.
"""

import re
import zoneinfo

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates,
    validates_schema,
)

KEY = validate.Regexp(r"^[a-z][a-z0-9_]*$", error="must be a snake_case key")
COLOUR = validate.Regexp(r"^#[0-9a-fA-F]{6}$", error="must be a colour like #1d3557")
LOCALE = validate.Regexp(r"^[a-z]{2}(_[A-Z]{2})?$", error="must be a locale like fr or en_GB")


def _key(**kwargs):
    return fields.String(required=True, validate=KEY, **kwargs)


def _text(required=True, **kwargs):
    return fields.String(required=required, validate=validate.Length(min=1), **kwargs)


def _unique_keys(items, what: str, key: str = "key") -> None:
    seen = set()
    for item in items:
        if item[key] in seen:
            raise ValidationError(f"{what} key {item[key]!r} appears twice")
        seen.add(item[key])


# -- institution_profile ---------------------------------------------------------------


class SiteSchema(Schema):
    key = _key()
    name = _text()
    attributes = fields.Dict(keys=fields.String(), load_default=dict)


class BrandingSchema(Schema):
    primary_colour = fields.String(required=True, validate=COLOUR)
    accent_colour = fields.String(required=True, validate=COLOUR)
    mark_svg = fields.String(load_default=None, allow_none=True)

    @validates("mark_svg")
    def _is_inline_svg(self, value, **kwargs):
        if value is not None and not re.match(r"^\s*<svg[\s>]", value):
            raise ValidationError("must be an inline <svg> document")
        if value is not None and re.search(r"<script|\son\w+=|href=\"(?!#)", value, re.I):
            raise ValidationError("must not contain scripts, event handlers or external links")


class CalendarSchema(Schema):
    country = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{2}$"))
    subdivision = fields.String(load_default=None, allow_none=True)


class ProfileSchema(Schema):
    name = _text()
    short_name = _text()
    default_locale = fields.String(required=True, validate=LOCALE)
    locales = fields.List(
        fields.String(validate=LOCALE), required=True, validate=validate.Length(min=1)
    )
    timezone = fields.String(required=True)
    calendar = fields.Nested(CalendarSchema, required=True)
    branding = fields.Nested(BrandingSchema, required=True)
    sites = fields.List(fields.Nested(SiteSchema), required=True, validate=validate.Length(min=1))
    welcome = fields.String(load_default="")
    contact_email = fields.Email(load_default=None, allow_none=True)

    @validates("timezone")
    def _known_zone(self, value, **kwargs):
        if value not in zoneinfo.available_timezones():
            raise ValidationError(f"unknown time zone {value!r}")

    @validates_schema
    def _consistent(self, data, **kwargs):
        if data["default_locale"] not in data["locales"]:
            raise ValidationError("default_locale must be one of locales", "default_locale")
        _unique_keys(data["sites"], "site")


# -- committees -----------------------------------------------------------------------


class CommitteeRoleSchema(Schema):
    key = _key()
    name = _text()
    min = fields.Integer(load_default=0, validate=validate.Range(min=0))


class ConditionSchema(Schema):
    key = _key()
    description = _text()
    params = fields.Dict(keys=fields.String(), load_default=dict)


class CommitteeSchema(Schema):
    key = _key()
    name = _text()
    purpose = fields.String(
        required=True,
        validate=validate.OneOf(
            ["listening", "pre_analysis", "investigation", "decision", "support", "other"]
        ),
    )
    description = fields.String(load_default="")
    min_members = fields.Integer(load_default=1, validate=validate.Range(min=0))
    max_members = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1))
    roles = fields.List(fields.Nested(CommitteeRoleSchema), load_default=list)
    conditions = fields.List(fields.Nested(ConditionSchema), load_default=list)

    @validates_schema
    def _sizes(self, data, **kwargs):
        if data["max_members"] is not None and data["max_members"] < data["min_members"]:
            raise ValidationError("max_members is below min_members", "max_members")
        _unique_keys(data["roles"], "role")


# -- route_report ---------------------------------------------------------------------


class RouteSchema(Schema):
    committee = _key()
    site = fields.String(load_default=None, allow_none=True)
    also_notify = fields.List(fields.String(validate=KEY), load_default=list)
    reason = fields.String(load_default="")


# -- procedure ------------------------------------------------------------------------


class StateSchema(Schema):
    key = _key()
    label = _text()
    final = fields.Boolean(load_default=False)
    description = fields.String(load_default="")


class TransitionSchema(Schema):
    key = _key()
    label = _text()
    from_ = fields.List(
        fields.String(validate=KEY), required=True, data_key="from", validate=validate.Length(min=1)
    )
    to = _key()
    roles = fields.List(fields.String(validate=KEY), required=True, validate=validate.Length(min=1))
    requires_consent = fields.List(fields.String(validate=KEY), load_default=list)
    informs = fields.List(fields.String(validate=KEY), load_default=list)
    description = fields.String(load_default="")

    @post_load
    def _plain_from(self, data, **kwargs):
        data["from"] = data.pop("from_")
        return data


class DeadlineSchema(Schema):
    key = _key()
    label = _text()
    starts = _key()
    ends = fields.List(fields.String(validate=KEY), required=True, validate=validate.Length(min=1))
    working_days = fields.Integer(validate=validate.Range(min=1))
    calendar_days = fields.Integer(validate=validate.Range(min=1))
    hours = fields.Integer(validate=validate.Range(min=1))
    indicative = fields.Boolean(load_default=False)

    @validates_schema
    def _one_duration(self, data, **kwargs):
        given = [k for k in ("working_days", "calendar_days", "hours") if k in data]
        if len(given) != 1:
            raise ValidationError("give exactly one of working_days, calendar_days, hours")


class ConsentSchema(Schema):
    key = _key()
    label = _text()
    description = fields.String(load_default="")


class ProcedureSchema(Schema):
    initial_state = _key()
    states = fields.List(fields.Nested(StateSchema), required=True, validate=validate.Length(min=2))
    transitions = fields.List(
        fields.Nested(TransitionSchema), required=True, validate=validate.Length(min=1)
    )
    deadlines = fields.List(fields.Nested(DeadlineSchema), load_default=list)
    consents = fields.List(fields.Nested(ConsentSchema), load_default=list)

    @validates_schema
    def _references(self, data, **kwargs):
        _unique_keys(data["states"], "state")
        _unique_keys(data["transitions"], "transition")
        _unique_keys(data["deadlines"], "deadline")
        _unique_keys(data["consents"], "consent")
        states = {s["key"] for s in data["states"]}
        transitions = {t["key"] for t in data["transitions"]}
        consents = {c["key"] for c in data["consents"]}
        if data["initial_state"] not in states:
            raise ValidationError(f"initial_state {data['initial_state']!r} is not a state")
        for t in data["transitions"]:
            for ref in [*t["from"], t["to"]]:
                if ref not in states:
                    raise ValidationError(f"transition {t['key']!r} names unknown state {ref!r}")
            for ref in t["requires_consent"]:
                if ref not in consents:
                    raise ValidationError(f"transition {t['key']!r} needs unknown consent {ref!r}")
        for d in data["deadlines"]:
            if d["starts"] not in states | transitions:
                raise ValidationError(f"deadline {d['key']!r} starts on unknown {d['starts']!r}")
            for ref in d["ends"]:
                if ref not in transitions:
                    raise ValidationError(f"deadline {d['key']!r} ends on unknown {ref!r}")


# -- sanction_ladder ------------------------------------------------------------------


class MeasureSchema(Schema):
    key = _key()
    label = _text()
    kind = fields.String(
        required=True,
        validate=validate.OneOf(["protective", "precautionary", "sanction", "referral", "support"]),
    )
    rank = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1))
    collective = fields.Boolean(load_default=False)
    description = fields.String(load_default="")


class AppealSchema(Schema):
    label = _text()
    description = fields.String(load_default="")


class SanctionLadderSchema(Schema):
    measures = fields.List(
        fields.Nested(MeasureSchema), required=True, validate=validate.Length(min=1)
    )
    appeal = fields.Nested(AppealSchema, load_default=None, allow_none=True)

    @validates_schema
    def _ranks(self, data, **kwargs):
        _unique_keys(data["measures"], "measure")
        ranks = [m["rank"] for m in data["measures"] if m["kind"] == "sanction"]
        if None in ranks:
            raise ValidationError("every sanction needs a rank")
        if len(ranks) != len(set(ranks)):
            raise ValidationError("sanction ranks must be unique")


# -- helplines ------------------------------------------------------------------------


class HelplineSchema(Schema):
    key = _key()
    name = _text()
    number = fields.String(load_default=None, allow_none=True)
    email = fields.Email(load_default=None, allow_none=True)
    url = fields.Url(load_default=None, allow_none=True)
    channels = fields.List(
        fields.String(
            validate=validate.OneOf(["phone", "sms", "chat", "email", "web", "in_person"])
        ),
        required=True,
        validate=validate.Length(min=1),
    )
    hours = _text()
    cost = fields.String(load_default="")
    audience = fields.String(load_default="")
    languages = fields.List(fields.String(validate=LOCALE), load_default=list)
    emergency = fields.Boolean(required=True)
    order = fields.Integer(load_default=1000)
    description = fields.String(load_default="")

    @validates_schema
    def _reachable(self, data, **kwargs):
        if not (data["number"] or data["email"] or data["url"]):
            raise ValidationError("give at least one of number, email, url")


# -- legal_definitions ----------------------------------------------------------------


class LegalDefinitionSchema(Schema):
    key = _key()
    title = _text()
    reference = fields.String(load_default="")
    text = _text()
    order = fields.Integer(load_default=1000)


# -- report_form ----------------------------------------------------------------------


class ChoiceSchema(Schema):
    value = _key()
    label = _text()


class FormFieldSchema(Schema):
    key = _key()
    label = _text()
    type = fields.String(
        required=True,
        validate=validate.OneOf(
            ["text", "textarea", "choice", "multichoice", "date", "boolean", "site", "consent"]
        ),
    )
    required = fields.Boolean(load_default=False)
    choices = fields.List(fields.Nested(ChoiceSchema), load_default=list)
    help = fields.String(load_default="")

    @validates_schema
    def _choices(self, data, **kwargs):
        if data["type"] in {"choice", "multichoice"} and not data["choices"]:
            raise ValidationError(f"a {data['type']} field needs choices", "choices")
        _unique_keys(data["choices"], "choice", key="value")


# Which schema checks each hook's answer, and whether the answer is a list of items.
HOOK_SCHEMAS: dict[str, tuple[type[Schema], bool]] = {
    "institution_profile": (ProfileSchema, False),
    "committees": (CommitteeSchema, True),
    "route_report": (RouteSchema, False),
    "procedure": (ProcedureSchema, False),
    "sanction_ladder": (SanctionLadderSchema, False),
    "helplines": (HelplineSchema, True),
    "legal_definitions": (LegalDefinitionSchema, True),
    "report_form": (FormFieldSchema, True),
}
