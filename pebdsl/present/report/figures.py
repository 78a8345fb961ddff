"""The figures of one solve's report, built from `Results`: energy balance, state of charge,
block connection, local prices, trade heat maps, bills, peaks and DSO link flows.

Input: `Results` (time series, trades, bills, values), optionally a reference's, and the page's
`TimeAxis`. Output: `Markup` SVG charts (None where the design has nothing to show), and the
peak import per block (`_peaks`, also used by the headline). Raises nothing for a well-formed
`Results`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from markupsafe import Markup

from pebdsl.invert.trace import OTHERS
from pebdsl.present.report import charts as ch
from pebdsl.present.report.barchart import BarSeries, bar_chart
from pebdsl.present.report.charts import OKABE_ITO, TimeAxis, fmt_num
from pebdsl.present.report.common import (
    C_BATT,
    C_EXPORT,
    C_GEN,
    C_IMPORT,
    C_LOAD,
    C_LOCAL,
    C_REF,
    C_THIS,
    _col,
    _groups,
    _has,
    _index,
    _num,
    _sum,
    _variant_name,
)
from pebdsl.present.report.heatmap import heatmap_chart
from pebdsl.present.report.timecharts import Layer, time_line_chart, time_stack_chart

if TYPE_CHECKING:
    from pebdsl.results import Results

# OTHERS: the label trade tracing gives the sellers and buyers it sums into one row and
# column of a market's trades table (invert/trace.py).


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
    return time_stack_chart(
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
    return time_line_chart(
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
    return time_stack_chart(
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
    return time_line_chart(
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
            heatmap_chart(
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
    return bar_chart(
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
    return bar_chart(
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
    return time_line_chart(
        axis,
        lines,
        title="Flows on DSO links between blocks",
        y_label="net flow (kW)",
        desc="Net flow on each DSO link, positive from the first named block to the second.",
        height=260,
    )
