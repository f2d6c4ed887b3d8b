"""The repeat-perpetrator signal: a keyed hash of each name a report implicates.

A new report naming someone already named in another case of the same tenant tells the
unit handling it (timeline and e-mail, references only); never across tenants, never the
reporter, and no name is stored or sent in clear.
"""

import re

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from core.audit.models import AuditEvent
from core.cases.models import Case, CaseEvent, PersonMark
from core.cases.signals import mark_key, names_in, normalise_name, person_digest
from core.crypto.operations import create_data_key
from core.extensions import db
from core.reports.operations import Submission, submit_report
from core.tenancy.models import Tenant
from core.tenancy.scoping import platform_scope, tenant_scope
from core.testing import CaseRunner

NAME = "Jean-Baptiste Dupont"


@pytest.fixture
def config(config, smtp):
    return {**config, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp.port, "MAIL_USE_TLS": False}


def in_english(tenant: Tenant) -> None:
    with platform_scope():
        db.session.get(Tenant, tenant.id).default_locale = "en"
        db.session.commit()


# -- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        "Jean-Baptiste Dupont",
        "DUPONT Jean-Baptiste",
        "  dupont   jean baptiste ",
        "Dupônt, Jéan-Baptiste".replace(",", ""),
        "Jean Baptiste DUPONT.",
    ],
)
def test_a_name_is_the_same_however_it_is_written(written):
    assert normalise_name(written) == "baptiste dupont jean"


def test_one_answer_may_name_several_people_or_nobody():
    assert names_in("Jean Dupont, Marie Curie et Paul Martin") == [
        "dupont jean",
        "curie marie",
        "martin paul",
    ]
    assert names_in("Alice Martin and Bob Smith; Chloé Durand") == [
        "alice martin",
        "bob smith",
        "chloe durand",
    ]
    # words that only contain "et" or "and" are not separators
    assert names_in("Bernadette Andersen") == ["andersen bernadette"]
    for nobody in ("je ne sais pas", "Inconnu", "I don't know", "?", "", "N/A", "x"):
        assert names_in(nobody) == [], nobody


# -- the signal ------------------------------------------------------------------------------


def report(tenant, plugins, *, answers, anonymous=False, relation="victim"):
    """A report submitted through the same operation as the portal's."""
    with tenant_scope(tenant):
        case, _ = submit_report(
            Submission(
                relation=relation,
                anonymous=anonymous,
                narrative="What happened.",
                full_name=None if anonymous else "Camille Reporter",
                answers=answers,
            ),
            institution=CaseRunner(tenant, plugins).institution,
            host=plugins,
        )
        db.session.commit()
        db.session.refresh(case)
        return case


def signals(tenant, case) -> list[dict]:
    with tenant_scope(tenant):
        return [
            row.details
            for row in db.session.scalars(
                select(CaseEvent)
                .where(CaseEvent.case_id == case.id, CaseEvent.kind == "signal")
                .order_by(CaseEvent.id)
            )
        ]


def reference(tenant, case) -> str:
    with tenant_scope(tenant):
        return db.session.get(Case, case.id).reference


@pytest.fixture
def neoma(make_tenant, make_member):
    tenant = make_tenant("neoma", enable=("neoma",), name="NEOMA Business School")
    in_english(tenant)
    officers = [make_member(tenant, "angela_unit", role="officer", site="rouen") for _ in "ab"]
    return tenant, officers


def rouen(name: str) -> dict:
    return {"campus": "rouen", "implicated_person": name}


def test_a_second_report_naming_the_same_person_tells_the_unit(app, smtp, neoma, plugins):
    tenant, officers = neoma
    first = report(tenant, plugins, answers=rouen(NAME))
    unrelated = report(tenant, plugins, answers=rouen("Marie Curie"))
    assert signals(tenant, first) == [] and signals(tenant, unrelated) == []
    smtp.handler.envelopes.clear()

    second = report(tenant, plugins, answers=rouen("Paul Martin et DUPONT Jean Baptiste"))

    assert signals(tenant, second) == [{"reference": reference(tenant, first)}]
    assert signals(tenant, first) == []  # the earlier case is left as it was
    warned = [m for m in smtp.messages if "another case" in m["Subject"]]
    assert sorted(m["To"] for m in warned) == sorted(u.email for u in officers)
    body = warned[0].get_content()
    assert reference(tenant, first) in body and reference(tenant, second) in body
    assert warned[0]["Subject"] == (
        f"This report may concern a person named in another case ({reference(tenant, second)})"
    )
    for message in smtp.messages:
        assert not re.search("dupont|martin|jean", message.get_content(), re.I)
    with tenant_scope(tenant):
        audit = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "case.possible_repeat")
        )
        assert audit.target_id == db.session.get(Case, second.id).public_id
        assert audit.details == {"cases": [db.session.get(Case, first.id).public_id]}

    # a third report naming him again points at both earlier cases
    third = report(tenant, plugins, answers=rouen("jean baptiste dupont"))
    assert signals(tenant, third) == [
        {"reference": reference(tenant, first)},
        {"reference": reference(tenant, second)},
    ]


def test_names_are_kept_only_as_keyed_hashes(app, neoma, plugins, owner_engine):
    tenant, _ = neoma
    case = report(tenant, plugins, answers=rouen(f"{NAME}, Marie Curie"))
    with tenant_scope(tenant):
        marks = db.session.scalars(
            select(PersonMark.digest).where(PersonMark.case_id == case.id)
        ).all()
        assert sorted(marks) == sorted(
            person_digest(tenant.id, normalise_name(n)) for n in (NAME, "Marie Curie")
        )
    with owner_engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT set_config('cellule.platform', 'on', true)"))
        stored = connection.execute(sa.text("SELECT digest FROM person_marks")).scalars().all()
    assert len(stored) == 2
    assert all(re.fullmatch("[0-9a-f]{64}", digest) for digest in stored)


def test_a_new_data_key_keeps_marks_matching(app, neoma, plugins):
    tenant, _ = neoma
    first = report(tenant, plugins, answers=rouen(NAME))
    with tenant_scope(tenant):
        key_before = mark_key(tenant.id)
    with platform_scope():
        create_data_key(tenant.id)  # a rotation: new data is encrypted under the new key
        db.session.commit()
    app.extensions["cellule.keys"].clear()
    with tenant_scope(tenant):
        assert mark_key(tenant.id) == key_before
    second = report(tenant, plugins, answers=rouen(NAME))
    assert signals(tenant, second) == [{"reference": reference(tenant, first)}]


def test_never_across_tenants(app, smtp, make_tenant, make_member, plugins):
    schools = []
    for slug in ("neoma-a", "neoma-b"):
        tenant = make_tenant(slug, enable=("neoma",))
        make_member(tenant, "angela_unit", role="officer", site="rouen")
        schools.append(tenant)
    one, other = schools
    report(one, plugins, answers=rouen(NAME))
    elsewhere = report(other, plugins, answers=rouen(NAME))
    assert signals(other, elsewhere) == []
    assert not any("another case" in m["Subject"] for m in smtp.messages)
    with tenant_scope(one):
        digest_one = person_digest(one.id, normalise_name(NAME))
    with tenant_scope(other):
        digest_other = person_digest(other.id, normalise_name(NAME))
    assert digest_one != digest_other  # each tenant's key: the same name never matches


def test_the_core_forms_answer_counts_where_the_institution_asks_no_name(
    app, make_tenant, make_member, plugins
):
    tenant = make_tenant("poly", enable=("polytechnique",))
    make_member(tenant, "dhamis_unit")
    first = report(tenant, plugins, answers={"core_people_implicated": "M. Durand"}, anonymous=True)
    second = report(tenant, plugins, answers={"core_people_implicated": "durand m"}, anonymous=True)
    assert signals(tenant, second) == [{"reference": reference(tenant, first)}]
    # a witness's name is not a person implicated
    third = report(tenant, plugins, answers={"core_witnesses": "M. Durand"}, anonymous=True)
    assert signals(tenant, third) == []


# -- never shown to the reporter ---------------------------------------------------------------


def token(page: bytes) -> str:
    return re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1).decode()


def once(page: bytes) -> str:
    return re.search(rb'name="once" type="hidden" value="([^"]+)"', page).group(1).decode()


def portal_report(client, who: str):
    form_page = client.get("/t/poly/report?lang=en")
    data = {
        "csrf_token": token(form_page.data),
        "once": once(form_page.data),
        "relation": "victim",
        "anonymous": "yes",
        "narrative": "He followed me home twice.",
        "people_implicated": who,
    }
    return client.post("/t/poly/report?lang=en", data=data, content_type="multipart/form-data")


def test_the_reporter_sees_nothing_of_the_signal(app, make_tenant, make_member):
    tenant = make_tenant("poly", enable=("polytechnique",))
    make_member(tenant, "dhamis_unit")
    first_reporter, second_reporter = app.test_client(), app.test_client()
    assert portal_report(first_reporter, NAME).status_code == 200
    receipt_page = portal_report(second_reporter, f"dupont jean-baptiste, {NAME}")
    assert receipt_page.status_code == 200

    with tenant_scope(tenant):
        first, second = db.session.scalars(select(Case).order_by(Case.id)).all()
        earlier, later = first.reference, second.reference
    assert signals(tenant, second) == [{"reference": earlier}]

    for page in (
        receipt_page,
        second_reporter.get("/t/poly/space?lang=en"),
        second_reporter.get("/t/poly/space?lang=fr"),
    ):
        text = page.get_data(as_text=True)
        assert page.status_code == 200
        assert earlier not in text
        assert "another case" not in text and "autre dossier" not in text
        assert "possible_repeat" not in text and "named in" not in text
    # the receipt names the reporter's own case, and only it
    assert later in receipt_page.get_data(as_text=True)
