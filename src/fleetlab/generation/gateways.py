"""Generated gateways, a chunk at a time: every value keyed by (organization, factory, index).

A chunk is any run of gateways of consecutive factories, so a loader can ask for fixed-size chunks
(through `FleetPlan.chunks`) and memory stays flat however large the fleet. Rows are the same
whatever the chunk size: each value depends only on the gateway's own key.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl

from ..model.fleet import GATEWAY_ROWS, PASSWORD
from ..model.spec import FleetSpec
from ..model.status import ONLINE_WITHIN
from . import shaped
from .columns import uuid_words, uuids
from .hashing import U64, child, draw, pick, unit, weighted
from .keyed import uuid_passwords
from .pools import ENVIRONMENTS, HEX2, LINES, MAC_VENDORS, PROTOCOLS
from .times import DAY_US, created, deleted_mask, soft_deleted, times, timestamps, us

STALE_MAX_DAYS = 90  # stale gateways were last seen between the threshold and this long ago
WSS_SHARE = 0.2  # gateways reached through a TLS endpoint (wss://host); the rest ws://<ip>:5000 on the plant LAN


def gateway_keys(
    parents: dict[str, np.ndarray], first: np.ndarray, count: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rep, g, keys) of gateways first .. first + count - 1 of each factory in `parents`: each
    gateway's factory (an index into `parents`' arrays), its index in the factory, and its key."""
    total = int(count.sum())
    rep = np.repeat(np.arange(len(count)), count)
    g = first[rep] + np.arange(total) - np.repeat(np.cumsum(count) - count, count)
    return rep, g, child(parents["keys"][rep], g, "gateway")


def deleted_gateways(spec: FleetSpec, parents: dict[str, np.ndarray], factories_at_once: int = 5_000) -> int:
    """How many of the gateways of `parents` are soft-deleted, from their keys alone (no rows made),
    `factories_at_once` factories at a time."""
    n = parents["n_gateways"]
    deleted = 0
    for a in range(0, len(n), factories_at_once):
        part = {k: v[a : a + factories_at_once] for k, v in parents.items()}
        count = n[a : a + factories_at_once]
        rep, g, keys = gateway_keys(part, np.zeros_like(count), count)
        gone = (
            shaped.spaced(part["keys"][rep], g, spec.deleted_gateways)
            if spec.shape
            else deleted_mask(keys, spec.deleted_gateways)
        )
        deleted += int(gone.sum())
    return deleted


def gateways(
    spec: FleetSpec,
    parents: dict[str, np.ndarray],
    first: np.ndarray,
    count: np.ndarray,
    factories: pl.DataFrame,
    org_domains: pl.Series,
) -> pl.DataFrame:
    """Gateways first .. first + count - 1 of each factory in `parents` (the plan's per-factory arrays),
    finished: each with its plaintext password too (`GATEWAY_ROWS`)."""
    total = int(count.sum())
    if total == 0:
        return pl.DataFrame(schema=GATEWAY_ROWS)
    rep, g, keys = gateway_keys(parents, first, count)
    ids = child(parents["ids"][rep], g, "gateway")
    org = parents["org"][rep]
    fac = parents["idx"][rep]
    frow = parents["factory_row"][rep]
    id_hi, id_lo = uuid_words(ids)

    as_of_us = us(spec.as_of)
    hour, day = 3_600_000_000, DAY_US
    threshold = int(spec.stale_after_hours * hour)
    online_us = ONLINE_WITHIN // timedelta(microseconds=1)  # "online": seen within this of as_of (model.status)

    shape = spec.shape
    # a twin's categories by even draws over the gateways' places in the fleet (`shaped.Even`)
    even = shaped.Even(parents["start"][rep] + g, spec.seed) if shape else None
    # last seen: online / recent / stale / never, in proportions of the spec
    u = unit(keys, "seen") if even is None else even.unit("seen")
    t = unit(keys, "seen_at")
    c1 = spec.online
    c2 = c1 + spec.stale
    c3 = c2 + spec.never_seen
    online = u < c1
    stale = (u >= c1) & (u < c2)
    never = (u >= c2) & (u < c3)
    recent_span = max(threshold - online_us, 1)
    stale_span = max(STALE_MAX_DAYS * day - threshold, 1)
    ago = np.where(
        online,
        (t * online_us).astype(np.int64),
        np.where(
            stale, threshold + 1 + (t * stale_span).astype(np.int64), online_us + (t * recent_span).astype(np.int64)
        ),
    )
    if shape.silence:
        spans = {"online": (0.0, c1), "stale": (c1, c2), "recent": (c3, 1.0)}  # of u, as drawn above
        limits = {"online": (0, online_us - 1), "recent": (online_us, threshold), "stale": (threshold + 1, 1 << 62)}
        ago = shaped.silences(shape, even, u, spans, ago, limits)
    # a twin's factories each lose their share exactly (`shaped.spaced`); else a keyed share of all
    chosen = shaped.spaced(parents["keys"][rep], g, spec.deleted_gateways) if shape else None
    deleted, deleted_at = soft_deleted(keys, spec.deleted_gateways, as_of_us, chosen)
    # a soft-deleted gateway may be the predecessor of the next one on its line: same device id.
    # Active gateways always carry their own (org, factory, index) id, so they stay unique.
    reuse = (
        deleted & (g > 0) & ((unit(keys, "reuse") if even is None else even.unit("reuse")) < spec.reused_gateway_ids)
    )
    gid_index = g - reuse.astype(np.int64)

    if shape.pairs:
        model_names, model, fw_names, firmware = shaped.pairs(shape, even)
    else:
        model_names = [m for m, _ in spec.models]
        fw_names = [f for f, _ in spec.firmware]
        model = weighted(keys, "model", [w for _, w in spec.models])
        firmware = weighted(keys, "firmware", [w for _, w in spec.firmware])
    protocol = weighted(keys, "protocol", PROTOCOLS[1])
    env = weighted(keys, "environment", ENVIRONMENTS[1])
    line = pick(keys, "line", len(LINES))
    h_ip = draw(keys, "ip")
    h_mac = draw(keys, "mac")

    def octet(h: np.ndarray, shift: int) -> np.ndarray:
        return ((h >> U64(shift)) & U64(255)).astype(np.int64)

    # numbers stay numbers here; every text column is made in one pass by the select below
    frame = pl.DataFrame(
        {
            "id": uuids(id_hi, id_lo),
            # keyed by the seed and the row's UUID (its 16 bytes, before they are text)
            PASSWORD: uuid_passwords(spec.seed, id_hi, id_lo),
            "factory_id": factories["id"].gather(frow),
            "site": factories["name"].gather(frow),
            "org": org,
            "fac": fac,
            "gid_index": gid_index,
            "line": pl.Series(LINES).gather(line),
            "slug": pl.Series([x.lower().replace(" ", "-") for x in LINES]).gather(line),
            "n": g + 1,
            "domain": org_domains.gather(org),
            "model": pl.Series(model_names, dtype=pl.String).gather(model),
            "firmware_version": pl.Series(fw_names, dtype=pl.String).gather(firmware),
            "last_seen_at": timestamps(as_of_us, ago, ~never),
            "protocol": pl.Series(PROTOCOLS[0]).gather(protocol),
            "env": pl.Series(ENVIRONMENTS[0]).gather(env),
            "ip1": octet(h_ip, 8),
            "ip2": octet(h_ip, 16),
            "ip3": ((h_ip >> U64(24)) % U64(253)).astype(np.int64) + 1,
            "vendor": pl.Series(MAC_VENDORS).gather(model % len(MAC_VENDORS)),
            "mac1": HEX2.gather(octet(h_mac, 0)),
            "mac2": HEX2.gather(octet(h_mac, 8)),
            "mac3": HEX2.gather(octet(h_mac, 16)),
            "wss": pl.Series(unit(keys, "tls") < WSS_SHARE),
            **({"scheme": shaped.schemes(shape, even)} if shape.url_schemes else {}),
            **times(created(parents["created_us"][rep], keys), deleted_at),
        }
    )

    def digits(name: str, width: int) -> pl.Expr:
        return pl.col(name).cast(pl.String).str.zfill(width)

    frame = frame.with_columns(
        pl.concat_str(
            pl.lit("GW-"), digits("org", 4), pl.lit("-"), digits("fac", 3), pl.lit("-"), digits("gid_index", 4)
        ).alias("gid"),
        pl.format("10.{}.{}.{}", "ip1", "ip2", "ip3").alias("ip"),
        pl.concat_str("vendor", pl.lit(":"), "mac1", pl.lit(":"), "mac2", pl.lit(":"), "mac3").alias("mac"),
        digits("n", 3),
    )
    lower = pl.col("gid").str.to_lowercase()
    # the platform's acquisition client takes only ws:// and wss:// URLs
    url = (
        pl.when("wss")
        .then(pl.concat_str(pl.lit("wss://"), lower, pl.lit("."), "domain"))
        .otherwise(pl.concat_str(pl.lit("ws://"), "ip", pl.lit(":5000")))
    )
    if shape.url_schemes:  # a host name behind TLS, the LAN address without
        host = pl.col("scheme").is_in(["wss", "https"])
        url = pl.concat_str(
            "scheme",
            pl.lit("://"),
            pl.when(host)
            .then(pl.concat_str(lower, pl.lit("."), "domain"))
            .otherwise(pl.concat_str("ip", pl.lit(":5000"))),
        )
    # every value comes from a fixed list or is digits/hex: no JSON escaping needed, and
    # formatting is about three times faster than struct.json_encode on the hot path
    meta = pl.format(
        '{{"protocol":"{}","ip":"{}","mac":"{}","line":"{}","tags":["{}","{}","{}"]}}',
        "protocol",
        "ip",
        "mac",
        "line",
        "protocol",
        "slug",
        "env",
    )
    if shape.metadata_of("gateways"):
        known = {k: pl.format('"{}"', k) for k in ("protocol", "ip", "mac", "line")}
        known["tags"] = pl.format('["{}","{}","{}"]', "protocol", "slug", "env")
        extra, meta = shaped.metadata(shape, "gateways", keys, even, known)
        frame = frame.with_columns(**extra)
    return frame.select(
        "id",
        "factory_id",
        pl.col("gid").alias("gateway_id"),
        # distinct within the factory (the number), and rarely shared across the fleet (the site):
        # the platform pages its gateway lists ordered by name
        pl.concat_str("site", pl.lit(" "), "line", pl.lit(" "), "n", pl.lit(" Gateway")).alias("name"),
        url.alias("url"),
        pl.concat_str(lower, pl.lit("@"), "domain").alias("email"),
        "model",
        "firmware_version",
        "last_seen_at",
        meta.alias("metadata"),
        "created_at",
        "updated_at",
        "deleted_at",
        PASSWORD,
    )
