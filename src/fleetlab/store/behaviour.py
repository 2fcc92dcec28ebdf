"""How the platform's tables behave, beyond the shape `schema.describe` compares.

A hand change can leave every column, index and trigger definition as the platform's migrations
make them and still change what the tables do: a trigger disabled (`ALTER TABLE … DISABLE
TRIGGER`), a rule rewriting statements, row-level security or a policy hiding rows, an UNLOGGED
table that a crash empties, a table inheriting from one of them, the trigger function made SECURITY
DEFINER or given its own settings, a column's collation changing how names sort and compare.
`differences(conn)` lists each as one line naming the table, column, trigger or function, with the
statement that undoes it; empty when the tables behave as the platform's migrations leave them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..errors import shown
from ..model.tables import TABLES

if TYPE_CHECKING:
    import psycopg

_EVENTS = {"1": "SELECT", "2": "UPDATE", "3": "INSERT", "4": "DELETE"}
_FIRES = {
    "D": "is disabled",
    "R": "fires only in replica sessions (ENABLE REPLICA), so never for the platform",
    "A": "fires in replica sessions too (ENABLE ALWAYS)",
}
_ENFORCED = {
    "D": "is not enforced on {}: its triggers are disabled",
    "R": "is enforced on {} only in replica sessions, so never for the platform",
    "A": "is enforced on {} in replica sessions too",
}


def differences(conn: psycopg.Connection) -> list[str]:
    """Every way the platform's tables in `conn`'s database behave unlike the platform's, one line each."""
    from .schema import reference

    expected = reference()
    triggers = [name for _, name, _ in expected["triggers"]]
    functions = [name for name, *_ in expected["functions"]]
    tables = list(TABLES)
    return [
        *_triggers(conn, tables, triggers),
        *_rules(conn, tables),
        *_tables(conn, tables),
        *_policies(conn, tables),
        *_inheritance(conn, tables),
        *_functions(conn, functions),
        *_collations(conn, tables),
    ]


def _triggers(conn: psycopg.Connection, tables: list[str], platform: list[str]) -> list[str]:
    """The platform's triggers and the foreign keys' internal ones fire as created (tgenabled 'O')."""
    out = []
    keys_seen = set()
    for table, trigger, enabled, internal, constraint in conn.execute(
        """
        SELECT c.relname, t.tgname, t.tgenabled::text, t.tgisinternal, k.conname
        FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_constraint k ON k.oid = t.tgconstraint
        WHERE n.nspname = 'public' AND c.relname = ANY(%s) AND t.tgenabled <> 'O'
        ORDER BY 1, 2
        """,
        (tables,),
    ).fetchall():
        if internal and constraint is not None:
            if (table, constraint) not in keys_seen:
                keys_seen.add((table, constraint))
                enforced = _ENFORCED.get(enabled, "is enforced on {} unlike the platform's").format(_ident(table))
                out.append(
                    f"foreign key {_ident(constraint)} {enforced} (ALTER TABLE {_ident(table)} ENABLE TRIGGER ALL)"
                )
        elif trigger in platform:
            fires = _FIRES.get(enabled, "fires unlike the platform's")
            effect = ": updated_at no longer changes on UPDATE" if enabled in "DR" else ""
            out.append(
                f"trigger {_ident(trigger)} on {_ident(table)} {fires}{effect} "
                f"(ALTER TABLE {_ident(table)} ENABLE TRIGGER {_ident(trigger)})"
            )
    return out


def _rules(conn: psycopg.Connection, tables: list[str]) -> list[str]:
    """The platform's tables have no rules (a view's own _RETURN rule is not one of them)."""
    return [
        f"rule {_ident(rule)} on {_ident(table)} rewrites every {_EVENTS.get(event, event)}"
        f"{' (DO INSTEAD)' if instead else ''}{'' if enabled != 'D' else ', though disabled'} "
        f"(DROP RULE {_ident(rule)} ON {_ident(table)})"
        for table, rule, event, instead, enabled in conn.execute(
            """
            SELECT c.relname, r.rulename, r.ev_type::text, r.is_instead, r.ev_enabled::text
            FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relname = ANY(%s) AND r.rulename <> '_RETURN'
            ORDER BY 1, 2
            """,
            (tables,),
        ).fetchall()
    ]


def _tables(conn: psycopg.Connection, tables: list[str]) -> list[str]:
    """Row-level security off (enabled and forced), and every table logged."""
    out = []
    for table, secured, forced, persistence in conn.execute(
        """
        SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, c.relpersistence::text
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname = ANY(%s)
        ORDER BY 1
        """,
        (tables,),
    ).fetchall():
        t = _ident(table)
        if secured:
            out.append(
                f"row-level security is enabled on {t}: roles other than its owner see only the rows a policy "
                f"lets them (ALTER TABLE {t} DISABLE ROW LEVEL SECURITY)"
            )
        if forced:
            out.append(
                f"row-level security is forced on {t}: its owner too sees only the rows a policy lets it "
                f"(ALTER TABLE {t} NO FORCE ROW LEVEL SECURITY)"
            )
        if persistence != "p":
            out.append(
                f"table {t} is UNLOGGED: a crash empties it and replicas never get its rows "
                f"(ALTER TABLE {t} SET LOGGED)"
            )
    return out


def _policies(conn: psycopg.Connection, tables: list[str]) -> list[str]:
    """The platform's tables have no row-level security policies."""
    return [
        f"policy {_ident(policy)} on {_ident(table)}: filters rows whenever row-level security is on "
        f"(DROP POLICY {_ident(policy)} ON {_ident(table)})"
        for table, policy in conn.execute(
            """
            SELECT c.relname, p.polname
            FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relname = ANY(%s)
            ORDER BY 1, 2
            """,
            (tables,),
        ).fetchall()
    ]


def _inheritance(conn: psycopg.Connection, tables: list[str]) -> list[str]:
    """No table inherits from the platform's: a child's rows would show in the parent's queries."""
    return [
        f"table {shown(child, 70)} inherits from {_ident(parent)}: its rows show up in every query on "
        f"{_ident(parent)} (ALTER TABLE {shown(child, 70)} NO INHERIT {_ident(parent)})"
        for parent, child in conn.execute(
            """
            SELECT p.relname, c.oid::regclass::text
            FROM pg_inherits i
            JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON n.oid = p.relnamespace
            JOIN pg_class c ON c.oid = i.inhrelid
            WHERE n.nspname = 'public' AND p.relname = ANY(%s)
            ORDER BY 1, 2
            """,
            (tables,),
        ).fetchall()
    ]


def _functions(conn: psycopg.Connection, names: list[str]) -> list[str]:
    """The trigger function runs with the caller's rights and settings (its language is in the catalog check)."""
    out = []
    for name, args, definer, config in conn.execute(
        """
        SELECT p.proname, pg_get_function_identity_arguments(p.oid), p.prosecdef, p.proconfig
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND p.proname = ANY(%s)
        ORDER BY 1, 2
        """,
        (names,),
    ).fetchall():
        f = f"{_ident(name)}({args})"
        if definer:
            out.append(
                f"function {f} is SECURITY DEFINER: it runs with its owner's rights, the platform's with the "
                f"caller's (ALTER FUNCTION {f} SECURITY INVOKER)"
            )
        if config:
            out.append(
                f"function {f} sets {shown(', '.join(config), 120)} while it runs; the platform's sets nothing "
                f"(ALTER FUNCTION {f} RESET ALL)"
            )
    return out


def _collations(conn: psycopg.Connection, tables: list[str]) -> list[str]:
    """Every column compares and sorts with its type's collation (the database's default for text)."""
    return [
        f"column {_ident(table)}.{_ident(column)} sorts and compares with collation {_ident(collation)}, the "
        f"platform's with the database's default "
        f'(ALTER TABLE {_ident(table)} ALTER COLUMN {_ident(column)} TYPE {typ} COLLATE "default")'
        for table, column, typ, collation in conn.execute(
            """
            SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), co.collname
            FROM pg_attribute a
            JOIN pg_class c ON c.oid = a.attrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_type ty ON ty.oid = a.atttypid
            JOIN pg_collation co ON co.oid = a.attcollation
            WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname = ANY(%s)
              AND a.attnum > 0 AND NOT a.attisdropped AND a.attcollation <> ty.typcollation
            ORDER BY 1, a.attnum
            """,
            (tables,),
        ).fetchall()
    ]


def _ident(name: str) -> str:
    """A name as SQL writes it: quoted when it needs to be, and fit for one line."""
    if re.fullmatch(r"[a-z_][a-z0-9_$]*", name):
        return name
    return shown('"' + name.replace('"', '""') + '"', 70)
