"""Time charts of the report: stacked power areas and step lines over the horizon.

Input: a `charts.TimeAxis` and `Layer`s (numpy arrays, one value per step). Output: one
self-contained `<svg>` as `Markup` (see `charts` for the conventions every chart follows).
Long horizons are reduced for display: stacked areas show bucket means (which keep a stacked
balance closed), lines show the bucket mean with a min/max band. Raises nothing; empty data or
values out of the drawable range give a small "no data" chart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from markupsafe import Markup, escape

from pebdsl.present.report.charts import (
    OKABE_ITO,
    FloatArray,
    Frame,
    Reduced,
    TimeAxis,
    _legend_height,
    _legend_rows,
    _open,
    _points,
    _ticks,
    _x_time_axis,
    _y_axis,
    bucket_note,
    bucket_size,
    empty_chart,
    new_chart_id,
    reduce_series,
)


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


def _stacks(
    above: Sequence[Layer], below: Sequence[Layer], red: dict[int, Reduced], nb: int
) -> tuple[list[tuple[Layer, FloatArray, FloatArray]], FloatArray, FloatArray]:
    """(layer, bottom, top) of each stacked layer (`above` up from zero, `below` down from it),
    with the tops of both stacks; layers are clipped at zero (a stack never goes back)."""
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
    return stacks, up, down


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
    stacks, up, down = _stacks(above, below, red, len(edges) - 1)
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
