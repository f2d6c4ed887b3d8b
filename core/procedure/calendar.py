"""Deadlines on a tenant's calendar: working days skip weekends and public holidays.

A deadline of N working days started on day D ends at the close of the N-th working day
after D (the day the clock starts does not count, as deadlines are counted in French
administrative practice); N calendar days end at the close of day D + N; N hours end
exactly N hours later. "The close of a day" is 23:59:59 in the tenant's time zone.
"""

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays


@functools.cache
def _public_holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year))


@dataclass(frozen=True)
class WorkingCalendar:
    """Which days are worked, from an institution profile's ``calendar`` and ``timezone``."""

    country: str
    subdivision: str | None
    timezone: str

    @classmethod
    def of(cls, profile: dict) -> "WorkingCalendar":
        calendar = profile["calendar"]
        return cls(calendar["country"], calendar.get("subdivision"), profile["timezone"])

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in _public_holidays(
            self.country, self.subdivision, day.year
        )

    def add_working_days(self, day: date, count: int) -> date:
        """The `count`-th working day after `day`."""
        while count > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                count -= 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end` (negative if `end` is earlier)."""
        if end < start:
            return -self.working_days_between(end, start)
        return sum(
            self.is_working_day(start + timedelta(days=n)) for n in range(1, (end - start).days + 1)
        )

    def end_of(self, day: date) -> datetime:
        """The last second of `day`, local time, as a UTC instant."""
        return datetime.combine(day, time(23, 59, 59), self.zone).astimezone(UTC)

    def due(self, start: datetime, *, working_days=None, calendar_days=None, hours=None):
        """When a deadline started at `start` (aware) falls due; give exactly one length."""
        if hours is not None:
            return start + timedelta(hours=hours)
        local_day = start.astimezone(self.zone).date()
        if working_days is not None:
            return self.end_of(self.add_working_days(local_day, working_days))
        if calendar_days is not None:
            return self.end_of(local_day + timedelta(days=calendar_days))
        raise ValueError("a deadline needs working_days, calendar_days or hours")
