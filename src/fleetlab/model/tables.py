"""The three tables of the platform's schema, as facts the rest of fleetlab shares (plain data: importing it costs nothing).

- `TABLES`: organizations → factories → gateways, parents first (the order rows are loaded in);
- `WIDTHS`: the character limit of every varchar column (the platform's migrations), the one place
  spec validation, the platform's value rules and the schema comparison take their limits from;
- `BOOKKEEPING_SCHEMA`: the schema of fleetlab's own tables (its migration history and its marker), kept out of
  `public`. Not `fleetlab`: a schema named like the connecting role comes first in the default search_path
  (`"$user", public`), and compose.yaml's role is `fleetlab`; every unqualified CREATE TABLE, the platform's
  migrations' included, would land there.
"""

from __future__ import annotations

TABLES = ("organizations", "factories", "gateways")

# varchar(N) columns of the platform's schema: (table, column) → N
WIDTHS: dict[tuple[str, str], int] = {
    ("organizations", "name"): 255,
    ("factories", "name"): 255,
    ("factories", "location"): 500,
    ("factories", "timezone"): 100,
    ("gateways", "gateway_id"): 255,
    ("gateways", "name"): 255,
    ("gateways", "url"): 500,
    ("gateways", "email"): 255,
    ("gateways", "model"): 100,
    ("gateways", "firmware_version"): 50,
}

BOOKKEEPING_SCHEMA = "fleetlab_meta"  # fleetlab's migration history and marker
