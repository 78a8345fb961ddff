"""Series expressions evaluated on the horizon's time grid, vectorised with numpy.

Input: syntax `Expr` nodes (inline lists, `daily [...]`, `csv(...)`, generator calls, quantities,
references to `series` declarations and `+ - * /` between them), the `TimeGrid`, the design's
currency and the design file's folder.
Output: `Series` values (a float or a float64 array of one value per step, in the coherent base
units of `units.py`, with their dimensions); `SeriesContext.array()` / `.constant()` convert them
to the canonical unit a place in the language expects.

Rules (docs/language.md):
- `daily [...]` follows the LOCAL clock: the value for a step is `values[local time of day //
  step]`, so on a 23-hour DST day the missing hour is skipped and on a 25-hour day the repeated
  hour repeats its value.
- `csv(path, column =, unit =, missing =, resample =)`: path relative to the design file, inside
  the design file's folder (after resolving `..` and symbolic links) unless `allow_outside`
  (CLI `--allow-outside`); a regular file of at most `MAX_CSV_BYTES` (512 MiB), checked with
  `fstat` on a descriptor opened without blocking, so a FIFO or device is never read. Messages
  quote the file's content only as short escaped excerpts (`excerpt`, at most 40 characters);
  first
  column ISO 8601 timestamps (start of step); without offset they are local times of the horizon's
  timezone (an ambiguous autumn hour is resolved by row order, `ambiguous="infer"`; a
  nonexistent spring hour is an error). Every step must be present; rows outside are ignored;
  another resolution needs `resample = true` (finer rows averaged, coarser rows repeated).
  Files are parsed once per (path, mtime, size, timezone) and their sha256 recorded.
- Generators come from `pebdsl.generators.REGISTRY`; quantity arguments are converted to the
  parameter's canonical unit; a result in a foreign currency is E204.

Errors: E101 unknown series or function, E103 a name that is not a series, E106 a cycle of
series references, E201-E205 units, E302 a value beyond `units.MAX_MAGNITUDE`, E303 a step that
does not divide a day (`daily`), E307 a value of the wrong kind, E401 wrong count of values,
E402 CSV not found or not readable, E403 column missing, E404 CSV does not cover the horizon or
has another resolution, E405 empty or non-numeric cell, E406 bad timestamp (also one outside
the dates pandas can hold, 1677-09-22 … 2262-04-11), E407 generator/function argument error,
E408 a value that is not finite (division by zero), E409 a CSV path that is not a regular file
(directory, FIFO, device, socket), E410 a CSV file over `MAX_CSV_BYTES`, E411 a CSV path outside
the design's folder, E412 a CSV path that is not a valid file name (a NUL byte).
"""

from __future__ import annotations

import errno
import hashlib
import io
import math
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from pebdsl import units as U
from pebdsl.design import TimeGrid
from pebdsl.diagnostics import PebdslError, did_you_mean, error
from pebdsl.front import syntax as S
from pebdsl.source import Span

FloatArray = npt.NDArray[np.float64]
Value = float | FloatArray

NS_PER_H = 3_600_000_000_000


@dataclass
class Series:
    """A value per step (or one constant) in coherent base units, with its dimensions.

    `annual_ref_kwh`, when known, gives the energy over a calendar year of a power profile that
    came from a generator (`standard_load` is normalised to its `annual` argument): `load
    { annual = … }` scales by it instead of extrapolating the horizon's mean.
    """

    values: Value
    dims: U.Dims
    annual_ref_kwh: Callable[[], float] | None = None

    @property
    def is_constant(self) -> bool:
        return not isinstance(self.values, np.ndarray)


def strip(expr: S.Expr) -> S.Expr:
    while isinstance(expr, S.Paren):
        expr = expr.inner
    return expr


def span_of(node: Any) -> Span:
    return node.span  # type: ignore[no-any-return]


def _fail(
    code: str, message: str, span: Span, label: str = "", hints: tuple[str, ...] = ()
) -> PebdslError:
    return PebdslError(error(code, message, span, label, hints))


def number_value(expr: S.Expr) -> float | None:
    """The value of a plain number (`3`, `-3`, `(3)`), else None."""
    expr = strip(expr)
    if isinstance(expr, S.Number):
        return float(expr.value)
    if isinstance(expr, S.Neg):
        inner = number_value(expr.operand)
        return None if inner is None else -inner
    return None


# ---------------------------------------------------------------------------------------------
# CSV files: parsed once per (path, mtime, size, timezone)
# ---------------------------------------------------------------------------------------------
@dataclass
class CsvFile:
    path: Path
    sha256: str
    times_ns: npt.NDArray[np.int64]  # UTC, sorted, unique
    columns: dict[str, Any]  # raw pandas columns (converted to float on first use)
    numeric: dict[str, FloatArray] = field(default_factory=dict)
    resolution_ns: int | None = None


_CSV_CACHE: dict[tuple[str, int, int, str], CsvFile] = {}
_CSV_CACHE_MAX = 64

MAX_CSV_BYTES = 512 * 1024 * 1024  # docs/language.md; a year of minutes x 100 columns fits
EXCERPT_CHARS = 40


def _escaped(o: int) -> bool:
    """Control, escape, line-separator and bidi characters: shown as escapes, never raw."""
    return (
        o < 0x20
        or 0x7F <= o < 0xA0
        or 0x200B <= o <= 0x200F
        or 0x202A <= o <= 0x202E
        or 0x2066 <= o <= 0x2069
        or o in (0x2028, 0x2029, 0xFEFF)
    )


def excerpt(text: object, limit: int = EXCERPT_CHARS) -> str:
    """At most `limit` characters of file content for a message: control, escape and bidi
    characters written as escapes (`\\x1b`), longer text cut with `…`."""
    out: list[str] = []
    n = 0
    for ch in str(text):
        piece = ch.encode("unicode_escape").decode("ascii") if _escaped(ord(ch)) else ch
        if n + len(piece) > limit:
            out.append("…")
            break
        out.append(piece)
        n += len(piece)
    return "".join(out)


def _kind_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def _not_regular(path: Path, mode: int, span: Span) -> PebdslError:
    kind = _kind_of(mode)
    return _fail(
        "E409",
        f"CSV path {path} is {kind}, not a regular file",
        span,
        kind,
        ("csv() reads regular files only",),
    )


def _read_csv(path: Path, tz: str, span: Span) -> CsvFile:
    try:
        st = os.stat(path)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ENOTDIR):
            raise _fail(
                "E402",
                f"CSV file not found: {path}",
                span,
                "no such file",
                ("the path is relative to the design file",),
            ) from None
        raise _fail("E402", f"cannot access CSV file {path}: {e.strerror}", span) from None
    # Checked before opening: opening a FIFO blocks, reading /dev/zero never ends.
    if not stat.S_ISREG(st.st_mode):
        raise _not_regular(path, st.st_mode, span)
    if st.st_size > MAX_CSV_BYTES:
        raise _too_big(path, st.st_size, span)
    key = (os.path.realpath(path), st.st_mtime_ns, st.st_size, tz)
    hit = _CSV_CACHE.get(key)
    if hit is not None:
        return hit
    data = _read_regular(path, span)
    parsed = _parse_csv(path, data, tz, span)
    if len(_CSV_CACHE) >= _CSV_CACHE_MAX:
        _CSV_CACHE.clear()
    _CSV_CACHE[key] = parsed
    return parsed


def _too_big(path: Path, size: int, span: Span) -> PebdslError:
    return _fail(
        "E410",
        f"CSV file {path.name} holds {size / 2**20:.0f} MiB, more than the "
        f"{MAX_CSV_BYTES // 2**20} MiB csv() reads",
        span,
        "too large",
        ("split the file, or keep only the columns and rows the design uses",),
    )


def _read_regular(path: Path, span: Span) -> bytes:
    """The bytes of a regular file, opened without blocking and checked again on the
    descriptor (the path may have been replaced by a FIFO or device since `stat`)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise _fail("E402", f"cannot read CSV file {path}: {e.strerror}", span) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _not_regular(path, st.st_mode, span)
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if total > MAX_CSV_BYTES:  # the file grew since fstat
                raise _too_big(path, total, span)
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as e:
        raise _fail("E402", f"cannot read CSV file {path}: {e.strerror}", span) from None
    finally:
        os.close(fd)


_FIELDS = re.compile(r"Expected \d+ fields in line \d+, saw \d+")


def _pandas_message(e: BaseException) -> str:
    """A pandas error as a message that quotes no file content beyond an excerpt."""
    text = str(e)
    m = _FIELDS.search(text)
    if m:
        return m.group(0)
    return excerpt(text.splitlines()[0] if text.strip() else type(e).__name__)


def _parse_csv(path: Path, data: bytes, tz: str, span: Span) -> CsvFile:
    import pandas as pd

    digest = hashlib.sha256(data).hexdigest()
    text = data.decode("utf-8-sig", errors="replace")
    try:
        frame = pd.read_csv(
            io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True
        )
        if frame.shape[1] == 1 and ";" in str(frame.columns[0]):
            frame = pd.read_csv(
                io.StringIO(text), dtype=str, keep_default_na=False, sep=";", skipinitialspace=True
            )
    except (ValueError, pd.errors.ParserError, UnicodeError, OverflowError) as e:
        msg = _pandas_message(e)
        raise _fail("E406", f"cannot read CSV file {path.name}: {msg}", span) from None
    if frame.shape[1] < 1 or len(frame) == 0:
        raise _fail("E404", f"CSV file {path.name} has no rows", span)
    frame.columns = [str(c).strip() for c in frame.columns]
    stamps = frame.iloc[:, 0].astype(str).str.strip()
    has_offset = stamps.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True)
    if has_offset.any() and not has_offset.all():
        i = int(np.flatnonzero(~has_offset.to_numpy())[0])
        raise _fail(
            "E406",
            f"{path.name} mixes timestamps with and without UTC offset (row "
            f"{i + 2}: `{excerpt(stamps.iloc[i])}`)",
            span,
            "mixed timestamps",
        )
    try:
        # With offsets (which change across DST: +01:00/+02:00) parse to UTC directly.
        parsed = pd.to_datetime(stamps, format="ISO8601", utc=bool(has_offset.all()))
    except (ValueError, TypeError, OverflowError) as e:
        bad = _first_bad_timestamp(stamps)
        out_of_range = isinstance(e, OverflowError) or "out of bounds" in str(e).lower()
        raise _fail(
            "E406",
            f"bad timestamp in {path.name}{bad}: "
            + (
                "outside the dates pandas can hold (1677-09-22 … 2262-04-11)"
                if out_of_range
                else "not an ISO 8601 date and time"
            ),
            span,
            "timestamps must be ISO 8601, e.g. 2021-06-07T06:00 or 2021-06-07T06:00+02:00",
        ) from None
    try:
        idx = pd.DatetimeIndex(parsed)
        if idx.tz is None:
            # Local times of the horizon's zone: the repeated autumn hour is told apart by the
            # order of rows (`infer`); a time that does not exist (spring gap) is an error.
            idx = idx.tz_localize(tz, ambiguous="infer", nonexistent="raise")
        times = np.asarray(idx.tz_convert("UTC").as_unit("ns").asi8, dtype=np.int64)
    except pd.errors.OutOfBoundsDatetime:
        raise _fail(
            "E406",
            f"bad timestamp in {path.name}{_first_out_of_range(stamps)}: outside the dates "
            "pandas can hold (1677-09-22 … 2262-04-11)",
            span,
            "unsupported date",
            ("remove rows far outside the horizon",),
        ) from None
    except Exception as e:  # pytz/pandas raise several types for DST trouble
        msg = _pandas_message(e)
        raise _fail(
            "E406",
            f"bad local timestamp in {path.name}: {msg}",
            span,
            "",
            (
                "write timestamps with a UTC offset (2021-10-31T02:00+01:00) "
                "around daylight-saving changes",
            ),
        ) from None
    order = np.argsort(times, kind="stable")
    times = times[order]
    if len(times) > 1:
        dup = np.flatnonzero(np.diff(times) == 0)
        if len(dup):
            ts = pd.Timestamp(int(times[dup[0]]), tz="UTC").tz_convert(tz)
            raise _fail("E406", f"duplicate timestamp {ts.isoformat()} in {path.name}", span)
    columns = {
        str(c): frame.iloc[:, i].to_numpy()[order] for i, c in enumerate(frame.columns) if i > 0
    }
    resolution: int | None = None
    if len(times) > 1:
        diffs = np.diff(times)
        vals, counts = np.unique(diffs, return_counts=True)
        resolution = int(vals[np.argmax(counts)])
    return CsvFile(path, digest, times, columns, resolution_ns=resolution)


def _columns_hint(f: CsvFile) -> str:
    """The file's data columns for a hint: at most 20, each an excerpt (headers are content)."""
    names = [f"`{excerpt(c)}`" for c in list(f.columns)[:20]]
    more = f" and {len(f.columns) - 20} more" if len(f.columns) > 20 else ""
    return f"columns: {', '.join(names)}{more}"


def _first_out_of_range(stamps: Any) -> str:
    import pandas as pd

    for i, s in enumerate(stamps):
        try:
            pd.Timestamp(s).as_unit("ns")
        except (ValueError, TypeError, OverflowError):
            return f" (row {i + 2}: `{excerpt(s)}`)"
    return ""


def _first_bad_timestamp(stamps: Any) -> str:
    import pandas as pd

    for i, s in enumerate(stamps):
        try:
            pd.Timestamp(s)
        except (ValueError, TypeError, OverflowError):
            return f" (row {i + 2}: `{excerpt(s)}`)"
    return ""


def _column_values(f: CsvFile, column: str, span: Span) -> FloatArray:
    got = f.numeric.get(column)
    if got is not None:
        return got
    import pandas as pd

    raw = f.columns[column]
    # Empty cells become NaN (then `missing` fills them); anything non-numeric is E405.
    as_str = pd.Series(raw, dtype=str).str.strip()
    nums = pd.to_numeric(as_str.replace("", np.nan), errors="coerce")
    bad = nums.isna().to_numpy() & (as_str.to_numpy() != "")
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        ts = _fmt_ns(int(f.times_ns[i]))
        raise _fail(
            "E405",
            f"non-numeric value `{excerpt(as_str.iloc[i])}` in column `{excerpt(column)}` of "
            f"{f.path.name} at {ts}",
            span,
        )
    out = np.asarray(nums.to_numpy(), dtype=np.float64)
    f.numeric[column] = out
    return out


def _fmt_ns(ns: int, tz: str = "UTC") -> str:
    import pandas as pd

    return str(pd.Timestamp(ns, tz="UTC").tz_convert(tz).isoformat())


def _fmt_h(ns: int) -> str:
    h = ns / NS_PER_H
    if h >= 1 and h == int(h):
        return f"{int(h)} h"
    m = ns / 60e9
    return f"{m:g} min"


# ---------------------------------------------------------------------------------------------
# The evaluator
# ---------------------------------------------------------------------------------------------
class SeriesContext:
    """Evaluates series expressions of one design (one variant) on its grid.

    `decls` are the `series` declarations by name; `kinds` maps every other declared name to
    its kind ("participant", "block", ...) for E103 messages.
    """

    def __init__(
        self,
        grid: TimeGrid,
        currency: str,
        directory: Path,
        decls: dict[str, S.SeriesDecl],
        kinds: dict[str, str] | None = None,
        allow_outside: bool = False,
    ) -> None:
        self.grid = grid
        self.currency = currency
        self.directory = directory
        self.allow_outside = allow_outside
        self.decls = decls
        self.kinds = kinds or {}
        self.n = grid.n_steps
        self.step_ns = round(grid.step_h * NS_PER_H)
        self.data_files: dict[str, str] = {}  # path -> sha256
        self._done: dict[str, Series] = {}
        self._failed: dict[str, PebdslError] = {}
        self._failed_files: dict[str, PebdslError] = {}
        self._stack: list[str] = []
        self._index: Any = None
        self._utc_ns: npt.NDArray[np.int64] | None = None

    # -- grid helpers -----------------------------------------------------------------------
    @property
    def index(self) -> Any:
        if self._index is None:
            self._index = self.grid.index
        return self._index

    @property
    def utc_ns(self) -> npt.NDArray[np.int64]:
        if self._utc_ns is None:
            self._utc_ns = np.asarray(
                self.index.tz_convert("UTC").as_unit("ns").asi8, dtype=np.int64
            )
        return self._utc_ns

    # -- public API -------------------------------------------------------------------------
    def series(self, name: str, span: Span) -> Series:
        """The value of a declared series (evaluated once; cycles are E106)."""
        if name in self._done:
            return self._done[name]
        if name in self._failed:
            raise self._failed[name]
        if name in self._stack:
            cycle = " -> ".join([*self._stack[self._stack.index(name) :], name])
            raise _fail(
                "E106",
                f"series `{name}` depends on itself: {cycle}",
                span,
                "cycle of series references",
            )
        decl = self.decls[name]
        self._stack.append(name)
        try:
            value = self.eval(decl.value)
        except PebdslError as e:
            self._failed[name] = e
            raise
        finally:
            self._stack.pop()
        self._done[name] = value
        return value

    def array(self, expr: S.Expr, dimension: str, what: str) -> FloatArray:
        """`expr` as one value per step in the canonical unit of `dimension`."""
        s = self.eval(expr)
        self._check(s, expr, dimension, what)
        factor = U.canonical_factor(dimension, self.currency)
        if isinstance(s.values, np.ndarray):
            out = U.scale_array(s.values, factor)
        else:
            out = np.full(self.n, U.scale(s.values, factor))
        if not np.all(np.isfinite(out)):
            bad = int(np.flatnonzero(~np.isfinite(out))[0])
            raise _fail(
                "E408",
                f"{what} is not finite at step {bad + 1} ({self._step_time(bad)})",
                span_of(expr),
                "division by zero or overflow",
            )
        if out.size:
            worst = int(np.argmax(np.abs(out)))
            big = U.beyond_magnitude(
                float(out[worst]),
                dimension,
                span_of(expr),
                self.currency,
                what if s.is_constant else f"{what} at step {worst + 1} ({self._step_time(worst)})",
            )
            if big is not None:
                raise big
        return np.ascontiguousarray(out, dtype=np.float64)

    def constant(self, expr: S.Expr, dimension: str, what: str) -> float:
        """`expr` as one number in the canonical unit of `dimension` (a series is E307)."""
        e = strip(expr)
        if isinstance(e, S.Quantity):
            # Keep the written unit: tells `EUR/kW/month` from `EUR/kWh` (same dimension).
            return U.convert(
                float(e.number.value),
                e.unit.text,
                dimension,
                span_of(e),
                self.currency,
                what,
                unit_span=span_of(e.unit),
            )
        s = self.eval(expr)
        self._check(s, expr, dimension, what)
        if not s.is_constant:
            raise _fail(
                "E307",
                f"{what} must be a constant, not a series",
                span_of(expr),
                f"expected one {U.DIMENSIONS[dimension].name} value",
            )
        assert isinstance(s.values, float)
        out = U.scale(s.values, U.canonical_factor(dimension, self.currency))
        if not math.isfinite(out):
            raise _fail("E302", f"{what} is not a finite number", span_of(expr))
        big = U.beyond_magnitude(out, dimension, span_of(expr), self.currency, what)
        if big is not None:
            raise big
        return out

    def _check(self, s: Series, expr: S.Expr, dimension: str, what: str) -> None:
        dim = U.DIMENSIONS[dimension]
        if not s.dims and dim.dims and not dim.bare_ok:
            raise U.missing_unit(dimension, span_of(expr), self.currency, what)
        if dim.bare_ok and not s.dims:
            return
        unit = None
        e = strip(expr)
        if isinstance(e, S.Quantity):
            unit = U.parse_unit(e.unit.text, span_of(e.unit))
        U.check_dims(s.dims, dimension, span_of(expr), self.currency, what, unit)

    def _step_time(self, i: int) -> str:
        return str(self.index[i].isoformat())

    # -- evaluation -------------------------------------------------------------------------
    def eval(self, expr: S.Expr) -> Series:
        e = strip(expr)
        if isinstance(e, S.Number):
            return Series(float(e.value), ())
        if isinstance(e, S.Quantity):
            unit = U.parse_unit(e.unit.text, span_of(e.unit))
            v = U.scale(float(e.number.value), unit.factor)
            if not math.isfinite(v):
                raise _fail("E302", "value is not a finite number", span_of(e))
            return Series(v, unit.dims)
        if isinstance(e, S.Neg):
            s = self.eval(e.operand)
            return Series(-s.values, s.dims)
        if isinstance(e, S.BinOp):
            return self._binop(e)
        if isinstance(e, S.Ref):
            return self._ref(e)
        if isinstance(e, S.List):
            return self._list(e)
        if isinstance(e, S.Daily):
            return self._daily(e)
        if isinstance(e, S.Call):
            return self._call(e)
        kind = {
            S.String: "a string",
            S.Bool: "a boolean",
            S.DateTime: "a date",
            S.UnitValue: "a bare unit",
        }.get(type(e), "this")
        raise _fail(
            "E307", f"expected a series or quantity, got {kind}", span_of(e), "not a series"
        )

    def _binop(self, e: S.BinOp) -> Series:
        a = self.eval(e.left)
        b = self.eval(e.right)
        with np.errstate(all="ignore"):
            if e.op in "+-":
                if a.dims != b.dims:
                    word = "add" if e.op == "+" else "subtract"
                    raise _fail(
                        "E202",
                        f"cannot {word} {U.dims_name(a.dims)} and {U.dims_name(b.dims)}",
                        span_of(e),
                        f"{U.dims_name(a.dims)} {e.op} {U.dims_name(b.dims)}",
                    )
                values = a.values + b.values if e.op == "+" else a.values - b.values
                return Series(_as_value(values), a.dims)
            if e.op == "*":
                ref = _scaled_ref(a, b) or _scaled_ref(b, a)
                return Series(_as_value(a.values * b.values), U.dims_mul(a.dims, b.dims), ref)
            if e.op == "/":
                ref = None
                if a.annual_ref_kwh is not None and b.is_constant and not b.dims:
                    ra, bv = a.annual_ref_kwh, float(b.values)  # type: ignore[arg-type]
                    ref = (lambda: ra() / bv) if bv else None
                if b.is_constant and b.values == 0:
                    raise _fail("E408", "division by zero", span_of(e.right), "is zero")
                return Series(
                    _as_value(np.true_divide(a.values, b.values)),
                    U.dims_mul(a.dims, b.dims, -1),
                    ref,
                )
        raise _fail("E307", f"unknown operator `{e.op}`", span_of(e))

    def _ref(self, e: S.Ref) -> Series:
        parts = e.path.parts
        name = parts[0]
        if len(parts) == 1 and name in self.decls:
            return self.series(name, span_of(e))
        if len(parts) > 1:
            raise _fail("E307", f"`{e.name}` is not a series", span_of(e), "expected a series name")
        kind = self.kinds.get(name)
        if kind is not None:
            raise _fail(
                "E103", f"`{name}` is a {kind}, not a series", span_of(e), "expected a series"
            )
        raise _fail(
            "E101",
            f"unknown series `{name}`",
            span_of(e),
            "not declared",
            did_you_mean(name, self.decls),
        )

    def _numbers(self, items: tuple[S.Expr, ...]) -> tuple[FloatArray, U.Dims] | None:
        """Plain numbers of a list, vectorised; None when an item is not a plain number."""
        if all(type(it) is S.Number for it in items):
            # The common case (a year of hourly values): one vectorised conversion.
            nums = cast(tuple[S.Number, ...], items)
            return np.fromiter((it.value for it in nums), dtype=np.float64, count=len(nums)), ()
        out = np.empty(len(items))
        dims: U.Dims | None = None
        for i, it in enumerate(items):
            v = number_value(it)
            if v is not None:
                out[i] = v
                d: U.Dims = ()
            else:
                s = self.eval(it)
                if not s.is_constant:
                    raise _fail(
                        "E307",
                        "a list item must be a number or a quantity",
                        span_of(it),
                        "not a number",
                    )
                out[i] = float(s.values)  # type: ignore[arg-type]
                d = s.dims
            if dims is None:
                dims = d
            elif d != dims:
                raise _fail(
                    "E202", f"list items mix {U.dims_name(dims)} and {U.dims_name(d)}", span_of(it)
                )
        return out, dims or ()

    def _list_values(self, lst: S.List) -> tuple[FloatArray, U.Dims]:
        got = self._numbers(lst.items)
        assert got is not None
        values, dims = got
        if lst.unit is not None:
            if dims:
                raise _fail(
                    "E202", "a list with a unit after it must hold plain numbers", span_of(lst.unit)
                )
            unit = U.parse_unit(lst.unit.text, span_of(lst.unit))
            values = U.scale_array(values, unit.factor)
            dims = unit.dims
        if not np.all(np.isfinite(values)):
            raise _fail("E302", "list value is not a finite number", span_of(lst))
        return values, dims

    def _list(self, e: S.List) -> Series:
        values, dims = self._list_values(e)
        if len(values) != self.n:
            raise _fail(
                "E401",
                f"{len(values)} value{'s' if len(values) != 1 else ''} for a {self.n}-step horizon",
                span_of(e),
                f"expected {self.n} values",
                ("a list holds one value per step; `daily [...]` repeats one day",),
            )
        return Series(values, dims)

    def _daily(self, e: S.Daily) -> Series:
        values, dims = self._list_values(e.values)
        step_s = self.grid.step_h * 3600.0
        per_day_f = 86400.0 / step_s
        per_day = round(per_day_f)
        if per_day < 1 or abs(per_day - per_day_f) > 1e-9:
            raise _fail(
                "E303",
                f"`daily` needs a step that divides a day; the step is {self.grid.step_h:g} h",
                span_of(e),
            )
        if len(values) != per_day:
            raise _fail(
                "E401",
                f"{len(values)} value{'s' if len(values) != 1 else ''} for "
                f"a day of {per_day} steps",
                span_of(e.values),
                f"expected {per_day} values",
            )
        idx = self.index
        # The local clock: position = local time of day // step. A 23 h day skips the missing
        # hour's value, a 25 h day repeats the value of the repeated hour.
        tod_s = (
            np.asarray(idx.hour, dtype=np.int64) * 3600
            + np.asarray(idx.minute, dtype=np.int64) * 60
            + np.asarray(idx.second, dtype=np.int64)
        )
        pos = np.minimum((tod_s // round(step_s)).astype(np.int64), per_day - 1)
        return Series(values[pos], dims)

    # -- calls ------------------------------------------------------------------------------
    def _call(self, e: S.Call) -> Series:
        name = e.func.value
        if name == "csv":
            return self._csv(e)
        from pebdsl import generators

        gen = generators.REGISTRY.get(name)
        if gen is None:
            raise _fail(
                "E101",
                f"unknown function `{name}`",
                span_of(e.func),
                "not a function",
                did_you_mean(name, ["csv", *generators.REGISTRY]),
            )
        return self._generator(e, gen)

    def _args(self, e: S.Call, params: list[str]) -> dict[str, tuple[S.Expr, S.Arg]]:
        """Map positional and keyword arguments to parameter names (E407 on mistakes)."""
        out: dict[str, tuple[S.Expr, S.Arg]] = {}
        seen_kw = False
        fname = e.func.value
        for i, a in enumerate(e.args):
            if a.name is None:
                if seen_kw:
                    raise _fail(
                        "E407",
                        f"{fname}(): positional argument after a keyword argument",
                        span_of(a),
                    )
                if i >= len(params):
                    raise _fail(
                        "E407",
                        f"{fname}() takes at most {len(params)} positional "
                        f"argument{'s' if len(params) != 1 else ''}",
                        span_of(a),
                        "too many arguments",
                        (f"parameters: {', '.join(params)}",),
                    )
                key = params[i]
            else:
                seen_kw = True
                key = a.name.value
                if key not in params:
                    raise _fail(
                        "E407",
                        f"{fname}() has no parameter `{key}`",
                        span_of(a.name),
                        "unknown parameter",
                        (*did_you_mean(key, params), f"parameters: {', '.join(params)}"),
                    )
            if key in out:
                raise _fail("E407", f"{fname}(): `{key}` given twice", span_of(a))
            out[key] = (a.value, a)
        return out

    def _generator(self, e: S.Call, gen: Any) -> Series:
        from pebdsl import generators

        params = {p.name: p for p in gen.params}
        args = self._args(e, list(params))
        kwargs: dict[str, object] = {}
        for key, (value, _a) in args.items():
            kwargs[key] = self._gen_arg(gen.name, params[key], value)
        try:
            values = generators.call(gen.name, self.index, self.currency, **kwargs)
            unit_text = generators.unit_of(gen.name, self.currency)
        except (ValueError, TypeError, KeyError, ArithmeticError) as ex:
            msg = str(ex).splitlines()[0] if str(ex) else type(ex).__name__
            raise _fail("E407", msg, span_of(e), "in this call") from None
        unit = U.parse_unit(unit_text) if unit_text else None
        dims = unit.dims if unit else ()
        cur = U.currency_of(dims)
        if cur is not None and cur != self.currency:
            raise _fail(
                "E204",
                f"{gen.name}() gives {unit_text}, but the design's currency is {self.currency}",
                span_of(e),
                f"in {cur}",
            )
        arr = np.asarray(values, dtype=np.float64)
        if unit is not None:
            arr = U.scale_array(arr, unit.factor)
        if arr.shape != (self.n,) or not np.all(np.isfinite(arr)):
            raise _fail("E407", f"{gen.name}() returned invalid values", span_of(e))
        ref: Callable[[], float] | None = None
        if dims == (("energy", 1), ("time", -1)):
            annual_param = params.get("annual")
            if annual_param is not None and annual_param.dimension == "energy":
                annual_kwh = float(kwargs.get("annual", annual_param.default))  # type: ignore[arg-type]
                ref = lambda: annual_kwh  # noqa: E731
            else:
                ref = self._annual_thunk(gen.name, kwargs, unit.factor if unit else Fraction(1))
        return Series(arr, dims, ref)

    def _annual_thunk(
        self, name: str, kwargs: dict[str, object], factor: Fraction
    ) -> Callable[[], float]:
        def compute() -> float:
            import pandas as pd

            from pebdsl import generators

            tz = self.grid.timezone
            first = self.index[0]
            y0 = pd.Timestamp(year=first.year, month=1, day=1, tz=tz)
            y1 = pd.Timestamp(year=first.year + 1, month=1, day=1, tz=tz)
            idx = pd.date_range(y0, y1, freq="1h", inclusive="left")
            vals = generators.call(name, idx, self.currency, **kwargs)
            return float(U.scale(float(np.sum(vals)), factor))  # kW x 1 h = kWh

        return compute

    def _gen_arg(self, fname: str, param: Any, value: S.Expr) -> object:
        v = strip(value)
        if param.kind == "string":
            if isinstance(v, S.String):
                return v.value
            if isinstance(v, S.Ref) and len(v.path.parts) == 1:
                return v.name  # `standard_load(H0)` reads as the string "H0"
            raise _fail(
                "E407",
                f"{fname}(): `{param.name}` must be a string",
                span_of(v),
                "expected a string",
            )
        num = number_value(v)
        if param.kind == "number":
            if num is None:
                raise _fail(
                    "E407",
                    f"{fname}(): `{param.name}` must be a number",
                    span_of(v),
                    "expected a number",
                )
            return num
        # a quantity
        dimension = param.dimension or ""
        if dimension not in U.DIMENSIONS:
            raise _fail(
                "E407", f"{fname}(): unsupported parameter dimension {dimension}", span_of(v)
            )
        if num is not None:
            return U.convert(
                num,
                None,
                dimension,
                span_of(v),
                self.currency,
                f"{fname}() argument `{param.name}`",
            )
        return self.constant(v, dimension, f"{fname}() argument `{param.name}`")

    # -- csv --------------------------------------------------------------------------------
    _CSV_PARAMS = ("path", "column", "unit", "missing", "resample")

    def _csv(self, e: S.Call) -> Series:
        args = self._args(e, list(self._CSV_PARAMS))
        if "path" not in args:
            raise _fail(
                "E407", 'csv() needs a file path: csv("file.csv", column = "name")', span_of(e)
            )
        pexpr = strip(args["path"][0])
        if not isinstance(pexpr, S.String):
            raise _fail("E407", "csv(): the path must be a string", span_of(pexpr))
        path = self._csv_path(pexpr)
        key = os.path.normpath(str(path))
        if key in self._failed_files:
            # Reported once, at the first use; later uses re-raise the same diagnostic.
            raise self._failed_files[key]
        try:
            f = _read_csv(path, self.grid.timezone, span_of(pexpr))
        except PebdslError as err:
            self._failed_files[key] = err
            raise
        self.data_files[os.path.normpath(str(path))] = f.sha256

        # column
        if "column" in args:
            cexpr = strip(args["column"][0])
            if isinstance(cexpr, S.String):
                column = cexpr.value
            elif isinstance(cexpr, S.Ref) and len(cexpr.path.parts) == 1:
                column = cexpr.name
            else:
                raise _fail("E407", "csv(): `column` must be a string", span_of(cexpr))
            cspan = span_of(cexpr)
        else:
            if len(f.columns) != 1:
                raise _fail(
                    "E403",
                    f"csv(): {path.name} has {len(f.columns)} data columns; "
                    'say which with column = "…"',
                    span_of(e),
                    "",
                    (_columns_hint(f),),
                )
            column = next(iter(f.columns))
            cspan = span_of(e)
        if column not in f.columns:
            raise _fail(
                "E403",
                f"column `{column}` not in {path.name}",
                cspan,
                "no such column",
                (*did_you_mean(column, f.columns), _columns_hint(f)),
            )
        # unit
        factor, dims = Fraction(1), U.DIMENSIONLESS
        if "unit" in args:
            uexpr = strip(args["unit"][0])
            if isinstance(uexpr, S.UnitValue):
                utext, uspan = uexpr.unit.text, span_of(uexpr.unit)
            elif isinstance(uexpr, S.Ref):
                utext, uspan = uexpr.name, span_of(uexpr)
            elif isinstance(uexpr, S.String):
                utext, uspan = uexpr.value, span_of(uexpr)
            else:
                raise _fail("E407", "csv(): `unit` must be a unit, e.g. unit = kW", span_of(uexpr))
            info = U.parse_unit(utext, uspan)
            factor, dims = info.factor, info.dims
        # missing / resample
        fill: float | None = None
        if "missing" in args:
            mexpr = strip(args["missing"][0])
            num = number_value(mexpr)
            if num is None:
                ms = self.eval(mexpr)
                if not ms.is_constant or ms.dims != dims:
                    raise _fail(
                        "E407",
                        "csv(): `missing` must be a number (in the column's unit)",
                        span_of(mexpr),
                    )
                fill = float(ms.values) / float(factor) if factor else 0.0  # type: ignore[arg-type]
            else:
                fill = num
        resample = False
        if "resample" in args:
            rexpr = strip(args["resample"][0])
            if not isinstance(rexpr, S.Bool):
                raise _fail("E407", "csv(): `resample` must be true or false", span_of(rexpr))
            resample = rexpr.value
        raw = _column_values(f, column, cspan)
        values = self._align(f, raw, column, fill, resample, span_of(e))
        return Series(U.scale_array(values, factor), dims)

    def _csv_path(self, pexpr: S.String) -> Path:
        """The path of a csv() call: a valid name (E412), inside the design's folder (E411)."""
        text = pexpr.value
        if "\x00" in text or not text:
            raise _fail(
                "E412",
                f"csv(): `{excerpt(text)}` is not a valid file path",
                span_of(pexpr),
                "a NUL byte in the path" if text else "empty path",
            )
        path = Path(text)
        if not path.is_absolute():
            path = self.directory / path
        if not self.allow_outside:
            # Symbolic links and `..` resolved: a link inside the folder to a file outside is
            # outside. Nothing outside the folder is even looked at.
            base = os.path.realpath(self.directory)
            try:
                real = os.path.realpath(path)
            except (OSError, ValueError):
                real = os.path.abspath(path)
            if os.path.commonpath([base, real]) != base:
                raise _fail(
                    "E411",
                    f"csv(): {excerpt(text, 80)} is outside the design's folder",
                    span_of(pexpr),
                    "outside the design's folder",
                    (
                        "put the data next to the design (or below it), or allow it "
                        "explicitly: `pebdsl … --allow-outside` (Python: allow_outside=True)",
                    ),
                )
        return path

    def _align(
        self,
        f: CsvFile,
        raw: FloatArray,
        column: str,
        fill: float | None,
        resample: bool,
        span: Span,
    ) -> FloatArray:
        """Values of the CSV on the horizon's steps (E404, E405)."""
        t = f.times_ns
        h = self.utc_ns
        step = self.step_ns
        tz = self.grid.timezone
        res = f.resolution_ns if f.resolution_ns is not None else step
        name = f.path.name
        if res != step and not resample:
            raise _fail(
                "E404",
                f"{name} has a resolution of {_fmt_h(res)}, the horizon's step is {_fmt_h(step)}",
                span,
                "other resolution",
                ("add `resample = true` to average finer or repeat coarser data",),
            )
        if res == step:
            pos = np.searchsorted(t, h)
            pos_c = np.minimum(pos, len(t) - 1)
            found = (pos < len(t)) & (t[pos_c] == h)
            if not found.all():
                miss = int(np.flatnonzero(~found)[0])
                raise _fail(
                    "E404",
                    f"{name} does not cover the horizon: no row for {_fmt_ns(int(h[miss]), tz)}",
                    span,
                    "missing rows",
                    (f"the file holds {_fmt_ns(int(t[0]), tz)} … {_fmt_ns(int(t[-1]), tz)}",),
                )
            vals = raw[pos_c]
            used = pos_c
        elif res < step:
            lo = np.searchsorted(t, h, "left")
            hi = np.searchsorted(t, h + step, "left")
            need = step // res if step % res == 0 else -1
            ok = (hi - lo) == need
            if not ok.all():
                miss = int(np.flatnonzero(~ok)[0])
                raise _fail(
                    "E404",
                    f"{name} does not cover the step starting "
                    f"{_fmt_ns(int(h[miss]), tz)} with {_fmt_h(res)} rows",
                    span,
                    "missing rows",
                )
            used = np.arange(lo[0], hi[-1])
            seg = raw[lo[0] : hi[-1]].copy()
            if fill is not None:
                seg[np.isnan(seg)] = fill
            self._no_nan(f, seg, lo[0], column, span)
            csum = np.concatenate([[0.0], np.cumsum(seg)])
            return np.asarray((csum[hi - lo[0]] - csum[lo - lo[0]]) / (hi - lo), dtype=np.float64)
        else:
            pos = np.searchsorted(t, h, "right") - 1
            pos_c = np.maximum(pos, 0)
            # A row holds until the next row, at most its resolution (+1 h for DST days).
            nxt = np.concatenate([t[1:], [t[-1] + res]])
            end = np.minimum(nxt, t + res + NS_PER_H)
            ok = (pos >= 0) & (h + step <= end[pos_c])
            if not ok.all():
                miss = int(np.flatnonzero(~ok)[0])
                raise _fail(
                    "E404",
                    f"{name} does not cover the horizon at {_fmt_ns(int(h[miss]), tz)}",
                    span,
                    "missing rows",
                )
            vals = raw[pos_c]
            used = pos_c
        vals = vals.copy()
        if fill is not None:
            vals[np.isnan(vals)] = fill
        nan = np.isnan(vals)
        if nan.any():
            i = int(np.flatnonzero(nan)[0])
            self._no_nan(f, raw[used[i] : used[i] + 1], int(used[i]), column, span)
        return vals

    def _no_nan(self, f: CsvFile, seg: FloatArray, offset: int, column: str, span: Span) -> None:
        nan = np.isnan(seg)
        if nan.any():
            i = offset + int(np.flatnonzero(nan)[0])
            raise _fail(
                "E405",
                f"empty cell in column `{column}` of {f.path.name} at "
                f"{_fmt_ns(int(f.times_ns[i]), self.grid.timezone)}",
                span,
                "empty cell",
                ("add `missing = 0` to read empty cells as 0",),
            )


def _as_value(v: Any) -> Value:
    if isinstance(v, np.ndarray):
        return v
    return float(v)


def _scaled_ref(a: Series, b: Series) -> Callable[[], float] | None:
    """The annual reference of `a * b` when `a` has one and `b` is a plain constant."""
    if a.annual_ref_kwh is not None and b.is_constant and not b.dims:
        ra, bv = a.annual_ref_kwh, float(b.values)  # type: ignore[arg-type]
        return lambda: ra() * bv
    return None
