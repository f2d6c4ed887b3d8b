"""One timeline of everything that happened on a case, in the reader's language.

Steps, consents, flags, places, notices and routing (the case's events), messages both
ways, files the reporter gave, measures decided, notes, and what the case file adds
(statement forms, hearings, documents), oldest first.
"""

from dataclasses import dataclass
from datetime import datetime

from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from core.casefile.models import CaseNote
from core.cases.models import Case, CaseEvent, Message
from core.cases.operations import PARTY_NAMES, case_evidence, case_measures, plugin_translator
from core.extensions import db
from core.identity.models import User
from core.procedure.definition import Institution

NOTE_KIND_LABELS = {
    "recommendation": _l("Recommendation"),
    "decision": _l("Reasons for the decision"),
    "appeal": _l("Appeal"),
    "support_plan": _l("Follow-up support plan"),
    "note": _l("Internal note"),
}
MEASURE_KIND_LABELS = {
    "protective": _l("Protective measure"),
    "precautionary": _l("Precautionary measure"),
    "sanction": _l("Sanction"),
    "referral": _l("Referral"),
    "support": _l("Support"),
}
RELATION_LABELS = {
    "victim": _l("The person it happened to"),
    "witness": _l("A witness"),
    "knowledge": _l("Someone who knows about it"),
}


class Words:
    """The institution's names for things (stages, steps, consents…), translated for the
    reader; an unknown key (a plugin's data changed since) is shown as it is."""

    def __init__(self, institution: Institution):
        self.institution = institution
        translate, said = plugin_translator(institution), {}

        def t(text: str) -> str:  # a page names the same stages and steps many times
            if text not in said:
                said[text] = translate(text)
            return said[text]

        self.t = t
        self._core: dict[tuple[int, str], str] = {}
        profile = institution.profile
        self._sites = {s["key"]: s["name"] for s in profile["sites"]}
        self._categories = {c["key"]: c["label"] for c in profile["categories"]}
        self._deadlines = {d["key"]: d for d in institution.procedure.deadlines}

    def _core_label(self, table: dict, key: str) -> str:
        """One of core's own (lazy) labels, translated once per page."""
        if (id(table), key) not in self._core:
            self._core[id(table), key] = str(table.get(key, key))
        return self._core[id(table), key]

    def _label(self, table: dict, key: str, field: str = "label") -> str:
        item = table.get(key)
        return self.t(item[field]) if item and item.get(field) else key

    def state(self, key: str) -> str:
        return self._label(self.institution.procedure.states, key)

    def state_description(self, key: str) -> str:
        return self._label(self.institution.procedure.states, key, "description")

    def transition(self, key: str) -> str:
        return self._label(self.institution.procedure.transitions, key)

    def transition_description(self, key: str) -> str:
        item = self.institution.procedure.transitions.get(key) or {}
        return self.t(item["description"]) if item.get("description") else ""

    def consent(self, key: str) -> str:
        return self._label(self.institution.procedure.consents, key)

    def flag(self, key: str) -> str:
        return self._label(self.institution.procedure.flags, key)

    def committee(self, key: str | None) -> str:
        if key is None:
            return _("No committee yet")
        return self._label(self.institution.committees, key, "name")

    def committee_role(self, committee: str, role: str | None) -> str:
        roles = {
            r["key"]: r for r in self.institution.committees.get(committee, {}).get("roles", [])
        }
        return self._label(roles, role, "name") if role else ""

    def site(self, key: str | None) -> str:
        if not key:
            return _("not known")
        return self.t(self._sites[key]) if key in self._sites else key

    def category(self, key: str) -> str:
        return self.t(self._categories[key]) if key in self._categories else key

    def measure(self, key: str) -> str:
        return self._label(self.institution.measures, key)

    def measure_kind(self, kind: str) -> str:
        return self._core_label(MEASURE_KIND_LABELS, kind)

    def deadline(self, key: str) -> str:
        return self._label(self._deadlines, key)

    def party(self, key: str) -> str:
        """Who a notice goes to: a core party, one of the procedure's, or a committee."""
        if key == "reporter":
            return _("the person reporting")
        if key in PARTY_NAMES:
            return _(PARTY_NAMES[key])
        if key in self.institution.procedure.parties:
            return self._label(self.institution.procedure.parties, key)
        return self.committee(key)

    def note_kind(self, kind: str) -> str:
        return self._core_label(NOTE_KIND_LABELS, kind)

    def relation(self, relation: str) -> str:
        return self._core_label(RELATION_LABELS, relation)


def _entry(at: datetime, kind: str, title: str, **more) -> dict:
    return {"at": at, "kind": kind, "title": title, "detail": None, "url": None, **more}


def _names(public_ids, people: dict[str, User]) -> str:
    return ", ".join(people[p].display_name for p in public_ids if p in people)


# A case page shows this many of the latest entries; the rest are a link away, so that the
# page costs the same for a case of a hundred steps as for one of ten.
TIMELINE_WINDOW = 50


@dataclass
class Timeline:
    entries: list[dict]  # oldest first
    earlier: bool = False  # older entries exist and are not among `entries`


def _latest(query, *order, latest: int | None):
    """The rows of `query` oldest first: all of them, or only the `latest` + 1 newest (one
    more than a window holds tells whether older entries exist)."""
    if latest is None:
        return db.session.scalars(query.order_by(*order)).all()
    newest = db.session.scalars(
        query.order_by(*(column.desc() for column in order)).limit(latest + 1)
    ).all()
    return newest[::-1]


def case_timeline(
    case: Case, institution: Institution, words: Words, *, latest: int | None = None
) -> Timeline:
    """The case's timeline, oldest first: every entry, or the `latest` ones. Each entry is
    ``{"at", "kind", "title", "detail", "url", "actor", "body"}``: `body` is what a person
    wrote (messages, notes), shown only to staff who may see the case.

    With `latest`, each kind of entry is read newest first up to the window, so the work
    grows with the window, not with the case's history."""
    events = _latest(
        select(CaseEvent).where(CaseEvent.case_id == case.id),
        CaseEvent.created_at,
        CaseEvent.id,
        latest=latest,
    )
    messages = _latest(
        select(Message).where(Message.case_id == case.id),
        Message.created_at,
        Message.id,
        latest=latest,
    )
    notes = _latest(
        select(CaseNote).where(CaseNote.case_id == case.id),
        CaseNote.created_at,
        CaseNote.id,
        latest=latest,
    )
    # the page lists every measure and every file anyway: the timeline takes the latest
    measures, files = case_measures(case), case_evidence(case)
    if latest is not None:
        measures, files = measures[-(latest + 1) :], files[-(latest + 1) :]

    user_ids = {e.actor_user_id for e in events} | {m.author_user_id for m in messages}
    user_ids |= {m.decided_by_user_id for m in measures} | {n.author_user_id for n in notes}
    public_ids = {
        p for e in events for p in e.details.get("present", []) + e.details.get("composed", [])
    }
    people = db.session.scalars(
        select(User).where(or_(User.id.in_(user_ids - {None}), User.public_id.in_(public_ids)))
    ).all()
    by_id = {u.id: u for u in people}
    by_public_id = {u.public_id: u for u in people}

    def actor(kind: str, user_id: int | None) -> str:
        if user_id in by_id:
            return by_id[user_id].display_name
        if kind == "reporter":
            return _("The person reporting")
        return _("Cellule (automatic)")

    entries = [
        _event_entry(e, words, by_public_id, actor(e.actor_kind, e.actor_user_id)) for e in events
    ]
    for message in messages:
        from_reporter = message.author_kind == "reporter"
        entries.append(
            _entry(
                message.created_at,
                "message",
                _("Message from the person reporting")
                if from_reporter
                else _("Message to the person reporting"),
                actor=actor(message.author_kind, message.author_user_id),
                body=message.body,
            )
        )
    for evidence in files:
        entries.append(
            _entry(
                evidence.created_at,
                "evidence",
                _("File given by the person reporting")
                if evidence.added_by == "reporter"
                else _("File added for the person reporting"),
                detail=evidence.filename,
                url=url_for(
                    "cases.evidence", public_id=case.public_id, evidence_id=evidence.public_id
                ),
                actor=actor(evidence.added_by, None),
            )
        )
    for measure in measures:
        entries.append(
            _entry(
                measure.decided_at,
                "measure",
                _("Measure decided: %(measure)s", measure=words.measure(measure.key)),
                detail=words.measure_kind(measure.kind),
                actor=actor("user", measure.decided_by_user_id),
            )
        )
    for note in notes:
        entries.append(
            _entry(
                note.created_at,
                "note",
                words.note_kind(note.kind),
                actor=actor("user", note.author_user_id),
                body=note.body,
            )
        )
    entries.extend({"actor": None, "body": None, **entry} for entry in casefile_entries(case))
    entries.sort(key=lambda entry: entry["at"])
    if latest is not None and len(entries) > latest:
        return Timeline(entries[-latest:], earlier=True)
    return Timeline(entries)


def casefile_entries(case: Case) -> list[dict]:
    """What the case file (statement forms, hearings, documents) adds to the timeline."""
    from core.casefile.operations import timeline_entries

    return timeline_entries(case)


def _event_entry(event: CaseEvent, words: Words, people: dict[str, User], actor: str) -> dict:
    details, key = event.details or {}, event.key
    entry = _entry(event.created_at, event.kind, "", actor=actor, body=None)
    if event.kind == "opened":
        entry["title"] = _("Report received; case opened")
        if details.get("committee"):
            entry["detail"] = _(
                "Sent to: %(committee)s", committee=words.committee(details["committee"])
            )
    elif event.kind == "transition":
        entry["title"] = words.transition(key)
        parts = []
        if event.to_state and event.to_state != event.from_state:
            parts.append(_("Now: %(state)s", state=words.state(event.to_state)))
        if details.get("present"):
            parts.append(_("With: %(names)s", names=_names(details["present"], people)))
        if details.get("composed"):
            parts.append(
                _("Sitting for this case: %(names)s", names=_names(details["composed"], people))
            )
        if details.get("identity_revealed"):
            parts.append(_("The reporter's anonymity is lifted."))
        entry["detail"] = " · ".join(parts) or None
    elif event.kind == "consent":
        template = (
            _("Consent given: %(consent)s")
            if details.get("given")
            else _("Consent withdrawn or refused: %(consent)s")
        )
        entry["title"] = template % {"consent": words.consent(key)}
        if event.actor_kind == "user":
            entry["detail"] = _("Recorded by staff on the person's word.")
    elif event.kind == "flag":
        template = (
            _("Recorded: %(flag)s") if details.get("set") else _("No longer recorded: %(flag)s")
        )
        entry["title"] = template % {"flag": words.flag(key)}
    elif event.kind == "site":
        entry["title"] = _(
            "Where %(party)s belongs: %(site)s",
            party=words.party(key),
            site=words.site(details.get("site")),
        )
    elif event.kind == "notice":
        entry["title"] = _("Told: %(party)s", party=words.party(key))
        if details.get("transition"):
            entry["detail"] = _(
                "After the step: %(step)s", step=words.transition(details["transition"])
            )
    elif event.kind == "routed":
        entry["title"] = _("Sent to: %(committee)s", committee=words.committee(key))
    elif event.kind == "signal" and key == "possible_repeat":
        entry["title"] = _(
            "The person implicated may already be named in case %(reference)s.",
            reference=details.get("reference", "?"),
        )
    elif event.kind == "measure_lifted":
        entry["title"] = _("Measure lifted: %(measure)s", measure=words.measure(key))
    else:
        entry["title"] = _("Recorded: %(what)s", what=(key or event.kind).replace("_", " "))
    return entry
