"""Golden content digests: what every preset scenario generates, one digest per table, kept in
tests/fixtures/golden_digests.json so that a change of the generated data (a Faker, numpy or polars
upgrade, an edited generator) fails tests/test_golden.py naming the preset, the table and the columns.

Re-record on purpose, after checking that the change is wanted:

    uv run python scripts/record_digests.py

The rows come from the generator alone (`fleetlab.generation.fleets.generate`, no database), every preset at
AS_OF. A digest is SHA-256 over text written here by the standard library (`column_text`), never over
polars' own bytes: each column's values in generated row order as a JSON array (types kept apart,
timestamps as microseconds since the epoch in UTC), then the table's digest over the row count and the
columns' digests by sorted name; so only a change of the values, their types or the row order changes it.
The ciphertexts are left out (a fresh nonce on every load); the plaintext passwords, which are
deterministic, have a digest of their own (`gateway_passwords`). `large` is digested with OVERRIDES'
organization count: its first organizations, the very rows they have in the whole fleet (values are keyed
per entity). Its million gateways take about 10 s to generate and digest, its first 18 organizations 2 s.
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path
from typing import Any
from uuid import UUID

import polars as pl

from fleetlab.generation.fleets import generate
from fleetlab.model.fleet import Fleet
from fleetlab.model.scenarios import list_scenarios, load_scenario

COMMAND = "uv run python scripts/record_digests.py"
ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "golden_digests.json"
AS_OF = "2026-01-01T00:00:00Z"
TABLES = ("organizations", "factories", "gateways")
PASSWORDS = "gateway_passwords"
# 18 of large's 100 organizations: the first 18 cover its four locales (180,000 gateways, 900 factories)
OVERRIDES: dict[str, dict[str, Any]] = {"large": {"organizations": 18}}
LIBRARIES = ("faker", "numpy", "polars")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def column_text(values: list[object]) -> str:
    """A column's values (in row order) as canonical text: a JSON array written by the standard library,
    where the type of each value shows (1, 1.0, true, "1" and null all differ), floats are Python's
    shortest `repr` and text is quoted and escaped; timestamps become {"utc_us": microseconds since
    1970-01-01 UTC} (a zoneless one {"naive": its ISO text}), other types `{"<type>": text}`."""
    return json.dumps(values, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=_special)


def _special(value: object) -> dict[str, object]:
    """The JSON form of a value the json module does not write itself."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return {"naive": value.isoformat(timespec="microseconds")}
        return {"utc_us": (value - EPOCH) // MICROSECOND}
    if isinstance(value, date | time):
        return {type(value).__name__: value.isoformat()}
    if isinstance(value, timedelta):
        return {"us": value // MICROSECOND}
    if isinstance(value, UUID | Decimal | bytes):
        return {type(value).__name__.lower(): value.hex() if isinstance(value, bytes) else str(value)}
    raise TypeError(f"no canonical text for a {type(value).__name__} value: add one to {Path(__file__).name}")


def column_digests(columns: dict[str, list[object]], rows: int) -> dict[str, Any]:
    """The digest of a table given as column name -> values (in row order): the whole table's, over the
    row count and each column's digest by sorted name, and each column's, to name what changed."""
    per_column = {}
    for name in sorted(columns):
        values = columns[name]
        if len(values) != rows:
            raise ValueError(f"column {name} has {len(values)} values, not {rows}")
        per_column[name] = hashlib.sha256(column_text(values).encode()).hexdigest()
    whole = f"rows {rows}\n" + "".join(f"{name} {digest}\n" for name, digest in per_column.items())
    return {"rows": rows, "digest": hashlib.sha256(whole.encode()).hexdigest(), "columns": per_column}


def frame_digests(frame: pl.DataFrame) -> dict[str, Any]:
    """`column_digests` of a frame, but its password columns (ciphertexts are random; the plaintexts have
    their own digest)."""
    kept = [name for name in frame.columns if not name.startswith("password")]
    return column_digests({name: frame[name].to_list() for name in kept}, frame.height)


def plaintext_passwords(fleet: Fleet) -> list[str]:
    """The gateways' plaintext passwords in row order, as the loader encrypts them: the generator's
    `password` column (`Fleet.passwords`)."""
    return fleet.passwords.to_list()


def fleet_of(preset: str) -> Fleet:
    """The rows `preset` generates at AS_OF (with its OVERRIDES), from the generator alone."""
    return generate(load_scenario(preset).override(as_of=AS_OF, **OVERRIDES.get(preset, {})))


def fleet_digests(fleet: Fleet) -> dict[str, dict[str, Any]]:
    """Each table's digests, and the plaintext passwords'."""
    out = {table: frame_digests(fleet.frames()[table]) for table in TABLES}
    passwords = plaintext_passwords(fleet)
    out[PASSWORDS] = column_digests({"password": passwords}, len(passwords))
    return out


def libraries() -> dict[str, str]:
    return {name: version(name) for name in LIBRARIES}


def record() -> dict[str, Any]:
    """Every preset's digests, in the fixture's form."""
    return {
        "about": __doc__.split("\n\n")[0].replace("\n", " "),
        "command": COMMAND,
        "as_of": AS_OF,
        "recorded_with": libraries(),
        "presets": {
            preset: {"overrides": OVERRIDES.get(preset, {}), "tables": fleet_digests(fleet_of(preset))}
            for preset in list_scenarios()
        },
    }


def load() -> dict[str, Any]:
    """The recorded digests (the fixture)."""
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def differences(preset: str, recorded: dict[str, Any], computed: dict[str, dict[str, Any]]) -> list[str]:
    """One line per table of `preset` whose generated data differs from the recorded digests (`recorded`:
    the fixture), naming the columns that changed and the command that re-records; [] when all match."""
    entry = recorded["presets"].get(preset)
    if entry is None:
        return [f"preset {preset!r} has no recorded digests: record them with `{COMMAND}`"]
    if entry["overrides"] != OVERRIDES.get(preset, {}):
        return [
            f"preset {preset!r} was recorded with overrides {entry['overrides']}, not {OVERRIDES.get(preset, {})}: "
            f"re-record with `{COMMAND}`"
        ]
    now = libraries()
    versions = ", ".join(
        f"{name} {recorded['recorded_with'].get(name)}"
        + (f" (now {now[name]})" if now[name] != recorded["recorded_with"].get(name) else "")
        for name in LIBRARIES
    )
    out = []
    names = set(entry["tables"]) | set(computed)
    for table in [*(t for t in (*TABLES, PASSWORDS) if t in names), *sorted(names - {*TABLES, PASSWORDS})]:
        before, after = entry["tables"].get(table), computed.get(table)
        if before is not None and after is not None and before["digest"] == after["digest"]:
            continue
        if before is None or after is None:
            what = "is new" if before is None else "is no longer generated"
        else:
            columns = sorted(set(before["columns"]) | set(after["columns"]))
            changed = [c for c in columns if before["columns"].get(c) != after["columns"].get(c)]
            rows = (
                f"{after['rows']:,} rows as recorded"
                if before["rows"] == after["rows"]
                else f"{before['rows']:,} rows recorded, {after['rows']:,} now"
            )
            what = f"changed: column(s) {', '.join(changed) or '(none: row count)'}; {rows}"
        out.append(
            f"preset {preset!r}, table {table!r}: the generated data {what} (recorded with {versions}). "
            f"If the change is intended, re-record with `{COMMAND}` and commit {FIXTURE.relative_to(ROOT)}."
        )
    return out


def main() -> int:
    previous = load() if FIXTURE.exists() else {"presets": {}, "recorded_with": {}}
    fresh = record()
    for preset, entry in fresh["presets"].items():
        changed = [
            table
            for table, digests in entry["tables"].items()
            if previous["presets"].get(preset, {}).get("tables", {}).get(table, {}).get("digest") != digests["digest"]
        ]
        counts = ", ".join(f"{entry['tables'][t]['rows']:,} {t}" for t in TABLES)
        print(f"{preset:14} {counts}: {'changed ' + ', '.join(changed) if changed else 'unchanged'}")
    FIXTURE.write_text(json.dumps(fresh, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {FIXTURE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
