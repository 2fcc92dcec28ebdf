"""Writing a frame for people and files: `fleetlab query`'s table, csv, json and parquet outputs."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError

if TYPE_CHECKING:  # the CLI imports FORMATS at start-up: no polars for that
    import polars as pl

FORMATS = ("table", "csv", "json", "parquet")


def format_for(path: str | None, fmt: str | None = None) -> str:
    """The output format: `fmt` if given, else from the file's extension, else table."""
    if fmt:
        return fmt
    suffix = (path or "").rsplit(".", 1)[-1].lower() if path and "." in path else ""
    return {"csv": "csv", "json": "json", "parquet": "parquet", "pq": "parquet"}.get(suffix, "table")


def write_frame(frame: pl.DataFrame, fmt: str, out: Any, *, max_rows: int = 50) -> None:
    """Write `frame` to the binary file object `out` as table, csv, json (an array of objects) or parquet.

    max_rows: rows shown by the table format (-1: all); the other formats write every row.
    """
    import polars as pl

    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}.")
    try:
        if fmt == "table":
            import shutil

            # wrap to a terminal; into a file or a pipe, one line per row
            tty = getattr(out, "isatty", lambda: False)()
            width = shutil.get_terminal_size((160, 24)).columns if tty else 65_000
            with pl.Config(tbl_rows=max_rows, tbl_cols=-1, fmt_str_lengths=60, tbl_width_chars=width):
                out.write((str(frame) + "\n").encode())
        elif fmt == "csv":
            frame.write_csv(out)
        elif fmt == "json":
            frame.write_json(out)
            out.write(b"\n")
        else:
            frame.write_parquet(out)
    except pl.exceptions.PolarsError as exc:
        raise ConfigError(
            f"cannot write this result as {fmt}: {exc}. Cast the column in SQL (e.g. col::text)."
        ) from None


def print_summary(verb: str, result) -> None:
    """Where, how long, rows per table, and (for a reset) how the scenario cache served it."""
    streams = getattr(result, "streams", 1)
    over = f", loaded over {streams} COPY streams" if streams > 1 else ""
    print(f"{verb} {result.url.where} in {result.elapsed:.2f}s{over}")
    for table, n in result.counts.items():
        print(f"  {table:<14} {n:>10,} rows")
    if getattr(result, "cache", ""):
        print(result.cache)


def outside(path: str, keep_out: Sequence[Path]) -> Path:
    """`path`, resolved, unless it is one of the folders `keep_out` (fleetlab's home, the server's data
    directory) or inside one: fleetlab never writes there."""
    target = Path(path).expanduser().resolve()
    for folder in keep_out:
        folder = Path(folder).expanduser().resolve()
        if target == folder or folder in target.parents:
            raise ConfigError(
                f"refusing to write {path}: it is inside {folder}, which belongs to the database server or to "
                "fleetlab (its data, its key). Choose a path elsewhere."
            )
    return target


def output_path(path: str, *, overwrite: bool, keep_out: Sequence[Path] = ()) -> Path:
    """Where `--output PATH` may write: never into `keep_out` (fleetlab's home, the server's data
    directory), never over an existing file unless `overwrite`, never over a directory."""
    target = outside(path, keep_out)
    if target.is_dir():
        raise ConfigError(f"{path} is a directory; give a file name, e.g. {Path(path) / 'result.csv'}.")
    if target.exists() and not overwrite:
        raise ConfigError(f"{path} exists; pass --overwrite to replace it, or choose another name.")
    if not target.parent.is_dir():
        raise ConfigError(f"cannot write {path}: the folder {target.parent} does not exist.")
    return target


def write_file(frame: pl.DataFrame, fmt: str, target: Path, *, max_rows: int = 50) -> None:
    """`write_frame` into `target` through a temporary file beside it, renamed at the end: a failure
    leaves an existing file as it was, never half-written."""
    replace_with(target, lambda out: write_frame(frame, fmt, out, max_rows=max_rows))


def replace_with(target: Path, write) -> None:
    """Call `write(binary file)` on a temporary file beside `target`, then rename it into place."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
        os.chmod(tmp, 0o644 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
