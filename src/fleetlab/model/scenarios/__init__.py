"""Scenarios: fleet specifications in TOML. The presets ship here, one file each.

`load_scenario("multi-tenant")` reads a preset; `load_scenario("path/to/my.toml")` any file.
`list_scenarios()` gives each preset's name and one-line description.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from ...errors import SpecError
from ..spec import FleetSpec

DEFAULT = "default"


def _presets() -> dict[str, resources.abc.Traversable]:
    files = resources.files(__name__)
    return {f.name.removesuffix(".toml"): f for f in files.iterdir() if f.name.endswith(".toml")}


def list_scenarios() -> dict[str, str]:
    """Preset name → one-line description, default first."""
    out = {}
    for name, f in sorted(_presets().items(), key=lambda kv: (kv[0] != DEFAULT, kv[0])):
        data = tomllib.loads(f.read_text(encoding="utf-8"))
        out[name] = data.get("description", "")
    return out


def load_scenario(name_or_path: str | Path = DEFAULT) -> FleetSpec:
    """The spec of a preset (by name) or of a TOML file (by path). Raises SpecError when invalid."""
    presets = _presets()
    text_name = str(name_or_path)
    if isinstance(name_or_path, str) and text_name in presets:
        source, text = f"scenario {text_name!r}", presets[text_name].read_text(encoding="utf-8")
        fallback_name = text_name
    else:
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            looks_like_path = path.suffix == ".toml" or "/" in text_name or "\\" in text_name
            raise SpecError(
                [
                    f"no scenario file {text_name!r}"
                    if looks_like_path
                    else f"unknown scenario {text_name!r}; presets: {', '.join(sorted(presets))} (or give a path to a .toml file)"
                ]
            )
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SpecError([f"cannot read {source}: {exc}"]) from None
        fallback_name = path.stem
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError([f"{source} is not valid TOML: {exc}"]) from None
    data.setdefault("name", fallback_name)
    return FleetSpec.from_mapping(data, where=source)


__all__ = ["list_scenarios", "load_scenario"]
