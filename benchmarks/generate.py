"""Fill a PostgreSQL database with Cellule data at scale, for the benchmarks.

    python -m benchmarks.generate --database-url OWNER_URL --app-url APP_URL \\
        --tenants 1000 --cases 1000000 --seed 1 --manifest bench/manifest.json

What it makes, as the application would have made it over several years:

* **Tenants** spread over the installed institution plugins (round robin by size), each with
  its data key (wrapped under the master key with `core.crypto.keys.wrap_data_key`), its
  committees (from the plugin's ``committees`` hook), a few staff accounts seated on them
  (enough to compose each committee, and spares where a rule such as CIUP's conflicts of
  interest may exclude some), an admin and an auditor, and for one tenant in ten a custom
  domain. Every account has the same password, hashed with argon2id **once**; each has its
  own TOTP secret, sealed with `core.crypto.keys.seal`, and ten recovery codes, so a
  benchmark client can sign in with pyotp.
* **Cases** sized like reality: a Zipf-like spread, most tenants small and the largest holding
  `--largest-share` of all cases (12 %, so more than 100,000 at one million), opened over
  `--years` years, more in recent ones. Each is a report (the narrative, the form's answers
  and a named reporter's identity encrypted under the tenant's data key with
  `core.crypto.fields.encrypt`, through each column's own type), routed by the plugin's
  ``route_report`` hook, then taken through the tenant's procedure as the engine does:
  stages, steps and who may take them, consents, flags, parties' places, committee
  compositions and presences (held to the committees' rules), measures from the ladder,
  notices (those the platform sends, those staff mark done), deadlines
  (`WorkingCalendar.due` and `reminder_time` on the tenant's calendar, met or cancelled as
  steps end them, with the reminders and alerts the sweep would have sent by `--until`),
  1–5 messages both ways, the repeat-report marks and their signals, and the audit trail:
  each tenant's chain sealed in time order with the chain's own `_mac` and `_head_seal`, so
  `cellule audit verify` finds it intact. Old cases are mostly closed, some are stuck with
  overdue deadlines, recent ones are on their way. In the largest tenant, `--heavy-cases`
  cases carry about `--heavy-events` timeline entries (for the case-page benchmark). Staff
  reads are audited once per case (the unit opening it), not at every look.

  Walking a case through the procedure costs about a millisecond of Python, so walks are
  made once per plugin, on template cases (64 report shapes, 16 walks each), and recorded;
  each case plays one of them from its own opening time (its pace scaled), with its own
  ids, texts and seals, whole or cut short where the case stopped or `--until` comes.
* **Receipts**: the reports listed in the manifest (`--receipts` per sample tenant, and the
  heavy cases) get a real receipt, stored as `core.reports.operations.receipt_hash` stores
  it, and their codes go to the manifest. A real receipt costs one argon2id computation (at
  RFC 9106's low-memory profile, tens of milliseconds: days for a million reports), and the
  receipt hash is unique per tenant (`ix_reports_tenant_id_receipt_hash`), so the others
  cannot share one hash either: each gets the argon2id string of one precomputed hash with a
  random digest of the same length in place of its own. It has the size and shape of a real
  one, so the index is as large as in production, and no receipt opens it (as if its code
  had been lost).

How: every row is built in Python from the project's own functions and written with
``COPY … FROM STDIN (FORMAT BINARY)`` into the tables the migrations made (`flask db
upgrade` runs first), with the column list of each table taken from the models' metadata
(`db.metadata.tables`): a model that gains a column stops the generator with its name
rather than leaving it empty. Tenants are split between `--workers` processes, each with its
own connection and its own range of ids. During the load the tables have their primary keys
only: their other indexes, unique constraints and foreign keys are read from PostgreSQL's
catalogue, dropped, and put back afterwards exactly as they were (`--keep-indexes` loads
into the indexed tables instead, several times slower); putting each foreign key back checks
every row written. Then the sequences are moved past the ids used and the database is
analysed. The application's role keeps the grants the migrations gave it. The generator
writes only into an empty database; one it failed to fill is left without those indexes and
must be dropped.

Not made: evidence files, statement forms, hearings, documents, notes, API tokens, and the
e-mail outbox (as if every e-mail had been sent and purged).

The owner's connection must escape row-level security (a superuser, or a role with
BYPASSRLS): PostgreSQL refuses ``COPY FROM`` into a table whose policies apply to the role,
and Cellule's policies are FORCE'd, so they bind the tables' owner too.

The same `--seed` and `--until` give the same tenants, accounts, passwords, TOTP secrets,
receipts, cases, texts and histories (for the same number of workers, the same ids too);
data keys, ciphertexts and seals are random, as they must be. Every text is invented
(syllables): no real name or story. The manifest holds the secrets of this generated data
only, to run the app on it and sign in: never point the generator at a real database.
"""

from __future__ import annotations

import argparse
import base64
import functools
import gc
import hashlib
import heapq
import hmac
import itertools
import json
import math
import multiprocessing
import os
import queue
import random
import resource
import secrets
import sys
import tempfile
import threading
import time
import traceback
from bisect import bisect_left
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import psycopg
import sqlalchemy as sa
from psycopg.types.json import Jsonb

from core.audit.operations import GENESIS, _head_seal, _mac
from core.cases.models import _REFERENCE_ALPHABET
from core.cases.operations import (
    HANDLING_COMMITTEE,
    REPORTER,
    _report_view,
    _route,
    _rule_broken,
    _transition_details,
    consents_in_answers,
    holds_any,
    seat_covers,
    site_served,
)
from core.cases.reminders import reminder_time
from core.cases.signals import implicated_names, mark_key
from core.crypto.fields import encrypt, key_cache
from core.crypto.keys import (
    MasterKeys,
    derive_subkey,
    generate_master_key,
    seal,
    wrap_data_key,
)
from core.extensions import db
from core.identity.models import Role
from core.identity.operations import password_hasher
from core.identity.security import (
    RECOVERY_CODE_BYTES,
    RECOVERY_CODE_COUNT,
    _recovery_code_hash,
    _totp_purpose,
)
from core.plugins.host import PluginError, TenantInfo, plugin_host
from core.procedure.conditions import Facts, holds
from core.procedure.definition import Institution
from core.reports.operations import RECEIPT_DIGITS, receipt_hash

PLATFORM = "platform"
SYSTEM = "system"
USER = "user"
STAFF_PASSWORD = "bench-staff-password-2026"
EMAIL_DOMAIN = "cellule-bench.example"
DOMAIN_SHARE = 10  # one tenant in ten is also served on a custom domain
SAMPLE_RECEIPTS = 20
SHAPES = 64  # report shapes per plugin, each routed once by the plugin
SCRIPTS_PER_SHAPE = 16  # recorded walks through the procedure per shape
HEAVY_CASES = 5
HEAVY_EVENTS = 200
FLUSH_ROWS = 60_000
ID_LIMIT = 2**31 - 1  # the tables' ids are PostgreSQL integers

# The core role each seat holder gets, by the purpose of the committee (as `cellule demo`).
ROLE_BY_PURPOSE = {
    "listening": Role.LISTENER,
    "support": Role.LISTENER,
    "pre_analysis": Role.COMMITTEE_MEMBER,
    "investigation": Role.COMMITTEE_MEMBER,
    "decision": Role.DECISION_MAKER,
}
# Rule kinds that compare a seat's site with a party's: such seats get a site.
SITE_RULES = ("exclude_party_site", "party_site_requires_consent")
RELATION_WEIGHTS = {"victim": 65, "witness": 25, "knowledge": 10}

# Each table the generator writes, with the columns of each row in the order it builds them.
# `check_columns` holds them against the models' metadata before anything is written.
COLUMNS = {
    "tenants": (
        "id slug name default_locale locales branding enabled_plugins revision created_at "
        "suspended_at"
    ),
    "tenant_domains": "id tenant_id host",
    "tenant_keys": "id tenant_id key_id wrapped master_key_id created_at",
    "users": (
        "id public_id email display_name password_hash is_platform_operator created_at "
        "disabled_at password_changed_at totp_secret totp_confirmed_at totp_last_step "
        "failed_logins locked_until"
    ),
    "recovery_codes": "id user_id code_hash created_at used_at",
    "memberships": "id tenant_id user_id role created_at",
    "committees": "id tenant_id public_id key name created_at",
    "committee_members": "id tenant_id committee_id user_id function role_key site_key created_at",
    "audit_heads": "id tenant_id seq hash seal",
    "audit_events": (
        "id tenant_id seq created_at actor_kind actor_user_id action target_type target_id "
        "details prev_hash hash"
    ),
    "cases": (
        "id tenant_id public_id reference state committee_id site_key facts flags routing "
        "identity_revealed_at opened_at updated_at closed_at"
    ),
    "reports": (
        "id tenant_id public_id case_id submitted_at reporter_relation is_anonymous site_key "
        "categories narrative form_data receipt_hash submission_digest notify_email"
    ),
    "reporter_identities": "id tenant_id report_id full_name contact",
    "messages": "id tenant_id public_id case_id author_kind author_user_id body created_at read_at",
    "case_events": (
        "id tenant_id case_id created_at kind key actor_kind actor_user_id from_state to_state "
        "details"
    ),
    "case_consents": "id tenant_id case_id key given recorded_at recorded_by",
    "deadlines": (
        "id tenant_id public_id case_id key started_at due_at indicative met_at cancelled_at "
        "remind_at reminded_at alerted_at"
    ),
    "case_members": (
        "id tenant_id case_id committee_id user_id role_key capacity transition_key added_at "
        "released_at"
    ),
    "case_measures": (
        "id tenant_id public_id case_id key kind transition_key decided_by_user_id decided_at "
        "lifted_at lifted_by_user_id"
    ),
    "case_notices": (
        "id tenant_id public_id case_id party message transition_key created_at done_at "
        "done_by_user_id"
    ),
    "person_marks": "id tenant_id case_id digest created_at",
}
COLUMNS = {table: tuple(columns.split()) for table, columns in COLUMNS.items()}


class GeneratorError(RuntimeError):
    """The generator cannot run as asked."""


# -- the schema -----------------------------------------------------------------------------


def check_columns() -> None:
    """Refuse to run if a table the generator fills has columns it does not know, or lost
    some: the rows it builds must be whole rows of today's models."""
    from core.models import import_all_models

    import_all_models()
    problems = []
    for name, columns in COLUMNS.items():
        table = db.metadata.tables.get(name)
        if table is None:
            problems.append(f"table {name} is not in the models")
            continue
        declared = {column.name for column in table.columns}
        if missing := declared - set(columns):
            problems.append(f"{name}: the generator does not fill {sorted(missing)}")
        if unknown := set(columns) - declared:
            problems.append(f"{name}: the models have no column {sorted(unknown)}")
    if problems:
        raise GeneratorError("; ".join(problems))


@functools.cache
def stored_role(role: Role) -> str:
    """How the `memberships.role` column stores a role (SQLAlchemy's Enum keeps names)."""
    from core.identity.models import Membership

    column = Membership.__table__.c.role
    process = column.type.bind_processor(sa.dialects.postgresql.dialect())
    return process(role) if process else role.value


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL (``postgresql+psycopg://…``) as psycopg's own connection string."""
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class Loader:
    """Rows buffered per table and written with binary COPY, parent tables first."""

    def __init__(self, connection: psycopg.Connection, flush_rows: int = FLUSH_ROWS):
        self.connection = connection
        self.flush_rows = flush_rows
        self.order = [t.name for t in db.metadata.sorted_tables if t.name in COLUMNS]
        self.statements: dict[str, str] = {}
        self.types: dict[str, list[int]] = {}
        with connection.cursor() as cursor:
            for name in self.order:
                cursor.execute(
                    "SELECT attname, atttypid FROM pg_attribute "
                    "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                    (name,),
                )
                oids = dict(cursor.fetchall())
                self.types[name] = [oids[column] for column in COLUMNS[name]]
                quoted = ", ".join(f'"{column}"' for column in COLUMNS[name])
                self.statements[name] = f"COPY {name} ({quoted}) FROM STDIN (FORMAT BINARY)"
        self.buffers: dict[str, list] = {name: [] for name in self.order}
        self.rows = dict.fromkeys(self.order, 0)
        self.seconds = 0.0

    def add(self, table: str, row: tuple) -> None:
        self.buffers[table].append(row)

    def flush_if_full(self) -> None:
        if sum(map(len, self.buffers.values())) >= self.flush_rows:
            self.flush()

    def flush(self) -> None:
        started = time.perf_counter()
        with self.connection.cursor() as cursor:
            for name in self.order:
                rows = self.buffers[name]
                if not rows:
                    continue
                with cursor.copy(self.statements[name]) as copy:
                    copy.set_types(self.types[name])
                    for row in rows:
                        copy.write_row(row)
                self.rows[name] += len(rows)
                rows.clear()
        self.seconds += time.perf_counter() - started


class Ids:
    """Ids for one worker: a range of its own in every table, so workers never collide and
    the same worker count gives the same ids."""

    def __init__(self, worker: int, workers: int):
        span = ID_LIMIT // workers
        self.first, self.last = worker * span + 1, (worker + 1) * span
        self.counters = {table: itertools.count(self.first) for table in COLUMNS}

    def __call__(self, table: str) -> int:
        return next(self.counters[table])

    def check(self) -> None:
        """Refuse ids past this worker's range (a table of more than 2^31 / workers rows)."""
        for table, counter in self.counters.items():
            if next(counter) > self.last:
                raise GeneratorError(f"{table}: more rows than this worker has ids for")


# -- invented text ---------------------------------------------------------------------------

_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"


class FakeText:
    """Words, names and sentences made of invented syllables: nothing in them is about anyone."""

    def __init__(self, rng: random.Random):
        self.words = [self._word(rng, rng.randint(1, 3)) for _ in range(800)]
        self.first_names = [self._word(rng, 2).capitalize() for _ in range(300)]
        self.last_names = [self._word(rng, rng.randint(2, 3)).capitalize() for _ in range(3000)]
        self.sentences = [self._sentence(rng) for _ in range(4000)]
        # whole texts to draw from: a report's narrative, a message
        self.narratives = [self.text(rng, 3, 14) for _ in range(3000)]
        self.messages = [self.text(rng, 1, 4) for _ in range(3000)]

    @staticmethod
    def _word(rng: random.Random, syllables: int) -> str:
        return "".join(rng.choice(_CONSONANTS) + rng.choice(_VOWELS) for _ in range(syllables))

    def _sentence(self, rng: random.Random) -> str:
        return " ".join(rng.choices(self.words, k=rng.randint(5, 16))).capitalize() + "."

    def text(self, rng: random.Random, low: int, high: int) -> str:
        return " ".join(rng.choices(self.sentences, k=rng.randint(low, high)))

    def phrase(self, rng: random.Random) -> str:
        return " ".join(rng.choices(self.words, k=rng.randint(2, 5)))

    def name(self, rng: random.Random) -> str:
        return f"{rng.choice(self.first_names)} {rng.choice(self.last_names)}"


_UUID_VERSION_4 = (0x4000 << 64) | (0x8000 << 48)
_UUID_FIXED_BITS = ~((0xF000 << 64) | (0xC000 << 48))


def new_uuid(rng: random.Random) -> str:
    """A random (version 4) UUID from `rng`, as `str(uuid.uuid4())` writes one."""
    h = f"{rng.getrandbits(128) & _UUID_FIXED_BITS | _UUID_VERSION_4:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# -- what the plugins say ------------------------------------------------------------------


@dataclass(frozen=True)
class SeatSpec:
    committee: str
    role_key: str | None
    site_key: str | None


@dataclass(frozen=True)
class StaffSpec:
    """One staff account every tenant of a plugin gets: its label, core roles and seats."""

    label: str
    roles: tuple[Role, ...]
    seats: tuple[SeatSpec, ...] = ()


@dataclass
class Shape:
    """The structure of a report (who, anonymous or not, sites, choices, consents) with the
    route the plugin gives it; each report of that shape gets its own texts."""

    index: int
    relation: str
    anonymous: bool
    categories: list[str]
    answers: dict
    sites: dict
    report_site: str | None
    consents: frozenset
    route: dict
    categories_json: bytes = b"[]"


class PluginModel:
    """One institution plugin as the generator reads it: its institution (the validated data
    of its hooks), its staffing, the shapes of its reports and their routes."""

    def __init__(self, name: str, host):
        self.name, self.host = name, host
        info = TenantInfo(0, f"_bench_{name}", name, "fr", ("fr", "en"), 0, (name,))
        self.institution = Institution.of(host, info)
        if problems := self.institution.problems():
            raise GeneratorError(f"plugin {name}: " + "; ".join(problems))
        institution = self.institution
        self.profile = institution.profile
        self.procedure = institution.procedure
        self.committees = institution.committees
        self.calendar = institution.calendar
        self.sites = [site["key"] for site in self.profile["sites"]]
        self.site_attributes = institution.site_attributes
        self.final = {key for key in self.procedure.states if self.procedure.is_final(key)}
        self.leaving = {key: self.procedure.transitions_from(key) for key in self.procedure.states}
        self.measure_choices = {
            t["key"]: [
                m
                for m in institution.measures.values()
                if {m["kind"], m["key"]} & set(t["measures"])
            ]
            for t in self.procedure.data["transitions"]
        }
        self.deadlines = [
            (d, set(d["starts"]), set(d["ends"]), _length(d)) for d in self.procedure.deadlines
        ]
        self.reachable = {REPORTER, *self.committees}
        self.staff = self._staff()
        form = institution.form
        self.implicated = [f for f in form if f["type"] == "person" and f["role"] == "implicated"]
        self.dates = [f for f in form if f["type"] == "date"]
        self.core_witnesses = not any(
            f["type"] == "person" and f["role"] == "witness" for f in form
        )
        self.shapes: list[Shape] = []
        self.typed_pool: list[dict] = []

    def _staff(self) -> list[StaffSpec]:
        specs = [StaffSpec("admin", (Role.ADMIN,)), StaffSpec("auditor", (Role.AUDITOR,))]
        for key, declared in self.committees.items():
            role = ROLE_BY_PURPOSE.get(declared["purpose"], Role.COMMITTEE_MEMBER)
            for n, seat in enumerate(committee_seats(declared, self.sites), start=1):
                label = f"{key.replace('_', '-')}-{n}"
                specs.append(StaffSpec(label, (role,), (SeatSpec(key, *seat),)))
        return specs

    def make_shapes(self, rng: random.Random, fake: FakeText, count: int) -> None:
        """`count` report shapes, each routed once by the plugin's ``route_report`` hook."""
        profile, form = self.profile, self.institution.form
        relations = profile["relations"]
        weights = [RELATION_WEIGHTS.get(r, 10) for r in relations]
        categories = [c["key"] for c in profile["categories"]]
        self.typed_pool = [self._typed(rng, fake) for _ in range(512)]
        for index in range(count):
            relation = rng.choices(relations, weights)[0]
            anonymous = bool(profile["anonymous_reports"]) and rng.random() < 0.55
            answers: dict = {}
            for field_ in form:
                kind, wanted = field_["type"], field_["required"] or rng.random() < 0.6
                values = [choice["value"] for choice in field_["choices"]]
                if kind == "site" and wanted and self.sites:
                    answers[field_["key"]] = rng.choice(self.sites)
                elif kind == "choice" and wanted and values:
                    answers[field_["key"]] = rng.choice(values)
                elif kind == "multichoice" and wanted and values:
                    answers[field_["key"]] = rng.sample(values, k=min(len(values), 2))
                elif kind == "consent":
                    answers[field_["key"]] = rng.random() < 0.6
                elif kind == "boolean" and wanted:
                    answers[field_["key"]] = True
            # where the report and the parties belong, as `open_case` reads the form
            sites, report_site = {}, None
            for field_ in form:
                if field_["type"] == "site" and field_["party"]:
                    sites[field_["party"]] = answers.get(field_["key"])
                elif field_["type"] == "site" and report_site is None:
                    report_site = answers.get(field_["key"])
            sites["report"] = report_site
            consents = frozenset(consents_in_answers(form, answers))
            shape = Shape(
                index,
                relation,
                anonymous,
                rng.sample(categories, k=min(len(categories), rng.choice((1, 1, 2)))),
                answers,
                sites,
                report_site,
                consents,
                {},
            )
            shape.route = self.route(shape, sites, consents, self.free_answers(rng, fake))
            shape.categories_json = _json(shape.categories)
            self.shapes.append(shape)

    def _typed(self, rng: random.Random, fake: FakeText) -> dict:
        """What a reporter may type besides the names of the people implicated and dates:
        places, times, texts, numbers, other people's names (the core form's questions as
        `core.portal.views._submission` stores them, then the institution's)."""
        answers = {}
        for field_ in self.institution.form:
            kind = field_["type"]
            if kind not in ("text", "textarea", "person", "number") or field_ in self.implicated:
                continue
            if not field_["required"] and rng.random() < 0.45:
                continue
            if kind == "person":
                answers[field_["key"]] = fake.name(rng)
            elif kind == "text":
                answers[field_["key"]] = fake.phrase(rng)
            elif kind == "textarea":
                answers[field_["key"]] = fake.text(rng, 1, 3)
            else:
                answers[field_["key"]] = rng.randint(0, 12)
        if rng.random() < 0.7:
            answers["core_when"] = fake.phrase(rng)
        if rng.random() < 0.7:
            answers["core_where"] = fake.phrase(rng)
        if self.core_witnesses and rng.random() < 0.3:
            answers["core_witnesses"] = fake.name(rng)
        return answers

    def free_answers(self, rng: random.Random, fake: FakeText, opened=None) -> dict:
        """The answers one reporter typed: drawn from a pool, with names of the people
        implicated of their own (they make the repeat-report marks) and dates before
        `opened`."""
        answers = dict(rng.choice(self.typed_pool))
        for field_ in self.implicated:
            if field_["required"] or rng.random() < 0.55:
                answers[field_["key"]] = fake.name(rng)
        if not self.implicated and rng.random() < 0.7:
            answers["core_people_implicated"] = fake.name(rng)
        if opened is not None:
            for field_ in self.dates:
                if field_["required"] or rng.random() < 0.55:
                    day = opened - timedelta(days=rng.randint(0, 90))
                    answers[field_["key"]] = day.date().isoformat()
        return answers

    def route(self, shape: Shape, sites: dict, consents, answers: dict) -> dict:
        report = SimpleNamespace(
            reporter_relation=shape.relation,
            is_anonymous=shape.anonymous,
            site_key=shape.report_site,
            categories=shape.categories,
            form_data={**shape.answers, **answers},
        )
        return _route(_report_view(report, sites, set(consents)), self.institution, self.host)


def _length(definition: dict) -> dict:
    return {k: definition[k] for k in ("working_days", "calendar_days", "hours") if k in definition}


def committee_seats(declared: dict, sites: list[str]) -> list[tuple[str | None, str | None]]:
    """(role key, site) of the seats a tenant's committee gets: each declared role as often
    as its minimum asks (once at least), at least two members, per site where the committee
    serves per site; twice as many where its rules may keep some members out of a case."""
    roles = [r["key"] for r in declared["roles"] for _ in range(max(r["min"], 1))] or [None]
    ruled = [c for c in declared["conditions"] if c["kind"] != "note"]
    if ruled:
        roles = roles * 2
    sited_roles = set()
    for rule in ruled:
        if rule["kind"] in SITE_RULES:
            sited_roles.update(rule["params"].get("roles") or {r for r in roles})
    if declared["per_site"]:
        seats = []
        for site in sites:
            count = declared["seats_per_site"].get(site, 1)
            seats.extend((roles[n % len(roles)], site) for n in range(count))
        return seats
    count = max(len(roles), declared["min_members"], 2)
    if declared["max_members"] is not None:
        count = min(count, declared["max_members"])
    seats = []
    for n in range(count):
        role = roles[n % len(roles)]
        site = sites[n % len(sites)] if role in sited_roles and sites else None
        seats.append((role, site))
    return seats


# -- the plan --------------------------------------------------------------------------------


@dataclass
class TenantPlan:
    rank: int
    tenant_id: int
    slug: str
    plugin: str
    cases: int
    sample: str | None = None  # "large" or "small": its accounts and receipts go to the manifest
    heavy: int = 0
    receipts: int = 0
    domain: str | None = None


def tenant_sizes(tenants: int, cases: int, largest_share: float) -> list[int]:
    """Cases per tenant, largest first: Zipf-like (1/rank) with the largest holding
    `largest_share` of all when that keeps it the largest; at least one case each."""
    if cases < tenants:
        raise GeneratorError("give at least one case per tenant")
    rest = [1 / rank for rank in range(2, tenants + 1)]
    if tenants > 1 and largest_share * sum(rest) >= (1 - largest_share) * rest[0]:
        weights = [largest_share / (1 - largest_share) * sum(rest), *rest]
    else:
        weights = [1.0, *rest]
    spare = cases - tenants
    total = sum(weights)
    exact = [spare * w / total for w in weights]
    sizes = [1 + math.floor(x) for x in exact]
    by_remainder = sorted(range(tenants), key=lambda i: (-(exact[i] % 1), i))
    for i in by_remainder[: cases - sum(sizes)]:
        sizes[i] += 1
    return sizes


def make_plan(args, plugins: list[str]) -> list[TenantPlan]:
    sizes = tenant_sizes(args.tenants, args.cases, args.largest_share)
    plans = []
    for rank, size in enumerate(sizes, start=1):
        plugin = plugins[(rank - 1) % len(plugins)]
        plans.append(TenantPlan(rank, rank, f"{plugin}-{rank:04d}", plugin, size))
        if rank % DOMAIN_SHARE == 0:
            plans[-1].domain = f"signalement.{plans[-1].slug}.{EMAIL_DOMAIN}"
    plans[0].sample, plans[0].heavy = "large", min(args.heavy_cases, plans[0].cases)
    for plugin in plugins:
        # a small tenant of each plugin: the median-sized one
        own = [p for p in plans[1:] if p.plugin == plugin]
        if own:
            own[len(own) // 2].sample = "small"
    for plan in plans:
        if plan.sample:
            plan.receipts = min(args.receipts, plan.cases)
    return plans


def split_work(plans: list[TenantPlan], workers: int) -> list[list[TenantPlan]]:
    """Tenants to each worker, largest first to the least loaded: the same split every run."""
    loads = [0] * workers
    shares: list[list[TenantPlan]] = [[] for _ in range(workers)]
    for plan in sorted(plans, key=lambda p: (-p.cases, p.rank)):
        worker = loads.index(min(loads))
        shares[worker].append(plan)
        loads[worker] += plan.cases + 30  # a tenant's setup costs about thirty cases
    return shares


# -- the engine, on a template case ----------------------------------------------------------
#
# Walking a case through its procedure, as `core.cases.operations` does, costs about a
# millisecond of Python. So the walks are made once per plugin on template cases (one per
# report shape and several each), recorded as scripts of what happened and when; each case
# then plays a script with its own ids, times, texts and seals, whole or cut short (a case
# still open, or --until reached). Staff are named by their place in the plugin's staffing,
# which every tenant of the plugin has.

REFERENCE_TIME = datetime(2001, 1, 1, 9, tzinfo=UTC)  # a template case opens then
_raw = bytes  # `Jsonb(data, dumps=_raw)`: JSON already encoded


def _json(value) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


MESSAGE_DETAILS = {side: ({"from": side}, _json({"from": side})) for side in ("reporter", "staff")}


class Staff:
    """A staff account: the plugin's template (its `index` in the staffing) or a tenant's."""

    __slots__ = ("codes", "email", "id", "index", "public_id", "roles", "seats", "totp")

    def __init__(self, index: int, roles=(), id_=None, public_id=None, email=None):
        self.index, self.roles, self.id, self.public_id, self.email = (
            index,
            roles,
            id_,
            public_id,
            email,
        )
        self.seats: list[Seat] = []
        self.totp = self.codes = None


class Seat:
    __slots__ = ("committee", "role_key", "site_key", "user")

    def __init__(self, user: Staff, committee: str, role_key, site_key):
        self.user, self.committee = user, committee
        self.role_key, self.site_key = role_key, site_key


class Committee:
    __slots__ = ("id", "key")

    def __init__(self, id_: int, key: str):
        self.id, self.key = id_, key


class Member:
    """A `CaseMember` row in the making."""

    __slots__ = ("added", "capacity", "committee", "released", "role_key", "step", "transition")
    __slots__ += ("released_step", "user")

    def __init__(self, step, user, committee, role_key, capacity, transition, added):
        self.step, self.user, self.committee, self.role_key = step, user, committee, role_key
        self.capacity, self.transition, self.added = capacity, transition, added
        self.released = self.released_step = None


class Timed:
    """A deadline in the making: when it started and ended, in the script's time."""

    __slots__ = ("audit", "end", "end_step", "indicative", "key", "length", "met", "recipients")
    __slots__ += ("start", "step")

    def __init__(self, step, key, start, length, indicative, recipients):
        self.step, self.key, self.start, self.length = step, key, start, length
        self.indicative, self.recipients = indicative, recipients
        self.end = self.end_step = self.met = None
        details = {"deadline": key, "recipients": recipients}
        self.audit = (details, _json(details))  # of its reminder's and alert's audit events


class Sim:
    """A template case as the engine holds it while it walks: what `seat_covers`,
    `site_served` and the committees' rules read (`committee_id`, `site_key`, `facts`,
    `routing`), and its history so far."""

    __slots__ = ("closed", "committee_id", "committee_key", "facts", "flags", "given")
    __slots__ += ("members", "revealed", "routing", "running", "shape", "site_key", "state")
    __slots__ += ("taken", "updated")


class Script:
    """What happened to a template case, step by step (step 0 is its opening).

    Times are seconds after the case opened. `steps[j]` holds the rows and audit events of
    step j; `snapshots[j]` the case as step j left it; `ends[j]` when step j's last row was
    written; members, deadlines and consents carry the step they began (and ended) at.
    """

    __slots__ = ("actors", "consents", "deadlines", "ends", "first_handlers", "members")
    __slots__ += ("snapshots", "steps", "viewers")

    def __init__(self):
        self.steps: list[list[tuple]] = [[]]
        self.snapshots: list[tuple] = []
        self.ends: list[float] = []
        self.members: list[Member] = []
        self.deadlines: list[Timed] = []
        self.consents: list[tuple] = []
        self.actors: list[tuple[int, int]] = []
        self.first_handlers: list[int] = []
        self.viewers: list[int] = []


class Engine:
    """The procedure engine's rules over one plugin's data, recording scripts.

    Each rule is the engine's own where it is a pure function (`holds`, `seat_covers`,
    `site_served`, `_rule_broken`, `holds_any`, `consents_in_answers`, `_route`); what
    `core.cases.operations` reads from the database (prior involvement, compositions, taken
    steps) is read here from the template case's own history.
    """

    def __init__(self, model: PluginModel):
        self.model = model
        self.committees = {key: Committee(n, key) for n, key in enumerate(model.committees)}
        self.staff: list[Staff] = []
        self.seats: dict[str, list[Seat]] = {key: [] for key in model.committees}
        self.by_role: dict[str, list[Staff]] = {}
        for index, spec in enumerate(model.staff):
            user = Staff(index, spec.roles)
            for role in spec.roles:
                self.by_role.setdefault(role.value, []).append(user)
            for seat_spec in spec.seats:
                seat = Seat(user, seat_spec.committee, seat_spec.role_key, seat_spec.site_key)
                user.seats.append(seat)
                self.seats[seat.committee].append(seat)
            self.staff.append(user)
        self.ruled = {
            key: [c for c in declared["conditions"] if c["kind"] != "note"]
            for key, declared in model.committees.items()
        }
        self.routes: dict = {}
        self.rng = random.Random()
        self.rec = Script()

    # -- recording ----------------------------------------------------------------------

    def _off(self, moment: datetime) -> float:
        return (moment - REFERENCE_TIME).total_seconds()

    @staticmethod
    def _who(actor):
        return actor if isinstance(actor, str) else actor.index

    def _event(self, at, kind, key, actor, *, from_state=None, to_state=None, details=None):
        blob = details if isinstance(details, tuple) else _json(details or {})
        self.rec.steps[-1].append(
            ("event", self._off(at), kind, key, self._who(actor), from_state, to_state, blob)
        )

    def _audit(self, at, actor, action, target="case", details=None):
        details = details or {}
        self.rec.steps[-1].append(
            ("audit", self._off(at), self._who(actor), action, target, details, _json(details))
        )

    def _snapshot(self, case: Sim, last: datetime) -> None:
        rec = self.rec
        rec.snapshots.append(
            (
                case.state,
                case.committee_key,
                case.site_key,
                _json(case.facts),
                _json(case.flags),
                _json(case.routing),
                None if case.revealed is None else self._off(case.revealed),
                None if case.closed is None else self._off(case.closed),
                self._off(case.updated),
            )
        )
        rec.ends.append(self._off(last))

    # -- a template case ------------------------------------------------------------------

    def script(self, shape: Shape, rng: random.Random, heavy_target: int = 0) -> Script:
        """Open a template case of `shape` and walk it to a final stage (or, for a heavy
        case, through about `heavy_target` timeline entries); the script of it all."""
        self.rng, self.rec = rng, Script()
        opened = REFERENCE_TIME
        case = Sim()
        case.shape, case.state = shape, self.model.procedure.initial_state
        case.committee_key = shape.route["committee"]
        case.committee_id = self.committees[case.committee_key].id
        case.site_key, case.routing = shape.route["site"], shape.route
        case.facts = {
            "relation": shape.relation,
            "anonymous": shape.anonymous,
            "sites": dict(shape.sites),
        }
        case.flags, case.given, case.taken = [], set(shape.consents), {}
        case.revealed = case.closed = None
        case.updated, case.members, case.running = opened, [], {}
        # `open_case`
        for key in sorted(case.given):
            self.rec.consents.append((0, key, True, 0.0, REPORTER))
        self._event(
            opened,
            "opened",
            None,
            REPORTER,
            to_state=case.state,
            details={"committee": shape.route["committee"], "consents": sorted(case.given)},
        )
        self._deadlines(case, {case.state}, opened)
        self._audit(opened, REPORTER, "case.opened", details={"committee": case.committee_key})
        # `submit_report`
        self._audit(
            opened,
            REPORTER,
            "report.submitted",
            "report",
            {"anonymous": shape.anonymous, "files": 0},
        )
        self.rec.first_handlers = [s.user.index for s in self.serving(case, case.committee_key)]
        self._snapshot(case, opened)
        self.walk(case, opened, heavy_target)
        self.rec.members = case.members
        if heavy_target:
            self.rec.viewers = [s.user.index for s in self.serving(case, case.committee_key)]
        return self.rec

    def facts(self, case: Sim) -> Facts:
        return Facts(
            relation=case.facts["relation"],
            anonymous=case.facts["anonymous"],
            sites=case.facts["sites"],
            flags=frozenset(case.flags),
            consents=frozenset(case.given),
            site_attributes=self.model.site_attributes,
        )

    def allowed(self, case: Sim, seat: Seat, facts: Facts) -> bool:
        """Whether no rule of the seat's committee keeps its holder from sitting for the case
        (`_rule_broken`, with prior involvement read from the template case's members)."""
        for rule in self.ruled[seat.committee]:
            if rule["kind"] == "exclude_prior_involvement":
                roles = rule["params"].get("roles")
                if roles and seat.role_key not in roles:
                    continue
                earlier = rule["params"].get("committees", [])
                if any(m.user is seat.user and m.committee in earlier for m in case.members):
                    return False
            elif _rule_broken(rule, case, [seat], seat.user, facts):
                return False
        return True

    def serving(self, case: Sim, committee: str, facts: Facts | None = None) -> list[Seat]:
        """The seats whose holders serve the case for `committee` (`serves_case`)."""
        facts = facts or self.facts(case)
        declared = self.model.committees[committee]
        composed = {
            m.user
            for m in case.members
            if m.committee == committee and m.capacity == "composed" and m.released is None
        }
        target = self.committees[committee]
        found = []
        for seat in self.seats[committee]:
            if self.ruled[committee] and not self.allowed(case, seat, facts):
                continue
            if composed:
                if seat.user in composed:
                    found.append(seat)
            elif seat_covers(case, target, seat, declared):
                found.append(seat)
        return found

    def actors(self, case: Sim, roles, facts: Facts) -> list:
        """Who may take a step open to `roles`: staff serving the case, or the reporter."""
        found = []
        for role in roles:
            if role == REPORTER:
                found.append(REPORTER)
            elif role == HANDLING_COMMITTEE:
                found.extend(s.user for s in self.serving(case, case.committee_key, facts))
            elif role in self.model.committees:
                found.extend(s.user for s in self.serving(case, role, facts))
            else:
                found.extend(self.by_role.get(role, ()))
        return found

    def handler(self, case: Sim, facts: Facts):
        """Someone handling the case now (`may_handle`), or None."""
        seats = self.serving(case, case.committee_key, facts)
        return self.rng.choice(seats).user if seats else None

    def walk(self, case: Sim, now: datetime, heavy_target: int) -> None:
        """Take the case through its procedure, one recorded step at a time."""
        rng, model = self.rng, self.model
        steps_left, last, entries = (400 if heavy_target else 60), now, 1
        while steps_left > 0 and case.state not in model.final:
            if heavy_target and entries >= heavy_target:
                break
            facts = self.facts(case)
            options = [t for t in model.leaving[case.state] if holds(t["when"], facts)]
            if heavy_target:
                options = [t for t in options if t["to"] not in model.final]
            in_stage = [t for t in options if not t["to"] or t["to"] == case.state]
            onward = [t for t in options if t["to"] and t["to"] != case.state]
            if heavy_target:
                if in_stage and (not onward or rng.random() < 0.85):
                    weights = [
                        (0.3 if t["measures"] else 1.0) / (1 + case.taken.get(t["key"], 0))
                        for t in in_stage
                    ]
                    ordered = _weighted_order(rng, in_stage, weights)
                else:
                    ordered = rng.sample(onward, len(onward))
                gap = rng.expovariate(1 / 8) * 3600
            else:
                weights = [0.25 if t["measures"] else 1.0 for t in in_stage]
                in_stage = _weighted_order(rng, in_stage, weights)
                pick_in_stage = in_stage and rng.random() < 0.15
                first, second = (in_stage, onward) if pick_in_stage else (onward, in_stage)
                ordered = rng.sample(first, len(first)) + list(second)
                gap = rng.expovariate(1 / 3) * 86400
            moment = last + timedelta(seconds=60 + gap)
            self.rec.steps.append([])
            for transition in ordered:
                done = self.take(case, transition, moment, bool(heavy_target))
                if done is not None:
                    last = done
                    break
            else:
                self.rec.steps.pop()
                break
            entries += sum(1 for item in self.rec.steps[-1] if item[0] in ("event", "measure"))
            self._snapshot(case, last)
            steps_left -= 1

    def take(self, case: Sim, transition: dict, now: datetime, heavy: bool):
        """Take `transition` as the engine would, doing first what it needs (an obligation
        before closing, a consent, a flag, a party's place); its time, or None if nobody may
        take it or what it needs did not happen (what was done first stays done)."""
        rng, model = self.rng, self.model
        procedure = model.procedure
        facts = self.facts(case)
        participants, roles = transition["participants"], transition["roles"]
        candidates = self.actors(case, roles, facts)
        if participants:
            members = {s.user for s in self.seats[participants["committee"]]}
            candidates = [c for c in candidates if c in members]
        if not candidates:
            return None
        staff = [c for c in candidates if c != REPORTER]
        actor = rng.choice(staff) if staff else REPORTER
        willing = 1.0 if heavy else 0.8
        to_state = transition["to"] or case.state
        if to_state != case.state and to_state in model.final:
            for obligation in procedure.obligations:
                if holds(obligation["when"], facts) and obligation["transition"] not in case.taken:
                    duty = procedure.transitions[obligation["transition"]]
                    if duty not in model.leaving[case.state]:
                        return None
                    done = self.take(case, duty, now, heavy)
                    if done is None:
                        return None
                    now = done + timedelta(minutes=rng.randint(5, 600))
                    facts = self.facts(case)
        for requirement in transition["requires_consent"]:
            key = requirement["consent"]
            if holds(requirement["when"], facts) and key not in case.given:
                if rng.random() > willing or not self._consent(case, key, now, facts):
                    return None
                now += timedelta(minutes=rng.randint(5, 240))
                facts = self.facts(case)
        for flag in transition["requires_flags"]:
            if flag not in case.flags:
                definition = procedure.flags[flag]
                setters = [
                    a for a in self.actors(case, definition["set_by"], facts) if a != REPORTER
                ]
                if not setters or rng.random() > willing:
                    return None
                setter = rng.choice(setters)
                case.flags = sorted({*case.flags, flag})
                self._event(now, "flag", flag, setter, details={"set": True})
                self._audit(now, setter, "case.flag", details={"flag": flag, "set": True})
                case.updated = now
                now += timedelta(minutes=rng.randint(5, 240))
                facts = self.facts(case)
        for party in transition["requires_sites"]:
            if not case.facts["sites"].get(party):
                who = self.handler(case, facts)
                if who is None or not model.sites:
                    return None
                site = rng.choice(model.sites)
                case.facts = {**case.facts, "sites": {**case.facts["sites"], party: site}}
                self._event(now, "site", party, who, details={"site": site})
                self._audit(now, who, "case.party_site", details={"party": party, "site": site})
                case.updated = now
                now += timedelta(minutes=rng.randint(5, 240))
                facts = self.facts(case)
        if not holds(transition["when"], facts):
            return None
        if actor != REPORTER and actor not in self.actors(case, roles, facts):
            return None  # what was just recorded (a place, a consent) changed who serves
        present = composed = []
        if participants:
            present = self._gather(
                case, participants["committee"], facts, actor, participants["min"]
            )
            if present is None:
                return None
        if transition["compose"]:
            composed = self._compose(case, transition["compose"], facts)
            if composed is None:
                return None
        return self._step(case, transition, actor, present, composed, facts, now)

    def _step(self, case, transition, actor, present, composed, facts, now) -> datetime:
        """`take_transition` once every check has passed."""
        rng, model, rec = self.rng, self.model, self.rec
        step = len(rec.steps) - 1
        key, from_state = transition["key"], case.state
        to_state = transition["to"] or from_state
        if actor != REPORTER:
            if not rec.actors:
                # the unit opens the new case's page (`record_case_read`); later reads, as
                # many as staff make, are left out to keep the load short
                self._audit(now - timedelta(seconds=rng.randint(20, 900)), actor, "case.read")
            rec.actors.append((step, actor.index))
        for user, seat in present:
            case.members.append(
                Member(step, user, seat.committee, seat.role_key, "present", key, self._off(now))
            )
        if composed:
            for member in case.members:
                if (
                    member.committee == transition["compose"]
                    and member.capacity == "composed"
                    and member.released is None
                ):
                    member.released, member.released_step = self._off(now), step
            for user, seat in composed:
                case.members.append(
                    Member(
                        step, user, seat.committee, seat.role_key, "composed", key, self._off(now)
                    )
                )
        if transition["assign"]:
            declared = model.committees[transition["assign"]]
            case.committee_key = transition["assign"]
            case.committee_id = self.committees[case.committee_key].id
            case.site_key = site_served(case, declared) if declared["per_site"] else None
        chosen = []
        if transition["measures"] and model.measure_choices[key]:
            chosen = [rng.choice(model.measure_choices[key])]
            for measure in chosen:
                rec.steps[-1].append(
                    (
                        "measure",
                        self._off(now),
                        measure["key"],
                        measure["kind"],
                        key,
                        self._who(actor),
                    )
                )
        revealed = False
        for effect in transition["effects"]:
            reveal = effect["kind"] == "reveal_identity" and not holds_any(effect["unless"], facts)
            if reveal and case.revealed is None:
                case.revealed, revealed = now, True
        closes = to_state != from_state and to_state in model.final
        case.state = to_state
        if closes:
            case.closed = now
        people = bool(present or composed)
        details = _transition_details(present, composed, chosen, revealed)
        self._event(
            now,
            "transition",
            key,
            actor,
            from_state=from_state,
            to_state=to_state,
            details=(
                ("people", [u.index for u, _ in present], [u.index for u, _ in composed], details)
                if people
                else details
            ),
        )
        self._deadlines(case, {key} | ({to_state} if to_state != from_state else set()), now)
        if closes:
            for timed in case.running.values():
                timed.end, timed.end_step = self._off(now), step
            case.running.clear()
        self._audit(
            now,
            actor,
            "case.transition",
            details={"transition": key, "from": from_state, "to": to_state},
        )
        case.taken[key] = case.taken.get(key, 0) + 1
        case.updated = now
        return self._notices(case, transition, now)

    def _gather(self, case: Sim, committee: str, facts: Facts, actor, minimum: int):
        """The actor and others of `committee` present at a step (`check_composition`)."""
        seats = [s for s in self.seats[committee] if self.allowed(case, s, facts)]
        mine = next((s for s in seats if s.user is actor), None)
        others = [s for s in seats if s.user is not actor]
        if mine is None or len(others) < minimum - 1:
            return None
        wanted = max(minimum - 1, 0) + (1 if self.rng.random() < 0.2 else 0)
        chosen = self.rng.sample(others, min(wanted, len(others)))
        return [(actor, mine)] + [(s.user, s) for s in chosen]

    def _compose(self, case: Sim, committee: str, facts: Facts):
        """Members composed to sit for the case: each role's minimum, the committee's size
        (`check_composition` and `_check_roles_filled`), or None if its rules leave too few."""
        declared = self.model.committees[committee]
        seats = [s for s in self.seats[committee] if self.allowed(case, s, facts)]
        self.rng.shuffle(seats)
        chosen: list[Seat] = []
        for role in declared["roles"]:
            fitting = [s for s in seats if s.role_key == role["key"] and s not in chosen]
            if len(fitting) < role["min"]:
                return None
            chosen.extend(fitting[: role["min"]])
        for seat in seats:
            if len(chosen) >= declared["min_members"]:
                break
            if seat not in chosen:
                chosen.append(seat)
        if len(chosen) < declared["min_members"]:
            return None
        if declared["max_members"] is not None and len(chosen) > declared["max_members"]:
            return None
        return [(s.user, s) for s in chosen]

    def _consent(self, case: Sim, key: str, now: datetime, facts: Facts) -> bool:
        """`record_consent`: the reporter's own, or staff on the person's word; routing runs
        again while the case is with the committee it was routed to."""
        if self.model.procedure.consents[key]["asked_of_reporter"]:
            actor = REPORTER
        else:
            actor = self.handler(case, facts)
            if actor is None:
                return False
        step = len(self.rec.steps) - 1
        self.rec.consents.append(
            (step, key, True, self._off(now), REPORTER if actor == REPORTER else USER)
        )
        case.given.add(key)
        self._event(now, "consent", key, actor, details={"given": True})
        self._audit(now, actor, "case.consent", details={"consent": key, "given": True})
        routed = case.routing.get("committee")
        if routed and case.committee_key == routed:
            route = self._reroute(case)
            if route != case.routing:
                case.committee_key = route["committee"]
                case.committee_id = self.committees[route["committee"]].id
                case.site_key, case.routing = route["site"], route
                self._event(
                    now, "routed", route["committee"], SYSTEM, details={"site": route["site"]}
                )
                self._audit(now, SYSTEM, "case.rerouted", details={"committee": route["committee"]})
        case.updated = now
        return True

    def _reroute(self, case: Sim) -> dict:
        sites = case.facts["sites"]
        memo = (case.shape.index, tuple(sorted(sites.items(), key=str)), frozenset(case.given))
        if memo not in self.routes:
            self.routes[memo] = self.model.route(case.shape, sites, case.given, {})
        return self.routes[memo]

    def _notices(self, case: Sim, transition: dict, now: datetime) -> datetime:
        """The step's notices: the platform tells committees and the reporter
        (`deliver_case_notices`), staff tell the others and mark it done; the time of the last."""
        rng, model = self.rng, self.model
        last = now
        for inform in transition["informs"]:
            party = inform["party"]
            done = done_by = None
            if party in model.reachable:
                # a reporter's notice goes to the address she may have left, or nowhere
                recipients = 1 if party == REPORTER else len(self.serving(case, party))
                if party == REPORTER:
                    # the e-mail goes to the address the reporter may have left (or nowhere):
                    # both versions are kept, each case picks its own
                    done = now + timedelta(seconds=rng.randint(2, 90))
                    key = transition["key"]
                    versions = [{"transition": key, "emailed": n} for n in (0, 1)]
                    self._event(
                        done, "notice", party, SYSTEM, details=("reporter", *map(_json, versions))
                    )
                    versions = [{"party": party, "recipients": n} for n in (0, 1)]
                    self.rec.steps[-1].append(
                        ("reporter_audit", self._off(done), *((d, _json(d)) for d in versions))
                    )
                elif recipients:
                    done = now + timedelta(seconds=rng.randint(2, 90))
                    details = {"transition": transition["key"], "emailed": recipients}
                    self._event(done, "notice", party, SYSTEM, details=details)
                    details = {"party": party, "recipients": recipients}
                    self._audit(done, SYSTEM, "case.notice_sent", details=details)
            elif rng.random() < 0.6:
                who = self.handler(case, self.facts(case))
                if who is not None:
                    done, done_by = now + timedelta(seconds=rng.randint(600, 2 * 86400)), who.index
                    self._event(
                        done, "notice", party, who, details={"transition": transition["key"]}
                    )
                    self._audit(done, who, "case.notice_done", details={"party": party})
            if done is not None:
                last = max(last, done)
            self.rec.steps[-1].append(
                (
                    "notice",
                    self._off(now),
                    party,
                    inform["message"],
                    transition["key"],
                    None if done is None else self._off(done),
                    done_by,
                )
            )
        return last

    def _deadlines(self, case: Sim, events: set, now: datetime) -> None:
        """`_run_deadlines`: meet the deadlines `events` end, start the ones they start."""
        running, step = case.running, len(self.rec.steps) - 1
        for definition, _, ends, _ in self.model.deadlines:
            timed = running.get(definition["key"])
            if timed is not None and events & ends:
                timed.end, timed.end_step, timed.met = self._off(now), step, True
                del running[definition["key"]]
        facts = None
        for definition, starts, _, length in self.model.deadlines:
            if not events & starts:
                continue
            facts = facts or self.facts(case)
            if not holds(definition["when"], facts):
                continue
            previous = running.get(definition["key"])
            if previous is not None:
                previous.end, previous.end_step = self._off(now), step
            recipients = len(self.serving(case, case.committee_key, facts))
            timed = Timed(
                step,
                definition["key"],
                self._off(now),
                length,
                definition["indicative"],
                recipients,
            )
            running[definition["key"]] = timed
            self.rec.deadlines.append(timed)


def _weighted_order(rng: random.Random, items: list, weights: list[float]) -> list:
    """`items` in a random order where heavier ones tend to come first."""
    keyed = [(-math.log(rng.random() or 1e-12) / w, i) for i, w in enumerate(weights)]
    return [items[i] for _, i in sorted(keyed)]


# -- one tenant ------------------------------------------------------------------------------


class AuditRecord:
    """What `_mac` reads of an `AuditEvent`."""

    __slots__ = ("action", "actor_kind", "actor_user_id", "created_at", "details", "prev_hash")
    __slots__ += ("seq", "target_id", "target_type", "tenant_id")


class Chain:
    """A tenant's audit trail: events are gathered as they happen and sealed in time order,
    as `record_event` appends them, once nothing earlier can come any more."""

    def __init__(self, tenant_id: int, key: bytes, loader: Loader, ids: Ids):
        self.tenant_id, self.key, self.loader, self.ids = tenant_id, key, loader, ids
        self.heap: list = []
        self.order = itertools.count()
        self.seq, self.last = 0, GENESIS
        self.record = AuditRecord()  # one, filled in for each event in turn
        self.record.tenant_id = tenant_id
        self.rows = loader.buffers["audit_events"]
        self.next_id = ids.counters["audit_events"]

    def add(self, at, actor, action, target, details=None, blob=None) -> None:
        """Gather one event; `blob` is `details` already in JSON, when the caller has it."""
        kind, user_id = (actor, None) if isinstance(actor, str) else (USER, actor.id)
        details = details or {}
        heapq.heappush(
            self.heap,
            (at, next(self.order), kind, user_id, action, target, details, blob or _json(details)),
        )

    def seal_before(self, moment: datetime) -> None:
        heap = self.heap
        while heap and heap[0][0] < moment:
            self._append(heapq.heappop(heap))

    def close(self) -> None:
        while self.heap:
            self._append(heapq.heappop(self.heap))
        seal_ = _head_seal(self.key, self.seq, self.last)
        self.loader.add(
            "audit_heads", (self.ids("audit_heads"), self.tenant_id, self.seq, self.last, seal_)
        )

    def _append(self, item) -> None:
        at, _, kind, user_id, action, (target_type, target_id), details, blob = item
        self.seq += 1
        record = self.record
        record.seq, record.created_at = self.seq, at
        record.actor_kind, record.actor_user_id, record.action = kind, user_id, action
        record.target_type, record.target_id = target_type, target_id
        record.details, record.prev_hash = details, self.last
        digest = _mac(self.key, record)
        self.rows.append(
            (
                next(self.next_id),
                self.tenant_id,
                self.seq,
                at,
                kind,
                user_id,
                action,
                target_type,
                target_id,
                Jsonb(blob, dumps=_raw),
                self.last,
                digest,
            ),
        )
        self.last = digest


@dataclass
class Settings:
    """What every worker needs, fixed before the workers start."""

    seed: int
    start: datetime
    until: datetime
    master_keys: MasterKeys
    password_hash: str
    unopenable_prefix: str
    heavy_events: int


def _encryptor(model, column: str):
    kind = model.__table__.c[column].type
    return kind._encode, kind.purpose


class TenantWriter:
    """Writes one tenant and everything in it, as the application would have over the years."""

    def __init__(self, plan: TenantPlan, model: PluginModel, env: Worker):
        from core.cases.models import Message
        from core.reports.models import Report, ReporterIdentity

        self.plan, self.model, self.env = plan, model, env
        self.settings, self.loader, self.ids = env.settings, env.loader, env.ids
        self.fake = env.fake
        self.scripts = env.scripts[plan.plugin]
        self.rng = random.Random(f"cellule-bench:{self.settings.seed}:tenant:{plan.rank}")
        self.tid = plan.tenant_id
        self.columns = {
            "narrative": _encryptor(Report, "narrative"),
            "form_data": _encryptor(Report, "form_data"),
            "notify_email": _encryptor(Report, "notify_email"),
            "full_name": _encryptor(ReporterIdentity, "full_name"),
            "contact": _encryptor(ReporterIdentity, "contact"),
            "body": _encryptor(Message, "body"),
        }
        self.committees: dict[str, Committee] = {}
        self.users: list[Staff] = []
        self.references: set[str] = set()
        self.marks: dict[str, list[tuple[str, str]]] = {}
        self.due_memo = env.due_memo.setdefault(plan.plugin, {})
        self.report = {"receipts": [], "heavy": [], "open_by_committee": {}}

    def sealed(self, column: str, value) -> bytes:
        encode, purpose = self.columns[column]
        return encrypt(encode(value), self.tid, purpose)

    # -- the tenant, its key, committees and staff --------------------------------------

    def setup(self) -> None:
        plan, model, rng, add = self.plan, self.model, self.rng, self.loader.add
        settings = self.settings
        created = settings.start - timedelta(days=rng.uniform(5, 60))
        profile = model.profile
        self.name = f"{self.fake.name(rng).split()[1]} school {plan.rank:04d} (bench)"
        add(
            "tenants",
            (
                self.tid,
                plan.slug,
                self.name,
                profile["default_locale"],
                Jsonb(list(profile["locales"])),
                Jsonb({}),
                Jsonb([plan.plugin]),
                2,  # created, then its plugin enabled
                created,
                None,
            ),
        )
        secret, key_id = os.urandom(32), os.urandom(8).hex()
        masters = settings.master_keys
        wrapped = wrap_data_key(masters.current, self.tid, key_id, secret)
        add(
            "tenant_keys",
            (self.ids("tenant_keys"), self.tid, key_id, wrapped, masters.current_id, created),
        )
        cache = key_cache()
        cache.remember(self.tid, key_id, secret, active=True)
        cache.audit[self.tid] = derive_subkey(secret, "audit-chain")
        self.chain = chain = Chain(self.tid, cache.audit[self.tid], self.loader, self.ids)
        self.mark_key = mark_key(self.tid)
        chain.add(created, PLATFORM, "tenant.created", ("tenant", plan.slug))
        moment = created + timedelta(minutes=2)
        for declared in model.committees.values():
            committee = Committee(self.ids("committees"), declared["key"])
            self.committees[committee.key] = committee
            add(
                "committees",
                (committee.id, self.tid, new_uuid(rng), committee.key, declared["name"], moment),
            )
            chain.add(moment, PLATFORM, "committee.created", ("committee", committee.key))
        chain.add(moment, PLATFORM, "plugin.enabled", ("plugin", plan.plugin))
        if plan.domain:
            add("tenant_domains", (self.ids("tenant_domains"), self.tid, plan.domain))
            chain.add(moment, PLATFORM, "tenant.domain_added", ("host", plan.domain))
        for index, spec in enumerate(model.staff):
            self._account(index, spec, moment + timedelta(minutes=5 + index))

    def _account(self, index: int, spec: StaffSpec, moment: datetime) -> None:
        """A staff account as `create_user` (the shared hash), `grant_role`, `add_member` and
        the second factor's enrolment (`begin_enrolment`, `confirm_enrolment`) make it."""
        rng, add, chain, settings = self.rng, self.loader.add, self.chain, self.settings
        email = f"{self.plan.slug}.{spec.label}@{EMAIL_DOMAIN}"
        user = Staff(index, spec.roles, self.ids("users"), new_uuid(rng), email)
        user.totp = base64.b32encode(rng.randbytes(20)).decode()
        user.codes = []
        for _ in range(RECOVERY_CODE_COUNT):
            raw = base64.b32encode(rng.randbytes(RECOVERY_CODE_BYTES)).decode()
            user.codes.append("-".join(raw[i : i + 4] for i in range(0, len(raw), 4)))
        enrolled = moment + timedelta(days=rng.uniform(0.1, 3))
        sealed_totp = seal(
            user.totp.encode(), _totp_purpose(user), master_keys=settings.master_keys
        )
        add(
            "users",
            (
                user.id,
                user.public_id,
                email,
                self.fake.name(rng),
                settings.password_hash,
                False,
                moment,
                None,
                None,
                sealed_totp,
                enrolled,
                None,
                0,
                None,
            ),
        )
        target = ("user", user.public_id)
        for role in spec.roles:
            add(
                "memberships",
                (self.ids("memberships"), self.tid, user.id, stored_role(role), moment),
            )
            chain.add(moment, PLATFORM, "membership.granted", target, {"role": role.value})
        for seat_spec in spec.seats:
            seat = Seat(user, seat_spec.committee, seat_spec.role_key, seat_spec.site_key)
            user.seats.append(seat)
            committee = self.committees[seat.committee]
            add(
                "committee_members",
                (
                    self.ids("committee_members"),
                    self.tid,
                    committee.id,
                    user.id,
                    None,
                    seat.role_key,
                    seat.site_key,
                    moment,
                ),
            )
            details = {"user": user.public_id, "role": seat.role_key, "site": seat.site_key}
            chain.add(
                moment, PLATFORM, "committee.member_added", ("committee", committee.key), details
            )
        chain.add(enrolled, user, "staff.totp_enrolled", target)
        for code in user.codes:
            row = (self.ids("recovery_codes"), user.id, _recovery_code_hash(code), enrolled, None)
            add("recovery_codes", row)
        chain.add(
            enrolled, user, "staff.recovery_codes_generated", target, {"count": len(user.codes)}
        )
        self.users.append(user)

    # -- the cases ------------------------------------------------------------------------

    def cases(self) -> None:
        plan, rng, settings = self.plan, self.rng, self.settings
        span = (settings.until - settings.start).total_seconds() - 3600
        # more cases in recent years: a density rising linearly over the period
        offsets = sorted(-1 + math.sqrt(1 + 3 * rng.random()) for _ in range(plan.cases))
        opened = [settings.start + timedelta(seconds=x * span) for x in offsets]
        heavy = set()
        if plan.heavy:
            # open for about four months: long enough for a long history
            anchor = bisect_left(opened, settings.until - timedelta(days=120))
            anchor = min(max(anchor, 0), plan.cases - plan.heavy)
            heavy = set(range(anchor, anchor + plan.heavy))
        receipts = set()
        if plan.receipts:
            step = plan.cases / plan.receipts
            receipts = {min(int(i * step), plan.cases - 1) for i in range(plan.receipts)}
        started = time.perf_counter()
        for index, moment in enumerate(opened):
            self.chain.seal_before(moment)
            self.case(moment, heavy=index in heavy, receipt=index in receipts | heavy)
            self.loader.flush_if_full()
            if plan.cases >= 50_000 and (index + 1) % 25_000 == 0:
                rate = (index + 1) / (time.perf_counter() - started)
                self.env.say(f"{plan.slug}: {index + 1:,}/{plan.cases:,} cases ({rate:,.0f}/s)")
        self.chain.close()

    def case(self, opened: datetime, *, heavy: bool, receipt: bool) -> None:
        """One report and its case: a script of its shape played from `opened`, cut short
        where the case stopped moving or where --until comes."""
        rng, model, add, tid, until = (
            self.rng,
            self.model,
            self.loader.add,
            self.tid,
            self.settings.until,
        )
        shape = rng.choice(model.shapes)
        if heavy:
            engine = self.env.engines[self.plan.plugin]
            script = engine.script(shape, rng, heavy_target=self.settings.heavy_events - 20)
            scale, last_step = 1.0, len(script.snapshots) - 1
        else:
            script = rng.choice(self.scripts[shape.index])
            scale = rng.uniform(0.5, 1.5)
            age = (until - opened).total_seconds() / 86400
            closing = rng.random() < min(0.95, age / 120)
            last_step = len(script.snapshots) - 1
            if not closing:
                last_step = min(last_step, rng.randint(0, 4))
        cutoff = ((until - opened).total_seconds() - 600) / scale
        k = 0
        while k < last_step and script.ends[k + 1] <= cutoff:
            k += 1
        case_id, case_public_id = self.ids("cases"), new_uuid(rng)
        report_id, report_public_id = self.ids("reports"), new_uuid(rng)
        reference = self._reference()
        targets = {"case": ("case", case_public_id), "report": ("report", report_public_id)}
        users, chain, ids, entries = self.users, self.chain, self.ids, 0

        def at(offset: float) -> datetime:
            return opened + timedelta(seconds=offset * scale)

        def who(ref):
            return ref if isinstance(ref, str) else users[ref]

        named = not shape.anonymous
        notify = None
        contact = None
        if named and rng.random() < 0.5:
            contact = {"email": f"{self.fake.name(rng).replace(' ', '.').lower()}@mail.example"}
            notify = contact["email"] if rng.random() < 0.7 else None

        for step in script.steps[: k + 1]:
            for item in step:
                kind = item[0]
                if kind == "event":
                    _, offset, event_kind, key, actor, from_state, to_state, blob = item
                    if isinstance(blob, tuple):
                        if blob[0] == "reporter":  # a notice e-mailed to the reporter, or not
                            blob = blob[2 if notify else 1]
                        else:
                            _, present, composed, details = blob
                            details = dict(details)
                            if present:
                                details["present"] = [users[i].public_id for i in present]
                            if composed:
                                details["composed"] = [users[i].public_id for i in composed]
                            blob = _json(details)
                    user_id = None if isinstance(actor, str) else users[actor].id
                    add(
                        "case_events",
                        (
                            ids("case_events"),
                            tid,
                            case_id,
                            at(offset),
                            event_kind,
                            key,
                            actor if isinstance(actor, str) else USER,
                            user_id,
                            from_state,
                            to_state,
                            Jsonb(blob, dumps=_raw),
                        ),
                    )
                    entries += 1
                elif kind == "audit":
                    _, offset, actor, action, target, details, blob = item
                    chain.add(at(offset), who(actor), action, targets[target], details, blob)
                elif kind == "reporter_audit":
                    details, blob = item[3 if notify else 2]
                    chain.add(
                        at(item[1]), SYSTEM, "case.notice_sent", targets["case"], details, blob
                    )
                elif kind == "notice":
                    _, offset, party, message, transition, done, done_by = item
                    add(
                        "case_notices",
                        (
                            ids("case_notices"),
                            tid,
                            new_uuid(rng),
                            case_id,
                            party,
                            message,
                            transition,
                            at(offset),
                            None if done is None else at(done),
                            None if done_by is None else users[done_by].id,
                        ),
                    )
                else:  # a measure
                    _, offset, key, measure_kind, transition, actor = item
                    decided_by = None if isinstance(actor, str) else users[actor].id
                    add(
                        "case_measures",
                        (
                            ids("case_measures"),
                            tid,
                            new_uuid(rng),
                            case_id,
                            key,
                            measure_kind,
                            transition,
                            decided_by,
                            at(offset),
                            None,
                            None,
                        ),
                    )
                    entries += 1
        state, committee_key, site_key, facts, flags, routing, revealed, closed, updated = (
            script.snapshots[k]
        )
        for step, key, given, offset, by in script.consents:
            if step <= k:
                add(
                    "case_consents",
                    (ids("case_consents"), tid, case_id, key, given, at(offset), by),
                )
        for member in script.members:
            if member.step > k:
                continue
            released = None
            if member.released_step is not None and member.released_step <= k:
                released = at(member.released)
            add(
                "case_members",
                (
                    ids("case_members"),
                    tid,
                    case_id,
                    self.committees[member.committee].id,
                    users[member.user.index].id,
                    member.role_key,
                    member.capacity,
                    member.transition,
                    at(member.added),
                    released,
                ),
            )
        entries += self._deadlines(script, k, case_id, case_public_id, at)
        answers = {**shape.answers, **model.free_answers(rng, self.fake, opened)}
        entries += self._marks(case_id, case_public_id, reference, answers, opened)
        actors = [users[i] for step, i in script.actors if step <= k]
        last = at(script.ends[k])
        closed_at = None if closed is None else at(closed)
        entries += self._messages(
            case_id,
            case_public_id,
            opened,
            last,
            closed_at,
            heavy,
            actors or [users[i] for i in script.first_handlers],
        )
        add(
            "cases",
            (
                case_id,
                tid,
                case_public_id,
                reference,
                state,
                self.committees[committee_key].id,
                site_key,
                Jsonb(facts, dumps=_raw),
                Jsonb(flags, dumps=_raw),
                Jsonb(routing, dumps=_raw),
                None if revealed is None else at(revealed),
                opened,
                at(updated),
                closed_at,
            ),
        )
        code = self._report(
            report_id, report_public_id, case_id, opened, shape, answers, receipt, contact, notify
        )
        if closed is None:
            counts = self.report["open_by_committee"]
            counts[committee_key] = counts.get(committee_key, 0) + 1
        if code is not None:
            self.report["receipts"].append(
                {"receipt": code, "case": case_public_id, "reference": reference}
            )
        if heavy:
            self.report["heavy"].append(
                {
                    "case": case_public_id,
                    "reference": reference,
                    "timeline_entries": entries,
                    "viewers": [users[i].email for i in script.viewers],
                    "receipt": code,
                }
            )

    def _report(
        self, report_id, public_id, case_id, opened, shape, answers, receipt, contact, notify
    ):
        """The report row (and a named reporter's identity), as `submit_report` stores them;
        the receipt's code when it gets a real one."""
        rng, tid, add = self.rng, self.tid, self.loader.add
        code = None
        if receipt:
            code = "".join(rng.choice("0123456789") for _ in range(RECEIPT_DIGITS))
            stored = receipt_hash(tid, code)
        else:
            digest = base64.b64encode(rng.randbytes(32)).decode().rstrip("=")
            stored = f"{self.settings.unopenable_prefix}${digest}"
        once = base64.urlsafe_b64encode(rng.randbytes(16)).decode().rstrip("=")
        add(
            "reports",
            (
                report_id,
                tid,
                public_id,
                case_id,
                opened,
                shape.relation,
                shape.anonymous,
                shape.report_site,
                Jsonb(shape.categories_json, dumps=_raw),
                self.sealed("narrative", rng.choice(self.fake.narratives)),
                self.sealed("form_data", answers),
                stored,
                hashlib.sha256(f"{tid}:{once}".encode()).hexdigest(),
                self.sealed("notify_email", notify) if notify else None,
            ),
        )
        if not shape.anonymous:
            add(
                "reporter_identities",
                (
                    self.ids("reporter_identities"),
                    tid,
                    report_id,
                    self.sealed("full_name", self.fake.name(rng)),
                    self.sealed("contact", contact) if contact is not None else None,
                ),
            )
        return code

    def _reference(self) -> str:
        """A case reference like `new_reference`'s, unique in the tenant."""
        while True:
            code = "".join(self.rng.choices(_REFERENCE_ALPHABET, k=8))
            reference = f"{code[:4]}-{code[4:]}"
            if reference not in self.references:
                self.references.add(reference)
                return reference

    def _marks(self, case_id, case_public_id, reference, answers, moment) -> int:
        """The repeat-report marks of the people the report names (`signal_repeated_people`),
        and a signal for each earlier case naming one of them; how many signals."""
        names = implicated_names(SimpleNamespace(form_data=answers), self.model.institution)
        if not names:
            return 0
        # `person_digest`, with the tenant's mark key derived once
        key = self.mark_key
        digests = list(
            dict.fromkeys(hmac.new(key, n.encode(), hashlib.sha256).hexdigest() for n in names)
        )
        others: dict[str, str] = {}
        for digest in digests:
            row = (self.ids("person_marks"), self.tid, case_id, digest, moment)
            self.loader.add("person_marks", row)
            for other_reference, other_public_id in self.marks.get(digest, ()):
                others.setdefault(other_public_id, other_reference)
            self.marks.setdefault(digest, []).append((reference, case_public_id))
        for other_reference in others.values():
            self.loader.add(
                "case_events",
                (
                    self.ids("case_events"),
                    self.tid,
                    case_id,
                    moment,
                    "signal",
                    "possible_repeat",
                    SYSTEM,
                    None,
                    None,
                    None,
                    Jsonb({"reference": other_reference}),
                ),
            )
        if others:
            details = {"cases": list(others)}
            self.chain.add(
                moment, SYSTEM, "case.possible_repeat", ("case", case_public_id), details
            )
        return len(others)

    def _due(self, key: str, length: dict, start: datetime):
        """`WorkingCalendar.due` and `reminder_time`; for day counts both depend on the local
        day alone (the reminder falls on a later day, before the close of the due day)."""
        calendar = self.model.calendar
        if "hours" in length:
            return calendar.due(start, **length), reminder_time(calendar, start, **length)
        memo = (key, start.astimezone(calendar.zone).date())
        if memo not in self.due_memo:
            self.due_memo[memo] = (
                calendar.due(start, **length),
                reminder_time(calendar, start, **length),
            )
        return self.due_memo[memo]

    def _deadlines(self, script: Script, k: int, case_id, case_public_id, at) -> int:
        """The case's deadlines as far as step `k`, with the reminders and alerts the sweep
        would have sent by --until (`sweep_deadlines`); how many timeline entries those make."""
        rng, until, add, tid = self.rng, self.settings.until, self.loader.add, self.tid
        entries = 0
        for timed in script.deadlines:
            if timed.step > k:
                continue
            started = at(timed.start)
            due, remind = self._due(timed.key, timed.length, started)
            met = cancelled = None
            if timed.end_step is not None and timed.end_step <= k:
                if timed.met:
                    met = at(timed.end)
                else:
                    cancelled = at(timed.end)
            end = met or cancelled
            reminded = alerted = None
            if remind is not None:
                sent = remind + timedelta(seconds=rng.randint(5, 59))
                if sent < due and sent <= until and (end is None or sent < end):
                    reminded = sent
            sent = due + timedelta(seconds=rng.randint(5, 59))
            if sent <= until and (end is None or sent < end):
                alerted = sent
            public_id = new_uuid(rng)
            for what, sent in (("reminder", reminded), ("alert", alerted)):
                if sent is None:
                    continue
                details = f'{{"deadline":"{public_id}","recipients":{timed.recipients}}}'
                add(
                    "case_events",
                    (
                        self.ids("case_events"),
                        tid,
                        case_id,
                        sent,
                        what,
                        timed.key,
                        SYSTEM,
                        None,
                        None,
                        None,
                        Jsonb(details.encode(), dumps=_raw),
                    ),
                )
                entries += 1
                action = "deadline.reminded" if what == "reminder" else "deadline.alerted"
                self.chain.add(sent, SYSTEM, action, ("case", case_public_id), *timed.audit)
            add(
                "deadlines",
                (
                    self.ids("deadlines"),
                    tid,
                    public_id,
                    case_id,
                    timed.key,
                    started,
                    due,
                    timed.indicative,
                    met,
                    cancelled,
                    remind,
                    reminded,
                    alerted,
                ),
            )
        return entries

    def _messages(self, case_id, case_public_id, opened, last, closed, heavy, authors) -> int:
        """1–5 messages both ways (20 on a heavy case), before the case closed; how many."""
        rng, until = self.rng, self.settings.until
        count = 20 if heavy else rng.choices((1, 2, 3, 4, 5), (30, 30, 20, 12, 8))[0]
        end = closed or min(until - timedelta(minutes=30), last + timedelta(days=30))
        window = (end - opened).total_seconds()
        if window <= 600:
            return 0
        moments = sorted(opened + timedelta(seconds=rng.uniform(300, window)) for _ in range(count))
        from_reporter = rng.random() < 0.6 or not authors
        target = ("case", case_public_id)
        for moment in moments:
            author = REPORTER if from_reporter else rng.choice(authors)
            read = None
            if rng.random() < (0.9 if author == REPORTER else 0.7):
                later = moment + timedelta(seconds=rng.uniform(600, 3 * 86400))
                read = later if later < until else None
            side = "reporter" if author == REPORTER else "staff"
            self.loader.add(
                "messages",
                (
                    self.ids("messages"),
                    self.tid,
                    new_uuid(rng),
                    case_id,
                    side,
                    None if author == REPORTER else author.id,
                    self.sealed("body", rng.choice(self.fake.messages)),
                    moment,
                    read,
                ),
            )
            self.chain.add(moment, author, "case.message", target, *MESSAGE_DETAILS[side])
            if authors and rng.random() < 0.7:
                from_reporter = not from_reporter
        return count


# -- workers ---------------------------------------------------------------------------------


class Worker:
    """One process: its connection, its ids, its share of the tenants."""

    def __init__(self, index: int, workers: int, owner_url: str, settings: Settings, shared):
        self.index, self.settings = index, settings
        self.models, self.engines, self.scripts = shared
        self.connection = psycopg.connect(libpq_url(owner_url))
        self.connection.execute("SET synchronous_commit = off")
        self.connection.commit()
        self.loader = Loader(self.connection)
        self.ids = Ids(index, workers)
        self.due_memo: dict[str, dict] = {}
        self.fake = FakeText(random.Random(f"cellule-bench:{settings.seed}:text"))

    def say(self, message: str) -> None:
        print(f"  [worker {self.index}] {message}", flush=True)

    def run(self, plans: list[TenantPlan]) -> dict:
        started = time.perf_counter()
        samples, cases, reported = {}, 0, 0
        for done, plan in enumerate(plans, start=1):
            writer = TenantWriter(plan, self.models[plan.plugin], self)
            writer.setup()
            writer.cases()
            self.loader.flush()
            self.connection.commit()
            if plan.sample:
                samples[plan.slug] = self._sample(writer)
            cases += plan.cases
            if cases - reported >= 50_000 or done == len(plans):
                reported = cases
                self.say(
                    f"{done}/{len(plans)} tenants, {cases:,} cases, "
                    f"{sum(self.loader.rows.values()):,} rows, "
                    f"{time.perf_counter() - started:.0f} s"
                )
        server = _cpu_seconds(self.connection.info.backend_pid)
        self.connection.close()
        self.ids.check()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "rows": self.loader.rows,
            "seconds": time.perf_counter() - started,
            "copy_seconds": self.loader.seconds,
            "cpu_seconds": usage.ru_utime + usage.ru_stime,
            "server_cpu_seconds": server,
            "samples": samples,
        }

    def _sample(self, writer: TenantWriter) -> dict:
        return {
            "name": writer.name,
            "staff": [
                {
                    "email": user.email,
                    "password": STAFF_PASSWORD,
                    "totp_secret": user.totp,
                    "recovery_codes": user.codes,
                    "roles": [role.value for role in user.roles],
                    "seats": [
                        {"committee": s.committee, "role": s.role_key, "site": s.site_key}
                        for s in user.seats
                    ],
                }
                for user in writer.users
            ],
            "receipts": writer.report["receipts"],
            "heavy_cases": writer.report["heavy"],
            "open_cases_by_committee": writer.report["open_by_committee"],
        }


def _cpu_seconds(pid: int) -> float | None:
    """CPU time a process on this machine has used (its PostgreSQL backend), if /proc tells."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _work(index, workers, owner_url, settings, shared, plans, app, results) -> None:
    """A worker process's body: its result, or the error that stopped it, on `results`."""
    # the rows in the making are plain tuples, never cycles: the collector would only walk
    # them again and again
    gc.disable()
    try:
        with app.app_context():
            outcome = Worker(index, workers, owner_url, settings, shared).run(plans)
        results.put((index, outcome, None))
    except BaseException:
        results.put((index, None, traceback.format_exc()))
        raise


def run_workers(args, settings, shared, plans, app, say) -> tuple[dict, list]:
    """Each worker's share of the tenants, in its own process; their outcomes."""
    shares = split_work(plans, args.workers)
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    processes = [
        context.Process(
            target=_work,
            args=(i, args.workers, args.database_url, settings, shared, share, app, results),
        )
        for i, share in enumerate(shares)
    ]
    gc.freeze()  # what the workers inherit stays shared, untouched by their collectors
    for process in processes:
        process.start()
    outcomes, failures = {}, []
    while len(outcomes) < len(processes) and not failures:
        try:
            index, outcome, failure = results.get(timeout=5)
        except queue.Empty:
            # a worker killed from outside (out of memory) reports nothing
            lost = [i for i, p in enumerate(processes) if p.exitcode and i not in outcomes]
            failures.extend(f"worker {i} died (exit code {processes[i].exitcode})" for i in lost)
            continue
        if failure:
            failures.append(f"worker {index}:\n{failure}")
        else:
            outcomes[index] = outcome
            say(f"worker {index} done in {outcome['seconds']:.1f} s")
    for process in processes:
        if failures and process.is_alive():
            process.terminate()
        process.join()
    if failures:
        raise GeneratorError("\n".join(failures))
    return outcomes, shares


# -- the load's indexes ----------------------------------------------------------------------


class LoadIndexes:
    """The secondary indexes, unique constraints and foreign keys of the tables the generator
    fills, taken off for the load and put back as the migrations made them.

    Their definitions are read from PostgreSQL's catalogue (`pg_get_indexdef`,
    `pg_get_constraintdef`) and replayed, never written here. Building an index once over
    the loaded rows costs a fraction of keeping it up to date row by row, and validating
    each foreign key once checks every row the generator wrote. Primary keys stay, and so
    do the unique constraints a foreign key points to.
    """

    def __init__(self, connection: psycopg.Connection):
        self.connection = connection
        tables = list(COLUMNS)
        self.constraints = connection.execute(
            "SELECT c.contype, c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid), "
            "c.conindid::regclass::text, pg_get_indexdef(c.conindid), "
            "pg_relation_size(c.conrelid) "
            "FROM pg_constraint c "
            "WHERE c.conrelid = ANY(%s::regclass[]) AND c.contype IN ('f', 'u') "
            "AND NOT (c.contype = 'u' AND EXISTS (SELECT 1 FROM pg_constraint f "
            "WHERE f.contype = 'f' AND f.conindid = c.conindid)) "
            "ORDER BY c.contype, 2, 3",
            (tables,),
        ).fetchall()
        self.indexes = connection.execute(
            "SELECT i.indrelid::regclass::text, i.indexrelid::regclass::text, "
            "pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) "
            "ORDER BY 1, 2",
            (tables,),
        ).fetchall()

    def drop(self) -> None:
        with self.connection.transaction():
            for kind in ("f", "u"):
                for contype, table, name, *_ in self.constraints:
                    if contype == kind:
                        self.connection.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            for _, name, _ in self.indexes:
                self.connection.execute(f"DROP INDEX {name}")

    def restore(self, url: str, jobs: int, say) -> dict:
        """Put everything back, `jobs` statements at a time: the indexes (those of the unique
        constraints too), then the unique constraints on them, then the foreign keys, added
        unchecked and then validated; seconds of each phase."""
        timings = {}
        sizes = dict(
            self.connection.execute(
                "SELECT oid::regclass::text, pg_relation_size(oid) FROM pg_class "
                "WHERE oid = ANY(%s::regclass[])",
                (list(COLUMNS),),
            ).fetchall()
        )
        builds = [(table, definition) for table, _, definition in self.indexes]
        builds += [(c[1], c[5]) for c in self.constraints if c[0] == "u"]
        # the largest tables first, so the last statements running are short ones
        builds.sort(key=lambda build: -sizes.get(build[0], 0))
        started = time.perf_counter()
        slowest = _in_parallel(url, jobs, [definition for _, definition in builds])[:3]
        with self.connection.transaction():
            for contype, table, name, _, index, *_ in self.constraints:
                if contype == "u":
                    self.connection.execute(
                        f'ALTER TABLE {table} ADD CONSTRAINT "{name}" UNIQUE USING INDEX {index}'
                    )
        timings["indexes"] = time.perf_counter() - started
        say(f"indexes and unique constraints built again ({timings['indexes']:.1f} s); slowest:")
        for seconds, statement in slowest:
            say(f"  {seconds:.1f} s  {statement}")
        started = time.perf_counter()
        foreign = [c for c in self.constraints if c[0] == "f"]
        with self.connection.transaction():
            for _, table, name, definition, *_ in foreign:
                self.connection.execute(
                    f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition} NOT VALID'
                )
        foreign.sort(key=lambda c: -sizes.get(c[1], 0))
        _in_parallel(
            url, jobs, [f'ALTER TABLE {c[1]} VALIDATE CONSTRAINT "{c[2]}"' for c in foreign]
        )
        timings["foreign_keys"] = time.perf_counter() - started
        say(f"foreign keys added back, every row checked ({timings['foreign_keys']:.1f} s)")
        return timings


def _in_parallel(url: str, jobs: int, statements: list[str]) -> list[tuple[float, str]]:
    """Run `statements` in order on `jobs` connections at once (each statement on its own);
    how long each took."""
    pending = list(reversed(statements))
    durations: list[tuple[float, str]] = []
    lock = threading.Lock()
    failures: list[BaseException] = []

    def run() -> None:
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("SET maintenance_work_mem = '2GB'")
            if jobs > 1:
                # the jobs share the cores already: no extra parallel workers per statement
                connection.execute("SET max_parallel_maintenance_workers = 0")
            while not failures:
                with lock:
                    if not pending:
                        return
                    statement = pending.pop()
                try:
                    started = time.perf_counter()
                    connection.execute(statement)
                    durations.append((time.perf_counter() - started, statement))
                except BaseException as exc:
                    failures.append(exc)
                    raise

    threads = [threading.Thread(target=run) for _ in range(max(1, jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return sorted(durations, reverse=True)


# -- the whole run ---------------------------------------------------------------------------


def _mask(url: str) -> str:
    return sa.make_url(url).render_as_string(hide_password=True)


def _config(args) -> dict:
    return {
        "SQLALCHEMY_DATABASE_URI": args.app_url,
        "DATABASE_MIGRATION_URL": args.database_url,
        "SECRET_KEY": args.secret_key,
        "CELLULE_MASTER_KEY": args.master_key,
        "CELLULE_PREVIOUS_MASTER_KEYS": [],
        "REDIS_URL": None,
    }


def _owner_checks(connection: psycopg.Connection) -> None:
    escapes = connection.execute(
        "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"
    ).fetchone()[0]
    if not escapes:
        raise GeneratorError(
            "--database-url must connect as a superuser or a BYPASSRLS role: PostgreSQL "
            "refuses COPY FROM into tables whose row-level security applies to the role"
        )
    for table in COLUMNS:
        if connection.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchone()[0]:
            raise GeneratorError(f"{table} already has rows: generate into an empty database")


def _finish(connection: psycopg.Connection, say) -> dict:
    """Move every sequence past the ids used, then vacuum and analyse; seconds of each.

    VACUUM sets the hint bits and the visibility map a database in service has: without it
    the benchmark's first reads would write them, and autovacuum would start in the middle
    of a measure."""
    timings = {}
    started = time.perf_counter()
    for table in db.metadata.sorted_tables:
        if "id" not in table.c or not table.c.id.primary_key:
            continue
        connection.execute(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), max(id)) "
            f"FROM {table.name} HAVING max(id) IS NOT NULL"
        )
    timings["sequences"] = time.perf_counter() - started
    say("sequences moved past the ids used; vacuuming and analysing")
    started = time.perf_counter()
    connection.execute("VACUUM (ANALYZE)")
    timings["vacuum_analyze"] = time.perf_counter() - started
    return timings


def prepare(args, app, say):
    """What the workers share: each plugin's model, engine and scripts; the plan; settings."""
    host = plugin_host()
    models = {}
    for name in sorted(host.plugins):
        try:
            models[name] = PluginModel(name, host)
        except PluginError:
            continue  # a plugin that is not an institution (a shared directory)
    if not models:
        raise GeneratorError("no installed plugin gives an institution and a procedure")
    fake = FakeText(random.Random(f"cellule-bench:{args.seed}:text"))
    engines, scripts = {}, {}
    for name, model in models.items():
        rng = random.Random(f"cellule-bench:{args.seed}:shapes:{name}")
        model.make_shapes(rng, fake, SHAPES)
        engines[name] = engine = Engine(model)
        scripts[name] = [
            [engine.script(shape, rng) for _ in range(SCRIPTS_PER_SHAPE)] for shape in model.shapes
        ]
    plans = make_plan(args, sorted(models))
    settings = Settings(
        seed=args.seed,
        start=args.until - timedelta(days=365.25 * args.years),
        until=args.until,
        master_keys=MasterKeys.from_config(app.config),
        password_hash=password_hasher.hash(STAFF_PASSWORD),
        unopenable_prefix=receipt_hash(0, "0" * RECEIPT_DIGITS).rsplit("$", 1)[0],
        heavy_events=args.heavy_events,
    )
    say(
        f"plan: {len(plans)} tenants over {', '.join(sorted(models))}; {args.cases:,} cases "
        f"(largest {plans[0].slug}: {plans[0].cases:,}); {args.workers} workers; "
        f"{sum(len(s) * SCRIPTS_PER_SHAPE for s in scripts.values()):,} procedure scripts"
    )
    return (models, engines, scripts), plans, settings


def generate(args, say=print) -> dict:
    """Run the generator as `args` ask; returns the manifest it wrote."""
    from flask_migrate import upgrade

    from core import create_app

    check_columns()
    args.master_key = args.master_key or generate_master_key()
    args.secret_key = args.secret_key or secrets.token_urlsafe(48)
    timings: dict[str, float] = {}
    began = time.perf_counter()
    instance = tempfile.mkdtemp(prefix="cellule-bench-")
    app = create_app(_config(args), instance_path=instance)
    with (
        app.app_context(),
        psycopg.connect(libpq_url(args.database_url), autocommit=True) as connection,
    ):
        started = time.perf_counter()
        upgrade()
        timings["schema"] = time.perf_counter() - started
        _owner_checks(connection)
        started = time.perf_counter()
        shared, plans, settings = prepare(args, app, say)
        timings["plan"] = time.perf_counter() - started

        indexes = None if args.keep_indexes else LoadIndexes(connection)
        if indexes is not None:
            indexes.drop()
            say(
                f"{len(indexes.indexes)} indexes and {len(indexes.constraints)} constraints "
                "off for the load"
            )
        started = time.perf_counter()
        try:
            outcomes, shares = run_workers(args, settings, shared, plans, app, say)
        except BaseException:
            if indexes is not None:
                say("the load failed: the database is left without its indexes; drop it")
            raise
        timings["load"] = time.perf_counter() - started
        if indexes is not None:
            timings.update(indexes.restore(libpq_url(args.database_url), args.workers, say))
        timings.update(_finish(connection, say))
        timings["total"] = time.perf_counter() - began
        size = connection.execute("SELECT pg_database_size(current_database())").fetchone()[0]

    rows: dict[str, int] = {}
    samples: dict = {}
    for outcome in outcomes.values():
        for table, count in outcome["rows"].items():
            rows[table] = rows.get(table, 0) + count
        samples.update(outcome["samples"])
    manifest = {
        "about": "Generated benchmark data (invented); these secrets open nothing else.",
        "generator": {
            "seed": args.seed,
            "tenants": args.tenants,
            "cases": args.cases,
            "until": args.until.isoformat(),
            "years": args.years,
            "workers": args.workers,
            "largest_share": args.largest_share,
            "indexes_rebuilt": not args.keep_indexes,
        },
        "database": {
            "url": _mask(args.database_url),
            "app_url": _mask(args.app_url),
            "bytes": size,
        },
        "app": {"SECRET_KEY": args.secret_key, "CELLULE_MASTER_KEY": args.master_key},
        "staff_password": STAFF_PASSWORD,
        "tenants": [
            {
                "slug": p.slug,
                "plugin": p.plugin,
                "path": f"/t/{p.slug}/",
                "domain": p.domain,
                "cases": p.cases,
                "sample": p.sample,
            }
            for p in plans
        ],
        "samples": [
            {
                "slug": p.slug,
                "kind": p.sample,
                "plugin": p.plugin,
                "path": f"/t/{p.slug}/",
                "cases": p.cases,
                **samples[p.slug],
            }
            for p in plans
            if p.sample
        ],
        "rows": dict(sorted(rows.items())),
        "timings": {k: round(v, 2) for k, v in timings.items()},
        "workers": [
            {
                "tenants": len(shares[i]),
                "cases": sum(p.cases for p in shares[i]),
                "seconds": round(o["seconds"], 2),
                "copy_seconds": round(o["copy_seconds"], 2),
                "cpu_seconds": round(o["cpu_seconds"], 2),
                "server_cpu_seconds": o["server_cpu_seconds"],
            }
            for i, o in sorted(outcomes.items())
        ],
    }
    path = Path(args.manifest)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    path.chmod(0o600)
    _summary(manifest, say)
    return manifest


def _summary(manifest: dict, say) -> None:
    rows, timings = manifest["rows"], manifest["timings"]
    total_rows = sum(rows.values())
    say("rows written:")
    for table, count in sorted(rows.items(), key=lambda item: -item[1]):
        say(f"  {table:<22} {count:>12,}")
    say(f"  {'all':<22} {total_rows:>12,}")
    say("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    loading = timings["load"]
    say(
        f"while loading: {total_rows / loading:,.0f} rows/s, "
        f"{manifest['generator']['cases'] / loading:,.0f} cases/s; overall "
        f"{manifest['generator']['cases'] / timings['total']:,.0f} cases/s"
    )
    say(f"database size: {manifest['database']['bytes'] / 2**30:.2f} GiB")


def _until(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.generate",
        description="Fill an empty PostgreSQL database with Cellule benchmark data.",
    )
    add = parser.add_argument
    add("--database-url", required=True, help="the owner's connection (superuser or BYPASSRLS)")
    add("--app-url", required=True, help="the application role's connection (row-level security)")
    add("--tenants", type=int, default=1000)
    add("--cases", type=int, default=1_000_000)
    add("--seed", type=int, default=1)
    add("--manifest", required=True, help="where to write the manifest (JSON)")
    add("--master-key", help="CELLULE_MASTER_KEY that wraps the data keys (default: a new one)")
    add("--secret-key", help="SECRET_KEY to run the app with (default: a new one)")
    add("--workers", type=int, default=os.cpu_count() or 1)
    add("--years", type=float, default=5.0, help="how far back cases go")
    add("--until", type=_until, help="the data's present (ISO date; default: today 00:00 UTC)")
    add("--largest-share", type=float, default=0.12, help="the largest tenant's share of cases")
    add("--receipts", type=int, default=SAMPLE_RECEIPTS, help="real receipts per sample tenant")
    add("--heavy-cases", type=int, default=HEAVY_CASES, help="long cases in the largest tenant")
    add("--heavy-events", type=int, default=HEAVY_EVENTS, help="timeline entries of each")
    add(
        "--keep-indexes",
        action="store_true",
        help="load into the indexed tables instead of building indexes afterwards (slower)",
    )
    args = parser.parse_args(argv)
    if args.until is None:
        args.until = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if args.workers < 1 or args.tenants < 1:
        parser.error("--workers and --tenants must be at least 1")
    if not 0 < args.largest_share < 1:
        parser.error("--largest-share is a fraction between 0 and 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        generate(args)
    except GeneratorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
