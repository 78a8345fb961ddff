"""Charts for the report, as hand-written inline SVG built with numpy.

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
        if len(self.index) == 0:
            return np.zeros(0)
        return np.asarray((self.index - self.index[0]).total_seconds() / 3600.0, dtype=np.float64)

    @property
    def span_h(self) -> float:
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
        return self.width - self.left - self.right

    @property
    def ph(self) -> float:
        return self.height - self.top - self.bottom

    def x(self, v: FloatArray | float) -> FloatArray:
        return self.left + (np.asarray(v, dtype=np.float64) - self.x0) / (self.x1 - self.x0) * (
            self.pw
        )

    def y(self, v: FloatArray | float) -> FloatArray:
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
    cid = new_chart_id()
    frame = Frame(height=120)
    parts = _open(cid, frame, title, message)
    parts.append(
        f'<text class="al" x="{_f(frame.width / 2)}" y="72" text-anchor="middle">'
        f"{escape(message)}</text></svg>"
    )
    return Markup("".join(parts))


# --------------------------------------------------------------------------------- time charts
@dataclass
class Layer:
    """One series of a time chart. `kind`: area (stacked) | line | dash | band."""

    label: str
    values: FloatArray
    color: str
    kind: str = "area"
    hatch: bool = False
    reduce: str = "mean"  # how a line is reduced for long horizons: mean | max | min


def _pick(r: Reduced, how: str) -> FloatArray:
    return r.high if how == "max" else r.low if how == "min" else r.mean


def _step_path(x_px: FloatArray, y_px: FloatArray, base_px: float | None = None) -> str:
    """An SVG path of a step function: `x_px` are the n+1 bucket edges, `y_px` the n levels.
    With `base_px` the path is closed down to that baseline (a filled area)."""
    xs = np.round(np.asarray(x_px, dtype=np.float64), 1).tolist()
    ys = np.round(np.asarray(y_px, dtype=np.float64), 1).tolist()
    if base_px is None:
        head = f"M{xs[0]:g} {ys[0]:g}"
        body = "".join(f"H{x:g}V{y:g}" for x, y in zip(xs[1:-1], ys[1:], strict=True))
        return f"{head}{body}H{xs[-1]:g}"
    b = round(base_px, 1)
    head = f"M{xs[0]:g} {b:g}"
    body = "".join(f"V{y:g}H{x:g}" for x, y in zip(xs[1:], ys, strict=True))
    return f"{head}{body}V{b:g}Z"


def _step(edges: FloatArray, values: FloatArray) -> tuple[FloatArray, FloatArray]:
    """A step outline: each value held over its bucket."""
    xs = np.repeat(edges, 2)[1:-1]
    ys = np.repeat(values, 2)
    return xs, ys


def time_stack_chart(
    axis: TimeAxis,
    above: Sequence[Layer],
    below: Sequence[Layer] = (),
    lines: Sequence[Layer] = (),
    *,
    title: str,
    y_label: str,
    desc: str = "",
    x_label: str | None = None,
    height: float = 340,
) -> Markup:
    """Mirrored stacked step areas over time: `above` stacks up from zero, `below` stacks down
    (drawn as negative), `lines` are drawn on top. Layers that are all zero are left out.
    Long horizons show bucket means (which keep stacked balances closed)."""
    n = len(axis.index)
    if n == 0:
        return empty_chart(title)
    k = bucket_size(n, axis.dt_h)
    above = [la for la in above if np.any(np.abs(la.values) > 1e-9)]
    below = [la for la in below if np.any(np.abs(la.values) > 1e-9)]
    lines = [la for la in lines if np.any(np.abs(la.values) > 1e-9)]
    red = {id(la): reduce_series(la.values, axis, k) for la in [*above, *below, *lines]}
    edges = reduce_series(np.zeros(n), axis, k).edges_h
    nb = len(edges) - 1
    up = np.zeros(nb)
    down = np.zeros(nb)
    stacks: list[tuple[Layer, FloatArray, FloatArray]] = []
    for la in above:
        m = np.clip(red[id(la)].mean, 0, None)
        stacks.append((la, up.copy(), up + m))
        up = up + m
    for la in below:
        m = np.clip(red[id(la)].mean, 0, None)
        stacks.append((la, down.copy(), down - m))
        down = down - m
    line_max = max((float(np.nanmax(_pick(red[id(la)], la.reduce))) for la in lines), default=0.0)
    line_min = min((float(np.nanmin(_pick(red[id(la)], la.reduce))) for la in lines), default=0.0)
    hi = max(float(up.max(initial=0.0)), line_max, 1e-6)
    lo = min(float(down.min(initial=0.0)), line_min, 0.0)
    ticks = _ticks(lo, hi, 6)
    if ticks is None:
        return empty_chart(title, "values out of the drawable range")
    note = bucket_note(k, axis.dt_h)
    items: list[tuple[str, str, str]] = []
    cid = new_chart_id()
    for la, _, _ in stacks:
        items.append((la.label, la.color, f"url(#{cid}-h)" if la.hatch else "box"))
    for la in lines:
        items.append((la.label, la.color, "dash" if la.kind == "dash" else "line"))
    frame = Frame(height=height, x0=0.0, x1=axis.span_h, y0=ticks[0], y1=ticks[-1])
    rows = _legend_height(items, frame.width, frame.left)
    frame.height += 18 * (rows - 1)
    frame.bottom += 18 * (rows - 1)
    if x_label is None:
        x_label = f"time ({axis.index.tz or 'local'})" + (f"; {note} means" if note else "")
    full_desc = desc or f"{title}; {y_label} over time" + (f", {note} means" if note else "")
    parts = _open(cid, frame, title, full_desc)
    parts.append(
        f'<defs><pattern id="{cid}-h" width="6" height="6" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="{OKABE_ITO["orange"]}" stroke-width="3"/>'
        f"</pattern></defs>"
    )
    parts += _y_axis(frame, ticks, y_label)
    # Painter's order: each layer is filled from zero to its cumulative top, outermost first,
    # so a layer shows between its neighbours; this halves the path size of explicit bands.
    x_px = frame.x(edges)
    zero = float(frame.y(0.0))
    for la, _, top in reversed(stacks):
        fill = f"url(#{cid}-h)" if la.hatch else la.color
        parts.append(
            f'<path class="area" fill="{fill}" d="{_step_path(x_px, frame.y(top), zero)}">'
            f"<title>{escape(la.label)} ({escape(y_label)})</title></path>"
        )
    for la in lines:
        parts.append(_line(la, _step_path(x_px, frame.y(_pick(red[id(la)], la.reduce)))))
    parts += _x_time_axis(frame, axis, x_label)
    parts += _legend_rows(frame, items, frame.top + frame.ph + 54)
    parts.append("</svg>")
    return Markup("".join(parts))


def _line(la: Layer, d: str) -> str:
    """One labelled line (dashed for `kind == "dash"`) along the SVG path `d`."""
    dash = ' stroke-dasharray="5 3"' if la.kind == "dash" else ""
    return (
        f'<path class="ln" stroke="{la.color}"{dash} d="{d}">'
        f"<title>{escape(la.label)}</title></path>"
    )


def time_line_chart(
    axis: TimeAxis,
    lines: Sequence[Layer],
    *,
    title: str,
    y_label: str,
    desc: str = "",
    zero_based: bool = True,
    height: float = 300,
) -> Markup:
    """Step lines over time; long horizons show the bucket mean with a min/max band."""
    n = len(axis.index)
    lines = [la for la in lines if len(la.values) == n and np.all(np.isfinite(la.values))]
    if n == 0 or not lines:
        return empty_chart(title)
    k = bucket_size(n, axis.dt_h)
    red = [(la, reduce_series(la.values, axis, k)) for la in lines]
    lo = min(float(r.low.min()) for _, r in red)
    hi = max(float(r.high.max()) for _, r in red)
    if zero_based:
        lo = min(lo, 0.0)
    if hi - lo < 1e-9:
        hi = lo + (abs(lo) * 0.1 or 1.0)
    ticks = _ticks(lo, hi, 5)
    if ticks is None:
        return empty_chart(title, "values out of the drawable range")
    note = bucket_note(k, axis.dt_h)
    items = [(la.label, la.color, "dash" if la.kind == "dash" else "line") for la in lines]
    frame = Frame(height=height, x0=0.0, x1=axis.span_h, y0=ticks[0], y1=ticks[-1])
    rows = _legend_height(items, frame.width, frame.left)
    frame.height += 18 * (rows - 1)
    frame.bottom += 18 * (rows - 1)
    cid = new_chart_id()
    x_label = f"time ({axis.index.tz or 'local'})" + (
        f"; {note} mean, band = {note} min to max" if note else ""
    )
    parts = _open(cid, frame, title, desc or f"{title}; {y_label} over time")
    parts += _y_axis(frame, ticks, y_label)
    for la, r in red:
        if k > 1:
            xs, ylo = _step(r.edges_h, r.low)
            _, yhi = _step(r.edges_h, r.high)
            px = frame.x(np.concatenate([xs, xs[::-1]]))
            py = frame.y(np.concatenate([yhi, ylo[::-1]]))
            parts.append(f'<polygon class="band" fill="{la.color}" points="{_points(px, py)}"/>')
    for la, r in red:
        parts.append(_line(la, _step_path(frame.x(r.edges_h), frame.y(r.mean))))
    parts += _x_time_axis(frame, axis, x_label)
    parts += _legend_rows(frame, items, frame.top + frame.ph + 54)
    parts.append("</svg>")
    return Markup("".join(parts))


# --------------------------------------------------------------------------------- bar charts
@dataclass
class BarSeries:
    label: str
    values: Sequence[float | None]
    color: str


def bar_chart(
    categories: Sequence[str],
    series: Sequence[BarSeries],
    *,
    title: str,
    x_label: str,
    stacked: bool = False,
    desc: str = "",
    value_digits: int | None = None,
    value_suffix: str = "",
    label_width: float | None = None,
    max_value: float | None = None,
    show_totals: bool = True,
) -> Markup:
    """Horizontal bars, one row per category: grouped (one bar per series) or stacked (positive
    parts to the right of zero, negative ones to the left). Values are printed at bar ends when
    grouped; stacked rows print their net total."""
    if not stacked and len(series) > 1:
        # A series that is zero everywhere only adds empty bars and a misleading legend entry.
        kept = [s for s in series if any(v is not None and abs(float(v)) > 1e-12 for v in s.values)]
        series = kept or list(series[:1])
    if not categories or not series:
        return empty_chart(title)
    vals = np.array(
        [[np.nan if v is None else float(v) for v in s.values] for s in series], dtype=np.float64
    )
    vals = np.nan_to_num(vals, nan=0.0)
    if stacked:
        pos = np.clip(vals, 0, None).sum(axis=0)
        neg = np.clip(vals, None, 0).sum(axis=0)
        lo, hi = float(neg.min(initial=0.0)), float(pos.max(initial=0.0))
    else:
        lo, hi = float(min(vals.min(), 0.0)), float(max(vals.max(), 0.0))
    if max_value is not None:
        hi = max(hi, max_value)
    if hi - lo < 1e-12:
        hi = lo + 1.0
    span = hi - lo
    got = _ticks(lo - (0.0 if lo == 0 else 0.02 * span), hi + 0.12 * span, 6)
    if got is None:
        return empty_chart(title, "values out of the drawable range")
    ticks = got
    x_end = ticks[-1]
    if max_value is not None and hi <= max_value * (1 + 1e-6):
        # Shares: ticks stop at 100 %, the plot keeps a little room for the value labels.
        ticks = [t for t in ticks if t <= max_value + 1e-9]
        x_end = max_value * 1.1
    ns = 1 if stacked else len(series)
    bar_h = 16.0 if ns > 1 else 20.0
    row_h = ns * bar_h + 12
    lw = label_width or min(240.0, 20 + 7.2 * max(len(c) for c in categories))
    items = [(s.label, s.color, "box") for s in series] if (ns > 1 or stacked) else []
    frame = Frame(left=lw, top=44, x0=ticks[0], x1=x_end, y0=0, y1=1)
    rows = _legend_height(items, frame.width, frame.left) if items else 0
    frame.bottom = 50 + 18 * rows
    frame.height = frame.top + row_h * len(categories) + frame.bottom
    cid = new_chart_id()
    parts = _open(cid, frame, title, desc or f"{title}; {x_label} by category")
    base = frame.top + row_h * len(categories)
    for t in ticks:
        xx = float(frame.x(t))
        cls = "zero" if abs(t) < 1e-12 else "grid"
        parts.append(
            f'<line class="{cls}" x1="{_f(xx)}" x2="{_f(xx)}" y1="{_f(frame.top)}" '
            f'y2="{_f(base)}"/><text class="tl" x="{_f(xx)}" y="{_f(base + 15)}" '
            f'text-anchor="middle">{escape(_tick_label(t, ticks))}</text>'
        )
    x_zero = float(frame.x(0.0))
    for i, cat in enumerate(categories):
        y_row = frame.top + i * row_h + 6
        parts.append(
            f'<text class="tl cat" x="{_f(frame.left - 8)}" y="{_f(y_row + row_h / 2 - 2)}" '
            f'text-anchor="end">{escape(cat)}</text>'
        )
        if stacked:
            right, left = x_zero, x_zero
            for s_i, s in enumerate(series):
                v = float(vals[s_i, i])
                if abs(v) < 1e-12:
                    continue
                w = abs(float(frame.x(v)) - x_zero)
                if v > 0:
                    x_start, right = right, right + w
                else:
                    left -= w
                    x_start = left
                parts.append(
                    f'<rect x="{_f(x_start)}" y="{_f(y_row)}" width="{_f(w)}" '
                    f'height="{_f(bar_h)}" fill="{s.color}"><title>{escape(cat)}: '
                    f"{escape(s.label)} {fmt_num(v, value_digits)}{escape(value_suffix)}"
                    f"</title></rect>"
                )
            total = float(vals[:, i].sum())
            if not show_totals:
                continue
            parts.append(
                f'<text class="vl" x="{_f(max(right, x_zero) + 5)}" '
                f'y="{_f(y_row + bar_h / 2 + 4)}">{fmt_num(total, value_digits)}'
                f"{escape(value_suffix)}</text>"
            )
        else:
            for s_i, s in enumerate(series):
                raw = s.values[i]
                yb = y_row + s_i * bar_h
                if raw is None:
                    parts.append(
                        f'<text class="vl" x="{_f(x_zero + 5)}" y="{_f(yb + bar_h / 2 + 4)}">'
                        f"n/a</text>"
                    )
                    continue
                v = float(vals[s_i, i])
                xv = float(frame.x(v))
                x_start, w = min(xv, x_zero), abs(xv - x_zero)
                parts.append(
                    f'<rect x="{_f(x_start)}" y="{_f(yb)}" width="{_f(max(w, 0.5))}" '
                    f'height="{_f(bar_h - 2)}" fill="{s.color}"><title>{escape(cat)}, '
                    f"{escape(s.label)}: {fmt_num(v, value_digits)}{escape(value_suffix)}"
                    f"</title></rect>"
                )
                anchor, tx = ("start", max(xv, x_zero) + 5) if v >= 0 else ("end", xv - 5)
                parts.append(
                    f'<text class="vl" x="{_f(tx)}" y="{_f(yb + bar_h / 2 + 3)}" '
                    f'text-anchor="{anchor}">{fmt_num(v, value_digits)}'
                    f"{escape(value_suffix)}</text>"
                )
    parts.append(
        f'<text class="al" x="{_f(frame.left + frame.pw / 2)}" y="{_f(base + 36)}" '
        f'text-anchor="middle">{escape(x_label)}</text>'
    )
    if items:
        parts += _legend_rows(frame, items, base + 58)
    parts.append("</svg>")
    return Markup("".join(parts))


# --------------------------------------------------------------------------------- heat map
def _blend(c1: str, c2: str, t: float) -> str:
    a = [int(c1[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(c2[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b, strict=True))


def heatmap_chart(
    rows: Sequence[str],
    cols: Sequence[str],
    values: FloatArray,
    *,
    title: str,
    row_label: str,
    col_label: str,
    unit: str,
    desc: str = "",
) -> Markup:
    """A matrix heat map (rows × columns) on a single-hue sequential scale (white → blue,
    readable in grey scale and with every colour-vision deficiency), values printed in cells."""
    v = np.asarray(values, dtype=np.float64)
    if not rows or not cols or v.size == 0:
        return empty_chart(title)
    vmax = float(np.nanmax(v)) if np.any(v > 0) else 1.0
    max_label = max(len(r) for r in rows)
    cell = max(34.0, min(70.0, 760.0 / max(len(cols), 1)))
    cell_h = 26.0 if len(rows) > 12 else 30.0
    lw = 40 + 7.2 * max_label
    col_label_h = 8 + 6.4 * max(len(c) for c in cols) * 0.72
    frame = Frame(left=lw, top=58 + col_label_h, right=90)
    frame.width = max(480.0, frame.left + cell * len(cols) + frame.right)
    frame.height = frame.top + cell_h * len(rows) + 34
    cid = new_chart_id()
    parts = _open(cid, frame, title, desc or f"{title}; {unit} by {row_label} and {col_label}")
    show_text = cell >= 40
    for j, c in enumerate(cols):
        cx = frame.left + (j + 0.5) * cell
        parts.append(
            f'<text class="tl" transform="translate({_f(cx + 3)} {_f(frame.top - 6)}) '
            f'rotate(-50)">{escape(c)}</text>'
        )
    parts.append(
        f'<text class="al" x="{_f(frame.left + cell * len(cols) / 2)}" y="38" '
        f'text-anchor="middle">{escape(col_label)} (cells: {escape(unit)})</text>'
    )
    for i, r in enumerate(rows):
        y = frame.top + i * cell_h
        parts.append(
            f'<text class="tl" x="{_f(frame.left - 8)}" y="{_f(y + cell_h / 2 + 4)}" '
            f'text-anchor="end">{escape(r)}</text>'
        )
        for j, c in enumerate(cols):
            val = float(v[i, j])
            x = frame.left + j * cell
            if r == c:
                fill = "url(#" + cid + "-diag)"
            else:
                t = 0.0 if not math.isfinite(val) or val <= 0 else 0.08 + 0.92 * val / vmax
                fill = _blend("#ffffff", OKABE_ITO["blue"], t)
            parts.append(
                f'<rect x="{_f(x)}" y="{_f(y)}" width="{_f(cell - 1)}" height="{_f(cell_h - 1)}" '
                f'fill="{fill}"><title>{escape(r)} → {escape(c)}: {fmt_num(val)} '
                f"{escape(unit)}</title></rect>"
            )
            if show_text and r != c and val > 0:
                tc = "#fff" if val / vmax > 0.55 else "#222"
                parts.append(
                    f'<text class="cv" x="{_f(x + cell / 2)}" y="{_f(y + cell_h / 2 + 4)}" '
                    f'text-anchor="middle" fill="{tc}">{fmt_num(val)}</text>'
                )
    parts.append(
        f'<defs><pattern id="{cid}-diag" width="5" height="5" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="5" height="5" fill="#f3f3f3"/>'
        f'<line x1="0" y1="0" x2="0" y2="5" stroke="#ddd" stroke-width="2"/></pattern></defs>'
    )
    parts.append(
        f'<text class="al" transform="translate(16 {_f(frame.top + cell_h * len(rows) / 2)}) '
        f'rotate(-90)" text-anchor="middle">{escape(row_label)}</text>'
    )
    # colour scale
    sx = frame.left + cell * len(cols) + 24
    sh = max(cell_h * len(rows), 60.0)
    for s in range(10):
        shade = _blend("#ffffff", OKABE_ITO["blue"], 0.08 + 0.92 * (1 - s / 9))
        parts.append(
            f'<rect x="{_f(sx)}" y="{_f(frame.top + s * sh / 10)}" width="14" '
            f'height="{_f(sh / 10 + 0.5)}" fill="{shade}"/>'
        )
    parts.append(
        f'<text class="tl" x="{_f(sx + 18)}" y="{_f(frame.top + 9)}">{fmt_num(vmax)}</text>'
        f'<text class="tl" x="{_f(sx + 18)}" y="{_f(frame.top + sh)}">0</text>'
        f'<text class="tl" x="{_f(sx)}" y="{_f(frame.top - 8)}">{escape(unit)}</text>'
    )
    parts.append("</svg>")
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
