"""NEOMA Business School: the Angela unit and its procedure (three campuses)."""

from core.plugins import hookimpl

MARK = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40">'
    '<rect width="40" height="40" rx="8" fill="#ffffff"/>'
    '<path d="M10 30V10l20 20V10" fill="none" stroke="#5b2a86" stroke-width="4" '
    'stroke-linecap="round" stroke-linejoin="round"/></svg>'
)


@hookimpl
def institution_profile(tenant):
    return {
        "name": "NEOMA Business School",
        "short_name": "NEOMA",
        "default_locale": "fr",
        "locales": ["fr", "en"],
        "timezone": "Europe/Paris",
        "calendar": {"country": "FR", "subdivision": None},
        "branding": {"primary_colour": "#5b2a86", "accent_colour": "#c2185b", "mark_svg": MARK},
        "sites": [
            {"key": "rouen", "name": "Rouen campus"},
            {"key": "reims", "name": "Reims campus"},
            {"key": "paris", "name": "Paris campus"},
        ],
        "contact_email": None,
    }
