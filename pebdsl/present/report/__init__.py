"""The HTML report of one solve, and the comparison page of many.

Input: `Results` (pebdsl/results.py: time series, trades, bills, money closing, KPIs, the three
values), optionally the `Results` of a reference variant; for `render_compare` a
`pebdsl.compare.Comparison` (its `.cases`, each with `.summary`, `.results` and `.error`).
Output: one self-contained HTML document as a string: inline CSS, charts as inline SVG
(`pebdsl.present.report.charts`), one tiny inline script (opens collapsed sections before
printing) that a Content-Security-Policy pins by hash; no network access of any kind (no CDN,
fonts or images). Every text that comes from a design (title, description, names, source) is
escaped by Jinja2's autoescaping, so a title such as `<script>…` shows as text, and every
bidirectional control character in the page is replaced by a visible `<U+202E>` mark
(`safetext.neutralise_bidi`), so no name or title can reorder the text around it.
Reproducible: with `SOURCE_DATE_EPOCH` set (a whole number of seconds since 1970, as
reproducible-builds.org defines it) the "rendered at" time is that moment and the stage
timings are left out, so the same inputs give byte-identical pages (docs/report.md).
Raises nothing for a well-formed `Results`: the formulation (`pebdsl.present.explain`) is imported
lazily and, if it fails, the report shows the error text instead.

Public: `render_report(results, *, reference=None, command="") -> str`,
`render_compare(comparison, *, command="") -> str`.
"""

from __future__ import annotations

import base64
import hashlib
import math
import os
import platform
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from pebdsl.present.report import charts as ch
from pebdsl.present.report.charts import OKABE_ITO, BarSeries, Layer, TimeAxis, fmt_num
from pebdsl.safetext import neutralise_bidi

if TYPE_CHECKING:
    from pebdsl.design import Design
    from pebdsl.results import Results

__all__ = ["render_compare", "render_report"]

TEMPLATES = Path(__file__).parent / "templates"

# Colours of the energy-balance chart: one hue per kind of flow, the same above zero (supply)
# and below zero (use), so the sign alone says the direction.
C_GEN = OKABE_ITO["yellow"]
C_BATT = OKABE_ITO["bluish_green"]
C_LOCAL = OKABE_ITO["sky_blue"]
C_IMPORT = OKABE_ITO["vermillion"]
C_EXPORT = OKABE_ITO["blue"]
C_LOAD = OKABE_ITO["reddish_purple"]
C_REF = "#A6A6A6"
C_THIS = OKABE_ITO["blue"]

# Opens every <details> before printing, so a printed report holds the formulation and source.
PRINT_SCRIPT = (
    'window.addEventListener("beforeprint",function(){'
    'document.querySelectorAll("details").forEach(function(d){d.open=true;});});'
)

_env: Environment | None = None


def _environment() -> Environment:
    global _env
    if _env is None:
        env = Environment(
            loader=FileSystemLoader(str(TEMPLATES)),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters["num"] = fmt_num
        env.filters["pct"] = _pct
        env.filters["money"] = _money
        env.filters["plural"] = _plural
        env.globals["csp"] = _csp()
        env.globals["print_script"] = Markup(PRINT_SCRIPT)
        _env = env
    return _env


def _csp() -> str:
    """No fetches at all; inline styles; only our own script (by hash) may run."""
    digest = base64.b64encode(hashlib.sha256(PRINT_SCRIPT.encode()).digest()).decode()
    return (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    )


# --------------------------------------------------------------------------------- formatting
def _pct(value: float | None, digits: int = 1) -> str:
    if value is None or not math.isfinite(float(value)):
        return "–"
    return f"{100 * float(value):,.{digits}f} %".replace("-", "−")


def _money(value: float | None, currency: str = "") -> str:
    if value is None or not math.isfinite(float(value)):
        return "–"
    a = abs(float(value))
    digits = 0 if a >= 10_000 else 2
    return f"{fmt_num(float(value), digits)} {currency}".strip()


def _plural(count: float, noun: str) -> str:
    return f"{fmt_num(count)} {noun}" + ("" if abs(count - 1) < 1e-9 else "s")


def _num(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


# KPI keys → (label, unit kind). Unit kinds: kwh, kw, share, money, price, count, text.
KPI_LABELS: dict[str, tuple[str, str]] = {
    "total_cost": ("total cost (real money)", "money"),
    "shadow_cost": ("shadow cost (not paid)", "money"),
    "objective": ("objective (total cost + shadow cost)", "money"),
    "total_bills": ("sum of participant bills", "money"),
    "bill": ("bill", "money"),
    "demand_kwh": ("demand", "kwh"),
    "generation_kwh": ("generation available", "kwh"),
    "generation_used_kwh": ("generation used", "kwh"),
    "curtailment_kwh": ("curtailment", "kwh"),
    "curtailment_share": ("curtailment share", "share"),
    "grid_import_kwh": ("grid import", "kwh"),
    "grid_export_kwh": ("grid export", "kwh"),
    "import_kwh": ("import at the connection", "kwh"),
    "export_kwh": ("export at the connection", "kwh"),
    "self_sufficiency": ("self-sufficiency", "share"),
    "self_consumption": ("self-consumption", "share"),
    "local_trade_kwh": ("local trade", "kwh"),
    "local_trade_avg_price": ("average local price", "price"),
    "local_bought_kwh": ("bought locally", "kwh"),
    "local_sold_kwh": ("sold locally", "kwh"),
    "local_avg_buy_price": ("average local buy price", "price"),
    "local_avg_sell_price": ("average local sell price", "price"),
    "peak_import_kw": ("peak import", "kw"),
    "peak_export_kw": ("peak export", "kw"),
    "battery_throughput_kwh": ("battery throughput", "kwh"),
    "battery_charge_kwh": ("battery charge", "kwh"),
    "battery_losses_kwh": ("battery losses", "kwh"),
    "battery_cycles": ("equivalent full cycles", "count"),
    "demand_shares.own_generation": ("demand met by own generation", "share"),
    "demand_shares.battery": ("demand met by batteries", "share"),
    "demand_shares.local_trade": ("demand met by local trade", "share"),
    "demand_shares.grid": ("demand met by the grid", "share"),
}


def _unit_of(key: str, value: Any) -> str:
    k = key.split(".")[-1]
    if key in KPI_LABELS:
        return KPI_LABELS[key][1]
    if k.endswith("_kwh"):
        return "kwh"
    if k.endswith("_kw"):
        return "kw"
    if "share" in k or k.endswith("_pct"):
        return "share"
    if "price" in k:
        return "price"
    if k.endswith(("cost", "value", "bill")) or k in {"saving", "saving_trade", "saving_storage"}:
        return "money"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "count"
    return "text"


def _unit_text(kind: str, currency: str) -> str:
    return {
        "kwh": "kWh",
        "kw": "kW",
        "share": "%",
        "money": currency,
        "price": f"{currency}/kWh",
        "count": "",
        "text": "",
    }[kind]


def _fmt_value(kind: str, value: Any) -> str:
    if value is None:
        return "–"
    if kind == "text":
        if isinstance(value, list | tuple):
            return ", ".join(str(v) for v in value)
        return str(value)
    v = _num(value)
    if v is None:
        return "–"
    if kind == "share":
        return _pct(v).replace(" %", "")
    if kind == "money":
        return fmt_num(v, 0 if abs(v) >= 10_000 else 2)
    if kind == "price":
        return fmt_num(v, 4)
    if kind == "kw":
        return fmt_num(v, 2 if abs(v) < 100 else 1 if abs(v) < 1000 else 0)
    return fmt_num(v)


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


@dataclass
class KpiRow:
    label: str
    unit: str
    value: str
    ref: str = ""
    key: str = ""


@dataclass
class KpiTable:
    """A table of KPIs: one row per entity, one column per KPI (label, unit, css class)."""

    title: str
    columns: list[tuple[str, str, str]] = field(default_factory=list)
    rows: list[tuple[str, list[str]]] = field(default_factory=list)


def _kpi_label(key: str) -> str:
    if key in KPI_LABELS:
        return KPI_LABELS[key][0]
    k = key
    for suffix in ("_kwh", "_kw"):
        if k.endswith(suffix):
            k = k[: -len(suffix)]
    return k.replace(".", ": ").replace("_", " ")


def _design_kpi_rows(
    kpis: Mapping[str, Any], ref: Mapping[str, Any] | None, currency: str
) -> list[KpiRow]:
    flat = _flatten(kpis)
    ref_flat = _flatten(ref) if ref else {}
    rows = []
    for key, value in flat.items():
        if key == "currency":
            continue
        kind = _unit_of(key, value)
        rows.append(
            KpiRow(
                _kpi_label(key),
                _unit_text(kind, currency),
                _fmt_value(kind, value),
                _fmt_value(kind, ref_flat.get(key)) if ref else "",
                key,
            )
        )
    return rows


# Entity tables are split by theme so that no table is wider than a page.
_GROUPS = (
    ("energy", ("kwh",)),
    ("shares", ("share",)),
    ("money and prices", ("money", "price")),
    ("peaks and batteries", ("kw", "count")),
)


def _entity_tables(
    title: str, entities: Mapping[str, Mapping[str, Any]], currency: str
) -> list[KpiTable]:
    if not entities:
        return []
    flats = {name: _flatten(v) for name, v in entities.items()}
    keys: list[str] = []
    for f in flats.values():
        for k, v in f.items():
            if k not in keys and not isinstance(v, list | tuple):
                keys.append(k)
    kinds = {}
    for k in keys:
        sample = next((f[k] for f in flats.values() if f.get(k) is not None), None)
        kinds[k] = _unit_of(k, sample)
    text_keys = [k for k in keys if kinds[k] == "text"]
    tables = []
    for theme, group in _GROUPS:
        cols = [k for k in keys if kinds[k] in group]
        if not cols:
            continue
        cols = text_keys + cols
        table = KpiTable(
            f"{title}: {theme}",
            [
                (_kpi_label(k), _unit_text(kinds[k], currency), "" if kinds[k] == "text" else "n")
                for k in cols
            ],
        )
        for name, f in flats.items():
            table.rows.append((name, [_fmt_value(kinds[k], f.get(k)) for k in cols]))
        tables.append(table)
    return tables


# --------------------------------------------------------------------------------- data access
def _col(df: pd.DataFrame, entity: str, quantity: str, n: int) -> np.ndarray:
    if isinstance(df.columns, pd.MultiIndex) and (entity, quantity) in df.columns:
        arr = df[(entity, quantity)].to_numpy(dtype=np.float64, na_value=np.nan)
        return np.nan_to_num(arr, nan=0.0)
    return np.zeros(n)


def _sum(df: pd.DataFrame, entities: Sequence[str], quantity: str, n: int) -> np.ndarray:
    total = np.zeros(n)
    for e in entities:
        total = total + _col(df, e, quantity, n)
    return total


def _has(df: pd.DataFrame, entity: str, quantity: str) -> bool:
    return isinstance(df.columns, pd.MultiIndex) and (entity, quantity) in df.columns


def _groups(design: Design) -> list[tuple[str, list[str], list[str], str | None]]:
    """(display name, participants, shared batteries, block name) per block; participants outside
    any block form one more group."""
    out: list[tuple[str, list[str], list[str], str | None]] = []
    for b in design.blocks.values():
        out.append(
            (
                b.name,
                [p for p in b.participants if p in design.participants],
                list(b.batteries),
                b.name,
            )
        )
    loose = [p for p, part in design.participants.items() if part.block not in design.blocks]
    if loose:
        top_batts = [n for n, bt in design.shared_batteries.items() if bt.block is None]
        out.append(("community" if not design.blocks else "outside blocks", loose, top_batts, None))
    return out


def _index(results: Results) -> pd.DatetimeIndex:
    idx = results.participants_ts.index
    if isinstance(idx, pd.DatetimeIndex) and len(idx):
        return idx
    return results.design.time.index


# --------------------------------------------------------------------------------- charts
def _balance_chart(
    results: Results, axis: TimeAxis, name: str, members: Sequence[str], title: str
) -> Markup:
    pts = results.participants_ts
    n = len(axis.index)
    used = _sum(pts, members, "generation_used", n)
    curt = _sum(pts, members, "curtailment", n)
    base = _sum(pts, members, "base_load", n)
    load = _sum(pts, members, "load", n)
    above = [
        Layer("generation used", used, C_GEN),
        Layer("battery discharge", _sum(pts, members, "battery_discharge", n), C_BATT),
        Layer("local trade bought", _sum(pts, members, "local_bought", n), C_LOCAL),
        Layer("grid import", _sum(pts, members, "grid_import", n), C_IMPORT),
        Layer("curtailed (not used)", curt, OKABE_ITO["orange"], hatch=True),
    ]
    below = [
        Layer("load", load, C_LOAD),
        Layer("battery charge", _sum(pts, members, "battery_charge", n), C_BATT),
        Layer("local trade sold", _sum(pts, members, "local_sold", n), C_LOCAL),
        Layer("grid export", _sum(pts, members, "grid_export", n), C_EXPORT),
    ]
    lines = []
    if np.any(np.abs(base - load) > 1e-6) and np.any(base):
        lines.append(
            Layer(
                "load as declared (before shifting), drawn below zero",
                -base,
                OKABE_ITO["black"],
                kind="dash",
            )
        )
    chart_lines = [la for la in lines]
    return ch.time_stack_chart(
        axis,
        above,
        below,
        chart_lines,
        title=title,
        y_label="power (kW); supply above zero, use below",
        desc=(
            f"Energy balance of {name}: generation used, battery discharge, local purchases and "
            "grid import stacked above zero; load, battery charge, local sales and grid export "
            "stacked below zero; curtailed generation hatched on top."
        ),
    )


def _soc_chart(
    results: Results, axis: TimeAxis, name: str, batteries: Sequence[str]
) -> Markup | None:
    bts = results.batteries_ts
    n = len(axis.index)
    all_b = results.design.batteries()
    lines = []
    for i, b in enumerate(batteries):
        if not _has(bts, b, "soc"):
            continue
        lines.append(Layer(f"{b} (kWh)", _col(bts, b, "soc", n), ch.color(i)))
        cap = all_b[b].capacity_kwh if b in all_b else None
        if cap:
            lines.append(Layer(f"{b} capacity", np.full(n, cap), ch.color(i), kind="dash"))
    if not lines:
        return None
    return ch.time_line_chart(
        axis,
        lines,
        title=f"{name}: battery state of charge",
        y_label="state of charge (kWh)",
        desc=f"State of charge at the end of each step of the batteries in {name}, with their "
        "capacities dashed.",
        height=280,
    )


def _connection_chart(results: Results, axis: TimeAxis, block: str) -> Markup | None:
    blts = results.blocks_ts
    n = len(axis.index)
    if not (_has(blts, block, "import") or _has(blts, block, "export")):
        return None
    d = results.design
    above = [
        Layer("import", _col(blts, block, "import", n), C_IMPORT),
        Layer(
            "flexibility delivered to the DSO",
            _col(blts, block, "flexibility", n),
            OKABE_ITO["orange"],
            hatch=True,
        ),
    ]
    below = [Layer("export", _col(blts, block, "export", n), C_EXPORT)]
    lines = [
        Layer("from other blocks", _col(blts, block, "from_blocks", n), OKABE_ITO["sky_blue"]),
        Layer("to other blocks", -_col(blts, block, "to_blocks", n), OKABE_ITO["bluish_green"]),
    ]
    if ch.bucket_size(n, d.dt_h) > 1:
        # Long horizons show bucket means; the DSO cares about the peaks, so draw them too.
        note = ch.bucket_note(ch.bucket_size(n, d.dt_h), d.dt_h)
        lines.append(
            Layer(
                f"{note} peak import",
                above[0].values,
                OKABE_ITO["black"],
                kind="line",
                reduce="max",
            )
        )
        lines.append(
            Layer(
                f"{note} peak export",
                -below[0].values,
                OKABE_ITO["grey"],
                kind="line",
                reduce="min",
            )
        )
    # A limit far above the flows would flatten them into the axis: draw it only when it is
    # within reach of the data, and name it in the title otherwise.
    top = max(
        float(np.max(above[0].values + above[1].values, initial=0.0)),
        float(np.max(below[0].values, initial=0.0)),
        1e-6,
    )
    off_scale = []
    conn = d.blocks[block].connection if block in d.blocks else None
    limits = []
    if conn is not None and conn.import_kw is not None:
        limits.append(("connection limit", conn.import_kw, OKABE_ITO["black"]))
    limits += [
        ("DSO limit", need.limit_kw, OKABE_ITO["vermillion"])
        for need in d.dso.flexibility
        if need.block == block
    ]
    for label, kw, colour in limits:
        if kw <= 2.0 * top:
            lines.append(Layer(f"{label} ({fmt_num(kw)} kW)", np.full(n, kw), colour, kind="dash"))
        else:
            off_scale.append(f"{label} {fmt_num(kw)} kW")
    title = f"{block}: exchange at the block connection"
    if off_scale:
        title += f" ({', '.join(off_scale)}, off scale)"
    return ch.time_stack_chart(
        axis,
        above,
        below,
        lines,
        title=title,
        y_label="power (kW); import above zero, export below",
        desc=f"Net import (above zero) and export (below zero) at the connection of {block}, "
        "with the connection and DSO limits dashed.",
        height=300,
    )


def _price_chart(results: Results, axis: TimeAxis) -> Markup | None:
    d = results.design
    n = len(axis.index)
    cur = d.currency
    lines = []
    mts = results.markets_ts
    for i, m in enumerate(d.markets):
        if _has(mts, m, "price"):
            lines.append(Layer(f"{m} local price", _col(mts, m, "price", n), ch.color(i)))
    if not lines:
        return None
    buy = np.asarray(d.grid.buy_per_kwh, dtype=np.float64)
    charge = d.dso.energy_charge_per_kwh
    if len(buy) == n:
        # What a kWh from the grid really costs a participant: the local price's upper bound.
        if charge is not None and len(charge) == n and np.any(charge):
            lines.append(
                Layer(
                    "grid buy price + DSO energy charge",
                    buy + np.asarray(charge, dtype=np.float64),
                    OKABE_ITO["black"],
                    kind="dash",
                )
            )
        else:
            lines.append(Layer("grid buy price", buy, OKABE_ITO["black"], kind="dash"))
    if d.grid.sell_per_kwh is not None and len(d.grid.sell_per_kwh) == n:
        lines.append(
            Layer(
                "grid sell price",
                np.asarray(d.grid.sell_per_kwh, dtype=np.float64),
                OKABE_ITO["grey"],
                kind="dash",
            )
        )
    return ch.time_line_chart(
        axis,
        lines,
        title="Local prices per market",
        y_label=f"price ({cur}/kWh)",
        desc="The local price of each market (dual of its balance) per step, with the grid's "
        "buy and sell prices dashed for comparison.",
        zero_based=False,
    )


# A heat map shows at most this many sellers and buyers; the rest are summed into one row and
# one column, so the chart (SVG cells) stays bounded however many traders a market has.
MAX_HEATMAP_PARTIES = 40


def _top_parties(df: pd.DataFrame, limit: int = MAX_HEATMAP_PARTIES) -> pd.DataFrame:
    """The `limit` largest sellers (rows) and buyers (columns), the rest summed as OTHERS."""
    from pebdsl.pipeline import OTHERS

    def keep(totals: pd.Series) -> list[Any]:
        if len(totals) <= limit and OTHERS not in totals.index:
            return list(totals.index)
        named = totals.drop(OTHERS, errors="ignore")
        top = set(named.sort_values(ascending=False, kind="stable").index[:limit])
        return [k for k in totals.index if k in top]

    rows = keep(df.sum(axis=1))
    cols = keep(df.sum(axis=0))
    rest_rows = [r for r in df.index if r not in set(rows)]
    rest_cols = [c for c in df.columns if c not in set(cols)]
    if not rest_rows and not rest_cols:
        return df
    out = df.loc[rows, cols].copy()
    if rest_cols:
        out[OTHERS] = df.loc[rows, rest_cols].sum(axis=1)
    if rest_rows:
        other = df.loc[rest_rows].sum(axis=0)
        row = [float(other[c]) for c in cols]
        if rest_cols:
            row.append(float(other[rest_cols].sum()))
        out.loc[OTHERS] = row
    return out


def _trade_charts(results: Results) -> list[Markup]:
    out = []
    for m, full in results.trades.items():
        if full is None or full.empty:
            continue
        df = _top_parties(full)
        sellers = [str(s) for s in df.index]
        buyers = [str(b) for b in df.columns]
        out.append(
            ch.heatmap_chart(
                sellers,
                buyers,
                df.to_numpy(dtype=np.float64, na_value=0.0),
                title=f"{m}: who traded with whom",
                row_label="seller",
                col_label="buyer",
                unit="kWh",
                desc=f"Energy received by each buyer (columns) from each seller (rows) in {m} "
                "over the horizon, in kWh.",
            )
        )
    return out


def _bill_totals(bills: pd.DataFrame | None, names: Sequence[str]) -> list[float | None]:
    if bills is None or "total" not in bills.columns:
        return [None] * len(names)
    return [_num(bills.at[p, "total"]) if p in bills.index else None for p in names]


def _bills_chart(results: Results, reference: Results | None) -> Markup | None:
    bills = results.bills
    if bills is None or bills.empty:
        return None
    # Participants only: the operators' rows (grid, DSO, markets) are counter-entries and are
    # listed in the table below the chart.
    names = [p for p in results.design.participants if p in bills.index]
    if not names:
        return None
    series = []
    if reference is not None and reference.bills is not None:
        series.append(
            BarSeries(
                f"reference ({_variant_name(reference)})",
                _bill_totals(reference.bills, names),
                C_REF,
            )
        )
    series.append(
        BarSeries(f"this design ({_variant_name(results)})", _bill_totals(bills, names), C_THIS)
    )
    return ch.bar_chart(
        names,
        series,
        title="Bills per participant" + (" against the reference" if reference else ""),
        x_label=f"bill over the horizon ({results.design.currency}); negative = net income",
        value_digits=2,
        desc="Total bill of each participant and operator over the horizon"
        + (", this design against the reference." if reference else "."),
    )


def _peaks(results: Results) -> dict[str, float]:
    v = results.values.get("peak_import_kw") if results.values else None
    if isinstance(v, Mapping) and v:
        return {str(k): float(x) for k, x in v.items() if _num(x) is not None}
    out: dict[str, float] = {}
    n = len(_index(results))
    blts = results.blocks_ts
    total = np.zeros(n)
    for name, members, _, block in _groups(results.design):
        if block is not None and _has(blts, block, "import"):
            net = _col(blts, block, "import", n) - _col(blts, block, "export", n)
        else:
            pts = results.participants_ts
            net = _sum(pts, members, "grid_import", n) - _sum(pts, members, "grid_export", n)
        out[name] = float(max(net.max(initial=0.0), 0.0))
        total += net
    out["all"] = float(max(total.max(initial=0.0), 0.0))
    return out


def _peak_chart(results: Results, reference: Results | None) -> Markup:
    peaks = _peaks(results)
    cats = list(peaks)
    series = []
    if reference is not None:
        rp = _peaks(reference)
        series.append(
            BarSeries(f"reference ({_variant_name(reference)})", [rp.get(c) for c in cats], C_REF)
        )
    series.append(
        BarSeries(f"this design ({_variant_name(results)})", [peaks[c] for c in cats], C_THIS)
    )
    return ch.bar_chart(
        ["all blocks together" if c == "all" else c for c in cats],
        series,
        title="Peak import per block connection",
        x_label="peak import (kW)",
        value_digits=1,
        value_suffix=" kW",
        desc="Highest import at each block connection, and for all blocks together (the "
        "coincident peak), over the horizon.",
    )


def _link_chart(results: Results, axis: TimeAxis) -> Markup | None:
    lts = results.links_ts
    if not isinstance(lts.columns, pd.MultiIndex) or lts.empty:
        return None
    n = len(axis.index)
    links = list(dict.fromkeys(lts.columns.get_level_values(0)))
    lines = [
        Layer(
            f"{lk} (net, first → second)",
            _col(lts, lk, "flow_ab", n) - _col(lts, lk, "flow_ba", n),
            ch.color(i),
        )
        for i, lk in enumerate(links)
    ]
    return ch.time_line_chart(
        axis,
        lines,
        title="Flows on DSO links between blocks",
        y_label="net flow (kW)",
        desc="Net flow on each DSO link, positive from the first named block to the second.",
        height=260,
    )


# --------------------------------------------------------------------------------- sections
def _variant_name(results: Results) -> str:
    return results.design.variant or "base design"


def _versions(results: Results | None = None) -> list[tuple[str, str]]:
    out = [("python", platform.python_version())]
    for dist in ("pebdsl", "numpy", "pandas", "highspy", "pyomo", "jinja2"):
        try:
            out.append((dist, metadata.version(dist)))
        except metadata.PackageNotFoundError:
            continue
    if results is not None:
        out.append(("backend / solver", f"{results.backend} / {results.solver}"))
    return out


def _explain(design: Design) -> tuple[str, str | None]:
    """The formulation text, or ("", error text) when it cannot be produced."""
    try:
        from pebdsl.present.explain import explain
    except Exception as exc:  # the module may not exist in a partial install
        return "", f"{type(exc).__name__}: {exc}"
    try:
        return explain(design), None
    except Exception as exc:
        return "", f"{type(exc).__name__}: {exc}"


@dataclass
class SourceView:
    path: str
    lines: list[tuple[int, str]]


def _sources(design: Design) -> list[SourceView]:
    return [
        SourceView(s.path, list(enumerate(s.text.splitlines() or [""], start=1)))
        for s in design.sources
    ]


def _three_values(results: Results, reference: Results | None) -> dict[str, Any]:
    vals: dict[str, Any] = dict(results.values or {})
    try:
        from pebdsl.kpis import three_values

        vals.update(three_values(results, reference))
    except Exception:
        if reference is not None:
            mine, ref = _peaks(results), _peaks(reference)
            if "all" in mine and "all" in ref:
                vals.setdefault("peak_reduction_kw", ref["all"] - mine["all"])
    return vals


@dataclass
class Card:
    label: str
    value: str
    note: str = ""
    tone: str = ""  # "good" | "bad" | ""


def _headline(results: Results, reference: Results | None, values: Mapping[str, Any]) -> dict:
    d = results.design
    cur = d.currency
    cards = [
        Card(
            "total cost (real money)",
            _money(results.total_cost, cur),
            f"over {_plural(d.time.duration_h / 24, 'day')}: grid, DSO charges, fees and "
            "battery and shifting costs, all participants together",
        )
    ]
    if abs(results.shadow_cost) > 1e-9:
        cards.append(
            Card(
                "shadow cost (not paid)",
                _money(results.shadow_cost, cur),
                "priced flexibility excess minus product premiums: in the optimisation's "
                f"objective ({_money(results.objective, cur)}), billed to nobody",
            )
        )
    saving = saving_pct = None
    if reference is not None:
        ref_cost = reference.total_cost
        saving = ref_cost - results.total_cost
        # A share of a negative or zero reference cost (a net-exporting community) means nothing.
        saving_pct = saving / ref_cost if ref_cost > 1e-9 else None
        cards.append(
            Card(
                "saving against the reference",
                _money(saving, cur),
                f"{_pct(saving_pct)} of {_money(ref_cost, cur)} "
                f"({_variant_name(reference)}), in real money"
                if saving_pct is not None
                else f"reference: {_money(ref_cost, cur)}",
                "good" if saving > 1e-9 else "bad" if saving < -1e-9 else "",
            )
        )
    dk = results.kpis.get("design", {}) if results.kpis else {}
    for key, label in (
        ("saving_trade", "saving from trade"),
        ("saving_storage", "saving from storage"),
    ):
        if _num(dk.get(key)) is not None:
            cards.append(Card(label, _money(dk[key], cur)))
    if _num(dk.get("self_sufficiency")) is not None:
        cards.append(
            Card("self-sufficiency", _pct(dk["self_sufficiency"]), "1 − grid import / demand")
        )

    share = _num(values.get("pv_surplus_local_share"))
    surplus = _num(values.get("pv_surplus_kwh"))
    v1 = Card(
        "1 · PV surplus balanced locally",
        _pct(share) if share is not None else "–",
        (
            f"of {fmt_num(surplus)} kWh generated above the owners' own demand, used in the "
            "community (traded or stored)"
            if surplus is not None
            else "generation above the owners' own demand used in the community"
        ),
    )
    red = _num(values.get("peak_reduction_kw"))
    peak_all = _peaks(results).get("all")
    if red is not None:
        dv = _num(values.get("deferral_value"))
        v2 = Card(
            "2 · Grid investment deferred",
            f"{fmt_num(red, 1)} kW",
            "peak import reduction, all blocks together"
            + (
                f"; worth {_money(dv, cur)}/year at the reinforcement cost"
                if dv is not None and d.dso.reinforcement_cost_per_kw_year
                else "; no reinforcement cost declared (dso.reinforcement_cost)"
            ),
            "good" if red > 1e-9 else "bad" if red < -1e-9 else "",
        )
    else:
        v2 = Card(
            "2 · Grid investment deferred",
            "no reference",
            f"peak import {fmt_num(peak_all, 1)} kW, all blocks together"
            if peak_all is not None
            else "needs a reference variant",
        )
    trade = _num(values.get("local_trade_kwh"))
    tv = _num(values.get("local_trade_value"))
    flex = _num(values.get("flexibility_kwh"))
    fv = _num(values.get("flexibility_value"))
    note = f"worth {_money(tv, cur)} at local prices" if tv is not None else ""
    if flex:
        note += f"; flexibility to the DSO: {fmt_num(flex)} kWh"
        if fv is not None:
            note += f" ({_money(fv, cur)})"
    v3 = Card(
        "3 · Local energy products used",
        f"{fmt_num(trade)} kWh" if trade is not None else "–",
        note,
    )
    return {"cards": cards, "values": [v1, v2, v3], "saving": saving, "saving_pct": saving_pct}


def _mul(k: float, v: float | None) -> float | None:
    return None if v is None else k * v


def _money_rows(results: Results) -> list[tuple[str, str]]:
    cur = results.design.currency
    rows = []
    for k, v in (results.money or {}).items():
        x = _num(v)
        rows.append((k.replace("_", " "), _money(x, cur) if x is not None else str(v)))
    return rows


def _bill_table(results: Results, reference: Results | None) -> dict | None:
    bills = results.bills
    if bills is None or bills.empty:
        return None
    cols = [c for c in bills.columns if c != "total"]
    cols = [c for c in cols if bool((bills[c].abs() > 1e-9).any())]
    # settle.py subtracts the *_sales columns in the total; showing them negated makes every
    # row add up to its total as printed.
    sign = {c: (-1.0 if c.endswith("_sales") else 1.0) for c in cols}
    rows = []
    ref_tot = reference.bills if reference is not None else None
    for name in bills.index:
        total = _num(bills.at[name, "total"]) if "total" in bills.columns else None
        ref = (
            _num(ref_tot.at[name, "total"])
            if ref_tot is not None and name in ref_tot.index and "total" in ref_tot.columns
            else None
        )
        rows.append(
            {
                "name": str(name),
                "cells": [fmt_num(_mul(sign[c], _num(bills.at[name, c])), 2) for c in cols],
                "total": fmt_num(total, 2),
                "ref": fmt_num(ref, 2) if reference is not None else None,
                "diff": fmt_num(ref - total, 2) if (ref is not None and total is not None) else "–",
                "operator": name not in results.design.participants,
            }
        )
    return {
        "columns": [c.replace("_", " ") for c in cols],
        "rows": rows,
        "has_ref": reference is not None,
    }


def _market_rows(results: Results) -> list[dict[str, str]]:
    d = results.design
    mts = results.markets_ts
    n = len(_index(results))
    rows = []
    for m, mk in d.markets.items():
        vol = _col(mts, m, "volume", n)
        price = _col(mts, m, "price", n)
        kwh = float(vol.sum() * d.dt_h)
        avg = float((vol * price).sum() / vol.sum()) if vol.sum() > 1e-9 else None
        rows.append(
            {
                "name": m,
                "type": mk.type,
                "members": str(len(mk.members)),
                "volume": fmt_num(kwh),
                "avg": fmt_num(avg, 4),
                "min": fmt_num(float(price.min()), 4) if len(price) else "–",
                "max": fmt_num(float(price.max()), 4) if len(price) else "–",
                "loss": fmt_num(float(_col(mts, m, "loss", n).sum() * d.dt_h)),
                "fees": fmt_num(float(_col(mts, m, "fees", n).sum() * d.dt_h), 2),
            }
        )
    return rows


def _group_totals(results: Results, members: Sequence[str]) -> list[tuple[str, str]]:
    pts = results.participants_ts
    n = len(_index(results))
    dt = results.design.dt_h
    out = []
    for q, label in (
        ("load", "demand"),
        ("generation_used", "generation used"),
        ("curtailment", "curtailed"),
        ("grid_import", "grid import"),
        ("grid_export", "grid export"),
        ("local_bought", "bought locally"),
        ("local_sold", "sold locally"),
        ("battery_discharge", "battery discharge"),
    ):
        out.append((label, fmt_num(float(_sum(pts, members, q, n).sum() * dt))))
    return out


def _horizon_text(design: Design, index: pd.DatetimeIndex) -> str:
    if not len(index):
        return "empty horizon"
    end = index[0] + pd.Timedelta(hours=design.time.duration_h)
    step = design.dt_h
    step_txt = f"{fmt_num(step * 60)} min" if step < 1 else f"{fmt_num(step)} h"
    return (
        f"{index[0]:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} ({design.time.timezone}), "
        f"{len(index):,} steps of {step_txt}"
    )


def render_report(results: Results, *, reference: Results | None = None, command: str = "") -> str:
    """The HTML report of one solve (optionally against a reference solve)."""
    ch.reset_chart_ids()
    d = results.design
    index = _index(results)
    axis = TimeAxis(index, d.dt_h)
    values = _three_values(results, reference)

    blocks = []
    for name, members, shared, block in _groups(d):
        batts = [p_b.battery.name for p in members if (p_b := d.participants[p]).battery]
        batts += shared
        sec = {
            "name": name,
            "anchor": f"block-{_slug(name)}",
            "members": members,
            "balance": _balance_chart(results, axis, name, members, f"{name}: energy balance"),
            "soc": _soc_chart(results, axis, name, batts),
            "connection": _connection_chart(results, axis, block) if block else None,
            "totals": _group_totals(results, members),
        }
        blocks.append(sec)

    ref_kpis = reference.kpis.get("design") if reference is not None and reference.kpis else None
    kpis = results.kpis or {}
    tables = [
        *_entity_tables("Participants", kpis.get("participants", {}), d.currency),
        *_entity_tables("Blocks", kpis.get("blocks", {}), d.currency),
        *_entity_tables("Batteries", kpis.get("batteries", {}), d.currency),
    ]
    formulation, formulation_error = _explain(d)
    ctx = {
        "title": d.title,
        "variant": _variant_name(results),
        "description": d.description,
        "variant_description": d.variant_description,
        "status": results.status,
        "currency": d.currency,
        "horizon": _horizon_text(d, index),
        "counts": {
            "participants": len(d.participants),
            "blocks": len(d.blocks),
            "markets": len(d.markets),
            "batteries": len(d.batteries()),
        },
        "reference_name": _variant_name(reference) if reference is not None else None,
        "headline": _headline(results, reference, values),
        "notes": list(results.notes),
        "blocks": blocks,
        "peak_chart": _peak_chart(results, reference),
        "price_chart": _price_chart(results, axis),
        "market_rows": _market_rows(results),
        "trade_charts": _trade_charts(results),
        "link_chart": _link_chart(results, axis),
        "bills_chart": _bills_chart(results, reference),
        "bill_table": _bill_table(results, reference),
        "money_rows": _money_rows(results),
        "design_kpis": _design_kpi_rows(kpis.get("design", {}), ref_kpis, d.currency),
        "kpi_tables": tables,
        "formulation": formulation,
        "formulation_error": formulation_error,
        "formulation_lines": formulation.count("\n") + 1 if formulation else 0,
        "sources": _sources(d),
        "provenance": _provenance(results, command),
    }
    return neutralise_bidi(_environment().get_template("report.html.j2").render(**ctx))


def _source_date_epoch() -> datetime | None:
    """The moment SOURCE_DATE_EPOCH names, or None when it is unset or not a whole number
    (a malformed value is ignored rather than failing a finished solve's report)."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not value.isdigit():
        return None
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _rendered_at() -> str:
    moment = _source_date_epoch() or datetime.now(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _provenance(results: Results, command: str) -> list[tuple[str, str]]:
    d = results.design
    rows = [
        ("design file", ", ".join(s.path for s in d.sources) or "–"),
        ("variant", _variant_name(results)),
        ("design hash (sha256)", d.digest()),
        ("data hash (sha256)", d.data_digest or "no data files"),
        ("command", command or "–"),
        ("rendered at", _rendered_at()),
        ("solver status", results.status),
    ]
    rows += [(f"version: {k}", v) for k, v in _versions(results)]
    if results.model_stats:
        rows.append(
            (
                "model size",
                ", ".join(f"{fmt_num(float(v), 0)} {k}" for k, v in results.model_stats.items()),
            )
        )
    if _source_date_epoch() is not None:
        # Timings differ from run to run; a reproducible page leaves them to results.json.
        rows.append(("timings", "left out (SOURCE_DATE_EPOCH is set); see results.json"))
    elif results.timings:
        rows.append(("timings", ", ".join(f"{k} {v:.3f} s" for k, v in results.timings.items())))
    rows.append(
        ("platform", f"{platform.system()} {platform.machine()}, {sys.implementation.name}")
    )
    return rows


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-").lower() or "x"


# --------------------------------------------------------------------------------- comparison
def _s(summary: Mapping[str, Any], key: str, sub: str | None = None) -> float | None:
    v = summary.get(key)
    if sub is not None:
        v = v.get(sub) if isinstance(v, Mapping) else None
    return _num(v)


def _case_href(case: Any) -> str:
    """Relative link from compare.html to a case's own report: `compare.write_comparison` puts
    each case's outputs in <out>/<file stem>/<label>/ next to <out>/compare.html."""
    from urllib.parse import quote

    leaf = "report.html" if case.results is not None else "error.txt"
    return f"{quote(Path(str(case.file)).stem)}/{quote(str(case.label))}/{leaf}"


def render_compare(comparison: Any, *, command: str = "") -> str:
    """The comparison page: one row and one colour per case (a variant of a file)."""
    ch.reset_chart_ids()
    cases = list(comparison.cases)
    ok = [c for c in cases if c.results is not None and c.error is None]
    labels = [str(c.label) for c in ok]
    currency = next(
        (str(c.summary.get("currency")) for c in ok if c.summary.get("currency")),
        ok[0].results.design.currency if ok else "",
    )
    charts: list[Markup] = []
    if ok:
        sums = [c.summary for c in ok]
        costs = [_s(s, "total_cost") for s in sums]
        trade = [_s(s, "saving_trade") for s in sums]
        storage = [_s(s, "saving_storage") for s in sums]
        saving = [_s(s, "saving") for s in sums]
        other = [
            (sv - (t or 0.0) - (st or 0.0)) if sv is not None else None
            for sv, t, st in zip(saving, trade, storage, strict=True)
        ]
        cost_series = [BarSeries(f"total cost, real money ({currency})", costs, "#BFBFBF")]
        if any(x for x in trade):
            cost_series.append(BarSeries("saving from trade", trade, C_LOCAL))
        if any(x for x in storage):
            cost_series.append(BarSeries("saving from storage", storage, C_BATT))
        if any(x and abs(x) > 1e-6 for x in other):
            label = "saving (not split)" if len(cost_series) == 1 else "saving, other"
            cost_series.append(BarSeries(label, other, OKABE_ITO["orange"]))
        charts.append(
            ch.bar_chart(
                labels,
                cost_series,
                stacked=True,
                title="Total cost by variant, with the saving against the reference",
                x_label=f"{currency} over the horizon: cost + saving = the reference's cost",
                value_digits=2,
                desc="Each bar is a variant's total cost, extended by its saving against the "
                "reference, split into the part from trade and the part from storage.",
            )
        )
        share_keys = [
            ("own_generation", "own generation", C_GEN),
            ("battery", "battery", C_BATT),
            ("local_trade", "local trade", C_LOCAL),
            ("grid", "grid", C_IMPORT),
        ]
        charts.append(
            ch.bar_chart(
                labels,
                [
                    BarSeries(lbl, [(_s(s, "demand_shares", k) or 0.0) * 100 for s in sums], col)
                    for k, lbl, col in share_keys
                ],
                stacked=True,
                title="How demand is met, by variant",
                x_label="share of demand (%)",
                value_digits=0,
                value_suffix=" %",
                max_value=100.0,
                show_totals=False,
                desc="Share of the demand met by own generation, batteries, local trade and the "
                "grid, per variant.",
            )
        )
        blocks: list[str] = []
        for s in sums:
            for b in s.get("peak_import_kw") or {}:
                if b not in blocks:
                    blocks.append(str(b))
        if blocks:
            blocks = [b for b in blocks if b != "all"] + (["all"] if "all" in blocks else [])
            charts.append(
                ch.bar_chart(
                    ["all blocks together" if b == "all" else b for b in blocks],
                    [
                        BarSeries(lbl, [_s(s, "peak_import_kw", b) for b in blocks], ch.color(i))
                        for i, (lbl, s) in enumerate(zip(labels, sums, strict=True))
                    ],
                    title="Peak import per block connection, by variant",
                    x_label="peak import (kW)",
                    value_digits=1,
                    desc="Highest import at each block connection and for all blocks together.",
                )
            )
        charts.append(
            ch.bar_chart(
                labels,
                [
                    BarSeries(
                        "PV surplus balanced locally",
                        [(_s(s, "values", "pv_surplus_local_share") or 0.0) * 100 for s in sums],
                        C_GEN,
                    )
                ],
                title="Value 1 · PV surplus balanced locally",
                x_label="share of the PV surplus (%)",
                value_digits=1,
                value_suffix=" %",
                max_value=100.0,
            )
        )
        charts.append(
            ch.bar_chart(
                labels,
                [
                    BarSeries(
                        "peak reduction",
                        [_s(s, "values", "peak_reduction_kw") for s in sums],
                        C_EXPORT,
                    )
                ],
                title="Value 2 · Grid investment deferred: peak import reduction",
                x_label="reduction of the all-blocks peak import against the reference (kW)",
                value_digits=1,
                value_suffix=" kW",
            )
        )
        charts.append(
            ch.bar_chart(
                labels,
                [
                    BarSeries(
                        "local trade", [_s(s, "values", "local_trade_kwh") for s in sums], C_LOCAL
                    ),
                    BarSeries(
                        "flexibility to the DSO",
                        [_s(s, "values", "flexibility_kwh") for s in sums],
                        OKABE_ITO["orange"],
                    ),
                ],
                title="Value 3 · Local energy products used",
                x_label="energy over the horizon (kWh)",
                value_digits=0,
            )
        )
    rows = []
    for c in cases:
        s = c.summary or {}
        vals = s.get("values") or {}
        rows.append(
            {
                "label": str(c.label),
                "anchor": f"case-{_slug(str(c.label))}",
                "file": str(c.file),
                "status": str(s.get("status", "error" if c.error else "")),
                "failed": c.error is not None or c.results is None,
                "cells": [
                    _money(_s(s, "total_cost")),
                    _money(_s(s, "shadow_cost")),
                    _money(_s(s, "saving")),
                    fmt_num(_s(s, "saving_pct"), 1),  # already in per cent
                    _money(_s(s, "saving_trade")),
                    _money(_s(s, "saving_storage")),
                    fmt_num(_s(s, "grid_import_kwh")),
                    fmt_num(_s(s, "grid_export_kwh")),
                    fmt_num(_s(s, "curtailment_kwh")),
                    *[
                        _pct(_s(s, "demand_shares", k)).replace(" %", "")
                        for k in ("own_generation", "battery", "local_trade", "grid")
                    ],
                    fmt_num(_s(s, "peak_import_kw", "all"), 1),
                    _pct(_num(vals.get("pv_surplus_local_share"))).replace(" %", ""),
                    fmt_num(_num(vals.get("peak_reduction_kw")), 1),
                    _money(_num(vals.get("deferral_value"))),
                    fmt_num(_num(vals.get("local_trade_kwh"))),
                    fmt_num(_num(vals.get("flexibility_kwh"))),
                ],
            }
        )
    columns = [
        ("total cost (real money)", currency),
        ("shadow cost (not paid)", currency),
        ("saving", currency),
        ("saving", "%"),
        ("from trade", currency),
        ("from storage", currency),
        ("grid import", "kWh"),
        ("grid export", "kWh"),
        ("curtailment", "kWh"),
        ("own generation", "% of demand"),
        ("battery", "% of demand"),
        ("local trade", "% of demand"),
        ("grid", "% of demand"),
        ("peak import, all", "kW"),
        ("PV surplus local", "%"),
        ("peak reduction", "kW"),
        ("deferral value", f"{currency}/year"),
        ("local trade", "kWh"),
        ("flexibility", "kWh"),
    ]
    sections = []
    for c in cases:
        sec: dict[str, Any] = {
            "label": str(c.label),
            "anchor": f"case-{_slug(str(c.label))}",
            "file": str(c.file),
            "variant": c.variant or "base design",
            "description": getattr(c, "description", ""),
            "error": c.error,
            "href": _case_href(c),
            "chart": None,
            "facts": [],
            "link_text": "full report" if c.results is not None else "error.txt",
        }
        if c.results is not None and c.error is None:
            r = c.results
            axis = TimeAxis(_index(r), r.design.dt_h)
            sec["chart"] = _balance_chart(
                r,
                axis,
                "all participants",
                list(r.design.participants),
                f"{c.label}: energy balance of all participants",
            )
            sec["facts"] = [
                ("total cost (real money)", _money(r.total_cost, r.design.currency)),
                ("shadow cost", _money(r.shadow_cost, r.design.currency)),
                ("status", r.status),
                ("horizon", _horizon_text(r.design, axis.index)),
                ("design hash", r.design.digest()[:16] + "…"),
            ]
        sections.append(sec)
    files = list(dict.fromkeys(str(c.file) for c in cases))
    title = (
        ok[0].results.design.title
        if ok and len(files) == 1
        else f"Comparison of {len(files)} design files"
    )
    html = (
        _environment()
        .get_template("compare.html.j2")
        .render(
            title=title,
            files=files,
            n_cases=len(cases),
            n_failed=sum(1 for c in cases if c.error is not None or c.results is None),
            columns=columns,
            rows=rows,
            charts=charts,
            sections=sections,
            provenance=[
                ("command", command or "–"),
                ("rendered at", _rendered_at()),
                *[(f"version: {k}", v) for k, v in _versions()],
            ],
        )
    )
    return neutralise_bidi(html)
