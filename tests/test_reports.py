"""Reporters' side of the core: submitting, receipts, messages, evidence at rest."""

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from core.cases.models import Case, Message
from core.cases.operations import REPORTER, ProcedureRefusal
from core.extensions import db
from core.reports.evidence import CleanFile
from core.reports.models import Evidence, Report, ReporterIdentity
from core.reports.operations import (
    ReportError,
    Submission,
    format_receipt,
    post_message,
    report_for_receipt,
    submit_report,
)
from core.tenancy.scoping import tenant_scope


@pytest.fixture
def submit(plugins, case_runner):
    def submit(tenant, **fields):
        runner = case_runner(tenant)
        with tenant_scope(tenant):
            case, receipt = submit_report(
                Submission(
                    **{"relation": "victim", "anonymous": True, "narrative": "It hurt.", **fields}
                ),
                institution=runner.institution,
                host=plugins,
            )
            db.session.commit()
            db.session.refresh(case)
            return case, receipt

    return submit


def counts(tenant):
    with tenant_scope(tenant):
        return tuple(
            db.session.scalar(select(func.count()).select_from(model))
            for model in (Report, Case, ReporterIdentity, Evidence)
        )


def test_an_anonymous_report_gets_a_receipt_that_alone_opens_it(make_tenant, submit):
    tenant = make_tenant("poly", enable=("polytechnique",))
    case, receipt = submit(tenant)
    assert len(receipt) == 20 and receipt.isdigit()
    assert case.state == "received"
    with tenant_scope(tenant):
        report = report_for_receipt(tenant.id, format_receipt(receipt))
        assert report is not None and report.case_id == case.id
        # stored only as an argon2id hash
        assert report.receipt_hash.startswith("$argon2id$") and receipt not in report.receipt_hash
        wrong = str((int(receipt) + 1) % 10**20).zfill(20)
        assert report_for_receipt(tenant.id, wrong) is None
        assert report_for_receipt(tenant.id, "not a receipt") is None
        assert report.identity is None


def test_a_receipt_opens_nothing_in_another_tenant(make_tenant, submit):
    poly = make_tenant("poly", enable=("polytechnique",))
    other = make_tenant("other", enable=("polytechnique",))
    _, receipt = submit(poly)
    with tenant_scope(other):
        assert report_for_receipt(other.id, receipt) is None


def test_a_named_report_keeps_the_identity_apart(make_tenant, submit, owner_engine):
    tenant = make_tenant("neoma", enable=("neoma",))
    case, _ = submit(
        tenant,
        anonymous=False,
        full_name="Camille Martin",
        answers={"campus": "reims", "implicated_person": "X"},
        contact={"email": "camille@example.org"},
        notify_email="camille@example.org",
    )
    with tenant_scope(tenant):
        report = db.session.scalar(select(Report).where(Report.case_id == case.id))
        assert report.identity.full_name == "Camille Martin"
        assert case.site_key == "reims"
    with owner_engine.connect() as connection:
        raw = b"".join(
            bytes(value)
            for row in connection.execute(
                sa.text(
                    "SELECT full_name FROM reporter_identities UNION ALL "
                    "SELECT notify_email FROM reports"
                )
            )
            for value in row
            if value is not None
        )
    assert b"Camille" not in raw and b"camille@" not in raw


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"relation": "bystander"}, "relation"),
        ({"narrative": "   "}, "narrative"),
        ({"anonymous": False, "full_name": " "}, "full_name"),
        ({"categories": ["made_up"]}, "categories"),
    ],
)
def test_a_refused_submission_stores_nothing(make_tenant, submit, fields, code):
    tenant = make_tenant("poly", enable=("polytechnique",))
    with pytest.raises(ReportError) as refused:
        submit(tenant, **fields)
    assert refused.value.code == code
    with tenant_scope(tenant):
        db.session.rollback()
    assert counts(tenant) == (0, 0, 0, 0)


def test_neoma_refuses_an_anonymous_report_and_keeps_nothing(make_tenant, submit):
    tenant = make_tenant("neoma", enable=("neoma",))
    with pytest.raises(ReportError) as refused:
        submit(tenant, answers={"campus": "rouen"})
    assert refused.value.code == "anonymous_reports"
    assert counts(tenant) == (0, 0, 0, 0)


def test_messages_go_both_ways_until_the_case_closes(make_tenant, make_member, submit, case_runner):
    tenant = make_tenant("poly", enable=("polytechnique",))
    unit = make_member(tenant, "dhamis_unit")
    case, _ = submit(tenant)
    runner = case_runner(tenant)
    with tenant_scope(tenant):
        post_message(case, "We have read your report.", actor=unit, institution=runner.institution)
        post_message(case, "Thank you.", actor=REPORTER, institution=runner.institution)
        with pytest.raises(ReportError):
            post_message(case, "  ", actor=REPORTER, institution=runner.institution)
        db.session.commit()
        kinds = [
            m.author_kind
            for m in db.session.scalars(
                select(Message).where(Message.case_id == case.id).order_by(Message.id)
            )
        ]
        assert kinds == ["staff", "reporter"]
    runner.take(case, "reply_to_reporter", unit)
    runner.take(case, "close", unit)
    with tenant_scope(tenant), pytest.raises(ProcedureRefusal):
        post_message(runner.refresh(case), "Hello?", actor=REPORTER, institution=runner.institution)


def test_evidence_is_encrypted_at_rest(make_tenant, submit, owner_engine):
    tenant = make_tenant("poly", enable=("polytechnique",))
    secret = b"the message he sent me on Tuesday"
    clean = CleanFile(
        safe_name="messages.txt", media_type="text/plain", data=secret, size=len(secret)
    )
    submit(tenant, files=[clean])
    with tenant_scope(tenant):
        stored = db.session.scalar(select(Evidence))
        assert stored.data == secret and stored.filename == "messages.txt"
    with owner_engine.connect() as connection:
        raw = connection.execute(sa.text("SELECT data, filename FROM evidence")).one()
    assert secret not in bytes(raw[0]) and b"messages" not in bytes(raw[1])
