"""The real platform's rules for the values in a fleet: would its API and clients accept every row?

Ported from RoninSTi/mti-monorepo at 991b05e (zod 4.3.6, as its lockfile pins): the API's schemas
(`backend/src/api/schemas/`: what POST and PUT take, and the response schemas every GET goes through),
its acquisition client's URL rule (`backend/src/config.ts`) and its list queries (ordered by name).
The URL rules are in `fleetlab.model.urls`; tests/fixtures/platform_zod_verdicts.json holds the
verdicts of the platform's own schemas these rules are tested against.

Each rule has a severity.

An **error** is what the platform refuses or cannot work with:
- an id zod's `uuid()` refuses (RFC 9562 versions 1-8 and the variant bits, or the nil or max UUID):
  the response schemas check every id, so one such row makes every list holding it answer 500;
- metadata that is not a JSON object (the schemas' `z.record`), but for null, false, 0 and "", which the
  routes serve as `{}` (`metadata || {}`);
- a timestamp the API cannot serve: infinite, or outside the years 1 BC-9999 (`toISOString` then gives
  no 4-digit year, which the responses' `datetime()` refuses: 500, measured);
- a value longer than the API's `max`, counted as JavaScript counts (UTF-16 code units: an emoji
  counts 2), and a value longer than its column where the API has no limit (a widened column);
- an empty name or gateway_id (`min(1)`), an address zod's `email()` refuses, a url `new URL` refuses
  (no scheme, no host, a bad host or port, a port above 65535).
A **warning** is what only fleetlab's realism flags, in rows the platform's API accepts: a url the
acquisition client will not dial (not ws:// or wss://, a fragment), one it would dial but fleetlab would
not write (IPv6, a space in the path, an octal address…), port 0 (nothing listens there), names shared within a factory or an organization (the
platform's name-ordered pages then shift), falsy metadata the API shows as `{}`, organizations'
metadata that is not an object (nothing in the platform reads it), updated_at before created_at.
`fleetlab check` exits 1 on errors only and lists the warnings.

`problems(fleet)` returns one line per broken rule (with a count and an example; a warning's line starts
with "warning: "), empty when the platform would take every row and fleetlab would have written it; the
tests run it over every preset scenario.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Literal, NamedTuple

import polars as pl

from . import urls
from .tables import TABLES, WIDTHS

Severity = Literal["error", "warning"]
ERROR: Severity = "error"
WARNING: Severity = "warning"

# zod 4.3.6's z.string().uuid()
UUID = (
    r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}"
    r"|00000000-0000-0000-0000-000000000000|ffffffff-ffff-ffff-ffff-ffffffffffff)$"
)
# zod 4.3.6's z.string().email(), its two look-aheads (no leading dot, no "..") checked apart
EMAIL = r"^[A-Za-z0-9_'+\-\.]*[A-Za-z0-9_+-]@([A-Za-z0-9][A-Za-z0-9\-]*\.)+[A-Za-z]{2,}$"
# the columns the API's schemas give a max (in UTF-16 code units): the same numbers as the columns' widths
API_MAX = [
    ("factories", "name"),
    ("factories", "location"),
    *(("gateways", c) for c in ("gateway_id", "name", "url", "email", "model", "firmware_version")),
]
SERVED_TIMES = {"factories": ("created_at", "updated_at"), "gateways": ("created_at", "updated_at", "last_seen_at")}
FALSY_JSON = ("null", "false", "0", '""')  # metadata the routes serve as {}
ASTRAL = r"[\U00010000-\U0010FFFF]"  # a character JavaScript counts twice
EXAMPLES = 2


def _lit(pattern: str) -> str:
    """A SQL string literal (standard_conforming_strings: backslashes stay as they are)."""
    return "'" + pattern.replace("'", "''") + "'"


class Rule(NamedTuple):
    """One rule in SQL: rows of `table` (as t) where `bad` holds break it; `show` is quoted for them."""

    table: str
    what: str  # what is wrong with such a row
    bad: str
    show: str  # an SQL expression over t
    needs: tuple[str, ...]  # the columns `bad` and `show` read: a rule whose column is missing is skipped
    severity: Severity = ERROR


def _too_long(column: str, width: int, utf16: bool) -> str:
    value = f"t.{column}::text"
    if not utf16:
        return f"char_length({value}) > {width}"
    # cheap first: only a value over half the limit can be over it in UTF-16
    astral = f"char_length(regexp_replace({value}, {_lit('[^' + ASTRAL[1:])}, '', 'g'))"
    return f"char_length({value}) > {width // 2} AND char_length({value}) + {astral} > {width}"


_FALSY = ", ".join(f"'{v}'::jsonb" for v in FALSY_JSON)
_SHARED = "(t.{p}, t.name) IN (SELECT {p}, name FROM {table} GROUP BY 1, 2 HAVING count(*) > 1)"
_URL = urls.sql_masked()
SQL_RULES: list[Rule] = [
    # the version nibble (1-8) and the variant bits (10), read from the bytes: no text conversion
    *(
        Rule(
            t,
            "id is not an RFC UUID",
            "NOT ((get_byte(uuid_send(t.id), 6) >> 4) BETWEEN 1 AND 8 AND (get_byte(uuid_send(t.id), 8) >> 6) = 2"
            " OR t.id IN ('00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff'))",
            "t.id",
            ("id",),
        )
        for t in TABLES
    ),
    *(
        Rule(
            t,
            "metadata is not a JSON object",
            f"jsonb_typeof(t.metadata) <> 'object' AND t.metadata NOT IN ({_FALSY})",
            "t.id",
            ("id", "metadata"),
        )
        for t in ("factories", "gateways")
    ),
    *(
        Rule(
            t,
            f"{c} outside the years 1 BC-9999 (the API cannot serve it)",
            f"NOT (t.{c} >= '0001-01-01 00:00:00+00 BC' AND t.{c} < '10000-01-01 00:00:00+00')",
            "t.id",
            ("id", c),
        )
        for t, columns in SERVED_TIMES.items()
        for c in columns
    ),
    *(
        Rule(t, f"{c} longer than {w} characters", _too_long(c, w, (t, c) in API_MAX), f"t.{c}", (c,))
        for (t, c), w in WIDTHS.items()
    ),
    Rule("factories", "an empty name", "t.name = ''", "t.id", ("id", "name")),
    Rule(
        "gateways",
        "an empty gateway_id or name",
        "t.gateway_id = '' OR t.name = ''",
        "t.id",
        ("id", "gateway_id", "name"),
    ),
    Rule("gateways", "url is not a URL the API accepts", urls.sql_breaks(urls.API_REFUSES), _URL, ("url",)),
    Rule("gateways", "a url whose port is above 65535", urls.sql_breaks(urls.PORT_ABOVE_65535), _URL, ("url",)),
    Rule(
        "gateways",
        "email is not an address the API accepts",
        f"t.email !~ {_lit(EMAIL)} OR t.email LIKE '.%' OR t.email LIKE '%..%'",
        "t.email",
        ("email",),
    ),
    # warnings: the API takes these rows
    Rule(
        "gateways",
        "url is not a ws:// or wss:// URL the acquisition client takes",
        f"t.url !~ {_lit(urls.CLIENT)}",
        _URL,
        ("url",),
        WARNING,
    ),
    Rule(
        "gateways",
        "url is not as fleetlab writes them (ws[s]://host[:port][/path])",
        f"t.url ~ {_lit(urls.CLIENT)} AND t.url !~ {_lit(urls.FORM)}",
        _URL,
        ("url",),
        WARNING,
    ),
    Rule(
        "gateways", "a url whose port is 0 (nothing to dial)", urls.sql_breaks(urls.PORT_ZERO), _URL, ("url",), WARNING
    ),
    Rule(
        "gateways",
        "a name another gateway of its factory has",
        _SHARED.format(p="factory_id", table="gateways"),
        "t.name",
        ("factory_id", "name"),
        WARNING,
    ),
    Rule(
        "factories",
        "a name another factory of its organization has",
        _SHARED.format(p="organization_id", table="factories"),
        "t.name",
        ("organization_id", "name"),
        WARNING,
    ),
    Rule(
        "organizations",
        "metadata is not a JSON object (the platform never reads it)",
        "jsonb_typeof(t.metadata) <> 'object'",
        "t.id",
        ("id", "metadata"),
        WARNING,
    ),
    *(
        Rule(
            t,
            'metadata null, false, 0 or "" (the API shows it as {})',
            f"t.metadata IN ({_FALSY})",
            "t.id",
            ("id", "metadata"),
            WARNING,
        )
        for t in ("factories", "gateways")
    ),
    *(
        Rule(
            t,
            "updated_at before created_at",
            "t.updated_at < t.created_at",
            "t.id",
            ("id", "created_at", "updated_at"),
            WARNING,
        )
        for t in TABLES
    ),
]


def problems(fleet, *, warnings: bool = True) -> list[str]:
    """Every rule of the platform that a row of `fleet` (a Fleet of frames) breaks: the errors, then
    (unless `warnings` is False) the warnings, each line starting with "warning: "."""
    found = findings(fleet)
    return [line for s, line in found if s == ERROR] + [
        f"warning: {line}" for s, line in found if s == WARNING and warnings
    ]


def findings(fleet) -> list[tuple[Severity, str]]:
    """(severity, line) for every rule a row of `fleet` breaks: the frame form of SQL_RULES."""
    frames = fleet.frames()
    out: list[tuple[Severity, str]] = []
    for table, frame in frames.items():
        out += _check(frame, table, pl.col("id").str.contains(UUID), "id is not an RFC UUID", "id")
        for (t, column), width in WIDTHS.items():
            if t == table:
                value = pl.col(column)
                length = value.str.len_chars()
                if (t, column) in API_MAX:
                    length = length + value.str.count_matches(ASTRAL)
                out += _check(
                    frame,
                    table,
                    value.is_null() | (length <= width),
                    f"{column} longer than {width} characters",
                    column,
                )
        for column, dtype in frame.schema.items():
            if dtype == pl.String:  # PostgreSQL refuses a NUL
                ok = ~pl.col(column).fill_null("").str.contains("\x00", literal=True)
                out += _check(frame, table, ok, f"{column} holds a NUL character", column)
        for column in SERVED_TIMES.get(table, ()):
            year = pl.col(column).dt.year()
            out += _check(
                frame,
                table,
                year.is_null() | year.is_between(0, 9999),
                f"{column} outside the years 1 BC-9999 (the API cannot serve it)",
                "id",
            )
        out += _metadata(frame, table)
        ok = pl.col("created_at") <= pl.col("updated_at")
        out += _check(frame, table, ok, "updated_at before created_at", "id", WARNING)
    factories, gateways = frames["factories"], frames["gateways"]
    out += _check(factories, "factories", pl.col("name").str.len_chars() >= 1, "empty name", "id")
    out += _check(factories, "factories", pl.col("timezone").is_not_null(), "no timezone", "id")
    for column in ("gateway_id", "name", "url", "email"):
        out += _check(gateways, "gateways", pl.col(column).fill_null("").str.len_chars() >= 1, f"empty {column}", "id")
    url, parts = pl.col("url"), urls.frame_parts(pl.col("url"))
    out += _url(gateways, ~urls.frame_breaks(urls.API_REFUSES, url, parts), "url is not a URL the API accepts")
    out += _url(gateways, ~urls.frame_breaks(urls.PORT_ABOVE_65535, url, parts), "a url whose port is above 65535")
    email = pl.col("email")
    ok = email.str.contains(EMAIL) & ~email.str.starts_with(".") & ~email.str.contains("..", literal=True)
    out += _check(gateways, "gateways", ok, "email is not an address the API accepts", "email")
    active = gateways.filter(pl.col("deleted_at").is_null())
    out += _duplicates(active, ["gateway_id"], "active gateways share a gateway_id")
    client = url.str.contains(urls.CLIENT)
    out += _url(gateways, client, "url is not a ws:// or wss:// URL the acquisition client takes", WARNING)
    out += _url(
        gateways,
        ~client | url.str.contains(urls.FORM),
        "url is not as fleetlab writes them (ws[s]://host[:port][/path])",
        WARNING,
    )
    out += _url(
        gateways, ~urls.frame_breaks(urls.PORT_ZERO, url, parts), "a url whose port is 0 (nothing to dial)", WARNING
    )
    out += _duplicates(gateways, ["factory_id", "name"], "gateways of one factory share a name", WARNING)
    out += _duplicates(factories, ["organization_id", "name"], "factories of one organization share a name", WARNING)
    return out


def _check(
    frame: pl.DataFrame, table: str, ok: pl.Expr, what: str, show: str, severity: Severity = ERROR
) -> list[tuple[Severity, str]]:
    bad = frame.filter(~ok.fill_null(False)) if frame.height else frame
    if bad.height == 0:
        return []
    return [(severity, f"{table}: {bad.height:,} row(s) with {what}, e.g. {_examples(bad[show])}")]


def _url(gateways: pl.DataFrame, ok: pl.Expr, what: str, severity: Severity = ERROR) -> list[tuple[Severity, str]]:
    """A url rule: its examples quoted without user name, password or query."""
    shown = gateways.with_columns(shown=urls.frame_masked(pl.col("url"))) if gateways.height else gateways
    return _check(shown, "gateways", ok, what, "shown" if gateways.height else "url", severity)


def _metadata(frame: pl.DataFrame, table: str) -> list[tuple[Severity, str]]:
    values = [v for v in frame["metadata"].unique().to_list() if not _is_object(v)]
    falsy = [v for v in values if v is not None and _is_falsy(v)]
    bad = [v for v in values if v not in falsy]
    if table == "organizations":  # the platform never reads them
        bad, falsy = [], values
    out: list[tuple[Severity, str]] = []
    if bad:
        out.append((ERROR, f"{table}: {len(bad):,} metadata value(s) that are not JSON objects, e.g. {_examples(bad)}"))
    if falsy:
        out.append(
            (WARNING, f"{table}: {len(falsy):,} metadata value(s) that are not JSON objects, e.g. {_examples(falsy)}")
        )
    return out


def _is_object(text: str | None) -> bool:
    try:
        return isinstance(json.loads(text), dict) if text is not None else False
    except ValueError:
        return False


def _is_falsy(text: str) -> bool:
    try:
        value = json.loads(text)
    except ValueError:
        return False
    return value is None or value is False or value == "" or (type(value) in (int, float) and value == 0)


def _duplicates(
    frame: pl.DataFrame, keys: list[str], what: str, severity: Severity = ERROR
) -> list[tuple[Severity, str]]:
    dup = frame.group_by(keys).len().filter(pl.col("len") > 1)
    if dup.height == 0:
        return []
    return [(severity, f"{what}: {dup.height:,} case(s), e.g. {_examples(dup[keys[-1]])}")]


def _examples(values: Iterable) -> str:
    items = list(values)[:EXAMPLES]
    return ", ".join(repr(v if not isinstance(v, str) or len(v) <= 60 else v[:60] + "…") for v in items)


# where the original seed's factories are (their cities' WGS 84 coordinates): their rows keep the
# original's metadata exactly, so the explore notebook's map finds them by location instead
SEED_SITES = {
    "Building 3, Springfield, IL": (39.80172, -89.64371),
    "1200 Industrial Pkwy, Detroit, MI": (42.33143, -83.04575),
    "500 Tech Blvd, Austin, TX": (30.26715, -97.74306),
}
