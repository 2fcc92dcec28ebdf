"""Scenario mappings written as TOML text (`tomllib` reads it back to the same mapping).

Tables become `[sections]`, lists of tables `[[sections]]`, and a count or a metadata key's table
(a small mapping of scalars and lists) an inline table. Strings are escaped as TOML's basic strings:
any text a source database holds (quotes, backslashes, control characters) reads back unchanged.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def dumps(data: Mapping[str, Any], header: str = "") -> str:
    """`data` as TOML, after `header` (comment lines, each given without its "# ")."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    if lines:
        lines.append("")
    _table(data, [], lines)
    return "\n".join(lines).strip("\n") + "\n"


def _table(data: Mapping[str, Any], path: list[str], lines: list[str]) -> None:
    later = []
    for key, value in data.items():
        if isinstance(value, Mapping) and not _inline(value):
            later.append((key, value, False))
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) and not _inline_list(v) for v in value):
            later.append((key, value, True))
        else:
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, value, many in later:
        name = ".".join(_key(k) for k in [*path, key])
        for item in value if many else [value]:
            lines.append("")
            lines.append(f"[[{name}]]" if many else f"[{name}]")
            _table(item, [*path, key], lines)


def _inline(value: Mapping[str, Any]) -> bool:
    """Counts ({distribution, …}) and metadata keys ({share, type}) read best on one line."""
    return "distribution" in value or set(value) == {"share", "type"} or not value


def _inline_list(value: Mapping[str, Any]) -> bool:
    """A list of small flat tables (model × firmware pairs) stays one inline table per line."""
    return all(not isinstance(v, Mapping | list) for v in value.values())


def _key(key: str) -> str:
    return key if _BARE.match(key) else _string(key)


def _string(text: str) -> str:
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"TOML holds no {value!r}")
        return repr(round(value, 9)) if not value.is_integer() else f"{value:.1f}"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        if value and all(isinstance(v, Mapping) for v in value):
            return "[\n" + "".join(f"    {_value(v)},\n" for v in value) + "]"
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }" if value else "{}"
    raise TypeError(f"no TOML for a {type(value).__name__}")
