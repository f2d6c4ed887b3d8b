"""NEOMA's plugin data, checked against its "Student reporting and internal investigation
procedure" of 16 May 2025 (../shared/seeds/002_13a7a6e25a91d4a9.txt in English and
001_0c9ec56df4af2897.txt in French). Section numbers are the document's."""

import json

import pytest

from core.plugins import TenantInfo
from plugins import france

EMERGENCY = [
    ("police", "17"),
    ("samu", "15"),
    ("sms_114", "114"),
    ("european_emergency", "112"),
]
# Appendix 3 and §IV, from the shared national directory.
NATIONAL = {
    "france_victimes_116006",
    "violences_femmes_info_3919",
    "en_avant_toutes",
    "avft",
    "cnidff",
    "arretons_les_violences",
    "national_reporting_portal",
    "apf_france_handicap",
    "sante_info_droits",
    "federation_lgbti",
    "sos_racisme",
}
LOCAL = {"campus_nurses", "wellness"}
WEEK = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@pytest.fixture
def neoma(make_tenant):
    return TenantInfo.of(make_tenant("neoma", enable=("neoma",)))


def by_key(items):
    return {item["key"]: item for item in items}


def slots(*spans):
    return [{"days": days, "opens": opens, "closes": closes} for days, opens, closes in spans]


# -- profile ------------------------------------------------------------------------------


def test_profile_has_the_three_campuses_and_what_can_be_reported(plugins, neoma):
    profile = plugins.call(neoma, "institution_profile")

    assert profile["name"] == "NEOMA Business School"
    assert (profile["default_locale"], profile["locales"]) == ("fr", ["fr", "en"])
    assert profile["calendar"]["country"] == "FR"
    assert profile["branding"]["mark_svg"].startswith("<svg")
    assert [(s["key"], s["name"]) for s in profile["sites"]] == [
        ("rouen", "Rouen campus"),
        ("reims", "Reims campus"),
        ("paris", "Paris campus"),
    ]
    # §II "For what types of situations?", with §I's "harassment (moral or sexual)"
    assert [(c["key"], c["label"]) for c in profile["categories"]] == [
        ("moral_harassment", "Moral harassment"),
        ("sexual_harassment", "Sexual harassment"),
        ("sexist_outrage", "Sexist abuse"),
        ("discrimination", "Discriminatory acts or comments"),
        ("violence", "Any other form of violence"),
    ]
    violence = by_key(profile["categories"])["violence"]["description"]
    assert "on or off our campuses" in violence
    assert "continuum of sexist and sexual violence" in violence
    # §II: the direct victim or a direct witness; no one else
    assert profile["relations"] == ["victim", "witness"]


def test_confidentiality_has_no_time_limit_and_yields_only_to_justice(plugins, neoma):
    english = plugins.call(neoma, "institution_profile")["confidentiality"]
    french = plugins.call(neoma, "institution_profile", locale="fr")["confidentiality"]

    assert "strictest confidentiality" in english
    assert "beyond the investigation period, for an indefinite period" in english
    assert "lifted at the request of a magistrate or judicial police officers" in english
    assert (
        "Cette obligation de confidentialité s'applique au-delà de la période d'enquête, pour une "
        "durée indéterminée. Elle peut néanmoins être levée sur demande d'un magistrat ou des "
        "officiers de police judiciaire." in french
    )


def test_profile_in_french(plugins, neoma):
    profile = plugins.call(neoma, "institution_profile", locale="fr")

    assert [s["name"] for s in profile["sites"]] == [
        "Campus de Rouen",
        "Campus de Reims",
        "Campus de Paris",
    ]
    assert [c["label"] for c in profile["categories"]] == [
        "Harcèlement moral",
        "Harcèlement sexuel",
        "Outrage sexiste",
        "Actes ou propos discriminatoires",
        "Toute autre forme de violence",
    ]
    assert "processus clair, confidentiel et sécurisé" in profile["welcome"]


# -- committees ---------------------------------------------------------------------------


def test_the_angela_unit_has_eight_officers_over_three_campuses(plugins, neoma):
    unit = by_key(plugins.call(neoma, "committees"))["angela_unit"]

    assert unit["purpose"] == "listening"
    assert unit["per_site"] is True
    # §IV's table: three officers in Rouen, three in Reims, two in Paris; eight in all
    assert unit["seats_per_site"] == {"rouen": 3, "reims": 3, "paris": 2}
    assert sum(unit["seats_per_site"].values()) == 8
    assert [(r["key"], r["min"]) for r in unit["roles"]] == [("officer", 2)]
    assert unit["min_members"] == 2
    # "this interview is always conducted in the presence of a second ... Officer"
    (rule,) = unit["conditions"]
    assert rule["kind"] == "note"
    assert "always conducted in the presence of a second" in rule["description"]


def test_committee_data_names_no_officer_and_no_telephone(plugins, neoma):
    data = json.dumps(plugins.call(neoma, "committees"), ensure_ascii=False)

    for name in ("MALHAIRE", "SERVAIS", "TRIBOULT", "LEBOUVIER", "THUILLIER", "ALAUZET"):
        assert name.lower() not in data.lower()
    for number in ("02 32 82", "03 26 77", "07 62 20", "01 73 06"):
        assert number not in data


def test_pre_analysis_is_the_director_of_student_life_with_the_head_of_legal(plugins, neoma):
    pair = by_key(plugins.call(neoma, "committees"))["pre_analysis"]

    assert pair["purpose"] == "pre_analysis"
    assert pair["min_members"] == 2
    assert [(r["key"], r["min"]) for r in pair["roles"]] == [
        ("director_of_student_life", 1),
        ("head_of_legal", 1),
    ]
    assert "awareness-raising or even disciplinary action" in pair["description"]


def test_the_investigation_unit_has_its_three_members(plugins, neoma):
    unit = by_key(plugins.call(neoma, "committees"))["investigation_unit"]

    assert unit["purpose"] == "investigation"
    assert unit["min_members"] == 3
    assert [(r["key"], r["min"]) for r in unit["roles"]] == [
        ("general_secretary", 1),
        ("legal_expert", 1),
        ("student_experience_manager", 1),
    ]
    assert "Student Experience & Sustainable Transition" in unit["roles"][2]["name"]
    rules = {rule["key"]: rule for rule in unit["conditions"]}
    assert all(rule["kind"] == "note" for rule in rules.values())
    assert "recorded in writing" in rules["documents_with_written_agreement"]["description"]
    assert "except in the case of minors" in rules["hearings_are_voluntary"]["description"]
    assert "twenty-four hours of the last investigative act" in unit["description"]


def test_deciders_and_support(plugins, neoma):
    committees = by_key(plugins.call(neoma, "committees"))

    assert list(committees) == [
        "angela_unit",
        "pre_analysis",
        "investigation_unit",
        "general_management",
        "campus_direction",
        "wellness_centre",
    ]
    assert committees["general_management"]["purpose"] == "decision"
    assert committees["general_management"]["name"] == "General Management / Campus Management"
    assert "Disciplinary Board" in committees["general_management"]["description"]
    campus = committees["campus_direction"]
    assert (campus["purpose"], campus["per_site"]) == ("decision", True)
    assert campus["seats_per_site"] == {"rouen": 1, "reims": 1, "paris": 1}
    assert "disciplinary hearing" in campus["description"]
    assert committees["wellness_centre"]["purpose"] == "support"


def test_committees_in_french(plugins, neoma):
    committees = by_key(plugins.call(neoma, "committees", locale="fr"))

    assert committees["angela_unit"]["name"] == "Cellule Angela"
    assert committees["angela_unit"]["roles"][0]["name"] == (
        "Référent harcèlement-discriminations-violences"
    )
    assert committees["investigation_unit"]["name"] == "Cellule d'instruction interne préalable"
    assert [r["name"] for r in committees["investigation_unit"]["roles"]] == [
        "Secrétaire Général",
        "Juriste du pôle juridique",
        "Manager de la direction générale adjointe Student Experience & Sustainable Transition",
    ]
    assert committees["pre_analysis"]["name"] == (
        "Directeur de la Vie Etudiante et responsable du pôle juridique"
    )


# -- measures -----------------------------------------------------------------------------


def test_measures_keep_protection_apart_and_list_no_sanction(plugins, neoma):
    ladder = plugins.call(neoma, "sanction_ladder")
    measures = by_key(ladder["measures"])

    assert {key: m["kind"] for key, m in measures.items()} == {
        "protective_measures": "protective",
        "precautionary_measures": "precautionary",
        "awareness_raising": "support",
        "disciplinary_board": "referral",
        "public_prosecutor": "referral",
        "individual_support_plan": "support",
        "psychological_support": "support",
    }
    # the document names no sanctions: they are the Disciplinary Board's, and it has no appeal
    assert not [m for m in ladder["measures"] if m["kind"] == "sanction"]
    assert ladder["appeal"] is None
    assert "pending an investigation" in measures["precautionary_measures"]["description"]
    assert "with the agreement of General Management" in measures["public_prosecutor"]["decided_by"]
    assert (
        "implemented by the Wellness centre" in (measures["individual_support_plan"]["description"])
    )
    assert "Campus Director" in measures["disciplinary_board"]["decided_by"]


def test_measures_in_french(plugins, neoma):
    measures = by_key(plugins.call(neoma, "sanction_ladder", locale="fr")["measures"])

    assert measures["disciplinary_board"]["label"] == "Saisine du conseil de discipline"
    assert measures["public_prosecutor"]["label"] == "Signalement auprès du Parquet"
    assert measures["individual_support_plan"]["label"] == "Plan d'accompagnement individuel"
    assert "déployé par le service Wellness" in measures["individual_support_plan"]["description"]


# -- help lines ---------------------------------------------------------------------------


def test_emergency_numbers_come_first(plugins, neoma):
    lines = plugins.call(neoma, "helplines")

    assert [(line["key"], line["number"]) for line in lines[:4]] == EMERGENCY
    assert [line["order"] for line in lines[:4]] == [1, 2, 3, 4]
    assert all(line["emergency"] and line["hours"]["always"] for line in lines[:4])
    assert not any(line["emergency"] for line in lines[4:])


def test_every_line_of_the_document_is_listed_once(plugins, neoma):
    keys = [line["key"] for line in plugins.call(neoma, "helplines")]

    assert len(keys) == len(set(keys))
    assert set(keys) == {key for key, _ in EMERGENCY} | NATIONAL | LOCAL


def test_national_lines_are_the_shared_directory_s(plugins, neoma):
    lines = by_key(plugins.call(neoma, "helplines"))
    shared = by_key(france.helplines(*NATIONAL))

    for key in NATIONAL:
        assert lines[key]["scope"] == "national"
        assert lines[key]["number"] == shared[key].get("number")
        assert lines[key]["hours"]["always"] == shared[key]["hours"].get("always", False)
        assert lines[key]["hours"]["slots"] == shared[key]["hours"].get("slots", [])


def test_national_lines_have_the_hours_the_document_gives(plugins, neoma):
    lines = by_key(plugins.call(neoma, "helplines"))

    # "Accessible 24 hours a day, 7 days a week ... 3919 is not an emergency number."
    line = lines["violences_femmes_info_3919"]
    assert (line["number"], line["hours"]["always"]) == ("3919", True)
    assert (line["not_for_emergencies"], line["emergency"], line["cost"]) == (True, False, "free")
    # §IV: "open every day from 9am to 9pm", 116 006, victimes@116006.fr, French or English
    line = lines["france_victimes_116006"]
    assert (line["number"], line["email"]) == ("116 006", "victimes@116006.fr")
    assert line["hours"]["slots"] == slots((WEEK, "09:00", "21:00"))
    assert set(line["languages"]) == {"fr", "en"}
    # "Monday to Thursday from 10am to midnight and Friday to Saturday from 10am to 9pm"
    assert lines["en_avant_toutes"]["hours"]["slots"] == slots(
        (["mon", "tue", "wed", "thu"], "10:00", "24:00"), (["fri", "sat"], "10:00", "21:00")
    )
    # service-public.fr/cmi: "Free and anonymous - Available 24/7"
    line = lines["national_reporting_portal"]
    assert (line["url"], line["hours"]["always"]) == ("https://www.service-public.fr/cmi", True)
    # "Mondays, Wednesdays and Fridays from 2pm to 6pm ... Tuesdays and Thursdays from 2pm to 8pm"
    line = lines["sante_info_droits"]
    assert line["number"] == "01 53 62 40 30"
    assert line["hours"]["slots"] == slots(
        (["mon", "wed", "fri"], "14:00", "18:00"), (["tue", "thu"], "14:00", "20:00")
    )
    # "Tuesday to Friday from 10.30am to 1pm: 01.40.35.36.55"
    line = lines["sos_racisme"]
    assert (line["number"], line["email"]) == ("01 40 35 36 55", "servicejuridique@sos-racisme.org")
    assert line["hours"]["slots"] == slots((["tue", "wed", "thu", "fri"], "10:30", "13:00"))
    assert lines["avft"]["url"] == "https://www.avft.org"
    assert lines["apf_france_handicap"]["url"] == "https://www.apf-francehandicap.org"


def test_neoma_s_own_resources(plugins, neoma):
    lines = by_key(plugins.call(neoma, "helplines"))

    # §IV: "For confidential counselling on campus, the victim/witness can contact the nurses."
    nurses = lines["campus_nurses"]
    assert (nurses["scope"], nurses["emergency"]) == ("local", False)
    assert nurses["channels"] == ["in_person"]
    assert nurses["address"] == "NEOMA — Rouen, Reims, Paris"
    assert (nurses["number"], nurses["email"], nurses["url"]) == (None, None, None)
    # the document gives no hours: the note says so, no schedule is invented
    assert (nurses["hours"]["always"], nurses["hours"]["slots"]) == (False, [])
    assert "ask there for the nurses' hours" in nurses["hours"]["note"]
    assert "only informed if you decide to make a report" in nurses["description"]
    # §VI: "the psychological helpline available at wellness@neoma-bs.fr"
    wellness = lines["wellness"]
    assert (wellness["scope"], wellness["emergency"]) == ("local", False)
    assert (wellness["email"], wellness["channels"]) == ("wellness@neoma-bs.fr", ["email"])
    assert (wellness["number"], wellness["hours"]["slots"]) == (None, [])
    assert wellness["hours"]["note"] == "By e-mail."
    assert "individual support plans" in wellness["description"]


def test_help_lines_in_french(plugins, neoma):
    lines = by_key(plugins.call(neoma, "helplines", locale="fr"))

    assert lines["police"]["name"] == "Police et gendarmerie"
    assert lines["violences_femmes_info_3919"]["name"] == "3919 : Violences Femmes Info"
    assert lines["campus_nurses"]["name"] == "Infirmières du campus"
    assert lines["wellness"]["name"] == "Service Wellness : cellule d'écoute psychologique"
    assert lines["wellness"]["hours"]["note"] == "Par courriel."


# -- legal definitions --------------------------------------------------------------------

ARTICLES = [
    ("moral_harassment", "Moral harassment", "Code pénal, art. 222-33-2-2"),
    ("sexual_harassment", "Sexual harassment", "Code pénal, art. 222-33"),
    ("sexist_outrage", "Sexist outrage", "Code pénal, art. R625-8-3"),
    ("aggravated_sexist_outrage", "Sexist outrage", "Code pénal, art. 222-33-1-1"),
    ("discrimination", "Discrimination", "Code pénal, art. 225-1"),
    ("discrimination_sexual_harassment", "Discrimination", "Code pénal, art. 225-2"),
    ("discrimination_hazing", "Discrimination", "Code pénal, art. 225-3"),
    ("discrimination_penalties", "Discrimination", "Code pénal, art. 225-4"),
]


def test_appendix_2_quotes_every_article(plugins, neoma):
    definitions = plugins.call(neoma, "legal_definitions")

    assert [(d["key"], d["group"], d["reference"]) for d in definitions] == ARTICLES
    assert [d["order"] for d in definitions] == sorted(d["order"] for d in definitions)
    articles = by_key(definitions)
    assert articles["sexual_harassment"]["title"] == "Article 222-33 of the Criminal Code"
    text = articles["moral_harassment"]["text"]
    assert text.startswith("The act of harassing a person by repeated comments or behaviour")
    assert "one year's imprisonment and a fine of €15,000" in text
    assert "\n4° bis When committed against the holder of an elective mandate;\n" in text
    assert text.endswith("when committed in two of the circumstances mentioned in 1° to 5°.")
    text = articles["sexual_harassment"]["text"]
    assert "II. - The use, even if not repeated, of any form of serious pressure" in text
    assert "\n8° By an ascendant or any other person with de jure or de facto authority" in text
    assert "fine of the 5th class" in articles["sexist_outrage"]["text"]
    assert "A fine of €3,750" in articles["aggravated_sexist_outrage"]["text"]
    assert "fixed fine of 300 euros" in articles["aggravated_sexist_outrage"]["text"]
    assert "hazing as defined in article 225-16-1" in articles["discrimination_hazing"]["text"]
    text = articles["discrimination_penalties"]["text"]
    assert "three years' imprisonment and a fine of 45,000 euros" in text
    assert text.endswith("five years' imprisonment and a fine of 75,000 euros.")
    # the quotation marks are the page's to draw, not the data's
    assert not any(d["text"][0] in '"«' or d["text"][-1] in '"»' for d in definitions)


def test_the_discrimination_criteria_are_a_list(plugins, neoma):
    article = by_key(plugins.call(neoma, "legal_definitions"))["discrimination"]

    assert article["text"].startswith("Any distinction made between natural persons")
    assert article["items"][:3] == ["origin", "sex", "family status"]
    for criterion in (
        "sexual orientation",
        "gender identity",
        "surname",
        "ability to express themselves in a language other than French",
    ):
        assert criterion in article["items"]
        assert criterion in article["text"]
    assert len(article["items"]) == 21


def test_appendix_2_in_french_is_the_french_document(plugins, neoma):
    articles = by_key(plugins.call(neoma, "legal_definitions", locale="fr"))

    assert [articles[key]["group"] for key, _, _ in ARTICLES[:5]] == [
        "Harcèlement moral",
        "Harcèlement sexuel",
        "Outrage sexiste",
        "Outrage sexiste",
        "Discrimination",
    ]
    assert articles["sexual_harassment"]["title"] == "Article 222-33 du code pénal"
    assert articles["aggravated_sexist_outrage"]["title"] == (
        "Article 222-33-1-1 du code pénal lors d'outrage aggravé"
    )
    assert articles["moral_harassment"]["text"].startswith(
        "Le fait de harceler une personne par des propos ou comportements répétés"
    )
    assert (
        "punis de deux ans d'emprisonnement et de 30000 € d'amende"
        in (articles["moral_harassment"]["text"])
    )
    assert articles["discrimination"]["text"].startswith(
        "Constitue une discrimination toute distinction opérée entre les personnes physiques"
    )
    assert articles["discrimination"]["items"][:3] == ["origine", "sexe", "situation de famille"]
    assert "orientation sexuelle" in articles["discrimination"]["items"]
    assert articles["discrimination_penalties"]["text"].endswith(
        "les peines sont portées à cinq ans d'emprisonnement et à 75 000 euros d'amende."
    )


# -- report form --------------------------------------------------------------------------


def test_the_form_asks_for_the_campus_and_the_person_implicated(plugins, neoma):
    fields = by_key(plugins.call(neoma, "report_form"))

    assert list(fields) == ["campus", "implicated_person"]
    campus = fields["campus"]
    # where it happened: the campus whose officers receive the report
    assert (campus["type"], campus["required"], campus["party"]) == ("site", True, None)
    # §IV: reporting "means agreeing to communicate his/her name, that of the person(s)
    # implicated, and the alleged facts"
    person = fields["implicated_person"]
    assert (person["type"], person["role"], person["required"]) == ("person", "implicated", True)

    french = by_key(plugins.call(neoma, "report_form", locale="fr"))
    assert french["campus"]["label"] == "Campus"
    assert french["implicated_person"]["label"] == "Nom de la ou des personnes mises en cause"


# -- translations -------------------------------------------------------------------------


def test_every_text_has_a_french_translation(plugins):
    texts = plugins.source_texts("neoma")

    assert texts, "no text found: the check would be empty"
    assert plugins.translators["neoma"].missing("fr", texts) == []
