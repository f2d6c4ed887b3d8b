"""France's national help lines: one source every French institution plugin reuses.

Not a plugin itself (it has no entry point): an institution plugin picks the lines it shows
with `helplines(...)` and lists `CATALOGUE` in its ``shared_catalogues`` so the lines'
texts are translated the same way on every portal. One line, one set of hours.
"""

from pathlib import Path

from core.plugins import PluginData

_data = PluginData(__name__)

CATALOGUE = (Path(__file__).parent / "translations", "france")

# Numbers to call when someone is in danger now; every portal shows them first.
EMERGENCY = ("police", "samu", "sms_114", "european_emergency")


def helplines(*keys: str) -> list[dict]:
    """The national lines named by `keys`, in that order (each a fresh copy).

    Raises KeyError naming the first unknown key, so a typo fails when the plugin is enabled.
    """
    lines = {line["key"]: line for line in _data["helplines"]}
    unknown = [key for key in keys if key not in lines]
    if unknown:
        raise KeyError(f"no national help line {unknown[0]!r}; known: {sorted(lines)}")
    return [dict(lines[key], scope="national") for key in keys]
