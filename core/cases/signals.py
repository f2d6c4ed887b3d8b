"""The repeat-perpetrator signal: a new report naming a person already named in another case.

Names are never compared, nor kept, in clear. Each name a report gives for the person
implicated is normalised (accents and case dropped, punctuation and spaces collapsed, the
words sorted, so "DUPONT  Jean" and "jean dupont" agree) and kept only as an HMAC under a
key derived from the tenant's first data key (the one the audit chain's key comes from, so
a key rotation does not stop old marks from matching). A mark therefore matches only inside
its tenant and says nothing to anyone without that key. When a new case shares a mark with
an earlier case of the same tenant, the unit handling the new case is told — in its
timeline (the other case's reference) and by e-mail (references only) — and the reporter
never is.
"""

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable

from sqlalchemy import select

from core.audit.operations import SYSTEM, record_event
from core.cases.models import Case, CaseEvent, PersonMark
from core.crypto.fields import audit_key
from core.crypto.keys import derive_subkey
from core.extensions import db
from core.procedure.definition import Institution
from core.reports.models import Report

# The core report form's own "who did it?" answer (when the institution's form has none).
CORE_ANSWER = "core_people_implicated"
IMPLICATED = "implicated"
# One answer may name several people: "Jean Dupont, Marie Curie et Paul Martin".
_SEPARATORS = re.compile(r"\s*(?:[,;/&+\n]|\band\b|\bet\b)\s*", re.IGNORECASE)
# Answers that name nobody, which would otherwise match across unrelated cases.
_NOBODY = (
    "unknown",
    "I don't know",
    "don't know",
    "I do not know",
    "no idea",
    "none",
    "nobody",
    "anonymous",
    "inconnu",
    "inconnue",
    "inconnus",
    "je ne sais pas",
    "je sais pas",
    "sais pas",
    "aucun",
    "aucune",
    "personne",
    "anonyme",
)


def normalise_name(name: str) -> str:
    """A name reduced to what identifies it: no accents, no case, no punctuation, words in
    order ("Dupont Jean" and "jean  DUPONT" both give "dupont jean")."""
    decomposed = unicodedata.normalize("NFKD", name)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    words = re.sub(r"[^\w]+|_", " ", bare).split()
    return " ".join(sorted(words))


NOT_A_NAME = frozenset({"", *map(normalise_name, _NOBODY)})


def names_in(answer: str) -> list[str]:
    """The names one answer gives, each normalised; answers that name nobody give none."""
    names = (normalise_name(part) for part in _SEPARATORS.split(answer or ""))
    return list(dict.fromkeys(n for n in names if n not in NOT_A_NAME and len(n) > 1))


def implicated_names(report: Report, institution: Institution) -> list[str]:
    """Every normalised name the report gives for a person implicated: the institution's
    ``person`` fields of role implicated, and the core form's answer."""
    answers = report.form_data or {}
    keys = [
        field["key"]
        for field in institution.form
        if field["type"] == "person" and field.get("role") == IMPLICATED
    ]
    found = []
    for key in [*keys, CORE_ANSWER]:
        value = answers.get(key)
        if isinstance(value, str):
            found.extend(names_in(value))
    return list(dict.fromkeys(found))


def mark_key(tenant_id: int) -> bytes:
    """The tenant's key for person marks, derived from its first data key (as the audit
    chain's is, from which it is derived in turn), so rotation keeps marks matching."""
    return derive_subkey(audit_key(tenant_id), "person-marks")


def person_digest(tenant_id: int, normalised: str) -> str:
    return hmac.new(mark_key(tenant_id), normalised.encode(), hashlib.sha256).hexdigest()


def mark_people(case: Case, names: Iterable[str]) -> list[str]:
    """Keep a mark of each name for `case` (once per name); the digests."""
    digests = list(dict.fromkeys(person_digest(case.tenant_id, name) for name in names))
    held = set(
        db.session.scalars(
            select(PersonMark.digest).where(
                PersonMark.case_id == case.id, PersonMark.digest.in_(digests)
            )
        )
    )
    for digest in digests:
        if digest not in held:
            db.session.add(PersonMark(tenant_id=case.tenant_id, case_id=case.id, digest=digest))
    db.session.flush()
    return digests


def signal_repeated_people(case: Case, report: Report, institution: Institution) -> list[Case]:
    """Mark the people `report` implicates and tell the unit handling `case` about every
    other case of the tenant that names one of them; those cases, oldest first.

    In the caller's transaction. The signal is a timeline entry per other case, holding its
    reference only, an audit event and an e-mail to the members serving the case's
    committee; nothing of it reaches the reporter.
    """
    from core.mail.operations import notify_unit_of_possible_repeat  # mail reads the engine

    names = implicated_names(report, institution)
    if not names:
        return []
    digests = mark_people(case, names)
    others = list(
        db.session.scalars(
            select(Case)
            .where(
                Case.tenant_id == case.tenant_id,
                Case.id != case.id,
                Case.id.in_(
                    select(PersonMark.case_id).where(
                        PersonMark.tenant_id == case.tenant_id, PersonMark.digest.in_(digests)
                    )
                ),
            )
            .order_by(Case.opened_at, Case.id)
        )
    )
    if not others:
        return []
    for other in others:
        db.session.add(
            CaseEvent(
                tenant_id=case.tenant_id,
                case_id=case.id,
                kind="signal",
                key="possible_repeat",
                actor_kind=SYSTEM,
                details={"reference": other.reference},
            )
        )
    record_event(
        case.tenant_id,
        actor=SYSTEM,
        action="case.possible_repeat",
        target=("case", case.public_id),
        details={"cases": [other.public_id for other in others]},
    )
    notify_unit_of_possible_repeat(case, institution, [other.reference for other in others])
    return others
