"""Comparisons and sweeps as pandas DataFrames, and their short reprs.

Input: a `compare.Comparison` or a `sweep.Sweep` (their `to_frame`, `__repr__` and
`_repr_html_` call these; typed `Any` here, as those modules import this one: no cycle). Output:
- `comparison_frame(cmp)`: tidy rows of file, label, variant, status, metric, value, unit: one
  row per number of each case's summary (docs/compare.md: costs, savings, energies, demand
  shares `demand_shares.grid`, peaks by block `peak_import_kw.<block>`, the three values
  `values.<key>`); a failed case keeps its rows with value None;
- `sweep_frame(sw)`: tidy rows of case, one column per parameter, status, metric, value, unit.
  A parameter whose every value is a number with a unit (`10 kWh`, `5 %`) is a float column
  with its unit in `<parameter> unit`; any other stays text;
- `summary_lines(kind, title, rows)`: the few lines both reprs show.
Units follow `kpis.unit_of` (docs/kpis.md); `saving_pct` is in %. Raises nothing.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pebdsl.kpis import unit_of

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["comparison_frame", "html_summary", "numeric_value", "sweep_frame", "text_summary"]

_NUMBER = re.compile(r"\s*([-+]?(?:\d[\d_]*)?\.?\d+(?:[eE][-+]?\d+)?)\s*(.*?)\s*")
_SKIP = ("file", "variant", "label", "description", "status", "currency")


def numeric_value(text: str) -> tuple[float, str] | None:
    """`10 kWh` -> (10.0, "kWh"); `5` -> (5.0, ""); anything else None."""
    m = _NUMBER.fullmatch(text)
    if m is None:
        return None
    try:
        return float(m.group(1).replace("_", "")), m.group(2)
    except ValueError:
        return None


def _unit(key: str, currency: str) -> str:
    return "%" if key == "saving_pct" else unit_of(key, currency)


def _flat(summary: Mapping[str, Any], currency: str) -> list[tuple[str, Any, str]]:
    """(metric, value, unit) of every number in a case summary (nested maps flattened)."""
    out: list[tuple[str, Any, str]] = []
    for key, v in summary.items():
        if key in _SKIP:
            continue
        if isinstance(v, Mapping):
            for sub, x in v.items():
                unit = _unit(sub if key == "values" else key, currency)
                out.append((f"{key}.{sub}", x, unit))
        else:
            out.append((key, v, _unit(key, currency)))
    return out


def comparison_frame(cmp: Any) -> pd.DataFrame:
    """The comparison as tidy rows (see the module docstring)."""
    import pandas as pd

    rows = []
    for c in cmp.cases:
        s = c.summary
        cur = str(s.get("currency") or (c.results.design.currency if c.results else ""))
        for metric, value, unit in _flat(s, cur):
            num = None if value is None else float(value)
            rows.append((c.file, c.label, c.variant, c.status, metric, num, unit))
    cols = ["file", "label", "variant", "status", "metric", "value", "unit"]
    return pd.DataFrame(rows, columns=cols)


def sweep_frame(sw: Any, keys: tuple[str, ...]) -> pd.DataFrame:
    """The sweep as tidy rows of the KPIs `keys` (see the module docstring)."""
    import pandas as pd

    numeric = {
        p: [numeric_value(v) for v in values]
        for p, values in sw.parameters.items()
        if all(numeric_value(v) is not None for v in values)
    }
    rows: list[dict[str, Any]] = []
    for c in sw.cases:
        base: dict[str, Any] = {"case": c.index}
        for p, text in c.values.items():
            got = numeric_value(text) if p in numeric else None
            if got is None:
                base[p] = text
            else:
                base[p], base[f"{p} unit"] = got
        base["status"] = c.status
        cur = str(c.kpis.get("currency") or (c.design.currency if c.design else ""))
        for key in keys:
            if key == "currency":
                continue
            v = c.kpis.get(key)
            num = None if v is None else float(v)
            rows.append({**base, "metric": key, "value": num, "unit": _unit(key, cur)})
    return pd.DataFrame(rows)


def text_summary(kind: str, title: str, lines: list[str]) -> str:
    """`<Kind title: line; line; …>` in one line."""
    return f"<{kind} {title}: {'; '.join(lines)}>"


def html_summary(kind: str, title: str, lines: list[str]) -> str:
    """The same few lines for Jupyter."""
    body = "<br>".join(html.escape(x) for x in lines)
    return (
        f"<div class='pebdsl-{kind.lower()}'><strong>{kind}: {html.escape(title)}</strong>"
        f"<br>{body}</div>"
    )
