"""A tenant's institution as the engine reads it: its plugins' data, indexed and cross-checked."""

from dataclasses import dataclass
from functools import cached_property

from core.plugins.host import PluginError, PluginHost, TenantInfo
from core.plugins.schemas import ANY_STATE, CORE_ACTORS, CORE_PARTIES, MEASURE_KINDS
from core.procedure.calendar import WorkingCalendar


def _by_key(items: list[dict]) -> dict[str, dict]:
    return {item["key"]: item for item in items}


@dataclass(frozen=True)
class Procedure:
    """The procedure's data with lookups; the data itself stays as validated."""

    data: dict

    @cached_property
    def states(self) -> dict[str, dict]:
        return _by_key(self.data["states"])

    @cached_property
    def transitions(self) -> dict[str, dict]:
        return _by_key(self.data["transitions"])

    @cached_property
    def consents(self) -> dict[str, dict]:
        return _by_key(self.data["consents"])

    @cached_property
    def flags(self) -> dict[str, dict]:
        return _by_key(self.data["flags"])

    @cached_property
    def parties(self) -> dict[str, dict]:
        return _by_key(self.data["parties"])

    @property
    def initial_state(self) -> str:
        return self.data["initial_state"]

    @property
    def deadlines(self) -> list[dict]:
        return self.data["deadlines"]

    @property
    def obligations(self) -> list[dict]:
        return self.data["obligations"]

    def is_final(self, state: str) -> bool:
        return self.states[state]["final"]

    def transitions_from(self, state: str) -> list[dict]:
        """The transitions that leave `state`, in the procedure's order."""
        return [
            t
            for t in self.data["transitions"]
            if state in t["from"] or (ANY_STATE in t["from"] and not self.is_final(state))
        ]


@dataclass(frozen=True)
class Institution:
    """Everything the engine needs to know about one tenant's institution."""

    info: TenantInfo
    profile: dict
    committees: dict[str, dict]
    procedure: Procedure
    measures: dict[str, dict]
    appeal: dict | None
    form: list[dict]
    # the statement form the unit writes and the reporter validates (None: the institution
    # has none; see the ``statement_form`` hook)
    statement_form: dict | None = None

    @classmethod
    def of(cls, host: PluginHost, info: TenantInfo) -> "Institution":
        profile = host.call(info, "institution_profile")
        procedure = host.call(info, "procedure")
        if profile is None or procedure is None:
            missing = "institution_profile" if profile is None else "procedure"
            raise PluginError(
                ", ".join(info.enabled_plugins) or "none", missing, "no enabled plugin answers"
            )
        ladder = host.call(info, "sanction_ladder") or {"measures": [], "appeal": None}
        return cls(
            info=info,
            profile=profile,
            committees=_by_key(host.call(info, "committees")),
            procedure=Procedure(procedure),
            measures=_by_key(ladder["measures"]),
            appeal=ladder["appeal"],
            form=host.call(info, "report_form"),
            statement_form=host.call(info, "statement_form"),
        )

    @cached_property
    def calendar(self) -> WorkingCalendar:
        return WorkingCalendar.of(self.profile)

    @cached_property
    def site_attributes(self) -> dict[str, dict]:
        return {site["key"]: site["attributes"] for site in self.profile["sites"]}

    def problems(self) -> list[str]:
        """What the plugins' data says that does not fit together (names unknown elsewhere)."""
        procedure, committees = self.procedure, self.committees
        sites = set(self.site_attributes)
        known_actors = set(CORE_ACTORS) | set(committees)
        known_parties = set(CORE_PARTIES) | set(committees) | set(procedure.parties)
        problems = []

        def check(what, refs, known, kind):
            problems.extend(f"{what} names unknown {kind} {r!r}" for r in refs if r not in known)

        for t in procedure.data["transitions"]:
            what = f"transition {t['key']!r}"
            check(what, t["roles"], known_actors, "role or committee")
            check(what, [i["party"] for i in t["informs"]], known_parties, "party")
            named = [t["assign"], t["compose"], (t["participants"] or {}).get("committee")]
            check(what, [c for c in named if c], committees, "committee")
            for entry in t["measures"]:
                if entry in self.measures:
                    continue
                if entry not in MEASURE_KINDS:
                    problems.append(f"{what} names unknown measure or measure kind {entry!r}")
                elif not any(m["kind"] == entry for m in self.measures.values()):
                    problems.append(f"{what} lets choose {entry} measures; the ladder has none")
        for flag in procedure.data["flags"]:
            who = flag["set_by"] + flag["cleared_by"]
            check(f"flag {flag['key']!r}", who, known_actors, "role or committee")
        for key, committee in committees.items():
            check(f"committee {key!r}", committee["seats_per_site"], sites, "site")
            for rule in committee["conditions"]:
                check(
                    f"rule {rule['key']!r}",
                    rule["params"].get("committees", []),
                    committees,
                    "committee",
                )
                consent = rule["params"].get("consent")
                check(
                    f"rule {rule['key']!r}",
                    [consent] if consent else [],
                    procedure.consents,
                    "consent",
                )
        for field in self.form:
            grants = [field["consent"]] if field["consent"] else []
            grants += [g for choice in field["choices"] for g in choice["grants"]]
            check(f"form field {field['key']!r}", grants, procedure.consents, "consent")
        if self.statement_form is not None:
            problems.extend(self._statement_form_problems())
        return problems

    def _statement_form_problems(self) -> list[str]:
        form, transitions = self.statement_form, self.procedure.transitions
        problems = []
        parts = (
            "submit_transition",
            "validate_transition",
            "return_transition",
            "share_transition",
        )
        for part in parts:
            key = form[part]
            if key is None:
                continue
            if key not in transitions:
                problems.append(f"statement form's {part} names unknown transition {key!r}")
            elif part in ("validate_transition", "return_transition") and (
                "reporter" not in transitions[key]["roles"]
            ):
                problems.append(f"statement form's {part} {key!r} is not the reporter's step")
        for state in form["draft_in"]:
            if state not in self.procedure.states:
                problems.append(f"statement form's draft_in names unknown state {state!r}")
        return problems
