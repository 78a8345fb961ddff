"""`csv(path, column =, unit =, missing =, resample =)`: a CSV column on the horizon's steps.

Input: the `csv()` call and the evaluator (grid, folder, `allow_outside`). Output: `Series` of
one value per step in coherent base units; the file's sha256 recorded on the evaluator's
`data_files`. Rules (docs/language.md): the path is relative to the design file and must lie
inside its folder (after resolving `..` and symbolic links) unless `allow_outside` (CLI
`--allow-outside`). Every step must be present; rows outside are ignored; another resolution
needs `resample = true` (finer rows averaged, coarser rows repeated). A file that failed is
reported once, at its first use.

`table_call` serves `parquet()` and `data()` too (`frames.py`): their tables come in as the
same `CsvFile` record, and may carry a unit per column (used when `unit =` is not written).

Errors: E403 column missing (or not named in a file of several), E404 a file that does not
cover the horizon or has another resolution, E405 an empty cell (without `missing`), E407 bad
arguments, E411 a path outside the design's folder, E412 a path that is not a valid file name
(a NUL byte or empty), E415 a `unit =` other than the unit the data carries; the file errors
of `csvread.py`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import numpy.typing as npt

from pebdsl import units as U
from pebdsl.diagnostics import PebdslError, did_you_mean
from pebdsl.front import syntax as S
from pebdsl.resolve.calls import call_args
from pebdsl.resolve.csvread import (
    CsvFile,
    Parser,
    column_values,
    columns_hint,
    excerpt,
    fmt_h,
    fmt_ns,
    read_csv,
)
from pebdsl.resolve.expr import (
    NS_PER_H,
    Evaluator,
    FloatArray,
    Series,
    fail,
    number_value,
    span_of,
    strip,
)
from pebdsl.source import Span

__all__ = ["CSV_PARAMS", "Args", "csv_call", "file_of", "table_call"]

CSV_PARAMS = ("path", "column", "unit", "missing", "resample")
Args = dict[str, tuple[S.Expr, S.Arg]]  # parameter -> (value, argument), from `call_args`
Opener = Callable[[Evaluator, S.Call, Args], CsvFile]  # the table a call reads


def csv_call(ctx: Evaluator, e: S.Call) -> Series:
    """The value of a `csv(...)` call (see the module docstring for its rules and errors)."""
    return table_call(ctx, e, CSV_PARAMS, file_of)


def table_call(ctx: Evaluator, e: S.Call, params: tuple[str, ...], opener: Opener) -> Series:
    """A column of the table `opener` gives, on the horizon's steps: `csv()`, and `parquet()`
    and `data()` (`frames.py`). Without `unit =` the column's own unit, if the table carries
    one (E415 when both are given and differ)."""
    args = call_args(e, list(params))
    f = opener(ctx, e, args)
    column, cspan = _column(e, args, f)
    factor, dims = _unit(args, f, column, e)
    fill = _missing(ctx, args, factor, dims)
    resample = False
    if "resample" in args:
        rexpr = strip(args["resample"][0])
        if not isinstance(rexpr, S.Bool):
            fname = e.func.value
            raise fail("E407", f"{fname}(): `resample` must be true or false", span_of(rexpr))
        resample = rexpr.value
    raw = column_values(f, column, cspan)
    values = _align(ctx, f, raw, column, fill, resample, span_of(e))
    return Series(U.scale_array(values, factor), dims)


def file_of(
    ctx: Evaluator, e: S.Call, args: Args, what: str = "CSV", parse: Parser | None = None
) -> CsvFile:
    """The file a csv() (or parquet()) call names, read (once per file: a failure is
    re-raised as it was)."""
    fname = e.func.value
    if "path" not in args:
        raise fail(
            "E407",
            f'{fname}() needs a file path: {fname}("file.{fname}", column = "name")',
            span_of(e),
        )
    pexpr = strip(args["path"][0])
    if not isinstance(pexpr, S.String):
        raise fail("E407", f"{fname}(): the path must be a string", span_of(pexpr))
    path = _csv_path(ctx, pexpr, fname)
    key = os.path.normpath(str(path))
    if key in ctx.failed_files:
        # Reported once, at the first use; later uses re-raise the same diagnostic.
        raise ctx.failed_files[key]
    try:
        f = read_csv(path, ctx.grid.timezone, span_of(pexpr), what, parse)
    except PebdslError as err:
        ctx.failed_files[key] = err
        raise
    ctx.data_files[os.path.normpath(str(path))] = f.sha256
    return f


def _column(e: S.Call, args: Args, f: CsvFile) -> tuple[str, Span]:
    """The column a csv() call reads (the only one when not named; E403) and its span."""
    if "column" in args:
        cexpr = strip(args["column"][0])
        if isinstance(cexpr, S.String):
            column = cexpr.value
        elif isinstance(cexpr, S.Ref) and len(cexpr.path.parts) == 1:
            column = cexpr.name
        else:
            raise fail("E407", f"{e.func.value}(): `column` must be a string", span_of(cexpr))
        cspan = span_of(cexpr)
    else:
        if len(f.columns) != 1:
            raise fail(
                "E403",
                f"{e.func.value}(): {f.name} has {len(f.columns)} data columns; "
                'say which with column = "…"',
                span_of(e),
                "",
                (columns_hint(f),),
            )
        column = next(iter(f.columns))
        cspan = span_of(e)
    if column not in f.columns:
        raise fail(
            "E403",
            f"column `{column}` not in {f.name}",
            cspan,
            "no such column",
            (*did_you_mean(column, f.columns), columns_hint(f)),
        )
    return column, cspan


def _unit(args: Args, f: CsvFile, column: str, e: S.Call) -> tuple[Fraction, U.Dims]:
    """The factor to coherent base units and the dimensions of `unit =`, else of the unit the
    column carries (none: a number; both given and different: E415)."""
    factor, dims = Fraction(1), U.DIMENSIONLESS
    own = f.units.get(column)
    if "unit" in args:
        uexpr = strip(args["unit"][0])
        if isinstance(uexpr, S.UnitValue):
            utext, uspan = uexpr.unit.text, span_of(uexpr.unit)
        elif isinstance(uexpr, S.Ref):
            utext, uspan = uexpr.name, span_of(uexpr)
        elif isinstance(uexpr, S.String):
            utext, uspan = uexpr.value, span_of(uexpr)
        else:
            raise fail(
                "E407", f"{e.func.value}(): `unit` must be a unit, e.g. unit = kW", span_of(uexpr)
            )
        info = U.parse_unit(utext, uspan)
        factor, dims = info.factor, info.dims
        if own is not None:
            mine = U.parse_unit(own, uspan)
            if (mine.factor, mine.dims) != (factor, dims):
                raise fail(
                    "E415",
                    f"column `{excerpt(column)}` of {f.name} is in {excerpt(own)}, "
                    f"the design says {utext}",
                    uspan,
                    "another unit than the data's",
                    ("drop `unit =` to use the data's unit, or fix the data's unit",),
                )
    elif own is not None:
        info = U.parse_unit(own, span_of(e))
        factor, dims = info.factor, info.dims
    return factor, dims


def _missing(ctx: Evaluator, args: Args, factor: Fraction, dims: U.Dims) -> float | None:
    """The value of empty cells (`missing =`, in the column's unit), or None."""
    fill: float | None = None
    if "missing" in args:
        mexpr = strip(args["missing"][0])
        num = number_value(mexpr)
        if num is None:
            ms = ctx.eval(mexpr)
            if not ms.is_constant or ms.dims != dims:
                raise fail(
                    "E407",
                    "csv(): `missing` must be a number (in the column's unit)",
                    span_of(mexpr),
                )
            fill = float(ms.values) / float(factor) if factor else 0.0  # type: ignore[arg-type]
        else:
            fill = num
    return fill


def _csv_path(ctx: Evaluator, pexpr: S.String, fname: str = "csv") -> Path:
    """The path of a csv() call: a valid name (E412), inside the design's folder (E411)."""
    text = pexpr.value
    if "\x00" in text or not text:
        raise fail(
            "E412",
            f"{fname}(): `{excerpt(text)}` is not a valid file path",
            span_of(pexpr),
            "a NUL byte in the path" if text else "empty path",
        )
    path = Path(text)
    if not path.is_absolute():
        path = ctx.directory / path
    if not ctx.allow_outside:
        # Symbolic links and `..` resolved: a link inside the folder to a file outside is
        # outside. Nothing outside the folder is even looked at.
        base = os.path.realpath(ctx.directory)
        try:
            real = os.path.realpath(path)
        except (OSError, ValueError):
            real = os.path.abspath(path)
        if os.path.commonpath([base, real]) != base:
            raise fail(
                "E411",
                f"{fname}(): {excerpt(text, 80)} is outside the design's folder",
                span_of(pexpr),
                "outside the design's folder",
                (
                    "put the data next to the design (or below it), or allow it "
                    "explicitly: `pebdsl … --allow-outside` (Python: allow_outside=True)",
                ),
            )
    return path


def _align(
    ctx: Evaluator,
    f: CsvFile,
    raw: FloatArray,
    column: str,
    fill: float | None,
    resample: bool,
    span: Span,
) -> FloatArray:
    """Values of the CSV on the horizon's steps (E404, E405)."""
    step = ctx.step_ns
    res = f.resolution_ns if f.resolution_ns is not None else step
    if res != step and not resample:
        raise fail(
            "E404",
            f"{f.name} has a resolution of {fmt_h(res)}, the horizon's step is {fmt_h(step)}",
            span,
            "other resolution",
            ("add `resample = true` to average finer or repeat coarser data",),
        )
    if res < step:
        return _average_finer(ctx, f, raw, res, column, fill, span)
    used = _rows_at_steps(ctx, f, span) if res == step else _rows_holding(ctx, f, res, span)
    vals = raw[used].copy()
    if fill is not None:
        vals[np.isnan(vals)] = fill
    nan = np.isnan(vals)
    if nan.any():
        i = int(np.flatnonzero(nan)[0])
        _no_nan(ctx, f, raw[used[i] : used[i] + 1], int(used[i]), column, span)
    return vals


def _rows_at_steps(ctx: Evaluator, f: CsvFile, span: Span) -> npt.NDArray[np.intp]:
    """The row of each step in a file of the horizon's resolution (E404 a missing row)."""
    t, h, tz = f.times_ns, ctx.utc_ns, ctx.grid.timezone
    pos = np.searchsorted(t, h)
    pos_c = np.minimum(pos, len(t) - 1)
    found = (pos < len(t)) & (t[pos_c] == h)
    if not found.all():
        miss = int(np.flatnonzero(~found)[0])
        raise fail(
            "E404",
            f"{f.name} does not cover the horizon: no row for {fmt_ns(int(h[miss]), tz)}",
            span,
            "missing rows",
            (
                f"{'the data' if f.label else 'the file'} holds "
                f"{fmt_ns(int(t[0]), tz)} … {fmt_ns(int(t[-1]), tz)}",
            ),
        )
    return pos_c


def _average_finer(
    ctx: Evaluator,
    f: CsvFile,
    raw: FloatArray,
    res: int,
    column: str,
    fill: float | None,
    span: Span,
) -> FloatArray:
    """Each step the mean of the finer rows inside it (E404 a step not fully covered)."""
    t, h, step, tz = f.times_ns, ctx.utc_ns, ctx.step_ns, ctx.grid.timezone
    lo = np.searchsorted(t, h, "left")
    hi = np.searchsorted(t, h + step, "left")
    need = step // res if step % res == 0 else -1
    ok = (hi - lo) == need
    if not ok.all():
        miss = int(np.flatnonzero(~ok)[0])
        raise fail(
            "E404",
            f"{f.name} does not cover the step starting "
            f"{fmt_ns(int(h[miss]), tz)} with {fmt_h(res)} rows",
            span,
            "missing rows",
        )
    seg = raw[lo[0] : hi[-1]].copy()
    if fill is not None:
        seg[np.isnan(seg)] = fill
    _no_nan(ctx, f, seg, lo[0], column, span)
    csum = np.concatenate([[0.0], np.cumsum(seg)])
    return np.asarray((csum[hi - lo[0]] - csum[lo - lo[0]]) / (hi - lo), dtype=np.float64)


def _rows_holding(ctx: Evaluator, f: CsvFile, res: int, span: Span) -> npt.NDArray[np.intp]:
    """The coarser row each step falls in (E404 a step no row holds)."""
    t, h, step, tz = f.times_ns, ctx.utc_ns, ctx.step_ns, ctx.grid.timezone
    pos = np.searchsorted(t, h, "right") - 1
    pos_c = np.maximum(pos, 0)
    # A row holds until the next row, at most its resolution (+1 h for DST days).
    nxt = np.concatenate([t[1:], [t[-1] + res]])
    end = np.minimum(nxt, t + res + NS_PER_H)
    ok = (pos >= 0) & (h + step <= end[pos_c])
    if not ok.all():
        miss = int(np.flatnonzero(~ok)[0])
        raise fail(
            "E404",
            f"{f.name} does not cover the horizon at {fmt_ns(int(h[miss]), tz)}",
            span,
            "missing rows",
        )
    return pos_c


def _no_nan(
    ctx: Evaluator, f: CsvFile, seg: FloatArray, offset: int, column: str, span: Span
) -> None:
    nan = np.isnan(seg)
    if nan.any():
        i = offset + int(np.flatnonzero(nan)[0])
        raise fail(
            "E405",
            f"empty cell in column `{column}` of {f.name} at "
            f"{fmt_ns(int(f.times_ns[i]), ctx.grid.timezone)}",
            span,
            "empty cell",
            ("add `missing = 0` to read empty cells as 0",),
        )
