"""Plugin texts in the reader's language, through each plugin's own Babel catalogues.

Plugins write their data in one source language (English for the bundled ones) and ship
``translations/<locale>/LC_MESSAGES/<domain>.po``. Which values are text for people is
decided by their key (`TEXT_KEYS`), so a plugin never marks its data up; the same rule
lists the strings a catalogue must hold (`texts`, `cellule plugins extract`).
"""

import functools
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from flask import has_request_context
from flask_babel import get_locale

# Keys whose string values (or lists of strings) are written for people.
TEXT_KEYS = frozenset(
    {
        "name",
        "label",
        "title",
        "text",
        "items",
        "description",
        "help",
        "welcome",
        "confidentiality",
        "reporter_label",
        "reporter_description",
        "message",
        "reason",
        "note",
        "cost_note",
        "audience",
        "group",
        "section",
        "decided_by",
        "authority",
    }
)


def texts(data) -> Iterator[str]:
    """Every string in `data` meant for people, in order, repeats included."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key in TEXT_KEYS and isinstance(value, str) and value:
                yield value
            elif key in TEXT_KEYS and isinstance(value, list):
                yield from (v for v in value if isinstance(v, str) and v)
            else:
                yield from texts(value)
    elif isinstance(data, list):
        for value in data:
            yield from texts(value)


def localize(data, gettext: Callable[[str], str]):
    """A copy of `data` with every text translated by `gettext`; `data` is left alone."""
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            if key in TEXT_KEYS and isinstance(value, str) and value:
                out[key] = gettext(value)
            elif (
                key in TEXT_KEYS
                and isinstance(value, list)
                and all(isinstance(v, str) for v in value)
            ):
                out[key] = [gettext(v) if v else v for v in value]
            else:
                out[key] = localize(value, gettext)
        return out
    if isinstance(data, list):
        return [localize(value, gettext) for value in data]
    return data


@functools.cache
def _load(directory: str, domain: str, locale: str) -> NullTranslations:
    return Translations.load(directory, [locale], domain)


class PluginTranslator:
    """Translate one plugin's texts: its own catalogue first, then the ones it shares."""

    def __init__(self, catalogues: Iterable[tuple[Path, str]]):
        self.catalogues = [(str(directory), domain) for directory, domain in catalogues]

    @classmethod
    def of(cls, name: str, plugin) -> "PluginTranslator":
        """A plugin's catalogues: ``translations/`` beside its module, domain = its name,
        followed by any ``(directory, domain)`` pairs listed in its ``shared_catalogues``."""
        catalogues = []
        module_file = getattr(plugin, "__file__", None)
        if module_file:
            catalogues.append((Path(module_file).parent / "translations", name))
        catalogues.extend(getattr(plugin, "shared_catalogues", ()))
        return cls(catalogues)

    def gettext(self, locale: str, message: str) -> str:
        for directory, domain in self.catalogues:
            translated = _load(directory, domain, locale).ugettext(message)
            if translated != message:
                return translated
        return message

    def shared_messages(self) -> set[str]:
        """Messages a shared catalogue (not the plugin's own) already holds, any locale."""
        held = set()
        for directory, domain in self.catalogues[1:]:
            for po in Path(directory).glob(f"*/LC_MESSAGES/{domain}.po"):
                with po.open("rb") as f:
                    held |= {m.id for m in read_po(f) if m.id}
        return held

    def missing(self, locale: str, messages: Iterable[str]) -> list[str]:
        """The messages no catalogue translates into `locale` (in order, without repeats).

        Read from the ``.po`` sources, so a translation identical to its message (a name)
        counts as translated and a fuzzy one does not.
        """
        translated = set()
        for directory, domain in self.catalogues:
            po = Path(directory) / locale / "LC_MESSAGES" / f"{domain}.po"
            if po.exists():
                with po.open("rb") as f:
                    catalog = read_po(f)
                translated |= {m.id for m in catalog if m.id and m.string and not m.fuzzy}
        return [m for m in dict.fromkeys(messages) if m not in translated]


def plugin_gettext(info, text: str) -> str:
    """`text`, from one of the tenant's plugins, in the current request's language."""
    if not text or not has_request_context():
        return text
    from core.plugins.host import plugin_host

    host, locale = plugin_host(), str(get_locale())
    for name in info.enabled_plugins:
        translator = host.translators.get(name)
        translated = translator.gettext(locale, text) if translator else text
        if translated != text:
            return translated
    return text


def template(messages: Iterable[str], *, project: str) -> Catalog:
    """A message template (.pot) holding `messages` once each."""
    catalog = Catalog(project=project, charset="utf-8")
    for message in messages:
        catalog.add(message)
    return catalog
