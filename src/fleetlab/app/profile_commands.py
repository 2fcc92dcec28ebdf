"""`fleetlab profile SOURCE_URL --output FILE`: a synthetic twin's scenario from a platform database's
aggregates; `--compare TWIN_URL`: how far a twin is from its source, distribution by distribution."""

from __future__ import annotations

import argparse
import math
import sys
from datetime import UTC, datetime

from ..config import Settings
from ..errors import ConfigError
from .output import output_path, replace_with
from .parsers import command


def cmd_profile(args: argparse.Namespace, settings: Settings) -> int:
    from ..dsn import DatabaseURL
    from ..model import toml_text, twin
    from ..model.values import parse_as_of
    from ..store.survey import survey

    if not args.output and not args.compare:
        raise ConfigError("give --output FILE (the twin's scenario) or --compare TWIN_URL (distances to a twin).")
    if not (args.scale > 0 and math.isfinite(args.scale)) or args.scale > 1_000_000:
        raise ConfigError(f"--scale takes a number above 0 (e.g. 0.1 or 10), not {args.scale:g}.")
    if args.min_count < 1:
        raise ConfigError(f"--min-count takes a whole number of rows, 1 or more, not {args.min_count}.")
    problems: list[str] = []
    as_of = parse_as_of(args.as_of, "--as-of", problems) if args.as_of else datetime.now(UTC).replace(microsecond=0)
    if problems:
        raise ConfigError(problems[0])
    target = output_path(args.output, overwrite=args.overwrite, keep_out=[settings.home]) if args.output else None
    source = DatabaseURL.parse(args.source_url)
    print(f"reading the aggregates of {source.where} …", file=sys.stderr)
    found = survey(source, as_of, args.stale_after_hours)
    if target is not None:
        mapping = twin.scenario(found, scale=args.scale, min_count=args.min_count, seed=args.seed)
        text = toml_text.dumps(mapping, twin.header(mapping, args.output, args.min_count, args.scale))
        _check(text)
        replace_with(target, lambda out: out.write(text.encode("utf-8")))
        counts = mapping["counts"]
        print(
            f"wrote {args.output}: a twin of {counts['organizations']:,} organizations in {len(mapping.get('tiers', []))} "
            f"tiers, from {found.totals['gateways']:,} gateways read as aggregates.\n"
            f"make it with: fleetlab reset --scenario {args.output} --yes"
        )
    if args.compare:
        _compare(found, DatabaseURL.parse(args.compare), as_of, args)
    return 0


def _check(text: str) -> None:
    """The written scenario must read back as a valid spec (a bug here is ours, not the user's)."""
    import tomllib

    from ..model.spec import FleetSpec

    FleetSpec.from_mapping(tomllib.loads(text), where="the profile's scenario")


def _compare(source, twin_url, as_of: datetime, args: argparse.Namespace) -> None:
    from ..model.distances import distances
    from ..store.survey import survey

    print(f"reading the aggregates of {twin_url.where} …", file=sys.stderr)
    twin = survey(twin_url, as_of, args.stale_after_hours)
    found = distances(source, twin, scale=args.scale, min_count=args.min_count)
    width = max(len(d.name) for d in found)
    print(f"{'distribution':<{width}}  {'source':>12}  {'twin':>12}  distance  goal")
    for d in found:
        mark = "" if d.ok else "  ← beyond the goal"
        print(f"{d.name:<{width}}  {_number(d.source):>12}  {_number(d.twin):>12}  {d.distance:8.4f}  {d.goal:g}{mark}")
    bad = [d for d in found if not d.ok]
    print(f"{len(found) - len(bad)} of {len(found)} distributions within their goal (shares ≤ 0.03, sizes ≤ 10 %).")


def _number(x: float) -> str:
    return f"{round(x):,}" if abs(x - round(x)) < 1e-9 else f"{x:,.4g}" if abs(x) < 1000 else f"{x:,.0f}"


def register(sub) -> None:
    p = command(
        sub,
        "profile",
        "write the scenario of a synthetic twin of a platform database, reading only aggregates",
        "fleetlab profile postgresql://reader@prod-replica/platform --as-of 2026-01-01T00:00:00Z --output twin.toml",
        'fleetlab profile postgresql://reader@prod-replica/platform --as-of 2026-01-01T00:00:00Z --compare "$(fleetlab db url)"',
    )
    p.add_argument(
        "source_url",
        metavar="SOURCE_URL",
        help="the platform database to profile (read only; a role with SELECT on its three tables is enough; "
        "the password may come from PGPASSWORD or ~/.pgpass instead of the URL)",
    )
    p.add_argument("--output", "-o", metavar="FILE", help="where to write the twin's scenario (TOML)")
    p.add_argument("--as-of", metavar="TIME", help="the moment statuses are measured against (ISO-8601; default: now)")
    p.add_argument(
        "--scale",
        type=float,
        default=1.0,
        metavar="F",
        help="multiply every factory's gateways by F, keeping tenants, factories and every share (default 1)",
    )
    p.add_argument(
        "--min-count",
        type=int,
        default=5,
        metavar="K",
        help="fold a value held by fewer than K rows into 'other' (default 5)",
    )
    p.add_argument("--seed", type=int, default=0, help="the twin's seed (default 0)")
    p.add_argument(
        "--stale-after-hours", type=float, default=24.0, metavar="H", help="when a gateway is stale (default 24)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
    p.add_argument("--compare", metavar="TWIN_URL", help="print the distances between the source and this twin")
    p.set_defaults(func=cmd_profile)
