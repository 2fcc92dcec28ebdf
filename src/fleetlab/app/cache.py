"""`fleetlab cache list` and `fleetlab cache clear`: the scenario cache's templates (fleetlab.store.cache)."""

from __future__ import annotations

import argparse

from ..store import cache, db
from ..store.config import Settings


def _admin(settings: Settings):
    return db.connect(db.maintenance(db.resolve(settings)), autocommit=True)


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:,.0f} MB" if n >= 1024 * 1024 else f"{n / 1024:,.0f} kB"


def _what(entry: cache.Entry) -> str:
    spec = entry.spec
    return f"{entry.scenario} (seed {spec.get('seed', '?')}, as of {spec.get('as_of', '?')})"


def cmd_cache_list(args: argparse.Namespace, settings: Settings) -> int:
    with _admin(settings) as admin:
        found = cache.entries(admin)
    if not found:
        print("the scenario cache is empty: a reset with --as-of keeps what it builds")
        return 0
    rows = [("template", "fleet", "size", "age", "last used", "hits", "build")]
    for e in found:
        rows.append((e.name, _what(e), _size(e.size), cache.age(e.created), f"{cache.age(e.last_used)} ago",
                     str(e.hits), f"{e.build_seconds:.1f} s"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
    total = sum(e.size for e in found)
    print(f"{len(found)} template(s), {_size(total)}; limits: {settings.cache_entries} templates, "
          f"{settings.cache_max_mb:,} MB (FLEETLAB_CACHE_ENTRIES, FLEETLAB_CACHE_MAX_MB)")
    return 0


def cmd_cache_clear(args: argparse.Namespace, settings: Settings) -> int:
    with _admin(settings) as admin:
        dropped = cache.clear(admin)
        left = cache.entries(admin)
    print(f"dropped {len(dropped)} template(s), {_size(sum(e.size for e in dropped))}")
    if left:
        print(f"{len(left)} template(s) in use by a clone right now were kept; run it again in a moment")
        return 1
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("cache", help="the scenario cache of built databases: list, clear")
    csub = p.add_subparsers(title="cache commands", metavar="ACTION", dest="action", required=True)
    q = csub.add_parser("list", help="the cached templates: fleet, size, age, last use, hits")
    q.set_defaults(func=cmd_cache_list)
    q = csub.add_parser("clear", help="drop every cached template")
    q.set_defaults(func=cmd_cache_clear)
