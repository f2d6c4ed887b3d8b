"""The facts a procedure's conditions read, and the test of a condition against them."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Facts:
    """What is known of a case when a rule is checked; never what anyone wrote."""

    relation: str | None = None
    anonymous: bool = True
    # the site of each party ("victim", "implicated") and of the report itself ("report")
    sites: dict[str, str | None] = field(default_factory=dict)
    flags: frozenset[str] = frozenset()
    consents: frozenset[str] = frozenset()
    # the profile's sites, for ``site_attribute``: {site key: attributes}
    site_attributes: dict[str, dict] = field(default_factory=dict)


def holds(condition: dict | None, facts: Facts) -> bool:
    """Whether every part of `condition` holds (an empty or missing condition holds)."""
    if not condition:
        return True
    if "relation" in condition and facts.relation not in condition["relation"]:
        return False
    if "anonymous" in condition and facts.anonymous != condition["anonymous"]:
        return False
    if not set(condition.get("flags", ())) <= facts.flags:
        return False
    if set(condition.get("not_flags", ())) & facts.flags:
        return False
    if not set(condition.get("consents", ())) <= facts.consents:
        return False
    test = condition.get("site_attribute")
    if test:
        site = facts.sites.get(test["party"])
        attributes = facts.site_attributes.get(site, {}) if site else {}
        if test["attribute"] not in attributes or attributes[test["attribute"]] != test["equals"]:
            return False
    return True
