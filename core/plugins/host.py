"""Find plugins, call their hooks for one tenant, and validate what they return."""

import hashlib
import importlib.metadata
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pluggy
import yaml
from flask import current_app
from marshmallow import ValidationError

from core import hookspecs
from core.plugins.i18n import PluginTranslator, localize, texts
from core.plugins.schemas import HOOK_SCHEMAS

PROJECT = "cellule"
ENTRY_POINT_GROUP = "cellule.plugins"
hookimpl = pluggy.HookimplMarker(PROJECT)


class PluginError(RuntimeError):
    """A plugin failed to load, raised in a hook, or returned data that does not validate."""

    def __init__(self, plugin: str, hook: str | None, problem: str):
        self.plugin, self.hook, self.problem = plugin, hook, problem
        where = f"hook '{hook}' of plugin '{plugin}'" if hook else f"plugin '{plugin}'"
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class TenantInfo:
    """The read-only view of a tenant that hooks receive."""

    id: int
    slug: str
    name: str
    default_locale: str
    locales: tuple[str, ...]
    revision: int
    enabled_plugins: tuple[str, ...]

    @classmethod
    def of(cls, tenant) -> "TenantInfo":
        return cls(
            id=tenant.id,
            slug=tenant.slug,
            name=tenant.name,
            default_locale=tenant.default_locale,
            locales=tuple(tenant.locales),
            revision=tenant.revision,
            enabled_plugins=tuple(tenant.enabled_plugins),
        )


@dataclass(frozen=True)
class PluginInfo:
    name: str
    distribution: str | None
    version: str | None
    module: str
    hooks: tuple[str, ...]


@dataclass
class PluginHost:
    """The pluggy manager and what was learnt while loading plugins.

    Built by `create_app` and kept in ``app.extensions["cellule.plugins"]``.
    """

    manager: pluggy.PluginManager
    plugins: dict[str, PluginInfo] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)
    translators: dict[str, PluginTranslator] = field(default_factory=dict)
    _results: dict = field(default_factory=dict)
    # Validated, translated answers by content: tenants whose plugins answer alike share one
    # copy (a thousand tenants on three plugins hold three copies, not a thousand).
    _shared: dict = field(default_factory=dict)
    _callers: dict = field(default_factory=dict)

    @classmethod
    def create(cls) -> "PluginHost":
        manager = pluggy.PluginManager(PROJECT)
        manager.add_hookspecs(hookspecs)
        return cls(manager)

    @classmethod
    def discover(cls, logger: logging.Logger | None = None) -> "PluginHost":
        """Load every plugin of the `cellule.plugins` entry-point group, each in isolation."""
        host = cls.create()
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            try:
                plugin = entry_point.load()
            except Exception as exc:
                host._mark_broken(entry_point.name, f"could not be imported: {exc!r}", logger)
                continue
            dist = entry_point.dist
            host.add(
                entry_point.name,
                plugin,
                distribution=dist.name if dist else None,
                version=dist.version if dist else None,
                logger=logger,
            )
        return host

    def add(self, name: str, plugin, *, distribution=None, version=None, logger=None) -> bool:
        """Register one plugin; on any problem, record it as broken and leave the rest alone."""
        if name in self.plugins:
            self._mark_broken(name, "another plugin already has this name", logger)
            return False
        try:
            hash(plugin)  # pluggy keeps plugins in sets to call one alone: others would fail
            self.manager.register(plugin, name=name)
        except Exception as exc:
            self._mark_broken(name, f"could not be registered: {exc}", logger)
            return False
        try:
            self.manager.check_pending()
        except pluggy.PluginValidationError as exc:
            self.manager.unregister(name=name)
            self._mark_broken(name, f"implements a hook that does not exist: {exc}", logger)
            return False
        hooks = tuple(sorted(hc.name for hc in self.manager.get_hookcallers(plugin) or []))
        module = getattr(plugin, "__name__", type(plugin).__name__)
        self.plugins[name] = PluginInfo(name, distribution, version, module, hooks)
        self.translators[name] = PluginTranslator.of(name, plugin)
        self.broken.pop(name, None)
        self._forget()
        return True

    def remove(self, name: str) -> None:
        self.manager.unregister(name=name)
        self.plugins.pop(name, None)
        self.translators.pop(name, None)
        self._forget()

    def _forget(self) -> None:
        self._results.clear()
        self._shared.clear()
        self._callers.clear()

    def _mark_broken(self, name: str, problem: str, logger) -> None:
        self.broken[name] = problem
        if logger is not None:
            logger.error("plugin %s disabled: %s", name, problem)

    def check_usable(self, name: str) -> None:
        """Raise a PluginError if `name` cannot be enabled."""
        if name in self.broken:
            raise PluginError(name, None, self.broken[name])
        if name not in self.plugins:
            known = ", ".join(sorted(self.plugins)) or "none"
            raise PluginError(name, None, f"is not installed (installed: {known})")

    # -- calling hooks -----------------------------------------------------------------

    def call(self, tenant: TenantInfo, hook: str, *, locale: str | None = None, **kwargs):
        """Call `hook` for `tenant` on the plugins it enabled, and validate the answers.

        A ``firstresult`` hook gives the first answer that is not None (or None); a
        collect-all hook gives one list of every plugin's items, in call order. With
        `locale`, texts come translated by each answering plugin's catalogues; without, in
        the plugins' source language. Hooks that take only the tenant are cached per tenant
        revision: treat results as read-only.
        """
        # One entry per tenant, hook and language, replaced when the tenant moves on.
        key, version = (tenant.id, hook, locale), (tenant.revision, tenant.enabled_plugins)
        cached = self._results.get(key)
        if not kwargs and cached is not None and cached[0] == version:
            return cached[1]
        caller = getattr(self.manager.hook, hook)
        first_result = bool(caller.spec.opts.get("firstresult"))
        answers = []  # (plugin, its answer), in call order
        for name in self._call_order(caller, tenant):
            try:
                answer = self._subset_caller(hook, name)(tenant=tenant, **kwargs)
            except Exception as exc:
                raise PluginError(name, hook, f"raised {exc!r}") from exc
            if first_result and answer is None:
                continue
            answers.append((name, answer))
            if first_result:
                break
        content = (hook, locale, _digest(answers))
        result = self._shared.get(content)
        if result is None:
            result = self._shared[content] = self._checked(hook, locale, answers, first_result)
        if not kwargs:
            self._results[key] = (version, result)
        return result

    def _checked(self, hook: str, locale: str | None, answers, first_result: bool):
        """The plugins' answers validated against the hook's schema, translated, merged."""
        schema_class, many = HOOK_SCHEMAS[hook]
        if first_result:
            if not answers:
                return None
            ((name, answer),) = answers
            return self._translated(
                name, locale, _validate(name, hook, schema_class, answer, many=False)
            )
        result, seen = [], {}
        for name, answer in answers:
            for items in answer:  # one list per implementation that did not return None
                valid = _validate(name, hook, schema_class, items, many=many)
                for item in self._translated(name, locale, valid):
                    if _merge(hook, name, item, seen):
                        result.append(item)
        if hook in SHARED_DIRECTORIES:
            result.sort(key=lambda item: item["order"])
        return result

    def source_texts(self, name: str) -> list[str]:
        """Every text of plugin `name` a catalogue must translate: what its data hooks return
        (for a tenant that enabled only it) and the texts of the YAML files beside it."""
        self.check_usable(name)
        info = TenantInfo(0, "_texts", name, "en", ("en",), -1, (name,))
        found = []
        for hook in DATA_HOOKS:
            if hook in self.plugins[name].hooks:
                found.extend(texts(self.call(info, hook)))
        plugin = self.manager.get_plugin(name)
        module_file = getattr(plugin, "__file__", None)
        if module_file:
            for path in sorted(Path(module_file).parent.rglob("*.yaml")):
                found.extend(texts(yaml.safe_load(path.read_text(encoding="utf-8"))))
        return list(dict.fromkeys(found))

    def _translated(self, name: str, locale: str | None, data):
        if locale is None:
            return data
        translator = self.translators[name]
        return localize(data, lambda message: translator.gettext(locale, message))

    def _call_order(self, caller, tenant: TenantInfo) -> list[str]:
        enabled = set(tenant.enabled_plugins)
        for name in tenant.enabled_plugins:
            if name not in self.plugins:
                raise PluginError(
                    name, caller.name, self.broken.get(name, "is enabled but not installed")
                )
        # pluggy calls the most recently registered implementation first.
        return [
            impl.plugin_name
            for impl in reversed(caller.get_hookimpls())
            if impl.plugin_name in enabled
        ]

    def _subset_caller(self, hook: str, name: str):
        caller = self._callers.get((hook, name))
        if caller is None:
            others = [p for n, p in self.manager.list_name_plugin() if n != name]
            caller = self.manager.subset_hook_caller(hook, remove_plugins=others)
            self._callers[(hook, name)] = caller
        return caller


# The hooks that take only the tenant: their answers are the plugin's data, checked when a
# tenant enables it and cached per tenant revision.
DATA_HOOKS = (
    "institution_profile",
    "committees",
    "procedure",
    "sanction_ladder",
    "helplines",
    "legal_definitions",
    "report_form",
    "statement_form",
    "hearing_rules",
)

# Collect-all hooks whose entries may legitimately come from several plugins (a national
# directory reused by each institution): a repeated key is dropped, the first one kept.
SHARED_DIRECTORIES = frozenset({"helplines", "legal_definitions"})


def _merge(hook: str, plugin: str, item: dict, seen: dict[str, str]) -> bool:
    """Whether to keep `item`; raise if its key is already taken where keys must be unique."""
    key = item.get("key")
    if key is None:
        return True
    if key in seen:
        if hook in SHARED_DIRECTORIES:
            return False
        raise PluginError(plugin, hook, f"key {key!r} is already used by plugin '{seen[key]}'")
    seen[key] = plugin
    return True


def _digest(answers) -> str:
    """A fingerprint of the plugins' raw answers: equal answers, equal fingerprints."""
    text = json.dumps(answers, sort_keys=True, default=repr, ensure_ascii=False)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _validate(plugin: str, hook: str, schema_class, data, *, many: bool):
    try:
        return schema_class(many=many).load(data)
    except ValidationError as exc:
        raise PluginError(plugin, hook, f"returned malformed data: {exc.messages}") from exc
    except (TypeError, AttributeError) as exc:
        raise PluginError(plugin, hook, f"returned malformed data: {exc}") from exc


def plugin_host() -> PluginHost:
    return current_app.extensions["cellule.plugins"]
