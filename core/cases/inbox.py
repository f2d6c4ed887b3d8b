"""The staff inbox: the cases a member may see, newest first, a page at a time.

It must stay fast with millions of cases in the database, so the work grows with the page,
not with the table:

1. **SQL narrows first** to the cases that could concern this member: those with a
   committee she sits on (within the sites her seats cover, unless others were composed
   for the case), those she was composed for, those at a stage that gives one of her
   committees or roles standing (`standing_in_state`), and, for listeners, those with no
   committee yet. The inbox's filters are SQL too.
2. **`may_see_case` decides exactly**, case by case, on those candidates, which are read in
   batches in the inbox's order until the page is full.
3. **Keyset pagination**: the order is ``opened_at`` descending, then ``public_id``
   descending (unique, so the order is total and stable); the next page starts strictly
   after the last case shown, carried in the link as that pair (`InboxKey`). No OFFSET,
   so a deep page costs what the first one does, and a case opened meanwhile shifts
   nothing. The indexes ``ix_cases_*_opened_at`` serve this order.

One request reads at most `SCAN_LIMIT` candidates; if that many pass without filling the
page, the page shows what it found and its "next" link starts after the last candidate
read, so nothing is skipped twice and nothing is left out.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import and_, exists, false, func, or_, select, tuple_, type_coerce
from sqlalchemy.dialects.postgresql import JSONB

from core.cases.access import may_see_case, standing_in_state
from core.cases.models import Case, CaseMember, Deadline, Message
from core.cases.operations import committee_keys, prefetch_access, seats_by_committee
from core.committees.models import Committee
from core.extensions import db
from core.identity.models import Role, User
from core.identity.operations import roles_of
from core.memo import memoized
from core.procedure.calendar import WorkingCalendar
from core.procedure.definition import Institution
from core.reports.models import Report
from core.types import utcnow

PAGE_SIZE = 25
BATCH = 50
SCAN_LIMIT = 400
DEADLINE_FILTERS = ("overdue", "week")
# Where a site can be recorded on a case: the report's own, and each party's.
SITE_PARTIES = ("report", "victim", "implicated")


@dataclass(frozen=True)
class InboxKey:
    """Where a page of the inbox starts: strictly after this case in the inbox's order."""

    opened_at: datetime
    public_id: str

    @classmethod
    def of(cls, case: Case) -> "InboxKey":
        return cls(case.opened_at, case.public_id)

    def encode(self) -> str:
        return f"{self.opened_at.astimezone(UTC).strftime('%Y%m%dT%H%M%S.%fZ')}_{self.public_id}"

    @classmethod
    def decode(cls, text: str | None) -> "InboxKey | None":
        """The key a "next page" link carried; None for a missing or malformed one."""
        if not text or "_" not in text:
            return None
        stamp, public_id = text.split("_", 1)
        try:
            opened_at = datetime.strptime(stamp, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC)
        except ValueError:
            return None
        if not public_id or len(public_id) > 36:
            return None
        return cls(opened_at, public_id)


@dataclass(frozen=True)
class InboxFilters:
    """What the member narrowed the inbox to; None means any."""

    state: str | None = None
    deadline: str | None = None  # "overdue", or "week": due by the end of the 5th working day
    site: str | None = None
    category: str | None = None
    committee: str | None = None  # a committee key


@dataclass
class InboxRow:
    """One case as the inbox shows it."""

    case: Case
    committee_key: str | None
    categories: list[str]
    sites: dict[str, str]
    next_deadline: Deadline | None = None
    working_days_left: int | None = None
    overdue: bool = False
    unread: int = 0


@dataclass
class InboxPage:
    rows: list[InboxRow] = field(default_factory=list)
    next_key: InboxKey | None = None


def week_end(calendar: WorkingCalendar, now: datetime) -> datetime:
    """The end of "this week" for deadlines: the close of the fifth working day counting
    today (if today is worked), on the tenant's calendar — Monday gives Friday evening, a
    Saturday the next Friday, and a public holiday pushes it a day further."""
    today = now.astimezone(calendar.zone).date()
    fifth = calendar.add_working_days(today, 4 if calendar.is_working_day(today) else 5)
    return calendar.end_of(fifth)


def member_committees(user: User, tenant_id: int) -> dict[int, str]:
    """The committees `user` sits on in the tenant: {id: key}."""
    keys = committee_keys(tenant_id)
    return {i: keys[i] for i in seats_by_committee(user) if i in keys}


def _composed_for(committee_id):
    return exists().where(
        CaseMember.case_id == Case.id,
        CaseMember.committee_id == committee_id,
        CaseMember.capacity == "composed",
        CaseMember.released_at.is_(None),
    )


def candidates_clause(user: User, institution: Institution):
    """A SQL condition every case `user` may see satisfies (and few others do): the rules
    of `may_see_case` that SQL can read — committees, sites, compositions, stages."""
    tenant_id = institution.info.id
    roles = roles_of(tenant_id, user)
    seats = seats_by_committee(user)  # read once: the keys and the sites agree
    keys = committee_keys(tenant_id)
    committees: dict[int, tuple[str, set]] = {
        committee_id: (keys[committee_id], {seat.site_key for seat in seated})
        for committee_id, seated in seats.items()
        if committee_id in keys
    }
    clauses = [
        # composed to sit for the case, whatever their site
        Case.id.in_(
            select(CaseMember.case_id).where(
                CaseMember.user_id == user.id,
                CaseMember.capacity == "composed",
                CaseMember.released_at.is_(None),
            )
        )
    ]
    # Only the committees a step composes can have others composed for a case; asking the
    # others would cost a look at every composition of the tenant for nothing.
    composed_by_steps = {
        t["compose"] for t in institution.procedure.data["transitions"] if t["compose"]
    }
    for committee_id, (key, sites) in committees.items():
        everywhere = None in sites
        # the committee that has the case: within her sites, unless others were composed
        handling = [Case.committee_id == committee_id]
        if key in composed_by_steps:
            handling.append(~_composed_for(committee_id))
        if not everywhere:
            handling.append(or_(Case.site_key.is_(None), Case.site_key.in_(sorted(sites))))
        clauses.append(and_(*handling))
        # a committee with a part at the case's stage, while another has the case
        states = [
            s for s in institution.procedure.states if key in standing_in_state(s, institution)
        ]
        if not states:
            continue
        standing = [
            Case.state.in_(states),
            or_(Case.committee_id.is_(None), Case.committee_id != committee_id),
        ]
        declared = institution.committees.get(key, {})
        if declared.get("per_site") and not everywhere:
            site = Case.facts[("sites", declared.get("site_of") or "report")].as_string()
            standing.append(or_(site.is_(None), site.in_(sorted(sites))))
        clauses.append(and_(*standing))
    role_keys = {role.value for role in roles}
    states = [
        s
        for s in institution.procedure.states
        if role_keys & set(standing_in_state(s, institution))
    ]
    if states:
        clauses.append(Case.state.in_(states))
    if Role.LISTENER in roles:
        clauses.append(Case.committee_id.is_(None))
    return or_(*clauses)


def _has_category(key: str):
    """Some report of the case has this category (`Report.categories` is a JSON list)."""
    if db.session.get_bind().dialect.name == "postgresql":
        matches = type_coerce(Report.categories, JSONB).contains([key])
    else:
        value = func.json_each(Report.categories).table_valued("value")
        matches = exists(select(value.c.value).where(value.c.value == key))
    return exists().where(Report.case_id == Case.id, matches)


def _open_deadline(*conditions):
    return exists().where(
        Deadline.case_id == Case.id,
        Deadline.met_at.is_(None),
        Deadline.cancelled_at.is_(None),
        *conditions,
    )


def filters_clause(filters: InboxFilters, institution: Institution, now: datetime):
    clauses = []
    if filters.state:
        clauses.append(Case.state == filters.state)
    if filters.committee:
        committee = db.session.scalar(
            select(Committee.id).where(
                Committee.tenant_id == institution.info.id, Committee.key == filters.committee
            )
        )
        clauses.append(Case.committee_id == committee if committee else false())
    if filters.site:
        clauses.append(
            or_(
                Case.site_key == filters.site,
                *(
                    Case.facts[("sites", party)].as_string() == filters.site
                    for party in SITE_PARTIES
                ),
            )
        )
    if filters.category:
        clauses.append(_has_category(filters.category))
    if filters.deadline == "overdue":
        clauses.append(_open_deadline(Deadline.due_at < now))
    elif filters.deadline == "week":
        end = week_end(institution.calendar, now)
        clauses.append(_open_deadline(Deadline.due_at >= now, Deadline.due_at <= end))
    return and_(*clauses) if clauses else None


def _candidates(query, after: InboxKey | None, user: User, first: int) -> Iterator[Case]:
    """The query's cases in the inbox's order after `after`, with what deciding `user`'s
    need to know asks of them read for each batch at once: `first` at first (what a page
    needs when every candidate passes, as most do), then `BATCH` at a time."""
    size = first
    while True:
        page = query
        if after is not None:
            page = page.where(
                tuple_(Case.opened_at, Case.public_id) < tuple_(after.opened_at, after.public_id)
            )
        batch = db.session.scalars(page.limit(size)).all()
        prefetch_access(batch, user)
        yield from batch
        if len(batch) < size:
            return
        after, size = InboxKey.of(batch[-1]), BATCH


def inbox_page(
    user: User,
    institution: Institution,
    filters: InboxFilters = InboxFilters(),
    *,
    after: InboxKey | None = None,
    size: int = PAGE_SIZE,
    now: datetime | None = None,
    scan_limit: int = SCAN_LIMIT,
) -> InboxPage:
    """One page of the cases `user` may see, after `after` (see the module's rules)."""
    with memoized():
        return _inbox_page(user, institution, filters, after, size, now or utcnow(), scan_limit)


def _inbox_page(user, institution, filters, after, size, now, scan_limit) -> InboxPage:
    query = (
        select(Case)
        .where(Case.tenant_id == institution.info.id, candidates_clause(user, institution))
        .order_by(Case.opened_at.desc(), Case.public_id.desc())
    )
    narrowed = filters_clause(filters, institution, now)
    if narrowed is not None:
        query = query.where(narrowed)
    shown, last_read, stopped = [], None, False
    for read, case in enumerate(_candidates(query, after, user, size + 1), start=1):
        last_read = case
        if may_see_case(user, case, institution):
            shown.append(case)
            if len(shown) > size:
                break
        if read >= scan_limit:
            stopped = True
            break
    if len(shown) > size:
        shown, next_key = shown[:size], InboxKey.of(shown[size - 1])
    elif stopped:
        next_key = InboxKey.of(last_read)
    else:
        next_key = None
    return InboxPage(rows=describe(shown, institution, now), next_key=next_key)


def describe(cases: list[Case], institution: Institution, now: datetime) -> list[InboxRow]:
    """What the inbox shows of each case, read for the whole page at once."""
    if not cases:
        return []
    ids = [case.id for case in cases]
    committees = committee_keys(institution.info.id)
    categories: dict[int, list[str]] = {}
    for case_id, keys in db.session.execute(
        select(Report.case_id, Report.categories).where(Report.case_id.in_(ids))
    ):
        categories.setdefault(case_id, [])
        categories[case_id].extend(k for k in keys or [] if k not in categories[case_id])
    deadlines: dict[int, Deadline] = {}
    for deadline in db.session.scalars(
        select(Deadline)
        .where(
            Deadline.case_id.in_(ids), Deadline.met_at.is_(None), Deadline.cancelled_at.is_(None)
        )
        .order_by(Deadline.due_at)
    ):
        deadlines.setdefault(deadline.case_id, deadline)
    unread = dict(
        db.session.execute(
            select(Message.case_id, func.count(Message.id))
            .where(
                Message.case_id.in_(ids),
                Message.author_kind == "reporter",
                Message.read_at.is_(None),
            )
            .group_by(Message.case_id)
        ).all()
    )
    calendar = institution.calendar
    today = now.astimezone(calendar.zone).date()
    rows = []
    for case in cases:
        sites = {party: site for party, site in (case.facts.get("sites") or {}).items() if site}
        if case.site_key:
            sites.setdefault("report", case.site_key)
        row = InboxRow(
            case=case,
            committee_key=committees.get(case.committee_id),
            categories=categories.get(case.id, []),
            sites=sites,
            unread=unread.get(case.id, 0),
        )
        deadline = deadlines.get(case.id)
        if deadline is not None:
            row.next_deadline = deadline
            row.overdue = deadline.due_at < now
            row.working_days_left = calendar.working_days_between(
                today, deadline.due_at.astimezone(calendar.zone).date()
            )
        rows.append(row)
    return rows
