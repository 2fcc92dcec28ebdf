"""The real platform's rules for the values in a fleet: would its API and clients accept every row?

Ported from the platform's API schemas (zod 4: `backend/src/api/schemas/`), its acquisition
client's URL rule (`backend/src/config.ts`: `ws://` or `wss://` only; `new URL` refuses a port past
65535, and nothing listens on port 0) and its list queries (ordered by name, so names are distinct
within a factory). Widths come from `fleetlab.model.tables.WIDTHS`; `SQL_RULES` checks them too, for
a column someone widened by hand.

Each rule has a severity. An **error** is what the platform refuses or cannot work with: what its API's
zod schemas refuse (an id that is not an RFC UUID, a width, an empty name, an address or a URL zod does
not parse, metadata that is not an object). A **warning** is what only fleetlab's realism flags, for rows
the platform's API accepts: a URL its acquisition client will not dial (any scheme but ws:// and wss://,
port 0), names shared within a factory (its name-ordered pages then shift). `fleetlab check` exits 1 on
errors only and lists the warnings.

`problems(fleet)` returns one line per broken rule of either severity (with a count and an example),
empty when the platform would take every row and fleetlab would have written it; the tests run it over
every preset scenario.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import NamedTuple

import polars as pl

from .tables import TABLES, WIDTHS

# zod 4's z.string().uuid(): RFC 9562 versions 1-8 and the variant bits (or the nil / max UUID)
UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$"
# zod 4's z.string().email(), its two look-aheads (no leading dot, no "..") checked apart
EMAIL = r"^[A-Za-z0-9_'+\-\.]*[A-Za-z0-9_+-]@([A-Za-z0-9][A-Za-z0-9\-]*\.)+[A-Za-z]{2,}$"
# what the acquisition client connects to: ws/wss, a host name or IPv4 address, an optional port
# and path, no fragment (the `ws` library refuses one) and no white space
GATEWAY_URL = r"^wss?://[A-Za-z0-9]([A-Za-z0-9\-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9\-]*[A-Za-z0-9])?)*(:[0-9]{1,5})?(/[^\s#]*)?$"
EXAMPLES = 2


def _lit(pattern: str) -> str:
    """A SQL string literal (standard_conforming_strings: backslashes stay as they are)."""
    return "'" + pattern.replace("'", "''") + "'"


class Rule(NamedTuple):
    """One rule in SQL: rows of `table` where `bad` holds break it; `show` is the column quoted for them."""

    table: str
    what: str  # what is wrong with such a row
    bad: str
    show: str
    needs: tuple[str, ...]  # the columns `bad` and `show` read: a rule whose column is missing is skipped
    warning: bool = False  # the platform's API takes such a row; only fleetlab's realism flags it


# the port of a URL, when it has one (WHATWG URLs take 0-65535: beyond, `new URL` throws and zod refuses;
# 0 parses, but there is no port 0 to dial)
URL_PORT = r"^[A-Za-z][A-Za-z0-9+.\-]*://[^/:?#]+:([0-9]{1,6})([/?#]|$)"
# what zod 4's z.string().url() takes (`new URL(value)` parses it): a scheme, and for the special schemes
# (http, https, ws, wss, ftp) a host without white space
API_URL = r"^[A-Za-z][A-Za-z0-9+.\-]*:"
SPECIAL_WITHOUT_HOST = r"^(https?|wss?|ftp):(?!//[^/?#\s]*[^/?#\s:@][^/?#\s]*([/?#]|$))"
SQL_RULES: list[Rule] = [
    # the version nibble (1-8) and the variant bits (10), read from the bytes: no text conversion
    *(
        Rule(
            t,
            "id is not an RFC UUID",
            "NOT ((get_byte(uuid_send(id), 6) >> 4) BETWEEN 1 AND 8 AND (get_byte(uuid_send(id), 8) >> 6) = 2)",
            "id",
            ("id",),
        )
        for t in TABLES
    ),
    *(
        Rule(t, "metadata is not a JSON object", "jsonb_typeof(metadata) <> 'object'", "id", ("id", "metadata"))
        for t in TABLES
    ),
    # the API's limits are the widths, also in a column someone widened (ALTER COLUMN … TYPE text)
    *(
        Rule(t, f"{c} longer than {w} characters", f"char_length({c}::text) > {w}", c, (c,))
        for (t, c), w in WIDTHS.items()
    ),
    Rule("factories", "an empty name", "name = ''", "id", ("id", "name")),
    Rule("gateways", "an empty gateway_id or name", "gateway_id = '' OR name = ''", "id", ("id", "gateway_id", "name")),
    Rule(
        "gateways",
        "url is not a URL the API accepts",
        f"url !~ {_lit(API_URL)} OR lower(url) ~ {_lit(SPECIAL_WITHOUT_HOST)} OR url ~ '[[:space:]]'",
        "url",
        ("url",),
    ),
    Rule(
        "gateways",
        "a url whose port is above 65535",
        f"substring(url from {_lit(URL_PORT)})::int > 65535",
        "url",
        ("url",),
    ),
    Rule(
        "gateways",
        "url is not a ws:// or wss:// URL the acquisition client takes",
        f"url !~ {_lit(GATEWAY_URL)}",
        "url",
        ("url",),
        warning=True,
    ),
    Rule(
        "gateways",
        "a url whose port is 0 (nothing to dial)",
        f"substring(url from {_lit(URL_PORT)})::int = 0",
        "url",
        ("url",),
        warning=True,
    ),
    Rule(
        "gateways",
        "email is not an address the API accepts",
        f"email !~ {_lit(EMAIL)} OR email LIKE '.%' OR email LIKE '%..%'",
        "email",
        ("email",),
    ),
    Rule(
        "gateways",
        "a name another gateway of its factory has",
        "(factory_id, name) IN (SELECT factory_id, name FROM gateways GROUP BY 1, 2 HAVING count(*) > 1)",
        "name",
        ("factory_id", "name"),
        warning=True,
    ),
]


def problems(fleet) -> list[str]:
    """Every rule of the platform that a row of `fleet` (a Fleet of frames) breaks."""
    frames = fleet.frames()
    out: list[str] = []
    for table, frame in frames.items():
        out += _check(frame, table, pl.col("id").str.contains(UUID), "id is not an RFC UUID", "id")
        for (t, column), width in WIDTHS.items():
            if t == table:
                value = pl.col(column)
                out += _check(
                    frame,
                    table,
                    value.is_null() | (value.str.len_chars() <= width),
                    f"{column} longer than {width} characters",
                    column,
                )
        for column, dtype in frame.schema.items():
            if dtype == pl.String:
                out += _check(
                    frame,
                    table,
                    ~pl.col(column).fill_null("").str.contains("\x00", literal=True),
                    f"{column} holds a NUL character",
                    column,
                )
        out += _metadata(frame, table)
        out += _check(frame, table, pl.col("created_at") <= pl.col("updated_at"), "updated_at before created_at", "id")
    factories, gateways = frames["factories"], frames["gateways"]
    out += _check(factories, "factories", pl.col("name").str.len_chars() >= 1, "empty name", "id")
    out += _check(factories, "factories", pl.col("timezone").is_not_null(), "no timezone", "id")
    for column in ("gateway_id", "name", "url", "email"):
        out += _check(gateways, "gateways", pl.col(column).fill_null("").str.len_chars() >= 1, f"empty {column}", "id")
    out += _check(
        gateways,
        "gateways",
        pl.col("url").str.contains(GATEWAY_URL),
        "url is not a ws:// or wss:// URL the acquisition client takes",
        "url",
    )
    port = pl.col("url").str.extract(URL_PORT, 1).cast(pl.Int32)
    out += _check(gateways, "gateways", port.is_null() | (port <= 65535), "a url whose port is above 65535", "url")
    out += _check(gateways, "gateways", port.is_null() | (port != 0), "a url whose port is 0 (nothing to dial)", "url")
    email = pl.col("email")
    out += _check(
        gateways,
        "gateways",
        email.str.contains(EMAIL) & ~email.str.starts_with(".") & ~email.str.contains("..", literal=True),
        "email is not an address the API accepts",
        "email",
    )
    out += _duplicates(
        gateways.filter(pl.col("deleted_at").is_null()), ["gateway_id"], "active gateways share a gateway_id"
    )
    out += _duplicates(gateways, ["factory_id", "name"], "gateways of one factory share a name")
    out += _duplicates(factories, ["organization_id", "name"], "factories of one organization share a name")
    return out


def _check(frame: pl.DataFrame, table: str, ok: pl.Expr, what: str, show: str) -> list[str]:
    bad = frame.filter(~ok.fill_null(False)) if frame.height else frame
    if bad.height == 0:
        return []
    return [f"{table}: {bad.height:,} row(s) with {what}, e.g. {_examples(bad[show])}"]


def _metadata(frame: pl.DataFrame, table: str) -> list[str]:
    bad = [v for v in frame["metadata"].unique().to_list() if not _is_object(v)]
    return [f"{table}: {len(bad):,} metadata value(s) that are not JSON objects, e.g. {_examples(bad)}"] if bad else []


def _is_object(text: str | None) -> bool:
    try:
        return isinstance(json.loads(text), dict) if text is not None else False
    except ValueError:
        return False


def _duplicates(frame: pl.DataFrame, keys: list[str], what: str) -> list[str]:
    dup = frame.group_by(keys).len().filter(pl.col("len") > 1)
    if dup.height == 0:
        return []
    return [f"{what}: {dup.height:,} case(s), e.g. {_examples(dup[keys[-1]])}"]


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
