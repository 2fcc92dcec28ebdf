"""A notebook output as readable lines, and the difference between a stored output and a fresh one.

nbval compares a cell's outputs as text: for marimo and Altair output that is one long line of HTML, and
its own report is a wall of markup. `explain` turns both sides into what a reader checks (a table's rows,
a chart's encodings and data rows, a widget's label and value, the text) and diffs those lines.
"""

from __future__ import annotations

import difflib
import json
import re
from html.parser import HTMLParser
from typing import Any

MAX_LINES = 60
BLOCKS = {
    "br", "div", "p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "table", "thead", "tbody",
    "small", "pre", "section", "details", "summary", "blockquote", "hr",
}  # fmt: skip
SKIPPED_ATTRIBUTES = {"data-element-id", "data-element-ids"}  # marimo's per-run ids (sanitized anyway)
# Altair's HTML ends its script with `})({spec}, {embed options});`
VEGA_CALL = re.compile(r"\}\)\((\{)", re.S)


def _decoded(value: str) -> Any:
    """An attribute's value as data: JSON decoded (twice when it holds JSON text), else the text."""
    try:
        value = json.loads(value)
    except ValueError:
        return value
    if isinstance(value, str) and value.lstrip().startswith(("{", "[")):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _text_of(markup: str) -> str:
    return " ".join(" ".join(lines(markup)).split())


def chart_lines(spec: dict[str, Any]) -> list[str]:
    """A Vega-Lite spec as lines: its title, mark and encodings, then every data row (keys sorted)."""
    out = []
    for part in [spec, *spec.get("hconcat", []), *spec.get("vconcat", []), *spec.get("layer", [])]:
        mark = part.get("mark")
        if mark is None and "encoding" not in part:
            continue
        mark = mark.get("type") if isinstance(mark, dict) else mark
        title = part.get("title")
        encodings = []
        for channel, enc in sorted((part.get("encoding") or {}).items()):
            for e in enc if isinstance(enc, list) else [enc]:
                if isinstance(e, dict):
                    what = e.get("field") or e.get("aggregate") or e.get("value")
                    encodings.append(f"{channel}={what}" + (f":{e['type']}" if "type" in e else ""))
        out.append(f"chart {title or ''}: mark={mark} " + " ".join(encodings))
    for rows in (spec.get("datasets") or {}).values():  # named by a hash of their content: the rows say it
        for row in rows:
            out.append("  data " + json.dumps(row, sort_keys=True, ensure_ascii=False))
    values = (spec.get("data") or {}).get("values")
    for row in values or []:
        out.append("  data " + json.dumps(row, sort_keys=True, ensure_ascii=False))
    return out


def _value_lines(label: str, value: Any) -> list[str]:
    if isinstance(value, dict) and ("datasets" in value or "$schema" in value):
        return chart_lines(value)
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [f"{label}:"] + ["  " + json.dumps(v, sort_keys=True, ensure_ascii=False) for v in value]
    if isinstance(value, str) and "<" in value:
        value = _text_of(value)
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)
    return [f"{label}: {text}"]


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.words: list[str] = []
        self.row: list[str] | None = None
        self.skipping = 0  # inside <style> or <script>
        self.script: list[str] = []

    def flush(self) -> None:
        text = " ".join("".join(self.words).split())
        if text:
            self.out.append(text)
        self.words = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script"):
            self.skipping += 1
            return
        if tag == "tr":
            self.flush()
            self.row = []
        elif tag in ("td", "th") and self.row is not None or tag in BLOCKS:
            self.flush()
        if tag.startswith("marimo-") and tag != "marimo-ui-element":
            self.flush()
            shown = [(k, v) for k, v in attrs if k.startswith("data-") and k not in SKIPPED_ATTRIBUTES and v]
            self.out.append(f"[{tag}]")
            for name, value in shown:
                self.out.extend("  " + line for line in _value_lines(name[5:], _decoded(value)))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self.skipping = max(0, self.skipping - 1)
            if tag == "script":
                self.out.extend(_script_lines("".join(self.script)))
                self.script = []
            return
        if tag in ("td", "th") and self.row is not None:
            self.row.append(" ".join("".join(self.words).split()))
            self.words = []
        elif tag == "tr" and self.row is not None:
            self.out.append("| " + " | ".join(self.row) + " |")
            self.row = None
        elif tag in BLOCKS:
            self.flush()

    def handle_data(self, data: str) -> None:
        if self.skipping:
            self.script.append(data)
        else:
            self.words.append(data)

    def close(self) -> None:
        super().close()
        self.flush()


def _script_lines(script: str) -> list[str]:
    """The Vega-Lite spec an Altair chart's script embeds, as chart lines (nothing for other scripts)."""
    for match in VEGA_CALL.finditer(script):
        try:
            spec, _ = json.JSONDecoder().raw_decode(script, match.start(1))
        except ValueError:
            continue
        if isinstance(spec, dict) and ("$schema" in spec or "datasets" in spec):
            return chart_lines(spec)
    return []


def lines(output: Any) -> list[str]:
    """One output value (HTML, text, or JSON data) as the lines a reader compares."""
    if not isinstance(output, str):
        return _value_lines("value", output)
    if "<" not in output or ">" not in output:
        return output.splitlines()
    reader = _Reader()
    reader.feed(output)
    reader.close()
    return reader.out


def explain(stored: Any, now: Any, limit: int = MAX_LINES) -> list[str]:
    """Why a fresh output differs from the stored one, in readable lines (diff: - stored, + now)."""
    before, after = lines(stored), lines(now)
    if before == after:
        raw_a, raw_b = str(stored), str(now)
        at = next(
            (i for i, (a, b) in enumerate(zip(raw_a, raw_b, strict=False)) if a != b), min(len(raw_a), len(raw_b))
        )
        return [
            "the values read the same; the markup differs, first at character " + str(at) + ":",
            "- stored: " + repr(raw_a[max(0, at - 60) : at + 60]),
            "+ now:    " + repr(raw_b[max(0, at - 60) : at + 60]),
        ]
    diff = list(difflib.unified_diff(before, after, "stored", "now", n=2, lineterm=""))
    out = ["what changed in this output (- stored, + now):", *diff[2:]]
    if len(out) > limit:
        out = out[:limit] + [f"… {len(out) - limit} more lines"]
    return out
