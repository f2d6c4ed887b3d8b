"""Opening hours of a help line, in the reader's words, from the line's structured `hours`."""

from babel.dates import get_day_names
from flask_babel import gettext as _

from core.plugins.schemas import DAYS


def _day_runs(days: list[str]) -> list[tuple[str, str]]:
    """Consecutive days grouped into (first, last) runs, in week order."""
    indexes = sorted(DAYS.index(day) for day in days)
    runs, start = [], indexes[0]
    for previous, current in zip(indexes, [*indexes[1:], None], strict=True):
        if current != previous + 1:
            runs.append((DAYS[start], DAYS[previous]))
            start = current
    return runs


def describe_hours(hours: dict, locale: str) -> str:
    """E.g. "Mon–Thu 10:00–24:00; Fri–Sat 10:00–21:00", or "24 hours a day, every day".

    The note, if any, follows. Times are the institution's local time.
    """
    if hours.get("always"):
        parts = [_("24 hours a day, every day")]
    else:
        names = get_day_names("abbreviated", locale=locale)
        parts = []
        for slot in hours.get("slots", []):
            days = ", ".join(
                names[DAYS.index(first)]
                if first == last
                else f"{names[DAYS.index(first)]}–{names[DAYS.index(last)]}"
                for first, last in _day_runs(slot["days"])
            )
            parts.append(f"{days} {slot['opens']}–{slot['closes']}")
    if hours.get("note"):
        parts.append(hours["note"])
    return "; ".join(parts)
