"""The frontier chart of `pebdsl tailor`: real cost against one value, one dot per design.

Input: points (x = real cost, y = a value) with a label, whether the design is on the Pareto
front, meets every goal, is the recommended one; an optional goal line (y = the goal's value).
Output: one self-contained `<svg>` as `Markup` (charts.py conventions): dots of designs on the
front filled, the others hollow, designs that miss a goal grey, the recommended one ringed and
labelled, the goal as a dashed line. Raises nothing; no drawable point gives a "no data" chart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from pebdsl.present.report.charts import (
    Frame,
    _f,
    _open,
    _tick_label,
    _ticks,
    _y_axis,
    empty_chart,
    new_chart_id,
)

C_FRONT = "#0072B2"
C_OFF = "#9AA5AD"


@dataclass(frozen=True)
class Point:
    """One design: `x` real cost, `y` the value; None = not drawable (failed, no value)."""

    label: str
    x: float | None
    y: float | None
    front: bool
    meets_goals: bool
    recommended: bool


def frontier_chart(
    points: Sequence[Point],
    *,
    title: str,
    x_label: str,
    y_label: str,
    goal: float | None = None,
) -> Markup:
    """Cost (x) against a value (y), one dot per design (module docstring)."""
    pts = [p for p in points if p.x is not None and p.y is not None]
    pts = [p for p in pts if math.isfinite(p.x) and math.isfinite(p.y)]  # type: ignore[arg-type]
    if not pts:
        return empty_chart(title)
    xs = [float(p.x) for p in pts]  # type: ignore[arg-type]
    ys = [float(p.y) for p in pts] + ([goal] if goal is not None else [])  # type: ignore[arg-type]
    xt = _axis(min(xs), max(xs))
    yt = _axis(min(ys), max(ys))
    if xt is None or yt is None:
        return empty_chart(title, "values out of the drawable range")
    frame = Frame(width=640, height=340, left=70, right=30, top=44, bottom=70)
    frame.x0, frame.x1, frame.y0, frame.y1 = xt[0], xt[-1], yt[0], yt[-1]
    cid = new_chart_id()
    parts = _open(cid, frame, title, f"{title}: {y_label} against {x_label}, one dot per design")
    parts += _y_axis(frame, yt, y_label)
    base = frame.top + frame.ph
    for tk in xt:
        xx = float(frame.x(tk))
        parts.append(
            f'<line class="grid" x1="{_f(xx)}" x2="{_f(xx)}" y1="{_f(frame.top)}" y2="{_f(base)}"/>'
            f'<text class="tl" x="{_f(xx)}" y="{_f(base + 15)}" text-anchor="middle">'
            f"{escape(_tick_label(tk, xt))}</text>"
        )
    parts.append(
        f'<text class="al" x="{_f(frame.left + frame.pw / 2)}" y="{_f(base + 36)}" '
        f'text-anchor="middle">{escape(x_label)}</text>'
    )
    if goal is not None:
        gy = float(frame.y(goal))
        parts.append(
            f'<line x1="{_f(frame.left)}" x2="{_f(frame.left + frame.pw)}" y1="{_f(gy)}" '
            f'y2="{_f(gy)}" stroke="#D55E00" stroke-dasharray="5 4"/>'
            f'<text class="vl" x="{_f(frame.left + frame.pw - 4)}" y="{_f(gy - 4)}" '
            f'text-anchor="end">goal</text>'
        )
    for p in sorted(pts, key=lambda p: p.recommended):
        parts.append(_dot(frame, p))
    parts.append(
        f'<text class="tl" x="{_f(frame.left)}" y="{_f(base + 58)}">filled: on the Pareto front · '
        "hollow: dominated · grey: misses a goal · ringed: recommended</text>"
    )
    parts.append("</svg>")
    return Markup("".join(parts))


def _axis(lo: float, hi: float) -> list[float] | None:
    if hi - lo < 1e-12:
        pad = max(abs(hi) * 0.05, 1.0)
        lo, hi = lo - pad, hi + pad
    span = hi - lo
    return _ticks(lo - 0.05 * span, hi + 0.08 * span, 6)


def _dot(frame: Frame, p: Point) -> str:
    cx, cy = float(frame.x(float(p.x))), float(frame.y(float(p.y)))  # type: ignore[arg-type]
    colour = C_FRONT if p.meets_goals else C_OFF
    fill = colour if p.front else "#fff"
    out = (
        f'<circle cx="{_f(cx)}" cy="{_f(cy)}" r="5" fill="{fill}" stroke="{colour}" '
        f'stroke-width="1.5"><title>{escape(p.label)}</title></circle>'
    )
    if p.recommended:
        out += (
            f'<circle cx="{_f(cx)}" cy="{_f(cy)}" r="10" fill="none" stroke="#D55E00" '
            f'stroke-width="2"/><text class="vl" x="{_f(cx + 13)}" y="{_f(cy + 4)}">'
            "recommended</text>"
        )
    return out
