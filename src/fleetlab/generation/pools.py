"""Pools of Faker values per locale, and the fixed vocabularies generated rows pick from.

Per-row Faker calls are far too slow for millions of rows (about 290 µs a row), so Faker fills
small per-locale pools (companies, cities, streets, ...; each pool keyed by seed and locale) once,
and rows pick from them by keyed index.

Filling the pools of a fleet's locales takes 0.2-0.3 s each, and Faker's import 0.2 s more. Given a
folder (a reset gives FLEETLAB_HOME's `pools/`), a pool is kept there as JSON, named by its locale, seed
and a digest of what makes it (Faker's version, this module and `places`): the next plan of the same
seed reads it in a millisecond and never imports Faker. A file that does not read back as a pool is
made again.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, fields
from functools import cache, lru_cache
from pathlib import Path

import numpy as np
import polars as pl

from ..model.values import known_locales
from .places import Place, places

POOL_SIZE = 512
KEPT_POOLS = 64  # pool files a folder keeps (about 60 KB each): the most recently written

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
def pool(locale: str, seed: int, folder: Path | None = None) -> Pool:
    """The pools for `locale`: Faker seeded by (seed, locale), so they are keyed like the rows; read from
    `folder` when kept there, else made (and kept there, when a folder is given)."""
    if folder is None:
        return _made(locale, seed)
    path = folder / f"{locale}-{seed & 0xFFFFFFFFFFFFFFFF:x}-{_maker()}.json"
    kept = _read(path)
    if kept is not None and kept.locale == locale:
        return kept
    made = _made(locale, seed)
    _write(path, made)
    return made


_TEXT = ("companies", "domains", "cities", "streets", "postcodes", "timezones", "kinds")


def _read(path: Path) -> Pool | None:
    """The pool kept in `path`; None when there is none, or the file is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        columns = {name: pl.Series(data[name], dtype=pl.String) for name in _TEXT}
        columns |= {name: pl.Series(data[name], dtype=pl.Float64) for name in ("latitudes", "longitudes")}
        if any(len(c) != (len(data["kinds"]) if n == "kinds" else POOL_SIZE) for n, c in columns.items()):
            return None
        if not all(isinstance(data[k], str) for k in ("locale", "country", "country_code")):
            return None
        return Pool(locale=data["locale"], country=data["country"], country_code=data["country_code"], **columns)
    except (OSError, ValueError, KeyError, TypeError, pl.exceptions.PolarsError):
        return None


def _write(path: Path, made: Pool) -> None:
    """Keep `made` in `path` (written aside, then renamed: a reader sees the whole file or none). A folder
    that cannot be written costs the next plan its speed, never this one."""
    data = {f.name: getattr(made, f.name) for f in fields(made)}
    data = {k: v.to_list() if isinstance(v, pl.Series) else v for k, v in data.items()}
    aside = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # a new file of our own: never through a link or a file someone planted at that name
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(json.dumps(data, ensure_ascii=False))
        os.replace(aside, path)
        _prune(path.parent, path.name)
    except OSError:
        aside.unlink(missing_ok=True)


def _prune(folder: Path, written: str) -> None:
    """Remove the pools an older Faker or fleetlab made, and the least recently written beyond KEPT_POOLS."""
    current = f"-{_maker()}.json"
    files = []
    for f in folder.glob("*.json"):
        if f.name.endswith(current):
            files.append(f)
        else:
            f.unlink(missing_ok=True)
    files.sort(key=lambda f: (f.name != written, -f.stat().st_mtime))
    for f in files[KEPT_POOLS:]:
        f.unlink(missing_ok=True)


@cache
def _maker() -> str:
    """A digest of what makes a pool: Faker's version and the sources of this module and `places`."""
    from importlib import metadata

    from . import places as places_module

    digest = hashlib.blake2b(metadata.version("faker").encode(), digest_size=8)
    for source in (Path(__file__), Path(places_module.__file__)):
        digest.update(source.read_bytes())
    return digest.hexdigest()


def _made(locale: str, seed: int) -> Pool:
    """The pools for `locale`, made by Faker."""
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


def per_locale(locale_idx: np.ndarray, locales: list[str], seed: int, fn, folder: Path | None = None) -> pl.Series:
    """Apply `fn(pool, mask)` per locale and stitch the String results back in row order (the pools kept in
    `folder`, if given)."""
    out = pl.Series([None] * len(locale_idx), dtype=pl.String)
    if len(locale_idx) == 0:
        return out
    parts = []
    order = []
    for i, loc in enumerate(locales):
        rows = np.flatnonzero(locale_idx == i)
        if len(rows):
            parts.append(fn(pool(loc, seed, folder), rows))
            order.append(rows)
    values = pl.concat(parts)
    positions = np.concatenate(order)
    return values.gather(pl.Series(np.argsort(positions, kind="stable")))
