"""`fleetlab export DIR [--shard K/N] [--format csv|parquet] [--overwrite]`: a fleet, or one part of it, as files
for COPY, with the psql script that loads them (load.sql)."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from ..config import Settings
from ..errors import ConfigError
from . import options
from .output import outside
from .parsers import command


def parse_shard(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d{1,6})\s*/\s*(\d{1,6})\s*", text or "")
    if not m or not text.isascii():
        raise ConfigError(f"--shard takes K/N, the K-th of N parts numbered from 0 (e.g. 0/4), not {text!r}.")
    k, n = int(m.group(1)), int(m.group(2))
    if not 1 <= n <= 100_000 or not 0 <= k < n:
        raise ConfigError(f"--shard {text}: N must be between 1 and 100000 and K between 0 and N-1.")
    return k, n


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from ..store.crypto import keyring_for
    from ..store.export import export, load_command, prepare
    from .progress import terminal_progress

    shard = parse_shard(args.shard) if args.shard is not None else None  # --shard "" is a mistake, not absent
    if not args.directory.strip():
        raise ConfigError("DIR is empty; give the folder to write the fleet's files into, e.g. /tmp/fleet.")
    fleet = options.fleet_for(args, shard)
    directory = Path(args.directory).expanduser()
    outside(args.directory, [settings.home])
    prepare(directory)  # a DIR that cannot be written is refused before a key file is made for it
    new_key = settings.key_file_missing
    keys = keyring_for(settings, create=True)
    with terminal_progress(sum(fleet.counts().values())) as progress:
        counts = export(fleet, keys, directory, args.format, overwrite=args.overwrite, progress=progress)
    part = f" (shard {shard[0]}/{shard[1]})" if shard else ""
    print(f"exported{part} to {directory}:")
    for table, n in counts.items():
        print(f"  {table:<14} {n:>10,} rows  {table}.{args.format}")
    print(f"  fleet.json: the scenario, the counts and how to load; passwords encrypted with key {keys.current_id}")
    if args.format == "csv":
        print(f"load it into $DATABASE_URL's database (from any folder): {load_command(directory.resolve())}")
    if new_key and settings.key_file.exists():
        print(
            f"created a new secret key in {settings.key_file} (mode 0600): the exported passwords decrypt only "
            "with it. Keep it, or set FLEETLAB_SECRET_KEY.",
            file=sys.stderr,
        )
    return 0


def register(sub) -> None:
    p = command(
        sub,
        "export",
        "write the fleet (or one shard of it) as CSV or Parquet files ready for COPY",
        "fleetlab export /tmp/fleet-0 --scenario multi-tenant --as-of 2026-01-01T00:00:00Z --shard 0/2",
    )
    p.add_argument(
        "directory",
        metavar="DIR",
        help="the folder to write organizations, factories, gateways, load.sql and fleet.json into",
    )
    options.add_arguments(p)
    p.add_argument("--shard", metavar="K/N", help="only the K-th of N parts, split by organization (numbered from 0)")
    p.add_argument("--format", choices=("csv", "parquet"), default="csv", help="csv (default, for COPY) or parquet")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an earlier export in DIR, all or nothing (its files of either format go)",
    )
    p.set_defaults(func=cmd_export)
