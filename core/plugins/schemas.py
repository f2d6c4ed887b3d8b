"""The shapes of the data plugins return, one schema per hook.

Schemas only shape and check data; they never query the database or decide permissions.
"""

import re
import zoneinfo
from functools import cache

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


@cache
def _time_zones() -> frozenset[str]:
    """The zones the system knows (read from disk once: listing them walks the zone files)."""
    return frozenset(zoneinfo.available_timezones())


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


class CategorySchema(Schema):
    key = _key()
    label = _text()
    description = fields.String(load_default="")


# Who may report on a portal; the core words each one for reporters.
RELATIONS = ("victim", "witness", "knowledge")


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
    categories = fields.List(
        fields.Nested(CategorySchema), required=True, validate=validate.Length(min=1)
    )
    relations = fields.List(
        fields.String(validate=validate.OneOf(RELATIONS)),
        load_default=lambda: list(RELATIONS),
        validate=validate.Length(min=1),
    )
    confidentiality = fields.String(load_default="")
    # whether the portal takes anonymous reports (some procedures need the reporter's name)
    anonymous_reports = fields.Boolean(load_default=True)

    @validates("timezone")
    def _known_zone(self, value, **kwargs):
        if value not in _time_zones():
            raise ValidationError(f"unknown time zone {value!r}")

    @validates_schema
    def _consistent(self, data, **kwargs):
        if data["default_locale"] not in data["locales"]:
            raise ValidationError("default_locale must be one of locales", "default_locale")
        _unique_keys(data["sites"], "site")
        _unique_keys(data["categories"], "category")


# -- conditions (shared by committees, procedures and forms) -------------------------

# The people a case is about; a report's form says which site each belongs to.
PARTIES = ("victim", "implicated")


class SiteAttributeSchema(Schema):
    party = fields.String(required=True, validate=validate.OneOf(PARTIES))
    attribute = _key()
    equals = fields.Raw(required=True)


class ConditionSchema(Schema):
    """A test on a case's facts; every key given must hold (an empty condition always holds).

    ``relation``: the reporter's relation is one of these; ``anonymous``: the report is (or is
    not) anonymous; ``flags`` / ``not_flags``: these flags are all set / none is set;
    ``consents``: these consents are all given; ``site_attribute``: an attribute of a party's
    site (e.g. whether the implicated person's house is affiliated) equals a value.
    """

    relation = fields.List(fields.String(validate=validate.OneOf(RELATIONS)))
    anonymous = fields.Boolean()
    flags = fields.List(fields.String(validate=KEY))
    not_flags = fields.List(fields.String(validate=KEY))
    consents = fields.List(fields.String(validate=KEY))
    site_attribute = fields.Nested(SiteAttributeSchema)


# -- committees -----------------------------------------------------------------------


class CommitteeRoleSchema(Schema):
    key = _key()
    name = _text()
    min = fields.Integer(load_default=0, validate=validate.Range(min=0))


# Composition rules the core enforces when members are chosen for a case. ``note`` is a rule
# people apply (shown to them, never checked by the core).
RULE_KINDS = {
    # members serving the site of one of these parties may not sit (optionally: with these roles)
    "exclude_party_site": {"parties", "roles"},
    # members who already sat on this case for one of these committees may not sit
    "exclude_prior_involvement": {"committees"},
    # members serving the party's site may sit only once the consent is given
    "party_site_requires_consent": {"party", "consent", "roles"},
    "note": set(),
}


class RuleSchema(Schema):
    key = _key()
    kind = fields.String(load_default="note", validate=validate.OneOf(sorted(RULE_KINDS)))
    description = _text()
    params = fields.Dict(keys=fields.String(), load_default=dict)

    @validates_schema
    def _params(self, data, **kwargs):
        unknown = set(data["params"]) - RULE_KINDS[data["kind"]]
        if unknown:
            raise ValidationError(f"unknown params for {data['kind']}: {sorted(unknown)}")
        for name in ("parties", "party"):
            values = data["params"].get(name)
            values = [values] if isinstance(values, str) else values or []
            if any(v not in PARTIES for v in values):
                raise ValidationError(f"{name} must name parties among {list(PARTIES)}")


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
    conditions = fields.List(fields.Nested(RuleSchema), load_default=list)
    # members serve one site each (a campus's officers) rather than the whole institution
    per_site = fields.Boolean(load_default=False)
    # for a per-site committee: whose site its members serve a case for (None: the report's)
    site_of = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(PARTIES))
    # how many members each site needs, e.g. {"rouen": 3, "reims": 3, "paris": 2}
    seats_per_site = fields.Dict(
        keys=fields.String(validate=KEY),
        values=fields.Integer(validate=validate.Range(min=1)),
        load_default=dict,
    )

    @validates_schema
    def _sizes(self, data, **kwargs):
        if data["max_members"] is not None and data["max_members"] < data["min_members"]:
            raise ValidationError("max_members is below min_members", "max_members")
        _unique_keys(data["roles"], "role")
        _unique_keys(data["conditions"], "condition")
        if (data["seats_per_site"] or data["site_of"]) and not data["per_site"]:
            raise ValidationError("seats_per_site and site_of need per_site", "per_site")
        roles = {r["key"] for r in data["roles"]}
        for rule in data["conditions"]:
            if set(rule["params"].get("roles", [])) - roles:
                raise ValidationError(f"condition {rule['key']!r} names an unknown role")


# -- route_report ---------------------------------------------------------------------


class RouteSchema(Schema):
    committee = _key()
    site = fields.String(load_default=None, allow_none=True)
    exclude_sites = fields.List(fields.String(validate=KEY), load_default=list)
    also_notify = fields.List(fields.String(validate=KEY), load_default=list)
    reason = fields.String(load_default="")


# -- procedure ------------------------------------------------------------------------


# Who a transition's ``roles`` may name besides the tenant's committee keys.
CORE_ACTORS = (
    "listener",
    "committee_member",
    "decision_maker",
    "admin",
    "reporter",
    # the members serving the committee the case is assigned to now
    "handling_committee",
)
# Who ``informs`` may name besides committee keys and the procedure's own ``parties``.
CORE_PARTIES = ("reporter", "victim", "implicated")
# Which measures a transition lets its actor record (see ``sanction_ladder``).
MEASURE_KINDS = ("protective", "precautionary", "sanction", "referral", "support")
ANY_STATE = "*"


class StateSchema(Schema):
    key = _key()
    label = _text()
    final = fields.Boolean(load_default=False)
    description = fields.String(load_default="")
    # what the reporter reads: plain words, shown on the portal and in the reporter's space
    reporter_label = fields.String(load_default=None, allow_none=True)
    reporter_description = fields.String(load_default="")
    # steps drawn on the portal's "what happens after you report"
    public = fields.Boolean(load_default=True)
    # who may see a case in this state (core roles or committee keys); empty: the committee
    # the case is assigned to and the tenant's listeners
    visible_to = fields.List(fields.String(validate=KEY), load_default=list)


class ConsentRequirementSchema(Schema):
    consent = _key()
    when = fields.Nested(ConditionSchema, load_default=dict)


class ConsentRequirementField(fields.Field):
    """A consent key, or ``{"consent": key, "when": condition}`` for a conditional gate."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            value = {"consent": value}
        return ConsentRequirementSchema().load(value)


class InformSchema(Schema):
    party = _key()
    message = fields.String(load_default="")


class InformField(fields.Field):
    """A party key, or ``{"party": key, "message": "what they are told"}``."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            value = {"party": value}
        return InformSchema().load(value)


class ParticipantsSchema(Schema):
    committee = _key()
    min = fields.Integer(required=True, validate=validate.Range(min=1))


class EffectSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(["reveal_identity"]))
    unless = fields.Nested(ConditionSchema, load_default=None, allow_none=True)


class TransitionSchema(Schema):
    key = _key()
    label = _text()
    from_ = fields.List(
        fields.String(validate=validate.Regexp(r"^(\*|[a-z][a-z0-9_]*)$")),
        required=True,
        data_key="from",
        validate=validate.Length(min=1),
    )
    # None: an action that leaves the case in its state (a hearing, a progress report)
    to = fields.String(load_default=None, allow_none=True, validate=KEY)
    roles = fields.List(fields.String(validate=KEY), required=True, validate=validate.Length(min=1))
    when = fields.Nested(ConditionSchema, load_default=dict)
    requires_consent = fields.List(ConsentRequirementField(), load_default=list)
    requires_flags = fields.List(fields.String(validate=KEY), load_default=list)
    # parties whose site must be known first (the house of the person implicated)
    requires_sites = fields.List(fields.String(validate=validate.OneOf(PARTIES)), load_default=list)
    participants = fields.Nested(ParticipantsSchema, load_default=None, allow_none=True)
    assign = fields.String(load_default=None, allow_none=True, validate=KEY)
    compose = fields.String(load_default=None, allow_none=True, validate=KEY)
    # measure kinds (see MEASURE_KINDS) or keys of particular measures of the ladder
    measures = fields.List(fields.String(validate=KEY), load_default=list)
    effects = fields.List(fields.Nested(EffectSchema), load_default=list)
    informs = fields.List(InformField(), load_default=list)
    description = fields.String(load_default="")
    reporter_label = fields.String(load_default=None, allow_none=True)

    @post_load
    def _plain_from(self, data, **kwargs):
        data["from"] = data.pop("from_")
        return data


class KeyList(fields.List):
    """One key or a non-empty list of keys."""

    def __init__(self, **kwargs):
        super().__init__(fields.String(validate=KEY), validate=validate.Length(min=1), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize([value] if isinstance(value, str) else value, attr, data)


class DeadlineSchema(Schema):
    key = _key()
    label = _text()
    starts = KeyList(required=True)
    ends = KeyList(required=True)
    working_days = fields.Integer(validate=validate.Range(min=1))
    calendar_days = fields.Integer(validate=validate.Range(min=1))
    hours = fields.Integer(validate=validate.Range(min=1))
    indicative = fields.Boolean(load_default=False)
    when = fields.Nested(ConditionSchema, load_default=dict)
    description = fields.String(load_default="")
    # shown to the reporter on the portal's diagram, next to the step it belongs to
    public = fields.Boolean(load_default=True)

    @validates_schema
    def _one_duration(self, data, **kwargs):
        given = [k for k in ("working_days", "calendar_days", "hours") if k in data]
        if len(given) != 1:
            raise ValidationError("give exactly one of working_days, calendar_days, hours")


class KeyedTextSchema(Schema):
    key = _key()
    label = _text()
    description = fields.String(load_default="")


class ConsentSchema(KeyedTextSchema):
    # whether the person reporting gives it from the reporter's space; False for a consent
    # someone else gives (the victim's, on a witness's report), which staff record
    asked_of_reporter = fields.Boolean(load_default=True)


class FlagSchema(KeyedTextSchema):
    # who may record it (core roles or committee keys); empty: those handling the case now
    set_by = fields.List(fields.String(validate=KEY), load_default=list)
    # who may clear it once recorded; empty: the same people as set_by
    cleared_by = fields.List(fields.String(validate=KEY), load_default=list)


class ObligationSchema(Schema):
    key = _key()
    label = _text()
    description = fields.String(load_default="")
    when = fields.Nested(ConditionSchema, required=True)
    transition = _key()


class ProcedureSchema(Schema):
    initial_state = _key()
    states = fields.List(fields.Nested(StateSchema), required=True, validate=validate.Length(min=2))
    transitions = fields.List(
        fields.Nested(TransitionSchema), required=True, validate=validate.Length(min=1)
    )
    deadlines = fields.List(fields.Nested(DeadlineSchema), load_default=list)
    consents = fields.List(fields.Nested(ConsentSchema), load_default=list)
    flags = fields.List(fields.Nested(FlagSchema), load_default=list)
    parties = fields.List(fields.Nested(KeyedTextSchema), load_default=list)
    obligations = fields.List(fields.Nested(ObligationSchema), load_default=list)

    @validates_schema
    def _references(self, data, **kwargs):
        for part in ("states", "transitions", "deadlines", "consents", "flags", "parties"):
            _unique_keys(data[part], part[:-1])
        _unique_keys(data["obligations"], "obligation")
        states = {s["key"] for s in data["states"]}
        transitions = {t["key"] for t in data["transitions"]}
        consents = {c["key"] for c in data["consents"]}
        flags = {f["key"] for f in data["flags"]}
        parties = {p["key"] for p in data["parties"]}

        def check(what, refs, known, kind):
            for ref in refs:
                if ref not in known:
                    raise ValidationError(f"{what} names unknown {kind} {ref!r}")

        def check_condition(what, condition):
            if condition:
                check(
                    what, condition.get("flags", []) + condition.get("not_flags", []), flags, "flag"
                )
                check(what, condition.get("consents", []), consents, "consent")

        if data["initial_state"] not in states:
            raise ValidationError(f"initial_state {data['initial_state']!r} is not a state")
        if set(parties) & set(CORE_PARTIES):
            raise ValidationError(f"parties {list(CORE_PARTIES)} are the core's own")
        for t in data["transitions"]:
            what = f"transition {t['key']!r}"
            check(what, [s for s in t["from"] if s != ANY_STATE], states, "state")
            check(what, [t["to"]] if t["to"] else [], states, "state")
            check(what, [r["consent"] for r in t["requires_consent"]], consents, "consent")
            check(what, t["requires_flags"], flags, "flag")
            check_condition(what, t["when"])
            for r in t["requires_consent"]:
                check_condition(what, r["when"])
            for e in t["effects"]:
                check_condition(what, e["unless"])
        for d in data["deadlines"]:
            what = f"deadline {d['key']!r}"
            check(what, d["starts"], states | transitions, "state or transition")
            check(what, d["ends"], states | transitions, "state or transition")
            check_condition(what, d["when"])
        for o in data["obligations"]:
            what = f"obligation {o['key']!r}"
            check(what, [o["transition"]], transitions, "transition")
            check_condition(what, o["when"])
        if not any(s["final"] for s in data["states"]):
            raise ValidationError("at least one state must be final")


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
    # who may decide it, in the institution's words (e.g. "the General Delegate")
    decided_by = fields.String(load_default="")


class AppealSchema(Schema):
    label = _text()
    description = fields.String(load_default="")
    # who hears the appeal, e.g. "the president of the National Foundation's board"
    authority = fields.String(load_default="")


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


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TIME = validate.Regexp(r"^([01][0-9]|2[0-4]):[0-5][0-9]$", error="must be a time like 09:30")


class SlotSchema(Schema):
    days = fields.List(
        fields.String(validate=validate.OneOf(DAYS)), required=True, validate=validate.Length(min=1)
    )
    opens = fields.String(required=True, validate=TIME)
    closes = fields.String(required=True, validate=TIME)

    @validates_schema
    def _order(self, data, **kwargs):
        if data["closes"] <= data["opens"]:
            raise ValidationError("closes must be after opens (use 24:00 for midnight)")


class HoursSchema(Schema):
    """When a line answers: ``{"always": true}``, or weekly ``slots`` in the institution's time
    zone; ``note`` adds what a schedule cannot say (public holidays, "by appointment")."""

    always = fields.Boolean(load_default=False)
    slots = fields.List(fields.Nested(SlotSchema), load_default=list)
    note = fields.String(load_default="")

    @validates_schema
    def _one_way(self, data, **kwargs):
        if data["always"] and data["slots"]:
            raise ValidationError("give either always or slots, not both")
        if not (data["always"] or data["slots"] or data["note"]):
            raise ValidationError("say when the line answers: always, slots or a note")


class HelplineSchema(Schema):
    key = _key()
    name = _text()
    number = fields.String(load_default=None, allow_none=True)
    email = fields.Email(load_default=None, allow_none=True)
    url = fields.Url(load_default=None, allow_none=True, schemes={"https", "http"})
    address = fields.String(load_default=None, allow_none=True)
    channels = fields.List(
        fields.String(
            validate=validate.OneOf(["phone", "sms", "chat", "email", "web", "in_person"])
        ),
        required=True,
        validate=validate.Length(min=1),
    )
    hours = fields.Nested(HoursSchema, required=True)
    cost = fields.String(
        load_default="unknown", validate=validate.OneOf(["free", "charged", "unknown"])
    )
    cost_note = fields.String(load_default="")
    audience = fields.String(load_default="")
    languages = fields.List(fields.String(validate=LOCALE), load_default=list)
    # a number to call when someone is in danger now (17, 15, 114, 112)
    emergency = fields.Boolean(required=True)
    # a line that says of itself it is not an emergency number (3919): the portal says so
    not_for_emergencies = fields.Boolean(load_default=False)
    # national lines come from one shared directory; local ones are the institution's own
    scope = fields.String(load_default="local", validate=validate.OneOf(["national", "local"]))
    order = fields.Integer(load_default=1000)
    description = fields.String(load_default="")

    @validates_schema
    def _reachable(self, data, **kwargs):
        if not (data["number"] or data["email"] or data["url"] or data["address"]):
            raise ValidationError("give at least one of number, email, url, address")
        if data["emergency"] and data["not_for_emergencies"]:
            raise ValidationError("a line cannot be both emergency and not for emergencies")


# -- legal_definitions ----------------------------------------------------------------


class LegalDefinitionSchema(Schema):
    key = _key()
    title = _text()
    # the article(s) quoted or summarised, e.g. "Code pénal, art. 222-33"
    reference = fields.String(load_default="")
    text = _text()
    # enumerations kept as lists (the 25 discrimination criteria), shown as bullet points
    items = fields.List(fields.String(validate=validate.Length(min=1)), load_default=list)
    # headings group definitions on the page ("Harassment", "Consent")
    group = fields.String(load_default="")
    order = fields.Integer(load_default=1000)


# -- report_form ----------------------------------------------------------------------


class ChoiceSchema(Schema):
    value = _key()
    label = _text()
    # consents the reporter gives by picking this choice
    grants = fields.List(fields.String(validate=KEY), load_default=list)


FIELD_TYPES = (
    "text",  # one line
    "textarea",  # free text
    "number",  # a whole number
    "choice",  # one of `choices`
    "multichoice",  # any of `choices`
    "date",
    "boolean",
    "site",  # one of the profile's sites; `party` says whose site it is
    "person",  # the name of a person (kept encrypted; people implicated are matched across cases)
    "consent",  # a box that gives the consent named by `consent` when ticked
)


class FormFieldSchema(Schema):
    key = _key()
    label = _text()
    type = fields.String(required=True, validate=validate.OneOf(FIELD_TYPES))
    required = fields.Boolean(load_default=False)
    choices = fields.List(fields.Nested(ChoiceSchema), load_default=list)
    help = fields.String(load_default="")
    # groups fields on the page ("The person implicated")
    section = fields.String(load_default="")
    # for `site` fields: the site of this party (None: where it happened, used for routing)
    party = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(PARTIES))
    # for `person` fields: who this person is in the report
    role = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf([*PARTIES, "witness"])
    )
    consent = fields.String(load_default=None, allow_none=True, validate=KEY)

    @validates_schema
    def _choices(self, data, **kwargs):
        if data["type"] in {"choice", "multichoice"} and not data["choices"]:
            raise ValidationError(f"a {data['type']} field needs choices", "choices")
        if data["type"] == "consent" and not data["consent"]:
            raise ValidationError("a consent field names the consent it gives", "consent")
        if data["party"] and data["type"] != "site":
            raise ValidationError("only site fields name a party", "party")
        _unique_keys(data["choices"], "choice", key="value")


# -- statement_form -------------------------------------------------------------------

STATEMENT_FIELD_TYPES = ("text", "textarea", "date", "choice")
# who fills a field of the statement form: the unit (the reporter reads and validates it)
STATEMENT_FILLED_BY = ("unit",)


class StatementChoiceSchema(Schema):
    value = _key()
    label = _text()


class StatementFieldSchema(Schema):
    key = _key()
    label = _text()
    type = fields.String(required=True, validate=validate.OneOf(STATEMENT_FIELD_TYPES))
    required = fields.Boolean(load_default=False)
    help = fields.String(load_default="")
    choices = fields.List(fields.Nested(StatementChoiceSchema), load_default=list)
    filled_by = fields.String(load_default="unit", validate=validate.OneOf(STATEMENT_FILLED_BY))

    @validates_schema
    def _choices(self, data, **kwargs):
        if data["type"] == "choice" and not data["choices"]:
            raise ValidationError("a choice field needs choices", "choices")
        if data["type"] != "choice" and data["choices"]:
            raise ValidationError("only choice fields have choices", "choices")
        _unique_keys(data["choices"], "choice", key="value")


class StatementSectionSchema(Schema):
    key = _key()
    title = _text()
    description = fields.String(load_default="")
    # "fields" is a Schema's own attribute: the data key is read under another name
    fields_ = fields.List(
        fields.Nested(StatementFieldSchema),
        required=True,
        data_key="fields",
        validate=validate.Length(min=1),
    )

    @post_load
    def _plain_fields(self, data, **kwargs):
        data["fields"] = data.pop("fields_")
        return data


class StatementFormSchema(Schema):
    title = _text()
    description = fields.String(load_default="")
    # the procedure's steps the form takes: given to the reporter, validated by them, and
    # (if the procedure has one) sent back by them
    submit_transition = _key()
    validate_transition = _key()
    return_transition = fields.String(load_default=None, allow_none=True, validate=KEY)
    # the step that passes the form on beyond those who write it (None: whoever sees the case
    # reads it)
    share_transition = fields.String(load_default=None, allow_none=True, validate=KEY)
    # the states in which the unit writes or corrects it; empty: where submit_transition
    # leaves from
    draft_in = fields.List(fields.String(validate=KEY), load_default=list)
    sections = fields.List(
        fields.Nested(StatementSectionSchema), required=True, validate=validate.Length(min=1)
    )

    @validates_schema
    def _unique(self, data, **kwargs):
        _unique_keys(data["sections"], "section")
        _unique_keys([f for s in data["sections"] for f in s["fields"]], "field")


# -- hearing_rules --------------------------------------------------------------------


class HearingRulesSchema(Schema):
    # person_of_choice: anyone heard may be assisted by a person of their choice;
    # minors_only: no one is assisted, except minors; none: no one is assisted
    assistance = fields.String(
        required=True, validate=validate.OneOf(["person_of_choice", "minors_only", "none"])
    )
    # taking part in a hearing, and testifying, is voluntary
    voluntary = fields.Boolean(load_default=False)
    note = fields.String(load_default="")


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
    "statement_form": (StatementFormSchema, False),
    "hearing_rules": (HearingRulesSchema, False),
}
