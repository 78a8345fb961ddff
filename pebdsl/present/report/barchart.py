"""Bar charts of the report: horizontal bars per category, grouped or stacked.

Input: category names and `BarSeries` (one value per category, None for "n/a"). Output: one
self-contained `<svg>` as `Markup` (see `charts` for the conventions every chart follows).
Raises nothing; no categories or series give a small "no data" chart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from markupsafe import Markup, escape

from pebdsl.present.report.charts import (
    FloatArray,
    Frame,
    _f,
    _legend_height,
    _legend_rows,
    _open,
    _tick_label,
    _ticks,
    empty_chart,
    fmt_num,
    new_chart_id,
)


@dataclass
class BarSeries:
    """One series of a bar chart: a value per category (None: no value, shown as "n/a")."""

    label: str
    values: Sequence[float | None]
    color: str


@dataclass(frozen=True)
class _Style:
    """How values are printed on the bars."""

    digits: int | None
    suffix: str


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
    row_labels: Sequence[str] | None = None,
) -> Markup:
    """Horizontal bars, one row per category: grouped (one bar per series) or stacked (positive
    parts to the right of zero, negative ones to the left). Values are printed at bar ends when
    grouped; stacked rows print their net total, or `row_labels[i]` when given (a row's own
    figures when the net total is not what the reader looks for)."""
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
    scale = _scale(vals, stacked, max_value)
    if scale is None:
        return empty_chart(title, "values out of the drawable range")
    ticks, x_end = scale
    ns = 1 if stacked else len(series)
    bar_h = 16.0 if ns > 1 else 20.0
    row_h = ns * bar_h + 12
    lw = label_width or min(240.0, 20 + 7.2 * max(len(c) for c in categories))
    items = [(s.label, s.color, "box") for s in series] if (ns > 1 or stacked) else []
    frame = Frame(left=lw, top=44, x0=ticks[0], x1=x_end, y0=0, y1=1)
    if row_labels:
        # Room on the right for the longest label (11.5 px tabular figures: ~6.6 px a char).
        frame.right = max(frame.right, 12 + 6.6 * max(len(t) for t in row_labels))
    rows = _legend_height(items, frame.width, frame.left) if items else 0
    frame.bottom = 50 + 18 * rows
    frame.height = frame.top + row_h * len(categories) + frame.bottom
    cid = new_chart_id()
    parts = _open(cid, frame, title, desc or f"{title}; {x_label} by category")
    base = frame.top + row_h * len(categories)
    for tk in ticks:
        xx = float(frame.x(tk))
        cls = "zero" if abs(tk) < 1e-12 else "grid"
        parts.append(
            f'<line class="{cls}" x1="{_f(xx)}" x2="{_f(xx)}" y1="{_f(frame.top)}" '
            f'y2="{_f(base)}"/><text class="tl" x="{_f(xx)}" y="{_f(base + 15)}" '
            f'text-anchor="middle">{escape(_tick_label(tk, ticks))}</text>'
        )
    style = _Style(value_digits, value_suffix)
    for i, cat in enumerate(categories):
        y_row = frame.top + i * row_h + 6
        parts.append(
            f'<text class="tl cat" x="{_f(frame.left - 8)}" y="{_f(y_row + row_h / 2 - 2)}" '
            f'text-anchor="end">{escape(cat)}</text>'
        )
        if stacked:
            text = None if row_labels is None else row_labels[i]
            parts += _stacked_row(
                frame, series, vals[:, i], cat, y_row, bar_h, style, show_totals, text
            )
        else:
            parts += _grouped_row(frame, series, vals[:, i], i, cat, y_row, bar_h, style)
    parts.append(
        f'<text class="al" x="{_f(frame.left + frame.pw / 2)}" y="{_f(base + 36)}" '
        f'text-anchor="middle">{escape(x_label)}</text>'
    )
    if items:
        parts += _legend_rows(frame, items, base + 58)
    parts.append("</svg>")
    return Markup("".join(parts))


def _scale(
    vals: FloatArray, stacked: bool, max_value: float | None
) -> tuple[list[float], float] | None:
    """The value axis: its ticks and the right end of the plot (None: not drawable)."""
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
        return None
    ticks = got
    x_end = ticks[-1]
    if max_value is not None and hi <= max_value * (1 + 1e-6):
        # Shares: ticks stop at 100 %, the plot keeps a little room for the value labels.
        ticks = [t for t in ticks if t <= max_value + 1e-9]
        x_end = max_value * 1.1
    return ticks, x_end


def _stacked_row(
    frame: Frame,
    series: Sequence[BarSeries],
    vals: FloatArray,
    cat: str,
    y_row: float,
    bar_h: float,
    style: _Style,
    show_totals: bool,
    text: str | None = None,
) -> list[str]:
    """One stacked bar: positive parts right of zero, negative ones left, then the net total
    (or `text`)."""
    parts = []
    x_zero = float(frame.x(0.0))
    right, left = x_zero, x_zero
    for s_i, s in enumerate(series):
        v = float(vals[s_i])
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
            f"{escape(s.label)} {fmt_num(v, style.digits)}{escape(style.suffix)}"
            f"</title></rect>"
        )
    total = float(vals.sum())
    if text is None and show_totals:
        text = f"{fmt_num(total, style.digits)}{style.suffix}"
    if text is not None:
        parts.append(
            f'<text class="vl" x="{_f(max(right, x_zero) + 5)}" '
            f'y="{_f(y_row + bar_h / 2 + 4)}">{escape(text)}</text>'
        )
    return parts


def _grouped_row(
    frame: Frame,
    series: Sequence[BarSeries],
    vals: FloatArray,
    i: int,
    cat: str,
    y_row: float,
    bar_h: float,
    style: _Style,
) -> list[str]:
    """One bar per series for category `i`, each with its value at the bar's end."""
    parts = []
    x_zero = float(frame.x(0.0))
    for s_i, s in enumerate(series):
        raw = s.values[i]
        yb = y_row + s_i * bar_h
        if raw is None:
            parts.append(
                f'<text class="vl" x="{_f(x_zero + 5)}" y="{_f(yb + bar_h / 2 + 4)}">n/a</text>'
            )
            continue
        v = float(vals[s_i])
        xv = float(frame.x(v))
        x_start, w = min(xv, x_zero), abs(xv - x_zero)
        parts.append(
            f'<rect x="{_f(x_start)}" y="{_f(yb)}" width="{_f(max(w, 0.5))}" '
            f'height="{_f(bar_h - 2)}" fill="{s.color}"><title>{escape(cat)}, '
            f"{escape(s.label)}: {fmt_num(v, style.digits)}{escape(style.suffix)}"
            f"</title></rect>"
        )
        anchor, tx = ("start", max(xv, x_zero) + 5) if v >= 0 else ("end", xv - 5)
        parts.append(
            f'<text class="vl" x="{_f(tx)}" y="{_f(yb + bar_h / 2 + 3)}" '
            f'text-anchor="{anchor}">{fmt_num(v, style.digits)}'
            f"{escape(style.suffix)}</text>"
        )
    return parts
