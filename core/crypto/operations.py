"""Creating tenant data keys and re-wrapping them under a new master key."""

import os

from flask import current_app
from sqlalchemy import select

from core.crypto.fields import key_cache
from core.crypto.keys import wrap_data_key
from core.crypto.models import TenantKey
from core.extensions import db


def create_data_key(tenant_id: int) -> TenantKey:
    """Give the tenant a new active data key, wrapped under the current master key."""
    cache = key_cache()
    secret = os.urandom(32)
    key_id = os.urandom(8).hex()
    row = TenantKey(
        tenant_id=tenant_id,
        key_id=key_id,
        wrapped=wrap_data_key(cache.master_keys.current, tenant_id, key_id, secret),
        master_key_id=cache.master_keys.current_id,
    )
    db.session.add(row)
    db.session.flush()
    cache.remember(tenant_id, key_id, secret, active=True)
    return row


def rewrap_data_keys() -> dict[int, int]:
    """Re-wrap every data key not yet under the current master key; return counts per tenant.

    Must run in the platform scope. Data stays as it is: only the wrapping changes, so the
    previous master key can be retired once this has committed.
    """
    from core.audit.operations import record_event
    from core.crypto.keys import unwrap_data_key

    masters = key_cache().master_keys
    counts: dict[int, int] = {}
    stale = db.session.scalars(
        select(TenantKey).where(TenantKey.master_key_id != masters.current_id)
    ).all()
    for row in stale:
        secret = unwrap_data_key(
            masters.by_id(row.master_key_id), row.tenant_id, row.key_id, row.wrapped
        )
        row.wrapped = wrap_data_key(masters.current, row.tenant_id, row.key_id, secret)
        row.master_key_id = masters.current_id
        counts[row.tenant_id] = counts.get(row.tenant_id, 0) + 1
    db.session.flush()
    for tenant_id, count in sorted(counts.items()):
        record_event(
            tenant_id,
            actor=None,
            action="keys.rewrapped",
            target=("tenant", str(tenant_id)),
            details={"keys": count, "master_key_id": masters.current_id},
        )
    current_app.logger.info("re-wrapped %d data keys", sum(counts.values()))
    return counts
