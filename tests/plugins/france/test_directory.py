"""France's national directory of help lines, checked against the documents it comes from.

Sources (../shared/seeds/): 000 École polytechnique (17, 15, 114); 004 the Ministry of the
Interior's reporting portal (24/7, anonymous, free); 001/002 NEOMA appendix 3 (16 May 2025,
the most recent); 003 CIUP (older: where it disagrees with NEOMA, NEOMA wins).
"""

import pytest
from babel.messages.pofile import read_po
from marshmallow import ValidationError

from core.plugins.i18n import PluginTranslator, texts
from core.plugins.schemas import HelplineSchema
from plugins import france

LINES = {line["key"]: line for line in france._data["helplines"]}

WEEK = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ALWAYS = "always"


def slots(*spans):
    return [{"days": days, "opens": opens, "closes": closes} for days, opens, closes in spans]


# key: (number, hours as the documents give them, cost) — hours ALWAYS or a list of slots;
# None where the document gives no number or no schedule.
DOCUMENTED = {
    "police": ("17", ALWAYS, "free"),
    "samu": ("15", ALWAYS, "free"),
    "sms_114": ("114", ALWAYS, "free"),
    "european_emergency": ("112", ALWAYS, "free"),
    # NEOMA 2025: "Accessible 24 hours a day, 7 days a week" (CIUP's older hours are obsolete)
    "violences_femmes_info_3919": ("3919", ALWAYS, "free"),
    "france_victimes_116006": ("116 006", slots((WEEK, "09:00", "21:00")), "free"),
    "national_reporting_portal": (None, ALWAYS, "free"),
    "en_avant_toutes": (
        None,
        slots((["mon", "tue", "wed", "thu"], "10:00", "24:00"), (["fri", "sat"], "10:00", "21:00")),
        "free",
    ),
    "sos_viols": ("0 800 05 95 95", slots((WEEK[:5], "10:00", "19:00")), "free"),
    "victimes_08": ("08 842 846 37", slots((WEEK, "09:00", "21:00")), "charged"),
    "net_ecoute": ("0800 200 000", slots((WEEK[:5], "09:00", "19:00")), "free"),
    "sos_homophobie": (
        "0810 10 81 35",
        slots((["tue", "wed", "thu"], "18:00", "22:00"), (["sat"], "14:00", "16:00")),
        "free",
    ),
    "sos_racisme": (
        "01 40 35 36 55",
        slots((["tue", "wed", "thu", "fri"], "10:30", "13:00")),
        None,
    ),
    "sante_info_droits": (
        "01 53 62 40 30",
        slots((["mon", "wed", "fri"], "14:00", "18:00"), (["tue", "thu"], "14:00", "20:00")),
        None,
    ),
    "apf_france_handicap": (None, None, None),
    "federation_lgbti": (None, None, None),
    "avft": (None, None, None),
    "cnidff": (None, None, None),
    "arretons_les_violences": (None, None, None),
}

ADDRESSES = {
    "france_victimes_116006": {"email": "victimes@116006.fr"},
    "national_reporting_portal": {"url": "https://www.service-public.fr/cmi"},
    "en_avant_toutes": {"url": "https://enavanttoutes.fr/"},
    "sos_racisme": {"email": "servicejuridique@sos-racisme.org", "url": "https://sos-racisme.org"},
    "sante_info_droits": {"url": "https://www.france-assos-sante.org/sante-info-droits"},
    "apf_france_handicap": {"url": "https://www.apf-francehandicap.org"},
    "federation_lgbti": {"url": "https://federation-lgbti.org"},
    "avft": {"url": "https://www.avft.org"},
    # not in the documents: the well-known address of the CNIDFF's national federation
    "cnidff": {"url": "https://fncidff.info"},
    "arretons_les_violences": {"url": "https://arretonslesviolences.gouv.fr"},
}

EMERGENCY_ORDER = {"police": 1, "samu": 2, "sms_114": 3, "european_emergency": 4}


def test_every_line_validates_and_keys_are_unique():
    raw = france._data["helplines"]
    loaded = HelplineSchema(many=True).load(raw)
    keys = [line["key"] for line in loaded]
    assert len(keys) == len(set(keys))
    assert set(keys) == set(DOCUMENTED)


@pytest.mark.parametrize("key", sorted(DOCUMENTED))
def test_each_line_has_the_number_hours_and_cost_the_documents_give(key):
    number, hours, cost = DOCUMENTED[key]
    line = HelplineSchema().load(LINES[key])
    assert line["number"] == number
    if hours == ALWAYS:
        assert line["hours"]["always"] is True
        assert line["hours"]["slots"] == []
    elif hours is None:
        assert line["hours"]["always"] is False
        assert line["hours"]["slots"] == []
        assert line["hours"]["note"]
    else:
        assert line["hours"]["always"] is False
        assert line["hours"]["slots"] == hours
    assert line["cost"] == (cost or "unknown")


@pytest.mark.parametrize("key", sorted(DOCUMENTED))
def test_each_line_has_the_addresses_the_documents_give(key):
    line = HelplineSchema().load(LINES[key])
    expected = ADDRESSES.get(key, {})
    assert {name: line[name] for name in ("email", "url") if line[name]} == expected


def test_channels_follow_the_documents():
    assert LINES["sms_114"]["channels"] == ["sms"]
    assert LINES["national_reporting_portal"]["channels"] == ["chat", "web"]
    assert LINES["en_avant_toutes"]["channels"] == ["chat"]
    assert set(LINES["france_victimes_116006"]["channels"]) == {"phone", "email"}
    assert set(LINES["sos_racisme"]["channels"]) == {"phone", "email", "web"}
    for key in ("police", "samu", "european_emergency", "violences_femmes_info_3919"):
        assert LINES[key]["channels"] == ["phone"]


def test_only_17_15_114_and_112_are_emergency_numbers_and_come_first():
    emergency = {key: line["order"] for key, line in LINES.items() if line["emergency"]}
    assert emergency == EMERGENCY_ORDER
    assert france.EMERGENCY == ("police", "samu", "sms_114", "european_emergency")
    assert all(line["order"] >= 100 for key, line in LINES.items() if key not in emergency)


def test_3919_says_it_is_not_an_emergency_number():
    flagged = [key for key, line in LINES.items() if line.get("not_for_emergencies")]
    assert flagged == ["violences_femmes_info_3919"]


def test_116_006_answers_in_french_and_english():
    assert LINES["france_victimes_116006"]["languages"] == ["fr", "en"]


def test_helplines_returns_fresh_national_copies_in_the_order_asked():
    lines = france.helplines("sos_racisme", *france.EMERGENCY)
    assert [line["key"] for line in lines] == ["sos_racisme", *france.EMERGENCY]
    assert {line["scope"] for line in lines} == {"national"}
    lines[0]["name"] = "changed"
    assert france.helplines("sos_racisme")[0]["name"] == "SOS Racisme"
    HelplineSchema(many=True).load(lines)


def test_an_unknown_key_fails_naming_it():
    with pytest.raises(KeyError, match="sos_racism"):
        france.helplines("police", "sos_racism")


def test_a_line_cannot_be_both_emergency_and_not_for_emergencies():
    with pytest.raises(ValidationError):
        HelplineSchema().load(dict(LINES["violences_femmes_info_3919"], emergency=True))


def test_the_french_catalogue_translates_every_text():
    messages = list(texts(france._data["helplines"]))
    assert messages
    assert PluginTranslator([france.CATALOGUE]).missing("fr", messages) == []


def test_the_french_texts_are_the_documents_own_words():
    directory, domain = france.CATALOGUE
    with (directory / "fr" / "LC_MESSAGES" / f"{domain}.po").open("rb") as f:
        french = {m.id: m.string for m in read_po(f) if m.id}
    assert french[LINES["violences_femmes_info_3919"]["description"]].endswith(
        "Le 3919 n'est pas un numéro d'appel d'urgence."
    )
    assert french[LINES["sante_info_droits"]["description"]] == (
        "Ligne d'informations juridiques et sociales autour de toutes les questions liées au "
        "handicap."
    )
