"""Pools of Faker values per locale, and the fixed vocabularies generated rows pick from.

Per-row Faker calls are far too slow for millions of rows (about 290 µs a row), so Faker fills
small per-locale pools (companies, cities, streets, ...; each pool keyed by seed and locale) once,
and rows pick from them by keyed index.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import polars as pl

from ..model.values import known_locales
from .places import Place, places

POOL_SIZE = 512

FACTORY_KINDS = {
    "en": ["Plant", "Assembly", "Facility", "Works", "Mill", "Fabrication Center"],
    "de": ["Werk", "Montagewerk", "Fertigung", "Produktionsstätte"],
    "fr": ["Usine", "Site de production", "Atelier"],
    "es": ["Planta", "Fábrica", "Centro de producción"],
    "it": ["Stabilimento", "Fabbrica", "Impianto"],
    "pt": ["Fábrica", "Planta", "Unidade Industrial"],
    "nl": ["Fabriek", "Productielocatie"],
    "ja": ["工場", "製作所", "事業所"],
    "zh": ["工厂", "制造基地", "生产基地"],
    "ko": ["공장", "생산기지"],
}
LINES = [
    "Press Line",
    "Paint Shop",
    "Body Shop",
    "Final Assembly",
    "CNC Cell",
    "Packaging",
    "Welding Cell",
    "Injection Molding",
    "Quality Lab",
    "Warehouse",
    "Boiler House",
    "Compressor Room",
    "Test Bench",
    "Stamping",
    "Machining",
    "Logistics Dock",
]
PROTOCOLS = (["opc-ua", "modbus-tcp", "mqtt", "profinet", "ethernet-ip"], [0.4, 0.25, 0.22, 0.08, 0.05])
ENVIRONMENTS = (["production", "staging", "test"], [0.85, 0.1, 0.05])
INDUSTRIES = [
    "automotive components",
    "food and beverage",
    "pharmaceuticals",
    "electronics",
    "plastics",
    "metal fabrication",
    "chemicals",
    "aerospace",
    "textiles",
    "packaging",
    "machinery",
    "energy",
]
PLANS = (["enterprise", "business", "team", "trial"], [0.3, 0.35, 0.25, 0.1])
HEX2 = pl.Series([f"{i:02x}" for i in range(256)])
MAC_VENDORS = ["00:1b:1b", "00:90:e8", "00:d0:c9", "00:30:de", "00:a0:45", "00:01:05"]  # Siemens, Moxa, Advantech, ...


@dataclass(frozen=True)
class Pool:
    """Faker values for one locale: coherent tuples, picked by keyed index."""

    locale: str
    companies: pl.Series
    domains: pl.Series
    cities: pl.Series  # city i is at (latitudes[i], longitudes[i]) in zone timezones[i]
    latitudes: pl.Series
    longitudes: pl.Series
    streets: pl.Series
    postcodes: pl.Series
    timezones: pl.Series
    kinds: pl.Series
    country: str
    country_code: str


@lru_cache(maxsize=32)
def pool(locale: str, seed: int) -> Pool:
    """The pools for `locale`: Faker seeded by (seed, locale), so they are keyed like the rows."""
    from faker import Faker

    fake = Faker(locale)
    fake.seed_instance(int.from_bytes(hashlib.blake2b(f"{seed}:{locale}".encode(), digest_size=8).digest(), "little"))

    def flat(text: str) -> str:
        return " ".join(text.split())

    companies = [flat(fake.company()) for _ in range(POOL_SIZE)]
    domains = [fake.domain_name() for _ in range(POOL_SIZE)]
    country_code = locale.split("_")[-1]
    zones = tuple(known_locales()[locale])
    # real places of the country, in a keyed order, so a city has true coordinates and time zone
    # (Faker's own city names are invented: "Lake Jessicaport" is nowhere)
    known = places(country_code, zones)
    if known:
        order = [fake.random.randrange(len(known)) for _ in range(POOL_SIZE)]
        shuffled = fake.random.sample(range(len(known)), len(known))
        # every place once before any repeats, then keyed picks
        picks = [known[shuffled[i]] if i < len(known) else known[order[i]] for i in range(POOL_SIZE)]
    else:  # a country no list knows a place of (none today; a test checks): invented cities, main zone
        picks = [Place(flat(fake.city()), None, None, zones[0]) for _ in range(POOL_SIZE)]  # type: ignore[arg-type]
    if locale.startswith("ja_"):  # Faker's ja_JP street_address is "<n> <surname> Street"
        streets = [f"{fake.town()}{fake.chome()}{fake.ban()}{fake.gou()}" for _ in range(POOL_SIZE)]
    else:
        streets = [flat(fake.street_address()) for _ in range(POOL_SIZE)]
    postcodes = [flat(fake.postcode()) for _ in range(POOL_SIZE)]
    try:
        country = fake.current_country()
    except (AttributeError, ValueError):
        country = country_code
    kinds = FACTORY_KINDS.get(locale.split("_")[0], FACTORY_KINDS["en"])
    return Pool(
        locale=locale,
        companies=pl.Series(companies, dtype=pl.String),
        domains=pl.Series(domains, dtype=pl.String),
        cities=pl.Series([p.name for p in picks], dtype=pl.String),
        latitudes=pl.Series([p.latitude for p in picks], dtype=pl.Float64),
        longitudes=pl.Series([p.longitude for p in picks], dtype=pl.Float64),
        streets=pl.Series(streets, dtype=pl.String),
        postcodes=pl.Series(postcodes, dtype=pl.String),
        timezones=pl.Series([p.timezone for p in picks], dtype=pl.String),
        kinds=pl.Series(kinds, dtype=pl.String),
        country=country,
        country_code=country_code,
    )


def per_locale(locale_idx: np.ndarray, locales: list[str], seed: int, fn) -> pl.Series:
    """Apply `fn(pool, mask)` per locale and stitch the String results back in row order."""
    out = pl.Series([None] * len(locale_idx), dtype=pl.String)
    if len(locale_idx) == 0:
        return out
    parts = []
    order = []
    for i, loc in enumerate(locales):
        rows = np.flatnonzero(locale_idx == i)
        if len(rows):
            parts.append(fn(pool(loc, seed), rows))
            order.append(rows)
    values = pl.concat(parts)
    positions = np.concatenate(order)
    return values.gather(pl.Series(np.argsort(positions, kind="stable")))
