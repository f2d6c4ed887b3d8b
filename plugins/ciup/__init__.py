"""Cité internationale universitaire de Paris: the listening unit and the houses."""

from core.plugins import hookimpl

MARK = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40">'
    '<rect width="40" height="40" rx="8" fill="#ffffff"/>'
    '<path d="M8 32V18l6-5 6 5v14M20 32V14l6-5 6 5v18" fill="none" stroke="#00567a" '
    'stroke-width="3" stroke-linejoin="round"/></svg>'
)

# A representative list of houses; `affiliated` is managed by the National Foundation.
HOUSES = [
    ("fondation_deutsch_de_la_meurthe", "Fondation Deutsch de la Meurthe", True),
    ("maison_internationale", "Maison internationale", True),
    ("fondation_des_etats_unis", "Fondation des États-Unis", False),
    ("maison_du_bresil", "Maison du Brésil", False),
    ("maison_des_etudiants_canadiens", "Maison des étudiants canadiens", False),
    ("maison_heinrich_heine", "Maison Heinrich Heine", False),
]


@hookimpl
def institution_profile(tenant):
    return {
        "name": "Cité internationale universitaire de Paris",
        "short_name": "CIUP",
        "default_locale": "fr",
        "locales": ["fr", "en"],
        "timezone": "Europe/Paris",
        "calendar": {"country": "FR", "subdivision": None},
        "branding": {"primary_colour": "#00567a", "accent_colour": "#d1495b", "mark_svg": MARK},
        "sites": [
            {"key": key, "name": name, "attributes": {"affiliated": affiliated}}
            for key, name, affiliated in HOUSES
        ],
        "contact_email": "alerte-violences@ciup.fr",
    }
