"""What each kind of e-mail says, in French and English, and how it is rendered.

Texts are msgids here, in Python, where the catalogue's extraction finds them; each kind's
Jinja text template (``mail/<kind>.txt``) lays them out. No e-mail ever carries content of
a report or a message: a kind's parameters are the few non-personal values it names.
"""

import re
from dataclasses import dataclass

from flask import current_app
from flask_babel import force_locale, gettext


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated when the e-mail is rendered."""
    return message


@dataclass(frozen=True)
class MailKind:
    """One kind of e-mail: its subject, its texts (msgids), the parameters they take."""

    subject: str
    texts: dict[str, str]
    params: tuple[str, ...]
    # staff e-mails and reporters' e-mails close differently
    audience: str


STAFF, REPORTER = "staff", "reporter"

COMMON_TEXTS = {
    "greeting": N_("Hello,"),
    "address": N_("Address: %(address)s"),
}
CLOSINGS = {
    STAFF: {
        "closing": N_(
            "This e-mail was sent automatically and contains nothing of the report. "
            "Please do not reply to it."
        ),
    },
    REPORTER: {
        "closing": N_(
            "For your safety, this e-mail contains nothing of your report or of the message. "
            "It was sent automatically: please do not reply to it."
        ),
        "stop": N_("You can stop these e-mails from your space at any time."),
    },
}

KINDS = {
    "new_report": MailKind(
        subject=N_("New report received (%(reference)s)"),
        texts={
            "received": N_("A new report was received for %(institution)s."),
            "sign_in": N_("Sign in to the back office to read it."),
            "reference": N_("Reference %(reference)s."),
        },
        params=("institution", "reference"),
        audience=STAFF,
    ),
    "new_message_for_unit": MailKind(
        subject=N_("New message from the person reporting (%(reference)s)"),
        texts={
            "written": N_(
                "The person who made a report to %(institution)s has written a new message."
            ),
            "sign_in": N_("Sign in to the back office to read it."),
            "reference": N_("Reference %(reference)s."),
        },
        params=("institution", "reference"),
        audience=STAFF,
    ),
    "new_message_for_reporter": MailKind(
        subject=N_("You have a new message"),
        texts={
            "new_message": N_("You have a new message about your report to %(institution)s."),
            "sign_in": N_("Sign in with your receipt code to read it."),
        },
        params=("institution",),
        audience=REPORTER,
    ),
}


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    body: str


def render_mail(kind: str, locale: str, params: dict, *, address: str | None) -> RenderedMail:
    """The subject and plain-text body of an e-mail of `kind`, in `locale`.

    `address` is the tenant's web address for the closing line, or None to leave it out.
    """
    definition = KINDS[kind]
    values = {**{name: params[name] for name in definition.params}, "address": address or ""}
    texts = {
        **COMMON_TEXTS,
        **CLOSINGS[definition.audience],
        **definition.texts,
    }
    with force_locale(locale):
        translated = {name: gettext(msgid, **values) for name, msgid in texts.items()}
        subject = gettext(definition.subject, **values)
    template = current_app.jinja_env.get_template(f"mail/{kind}.txt")
    body = template.render(text=translated, **values)
    return RenderedMail(subject=" ".join(subject.split()), body=_tidy(body))


def _tidy(body: str) -> str:
    """Trailing spaces and runs of blank lines left by the template's blocks, removed."""
    lines = [line.rstrip() for line in body.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"
