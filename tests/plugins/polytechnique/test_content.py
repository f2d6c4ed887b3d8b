"""École polytechnique's plugin data, checked against the welcome page of its DHAMIS platform
(../shared/seeds/000_74a1da7ac9b379dd.txt) and the article it cites."""

import pytest

from core.plugins import TenantInfo

# Code de procédure pénale, article 40, second paragraph, exactly.
ARTICLE_40_FR = (
    "Toute autorité constituée, tout officier public ou fonctionnaire qui, dans l'exercice de "
    "ses fonctions, acquiert la connaissance d'un crime ou d'un délit est tenu d'en donner avis "
    "sans délai au procureur de la République et de transmettre à ce magistrat tous les "
    "renseignements, procès-verbaux et actes qui y sont relatifs."
)


@pytest.fixture
def school(make_tenant):
    return TenantInfo.of(make_tenant("x", enable=("polytechnique",)))


def by_key(items):
    return {item["key"]: item for item in items}


def test_profile_is_one_site_with_the_five_dhamis_situations(plugins, school):
    profile = plugins.call(school, "institution_profile")

    assert profile["name"] == "École polytechnique"
    assert (profile["default_locale"], profile["locales"]) == ("fr", ["fr", "en"])
    assert [site["key"] for site in profile["sites"]] == ["palaiseau"]
    # "discrimination, harassment, mental health injury, sexual or gender-based offences and
    # violence" (the DHAMIS acronym) and "ill-being"
    assert [(c["key"], c["label"]) for c in profile["categories"]] == [
        ("discrimination", "Discrimination"),
        ("harassment", "Harassment"),
        ("mental_health_injury", "Mental health injury"),
        ("sexual_gender_based_violence", "Sexual or gender-based offences and violence"),
        ("ill_being", "Ill-being"),
    ]
    # "of which you are/have been a victim or witness, or of which you have personal knowledge"
    assert profile["relations"] == ["victim", "witness", "knowledge"]
    assert profile["contact_email"] is None


def test_welcome_and_confidentiality_are_the_documents(plugins, school):
    profile = plugins.call(school, "institution_profile")

    assert "DHAMIS system" in profile["welcome"]
    assert "victim or witness, or of which you have personal knowledge" in profile["welcome"]
    for words in (
        "obligation of discretion and confidentiality",
        "strictest neutrality",
        "strictly confidential",
        "remain anonymous, while maintaining a link with a member of the DHAMIS Unit",
        "specifically trained",
    ):
        assert words in profile["confidentiality"]


def test_committees_are_the_dhamis_unit_and_the_management(plugins, school):
    committees = by_key(plugins.call(school, "committees"))

    assert list(committees) == ["dhamis_unit", "management"]
    unit, management = committees["dhamis_unit"], committees["management"]
    assert unit["purpose"] == "listening"
    assert "within 72 hours" in unit["description"]
    assert "in writing or face to face" in unit["description"]
    assert [(r["key"], r["kind"]) for r in unit["conditions"]] == [("specifically_trained", "note")]
    assert management["purpose"] == "decision"
    for decision in ("precautionary measures", "administrative inquiry", "disciplinary"):
        assert decision in management["description"]
    assert "consent" in management["description"]


def test_measures_keep_precautionary_referral_and_support_apart(plugins, school):
    ladder = plugins.call(school, "sanction_ladder")
    measures = by_key(ladder["measures"])

    assert {key: m["kind"] for key, m in measures.items()} == {
        "precautionary_measures": "precautionary",
        "administrative_inquiry": "referral",
        "disciplinary_proceedings": "referral",
        "report_to_prosecutor": "referral",
        "support_and_referral": "support",
    }
    # the document names no sanction and no appeal
    assert ladder["appeal"] is None
    assert (
        "restraining order against the alleged perpetrator"
        in (measures["precautionary_measures"]["description"])
    )
    assert "consent" in measures["precautionary_measures"]["description"]
    assert "psychologist, doctor" in measures["support_and_referral"]["description"]
    assert "article 40" in measures["report_to_prosecutor"]["description"]
    assert (
        "whether or not the report is anonymous"
        in (measures["report_to_prosecutor"]["description"])
    )


def test_helplines_are_the_national_emergency_numbers_first(plugins, school):
    lines = plugins.call(school, "helplines")

    # "17 for the police, 15 for the SAMU, 114 by SMS for people with speech or hearing
    # difficulties", and 112, the European number every portal shows
    assert [(line["key"], line["number"]) for line in lines] == [
        ("police", "17"),
        ("samu", "15"),
        ("sms_114", "114"),
        ("european_emergency", "112"),
    ]
    assert [line["order"] for line in lines] == [1, 2, 3, 4]
    assert all(line["emergency"] and line["scope"] == "national" for line in lines)
    assert all(line["hours"]["always"] for line in lines)
    assert lines[2]["channels"] == ["sms"]
    assert lines[2]["audience"] == "People with speech or hearing difficulties"


def test_the_national_lines_read_in_french_through_frances_catalogue(plugins, school):
    lines = by_key(plugins.call(school, "helplines", locale="fr"))

    assert lines["police"]["name"] == "Police et gendarmerie"
    assert lines["sms_114"]["audience"] == "Personnes ayant des difficultés à parler ou à entendre"


def test_legal_definitions_quote_article_40_and_the_admissibility_rule(plugins, school):
    english = by_key(plugins.call(school, "legal_definitions"))
    french = by_key(plugins.call(school, "legal_definitions", locale="fr"))

    assert list(english) == ["article_40", "report_to_prosecutor", "admissibility"]
    assert english["article_40"]["reference"] == "Code de procédure pénale, art. 40, al. 2"
    assert french["article_40"]["text"] == ARTICLE_40_FR
    assert english["article_40"]["text"].startswith(
        "Any constituted authority, public officer or civil servant who, in the performance of "
        "their duties, acquires knowledge of a crime or an offence is required to give notice"
    )
    duty = english["report_to_prosecutor"]["text"]
    assert "obliged to inform the public prosecutor" in duty
    assert "whether or not the name of the alleged perpetrator is known or indicated" in duty
    assert "whether or not your report is anonymous" in duty
    assert english["admissibility"]["text"] == (
        "To be admissible and initiate proceedings, your report must be serious and factual."
    )
    assert french["admissibility"]["text"] == (
        "Pour être recevable et permettre d'engager une procédure, votre signalement doit être "
        "sérieux et factuel."
    )


def test_the_form_adds_no_field_to_the_cores_own(plugins, school):
    # The reporter's relation is the core's field (profile `relations`); the document asks
    # for nothing else (not even whether the reporter is a student or a staff member).
    assert plugins.call(school, "report_form") == []


def test_the_profile_reads_in_french(plugins, school):
    profile = plugins.call(school, "institution_profile", locale="fr")

    assert profile["welcome"].startswith("L'École polytechnique a créé le dispositif DHAMIS")
    assert profile["sites"][0]["name"] == "Campus de Palaiseau"
    assert [c["label"] for c in profile["categories"]] == [
        "Discrimination",
        "Harcèlement",
        "Atteinte à la santé mentale",
        "Infractions et violences sexistes ou sexuelles",
        "Mal-être",
    ]


def test_every_text_has_a_french_translation(plugins, app):
    assert (
        plugins.translators["polytechnique"].missing("fr", plugins.source_texts("polytechnique"))
        == []
    )
