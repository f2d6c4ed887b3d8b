"""The audit viewer through the web layer: for auditors only, newest first with keyset
pagination, filtered by case and by actor, actions shown readably, the chain verified on
request (a row tampered with below the application is found at its sequence number), and
every reading of the trail is itself in the trail."""

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, update

from core.audit.models import AuditEvent
from core.audit.operations import record_event
from core.extensions import db
from core.identity.models import Role
from core.tenancy.scoping import tenant_scope
from core.testing import sign_in

EVENTS = AuditEvent.__table__
NARRATIVE = "He waited for me outside the library every evening."


@pytest.fixture
def poly(make_tenant):
    return make_tenant("poly", enable=("polytechnique",))


@pytest.fixture
def auditor(poly, make_staff):
    return make_staff(poly, "auditor@poly.example", Role.AUDITOR)


@pytest.fixture
def as_auditor(client, auditor, poly):
    sign_in(client, auditor, poly)
    return client


def text(response) -> str:
    return html.unescape(response.get_data(True))


def token(page) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(True)).group(1)


def seqs_shown(page) -> list[int]:
    body = page.get_data(True)
    table = body[body.index("<tbody>") : body.index("</tbody>")] if "<tbody>" in body else ""
    return [int(n) for n in re.findall(r"<tr>\s*<td>(\d+)</td>", table)]


def events(tenant, action=None) -> list[AuditEvent]:
    with tenant_scope(tenant):
        query = select(AuditEvent).order_by(AuditEvent.seq)
        if action:
            query = query.where(AuditEvent.action == action)
        return list(db.session.scalars(query))


def append(tenant, count: int, actor="system") -> None:
    with tenant_scope(tenant):
        for n in range(count):
            record_event(tenant.id, actor=actor, action="mail.sent", target=("mail", f"m-{n}"))
        db.session.commit()


# -- who may read it -----------------------------------------------------------------------

AUDIT_PATHS = [("GET", "/t/poly/staff/audit/"), ("POST", "/t/poly/staff/audit/verify")]


@pytest.mark.parametrize(("method", "path"), AUDIT_PATHS)
def test_the_trail_is_for_auditors_only(app, poly, make_staff, method, path):
    clients = {}
    for who, role in (("admin", Role.ADMIN), ("listener", Role.LISTENER), ("anonymous", None)):
        clients[who] = app.test_client()
        if role is not None:
            sign_in(clients[who], make_staff(poly, f"{who}@poly.example", role), poly)
    before = len(events(poly))
    for who, client in clients.items():
        form = client.get("/t/poly/report").get_data(True)
        csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
        answer = client.open(path, method=method, data={"csrf_token": csrf})
        if who == "anonymous":
            assert answer.status_code == 302, who
            assert "/t/poly/staff/login" in answer.headers["Location"]
        else:
            assert answer.status_code == 403, who
    # nothing was read, nothing verified: the trail did not grow
    assert len(events(poly)) == before


def test_verifying_needs_the_forms_csrf_token(as_auditor, poly):
    before = len(events(poly))
    assert as_auditor.post("/t/poly/staff/audit/verify").status_code == 400
    assert len(events(poly)) == before


# -- reading it ----------------------------------------------------------------------------


def test_the_trail_shows_events_newest_first_readably_and_no_content(
    as_auditor, poly, case_runner, make_staff
):
    reference = case_runner(poly).submit(narrative=NARRATIVE).reference
    page = as_auditor.get("/t/poly/staff/audit/?lang=en")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    shown = seqs_shown(page)
    assert shown == sorted(shown, reverse=True) and shown[-1] == 1
    body = text(page)
    assert "Case opened" in body and "Institution created" in body and "Plugin enabled" in body
    assert reference in body
    assert NARRATIVE not in body
    # reading the trail is in the trail, by the auditor, with what was asked
    viewed = events(poly, "audit.viewed")[-1]
    assert viewed.actor_kind == "user" and viewed.target_type == "audit"
    assert viewed.details["shown"] == len(shown)
    assert viewed.details["case"] is None and viewed.details["actor"] is None


def test_keyset_pages_cover_the_trail_once_each(as_auditor, poly):
    append(poly, 120)
    total = len(events(poly))
    seen, url = [], "/t/poly/staff/audit/?lang=en"
    for _ in range(10):
        page = as_auditor.get(url)
        seen += seqs_shown(page)
        older = re.search(r'href="([^"]*before=\d+[^"]*)">Older events', page.get_data(True))
        if not older:
            break
        url = html.unescape(older.group(1))
        assert int(parse_qs(urlsplit(url).query)["before"][0]) == seen[-1]
    # the events appended by reading (audit.viewed) come after the first page's newest
    assert seen == list(range(total, 0, -1))
    assert len(seqs_shown(as_auditor.get(f"/t/poly/staff/audit/?before={total - 49}"))) == 50


def test_the_trail_is_filtered_by_case(as_auditor, poly, case_runner):
    runner = case_runner(poly)
    first = runner.submit()
    reference, public_id = first.reference, first.public_id
    other_reference = runner.submit().reference
    expected = [
        e.seq
        for e in reversed(events(poly))
        if e.target_type == "case" and e.target_id == public_id
    ]
    assert expected
    for asked in (reference, reference.lower().replace("-", ""), public_id):
        page = as_auditor.get("/t/poly/staff/audit/", query_string={"case": asked})
        assert seqs_shown(page) == expected, asked
        assert other_reference not in text(page)
    assert events(poly, "audit.viewed")[-1].details["case"] == public_id


def test_an_unknown_case_shows_nothing_and_says_so(as_auditor, poly):
    page = as_auditor.get("/t/poly/staff/audit/?case=ZZZZ-ZZZZ&lang=en")
    assert seqs_shown(page) == []
    assert "No case of this institution has this reference." in text(page)


def test_a_case_of_another_tenant_is_not_found(as_auditor, poly, make_tenant, case_runner):
    other = make_tenant("other", enable=("polytechnique",))
    elsewhere = case_runner(other).submit().public_id
    page = as_auditor.get(f"/t/poly/staff/audit/?case={elsewhere}&lang=en")
    assert seqs_shown(page) == []
    assert "No case of this institution has this reference." in text(page)


def test_the_trail_is_filtered_by_actor(as_auditor, poly, make_staff, auditor):
    colleague = make_staff(poly, "listener@poly.example", Role.LISTENER)
    append(poly, 3)
    append(poly, 2, actor=colleague)
    page = as_auditor.get(f"/t/poly/staff/audit/?actor={colleague.public_id}&lang=en")
    mine = [e.seq for e in events(poly) if e.actor_user_id == colleague.id]
    assert seqs_shown(page) == sorted(mine, reverse=True) and len(mine) == 2
    assert "listener" in text(page)  # her name, as the actor
    page = as_auditor.get("/t/poly/staff/audit/?actor=reporter")
    by_reporter = [e.seq for e in events(poly) if e.actor_kind == "reporter"]
    assert seqs_shown(page) == sorted(by_reporter, reverse=True)
    # an unknown person has no events rather than everyone's
    page = as_auditor.get("/t/poly/staff/audit/?actor=00000000-0000-4000-8000-000000000000")
    assert seqs_shown(page) == []


def test_a_person_no_longer_on_the_staff_can_still_be_chosen(as_auditor, poly, make_staff):
    gone = make_staff(poly, "gone@poly.example", Role.LISTENER)
    append(poly, 1, actor=gone)
    with tenant_scope(poly):
        from core.identity.models import Membership

        for row in db.session.scalars(select(Membership).where(Membership.user_id == gone.id)):
            db.session.delete(row)
        db.session.commit()
    page = as_auditor.get(f"/t/poly/staff/audit/?actor={gone.public_id}")
    assert len(seqs_shown(page)) == 1
    assert f'<option selected value="{gone.public_id}">' in page.get_data(True)


def test_an_account_of_another_tenant_is_never_named_by_its_id(
    as_auditor, poly, make_tenant, make_staff
):
    other = make_tenant("other", enable=("polytechnique",))
    stranger = make_staff(other, "stranger-7731@other.example", Role.LISTENER)
    page = as_auditor.get(f"/t/poly/staff/audit/?actor={stranger.public_id}")
    assert seqs_shown(page) == []
    assert "stranger-7731" not in page.get_data(True)


# -- verifying the chain -------------------------------------------------------------------


def test_an_intact_chain_is_reported_so_and_the_check_is_audited(as_auditor, poly):
    append(poly, 5)
    page = as_auditor.get("/t/poly/staff/audit/?lang=en")
    answer = as_auditor.post("/t/poly/staff/audit/verify?lang=en", data={"csrf_token": token(page)})
    assert answer.status_code == 200
    body = text(answer)
    assert "The chain holds." in body
    verified = events(poly, "audit.verified")[-1]
    assert verified.details["ok"] is True and verified.details["broken_at"] is None
    # every event up to the check, the audit.viewed of the page included
    assert verified.details["checked"] == verified.seq - 1


def test_a_tampered_row_is_reported_broken_at_its_sequence_number(as_auditor, poly, owner_engine):
    append(poly, 6)
    seq = events(poly)[3].seq  # the fourth event
    db.session.commit()
    with owner_engine.begin() as connection:
        connection.execute(
            update(EVENTS)
            .where((EVENTS.c.tenant_id == poly.id) & (EVENTS.c.seq == seq))
            .values(details={"rewritten": True})
        )
    db.session.expire_all()
    page = as_auditor.get("/t/poly/staff/audit/?lang=en")
    answer = as_auditor.post("/t/poly/staff/audit/verify?lang=en", data={"csrf_token": token(page)})
    assert answer.status_code == 200
    body = text(answer)
    assert f"The chain is broken at event {seq}." in body
    assert f"modified: event {seq} " in body
    verified = events(poly, "audit.verified")[-1]
    assert verified.details["ok"] is False
    assert verified.details["broken_at"] == seq
    assert verified.details["problems"] == 1


def test_a_deleted_row_is_reported_where_the_gap_is(as_auditor, poly, owner_engine):
    append(poly, 6)
    db.session.commit()
    with owner_engine.begin() as connection:
        # the application's role cannot delete audit rows; the tables' owner can
        connection.execute(
            EVENTS.delete().where((EVENTS.c.tenant_id == poly.id) & (EVENTS.c.seq == 4))
        )
    page = as_auditor.get("/t/poly/staff/audit/?lang=en")
    answer = as_auditor.post("/t/poly/staff/audit/verify?lang=en", data={"csrf_token": token(page)})
    assert "The chain is broken at event 4." in text(answer)
