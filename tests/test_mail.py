"""E-mail notifications, sent through a real SMTP server on 127.0.0.1 (aiosmtpd).

Every e-mail is an outbox row first; a job sends it once the transaction commits (in
process here, as in the embedded default), exactly once, and a failure leaves it pending
for the sweep. No e-mail carries anything of a report or a message.
"""

import datetime
import ipaddress
import logging
import ssl
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from rq import SimpleWorker
from sqlalchemy import event, select

from core.audit.models import AuditEvent
from core.cases.operations import REPORTER
from core.config import settings_from_env
from core.extensions import db
from core.jobs import run_job
from core.mail.models import OutboundMail
from core.mail.operations import (
    MAX_ATTEMPTS,
    MailError,
    notify_reporter_of_message,
    notify_unit_of_new_case,
    queue_mail,
    tenant_address,
)
from core.reports.models import Report
from core.reports.operations import post_message
from core.tenancy.models import Tenant
from core.tenancy.operations import add_domain
from core.tenancy.scoping import platform_scope, tenant_scope
from core.testing import CaseRunner
from tests.conftest import SMTPServer

SEND_JOB = "core.mail.operations:send_mail_job"
NARRATIVE = "Narrative-Zephyrine-4417: he cornered me by the library lockers."
REPORTER_MESSAGE = "Message-Quillon-0932: I can tell you more on Thursday."
STAFF_MESSAGE = "Message-Ombrelle-5521: thank you, we read your report."
REPORTER_ADDRESS = "reporter-notices@example.org"


@pytest.fixture
def config(config, smtp):
    """The app's settings, sending mail to the test's SMTP server."""
    return {**config, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp.port, "MAIL_USE_TLS": False}


# -- a tenant with a unit ------------------------------------------------------------------


@dataclass
class School:
    tenant: Tenant
    unit: list  # the two members of the unit reports are routed to
    management: object  # a member of another committee
    cases: CaseRunner

    def submit_and_notify(self, **fields):
        """A report submitted, and the unit told, in one committed transaction."""
        case = self.cases.submit(**fields)
        with tenant_scope(self.tenant):
            notify_unit_of_new_case(case, self.cases.institution)
            db.session.commit()
        return case


@pytest.fixture
def school(make_tenant, make_member, case_runner) -> School:
    """École polytechnique's procedure: reports go to the DHAMIS unit, not to management."""
    tenant = make_tenant("poly", enable=("polytechnique",), name="École polytechnique")
    unit = [make_member(tenant, "dhamis_unit") for _ in range(2)]
    return School(tenant, unit, make_member(tenant, "management"), case_runner(tenant))


def set_default_locale(tenant: Tenant, locale: str) -> None:
    with platform_scope():
        db.session.get(Tenant, tenant.id).default_locale = locale
        db.session.commit()


def outbox(tenant) -> list[OutboundMail]:
    with tenant_scope(tenant):
        db.session.expire_all()
        return list(db.session.scalars(select(OutboundMail).order_by(OutboundMail.id)))


# -- sending ---------------------------------------------------------------------------------


def test_a_new_report_is_sent_once_to_each_member_serving_the_unit(app, smtp, school):
    case = school.cases.submit(narrative=NARRATIVE)
    with tenant_scope(school.tenant):
        reference = case.reference
        queued = notify_unit_of_new_case(case, school.cases.institution)
        assert len(queued) == 2
        assert smtp.messages == []  # nothing leaves before the transaction commits
        db.session.commit()
    assert sorted(smtp.recipients) == sorted(u.email for u in school.unit)
    assert school.management.email not in smtp.recipients
    mails = outbox(school.tenant)
    assert [(m.kind, m.attempts, m.last_error) for m in mails] == [("new_report", 1, None)] * 2
    assert all(m.sent_at is not None for m in mails)
    message = smtp.messages[0]
    assert message["Subject"] == f"Nouveau signalement reçu ({reference})"
    assert message["From"] == "cellule@localhost"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"] == f"<{mails[0].public_id}@localhost>"

    # another run of the job sends nothing more
    assert run_job(SEND_JOB, school.tenant.id, (mails[0].id,), {}) == "already sent"
    assert len(smtp.messages) == 2

    with tenant_scope(school.tenant):
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "mail.sent").order_by(AuditEvent.seq)
        ).all()
    assert [(e.target_type, e.target_id) for e in events] == [("mail", m.public_id) for m in mails]
    assert all(e.actor_kind == "system" and "@" not in str(e.details) for e in events)


def test_the_units_seats_are_read_once_whatever_its_size(app, smtp, school, make_member):
    more = [make_member(school.tenant, "dhamis_unit") for _ in range(4)]
    case = school.cases.submit(narrative=NARRATIVE)
    statements: list[str] = []
    listen = ("before_cursor_execute", lambda c, cur, statement, *a: statements.append(statement))
    with tenant_scope(school.tenant):
        event.listen(db.engine, *listen)
        try:
            queued = notify_unit_of_new_case(case, school.cases.institution)
        finally:
            event.remove(db.engine, *listen)
        assert sorted(m.recipient for m in queued) == sorted(u.email for u in school.unit + more)
        db.session.rollback()
    seat_reads = [s for s in statements if s.lstrip().startswith("SELECT committee_members.")]
    assert len(seat_reads) == 1, seat_reads


def test_rolled_back_work_sends_nothing(app, smtp, school):
    case = school.cases.submit()
    with tenant_scope(school.tenant):
        notify_unit_of_new_case(case, school.cases.institution)
        db.session.rollback()
        db.session.commit()
    assert smtp.messages == []
    assert outbox(school.tenant) == []


def test_an_outage_leaves_mail_pending_until_the_sweep_sends_it(app, smtp, school, runner, caplog):
    smtp.stop()
    with caplog.at_level(logging.WARNING):
        school.submit_and_notify()
    mails = outbox(school.tenant)
    assert [(m.attempts, m.sent_at) for m in mails] == [(1, None), (1, None)]
    assert all(m.last_error.startswith("ConnectionRefusedError") for m in mails)
    assert "not sent" in caplog.text
    assert not any(u.email in caplog.text for u in school.unit), "a log names an address"

    smtp.start()
    result = runner.invoke(args=["mail", "sweep"])
    assert result.exit_code == 0, result.output
    assert "2 pending e-mail(s) queued" in result.output
    assert sorted(smtp.recipients) == sorted(u.email for u in school.unit)
    mails = outbox(school.tenant)
    assert [(m.attempts, m.last_error) for m in mails] == [(2, None), (2, None)]
    assert all(m.sent_at is not None for m in mails)

    # the sweep leaves sent mail alone
    assert "0 pending e-mail(s) queued" in runner.invoke(args=["mail", "sweep"]).output
    assert len(smtp.messages) == 2


def test_the_sweep_gives_up_after_too_many_failures(app, smtp, school, runner):
    smtp.stop()
    school.submit_and_notify()
    for _ in range(MAX_ATTEMPTS - 1):
        assert "2 pending e-mail(s) queued" in runner.invoke(args=["mail", "sweep"]).output
    assert {m.attempts for m in outbox(school.tenant)} == {MAX_ATTEMPTS}
    assert "0 pending e-mail(s) queued" in runner.invoke(args=["mail", "sweep"]).output


def test_without_a_mail_server_mail_waits_and_a_warning_says_so_once(
    app, smtp, school, runner, caplog
):
    app.config["MAIL_SERVER"] = None
    with caplog.at_level(logging.WARNING):
        school.submit_and_notify()
        school.submit_and_notify()
    assert [(m.attempts, m.sent_at) for m in outbox(school.tenant)] == [(0, None)] * 4
    assert len([r for r in caplog.records if "MAIL_SERVER" in r.getMessage()]) == 1
    assert not any(u.email in caplog.text for u in school.unit)

    app.config["MAIL_SERVER"] = "127.0.0.1"
    assert "4 pending e-mail(s) queued" in runner.invoke(args=["mail", "sweep"]).output
    assert len(smtp.messages) == 4


@pytest.mark.postgresql
def test_a_mail_another_worker_is_sending_is_left_to_it(app, smtp, school, owner_engine):
    smtp.stop()
    school.submit_and_notify()
    smtp.start()
    mail = outbox(school.tenant)[0]
    with owner_engine.connect() as other_worker:
        other_worker.execute(sa.text("SELECT set_config('cellule.platform', 'on', true)"))
        other_worker.execute(
            sa.text("SELECT id FROM outbound_mail WHERE id = :id FOR UPDATE"), {"id": mail.id}
        )
        assert run_job(SEND_JOB, school.tenant.id, (mail.id,), {}) == "skipped"
        other_worker.rollback()
    assert smtp.messages == []
    assert run_job(SEND_JOB, school.tenant.id, (mail.id,), {}) == "sent"
    assert len(smtp.messages) == 1


@pytest.mark.redis
def test_mail_whose_jobs_redis_lost_is_sent_after_the_sweep(redis_app, smtp, school):
    app, queue = redis_app
    school.submit_and_notify()
    assert queue.count == 2 and smtp.messages == []
    queue.empty()  # Redis lost the jobs; the outbox still has the rows
    result = app.test_cli_runner().invoke(args=["mail", "sweep"])
    assert "2 pending e-mail(s) queued" in result.output
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert sorted(smtp.recipients) == sorted(u.email for u in school.unit)


# -- STARTTLS and login ----------------------------------------------------------------------


@pytest.fixture
def tls_files(tmp_path):
    """A self-signed certificate for 127.0.0.1 and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_smtp(tls_files, monkeypatch):
    """An SMTP server that takes mail only after STARTTLS and a login."""
    cert_path, key_path = tls_files
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    logins = []

    def authenticate(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret")

    server = SMTPServer(
        tls_context=context, require_starttls=True, authenticator=authenticate, auth_required=True
    )
    server.logins = logins
    server.start()
    # the client checks the server's certificate against the default trust store
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_path))
    yield server
    server.stop()


def test_starttls_and_login_when_the_settings_ask(app, tls_smtp, school):
    app.config.update(
        MAIL_PORT=tls_smtp.port, MAIL_USE_TLS=True, MAIL_USERNAME="cellule", MAIL_PASSWORD="s3cret"
    )
    school.submit_and_notify()
    assert len(tls_smtp.messages) == 2
    assert tls_smtp.logins[0] == (b"cellule", b"s3cret")


def test_a_server_that_requires_starttls_refuses_plain_mail_which_waits(app, tls_smtp, school):
    app.config.update(MAIL_PORT=tls_smtp.port, MAIL_USE_TLS=False)
    school.submit_and_notify()
    assert tls_smtp.messages == []
    mails = outbox(school.tenant)
    assert all(m.sent_at is None and m.attempts == 1 for m in mails)
    assert all(m.last_error.startswith("SMTP") and "@" not in m.last_error for m in mails)


# -- what e-mails say ------------------------------------------------------------------------

INSTITUTION = "École polytechnique"
EXPECTED = {
    "fr": {
        "new_report": (
            "Nouveau signalement reçu ({reference})",
            [
                f"Un nouveau signalement a été reçu pour {INSTITUTION}.",
                "Connectez-vous à l\u2019espace de gestion pour le lire.",
                "Référence {reference}.",
            ],
        ),
        "new_message_for_unit": (
            "Nouveau message de la personne qui a signalé ({reference})",
            [f"La personne qui a fait un signalement auprès de {INSTITUTION} a écrit"],
        ),
        "new_message_for_reporter": (
            "Vous avez un nouveau message",
            [
                "Vous avez un nouveau message au sujet de votre signalement auprès de "
                f"{INSTITUTION}.",
                "Connectez-vous avec votre code de suivi pour le lire.",
            ],
        ),
    },
    "en": {
        "new_report": (
            "New report received ({reference})",
            [
                f"A new report was received for {INSTITUTION}.",
                "Sign in to the back office to read it.",
                "Reference {reference}.",
            ],
        ),
        "new_message_for_unit": (
            "New message from the person reporting ({reference})",
            [f"The person who made a report to {INSTITUTION} has written a new message."],
        ),
        "new_message_for_reporter": (
            "You have a new message",
            [
                f"You have a new message about your report to {INSTITUTION}.",
                "Sign in with your receipt code to read it.",
            ],
        ),
    },
}


@pytest.mark.parametrize("locale", ["fr", "en"])
def test_every_notice_in_french_and_english_and_none_carries_report_content(
    app, smtp, school, locale
):
    set_default_locale(school.tenant, locale)
    case = school.submit_and_notify(narrative=NARRATIVE, anonymous=False)
    with tenant_scope(school.tenant):
        reference = case.reference
        report = db.session.scalars(select(Report).where(Report.case_id == case.id)).one()
        report.notify_email = REPORTER_ADDRESS
        # each side's message tells the other side (see post_message)
        post_message(case, REPORTER_MESSAGE, actor=REPORTER, institution=school.cases.institution)
        db.session.commit()
        post_message(
            case, STAFF_MESSAGE, actor=school.unit[0], institution=school.cases.institution
        )
        db.session.commit()

    by_kind = {}
    for mail, message in zip(outbox(school.tenant), smtp.messages, strict=True):
        by_kind.setdefault(mail.kind, []).append(message)
    assert {kind: len(messages) for kind, messages in by_kind.items()} == {
        "new_report": 2,
        "new_message_for_unit": 2,
        "new_message_for_reporter": 1,
    }
    assert by_kind["new_message_for_reporter"][0]["To"] == REPORTER_ADDRESS
    for kind, (subject, lines) in EXPECTED[locale].items():
        for message in by_kind[kind]:
            assert message["Subject"] == subject.format(reference=reference)
            assert message["Content-Language"] == locale
            body = message.get_content()
            for line in lines:
                assert line.format(reference=reference) in body
            assert "https://poly.cellule.test/" in body  # the tenant's sub-domain

    # every message, raw and decoded, is free of what the reporter and the unit wrote
    for envelope, message in zip(smtp.handler.envelopes, smtp.messages, strict=True):
        raw = envelope.original_content.decode("utf-8", "replace")
        for secret in (NARRATIVE, REPORTER_MESSAGE, STAFF_MESSAGE):
            marker = secret.split(":")[0]
            assert marker not in raw and marker not in message.get_content()


def test_a_reporter_who_left_no_address_gets_no_mail(app, smtp, school):
    case = school.cases.submit(anonymous=True)
    with tenant_scope(school.tenant):
        assert notify_reporter_of_message(case) == []
        db.session.commit()
    assert smtp.messages == []


def test_a_mail_takes_only_its_own_short_non_personal_parameters(app, school):
    good = {"institution": "X", "reference": "ABCD-EFGH"}
    with tenant_scope(school.tenant):
        for kind, locale, params in [
            ("no_such_kind", "fr", good),
            ("new_report", "de", good),
            ("new_report", "fr", {**good, "narrative": NARRATIVE}),
            ("new_report", "fr", {"institution": "X"}),
            ("new_report", "fr", {**good, "reference": "x" * 500}),
            ("new_report", "fr", {**good, "reference": {"nested": True}}),
        ]:
            with pytest.raises(MailError):
                queue_mail(school.tenant.id, "a@example.org", kind, locale=locale, params=params)
        db.session.rollback()
    assert outbox(school.tenant) == []


def test_the_recipient_is_encrypted_at_rest(app, smtp, school, owner_engine):
    school.submit_and_notify()
    with owner_engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT set_config('cellule.platform', 'on', true)"))
        stored = connection.execute(sa.text("SELECT recipient, params FROM outbound_mail")).all()
    assert len(stored) == 2
    for recipient, params in stored:
        assert not any(u.email.encode() in bytes(recipient) for u in school.unit)
        assert not any(u.email in str(params) for u in school.unit)
    assert sorted(m.recipient for m in outbox(school.tenant)) == sorted(
        u.email for u in school.unit
    )


def test_mail_settings_come_from_the_environment(tmp_path):
    settings = settings_from_env(str(tmp_path), {})
    assert settings["MAIL_SERVER"] is None and settings["MAIL_PORT"] == 25
    assert settings["MAIL_USE_TLS"] is False and settings["MAIL_FROM"] == "cellule@localhost"
    settings = settings_from_env(
        str(tmp_path),
        {
            "MAIL_SERVER": "smtp.example.org",
            "MAIL_PORT": "587",
            "MAIL_USE_TLS": "on",
            "MAIL_USERNAME": "cellule",
            "MAIL_PASSWORD": "secret",
            "MAIL_FROM": "Cellule <no-reply@example.org>",
            "CELLULE_PUBLIC_URL": "https://cellule.example.org/",
        },
    )
    assert (settings["MAIL_SERVER"], settings["MAIL_PORT"], settings["MAIL_USE_TLS"]) == (
        "smtp.example.org",
        587,
        True,
    )
    assert settings["CELLULE_PUBLIC_URL"] == "https://cellule.example.org"
    with pytest.raises(RuntimeError, match="MAIL_PORT"):
        settings_from_env(str(tmp_path), {"MAIL_PORT": "smtp"})


def test_links_lead_to_the_tenants_own_address(app, school):
    def address():
        with tenant_scope(school.tenant):
            return tenant_address(db.session.get(Tenant, school.tenant.id))

    assert address() == "https://poly.cellule.test/"
    app.config.update(CELLULE_BASE_DOMAIN=None, CELLULE_PUBLIC_URL="https://cellule.example.org")
    assert address() == "https://cellule.example.org/t/poly/"
    app.config["CELLULE_PUBLIC_URL"] = None
    assert address() is None
    with platform_scope():
        add_domain(
            db.session.get(Tenant, school.tenant.id), "signalement.example.org", actor="platform"
        )
        db.session.commit()
    assert address() == "https://signalement.example.org/"
