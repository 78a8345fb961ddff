"""The comparison page of many solves: one row and one colour per case (a variant of a file).

Input: a `Comparison` (its `.cases`, each with `.label`, `.file`, `.variant`, `.summary`,
`.results` and `.error`) and the command line. Output: `render_compare(...) -> str`, one
self-contained HTML document: the verdict (a ranking by real cost and one sentence per case on
what it buys and costs, pebdsl.study.verdict), summary charts across the cases (the cost chart
labels each bar with the case's own cost and saving), the table of key figures, and one
section per case with its energy balance and a link to its own report (or its error).
Raises nothing for well-formed cases; a failed case shows its error.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from markupsafe import Markup

from pebdsl.present.report import charts as ch
from pebdsl.present.report.barchart import BarSeries, bar_chart
from pebdsl.present.report.charts import OKABE_ITO, TimeAxis, fmt_num
from pebdsl.present.report.common import (
    C_BATT,
    C_EXPORT,
    C_GEN,
    C_IMPORT,
    C_LOCAL,
    _environment,
    _horizon_text,
    _index,
    _money,
    _num,
    _pct,
    _rendered_at,
    _slug,
    _versions,
)
from pebdsl.present.report.figures import _balance_chart
from pebdsl.safetext import neutralise_bidi
from pebdsl.study.verdict import amount, verdict


def _s(summary: Mapping[str, Any], key: str, sub: str | None = None) -> float | None:
    v = summary.get(key)
    if sub is not None:
        v = v.get(sub) if isinstance(v, Mapping) else None
    return _num(v)


def _case_href(case: Any) -> str:
    """Relative link from compare.html to a case's own report: `write_comparison`
    (present.studies) puts each case's outputs in <out>/<file stem>/<label>/ next to
    <out>/compare.html."""
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
        charts.append(_cost_chart(labels, sums, currency))
        charts.append(_share_chart(labels, sums))
        peak = _peaks_chart(labels, sums)
        if peak is not None:
            charts.append(peak)
        charts += _value_charts(labels, sums)
    rows = [_row(c) for c in cases]
    ranking = _ranking(cases, len(files_of(cases)) > 1)
    columns = _columns(currency)
    sections = [_section(c) for c in cases]
    files = files_of(cases)
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
            ranking=ranking,
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


def files_of(cases: list[Any]) -> list[str]:
    """The files of the cases, in the order they first appear."""
    return list(dict.fromkeys(str(c.file) for c in cases))


def _ranking(cases: list[Any], several_files: bool) -> list[dict[str, Any]]:
    """The verdict (pebdsl.study.verdict): rank, case, its real cost and why, one per case."""
    return [
        {
            "rank": v.rank,
            "label": f"{Path(v.file).stem}/{v.label}" if several_files else v.label,
            "anchor": f"case-{_slug(v.label)}",
            "cost": "–" if v.total_cost is None else f"{amount(v.total_cost)} {v.currency}",
            "text": v.text,
            "reference": v.is_reference,
        }
        for v in verdict(cases)
    ]


def _cost_chart(labels: list[str], sums: list[Mapping[str, Any]], currency: str) -> Markup:
    """Total cost per case, stacked with its saving against the reference (trade, storage,
    other). Each bar is labelled with the case's own cost and saving: the stacked total is the
    reference's cost, the same for every bar, so it says nothing about the case."""
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
    return bar_chart(
        labels,
        cost_series,
        stacked=True,
        title="Total cost by variant, with the saving against the reference",
        x_label=f"{currency} over the horizon: cost + saving = the reference's cost",
        value_digits=2,
        desc="Each bar is a variant's total cost, extended by its saving against the "
        "reference, split into the part from trade and the part from storage; the label "
        "gives the variant's own cost and saving.",
        row_labels=[_cost_label(c, sv, currency) for c, sv in zip(costs, saving, strict=True)],
    )


def _cost_label(cost: float | None, saving: float | None, currency: str) -> str:
    """'cost 38.11 GBP · saves 0.00222' (or 'costs 83.80 more'; no saving without a reference)."""
    if cost is None:
        return "n/a"
    text = f"cost {amount(cost)} {currency}".rstrip()
    if saving is None or abs(saving) < 1e-9:
        return text
    if saving > 0:
        return f"{text} · saves {amount(saving)}"
    return f"{text} · {amount(-saving)} more"


def _share_chart(labels: list[str], sums: list[Mapping[str, Any]]) -> Markup:
    """How demand is met per case: own generation, battery, local trade, grid."""
    share_keys = [
        ("own_generation", "own generation", C_GEN),
        ("battery", "battery", C_BATT),
        ("local_trade", "local trade", C_LOCAL),
        ("grid", "grid", C_IMPORT),
    ]
    return bar_chart(
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


def _peaks_chart(labels: list[str], sums: list[Mapping[str, Any]]) -> Markup | None:
    """Peak import per block connection (and all blocks together) per case, if any."""
    blocks: list[str] = []
    for s in sums:
        for b in s.get("peak_import_kw") or {}:
            if b not in blocks:
                blocks.append(str(b))
    if not blocks:
        return None
    blocks = [b for b in blocks if b != "all"] + (["all"] if "all" in blocks else [])
    return bar_chart(
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


def _value_charts(labels: list[str], sums: list[Mapping[str, Any]]) -> list[Markup]:
    """The three values per case: PV surplus balanced locally, peak reduction, local energy
    products used."""
    charts: list[Markup] = []
    charts.append(
        bar_chart(
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
        bar_chart(
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
        bar_chart(
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
    return charts


def _row(c: Any) -> dict[str, Any]:
    """The table row of one case (columns as `_columns`)."""
    s = c.summary or {}
    vals = s.get("values") or {}
    return {
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


def _columns(currency: str) -> list[tuple[str, str]]:
    """(heading, unit) of each column of the comparison table."""
    return [
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


def _section(c: Any) -> dict[str, Any]:
    """The section of one case: its facts and energy balance, or its error."""
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
        if st := (c.summary or {}).get("stochastic"):  # two-stage: expectations, EVPI, VSS
            cur = r.design.currency
            sec["facts"][:2] = [
                ("expected total cost (real money)", _money(c.summary["total_cost"], cur)),
                ("scenarios", f"{st['scenarios']} ({st['method']}); the chart: the likeliest"),
                ("EVPI (value of perfect information)", _money(st["evpi"], cur)),
                ("VSS (value of the stochastic solution)", _money(st["vss"], cur)),
            ]
    return sec
