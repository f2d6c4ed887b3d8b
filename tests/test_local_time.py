"""The back office writes moments as Babel's `format_datetime` does, from memoized parts."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date, format_datetime
from flask import g
from flask_babel import force_locale

from core.cases.views import _clock_text, _datetime_patterns, local_date, local_time

PARIS = ZoneInfo("Europe/Paris")
# every hour of a year, at odd minutes and seconds, both changes of time included
MOMENTS = [
    datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=n, minutes=n % 60, seconds=n % 59)
    for n in range(0, 365 * 24, 7)
] + [datetime(2026, 3, 29, 0, 59, 59, 999999, tzinfo=UTC), datetime(2026, 10, 25, 1, 0, tzinfo=UTC)]


@pytest.mark.parametrize("locale", ["en", "fr"])
@pytest.mark.parametrize("form", ["short", "medium", "long"])
def test_moments_read_as_babel_writes_them(app, locale, form):
    with app.test_request_context(), force_locale(locale):
        g.institution = SimpleNamespace(calendar=SimpleNamespace(zone=PARIS))
        for moment in MOMENTS:
            expected = format_datetime(moment, form, tzinfo=PARIS, locale=locale)
            assert local_time(moment, form) == expected, moment
            assert local_date(moment, form) == format_date(moment.astimezone(PARIS), form, locale)
        assert local_time(None) == ""


def test_each_minute_is_written_once_where_the_pattern_shows_no_seconds(app):
    assert _datetime_patterns("short", "en").clock_only
    assert _datetime_patterns("medium", "fr").seconds
    assert not _datetime_patterns("long", "en").clock_only  # it names the time zone
    with app.test_request_context(), force_locale("en"):
        g.institution = SimpleNamespace(calendar=SimpleNamespace(zone=PARIS))
        _clock_text.cache_clear()
        minute = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)
        for second in range(60):  # a minute, on three days
            for day in range(3):
                local_time(minute + timedelta(days=day, seconds=second, microseconds=second))
        assert _clock_text.cache_info().currsize == 1
        for second in range(60):
            local_time(minute + timedelta(seconds=second), "medium")
        assert _clock_text.cache_info().currsize == 61
