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


def test_only_a_clock_pattern_is_written_from_memory(app):
    assert _datetime_patterns("short", "en")[3] and _datetime_patterns("medium", "fr")[3]
    assert not _datetime_patterns("long", "en")[3]  # it names the time zone
    with app.test_request_context(), force_locale("en"):
        g.institution = SimpleNamespace(calendar=SimpleNamespace(zone=PARIS))
        _clock_text.cache_clear()
        for moment in MOMENTS[:50]:
            local_time(moment)
        assert _clock_text.cache_info().currsize == 50
        local_time(MOMENTS[0] + timedelta(days=1))  # the same minute of another day
        assert _clock_text.cache_info().currsize == 50
