"""The tenant (one school) and the mixin that marks a table as owned by a tenant."""

from datetime import datetime

from sqlalchemy import ForeignKey, ForeignKeyConstraint, Integer, String, event
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from core.extensions import db
from core.types import JSONType, UTCDateTime, utcnow


class PlatformOwned:
    """Mixin for tables every scope may read but only the platform (or, where
    `owner_column` names the owning tenant's id, that tenant) may write."""

    owner_column: str | None = None


class Tenant(PlatformOwned, db.Model):
    """A school sharing the platform. Not tenant-owned itself: the platform finds tenants."""

    __tablename__ = "tenants"
    owner_column = "id"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    default_locale: Mapped[str] = mapped_column(String(8), default="fr")
    locales: Mapped[list[str]] = mapped_column(JSONType, default=lambda: ["fr", "en"])
    branding: Mapped[dict] = mapped_column(JSONType, default=dict)
    enabled_plugins: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Bumped on every change, so per-process caches of plugin data know when to reload.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    domains: Mapped[list["TenantDomain"]] = relationship(
        back_populates="tenant", cascade="all, delete-orphan", order_by="TenantDomain.host"
    )

    @property
    def is_active(self) -> bool:
        return self.suspended_at is None

    def __repr__(self) -> str:
        return f"<Tenant {self.slug}>"


@event.listens_for(Tenant, "before_update")
def _bump_revision(mapper, connection, tenant):
    tenant.revision = (tenant.revision or 0) + 1


class TenantDomain(PlatformOwned, db.Model):
    """A host name (custom domain) that serves one tenant's portal."""

    __tablename__ = "tenant_domains"
    owner_column = "tenant_id"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    host: Mapped[str] = mapped_column(String(253), unique=True)

    tenant: Mapped[Tenant] = relationship(back_populates="domains")


class TenantOwned:
    """Mixin for every table whose rows belong to one tenant.

    Queries on these tables are filtered to the current tenant scope automatically, writes
    are checked against it (`core.tenancy.scoping`), and on PostgreSQL a row-level security
    policy enforces the same rule again below the application.
    """

    # No ON DELETE CASCADE: PostgreSQL runs cascades as the owner, past row-level security.
    # Removing a tenant is a deliberate purge, table by table, in the platform scope.
    @declared_attr
    def tenant_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("tenants.id"), index=True)


def same_tenant_reference(column: str, table: str, **kwargs) -> ForeignKeyConstraint:
    """A foreign key that also matches `tenant_id`, so a row can never point into another
    tenant (its target table declares ``UniqueConstraint("tenant_id", "id")``)."""
    return ForeignKeyConstraint(
        ["tenant_id", column], [f"{table}.tenant_id", f"{table}.id"], **kwargs
    )


def tenant_owned_tables() -> list[str]:
    """Names of every table that carries tenant-owned rows (each gets an RLS policy)."""
    return sorted(
        mapper.local_table.name
        for mapper in db.Model.registry.mappers
        if issubclass(mapper.class_, TenantOwned)
    )
