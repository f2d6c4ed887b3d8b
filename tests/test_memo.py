"""The per-page memo: each question once inside `memoized()`, always fresh outside it."""

from sqlalchemy import event

from core.extensions import db
from core.identity.models import Role
from core.identity.operations import grant_role, roles_of
from core.memo import memoized, prefill, remember
from core.tenancy.scoping import tenant_scope


def test_outside_a_memo_nothing_is_kept():
    calls = []
    assert remember("k", lambda: calls.append(1) or 1) == 1
    assert remember("k", lambda: calls.append(2) or 2) == 2
    assert calls == [1, 2]
    prefill({"k": 3})  # nowhere to keep it
    assert remember("k", lambda: 4) == 4


def test_inside_a_memo_each_key_is_computed_once_and_nested_blocks_share_it():
    calls = []
    with memoized():
        assert remember("k", lambda: calls.append(1) or 1) == 1
        with memoized():
            assert remember("k", lambda: calls.append(2) or 2) == 1
        prefill({"k": 9, "other": 5})  # a known answer stays as it is
        assert (remember("k", lambda: 0), remember("other", lambda: 0)) == (1, 5)
    assert calls == [1]
    assert remember("k", lambda: 7) == 7  # gone with the block


def test_a_fresh_block_starts_from_nothing_and_leaves_the_outer_memo_as_it_was():
    with memoized():
        remember("k", lambda: 1)
        with memoized(fresh=True):
            assert remember("k", lambda: 2) == 2  # not the outer answer
            remember("inner", lambda: 3)
        assert remember("k", lambda: 0) == 1
        assert remember("inner", lambda: 4) == 4  # the fresh block kept its answers to itself


def test_roles_are_read_once_per_page_and_fresh_after_a_change(app, make_tenant, make_staff):
    tenant = make_tenant("memo")
    user = make_staff(tenant, "memo@example.org", Role.LISTENER)
    queries = []

    def count(*_args):
        queries.append(1)

    with tenant_scope(tenant):
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            with memoized():
                assert roles_of(tenant.id, user) == {Role.LISTENER}
                asked = len(queries)
                assert roles_of(tenant.id, user) == {Role.LISTENER}
                assert len(queries) == asked
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        grant_role(tenant.id, user, Role.AUDITOR, actor="platform")
        db.session.commit()
        assert roles_of(tenant.id, user) == {Role.LISTENER, Role.AUDITOR}
