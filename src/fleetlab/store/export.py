"""Export a fleet (or one shard of it) as files ready for COPY into any PostgreSQL, passwords encrypted.

    DIR/organizations.csv  DIR/factories.csv  DIR/gateways.csv   (or .parquet)
    DIR/load.sql           (csv) psql's \\copy of the three files in one transaction, by absolute path
    DIR/fleet.json         the scenario, shard, row counts, key id, the command that loads, the \\copy lines

CSV files have a header row and `\\N` for NULL, in the column order of `copy_columns`. `load.sql` runs
from any folder (`psql -X -f DIR/load.sql "$DATABASE_URL"`): it loads organizations, then factories, then
gateways in one transaction and stops at the first error, so a failure loads nothing; in a database
with fleetlab's marker it records the scenario and the rows the tables then hold, for `fleetlab check`.
Parquet files hold the same columns with their types, for tools that read Parquet (DuckDB, pg_parquet,
Spark); psql cannot load them, so a Parquet export has no load.sql.

The rows are rendered by the loader's own code (`rendered_chunks`), chunk by chunk: memory stays flat.
The files are written in a private folder inside DIR and swapped in all or nothing (`staging`): an
export that fails or is killed leaves DIR's previous files as they were, and one never writes through
a symlink or file planted in DIR.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Any

import polars as pl

from .. import faults
from ..errors import ConfigError
from ..model.fleet import SCHEMAS, Loadable, copy_columns
from ..model.tables import TABLES
from .crypto import Keyring
from .load import CHUNK_ROWS, Progress, finished
from .staging import staged

FORMATS = ("csv", "parquet")
NULL = "\\N"
LOAD_SQL = "load.sql"
RECORD = "fleet.json"
# every name an export writes, either format: an export with --overwrite replaces them all, so no file
# of an earlier export in the other format stays behind
NAMES = (*(f"{t}.{fmt}" for fmt in FORMATS for t in TABLES), LOAD_SQL, RECORD)


def copy_line(table: str, path: Path) -> str:
    """psql's `\\copy` of the CSV file at `path` (absolute: psql reads it from its own working folder)."""
    cols = ", ".join(copy_columns(table))
    return f"\\copy {table} ({cols}) FROM {_psql_quoted(str(path))} WITH (FORMAT csv, HEADER true, NULL '{NULL}')"


def load_command(directory: Path) -> str:
    """The shell command that loads an export in `directory` into $DATABASE_URL's database."""
    return f'psql -X -f {shlex.quote(str(directory / LOAD_SQL))} "$DATABASE_URL"'


def export(
    fleet: Loadable,
    keyring: Keyring,
    directory: Path,
    fmt: str = "csv",
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Write `fleet` into `directory` (created if missing) as `fmt` files; returns rows per table.

    overwrite: replace an earlier export there (either format's files, load.sql, fleet.json); without it
    a folder holding any of them is refused and left as it is."""
    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}.")
    directory = prepare(directory)
    totals, counts = fleet.counts(), {}
    with staged(directory, NAMES, overwrite=overwrite) as stage:
        for table in TABLES:
            with stage.create(f"{table}.{fmt}") as out:
                counts[table] = _write(fleet, table, keyring, out, fmt, progress, totals[table])
        record: dict[str, Any] = {
            **fleet.scenario,
            "counts": counts,
            "key_id": keyring.current_id,
            "format": fmt,
            "files": [f"{t}.{fmt}" for t in TABLES] + ([LOAD_SQL] if fmt == "csv" else []),
        }
        if fmt == "csv":
            record["load"] = load_command(directory)
            record["copy"] = [copy_line(t, directory / f"{t}.csv") for t in TABLES]
            with stage.create(LOAD_SQL) as out:
                out.write(load_sql(fleet.scenario, directory, record["load"]).encode("utf-8", "surrogateescape"))
        else:
            record["load"] = None
            record["copy"] = []
            record["note"] = (
                "load.sql is written for --format csv only: psql cannot read Parquet. Load these "
                "files with DuckDB, pg_parquet or Spark, or export again with --format csv."
            )
        with stage.create(RECORD) as out:
            out.write((json.dumps(record, indent=2, default=str) + "\n").encode())
        stage.commit()
    return counts


def prepare(directory: Path) -> Path:
    """`directory`, created if missing and resolved; a path that cannot be a folder to write in is refused."""
    text = str(directory)
    if "\n" in text or "\r" in text:
        raise ConfigError(f"{text!r} holds a line break, which psql's \\copy cannot name; choose another folder.")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        pass  # a file: said below
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        if isinstance(exc, NotADirectoryError):  # afile/x, /dev/null/x: name the file in the way
            why = next((f"{p} is a file" for p in directory.parents if os.path.lexists(p) and not p.is_dir()), why)
        raise ConfigError(
            f"cannot create the folder {directory} ({why}): give a folder you can write to, e.g. /tmp/fleet."
        ) from None
    if not directory.is_dir():
        raise ConfigError(f"{directory} is not a folder (a file, or a link to nothing); give a folder to write into.")
    return directory.resolve()


def load_sql(scenario: dict[str, Any], directory: Path, command: str) -> str:
    """The psql script that loads the three CSV files in `directory` in one transaction.

    In a database with fleetlab's marker it records `scenario` with the row counts the tables hold once
    loaded (shards loaded one after the other, or side by side, add up); elsewhere it loads the rows
    and says that `fleetlab check` will find no marker."""
    record = json.dumps(scenario, default=str, ensure_ascii=True, separators=(",", ":"))
    tag = "$fleetlab$"
    while tag in record:
        tag = tag[:-1] + "_$"
    counts = ", ".join(f"'{t}', (SELECT count(*) FROM {t})" for t in TABLES)
    lines = [
        f"-- fleetlab export: {', '.join(TABLES)} in one transaction; a failure loads nothing.",
        f"-- Run it from any folder: {command}",
        "-- The files are named by absolute path: after moving this folder, export again.",
        "\\set ON_ERROR_STOP on",
        "\\encoding UTF8",
        "BEGIN ISOLATION LEVEL READ COMMITTED;",
        *(copy_line(t, directory / f"{t}.csv") for t in TABLES),
        "-- the marker: fleetlab_meta.fleetlab_marker (public.fleetlab_marker in a database made before fleetlab 1707345600006)",
        "SELECT coalesce(to_regclass('fleetlab_meta.fleetlab_marker'), to_regclass('public.fleetlab_marker'))::text AS marker,",
        "       coalesce(to_regclass('fleetlab_meta.fleetlab_marker'), to_regclass('public.fleetlab_marker')) IS NOT NULL"
        " AS has_marker \\gset",
        "\\if :has_marker",
        "-- the marker's row lock first: a load beside this one commits before the counts below are taken",
        "UPDATE :marker SET seeded_at = now();",
        f"UPDATE :marker SET scenario = {tag}{record}{tag}::jsonb",
        f"    || jsonb_build_object('counts', jsonb_build_object({counts}));",
        "\\else",
        "\\echo 'no fleetlab marker here: the rows are loaded, but fleetlab check will find no marker.'",
        "\\endif",
        "COMMIT;",
    ]
    return "\n".join(lines) + "\n"


def _psql_quoted(text: str) -> str:
    """`text` as a quoted file name of psql's `\\copy` (a quote doubled; no other escape there)."""
    return "'" + text.replace("'", "''") + "'"


def _frames(fleet: Loadable, table: str, keyring: Keyring):
    for frame in fleet.chunks(table, CHUNK_ROWS):
        yield finished(frame, table, keyring)


def _write(fleet: Loadable, table: str, keyring: Keyring, out, fmt: str, progress: Progress | None, total: int) -> int:
    """Write `table`'s rows into the binary file object `out`; returns how many."""
    done = 0
    if fmt == "csv":
        out.write((",".join(copy_columns(table)) + "\n").encode())
        for frame in _frames(fleet, table, keyring):
            frame.write_csv(out, include_header=False, null_value=NULL)
            done += frame.height
            if progress:
                progress(table, done, total)
            faults.reached(f"export:{table}")
        return done
    import pyarrow.parquet as pq

    writer = None
    try:
        for frame in _frames(fleet, table, keyring):
            batch = frame.to_arrow()
            if writer is None:
                writer = pq.ParquetWriter(out, batch.schema)
            writer.write_table(batch)
            done += frame.height
            if progress:
                progress(table, done, total)
            faults.reached(f"export:{table}")
        if writer is None:  # no rows: an empty file with the table's columns
            schema = {**SCHEMAS[table], **({"password_encrypted": pl.String} if table == "gateways" else {})}
            empty = pl.DataFrame(schema=schema).select(copy_columns(table)).to_arrow()
            writer = pq.ParquetWriter(out, empty.schema)
    finally:
        if writer is not None:
            writer.close()
    return done
