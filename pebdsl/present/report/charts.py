"""Charts for the report, as hand-written inline SVG built with numpy: the shared primitives.

This module holds what every chart uses (colours, chart ids, number and tick formatting, the
time axis and its reduction for long horizons, the SVG frame, axes and legend, the "no data"
chart); the charts themselves are `timecharts` (stacked areas, lines), `barchart`, `heatmap`.

Input: plain numbers (numpy arrays, lists, dicts) already taken out of `Results`.
Output: `markupsafe.Markup` strings, each one `<svg>` element that is self-contained (no external
references, no scripts), sized by a `viewBox` so it scales with the page, with a `<title>`, a
`<desc>`, `role="img"` and axis labels carrying units. Every id inside a chart is prefixed with a
page-unique chart id, so many charts can share one HTML page.
Raises nothing for well-formed input; empty data gives a small "no data" chart.

Why hand-written SVG rather than matplotlib: a report for a 3-block week holds about fifteen
charts; writing SVG text directly takes milliseconds per chart, produces a few kilobytes each
(no text-as-paths, no clip-path bloat) and needs no global backend state.
Long horizons are reduced for display (`reduce_series`): stacked power charts show bucket means
(means keep the energy balance closed), state-of-charge and price charts show a min/max envelope
around the mean.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd
from markupsafe import Markup, escape

FloatArray = npt.NDArray[np.float64]


# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour-vision
# deficiency. Names as in the paper.
OKABE_ITO = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "black": "#000000",
    "grey": "#8C8C8C",
}


CYCLE = (
    OKABE_ITO["blue"],
    OKABE_ITO["orange"],
    OKABE_ITO["bluish_green"],
    OKABE_ITO["vermillion"],
    OKABE_ITO["reddish_purple"],
    OKABE_ITO["sky_blue"],
    OKABE_ITO["yellow"],
    OKABE_ITO["black"],
)


MAX_POINTS = 800  # buckets shown along a time axis before a series is reduced for display


# Chart ids count from 1 on each page (`reset_chart_ids` at the start of a page), so a page's
# bytes do not depend on what else the process rendered before (reproducible reports; compare
# renders one report per case). A context variable keeps threads rendering at once apart.
_ids: ContextVar[Iterator[int]] = ContextVar("pebdsl_chart_ids")


def reset_chart_ids() -> None:
    """Start a new page: the next chart id is `c1` again."""
    _ids.set(itertools.count(1))


def new_chart_id(prefix: str = "c") -> str:
    """A page-unique id prefix (ids only need to differ within a page)."""
    try:
        ids = _ids.get()
    except LookupError:
        ids = itertools.count(1)
        _ids.set(ids)
    return f"{prefix}{next(ids)}"


def color(i: int) -> str:
    """The `i`-th colour of the colour-blind-safe cycle (wraps around)."""
    return CYCLE[i % len(CYCLE)]


# --------------------------------------------------------------------------------- formatting
def fmt_num(value: float | None, digits: int | None = None) -> str:
    """Thousands separators and a precision that suits the magnitude (3 significant digits for
    small numbers, none after the point above 1000). `digits` forces a fixed precision."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    v = float(value)
    if digits is None:
        a = abs(v)
        if a == 0:
            return "0"
        digits = 0 if a >= 100 else 1 if a >= 10 else 2 if a >= 0.1 else 3 if a >= 0.001 else 6
        if abs(v - round(v)) < 1e-9:
            digits = 0
    s = f"{v:,.{digits}f}"
    if s.startswith("-") and float(s.replace(",", "").lstrip("-") or 0) == 0:
        s = s[1:]
    return s.replace("-", "−")


def _f(v: float) -> str:
    """Compact SVG coordinate."""
    return f"{v:.1f}".rstrip("0").rstrip(".") if v != int(v) else str(int(v))


MAX_TICKS = 24


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About `n` ticks at 1-2-5 multiples covering [lo, hi]; never more than `MAX_TICKS`.

    Non-finite limits (or a range that overflows) raise ValueError: the callers draw an empty
    chart instead. Ticks are `start + i * step` for a bounded `i`, so a step too small to move
    a huge limit (1e17 + 0.2 == 1e17) cannot loop.
    """
    if not (math.isfinite(lo) and math.isfinite(hi)) or not math.isfinite(hi - lo):
        raise ValueError(f"axis limits must be finite, got {lo!r} .. {hi!r}")
    if hi <= lo:
        hi = lo + max(1.0, abs(lo) * 1e-6)
    raw = (hi - lo) / min(max(n, 1), MAX_TICKS - 2)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step + 1e-9) * step
    ticks = []
    for i in range(MAX_TICKS):
        t = start + i * step
        ticks.append(round(t, 12))
        if t >= hi - 1e-9:
            break
    if len(ticks) < 2 or ticks[-1] <= ticks[0]:
        raise ValueError(f"axis range {lo!r} .. {hi!r} is too narrow for its magnitude")
    return ticks


def _ticks(lo: float, hi: float, n: int) -> list[float] | None:
    """`nice_ticks`, or None when the limits cannot be drawn (the caller shows no chart)."""
    try:
        return nice_ticks(lo, hi, n)
    except ValueError:
        return None


def _tick_label(v: float, ticks: Sequence[float]) -> str:
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
    digits = max(0, -math.floor(math.log10(step) + 1e-9)) if step < 1 else 0
    if step < 1 and abs(step * 10**digits - round(step * 10**digits)) > 1e-6:
        digits += 1
    return fmt_num(v, digits)


# --------------------------------------------------------------------------------- time axis
@dataclass
class TimeAxis:
    """Step starts of the horizon, as hours since its start (steps are exact durations)."""

    index: pd.DatetimeIndex
    dt_h: float

    @property
    def hours(self) -> FloatArray:
        """Each step's start in hours since the horizon's start."""
        if len(self.index) == 0:
            return np.zeros(0)
        return np.asarray((self.index - self.index[0]).total_seconds() / 3600.0, dtype=np.float64)

    @property
    def span_h(self) -> float:
        """The horizon's length in hours."""
        return float(len(self.index) * self.dt_h)

    def ticks(self) -> list[tuple[float, str]]:
        """Local-clock ticks (midnights, month starts) as (hours since start, label).

        Ticks are laid out on the naive local clock and only then placed in the timezone: a
        tick in the repeated autumn hour takes its first occurrence (the start's own, for the
        first tick), one in the spring gap moves forward to the first existing time, so a
        horizon starting in either hour (the docs allow the autumn one) draws its axis."""
        if len(self.index) == 0:
            return []
        start = self.index[0]
        end = start + pd.Timedelta(hours=self.span_h)
        days = self.span_h / 24.0
        local = start.tz_localize(None) if start.tz is not None else start
        if days <= 1.5:
            freq, fmt = "3h", "%H:%M"
            first = local.floor("h")
        elif days <= 16:
            freq, fmt = "D", "%a %d %b"
            first = local.normalize()
            if days > 9:
                freq, fmt = "2D", "%d %b"
        elif days <= 70:
            freq, fmt = "7D", "%d %b"
            first = local.normalize()
        else:
            freq, fmt = "MS", "%b" if days <= 400 else "%b %Y"
            first = local.normalize().replace(day=1)
        end_local = end.tz_localize(None) if end.tz is not None else end
        naive = pd.date_range(first, end_local + pd.Timedelta(days=1), freq=freq)
        if start.tz is not None:
            ambiguous = np.ones(len(naive), dtype=bool)  # True: the first (summer) occurrence
            if len(naive):
                ambiguous[0] = bool(start.dst())
            rng = naive.tz_localize(start.tz, ambiguous=ambiguous, nonexistent="shift_forward")
        else:
            rng = naive
        out: list[tuple[float, str]] = []
        for ts in rng:
            h = (ts - start).total_seconds() / 3600.0
            if -1e-9 <= h <= self.span_h + 1e-9 and (not out or h > out[-1][0]):
                out.append((h, ts.strftime(fmt)))
        if days > 400 and len(out) > 12:
            out = out[:: math.ceil(len(out) / 12)]
        return out


@dataclass
class Reduced:
    """A series reduced for display: bucket edges (hours) and mean/min/max per bucket."""

    edges_h: FloatArray
    mean: FloatArray
    low: FloatArray
    high: FloatArray
    note: str = ""


def bucket_size(n: int, dt_h: float, max_points: int = MAX_POINTS) -> int:
    """Steps per displayed bucket: 1 when the series fits, else the shortest of 1, 2, 3, 6, 12 h,
    1 day, 2 days, 1 week, … that leaves at most half of `max_points` buckets (a year of hourly
    or 15-minute steps shows daily buckets)."""
    if n <= max_points or dt_h <= 0:
        return 1
    for hours in (1, 2, 3, 6, 12, 24, 48, 168, 336, 720):
        k = round(hours / dt_h)
        if k >= 1 and abs(k * dt_h - hours) < 1e-9 and n / k <= max_points / 2:
            return k
    return math.ceil(n / (max_points / 2))


def bucket_note(k: int, dt_h: float) -> str:
    """How a bucket of `k` steps is named in labels ("daily", "6-hour"); "" for no reduction."""
    if k <= 1:
        return ""
    hours = k * dt_h
    return "daily" if abs(hours - 24) < 1e-9 else f"{fmt_num(hours)}-hour"


def reduce_series(values: FloatArray, axis: TimeAxis, k: int) -> Reduced:
    """Mean, min and max over buckets of `k` steps (the last bucket may be shorter)."""
    v = np.asarray(values, dtype=np.float64)
    n = len(v)
    hours = axis.hours
    if k <= 1:
        edges = np.append(hours, hours[-1] + axis.dt_h) if n else np.zeros(1)
        return Reduced(edges, v, v, v)
    nb = math.ceil(n / k)
    pad = nb * k - n
    padded = np.concatenate([v, np.full(pad, np.nan)]).reshape(nb, k)
    mean = np.nanmean(padded, axis=1)
    low = np.nanmin(padded, axis=1)
    high = np.nanmax(padded, axis=1)
    edges = np.append(hours[::k], axis.span_h)
    return Reduced(edges, mean, low, high, bucket_note(k, axis.dt_h))


# --------------------------------------------------------------------------------- SVG frame
@dataclass
class Frame:
    """The plotting area of one chart, with data → pixel transforms."""

    width: float = 960
    height: float = 340
    left: float = 70
    right: float = 20
    top: float = 44
    bottom: float = 66
    x0: float = 0.0
    x1: float = 1.0
    y0: float = 0.0
    y1: float = 1.0
    parts: list[str] = field(default_factory=list)

    @property
    def pw(self) -> float:
        """Width of the plotting area (px)."""
        return self.width - self.left - self.right

    @property
    def ph(self) -> float:
        """Height of the plotting area (px)."""
        return self.height - self.top - self.bottom

    def x(self, v: FloatArray | float) -> FloatArray:
        """Data x → pixel x."""
        return self.left + (np.asarray(v, dtype=np.float64) - self.x0) / (self.x1 - self.x0) * (
            self.pw
        )

    def y(self, v: FloatArray | float) -> FloatArray:
        """Data y → pixel y (up is up)."""
        return self.top + (
            1 - (np.asarray(v, dtype=np.float64) - self.y0) / (self.y1 - self.y0)
        ) * (self.ph)


def _points(xs: FloatArray, ys: FloatArray) -> str:
    xy = np.round(np.column_stack([xs, ys]), 1)
    # Formatting through numpy keeps this linear in the number of points and fast.
    return " ".join(f"{a:g},{b:g}" for a, b in xy.tolist())


def _open(cid: str, frame: Frame, title: str, desc: str, cls: str = "chart") -> list[str]:
    t, d = escape(title), escape(desc)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{cls}" id="{cid}" role="img" '
        f'viewBox="0 0 {_f(frame.width)} {_f(frame.height)}" width="{_f(frame.width)}" '
        f'height="{_f(frame.height)}" style="max-width:{_f(frame.width)}px" '
        'preserveAspectRatio="xMidYMid meet" '
        f'aria-labelledby="{cid}-t {cid}-d">',
        f'<title id="{cid}-t">{t}</title><desc id="{cid}-d">{d}</desc>',
        f'<text class="ct" x="{_f(frame.left)}" y="20">{t}</text>',
    ]


def _y_axis(frame: Frame, ticks: Sequence[float], label: str) -> list[str]:
    out = []
    for t in ticks:
        yy = float(frame.y(t))
        cls = "zero" if abs(t) < 1e-12 else "grid"
        out.append(
            f'<line class="{cls}" x1="{_f(frame.left)}" x2="{_f(frame.left + frame.pw)}" '
            f'y1="{_f(yy)}" y2="{_f(yy)}"/>'
            f'<text class="tl" x="{_f(frame.left - 6)}" y="{_f(yy + 4)}" text-anchor="end">'
            f"{escape(_tick_label(t, ticks))}</text>"
        )
    cy = frame.top + frame.ph / 2
    out.append(
        f'<text class="al" transform="translate(16 {_f(cy)}) rotate(-90)" text-anchor="middle">'
        f"{escape(label)}</text>"
    )
    return out


def _x_time_axis(frame: Frame, axis: TimeAxis, label: str) -> list[str]:
    out = []
    base = frame.top + frame.ph
    for h, text in axis.ticks():
        xx = float(frame.x(h))
        out.append(
            f'<line class="grid" x1="{_f(xx)}" x2="{_f(xx)}" y1="{_f(frame.top)}" y2="{_f(base)}"/>'
        )
        if xx + 3 + 6.6 * len(text) <= frame.width - 2:  # a label cut by the edge is noise
            out.append(
                f'<text class="tl" x="{_f(xx + 3)}" y="{_f(base + 15)}">{escape(text)}</text>'
            )
    out.append(
        f'<text class="al" x="{_f(frame.left + frame.pw / 2)}" y="{_f(base + 34)}" '
        f'text-anchor="middle">{escape(label)}</text>'
    )
    return out


def _legend(frame: Frame, items: Sequence[tuple[str, str, str]], y: float | None = None) -> str:
    """Legend along the bottom: (label, colour, kind) with kind in box|line|dash|hatch."""
    if not items:
        return ""
    yy = frame.height - 8 if y is None else y
    x = frame.left
    out = []
    for label, col, kind in items:
        if kind == "line":
            mark = (
                f'<line x1="{_f(x)}" x2="{_f(x + 16)}" y1="{_f(yy - 4)}" y2="{_f(yy - 4)}" '
                f'stroke="{col}" stroke-width="2.5"/>'
            )
        elif kind == "dash":
            mark = (
                f'<line x1="{_f(x)}" x2="{_f(x + 16)}" y1="{_f(yy - 4)}" y2="{_f(yy - 4)}" '
                f'stroke="{col}" stroke-width="2" stroke-dasharray="4 3"/>'
            )
        elif kind.startswith("url("):
            mark = (
                f'<rect x="{_f(x)}" y="{_f(yy - 10)}" width="16" height="11" fill="{kind}" '
                f'stroke="{col}"/>'
            )
        else:
            mark = (
                f'<rect x="{_f(x)}" y="{_f(yy - 10)}" width="16" height="11" fill="{col}" '
                f'stroke="#333" stroke-width="0.4"/>'
            )
        out.append(f'{mark}<text class="lg" x="{_f(x + 21)}" y="{_f(yy)}">{escape(label)}</text>')
        x += 21 + 6.6 * len(label) + 18
    return "".join(out)


def _legend_height(items: Sequence[tuple[str, str, str]], width: float, left: float) -> int:
    """Rows the legend needs; the chart grows to fit."""
    x, rows = left, 1
    for label, _, _ in items:
        w = 21 + 6.6 * len(label) + 18
        if x + w > width - 10 and x > left:
            rows += 1
            x = left
        x += w
    return rows


def _legend_rows(frame: Frame, items: Sequence[tuple[str, str, str]], first_y: float) -> list[str]:
    rows: list[list[tuple[str, str, str]]] = [[]]
    x = frame.left
    for it in items:
        w = 21 + 6.6 * len(it[0]) + 18
        if x + w > frame.width - 10 and x > frame.left:
            rows.append([])
            x = frame.left
        rows[-1].append(it)
        x += w
    return [_legend(frame, row, first_y + 18 * i) for i, row in enumerate(rows)]


def empty_chart(title: str, message: str = "no data") -> Markup:
    """A small chart that only says `message` (no data, or nothing drawable)."""
    cid = new_chart_id()
    frame = Frame(height=120)
    parts = _open(cid, frame, title, message)
    parts.append(
        f'<text class="al" x="{_f(frame.width / 2)}" y="72" text-anchor="middle">'
        f"{escape(message)}</text></svg>"
    )
    return Markup("".join(parts))


def ensure_unique_ids(charts: Iterable[str]) -> bool:
    """True when no `id="…"` repeats across the given SVG strings (a test helper)."""
    import re

    seen: set[str] = set()
    for c in charts:
        for m in re.finditer(r'\bid="([^"]+)"', c):
            if m.group(1) in seen:
                return False
            seen.add(m.group(1))
    return True
