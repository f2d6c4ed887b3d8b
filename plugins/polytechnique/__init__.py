"""École polytechnique: the DHAMIS unit and its online reporting platform."""

from core.plugins import hookimpl

MARK = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40">'
    '<rect width="40" height="40" rx="8" fill="#ffffff"/>'
    '<path d="M20 7l11 6v14l-11 6-11-6V13z" fill="none" stroke="#8a1538" stroke-width="3" '
    'stroke-linejoin="round"/></svg>'
)


@hookimpl
def institution_profile(tenant):
    return {
        "name": "École polytechnique",
        "short_name": "X",
        "default_locale": "fr",
        "locales": ["fr", "en"],
        "timezone": "Europe/Paris",
        "calendar": {"country": "FR", "subdivision": None},
        "branding": {"primary_colour": "#8a1538", "accent_colour": "#1f4e79", "mark_svg": MARK},
        "sites": [{"key": "palaiseau", "name": "Palaiseau campus"}],
        "contact_email": None,
    }
