"""Read a plugin's data files: the YAML documents shipped inside its package."""

import functools
from importlib.resources import files

import yaml


class PluginData:
    """The YAML files of one package, each read once: ``PluginData(__name__)["committees"]``
    is the content of ``committees.yaml`` beside the plugin's ``__init__.py``."""

    def __init__(self, package: str):
        self.package = package

    @functools.cache  # noqa: B019 (one instance per plugin package, alive as long as the app)
    def __getitem__(self, name: str):
        text = files(self.package).joinpath(f"{name}.yaml").read_text(encoding="utf-8")
        return yaml.safe_load(text)
