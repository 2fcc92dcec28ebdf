"""Export a fleet (or one shard of it) as files ready for COPY into any PostgreSQL, passwords encrypted.

    DIR/organizations.csv  DIR/factories.csv  DIR/gateways.csv   (or .parquet)
    DIR/fleet.json         the marker's record: scenario, shard, row counts, key id, the COPY statements

CSV files have a header row and `\\N` for NULL, in the column order of `copy_columns`:

    COPY organizations FROM '/path/organizations.csv' WITH (FORMAT csv, HEADER true, NULL '\\N');

(or psql's `\\copy` from a client). Load organizations, then factories, then gateways. Parquet files
hold the same columns with their types, for tools that read Parquet (DuckDB, pg_parquet, Spark).
The rows are rendered by the loader's own code (`rendered_chunks`), chunk by chunk: memory stays flat.
Every file is written under a temporary name and renamed at the end, so an interrupted export
leaves no partial file under a final name.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import ConfigError
from ..model.fleet import SCHEMAS, Loadable, copy_columns
from ..model.tables import TABLES
from .crypto import Keyring
from .load import CHUNK_ROWS, Progress, encrypt_passwords

FORMATS = ("csv", "parquet")
NULL = "\\N"


def copy_statement(table: str, path: str) -> str:
    cols = ", ".join(copy_columns(table))
    return f"COPY {table} ({cols}) FROM '{path}' WITH (FORMAT csv, HEADER true, NULL '{NULL}')"


def files(directory: Path, fmt: str) -> dict[str, Path]:
    return {**{t: directory / f"{t}.{fmt}" for t in TABLES}, "fleet": directory / "fleet.json"}


def export(fleet: Loadable, keyring: Keyring, directory: Path, fmt: str = "csv", *, overwrite: bool = False,
           progress: Progress | None = None) -> dict[str, int]:
    """Write `fleet` into `directory` (created if missing) as `fmt` files; returns rows per table."""
    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}.")
    targets = files(directory, fmt)
    existing = [p.name for p in targets.values() if p.exists()]
    if existing and not overwrite:
        raise ConfigError(f"{directory} already holds {', '.join(existing)}; pass --overwrite to replace them, "
                          "or choose an empty folder.")
    directory.mkdir(parents=True, exist_ok=True)
    totals, counts = fleet.counts(), {}
    written: list[tuple[Path, Path]] = []
    try:
        for table in TABLES:
            tmp = targets[table].with_name(f".{targets[table].name}.part")
            written.append((tmp, targets[table]))
            counts[table] = _write(fleet, table, keyring, tmp, fmt, progress, totals[table])
        record: dict[str, Any] = {
            **fleet.scenario,
            "counts": counts,
            "key_id": keyring.current_id,
            "format": fmt,
            "copy": [copy_statement(t, targets[t].name) for t in TABLES] if fmt == "csv" else [],
        }
        tmp = directory / ".fleet.json.part"
        tmp.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
        written.append((tmp, targets["fleet"]))
        for tmp, final in written:
            os.replace(tmp, final)
    except BaseException:
        for tmp, _ in written:
            tmp.unlink(missing_ok=True)
        raise
    return counts


def _frames(fleet: Loadable, table: str, keyring: Keyring):
    columns = copy_columns(table)
    for frame in fleet.chunks(table, CHUNK_ROWS):
        if table == "gateways":
            frame = frame.with_columns(encrypt_passwords(frame, fleet.seed, keyring, fleet.password))
        yield frame.select(columns)


def _write(fleet: Loadable, table: str, keyring: Keyring, path: Path, fmt: str, progress: Progress | None,
           total: int) -> int:
    done = 0
    if fmt == "csv":
        with path.open("wb") as out:
            out.write((",".join(copy_columns(table)) + "\n").encode())
            for frame in _frames(fleet, table, keyring):
                frame.write_csv(out, include_header=False, null_value=NULL)
                done += frame.height
                if progress:
                    progress(table, done, total)
        return done
    import pyarrow.parquet as pq

    writer = None
    try:
        for frame in _frames(fleet, table, keyring):
            batch = frame.to_arrow()
            if writer is None:
                writer = pq.ParquetWriter(str(path), batch.schema)
            writer.write_table(batch)
            done += frame.height
            if progress:
                progress(table, done, total)
        if writer is None:  # no rows: an empty file with the table's columns
            schema = {**SCHEMAS[table], **({"password_encrypted": pl.String} if table == "gateways" else {})}
            empty = pl.DataFrame(schema=schema).select(copy_columns(table)).to_arrow()
            writer = pq.ParquetWriter(str(path), empty.schema)
    finally:
        if writer is not None:
            writer.close()
    return done
