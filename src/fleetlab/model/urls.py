"""The platform's rules for a gateway's url, as regular expressions PostgreSQL and polars both run.

Facts (RoninSTi/mti-monorepo at 991b05e: `backend/src/api/schemas/gateways.ts`, zod 4.3.6 as its lockfile
pins, Node 20's WHATWG `URL`; the verdicts are in tests/fixtures/platform_zod_verdicts.json):

- the API's `z.string().url()` trims the value (JavaScript's `trim`), takes it when `new URL` parses it, and
  stores the trimmed value. `new URL` deletes tabs and newlines anywhere and C0 controls and spaces at
  both ends; any scheme parses (`mailto:…`, `foo:bar`); the special schemes (http, https, ws, wss, ftp)
  need a host, skip any slashes and backslashes before it (`http:gw.example.com` parses), refuse a
  forbidden character in it (space, `<`, `]`, a `%` that decodes to one…), read a host that ends in a
  number as an IPv4 address (`1.2.3.256`, `gw.123`, `09.1.1.1` and a fifth part fail) and a port as
  digits up to 65535;
- the acquisition client (`backend/src/config.ts`) takes a URL that starts with `ws://` or `wss://`,
  case-sensitively, and its `ws` library refuses one with a fragment.

`API_REFUSES` flags only what `new URL` certainly refuses: what it misses (IDNA failures, octal or hex
IPv4 parts out of range, a `%` sequence that is not UTF-8) is not in the form fleetlab writes, so the
realism warning (`FORM`) lists it. The patterns use no look-around: the same text is a PostgreSQL ARE
and a Rust regex (polars).
"""

from __future__ import annotations

from typing import NamedTuple

import polars as pl

# what JavaScript's trim and the URL parser strip at both ends (NUL aside: PostgreSQL text holds none)
_EDGE = r"[\x01-\x20\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
SCHEME = r"^[A-Za-z][A-Za-z0-9+.-]*:"
SPECIAL = r"(?i)^(https?|wss?|ftp):"
SPECIAL_AUTHORITY = r"(?i)^(?:https?|wss?|ftp):[/\\]*([^/\\?#]*)"
OTHER_AUTHORITY = r"^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)"
HOST = r"^(\[[^\]]*\]?|[^:]*)"
PORT = r"^(?:\[[^\]]*\]?|[^:]*):(.*)$"
FORBIDDEN = r"[ <>\[\\\]^|\x01-\x1f\x7f]"
# a % not followed by two hex digits, or one that decodes to a forbidden character
BAD_PERCENT = r"%([^0-9A-Fa-f]|[0-9A-Fa-f][^0-9A-Fa-f]|[0-9A-Fa-f]?$)|%([01][0-9A-Fa-f]|2[035Ff]|3[AaCcEeFf]|40|5[B-Eb-e]|7[CcFf])"
_NUMBER = r"([0-9]+|0[xX][0-9A-Fa-f]*)"


def above(n: int) -> str:
    """A regex for the decimal numbers without leading zeros greater than `n`."""
    d = str(n)
    out = [f"[1-9][0-9]{{{len(d)},}}"]
    for i, digit in enumerate(d):
        if digit != "9":
            low = max(int(digit) + 1, 1 if i == 0 else 0)
            out.append(f"{d[:i]}[{low}-9]" + (f"[0-9]{{{len(d) - i - 1}}}" if i < len(d) - 1 else ""))
    return "|".join(out)


_IPV4_BAD = [
    ("h2", rf"^{_NUMBER}(\.{_NUMBER})*$", False),  # a part that is no number (or empty)
    ("h2", r"^[^.]*(\.[^.]*){4,}$", True),  # five parts or more
    ("h2", r"(^|\.)0[0-7]*[89][0-9]*(\.|$)", True),  # an octal part with 8 or 9
    ("h2", rf"(^|\.)({above(255)})\.", True),  # a part before the last above 255
    *(("h2", "^" + r"[^.]*\." * (parts - 1) + f"({above(256 ** (5 - parts) - 1)})$", True) for parts in (1, 2, 3, 4)),
]
_IPV4 = [("c", SPECIAL, True), ("h2", rf"(^|\.){_NUMBER}$", True)]  # a special URL's host that ends in a number

# the acquisition client dials it: ws:// or wss://, and no fragment
CLIENT = r"^wss?://[^#]*#?$"
# the form fleetlab writes: ws or wss, a host name or a dotted quad, an optional port and path
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
FORM = (
    rf"^wss?://({_OCTET}(\.{_OCTET}){{3}}|({_LABEL}\.)*[A-Za-z]([A-Za-z0-9-]*[A-Za-z0-9])?)(:[0-9]{{1,5}})?(/[^\s#]*)?$"
)


class UrlRule(NamedTuple):
    """A url breaks the rule when every (part, pattern, matches) of one of its conditions holds (a missing
    part holds nothing). Every url that breaks it passes `candidate`, a cheap test of the raw url: only
    those are parsed, so a fleet's usual urls cost one regex."""

    conditions: list[list[tuple[str, str, bool]]]
    candidate: tuple[str, bool]  # (pattern, matches)


API_REFUSES = UrlRule(
    [
        [("c", SCHEME, False)],
        [("c", SPECIAL, True), ("hp", r"^(:|$)", True)],  # no host
        [("h", r"^\[", False), ("h", FORBIDDEN, True)],
        [("c", SPECIAL, True), ("h", r"^\[", False), ("h", BAD_PERCENT, True)],
        [("h", r"^\[", True), ("hp", r"^\[[0-9A-Fa-f:.]+\](:|$)", False)],  # an IPv6 address
        [("p", r"[^0-9]", True)],
        *([*_IPV4, bad] for bad in _IPV4_BAD),
    ],
    (FORM, False),  # a url of fleetlab's form parses
)
# a port needs a ':' and digits (or a tab or newline the parser deletes, inside them)
PORT_ABOVE_65535 = UrlRule(
    [[("p", rf"^0*({above(65535)})$", True)]], (r"[\t\n\r]|:0*([6-9][0-9]{4}|[1-9][0-9]{5})", True)
)
PORT_ZERO = UrlRule([[("p", r"^0+$", True)]], (r"[\t\n\r]|:0+([^0-9]|$)", True))

# the scheme and what follows a URL's user name and password, or its query, shown instead (secrets)
_USERINFO = r"^([A-Za-z][A-Za-z0-9+.-]*:[/\\]*)[^/\\?#@]*@"
_QUERY = r"\?[^#]*"


def _lit(pattern: str) -> str:
    """A SQL string literal (standard_conforming_strings: backslashes stay as they are)."""
    return "'" + pattern.replace("'", "''") + "'"


# -- in SQL: one subquery that parses the url once, each rule's conditions over its columns --------


def _sql_parts(column: str) -> str:
    clean = f"regexp_replace(regexp_replace({column}, '[\\t\\n\\r]', '', 'g'), {_lit(f'^{_EDGE}+|{_EDGE}+$')}, '', 'g')"
    authority = (
        f"CASE WHEN c ~ {_lit(SPECIAL)} THEN substring(c from {_lit(SPECIAL_AUTHORITY)}) "
        f"ELSE substring(c from {_lit(OTHER_AUTHORITY)}) END"
    )
    return (
        f"(SELECT c, hp, h, p, regexp_replace(h, '\\.$', '') AS h2 FROM ("
        f"SELECT c, hp, substring(hp from {_lit(HOST)}) AS h, substring(hp from {_lit(PORT)}) AS p FROM ("
        f"SELECT c, regexp_replace({authority}, '^.*@', '') AS hp FROM (SELECT {clean} AS c) u0 OFFSET 0"
        f") u1 OFFSET 0) u2 OFFSET 0) u"
    )


def sql_breaks(rule: UrlRule, column: str = "t.url") -> str:
    """A SQL condition: the url in `column` breaks `rule` (API_REFUSES, PORT_ABOVE_65535, PORT_ZERO)."""
    ors = [
        "("
        + " AND ".join(f"coalesce(({part} ~ {_lit(pattern)}) = {str(m).lower()}, false)" for part, pattern, m in cond)
        + ")"
        for cond in rule.conditions
    ]
    pattern, m = rule.candidate
    candidate = f"{column} {'~' if m else '!~'} {_lit(pattern)}"
    return f"({candidate} AND EXISTS (SELECT 1 FROM {_sql_parts(column)} WHERE {' OR '.join(ors)}))"


def sql_masked(column: str = "t.url") -> str:
    """The url in `column` as a finding may quote it: no user name, password or query."""
    without_userinfo = f"regexp_replace({column}, {_lit(_USERINFO)}, '\\1***@')"
    return f"regexp_replace({without_userinfo}, {_lit(_QUERY)}, '?***')"


# -- in polars: the same parts as columns ------------------------------------------------------------


def frame_parts(url: pl.Expr) -> dict[str, pl.Expr]:
    """The parts the rules read (c, hp, h, p, h2), as expressions over a url column."""
    c = url.str.replace_all(r"[\t\n\r]", "").str.replace_all(f"^{_EDGE}+|{_EDGE}+$", "")
    authority = (
        pl.when(c.str.contains(SPECIAL))
        .then(c.str.extract(SPECIAL_AUTHORITY, 1))
        .otherwise(c.str.extract(OTHER_AUTHORITY, 1))
    )
    hp = authority.str.replace(r"^.*@", "")
    h = hp.str.extract(HOST, 1)
    return {"c": c, "hp": hp, "h": h, "p": hp.str.extract(PORT, 1), "h2": h.str.replace(r"\.$", "")}


def frame_breaks(rule: UrlRule, url: pl.Expr, parts: dict[str, pl.Expr]) -> pl.Expr:
    """True where the url breaks `rule` (null-free)."""
    out = pl.lit(False)
    for cond in rule.conditions:
        every = pl.lit(True)
        for part, pattern, m in cond:
            every = every & (parts[part].str.contains(pattern) == m).fill_null(False)
        out = out | every
    pattern, m = rule.candidate
    return (url.str.contains(pattern) == m).fill_null(False) & out


def frame_masked(url: pl.Expr) -> pl.Expr:
    return url.str.replace(_USERINFO, "${1}***@").str.replace(_QUERY, "?***")
