"""Arrow → polars with fleetlab's types (the table in `fleetlab.read.query`'s docstring).

ADBC gives uuid as 16-byte extension arrays, json as an extension over text, intervals as
month-day-nano and numeric with its typmod in the field's metadata; `to_polars` turns each into
what a polars user expects, vectorised (a Python loop over a million uuids is a second).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import polars as pl
import pyarrow as pa

from ..errors import ConfigError


def to_polars(table: pa.Table, *, decode_json: bool | Iterable[str] = False) -> pl.DataFrame:
    """Convert an ADBC result to polars with fleetlab's types (module doc)."""
    names = _unique_names(table.column_names)
    columns, json_columns = [], []
    for name, field, column in zip(names, table.schema, table.columns, strict=True):
        columns.append(pa.chunked_array([_convert(c) for c in column.chunks], type=_converted_type(field.type)))
        if _extension_name(field.type) == "arrow.json":
            json_columns.append(name)
    frame = pl.from_arrow(pa.Table.from_arrays(columns, names=names), rechunk=False)
    assert isinstance(frame, pl.DataFrame)
    casts = [_cast(name, field) for name, field in zip(names, table.schema, strict=True)]
    casts = [c for c in casts if c is not None]
    if decode_json:
        wanted = json_columns if decode_json is True else list(decode_json)
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            raise ConfigError(f"decode_json names columns the result does not have: {', '.join(unknown)}.")
    if casts:
        frame = frame.with_columns(casts)
    if decode_json:
        # Series-level decode: it infers the struct from every row (the Expr form needs a dtype)
        frame = frame.with_columns([frame[c].str.json_decode(infer_schema_length=None) for c in wanted])
    return frame


def _extension_name(t: pa.DataType) -> str | None:
    return t.extension_name if isinstance(t, pa.BaseExtensionType) else None


def _converted_type(t: pa.DataType) -> pa.DataType:
    ext = _extension_name(t)
    if ext == "arrow.uuid":
        return pa.large_string()
    if ext is not None:
        return _converted_type(t.storage_type)
    if t == pa.month_day_nano_interval():
        return pa.duration("us")
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        inner = _converted_type(t.value_type)
        return pa.list_(inner) if pa.types.is_list(t) else pa.large_list(inner)
    return t


def _convert(arr: pa.Array) -> pa.Array:
    t = arr.type
    ext = _extension_name(t)
    if ext == "arrow.uuid":
        return _uuid_strings(arr.storage)
    if ext is not None:
        return _convert(arr.storage)
    if t == pa.month_day_nano_interval():
        return _interval_durations(arr)
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        if _converted_type(t) == t:
            return arr
        cls = pa.ListArray if pa.types.is_list(t) else pa.LargeListArray
        return cls.from_arrays(arr.offsets, _convert(arr.values), mask=arr.is_null() if arr.null_count else None)
    return arr


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
# where the two hex digits of each of the 16 bytes go in "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
_HI = np.array([0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34])
_DASHES = [8, 13, 18, 23]


def _uuid_strings(arr: pa.FixedSizeBinaryArray) -> pa.Array:
    """16-byte uuids → canonical strings, vectorised (a Python loop over a million is 1 s)."""
    n = len(arr)
    raw = np.frombuffer(arr.buffers()[1], dtype=np.uint8, count=16 * n, offset=16 * arr.offset).reshape(n, 16)
    out = np.empty((n, 36), dtype=np.uint8)
    out[:, _HI] = _HEX[raw >> 4]
    out[:, _HI + 1] = _HEX[raw & 0x0F]
    out[:, _DASHES] = ord("-")
    offsets = np.arange(0, 36 * (n + 1), 36, dtype=np.int64)
    validity = None
    if arr.null_count:
        validity = pa.array(arr.is_valid().to_numpy(zero_copy_only=False)).buffers()[1]
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(out), validity, arr.null_count)


_MDN = np.dtype([("months", "<i4"), ("days", "<i4"), ("nanos", "<i8")])


def _interval_durations(arr: pa.Array) -> pa.Array:
    # polars has no calendar interval; a month counts as 30 days (PostgreSQL's justify_days rule)
    raw = np.frombuffer(arr.buffers()[1], dtype=_MDN, count=len(arr), offset=16 * arr.offset)
    micros = (raw["months"].astype(np.int64) * 30 + raw["days"]) * 86_400_000_000 + raw["nanos"] // 1000
    return pa.array(micros, type=pa.duration("us"), mask=arr.is_null().to_numpy(zero_copy_only=False))


def _cast(name: str, field: pa.Field) -> pl.Expr | None:
    meta = field.metadata or {}
    if meta.get(b"POSTGRESQL:type") != b"numeric":
        return None
    typmod = int(meta.get(b"POSTGRESQL:typmod", b"-1") or -1)
    if typmod >= 4:
        precision, scale = ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF
        if 0 < precision <= 38 and scale <= precision:
            return pl.col(name).cast(pl.Decimal(precision, scale))
    return pl.col(name).cast(pl.Float64)


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name in seen:
            seen[name] += 1
            candidate = f"{name}_{seen[name]}"
            while candidate in seen:
                seen[name] += 1
                candidate = f"{name}_{seen[name]}"
            seen[candidate] = 1
            out.append(candidate)
        else:
            seen[name] = 1
            out.append(name)
    return out
