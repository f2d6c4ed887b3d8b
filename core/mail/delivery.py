"""Handing a rendered e-mail to the SMTP server the settings name (MAIL_*)."""

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from core.types import utcnow

# Bounded waits: the outbox row stays locked while the server is talked to.
SMTP_TIMEOUT = 30


def compose(
    config, *, recipient: str, subject: str, body: str, locale: str, message_id: str
) -> EmailMessage:
    """A plain-text, UTF-8 e-mail from MAIL_FROM.

    The Message-ID comes from the outbox row, so an e-mail sent twice (a worker killed
    between sending and recording it) is recognisably the same message.
    """
    sender = config["MAIL_FROM"]
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = f"<{message_id}@{domain}>"
    # RFC 3834: no out-of-office or other automatic replies to a notification
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    message["Content-Language"] = locale  # after set_content, which resets Content-* headers
    return message


def deliver(config, message: EmailMessage) -> None:
    """Send `message` through MAIL_SERVER, with STARTTLS and login when the settings ask."""
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=SMTP_TIMEOUT) as smtp:
        if config["MAIL_USE_TLS"]:
            smtp.starttls(context=ssl.create_default_context())
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        smtp.send_message(message)


def describe_failure(exc: BaseException) -> str:
    """Why sending failed, short enough to store and log, and naming no address.

    Only the exception's type and the server's reply codes: the texts of SMTP replies and
    of `SMTPRecipientsRefused` often quote the recipient.
    """
    name = type(exc).__name__
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = sorted({str(code) for code, _ in exc.recipients.values()})
        return f"{name} {','.join(codes)}".strip()
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{name} {exc.smtp_code}"
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"{name} errno {exc.errno}"
    return name
