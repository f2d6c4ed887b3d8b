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
# e-mails about a staff member's own account (a password reset), which concern no report
ACCOUNT = "account"

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
    ACCOUNT: {
        "closing": N_("This e-mail was sent automatically. Please do not reply to it."),
    },
}

KINDS = {
    # -- deadlines, notices and signals (core.cases.reminders, core.cases.signals) --------
    "deadline_reminder": MailKind(
        subject=N_("Deadline coming up: %(deadline)s (%(reference)s)"),
        texts={
            "coming": N_("A deadline on a case at %(institution)s is coming up."),
            "what": N_("%(deadline)s: due by %(due)s."),
            "guide": N_("This deadline is a guide rather than a strict limit."),
            "sign_in": N_("Sign in to the back office to see the case."),
            "reference": N_("Reference %(reference)s."),
            "link": N_("The case: %(address)s%(path)s"),
        },
        params=("institution", "reference", "deadline", "due", "indicative", "path"),
        audience=STAFF,
    ),
    "deadline_alert": MailKind(
        subject=N_("Deadline passed: %(deadline)s (%(reference)s)"),
        texts={
            "passed": N_("A deadline on a case at %(institution)s has passed."),
            "what": N_("%(deadline)s: it was due by %(due)s."),
            "guide": N_("This deadline is a guide rather than a strict limit."),
            "sign_in": N_("Sign in to the back office to see the case."),
            "reference": N_("Reference %(reference)s."),
            "link": N_("The case: %(address)s%(path)s"),
        },
        params=("institution", "reference", "deadline", "due", "indicative", "path"),
        audience=STAFF,
    ),
    "case_needs_committee": MailKind(
        subject=N_("A case needs you (%(reference)s)"),
        texts={
            "needs": N_("A case at %(institution)s needs %(committee)s."),
            "sign_in": N_("Sign in to the back office to see what to do."),
            "reference": N_("Reference %(reference)s."),
            "link": N_("The case: %(address)s%(path)s"),
        },
        params=("institution", "reference", "committee", "path"),
        audience=STAFF,
    ),
    "new_case_for_committee": MailKind(
        subject=N_("New report received (%(reference)s)"),
        texts={
            "received": N_("A new report was received for %(institution)s."),
            "why": N_("The procedure asks that %(committee)s is told."),
            "sign_in": N_("Sign in to the back office for more."),
            "reference": N_("Reference %(reference)s."),
        },
        params=("institution", "reference", "committee"),
        audience=STAFF,
    ),
    "possible_repeat": MailKind(
        subject=N_("This report may concern a person named in another case (%(reference)s)"),
        texts={
            "signal": N_(
                "The report %(reference)s to %(institution)s may concern a person already "
                "named in another case: %(others)s."
            ),
            "caution": N_(
                "Only the names match, and that may be a coincidence. Sign in to the back "
                "office to compare the cases."
            ),
            "link": N_("The new case: %(address)s%(path)s"),
        },
        params=("institution", "reference", "others", "path"),
        audience=STAFF,
    ),
    "news_for_reporter": MailKind(
        subject=N_("News about your report"),
        texts={
            "news": N_("There is news about your report to %(institution)s."),
            "sign_in": N_("Sign in with your receipt code to see where it stands."),
        },
        params=("institution",),
        audience=REPORTER,
    ),
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
    "staff_welcome": MailKind(
        subject=N_("Your access to the back office of %(institution)s"),
        texts={
            "opened": N_("An account was opened for you on the back office of %(institution)s."),
            "follow": N_("To choose your password, open this link:"),
            "valid": N_(
                "The link works for one hour, and only once. If it has expired, ask for a new "
                "one here:"
            ),
            "second_factor": N_(
                "When you first sign in, you will set up an authenticator app on your phone: "
                "signing in always needs it as well as your password."
            ),
        },
        # the link is the tenant's address followed by a password reset token
        params=("institution", "token"),
        audience=ACCOUNT,
    ),
    "password_reset": MailKind(
        subject=N_("Choose a new password"),
        texts={
            "asked": N_(
                "Someone asked to reset the password of your back-office account at "
                "%(institution)s."
            ),
            "follow": N_("To choose a new password, open this link:"),
            "valid": N_("The link works for one hour, and only once."),
            "ignore": N_(
                "If you did not ask for this, ignore this e-mail: your password stays as it "
                "is. Signing in always needs your authenticator app as well."
            ),
        },
        # the link is the tenant's address (as in every e-mail) followed by the token
        params=("institution", "token"),
        audience=ACCOUNT,
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
