"""CSV files for `csv()`: read safely, parsed once, timestamps on UTC nanoseconds.

Input: a path (already checked to lie inside the design's folder by `csvalign.py`), the
horizon's timezone and the span of the call. Output: `CsvFile` (sha256 of the bytes, sorted
unique UTC times, raw columns converted to float on first use, the most common resolution),
cached per (real path, mtime, size, timezone) in `_CSV_CACHE`.

Rules (docs/language.md): a regular file of at most `MAX_CSV_BYTES` (512 MiB), checked with
`fstat` on a descriptor opened without blocking, so a FIFO or device is never read. Messages
quote the file's content only as short escaped excerpts (`excerpt`, at most 40 characters).
The first column holds ISO 8601 timestamps (start of step); without offset they are local
times of the horizon's timezone (an ambiguous autumn hour is resolved by row order,
`ambiguous="infer"`; a nonexistent spring hour is an error).

Errors: E402 CSV not found or not readable, E404 no rows, E405 a non-numeric cell, E406 bad,
mixed, duplicate or out-of-range timestamps (pandas holds 1677-09-22 … 2262-04-11), E409 a
path that is not a regular file (directory, FIFO, device, socket), E410 a file over
`MAX_CSV_BYTES`.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pebdsl.diagnostics import PebdslError
from pebdsl.resolve.expr import NS_PER_H, FloatArray, fail
from pebdsl.source import Span

__all__ = [
    "MAX_CSV_BYTES",
    "CsvFile",
    "column_values",
    "columns_hint",
    "excerpt",
    "fmt_h",
    "fmt_ns",
    "read_csv",
    "sorted_table",
    "utc_times",
]


@dataclass
class CsvFile:
    """A parsed CSV file: its hash, UTC times and columns (see the module docstring)."""

    path: Path
    sha256: str
    times_ns: npt.NDArray[np.int64]  # UTC, sorted, unique
    columns: dict[str, Any]  # raw pandas columns (converted to float on first use)
    numeric: dict[str, FloatArray] = field(default_factory=dict)
    resolution_ns: int | None = None
    label: str = ""  # how messages name it (default: the file's name); `data `home`` in memory
    units: dict[str, str] = field(default_factory=dict)  # column -> unit the data carries

    @property
    def name(self) -> str:
        """How messages name the table: its label, or the file's name."""
        return self.label or self.path.name


_CSV_CACHE: dict[tuple[str, int, int, str, str], CsvFile] = {}
Parser = Callable[[Path, bytes, str, Span], CsvFile]  # path, bytes, timezone, span -> table
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


def _not_regular(path: Path, mode: int, span: Span, what: str = "CSV") -> PebdslError:
    kind = _kind_of(mode)
    return fail(
        "E409",
        f"{what} path {path} is {kind}, not a regular file",
        span,
        kind,
        (f"{what.lower()}() reads regular files only",),
    )


def read_csv(
    path: Path, tz: str, span: Span, what: str = "CSV", parse: Parser | None = None
) -> CsvFile:
    """The parsed file at `path` (a regular file, size-checked; cached). `what` and `parse`:
    another format's name in messages and its parser (`frames.py`: Parquet)."""
    try:
        st = os.stat(path)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ENOTDIR):
            raise fail(
                "E402",
                f"{what} file not found: {path}",
                span,
                "no such file",
                ("the path is relative to the design file",),
            ) from None
        raise fail("E402", f"cannot access {what} file {path}: {e.strerror}", span) from None
    # Checked before opening: opening a FIFO blocks, reading /dev/zero never ends.
    if not stat.S_ISREG(st.st_mode):
        raise _not_regular(path, st.st_mode, span, what)
    if st.st_size > MAX_CSV_BYTES:
        raise _too_big(path, st.st_size, span, what)
    key = (os.path.realpath(path), st.st_mtime_ns, st.st_size, tz, what)
    hit = _CSV_CACHE.get(key)
    if hit is not None:
        return hit
    data = _read_regular(path, span, what)
    parsed = (parse or _parse_csv)(path, data, tz, span)
    if len(_CSV_CACHE) >= _CSV_CACHE_MAX:
        _CSV_CACHE.clear()
    _CSV_CACHE[key] = parsed
    return parsed


def _too_big(path: Path, size: int, span: Span, what: str = "CSV") -> PebdslError:
    return fail(
        "E410",
        f"{what} file {path.name} holds {size / 2**20:.0f} MiB, more than the "
        f"{MAX_CSV_BYTES // 2**20} MiB {what.lower()}() reads",
        span,
        "too large",
        ("split the file, or keep only the columns and rows the design uses",),
    )


def _read_regular(path: Path, span: Span, what: str = "CSV") -> bytes:
    """The bytes of a regular file, opened without blocking and checked again on the
    descriptor (the path may have been replaced by a FIFO or device since `stat`)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise fail("E402", f"cannot read {what} file {path}: {e.strerror}", span) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _not_regular(path, st.st_mode, span, what)
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if total > MAX_CSV_BYTES:  # the file grew since fstat
                raise _too_big(path, total, span, what)
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as e:
        raise fail("E402", f"cannot read {what} file {path}: {e.strerror}", span) from None
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
    """The parsed file: rows sorted by time (E406 a duplicate), the most common resolution."""
    digest = hashlib.sha256(data).hexdigest()
    frame = _frame(path, data, span)
    frame.columns = [str(c).strip() for c in frame.columns]
    times = utc_times(path, frame.iloc[:, 0].astype(str).str.strip(), tz, span)
    columns = {str(c): frame.iloc[:, i].to_numpy() for i, c in enumerate(frame.columns) if i > 0}
    return sorted_table(CsvFile(path, digest, times, columns), tz, span, "E406")


def sorted_table(f: CsvFile, tz: str, span: Span, code: str) -> CsvFile:
    """`f` with its rows sorted by time (a duplicate time is `code`) and its most common
    resolution; `f.times_ns` and the columns are in row order."""
    import pandas as pd

    order = np.argsort(f.times_ns, kind="stable")
    times = f.times_ns[order]
    if len(times) > 1:
        dup = np.flatnonzero(np.diff(times) == 0)
        if len(dup):
            ts = pd.Timestamp(int(times[dup[0]]), tz="UTC").tz_convert(tz)
            raise fail(code, f"duplicate timestamp {ts.isoformat()} in {f.name}", span)
    f.times_ns = times
    f.columns = {c: v[order] for c, v in f.columns.items()}
    f.numeric = {c: v[order] for c, v in f.numeric.items()}
    if len(times) > 1:
        vals, counts = np.unique(np.diff(times), return_counts=True)
        f.resolution_ns = int(vals[np.argmax(counts)])
    return f


def _frame(path: Path, data: bytes, span: Span) -> Any:
    """The file as a pandas frame of strings (`,` or `;` separated; E406, E404 no rows)."""
    import pandas as pd

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
        raise fail("E406", f"cannot read CSV file {path.name}: {msg}", span) from None
    if frame.shape[1] < 1 or len(frame) == 0:
        raise fail("E404", f"CSV file {path.name} has no rows", span)
    return frame


def utc_times(path: Path, stamps: Any, tz: str, span: Span) -> npt.NDArray[np.int64]:
    """The first column's timestamps as UTC nanoseconds, in row order: with offsets as
    written, else local times of `tz` (E406 mixed, bad, out-of-range or nonexistent)."""
    import pandas as pd

    has_offset = stamps.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True)
    if has_offset.any() and not has_offset.all():
        i = int(np.flatnonzero(~has_offset.to_numpy())[0])
        raise fail(
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
        raise fail(
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
        raise fail(
            "E406",
            f"bad timestamp in {path.name}{_first_out_of_range(stamps)}: outside the dates "
            "pandas can hold (1677-09-22 … 2262-04-11)",
            span,
            "unsupported date",
            ("remove rows far outside the horizon",),
        ) from None
    except Exception as e:  # pytz/pandas raise several types for DST trouble
        msg = _pandas_message(e)
        raise fail(
            "E406",
            f"bad local timestamp in {path.name}: {msg}",
            span,
            "",
            (
                "write timestamps with a UTC offset (2021-10-31T02:00+01:00) "
                "around daylight-saving changes",
            ),
        ) from None
    return times


def columns_hint(f: CsvFile) -> str:
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


def column_values(f: CsvFile, column: str, span: Span) -> FloatArray:
    """A column as floats (empty cells NaN; E405 a non-numeric cell), converted once."""
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
        ts = fmt_ns(int(f.times_ns[i]))
        raise fail(
            "E405",
            f"non-numeric value `{excerpt(as_str.iloc[i])}` in column `{excerpt(column)}` of "
            f"{f.name} at {ts}",
            span,
        )
    out = np.asarray(nums.to_numpy(), dtype=np.float64)
    f.numeric[column] = out
    return out


def fmt_ns(ns: int, tz: str = "UTC") -> str:
    """UTC nanoseconds as an ISO 8601 time in `tz`."""
    import pandas as pd

    return str(pd.Timestamp(ns, tz="UTC").tz_convert(tz).isoformat())


def fmt_h(ns: int) -> str:
    """A duration in nanoseconds as hours (`2 h`) or minutes (`15 min`)."""
    h = ns / NS_PER_H
    if h >= 1 and h == int(h):
        return f"{int(h)} h"
    m = ns / 60e9
    return f"{m:g} min"
