"""CIUP's plugin data, checked against its protocol for reporting and handling discrimination,
harassment and sexual and gender-based violence (../shared/seeds/003_eb53dcebcd1093a0.txt:
French first, then English; annex 1 is the statement form)."""

import pytest

from core.plugins import TenantInfo

# "Que dit la loi ?" / "What does the law say?": the table of prohibited grounds, read row by
# row. Both language halves give these same 24 cells under the heading "25 critères" /
# "25 prohibited grounds"; the 25th, added to art. 225-1 of the Code pénal in 2022 (law
# no. 2022-401), is whistleblower status, which the plugin adds after the table's 24.
CRITERIA = [
    ("Age", "Âge"),
    ("Genetic characteristics", "Caractéristiques génétiques"),
    ("Physical appearance", "Apparence physique"),
    ("Sex", "Sexe"),
    ("Gender identity", "Identité de genre"),
    ("Family name", "Patronyme"),
    ("Origin", "Origine"),
    ("Political opinions", "Opinions politiques"),
    ("Lifestyle", "Mœurs"),
    (
        "Real or supposed membership or non-membership of an ethnic group, nation or supposed race",
        "Appartenance ou non-appartenance, vraie ou supposée à une ethnie, une nation ou une "
        "prétendue race",
    ),
    ("Philosophical beliefs", "Opinions philosophiques"),
    ("Place of residence", "Lieu de résidence"),
    ("Pregnancy", "Grossesse"),
    ("Involvement in a trade union or mutual society", "Activités syndicales ou mutualistes"),
    ("Loss of autonomy", "Perte d'autonomie"),
    ("State of health", "État de santé"),
    ("Holding local elected office", "Exercice d'un mandat électif local"),
    (
        "Particular vulnerability arising from one's economic situation",
        "Particulière vulnérabilité résultant de la situation économique",
    ),
    ("Disability", "Handicap"),
    (
        "Real or supposed belief in, or belonging or non-belonging to, a given religion",
        "Croyances ou appartenances ou non-appartenance, vraie ou supposée, à une religion "
        "déterminée",
    ),
    ("Bank account domicile", "Domiciliation bancaire"),
    ("Sexual orientation", "Orientation sexuelle"),
    ("Family circumstances", "Situation de famille"),
    (
        "Ability to communicate in a language other than French",
        "Capacité à s'exprimer dans une langue autre que le français",
    ),
    (
        "Being a whistleblower, a facilitator or a person connected with a whistleblower",
        "Qualité de lanceur d'alerte, de facilitateur ou de personne en lien avec un lanceur "
        "d'alerte",
    ),
]

# "Les sanctions possibles, dans l'ordre croissant de gravité des faits" (section 3).
LADDER = [
    (
        "reminder_of_rules",
        "A reminder of the regulations in place and the standards of behaviour expected",
        "Rappel au règlement",
    ),
    (
        "suspension_of_access",
        "Temporary or permanent suspension of access to CIUP services (sports facilities, "
        "library) and/or to certain houses",
        "Suspension temporaire ou définitive d'accès aux services de la CIUP (sports, "
        "bibliothèque) et/ou à certaines maisons",
    ),
    (
        "imposed_change_of_house",
        "An imposed transfer to another house",
        "Changement de maison imposé",
    ),
    (
        "warning",
        "A warning (exclusion on the 3rd warning)",
        "Avertissement (exclusion au 3ème avertissement)",
    ),
    (
        "exclusion",
        "Exclusion (the perpetrator loses resident status and must leave the CIUP)",
        "Exclusion (perte de la qualité de résident.e entraînant le départ de la CIUP)",
    ),
    (
        "other_measures",
        "Any other measures deemed appropriate in the circumstances",
        "Toutes autres mesures jugées pertinentes selon les circonstances",
    ),
]

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]


@pytest.fixture
def ciup(make_tenant):
    return TenantInfo.of(make_tenant("ciup", enable=("ciup",)))


def by_key(items):
    return {item["key"]: item for item in items}


def slots(*spans):
    return [{"days": days, "opens": opens, "closes": closes} for days, opens, closes in spans]


# -- profile ----------------------------------------------------------------------------


def test_profile_houses_carry_the_affiliated_flag(plugins, ciup):
    profile = plugins.call(ciup, "institution_profile")

    assert profile["short_name"] == "CIUP"
    assert (profile["default_locale"], profile["locales"]) == ("fr", ["fr", "en"])
    assert profile["timezone"] == "Europe/Paris"
    assert profile["calendar"]["country"] == "FR"
    houses = {site["key"]: site["attributes"]["affiliated"] for site in profile["sites"]}
    # managed by the National Foundation ("rattachées")
    for key in ("fondation_deutsch_de_la_meurthe", "fondation_lucien_paye"):
        assert houses[key] is True
    # foundations with their own legal personality
    for key in ("fondation_des_etats_unis", "fondation_suisse", "maison_heinrich_heine"):
        assert houses[key] is False
    assert all(isinstance(flag, bool) for flag in houses.values())
    assert 8 <= len(houses) <= 12


def test_profile_reporters_categories_and_contact(plugins, ciup):
    profile = plugins.call(ciup, "institution_profile")

    # "victimes et/ou témoins directs"
    assert profile["relations"] == ["victim", "witness"]
    assert profile["contact_email"] == "alerte-violences@ciup.fr"
    assert [c["key"] for c in profile["categories"]] == [
        "discrimination",
        "sexist_outrage",
        "insults",
        "physical_harassment",
        "psychological_harassment",
        "sexual_harassment",
        "cyber_harassment",
        "sexual_assault",
        "domestic_violence",
        "rape",
        "other_abuse",
    ]
    french = {
        c["key"]: c["label"]
        for c in plugins.call(ciup, "institution_profile", locale="fr")["categories"]
    }
    assert french["sexist_outrage"] == "Outrage sexiste ou agissement discriminatoire"
    assert french["psychological_harassment"] == "Harcèlement moral"
    assert french["domestic_violence"] == "Violences conjugales"


def test_confidentiality_keeps_anonymity_until_an_investigation(plugins, ciup):
    english = plugins.call(ciup, "institution_profile")["confidentiality"]
    french = plugins.call(ciup, "institution_profile", locale="fr")["confidentiality"]

    assert "until an internal investigation is opened" in english
    assert "serious and imminent danger" in english
    assert "tant qu'une enquête interne n'est pas ouverte" in french
    assert "danger grave et imminent" in french
    assert (
        "Une victime n'est jamais responsable des violences qu'elle subit."
        in plugins.call(ciup, "institution_profile", locale="fr")["welcome"]
    )


# -- committees -------------------------------------------------------------------------


def test_listening_unit_has_two_members_and_the_victims_director_only_with_consent(plugins, ciup):
    unit = by_key(plugins.call(ciup, "committees"))["listening_unit"]

    assert unit["purpose"] == "listening"
    assert unit["min_members"] == 2  # "composée a minima de deux personnes"
    roles = by_key(unit["roles"])
    assert list(roles) == [
        "house_director",
        "other_house_director",
        "specialist",
        "ciup_representative",
    ]
    assert roles["house_director"]["min"] == 0  # only if the victim agrees
    assert roles["other_house_director"]["min"] == 1  # "un.e ou deux"
    rules = by_key(unit["conditions"])
    assert rules["victim_house_director_needs_consent"]["kind"] == "party_site_requires_consent"
    assert rules["victim_house_director_needs_consent"]["params"] == {
        "party": "victim",
        "consent": "house_director_involvement",
        "roles": ["house_director"],
    }
    assert rules["trained"]["kind"] == rules["confidentiality"]["kind"] == "note"
    assert "trained to deal with allegations" in rules["trained"]["description"]
    assert "confidentiality obligation" in rules["confidentiality"]["description"]


def test_investigation_team_excludes_the_parties_directors_and_prior_listeners(plugins, ciup):
    team = by_key(plugins.call(ciup, "committees"))["investigation_team"]
    french = by_key(plugins.call(ciup, "committees", locale="fr"))["investigation_team"]

    assert team["purpose"] == "investigation"
    assert [r["key"] for r in team["roles"]] == [
        "house_director",
        "equalities_officer",
        "specialist",
    ]
    rules = by_key(team["conditions"])
    directors = rules["not_director_of_parties_houses"]
    assert directors["kind"] == "exclude_party_site"
    assert directors["params"] == {"parties": ["victim", "implicated"], "roles": ["house_director"]}
    assert "never be the directors of the houses" in directors["description"]
    heard = rules["not_previously_heard_the_victim"]
    assert heard["kind"] == "exclude_prior_involvement"
    assert heard["params"] == {"committees": ["listening_unit"]}
    assert "not have interviewed the victim or witness beforehand" in heard["description"]
    assert "volunteer house directors" in rules["volunteer_pool"]["description"]
    french_rules = by_key(french["conditions"])
    assert (
        "ne dirigent pas la ou les maisons"
        in french_rules["not_director_of_parties_houses"]["description"]
    )
    assert (
        "n'ont pas recueilli la parole"
        in french_rules["not_previously_heard_the_victim"]["description"]
    )
    assert french["name"] == "Cellule d'enquête"


def test_decision_makers_depend_on_the_house(plugins, ciup):
    committees = by_key(plugins.call(ciup, "committees"))

    delegation = committees["general_delegation"]
    assert delegation["purpose"] == "decision"
    roles = by_key(delegation["roles"])
    for key in ("general_delegate", "accommodation_director", "house_director"):
        assert roles[key]["min"] == 1
    assert "affiliated house" in delegation["description"]

    house = committees["house_direction"]
    assert (house["purpose"], house["per_site"]) == ("decision", True)
    assert "can only be taken by the director of said unaffiliated house" in house["description"]

    rsi = committees["rsi"]
    assert rsi["purpose"] == "support"
    assert rsi["name"] == "Relais social international (RSI)"


# -- sanctions and measures -------------------------------------------------------------


def test_ladder_is_the_documents_order(plugins, ciup):
    ladder = plugins.call(ciup, "sanction_ladder")
    french = by_key(plugins.call(ciup, "sanction_ladder", locale="fr")["measures"])

    individual = sorted(
        (m for m in ladder["measures"] if m["kind"] == "sanction" and not m["collective"]),
        key=lambda m: m["rank"],
    )
    assert [(m["key"], m["rank"], m["label"]) for m in individual] == [
        (key, rank, english) for rank, (key, english, _) in enumerate(LADDER, start=1)
    ]
    assert [french[key]["label"] for key, _, _ in LADDER] == [fr for _, _, fr in LADDER]
    for measure in individual:
        assert "General Delegate of the National Foundation" in measure["decided_by"]
        assert "Unaffiliated house: the director of that house" in measure["decided_by"]


def test_collective_sanction_suspends_the_committees_funding(plugins, ciup):
    measures = plugins.call(ciup, "sanction_ladder")["measures"]
    french = by_key(plugins.call(ciup, "sanction_ladder", locale="fr")["measures"])

    collective = [m for m in measures if m["collective"]]
    assert [m["key"] for m in collective] == ["suspension_of_committee_funding"]
    sanction = collective[0]
    assert sanction["kind"] == "sanction"
    assert sanction["rank"] > len(LADDER)  # not a step of the individual ladder
    assert '"Party Protocol" has not been respected' in sanction["description"]
    assert "« Protocole Soirées »" in french[sanction["key"]]["description"]
    assert french[sanction["key"]]["label"] == (
        "Suspension temporaire de tout financement et de toute autorisation d'activité pour le "
        "comité organisateur"
    )


def test_protective_measures_are_not_sanctions(plugins, ciup):
    measures = by_key(plugins.call(ciup, "sanction_ladder")["measures"])

    protective = {key for key, m in measures.items() if m["kind"] == "protective"}
    assert {
        "change_of_house_offered_to_victim",
        "change_of_house_imposed_on_alleged_perpetrator",
        "initial_protective_measures",
    } <= protective
    for key in protective:
        assert measures[key]["rank"] is None
        assert not measures[key]["collective"]
    # the imposed change of house as a sanction is a different measure from the protective one
    assert measures["imposed_change_of_house"]["kind"] == "sanction"


def test_appeal_is_a_recours_gracieux_to_the_boards_president(plugins, ciup):
    appeal = plugins.call(ciup, "sanction_ladder")["appeal"]
    french = plugins.call(ciup, "sanction_ladder", locale="fr")["appeal"]

    assert appeal["label"] == "Appeal (recours gracieux)"
    assert french["label"] == "Recours gracieux"
    assert "board of directors of the National Foundation" in appeal["authority"]
    assert "board of directors of the house concerned" in appeal["authority"]
    assert "recours gracieux exercé auprès du président/de la présidente" in french["description"]


# -- help lines -------------------------------------------------------------------------


def test_emergency_numbers_come_first(plugins, ciup):
    lines = plugins.call(ciup, "helplines")

    assert [(line["key"], line["number"]) for line in lines[:4]] == [
        ("police", "17"),
        ("samu", "15"),
        ("sms_114", "114"),
        ("european_emergency", "112"),
    ]
    assert all(line["emergency"] for line in lines[:4])
    assert not any(line["emergency"] for line in lines[4:])


def test_ciups_own_lines(plugins, ciup):
    lines = by_key(plugins.call(ciup, "helplines"))

    rsi = lines["ciup_rsi"]
    assert (rsi["number"], rsi["email"]) == ("01 44 16 65 62", "relais.social@ciup.fr")
    assert rsi["channels"] == ["phone", "email"]
    assert rsi["scope"] == "local"
    assert "medical, psychological or material support" in rsi["description"]
    unit = lines["ciup_listening_unit"]
    assert (unit["email"], unit["channels"]) == ("alerte-violences@ciup.fr", ["email"])
    assert unit["number"] is None  # the protocol gives the team no phone number


def test_the_protocols_national_lines_with_their_numbers_and_hours(plugins, ciup):
    lines = by_key(plugins.call(ciup, "helplines"))

    expected = {
        "sos_viols": ("0 800 05 95 95", slots((WEEKDAYS, "10:00", "19:00"))),
        "victimes_08": ("08 842 846 37", slots(([*WEEKDAYS, "sat", "sun"], "09:00", "21:00"))),
        "net_ecoute": ("0800 200 000", slots((WEEKDAYS, "09:00", "19:00"))),
        "sos_homophobie": (
            "0810 10 81 35",
            slots((["tue", "wed", "thu"], "18:00", "22:00"), (["sat"], "14:00", "16:00")),
        ),
    }
    for key, (number, hours) in expected.items():
        assert (lines[key]["number"], lines[key]["hours"]["slots"]) == (number, hours), key
        assert lines[key]["scope"] == "national"


def test_3919_is_open_around_the_clock_not_the_protocols_old_hours(plugins, ciup):
    line = by_key(plugins.call(ciup, "helplines"))["violences_femmes_info_3919"]

    assert line["number"] == "3919"
    assert line["hours"]["always"] is True
    assert line["hours"]["slots"] == []
    assert line["not_for_emergencies"] is True
    # the protocol's "9h à 22h ... 9h à 18h" appears nowhere in the plugin
    for locale in (None, "fr"):
        for other in plugins.call(ciup, "helplines", locale=locale):
            shown = " ".join(str(v) for v in other.values())
            for old in ("9 a.m. to 10 p.m.", "9h à 22h", "9h à 18h", "9 a.m. to 6 p.m."):
                assert old not in shown


# -- what does the law say --------------------------------------------------------------


def test_discrimination_lists_the_documents_criteria(plugins, ciup):
    english = by_key(plugins.call(ciup, "legal_definitions"))["discrimination"]
    french = by_key(plugins.call(ciup, "legal_definitions", locale="fr"))["discrimination"]

    assert english["items"] == [en for en, _ in CRITERIA]
    assert french["items"] == [fr for _, fr in CRITERIA]
    assert len(set(english["items"])) == len(CRITERIA) == 25
    assert "lists 25 prohibited grounds of discrimination" in english["text"]
    assert "listent 25 critères de discrimination prohibés par la loi" in french["text"]
    assert english["reference"] == "Code pénal, art. 225-1 et suivants"
    assert "€45,000 fine and 3 years' imprisonment" in english["text"]
    assert "amende de 45 000 € et 3 ans de prison" in french["text"]


def test_every_definition_of_the_document_with_its_articles(plugins, ciup):
    law = by_key(plugins.call(ciup, "legal_definitions"))

    references = {
        "sexist_outrage": ["621-1"],
        "insults": ["29 juillet 1881", "33", "65-3", "R625-8-1"],
        "harassment": ["222-33-2"],
        "sexual_harassment": ["222-33"],
        "sexual_assault": ["222-22", "222-27 à 222-31"],
        "domestic_violence": ["515-9 à 515-13", "222-7 à 222-16-3", "2014/0130/C16"],
        "rape": ["222-22", "222-23 à 222-26"],
    }
    for key, articles in references.items():
        for article in articles:
            assert article in law[key]["reference"], (key, article)
    harassment = [d["key"] for d in law.values() if d["group"] == "Harassment"]
    assert harassment == [
        "harassment",
        "physical_harassment",
        "psychological_harassment",
        "sexual_harassment",
        "cyber_harassment",
    ]
    assert "environmental" in law["sexual_harassment"]["text"]
    assert "15 years' imprisonment, or 20 years" in law["rape"]["text"]
    assert len(law["aggravating_circumstances"]["items"]) == 7
    assert law["aggravating_circumstances"]["items"][-1] == "In a gang (by several people)"
    assert "Silence does not constitute consent." in law["consent"]["text"]
    assert len(law["consent"]["items"]) == 3
    assert "Consent can be withdrawn at any moment." in law["consent_withdrawal"]["text"]
    orders = [d["order"] for d in plugins.call(ciup, "legal_definitions")]
    assert orders == sorted(orders)


def test_the_law_in_the_documents_french(plugins, ciup):
    law = by_key(plugins.call(ciup, "legal_definitions", locale="fr"))

    assert law["sexist_outrage"]["title"] == "Outrage sexiste ou agissement discriminatoire"
    assert "Le silence ne vaut pas consentement." in law["consent"]["text"]
    assert law["aggravating_circumstances"]["items"][0] == "Sur une personne mineure"
    assert "est un viol" in law["rape"]["text"]
    assert (
        "harcèlement sexuel dit « d'ambiance » ou « environnemental »"
        in law["sexual_harassment"]["text"]
    )


# -- the statement form -----------------------------------------------------------------


def test_statement_form_fields(plugins, ciup):
    form = by_key(plugins.call(ciup, "report_form"))

    assert (form["victim_name"]["type"], form["victim_name"]["role"]) == ("person", "victim")
    assert (form["victim_house"]["type"], form["victim_house"]["party"]) == ("site", "victim")
    assert (form["implicated_name"]["type"], form["implicated_name"]["role"]) == (
        "person",
        "implicated",
    )
    assert (form["implicated_house"]["type"], form["implicated_house"]["party"]) == (
        "site",
        "implicated",
    )
    assert [c["value"] for c in form["frequency"]["choices"]] == ["first_time", "already_happened"]
    assert form["times_already_happened"]["type"] == "number"
    assert form["still_happening"]["type"] == "boolean"
    assert [c["value"] for c in form["witnesses"]["choices"]] == ["none", "one_or_more"]
    assert form["witness_names"]["role"] == "witness"
    for key in (
        "action_taken",
        "evidence",
        "reprisals",
        "health_consequences",
        "known_past_victims",
    ):
        assert form[key]["type"] == "textarea"
    # the form's author, the signatures and the team's observations are filled by staff
    assert not {k for k in form if "author" in k or "signature" in k or "observation" in k}
    sections = list(dict.fromkeys(field["section"] for field in form.values()))
    assert sections == [
        "Victim's identity",
        "Alleged perpetrator's identity",
        "Date/place/time or periods of violence",
        "Frequency of violence",
        "Witness(es)",
        "Detailed description of events",
        "Your choice",
    ]


def test_the_four_choices_of_the_statement_form(plugins, ciup):
    form = by_key(plugins.call(ciup, "report_form"))
    french = by_key(plugins.call(ciup, "report_form", locale="fr"))

    wish = form["reporting_wish"]
    assert wish["type"] == "choice"
    assert [(c["value"], c["grants"]) for c in wish["choices"]] == [
        ("report", ["lift_anonymity"]),
        ("do_not_report", []),
        ("think_about_it", []),
    ]
    assert [c["label"] for c in french["reporting_wish"]["choices"]] == [
        "Je souhaite faire un signalement et consens à la levée de l'anonymat",
        "Je ne souhaite pas faire de signalement",
        "Je ne sais pas et souhaite y réfléchir",
    ]
    rsi = form["share_with_rsi"]
    assert (rsi["type"], rsi["consent"]) == ("consent", "share_with_rsi")
    assert french["share_with_rsi"]["label"] == (
        "J'accepte que mes coordonnées soient transmises au RSI afin d'être contacté(e)"
    )
    director = form["house_director_involvement"]
    assert (director["type"], director["consent"]) == ("consent", "house_director_involvement")


# -- translations -----------------------------------------------------------------------


def test_every_text_has_a_french_translation(plugins):
    assert plugins.translators["ciup"].missing("fr", plugins.source_texts("ciup")) == []
