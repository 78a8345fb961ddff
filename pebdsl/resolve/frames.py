"""`parquet(path, column =, …)` and `data(name, column =, …)`: tables beside CSV.

Input: the call and the evaluator (grid, folder, `allow_outside`, and `data`: the in-memory
series a Python caller passed as `pebdsl.load(path, data={"home": series})`). Output: the same
`csvread.CsvFile` record `csv()` reads into, so `csvalign.table_call` aligns them on the
horizon with the same rules (coverage, resolution, `resample`, `missing`, units); the sha256 of
the bytes (Parquet) or of the times, values and unit (in memory) recorded on `data_files`.

Rules (docs/data.md): a Parquet file is read by pandas' pyarrow engine; its times are the
frame's DatetimeIndex if it has one, else its first column (datetimes, or ISO 8601 text as in
CSV); a column may carry its unit as Parquet field metadata `unit` (what `pebdsl solve`
writes). An in-memory series is a pandas Series or DataFrame with a DatetimeIndex: without a
timezone its times are local times of the horizon's zone (as CSV); with one it must be the
horizon's zone or UTC. Its unit is `unit =` in the design or `attrs["unit"]` on the data
(a DataFrame: `attrs["unit"]` for every column or `attrs["units"]` = {column: unit}).

Errors: E413 `data("name")` names no series passed from Python, E414 an in-memory series that
is not a Series/DataFrame, has no DatetimeIndex, is in another timezone or repeats a time,
E415 no unit for an in-memory series (or two that differ, `csvalign.py`), E416 a file that is
not Parquet; the file errors of `csvread.py` (E402, E409, E410) and the alignment errors of
`csvalign.py` (E403, E404, E405).
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import numpy as np

from pebdsl.diagnostics import PebdslError, did_you_mean
from pebdsl.front import syntax as S
from pebdsl.resolve.csvalign import CSV_PARAMS, Args, file_of, table_call
from pebdsl.resolve.csvread import CsvFile, excerpt, sorted_table, utc_times
from pebdsl.resolve.expr import Evaluator, Series, fail, span_of, strip
from pebdsl.source import Span

__all__ = ["DATA_PARAMS", "data_call", "parquet_call"]

DATA_PARAMS = ("name", "column", "unit", "missing", "resample")


def parquet_call(ctx: Evaluator, e: S.Call) -> Series:
    """The value of a `parquet(...)` call: a column of a Parquet file, as `csv()`."""
    return table_call(ctx, e, CSV_PARAMS, _parquet_file)


def data_call(ctx: Evaluator, e: S.Call) -> Series:
    """The value of a `data(...)` call: a series passed from Python, checked as a CSV."""
    return table_call(ctx, e, DATA_PARAMS, _data_table)


def _parquet_file(ctx: Evaluator, e: S.Call, args: Args) -> CsvFile:
    return file_of(ctx, e, args, "Parquet", _parse_parquet)


def _parse_parquet(path: Path, data: bytes, tz: str, span: Span) -> CsvFile:
    """A Parquet file as a table (E416 not Parquet, E404 no rows, E406 bad times)."""
    import pandas as pd
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(io.BytesIO(data))
        frame = pd.read_parquet(io.BytesIO(data), engine="pyarrow")
    except Exception as e:  # pyarrow raises ArrowInvalid, OSError, … for a damaged file
        first = str(e).splitlines()[0] if str(e).strip() else type(e).__name__
        raise fail(
            "E416",
            f"cannot read Parquet file {path.name}: {excerpt(first, 80)}",
            span,
            "not a Parquet file",
        ) from None
    units = {}
    for fld in schema:
        meta = fld.metadata or {}
        if b"unit" in meta:
            units[str(fld.name)] = meta[b"unit"].decode("utf-8", errors="replace")
    timed = isinstance(frame.index, pd.DatetimeIndex)
    cols = frame if timed else frame.iloc[:, 1:]
    if len(frame) == 0 or cols.shape[1] == 0:
        raise fail("E404", f"Parquet file {path.name} has no rows or no data column", span)
    if timed:
        times = _index_ns(frame.index, tz, span, path.name, "E406")
    else:
        first = frame.iloc[:, 0]
        if isinstance(first.dtype, pd.DatetimeTZDtype) or first.dtype.kind == "M":
            times = _index_ns(pd.DatetimeIndex(first), tz, span, path.name, "E406")
        else:
            times = utc_times(path, first.astype(str).str.strip(), tz, span)
    f = CsvFile(path, hashlib.sha256(data).hexdigest(), times, *_columns(cols), units=units)
    return sorted_table(f, tz, span, "E406")


def _columns(frame: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The raw columns, and those already numeric as float arrays (no text conversion)."""
    raw: dict[str, Any] = {}
    numeric: dict[str, Any] = {}
    for name in frame.columns:
        col = frame[name]
        raw[str(name)] = col.to_numpy()
        if col.dtype.kind in "fiub":
            numeric[str(name)] = np.asarray(col.to_numpy(dtype=np.float64, na_value=np.nan))
    return raw, numeric


def _index_ns(idx: Any, tz: str, span: Span, label: str, code: str) -> Any:
    """A DatetimeIndex as UTC nanoseconds: naive times are local times of `tz`."""
    try:
        if idx.tz is None:
            idx = idx.tz_localize(tz, ambiguous="infer", nonexistent="raise")
        return np.asarray(idx.tz_convert("UTC").as_unit("ns").asi8, dtype=np.int64)
    except Exception as e:  # pandas/pytz raise several types for DST trouble
        raise fail(
            code,
            f"bad local time in {label}: {excerpt(str(e).splitlines()[0] if str(e) else e, 80)}",
            span,
            "",
            ("give the index a timezone (`tz_localize`) around daylight-saving changes",),
        ) from None


def _data_table(ctx: Evaluator, e: S.Call, args: Args) -> CsvFile:
    """The in-memory series a `data()` call names, checked (E413, E414, E415)."""
    if "name" not in args:
        raise fail("E407", 'data() needs a name: data("home")', span_of(e))
    nexpr = strip(args["name"][0])
    if isinstance(nexpr, S.String):
        name = nexpr.value
    elif isinstance(nexpr, S.Ref) and len(nexpr.path.parts) == 1:
        name = nexpr.name
    else:
        raise fail("E407", "data(): the name must be a string", span_of(nexpr))
    span = span_of(nexpr)
    if name not in ctx.data:
        raise _unknown(ctx, name, span)
    key = f"\0data:{name}"
    if key in ctx.failed_files:
        raise ctx.failed_files[key]
    try:
        f = _from_pandas(ctx.data[name], name, ctx.grid.timezone, span)
        if "unit" not in args and any(c not in f.units for c in f.columns):
            raise fail(
                "E415",
                f"data `{excerpt(name)}` has no unit",
                span_of(e),
                "unit unknown",
                (
                    f'write data("{excerpt(name)}", unit = kW), or set '
                    f'series.attrs["unit"] = "kW" in Python',
                ),
            )
    except PebdslError as err:
        ctx.failed_files[key] = err
        raise
    ctx.data_files[key] = f.sha256
    return f


def _unknown(ctx: Evaluator, name: str, span: Span) -> PebdslError:
    given = sorted(ctx.data)
    hints = (
        (*did_you_mean(name, given), f"given: {', '.join(excerpt(g) for g in given[:20])}")
        if given
        else (
            "in-memory series come from Python: "
            f'pebdsl.load(path, data={{"{excerpt(name)}": series}})',
        )
    )
    return fail("E413", f"no in-memory series `{excerpt(name)}`", span, "not given", hints)


def _from_pandas(obj: Any, name: str, tz: str, span: Span) -> CsvFile:
    """A pandas Series or DataFrame as a table (E414), with the units its attrs carry."""
    import pandas as pd

    label = f"data `{excerpt(name)}`"
    if isinstance(obj, pd.Series):
        frame = obj.to_frame(name=str(obj.name) if obj.name is not None else name)
    elif isinstance(obj, pd.DataFrame):
        frame = obj
    else:
        raise fail(
            "E414",
            f"{label} is a {type(obj).__name__}, not a pandas Series or DataFrame",
            span,
            "not a pandas Series",
        )
    idx = frame.index
    if not isinstance(idx, pd.DatetimeIndex):
        raise fail(
            "E414",
            f"{label} is indexed by {type(idx).__name__}, not by times",
            span,
            "needs a DatetimeIndex",
            ("index it by the steps' start times: pd.date_range(start, periods=n, freq=…)",),
        )
    if idx.tz is not None and str(idx.tz) not in (tz, "UTC"):
        raise fail(
            "E414",
            f"{label} is in timezone {excerpt(str(idx.tz))}, the horizon in {tz}",
            span,
            "another timezone",
            (f'series.tz_convert("{tz}") if the times are right, or build the index in {tz}',),
        )
    times = _index_ns(idx, tz, span, label, "E414")
    raw, numeric = _columns(frame)
    attrs = dict(getattr(obj, "attrs", {}) or {})
    units: dict[str, str] = {}
    if isinstance(attrs.get("unit"), str):
        units = dict.fromkeys(raw, str(attrs["unit"]))
    if isinstance(attrs.get("units"), dict):
        units.update({str(k): str(v) for k, v in attrs["units"].items() if str(k) in raw})
    h = hashlib.sha256(name.encode())
    h.update(times.tobytes())
    for c in raw:
        h.update(f"{c}:{units.get(c, '')}".encode())
        h.update(np.ascontiguousarray(numeric.get(c, raw[c].astype(str))).tobytes())
    f = CsvFile(Path(name), h.hexdigest(), times, raw, numeric, label=label, units=units)
    return sorted_table(f, tz, span, "E414")
