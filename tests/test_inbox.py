"""The staff inbox: need to know per campus and committee, filters, keyset pages."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from core.audit.models import AuditEvent
from core.cases.inbox import InboxFilters, InboxKey, inbox_page, week_end
from core.extensions import db
from core.identity.models import Role
from core.procedure.calendar import WorkingCalendar
from core.tenancy.scoping import tenant_scope
from core.testing import sign_in

PARIS = WorkingCalendar("FR", None, "Europe/Paris")


@pytest.fixture
def neoma(make_tenant, make_member, case_runner):
    tenant = make_tenant("neoma", enable=("neoma",))
    people = {
        "rouen": [
            make_member(tenant, "angela_unit", role="officer", site="rouen") for _ in range(2)
        ],
        "reims": [
            make_member(tenant, "angela_unit", role="officer", site="reims") for _ in range(2)
        ],
        "everywhere": make_member(tenant, "angela_unit", role="officer"),
        "student_life": make_member(tenant, "pre_analysis", role="director_of_student_life"),
        "legal": make_member(tenant, "pre_analysis", role="head_of_legal"),
    }
    return tenant, case_runner(tenant), people


def references(html: str) -> list[str]:
    """The case references of an inbox page, in order."""
    return re.findall(r'/staff/cases/[0-9a-f-]{36}[^"]*">([A-Z0-9]{4}-[A-Z0-9]{4})</a>', html)


def next_link(html: str) -> str | None:
    found = re.search(r'<a href="([^"]+)" rel="next">', html)
    return found.group(1).replace("&amp;", "&") if found else None


def reads(tenant) -> list[AuditEvent]:
    with tenant_scope(tenant):
        return db.session.scalars(select(AuditEvent).where(AuditEvent.action == "case.read")).all()


def test_a_campus_officer_never_sees_another_campus_case(client, neoma):
    tenant, runner, people = neoma
    rouen_ref = runner.submit(anonymous=False, answers={"campus": "rouen"}).reference
    reims_case = runner.submit(anonymous=False, answers={"campus": "reims"})
    reims_ref, reims_id = reims_case.reference, reims_case.public_id

    sign_in(client, people["rouen"][0], tenant)
    html = client.get("/t/neoma/staff/?lang=en").get_data(as_text=True)
    assert references(html) == [rouen_ref]
    assert reims_ref not in html
    # the other campus's case does not exist for her: the same 404 as an unknown case
    assert client.get(f"/t/neoma/staff/cases/{reims_id}").status_code == 404
    unknown = client.get("/t/neoma/staff/cases/00000000-0000-4000-8000-000000000000")
    assert unknown.status_code == 404
    assert reads(tenant) == []
    # nor can she act on it
    response = client.post(
        f"/t/neoma/staff/cases/{reims_id}/steps/acknowledge_receipt",
        data={"acknowledge_receipt-csrf_token": "x"},
    )
    assert response.status_code in (400, 404)
    assert runner.refresh(reims_case).state == "received"

    sign_in(client, people["reims"][0], tenant)
    html = client.get("/t/neoma/staff/?lang=en").get_data(as_text=True)
    assert references(html) == [reims_ref]
    assert client.get(f"/t/neoma/staff/cases/{reims_id}").status_code == 200
    assert [event.target_id for event in reads(tenant)] == [reims_id]

    # a member seated for every campus sees both
    sign_in(client, people["everywhere"], tenant)
    html = client.get("/t/neoma/staff/?lang=en").get_data(as_text=True)
    assert sorted(references(html)) == sorted([rouen_ref, reims_ref])


def test_the_inbox_follows_the_case_from_committee_to_committee(client, neoma):
    tenant, runner, people = neoma
    case = runner.submit(anonymous=False, answers={"campus": "rouen"})
    reference = case.reference
    # pre-analysis has no part before the report is sent to it
    sign_in(client, people["student_life"], tenant)
    assert references(client.get("/t/neoma/staff/").get_data(as_text=True)) == []
    first, second = people["rouen"]
    runner.take(case, "register_report", first, participants=[second])
    runner.take(case, "refer_to_pre_analysis", first)
    assert references(client.get("/t/neoma/staff/").get_data(as_text=True)) == [reference]
    # the officers who passed it on keep it (they stay the reporter's contact), those of
    # another campus never had it
    sign_in(client, first, tenant)
    assert references(client.get("/t/neoma/staff/").get_data(as_text=True)) == [reference]
    sign_in(client, people["reims"][0], tenant)
    assert references(client.get("/t/neoma/staff/").get_data(as_text=True)) == []


def test_admins_and_auditors_see_no_case(client, neoma, make_staff):
    tenant, runner, _people = neoma
    case = runner.submit(anonymous=False, answers={"campus": "rouen"})
    public_id = case.public_id
    for role in (Role.ADMIN, Role.AUDITOR):
        user = make_staff(tenant, f"{role.value}@neoma.test", role)
        sign_in(client, user, tenant)
        page = client.get("/t/neoma/staff/?lang=en")
        assert page.status_code == 200
        assert references(page.get_data(as_text=True)) == []
        assert "You have no case to handle just now." in page.get_data(as_text=True)
        assert client.get(f"/t/neoma/staff/cases/{public_id}").status_code == 404
    assert reads(tenant) == []


def test_a_case_of_another_tenant_is_not_found(
    client, neoma, make_tenant, make_member, case_runner
):
    tenant, _runner, people = neoma
    other = make_tenant("neoma-bis", enable=("neoma",))
    make_member(other, "angela_unit", role="officer", site="rouen")
    theirs = case_runner(other).submit(anonymous=False, answers={"campus": "rouen"})
    public_id, reference = theirs.public_id, theirs.reference
    sign_in(client, people["everywhere"], tenant)
    assert client.get(f"/t/neoma/staff/cases/{public_id}").status_code == 404
    assert reference not in client.get("/t/neoma/staff/").get_data(as_text=True)
    # her session is this tenant's: the other tenant's back office does not know her
    elsewhere = client.get(f"/t/neoma-bis/staff/cases/{public_id}")
    assert elsewhere.status_code in (302, 303, 404)
    assert reference not in elsewhere.get_data(as_text=True)
    assert reads(tenant) == [] and reads(other) == []


def test_sixty_cases_in_pages_without_duplicates_or_gaps(client, neoma):
    tenant, runner, people = neoma
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    expected = []
    for n in range(60):
        # three cases share each minute: the order must not depend on the clock alone
        opened = start + timedelta(minutes=n // 3)
        case = runner.submit(anonymous=False, answers={"campus": "rouen"}, now=opened)
        expected.append((opened, case.public_id, case.reference))
        if n % 4 == 0:  # other campuses' cases in between, which she never sees
            runner.submit(anonymous=False, answers={"campus": "reims"}, now=opened)
    expected.sort(key=lambda item: (item[0], item[1]), reverse=True)

    sign_in(client, people["rouen"][0], tenant)
    seen, link, pages = [], "/t/neoma/staff/?lang=en", 0
    while link:
        html = client.get(link).get_data(as_text=True)
        seen.extend(references(html))
        link = next_link(html)
        pages += 1
        if link:
            assert "after=" in link and "lang=en" in link
            assert "offset" not in link
    assert pages == 3
    assert seen == [reference for _, _, reference in expected]
    assert len(set(seen)) == 60


def test_pages_fill_past_cases_sql_cannot_rule_out(ciup_cases):
    """CIUP's rule keeps the victim's house director out without consent: SQL cannot see
    it, so the page reads further candidates until it is full."""
    tenant, runner, director, visible = ciup_cases
    with tenant_scope(tenant):
        institution = runner.institution
        for size, scan_limit in ((5, 400), (4, 3), (7, 1)):
            seen, after, pages = [], None, 0
            while True:
                page = inbox_page(
                    director, institution, after=after, size=size, scan_limit=scan_limit
                )
                assert len(page.rows) <= size
                seen.extend(row.case.public_id for row in page.rows)
                pages += 1
                if page.next_key is None:
                    break
                after = page.next_key
            assert seen == visible, (size, scan_limit)
            assert pages < 60


@pytest.fixture
def ciup_cases(make_tenant, make_member, case_runner):
    tenant = make_tenant("ciup", enable=("ciup",))
    runner = case_runner(tenant)
    director = make_member(
        tenant, "listening_unit", role="house_director", site="fondation_deutsch_de_la_meurthe"
    )
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    visible = []
    for n in range(24):
        own_house = n % 3 != 0  # two in three are residents of the director's own house
        house = "fondation_deutsch_de_la_meurthe" if own_house else "fondation_suisse"
        case = runner.submit(
            answers={"victim_house": house, "reporting_wish": "report"},
            now=start + timedelta(minutes=n // 2),
        )
        if not own_house:
            visible.append((case.opened_at, case.public_id))
    visible.sort(reverse=True)
    return tenant, runner, director, [public_id for _, public_id in visible]


def test_filters(client, neoma):
    tenant, runner, people = neoma
    now = datetime.now(UTC)
    refs = {}
    refs["old"] = runner.submit(
        anonymous=False,
        answers={"campus": "rouen"},
        categories=["moral_harassment"],
        now=now - timedelta(days=40),
    ).reference
    refs["fresh"] = runner.submit(
        anonymous=False, answers={"campus": "paris"}, categories=["sexual_harassment"], now=now
    ).reference
    done = runner.submit(
        anonymous=False, answers={"campus": "rouen"}, categories=["sexual_harassment"], now=now
    )
    refs["done"] = done.reference
    officer = people["everywhere"]
    rouen = people["rouen"][0]
    runner.take(done, "register_report", officer, participants=[rouen])
    runner.take(done, "acknowledge_receipt", officer)

    sign_in(client, officer, tenant)

    def shown(query: str) -> set[str]:
        html = client.get(f"/t/neoma/staff/?lang=en&{query}").get_data(as_text=True)
        return {name for name, ref in refs.items() if ref in references(html)}

    assert shown("") == {"old", "fresh", "done"}
    assert shown("state=registered") == {"done"}
    assert shown("state=received") == {"old", "fresh"}
    assert shown("site=paris") == {"fresh"}
    assert shown("site=rouen") == {"old", "done"}
    assert shown("category=sexual_harassment") == {"fresh", "done"}
    assert shown("category=moral_harassment") == {"old"}
    # the old case's deadlines are overdue; the fresh one must be acknowledged within two
    # working days; the registered one has only its 45-day guide left
    assert shown("deadline=overdue") == {"old"}
    assert shown("deadline=week") == {"fresh"}
    assert shown("deadline=week&site=rouen") == set()
    assert shown("state=received&category=sexual_harassment") == {"fresh"}
    # a value that is not offered is ignored rather than hiding everything
    assert shown("state=nonsense&after=garbage") == {"old", "fresh", "done"}

    html = client.get("/t/neoma/staff/?lang=en").get_data(as_text=True)
    row = html[html.index(refs["old"]) :]
    row = row[: row.index("</tr>")]
    assert "Overdue by" in row and "overdue-text" in row  # said in words, not only in red
    row = html[html.index(refs["fresh"]) :]
    row = row[: row.index("</tr>")]
    assert re.search(r"\d working days? left|Due today", row)
    assert "Sexual harassment" in row and "Paris campus" in row


def test_a_member_of_two_committees_filters_by_committee(client, neoma, make_member):
    tenant, runner, people = neoma
    first = people["rouen"][0]
    make_member(tenant, "pre_analysis", role="director_of_student_life", user=first)
    mine = runner.submit(anonymous=False, answers={"campus": "rouen"}).reference
    passed = runner.submit(anonymous=False, answers={"campus": "reims"})
    reims_a, reims_b = people["reims"]
    runner.take(passed, "register_report", reims_a, participants=[reims_b])
    runner.take(passed, "refer_to_pre_analysis", reims_a)
    passed = passed.reference
    sign_in(client, first, tenant)
    everything = client.get("/t/neoma/staff/?lang=en").get_data(as_text=True)
    assert sorted(references(everything)) == sorted([mine, passed])
    assert 'name="committee"' in everything
    angela = client.get("/t/neoma/staff/?lang=en&committee=angela_unit").get_data(as_text=True)
    assert references(angela) == [mine]
    pre = client.get("/t/neoma/staff/?lang=en&committee=pre_analysis").get_data(as_text=True)
    assert references(pre) == [passed]


def test_this_week_is_five_working_days_on_the_tenants_calendar():
    noon = datetime(2026, 4, 27, 10, 0, tzinfo=UTC)  # Monday 27 April 2026
    # Monday to Friday 1 May, a public holiday: the fifth working day is Monday 4 May
    assert week_end(PARIS, noon).astimezone(PARIS.zone).date() == date(2026, 5, 4)
    # from a Saturday: the next five working days, Monday 2 to Friday 6 March
    saturday = datetime(2026, 2, 28, 12, 0, tzinfo=UTC)
    end = week_end(PARIS, saturday).astimezone(PARIS.zone)
    assert (end.date(), end.hour, end.minute) == (date(2026, 3, 6), 23, 59)
    # an ordinary Monday gives that Friday's close
    assert week_end(PARIS, datetime(2026, 3, 2, 8, 0, tzinfo=UTC)).astimezone(
        PARIS.zone
    ).date() == date(2026, 3, 6)


def test_the_page_key_travels_in_the_link_and_rejects_anything_else():
    key = InboxKey(datetime(2026, 3, 2, 9, 0, 1, 250, tzinfo=UTC), "9d2c0c52-0c8f-4f0e-9a55-3c3f")
    assert InboxKey.decode(key.encode()) == key
    for broken in (None, "", "garbage", "2026_x", "20260302T090001.000250Z_", "x" * 80):
        assert InboxKey.decode(broken) is None


def test_inbox_filters_are_plain_values():
    assert InboxFilters() == InboxFilters(None, None, None, None, None)


def test_a_page_costs_the_same_queries_however_many_cases_precede_it(app, neoma):
    """Need to know is decided for a whole batch of candidates at once (core.memo): the
    queries of a page depend on the page, not on how many cases there are."""
    from sqlalchemy import event

    tenant, runner, people = neoma
    officer = people["everywhere"]
    statements = []

    def count(*_args):
        statements.append(1)

    def queries_of_first_page() -> int:
        statements.clear()
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            with tenant_scope(tenant):
                page = inbox_page(officer, runner.institution, size=10)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert len(page.rows) == 10
        return len(statements)

    for n in range(12):
        runner.submit(anonymous=False, answers={"campus": ("rouen", "reims")[n % 2]})
    few = queries_of_first_page()
    for n in range(36):
        runner.submit(anonymous=False, answers={"campus": ("rouen", "reims")[n % 2]})
    many = queries_of_first_page()
    assert many == few
    assert few <= 20, f"{few} queries for a page of 10 cases"
