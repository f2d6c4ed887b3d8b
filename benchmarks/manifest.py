"""What the benchmark reads of `benchmarks.generate`'s manifest, and the few facts it asks
the database for (where a deep inbox page starts, the commonest stage)."""

import json
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Staff:
    email: str
    password: str
    totp: str


@dataclass
class Sample:
    """A tenant the generator kept accounts and receipts of."""

    slug: str
    plugin: str
    cases: int
    staff: Staff  # whose inbox is measured
    receipts: list[str]
    long_cases: list[str]  # public ids of cases with a long timeline `case_viewer` may see
    case_viewer: Staff
    deep_key: str = ""  # where a page deep in the inbox starts (InboxKey.encode())
    common_state: str = ""  # the stage most of its cases are at


@dataclass
class Manifest:
    app_url: str
    secret_key: str
    master_key: str
    slugs: list[str]
    anonymous_slug: str
    large: Sample
    totals: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, app_url: str | None = None) -> "Manifest":
        data = json.loads(Path(path).read_text())
        samples = {s["kind"]: s for s in data["samples"]}
        large = samples["large"]
        tenants = data["tenants"]
        anonymous = next(t["slug"] for t in tenants if t["plugin"] == "polytechnique")
        manifest = cls(
            app_url=app_url or data["database"]["app_url"],
            secret_key=data["app"]["SECRET_KEY"],
            master_key=data["app"]["CELLULE_MASTER_KEY"],
            slugs=[t["slug"] for t in tenants],
            anonymous_slug=anonymous,
            large=Sample(
                slug=large["slug"],
                plugin=large["plugin"],
                cases=large["cases"],
                staff=_busiest(large),
                receipts=[r["receipt"] for r in large["receipts"]],
                **_long_cases_and_their_viewer(large),
            ),
            totals={"tenants": len(tenants), "cases": sum(t["cases"] for t in tenants)},
        )
        manifest._ask_the_database()
        return manifest

    def environ(self) -> dict[str, str]:
        """The settings the application runs with on this data, as its own role."""
        return {
            "DATABASE_URL": self.app_url,
            "SECRET_KEY": self.secret_key,
            "CELLULE_MASTER_KEY": self.master_key,
        }

    def app(self):
        """The application on this data, in this process, configured from `environ()` alone
        (this process's own environment is neither read nor changed)."""
        from core import create_app
        from core.config import settings_from_env

        folder = tempfile.mkdtemp(prefix="cellule-bench-")
        return create_app(settings_from_env(folder, self.environ()), instance_path=folder)

    def _ask_the_database(self) -> None:
        """The inbox's deep key (the case half-way down the large tenant's order) and the
        commonest stage, read through the app as its application role."""
        from sqlalchemy import func, select

        from core.cases.inbox import InboxKey
        from core.cases.models import Case
        from core.extensions import db
        from core.tenancy.models import Tenant
        from core.tenancy.scoping import platform_scope, tenant_scope

        app = self.app()
        with app.app_context():
            with platform_scope():
                tenant_id = db.session.scalar(
                    select(Tenant.id).where(Tenant.slug == self.large.slug)
                )
                db.session.rollback()
            with tenant_scope(tenant_id):
                middle = db.session.execute(
                    select(Case.opened_at, Case.public_id)
                    .order_by(Case.opened_at.desc(), Case.public_id.desc())
                    .offset(self.large.cases // 2)
                    .limit(1)
                ).one()
                states = Counter(
                    dict(
                        db.session.execute(
                            select(Case.state, func.count()).group_by(Case.state)
                        ).all()
                    )
                )
                db.session.rollback()
            db.engine.dispose()
        self.large.deep_key = InboxKey(*middle).encode()
        self.large.common_state = states.most_common(1)[0][0]

    def describe_dict(self) -> dict:
        return {
            **self.totals,
            "large_tenant": {
                "slug": self.large.slug,
                "plugin": self.large.plugin,
                "cases": self.large.cases,
            },
            "summary": self.describe(),
        }

    def describe(self) -> str:
        return (
            f"{self.totals['tenants']:,} tenants, {self.totals['cases']:,} cases; the large "
            f"tenant {self.large.slug} ({self.large.plugin}) holds {self.large.cases:,}"
        )


def _long_cases_and_their_viewer(sample: dict) -> dict:
    """The cases with a long timeline that one staff member may see (need to know holds in
    the benchmark too), and that member."""
    heavy = sample["heavy_cases"]
    email = heavy[0]["viewers"][0]
    account = next(a for a in sample["staff"] if a["email"] == email)
    return {
        "long_cases": [c["case"] for c in heavy if email in c["viewers"]],
        "case_viewer": Staff(account["email"], account["password"], account["totp_secret"]),
    }


def _busiest(sample: dict) -> Staff:
    """The staff member seated on the committee with the most open cases (a whole-site seat
    first): the inbox with the most to sift through."""
    counts = sample.get("open_cases_by_committee") or {}

    def weight(account):
        seats = account["seats"]
        return (
            max((counts.get(s["committee"], 0), s["site"] is None) for s in seats)
            if seats
            else (-1, False)
        )

    account = max(sample["staff"], key=weight)
    return Staff(account["email"], account["password"], account["totp_secret"])
