"""Help lines' opening hours, worded from their structured data in the reader's language."""

from flask_babel import refresh

from core.plugins import TenantInfo
from core.plugins.hours import describe_hours


def test_slots_are_grouped_into_runs_of_days(app):
    hours = {
        "slots": [
            {"days": ["mon", "tue", "wed", "thu"], "opens": "10:00", "closes": "24:00"},
            {"days": ["fri", "sat"], "opens": "10:00", "closes": "21:00"},
        ]
    }
    with app.test_request_context("/?lang=en"):
        assert describe_hours(hours, "en") == "Mon–Thu 10:00–24:00; Fri–Sat 10:00–21:00"
    with app.test_request_context("/?lang=fr"):
        refresh()
        assert describe_hours(hours, "fr") == "lun.–jeu. 10:00–24:00; ven.–sam. 10:00–21:00"


def test_days_that_do_not_follow_each_other_are_listed(app):
    hours = {"slots": [{"days": ["fri", "mon", "wed"], "opens": "14:00", "closes": "18:00"}]}
    with app.test_request_context("/?lang=en"):
        assert describe_hours(hours, "en") == "Mon, Wed, Fri 14:00–18:00"


def test_a_line_open_all_the_time_says_so_in_each_language(app, plugins, make_tenant):
    tenant = make_tenant("x", enable=("polytechnique",))
    police = plugins.call(TenantInfo.of(tenant), "helplines", locale="fr")[0]
    with app.test_request_context("/?lang=fr"):
        assert describe_hours(police["hours"], "fr") == "24 h/24, 7 j/7"
    with app.test_request_context("/?lang=en"):
        refresh()  # the test's app context outlives each request: forget the last language
        assert describe_hours({"always": True, "note": "Free"}, "en") == (
            "24 hours a day, every day; Free"
        )
