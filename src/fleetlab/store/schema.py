"""The platform's schema, as facts Python uses: column widths, and the catalog to compare with.

fleetlab's databases must be usable by the real platform (RoninSTi/mti-monorepo) unchanged, so its
schema is the platform's, names and widths included. Two things live here:

- the widths of its varchar columns live in `fleetlab.model.tables.WIDTHS` (plain data, shared with
  spec validation and the platform's value rules);
- `describe(conn)`: the schema `public` of a database as plain data (columns with types, nullability
  and defaults in order; constraints; indexes; triggers; the trigger function's source), every table
  in it. `reference()` is that description for a database built by the platform's own node-pg-migrate
  migrations: its three tables and node-pg-migrate's `pgmigrations`, nothing else, so a table more or
  less in `public` is a difference. fleetlab's own tables live in their own schema
  (`model.tables.BOOKKEEPING_SCHEMA`), which is not described. `fleetlab check` and the tests compare
  against the reference.

Regenerate the reference from a database the platform's migrations built:
`uv run python -m fleetlab.store.schema postgresql://…/platform_db > src/fleetlab/store/platform_schema.json`.
"""

from __future__ import annotations

import json
import sys
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg


def describe(conn: psycopg.Connection) -> dict[str, Any]:
    """The schema `public` of `conn`'s database as JSON-able data, every table in it."""
    columns: dict[str, list[list[Any]]] = {}
    for table, name, typ, notnull, default in conn.execute(
        """
        SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid)
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY c.relname, a.attnum
        """
    ).fetchall():
        columns.setdefault(table, []).append([name, typ, notnull, default])

    def rows(query: str) -> list[list[Any]]:
        return [list(r) for r in conn.execute(query).fetchall()]

    constraints = rows(
        """
        SELECT c.relname, k.conname, pg_get_constraintdef(k.oid)
        FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public'
          AND k.contype <> 'n'  -- PostgreSQL 18 lists NOT NULL as constraints; columns say it already
        ORDER BY 1, 2
        """
    )
    indexes = rows("SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2")
    triggers = rows(
        """
        SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid)
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND NOT t.tgisinternal
        ORDER BY 1, 2
        """
    )
    functions = rows(
        """
        SELECT p.proname, pg_get_function_identity_arguments(p.oid), pg_get_function_result(p.oid),
               l.lanname, p.provolatile, p.prosrc
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
        WHERE n.nspname = 'public'
        ORDER BY 1, 2
        """
    )
    if not conn.autocommit:
        conn.rollback()
    return {
        "columns": columns,
        "constraints": constraints,
        "indexes": indexes,
        "triggers": triggers,
        "functions": functions,
    }


@cache
def reference() -> dict[str, Any]:
    """`describe()` of a database built by the platform's own migrations (packaged JSON)."""
    text = resources.files(__package__).joinpath("platform_schema.json").read_text(encoding="utf-8")
    return json.loads(text)


def differences(actual: dict[str, Any], expected: dict[str, Any] | None = None) -> list[str]:
    """What differs between two descriptions, one readable line each (empty when identical).

    A table missing (or renamed) is one line, and so is a table that is not the platform's: their
    constraints, indexes and triggers are not listed one by one as well.
    """
    expected = reference() if expected is None else expected
    out: list[str] = []
    whole: set[str] = set()  # tables reported as a whole
    for table in sorted(set(actual["columns"]) | set(expected["columns"])):
        a, e = actual["columns"].get(table), expected["columns"].get(table)
        if a is None or e is None:
            whole.add(table)
            out.append(
                f"table {table}: missing (dropped or renamed?), and with it its constraints, indexes and triggers"
                if a is None
                else f"table {table}: not in the platform schema"
            )
        elif a != e:
            a_by, e_by = {c[0]: c for c in a}, {c[0]: c for c in e}
            for name in sorted(set(a_by) | set(e_by)):
                if a_by.get(name) != e_by.get(name):
                    out.append(f"column {table}.{name}: {_col(a_by.get(name))}, platform: {_col(e_by.get(name))}")
            if [c[0] for c in a] == [c[0] for c in e] or set(a_by) != set(e_by):
                continue
            out.append(f"table {table}: column order differs from the platform's")
    for kind, one in (
        ("constraints", "constraint"),
        ("indexes", "index"),
        ("triggers", "trigger"),
        ("functions", "function"),
    ):
        a = {tuple(r[:2]): r for r in actual[kind]}
        e = {tuple(r[:2]): r for r in expected[kind]}
        for key in sorted(set(a) | set(e)):
            if kind != "functions" and key[0] in whole:
                continue
            label = f"{key[0]}({key[1]})" if kind == "functions" else ".".join(key)
            if key not in e:
                out.append(f"{one} {label}: not in the platform schema")
            elif key not in a:
                out.append(f"{one} {label}: missing")
            elif a[key] != e[key]:
                out.append(f"{one} {label}: {_what_differs(kind, a[key], e[key])}")
    return out


# the fields of a function's row in describe(), after its name and arguments
_FUNCTION_FIELDS = ("result type", "language", "volatility", "body")


def _what_differs(kind: str, a: list[Any], e: list[Any]) -> str:
    if kind != "functions":
        return "definition differs from the platform's"
    word = {"v": "VOLATILE", "s": "STABLE", "i": "IMMUTABLE"}.get  # provolatile
    fields = [
        "body differs from the platform's" if what == "body" else f"{what} {word(x, x)}, platform: {word(y, y)}"
        for what, x, y in zip(_FUNCTION_FIELDS, a[2:], e[2:], strict=False)
        if x != y
    ]
    return "; ".join(fields) or "definition differs from the platform's"


def _col(c: list[Any] | None) -> str:
    if c is None:
        return "absent"
    _, typ, notnull, default = c
    return f"{typ}{' NOT NULL' if notnull else ''}{f' DEFAULT {default}' if default else ''}"


def main(argv: list[str] | None = None) -> int:
    from ..dsn import DatabaseURL
    from .db import connect

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m fleetlab.store.schema DATABASE_URL  (prints describe() as JSON)", file=sys.stderr)
        return 2
    with connect(DatabaseURL.parse(args[0]), autocommit=True) as conn:
        print(render(describe(conn)))
    return 0


def render(description: dict[str, Any]) -> str:
    """A description as JSON with one row per line (reviewable diffs)."""

    def rows(items: list[Any], indent: str) -> str:
        return "[\n" + ",\n".join(indent + json.dumps(r, ensure_ascii=False) for r in items) + "\n" + indent[:-2] + "]"

    parts = []
    for key, value in description.items():
        if isinstance(value, dict):
            inner = ",\n".join(f"    {json.dumps(t)}: {rows(v, '      ')}" for t, v in value.items())
            parts.append(f"  {json.dumps(key)}: {{\n{inner}\n  }}")
        else:
            parts.append(f"  {json.dumps(key)}: {rows(value, '    ')}")
    return "{\n" + ",\n".join(parts) + "\n}"


if __name__ == "__main__":
    sys.exit(main())
