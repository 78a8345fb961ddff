"""The HTML report of one solve: headline cards, the three values, per-block figures, markets,
bills (and by customer class, present/report/classes.py), KPI tables, the formulation, the
design source and provenance.

Input: `Results`, optionally the `Results` of a reference variant, and the command line that
produced them. Output: `render_report(...) -> str`, one self-contained HTML document (the
conventions are in `pebdsl.present.report`). Raises nothing for a well-formed `Results`: the
formulation (`pebdsl.present.explain`) is imported lazily and, if it fails, the page shows the
error text instead.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from pebdsl.front.lexer import highlight_lines
from pebdsl.present.report import charts as ch
from pebdsl.present.report.charts import TimeAxis, fmt_num
from pebdsl.present.report.classes import class_table
from pebdsl.present.report.common import (
    _col,
    _environment,
    _groups,
    _horizon_text,
    _index,
    _money,
    _num,
    _pct,
    _plural,
    _rendered_at,
    _slug,
    _source_date_epoch,
    _sum,
    _variant_name,
    _versions,
)
from pebdsl.present.report.figures import (
    _balance_chart,
    _bills_chart,
    _connection_chart,
    _link_chart,
    _peak_chart,
    _peaks,
    _price_chart,
    _soc_chart,
    _trade_charts,
)
from pebdsl.present.report.kpi_tables import _design_kpi_rows, _entity_tables
from pebdsl.safetext import neutralise_bidi

if TYPE_CHECKING:
    from pebdsl.design import Design
    from pebdsl.results import Results


def _explain(design: Design, ir: Any = None) -> tuple[str, str | None]:
    """The formulation text, or ("", error text) when it cannot be produced. `ir`: the solved
    model (`Results.ir`), so the design is not lowered a second time."""
    try:
        from pebdsl.present.explain import explain
    except Exception as exc:  # the module may not exist in a partial install
        return "", f"{type(exc).__name__}: {exc}"
    try:
        return explain(design, ir), None
    except Exception as exc:
        return "", f"{type(exc).__name__}: {exc}"


@dataclass
class SourceView:
    """A design source file as numbered lines for the report's source section."""

    path: str
    lines: list[tuple[int, str]]


def _sources(design: Design) -> list[SourceView]:
    return [
        SourceView(s.path, [(n, Markup(h)) for n, h in enumerate(highlight_lines(s.text), 1)])
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
    """One headline figure: label, value, a note below it and a tone (good/bad)."""

    label: str
    value: str
    note: str = ""
    tone: str = ""  # "good" | "bad" | ""


def _headline(results: Results, reference: Results | None, values: Mapping[str, Any]) -> dict:
    """The headline: cost cards (with the saving against the reference) and the three values."""
    cards, saving, saving_pct = _cost_cards(results, reference)
    values_cards = _value_cards(results, values)
    return {"cards": cards, "values": values_cards, "saving": saving, "saving_pct": saving_pct}


def _cost_cards(
    results: Results, reference: Results | None
) -> tuple[list[Card], float | None, float | None]:
    """Total and shadow cost, the saving against the reference (absolute and as a share, or
    None), the savings from trade and storage, and self-sufficiency."""
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
    for path, inv in results.investments.items():
        # A size the LP chose (`invest(...)`): shown with what it costs over the horizon.
        limit = d.investments[path].max_value if path in d.investments else None
        cards.append(
            Card(
                f"size chosen: {path}",
                f"{fmt_num(float(inv['value']), 2)} {inv['unit']}",
                f"costs {_money(float(inv['cost']), cur)} over the horizon, in the total cost"
                + (
                    f" (invest, at most {fmt_num(limit)} {inv['unit']})"
                    if limit is not None
                    else ""
                ),
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
    return cards, saving, saving_pct


def _value_cards(results: Results, values: Mapping[str, Any]) -> list[Card]:
    """The three values: PV surplus balanced locally, grid investment deferred (peak import
    reduction), local energy products used."""
    d = results.design
    cur = d.currency
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
    return [v1, v2, v3]


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
    formulation, formulation_error = _explain(d, results.ir)
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
        "class_table": class_table(results),
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
