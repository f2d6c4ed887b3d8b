"""Every user-facing string of the core exists in French and in English."""

import subprocess
import sys

from babel.messages.pofile import read_po

from core import PROJECT_ROOT

CATALOGUE = PROJECT_ROOT / "core" / "translations" / "fr" / "LC_MESSAGES" / "messages.po"


def test_every_string_in_the_code_has_a_french_translation(tmp_path):
    template = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-o",
            str(template),
            ".",
        ],
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
    )
    with template.open("rb") as handle:
        extracted = {message.id for message in read_po(handle) if message.id}
    assert extracted, "extraction found no string: the check would be empty"
    with CATALOGUE.open("rb") as handle:
        french = {message.id: message for message in read_po(handle) if message.id}
    missing = sorted(str(m) for m in extracted - set(french))
    assert missing == [], "strings without a French entry (run pybabel update)"
    untranslated = sorted(str(m) for m in extracted if not french[m].string or french[m].fuzzy)
    assert untranslated == []
