"""`fleetlab cache list` and `fleetlab cache clear`: the scenario cache's templates (fleetlab.store.cache)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..config import Settings
from ..dsn import DatabaseURL
from .parsers import command

if TYPE_CHECKING:
    from ..store import cache


def _open(settings: Settings, url: DatabaseURL):
    from ..store import cache, db

    admin = db.connect(db.maintenance(url), autocommit=True)
    return admin, cache.Cache(admin, cache.Seal.load(settings.home, create=False))


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:,.0f} MB" if n >= 1024 * 1024 else f"{n / 1024:,.0f} kB"


def _what(entry: cache.Entry) -> str:
    spec = entry.spec
    return f"{entry.scenario} (seed {spec.get('seed', '?')}, as of {spec.get('as_of', '?')})"


def _table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())


def cmd_cache_list(args: argparse.Namespace, settings: Settings) -> int:
    from ..store import cache, db

    url = db.resolve(settings)
    admin, templates = _open(settings, url)
    with admin:
        found = templates.entries()
    ours = [e for e in found if e.ours]
    others = [e for e in found if not e.ours]
    print(f"scenario cache on {url.where}, as {templates.role}")
    if not ours:
        print("no templates of ours: a reset with --as-of keeps what it builds")
    else:
        rows = [("template", "fleet", "kept by", "size", "age", "last used", "hits", "build")]
        for e in ours:
            if e.unfinished:
                rows.append(
                    (
                        e.name,
                        "(unfinished: a keep was interrupted; the next clear drops it)",
                        "",
                        _size(e.size),
                        "",
                        "",
                        "",
                        "",
                    )
                )
                continue
            rows.append(
                (
                    e.name,
                    _what(e),
                    e.origin,
                    _size(e.size),
                    cache.age(e.created),
                    f"{cache.age(e.last_used)} ago",
                    str(e.hits),
                    f"{e.build_seconds:.1f} s",
                )
            )
        _table(rows)
        total = sum(e.size for e in ours)
        print(
            f"{len(ours)} template(s), {_size(total)}; limits: {settings.cache_entries} templates, "
            f"{settings.cache_max_mb:,} MB (FLEETLAB_CACHE_ENTRIES, FLEETLAB_CACHE_MAX_MB), counted apart for "
            "resets and for the pytest plugin"
        )
    if others:
        print(f"not ours: {len(others)} database(s) named like templates, never served nor dropped by fleetlab")
        _table([("database", "owner", "why")] + [(e.name, e.owner, e.problem) for e in others])
    return 0


def cmd_cache_clear(args: argparse.Namespace, settings: Settings) -> int:
    from ..store.reset import target

    url = target(settings)  # the remote-host guard of a reset: clear drops databases too
    admin, templates = _open(settings, url)
    from ..store import db, runs

    with admin:
        dropped = templates.clear()
        left = templates.entries()
        tests = runs.clear(admin, templates.seal, db.maintenance(url))
    print(f"dropped {len(dropped)} template(s), {_size(sum(e.size for e in dropped))} on {url.where}")
    if tests:
        print(f"dropped {len(tests)} test database(s): left by killed test runs, or kept after a failure")
    others = [e for e in left if not e.ours]
    if others:
        print(f"kept {len(others)} database(s) named like templates that are not ours (`fleetlab cache list` says why)")
    if any(e.ours for e in left):
        print(
            f"{sum(e.ours for e in left)} template(s) in use by a clone right now were kept; run it again in a moment"
        )
        return 1
    return 0


def register(sub) -> None:
    p = command(sub, "cache", "the scenario cache of built databases: list, clear", "fleetlab cache list")
    actions = p.add_subparsers(title="cache commands", metavar="ACTION", dest="action", required=True)
    q = command(
        actions,
        "list",
        "the cached templates: fleet, size, age, last use, hits; and what is not ours",
        "fleetlab cache list",
    )
    q.set_defaults(func=cmd_cache_list)
    q = command(actions, "clear", "drop every cached template of ours", "fleetlab cache clear")
    q.set_defaults(func=cmd_cache_clear)
