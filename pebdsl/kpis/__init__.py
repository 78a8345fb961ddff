"""KPIs and the three values of a local market, computed from one solve's tables and bills.

Input: a `ScoreInput`: the design, the time-series tables (invert's `Dispatch`), the bills of
settle.py (or None), the objective and its shadow part, and each market's price rule.
Output: `score(inp)` returns a frozen `Scores`: `kpis` = {"design": {...}, "participants":
{name: {...}}, "blocks": {...}, "batteries": {...}, "markets": {...}} and `values` (the
reference-free parts of the three values); every key's unit is `unit_of(key)` (kWh, kW,
currency, currency/kWh, 1), `Scores.quantity` returns a value with its unit.
`three_values(results, reference)` returns the three values including the parts that need the
reference variant (peak reduction and the grid-investment deferral value).
Raises nothing: a quantity that cannot be formed (a share of zero demand) is None.

Definitions (docs/kpis.md has the full text, with formulas and the Lüth et al. 2018 mapping):
- energies are power x dt_h summed over the horizon; a missing time series counts as zero.
- self-sufficiency = 1 - grid import / demand (gross participant imports; per block: the import
  at the block connection, so trade inside the block counts as local).
- self-consumption = generation used inside the community / available generation, where the
  generation exported in a step is min(export, generation used) of that step; so
  self-consumption + exported share + curtailment share = 1.
- demand shares: each step's demand is covered in merit order by own generation, then own
  battery, then local purchases, then the grid (the residual). Local purchases that came from a
  shared battery (the shared batteries' share of the energy offered into the markets in that
  step) are moved to `battery`. The four shares therefore add up to exactly 1.
- peaks: per block the maximum import/export at its connection; for all blocks together the
  maximum of the per-step sum of block nets (plus participants outside any block).
- battery throughput = energy discharged; equivalent full cycles = throughput / usable capacity
  (capacity - min_soc).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from pebdsl.kpis.records import Quantity, ScoreInput, Scores, Tables, Valued, unit_of
from pebdsl.kpis.series import (
    EPS,
    SHARE_KEYS,
    FloatArray,
    Series,
    battery_block,
    bills_of,
    cycles_of,
    demand_allocation,
    energies,
    has_quantity,
    json_float,
    one_minus,
    peak_of,
    quantity,
    ratio_of,
    series_of,
    shares_of,
    soc_gain,
    usable_kwh,
)

ALL = "all"  # key of the all-blocks-together peak

__all__ = [
    "ALL",
    "SHARE_KEYS",
    "Quantity",
    "ScoreInput",
    "Scores",
    "Tables",
    "Valued",
    "demand_allocation",
    "quantity",
    "score",
    "three_values",
    "unit_of",
]


# --- the main entry point ---------------------------------------------------------------------


def _participants(
    inp: ScoreInput, s: Series, e: dict[str, FloatArray], bills: dict[str, dict[str, float]]
) -> dict[str, dict[str, Any]]:
    d = inp.design
    peak_imp, peak_exp = s.gi.max(axis=0, initial=0.0), s.ge.max(axis=0, initial=0.0)
    out: dict[str, dict[str, Any]] = {}
    for i, p in enumerate(s.names):
        own_batt = d.participants[p].battery
        thr = float(e["discharge"][i])
        bill = bills.get(p, {})
        out[p] = {
            "block": d.participants[p].block,
            "bill": json_float(bill.get("total")),
            "demand_kwh": float(e["demand"][i]),
            "generation_kwh": float(e["gen"][i]),
            "generation_used_kwh": float(e["used"][i]),
            "curtailment_kwh": float(e["curt"][i]),
            "curtailment_share": ratio_of(e["curt"][i], e["gen"][i]),
            "grid_import_kwh": float(e["gi"][i]),
            "grid_export_kwh": float(e["ge"][i]),
            "self_sufficiency": one_minus(e["gi"][i], e["demand"][i]),
            "self_consumption": ratio_of(e["used"][i] - e["exp_gen"][i], e["gen"][i]),
            "demand_shares": shares_of({k: e[f"alloc_{k}"][i] for k in SHARE_KEYS}, e["demand"][i]),
            "local_bought_kwh": float(e["bought"][i]),
            "local_sold_kwh": float(e["sold"][i]),
            "local_avg_buy_price": ratio_of(bill.get("local_purchases", 0.0), e["bought"][i]),
            "local_avg_sell_price": ratio_of(bill.get("local_sales", 0.0), e["sold"][i]),
            "peak_import_kw": float(peak_imp[i]),
            "peak_export_kw": float(peak_exp[i]),
            "battery_throughput_kwh": thr,
            "battery_cycles": cycles_of(thr, own_batt) if own_batt else None,
        }
    return out


def _blocks(
    inp: ScoreInput, s: Series, e: dict[str, FloatArray], bills: dict[str, dict[str, float]]
) -> dict[str, dict[str, Any]]:
    d = inp.design
    dt_h = d.dt_h
    names = s.names
    batteries = d.batteries()
    out: dict[str, dict[str, Any]] = {}
    for j, b in enumerate(d.blocks):
        idx = [names.index(p) for p in d.blocks[b].participants if p in names]
        members_gen = s.used[:, idx].sum(axis=1)
        blk = [k for k, bn in enumerate(s.bnames) if battery_block(d, batteries[bn]) == b]
        thr = float(s.b_dis[:, blk].sum() * dt_h)
        usable = sum(usable_kwh(batteries[s.bnames[k]]) for k in blk)
        demand = float(e["demand"][idx].sum())
        gen = float(e["gen"][idx].sum())
        imp_kwh = float(s.b_imp[:, j].sum() * dt_h)
        exp_gen_blk = float(np.minimum(s.b_exp[:, j], members_gen).sum() * dt_h)
        out[b] = {
            "participants": [names[i] for i in idx],
            "bill": json_float(sum(bills.get(names[i], {}).get("total", math.nan) for i in idx)),
            "demand_kwh": demand,
            "generation_kwh": gen,
            "curtailment_kwh": float(e["curt"][idx].sum()),
            "curtailment_share": ratio_of(float(e["curt"][idx].sum()), gen),
            "import_kwh": imp_kwh,
            "export_kwh": float(s.b_exp[:, j].sum() * dt_h),
            "self_sufficiency": one_minus(imp_kwh, demand),
            "self_consumption": ratio_of(float(e["used"][idx].sum()) - exp_gen_blk, gen),
            "demand_shares": shares_of(
                {k: float(e[f"alloc_{k}"][idx].sum()) for k in SHARE_KEYS}, demand
            ),
            "peak_import_kw": peak_of(s.b_imp[:, j]),
            "peak_export_kw": peak_of(s.b_exp[:, j]),
            "battery_throughput_kwh": thr,
            "battery_cycles": ratio_of(thr, usable) if blk else None,
        }
    return out


def _design(
    inp: ScoreInput,
    s: Series,
    e: dict[str, FloatArray],
    bills: dict[str, dict[str, float]],
    trade: tuple[float, float],
) -> dict[str, Any]:
    d = inp.design
    dt_h = d.dt_h
    demand = float(e["demand"].sum())
    gen = float(e["gen"].sum())
    # Community level: generation leaving the community in a step, up to what was generated.
    exp_gen_all = float(np.minimum(s.ge.sum(axis=1), s.used.sum(axis=1)).sum() * dt_h)
    trade_kwh, trade_value = trade
    b_thr = float(s.b_dis.sum() * dt_h)
    usable_all = sum(usable_kwh(b) for b in d.batteries().values())
    charge_kwh = float(s.b_charge.sum() * dt_h)
    return {
        "currency": d.currency,
        "total_cost": json_float(inp.total_cost),
        "shadow_cost": json_float(inp.shadow_cost),
        "objective": json_float(inp.objective),
        "total_bills": json_float(
            sum(bills[p].get("total", math.nan) for p in s.names if p in bills)
        )
        if bills
        else None,
        "grid_import_kwh": float(e["gi"].sum()),
        "grid_export_kwh": float(e["ge"].sum()),
        "demand_kwh": demand,
        "generation_kwh": gen,
        "generation_used_kwh": float(e["used"].sum()),
        "curtailment_kwh": float(e["curt"].sum()),
        "curtailment_share": ratio_of(float(e["curt"].sum()), gen),
        "self_sufficiency": one_minus(float(e["gi"].sum()), demand),
        "self_consumption": ratio_of(float(e["used"].sum()) - exp_gen_all, gen),
        "demand_shares": shares_of({k: float(e[f"alloc_{k}"].sum()) for k in SHARE_KEYS}, demand),
        "local_trade_kwh": trade_kwh,
        "local_trade_avg_price": ratio_of(trade_value, trade_kwh),
        "peak_import_kw": peak_of(s.net_all),
        "peak_export_kw": peak_of(-s.net_all),
        "battery_throughput_kwh": b_thr,
        "battery_charge_kwh": charge_kwh,
        "battery_losses_kwh": float(charge_kwh - b_thr - soc_gain(inp, s.bnames)),
        "battery_cycles": ratio_of(b_thr, usable_all) if s.bnames else None,
    }


def _values(inp: ScoreInput, s: Series, trade: tuple[float, float]) -> dict[str, Any]:
    """The reference-free parts of the three values."""
    d = inp.design
    dt_h = d.dt_h
    blocks = list(d.blocks)
    surplus = np.maximum(s.avail - s.load, 0.0)
    curt_s = np.minimum(s.curt, surplus)
    lost = np.minimum(surplus, s.curt + s.exported_gen)
    surplus_kwh = float(surplus.sum() * dt_h)
    local_kwh = float((surplus - lost).sum() * dt_h)
    flex_kwh, flex_value = _flexibility(inp, blocks)
    return {
        "pv_surplus_kwh": surplus_kwh,
        "pv_surplus_local_kwh": local_kwh,
        "pv_surplus_exported_kwh": float((lost - curt_s).sum() * dt_h),
        "pv_surplus_curtailed_kwh": float(curt_s.sum() * dt_h),
        "pv_surplus_local_share": ratio_of(local_kwh, surplus_kwh),
        "peak_import_kw": {
            **{b: peak_of(s.b_imp[:, j]) for j, b in enumerate(blocks)},
            ALL: peak_of(s.net_all),
        },
        "peak_export_kw": {
            **{b: peak_of(s.b_exp[:, j]) for j, b in enumerate(blocks)},
            ALL: peak_of(-s.net_all),
        },
        "reinforcement_cost_per_kw_year": d.dso.reinforcement_cost_per_kw_year,
        "local_trade_kwh": trade[0],
        "local_trade_value": trade[1],
        "flexibility_kwh": flex_kwh,
        "flexibility_value": flex_value,
    }


def score(inp: ScoreInput) -> Scores:
    """The KPIs and the reference-free parts of the three values of one solve."""
    d = inp.design
    s = series_of(inp)
    e = energies(inp, s)
    bills = bills_of(inp, s.names)
    trade_kwh, trade_value, by_market = _markets(inp)
    batteries = d.batteries()
    batteries_kpis = {
        bn: {
            "owner": batteries[bn].owner,
            "block": battery_block(d, batteries[bn]),
            "capacity_kwh": batteries[bn].capacity_kwh,
            "charge_kwh": float(s.b_charge[:, k].sum() * d.dt_h),
            "throughput_kwh": float(s.b_dis[:, k].sum() * d.dt_h),
            "cycles": cycles_of(float(s.b_dis[:, k].sum() * d.dt_h), batteries[bn]),
        }
        for k, bn in enumerate(s.bnames)
    }
    kpis = {
        "design": _design(inp, s, e, bills, (trade_kwh, trade_value)),
        "participants": _participants(inp, s, e, bills),
        "blocks": _blocks(inp, s, e, bills),
        "batteries": batteries_kpis,
        "markets": by_market,
    }
    return Scores(kpis, _values(inp, s, (trade_kwh, trade_value)))


def three_values(results: Valued, reference: Valued | None) -> dict[str, Any]:
    """The three values of MODEL.md for `results`, against `reference` (None: no reference).

    1. pv_surplus_local_share: of the generation above each owner's own demand per step, the
       share used inside the community (traded, stored, shifted) rather than exported/curtailed.
    2. peak_reduction_kw: reference peak import minus this case's, for all blocks together (the
       coincident peak the upstream grid must carry), and per block connection in
       peak_reduction_by_block_kw. deferral_value = peak_reduction_kw x reinforcement cost
       (currency/kW/year): an ANNUAL value (currency per year) of the reinforcement the DSO can
       defer if the reduction holds; deferral_value_horizon is the same pro rata to the horizon.
       Negative when the case raises the peak.
    3. local_trade_kwh / local_trade_value (kWh delivered in local markets, valued at the local
       price) and flexibility_kwh / flexibility_value (import above the DSO's limits avoided,
       valued at the price the DSO pays).
    """
    v = dict(results.values)
    peaks: dict[str, float] = v["peak_import_kw"]
    out: dict[str, Any] = {
        "pv_surplus_local_share": v["pv_surplus_local_share"],
        "pv_surplus_kwh": v["pv_surplus_kwh"],
        "pv_surplus_local_kwh": v["pv_surplus_local_kwh"],
        "peak_import_kw": peaks,
        "peak_reduction_kw": None,
        "peak_reduction_by_block_kw": None,
        "deferral_value": None,
        "deferral_value_horizon": None,
        "deferral_unit": f"{results.design.currency}/year",
        "local_trade_kwh": v["local_trade_kwh"],
        "local_trade_value": v["local_trade_value"],
        "flexibility_kwh": v["flexibility_kwh"],
        "flexibility_value": v["flexibility_value"],
    }
    if reference is None:
        return out
    ref_peaks: dict[str, float] = reference.values["peak_import_kw"]
    reduction = {k: ref_peaks[k] - peaks[k] for k in peaks if k in ref_peaks}
    cost = results.design.dso.reinforcement_cost_per_kw_year
    red_all = reduction.get(ALL)
    out["peak_reduction_kw"] = red_all
    out["peak_reduction_by_block_kw"] = {k: x for k, x in reduction.items() if k != ALL}
    if red_all is not None:
        out["deferral_value"] = red_all * cost
        out["deferral_value_horizon"] = red_all * cost * results.design.time.duration_h / 8760.0
    return out


# --- helpers ------------------------------------------------------------------------------------


def _markets(inp: ScoreInput) -> tuple[float, float, dict[str, dict[str, Any]]]:
    """Local trade of local energy (kWh delivered), its value at local prices, and per-market
    figures (all deliveries, of which local energy and resold grid energy)."""
    d = inp.design
    mnames = list(d.markets)
    mts = inp.tables.markets_ts
    if not mnames or not len(mts.index):
        return 0.0, 0.0, {}
    dt_h = d.dt_h
    vol = quantity(mts, "volume", mnames)
    # Only deliveries of local energy count as local trade (grid energy resold is not).
    lvol = quantity(mts, "local_volume", mnames) if has_quantity(mts, "local_volume") else vol
    price = quantity(mts, "price", mnames)
    loss = quantity(mts, "loss", mnames)
    fees = quantity(mts, "fees", mnames)
    vol_kwh = vol.sum(axis=0) * dt_h
    lvol_kwh = lvol.sum(axis=0) * dt_h
    value = (vol * price).sum(axis=0) * dt_h
    lvalue = (lvol * price).sum(axis=0) * dt_h
    out: dict[str, dict[str, Any]] = {}
    for k, m in enumerate(mnames):
        traded = vol[:, k] > EPS
        out[m] = {
            "type": d.markets[m].type,
            # How degenerate prices were chosen (invert/flows.py `price_rules`; docs/model.md).
            "price_rule": inp.price_rules.get(m, "dual"),
            "volume_kwh": float(vol_kwh[k]),
            "local_energy_kwh": float(lvol_kwh[k]),
            "resold_grid_kwh": float(max(vol_kwh[k] - lvol_kwh[k], 0.0)),
            "value": float(value[k]),
            "avg_price": ratio_of(float(value[k]), float(vol_kwh[k])),
            "min_price": float(price[traded, k].min()) if traded.any() else None,
            "max_price": float(price[traded, k].max()) if traded.any() else None,
            "loss_kwh": float(loss[:, k].sum() * dt_h),
            # fees is a currency-per-hour rate in markets_ts: x dt_h gives currency per step.
            "fees": float(fees[:, k].sum() * dt_h),
        }
    return float(lvol_kwh.sum()), float(lvalue.sum()), out


def _flexibility(inp: ScoreInput, blocks: Sequence[str]) -> tuple[float, float]:
    bts = inp.tables.blocks_ts
    if not blocks or not len(bts.index):
        return 0.0, 0.0
    dt_h = inp.design.dt_h
    flex = quantity(bts, "flexibility", blocks)
    paid = quantity(bts, "flexibility_paid", blocks)
    return float(flex.sum() * dt_h), float((flex * paid).sum() * dt_h)
