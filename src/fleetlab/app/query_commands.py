"""`fleetlab query SQL`: one statement's rows, printed or written to a file."""

from __future__ import annotations

import argparse
import sys

from ..config import Settings
from ..errors import ConfigError
from .output import FORMATS
from .parsers import command


def cmd_query(args: argparse.Namespace, settings: Settings) -> int:
    from ..read.query import connect, fetch
    from ..store import db
    from .output import format_for, output_path, write_file, write_frame

    fmt = format_for(args.output, args.format)
    if fmt == "parquet" and not args.output and sys.stdout.isatty():
        raise ConfigError("parquet is binary: give --output FILE, or redirect stdout to a file.")
    url = db.resolve(settings) if args.write else db.resolve_reader(settings)
    with connect(url, writes=args.write) as conn:
        target = None
        if args.output:  # checked before the query runs: a refused path costs nothing
            target = output_path(args.output, overwrite=args.overwrite, keep_out=_server_folders(settings))
        frame = fetch(conn, args.sql, args.param or None, writes=args.write)
    if target is not None:
        write_file(frame, fmt, target, max_rows=args.max_rows)
        print(f"wrote {frame.height:,} rows × {frame.width} columns to {args.output} ({fmt})", file=sys.stderr)
    else:
        write_frame(frame, fmt, sys.stdout.buffer, max_rows=args.max_rows)
        sys.stdout.buffer.flush()
    return 0


def _server_folders(settings: Settings) -> list:
    """Folders `--output` must never write into: fleetlab's home (the embedded server's data, the key
    file) and the server's data directory, when its role may read where that is."""
    from ..store import db

    found = db.data_directory(settings)
    return [settings.home] + ([found] if found else [])


def register(sub) -> None:
    p = command(
        sub,
        "query",
        "run one SQL query, read-only, and print or write its rows",
        'fleetlab query "select gateway_id, name, model from gateways where gateway_id = $1" -p GW-SPR-001',
    )
    p.add_argument("sql", help='the SQL, e.g. "select * from gateways where model = $1"')
    p.add_argument(
        "--write",
        action="store_true",
        help="run any one statement (DDL, DML, …) with the database owner's rights, not read-only",
    )
    p.add_argument(
        "-p",
        "--param",
        action="append",
        metavar="VALUE",
        help="a value for $1, $2, … in order (repeat the flag); text, cast in SQL: $1::uuid",
    )
    p.add_argument(
        "-f",
        "--format",
        choices=FORMATS,
        default=None,
        help="output format (default: from --output's extension, else table)",
    )
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout (a new file)")
    p.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
    p.add_argument("--max-rows", type=int, default=50, help="rows the table format shows (-1: all; default 50)")
    p.set_defaults(func=cmd_query)
