"""The heat map of the report: who traded with whom (sellers × buyers).

Input: row and column names and a matrix of values (kWh). Output: one self-contained `<svg>` as
`Markup` (see `charts` for the conventions every chart follows) on a single-hue sequential
scale (white → blue, readable in grey scale and with every colour-vision deficiency), values
printed in cells wide enough for them. Raises nothing; an empty matrix gives a "no data" chart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from markupsafe import Markup, escape

from pebdsl.present.report.charts import (
    OKABE_ITO,
    FloatArray,
    Frame,
    _f,
    _open,
    empty_chart,
    fmt_num,
    new_chart_id,
)


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
        parts += _row(frame, r, cols, v[i], frame.top + i * cell_h, (cell, cell_h), vmax, unit, cid)
    parts.append(
        f'<defs><pattern id="{cid}-diag" width="5" height="5" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="5" height="5" fill="#f3f3f3"/>'
        f'<line x1="0" y1="0" x2="0" y2="5" stroke="#ddd" stroke-width="2"/></pattern></defs>'
    )
    parts.append(
        f'<text class="al" transform="translate(16 {_f(frame.top + cell_h * len(rows) / 2)}) '
        f'rotate(-90)" text-anchor="middle">{escape(row_label)}</text>'
    )
    scale_x = frame.left + cell * len(cols) + 24
    parts += _colour_scale(scale_x, frame.top, cell_h * len(rows), vmax, unit)
    parts.append("</svg>")
    return Markup("".join(parts))


def _row(
    frame: Frame,
    r: str,
    cols: Sequence[str],
    values: FloatArray,
    y: float,
    size: tuple[float, float],
    vmax: float,
    unit: str,
    cid: str,
) -> list[str]:
    """One row of cells (the seller `r`): the diagonal hatched, values printed in cells wide
    enough for them."""
    cell, cell_h = size
    show_text = cell >= 40
    parts = [
        f'<text class="tl" x="{_f(frame.left - 8)}" y="{_f(y + cell_h / 2 + 4)}" '
        f'text-anchor="end">{escape(r)}</text>'
    ]
    for j, c in enumerate(cols):
        val = float(values[j])
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
    return parts


def _colour_scale(sx: float, top: float, rows_h: float, vmax: float, unit: str) -> list[str]:
    """The colour scale right of the cells: ten shades from `vmax` (top) down to 0."""
    parts = []
    sh = max(rows_h, 60.0)
    for s in range(10):
        shade = _blend("#ffffff", OKABE_ITO["blue"], 0.08 + 0.92 * (1 - s / 9))
        parts.append(
            f'<rect x="{_f(sx)}" y="{_f(top + s * sh / 10)}" width="14" '
            f'height="{_f(sh / 10 + 0.5)}" fill="{shade}"/>'
        )
    parts.append(
        f'<text class="tl" x="{_f(sx + 18)}" y="{_f(top + 9)}">{fmt_num(vmax)}</text>'
        f'<text class="tl" x="{_f(sx + 18)}" y="{_f(top + sh)}">0</text>'
        f'<text class="tl" x="{_f(sx)}" y="{_f(top - 8)}">{escape(unit)}</text>'
    )
    return parts
