"""KPIs and the three values of a local market, computed from one solve's `Results`.

Input: a `Results` with its time series filled in (and, when available, `bills` from settle.py).
Output: `score(results)` fills `results.kpis` = {"design": {...}, "participants": {name: {...}},
"blocks": {name: {...}}} and `results.values` (the reference-free parts of the three values);
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
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

if TYPE_CHECKING:
    from pebdsl.results import Results

FloatArray = npt.NDArray[np.float64]

SHARE_KEYS = ("own_generation", "battery", "local_trade", "grid")
ALL = "all"  # key of the all-blocks-together peak
_EPS = 1e-9  # kWh below which a denominator counts as zero (solver noise)


# --- time-series access ------------------------------------------------------------------------


def quantity(ts: pd.DataFrame, name: str, entities: Sequence[str]) -> FloatArray:
    """The (steps x entities) array of one quantity; columns in `entities` order, zeros where the
    table has no such column (an entity without that asset)."""
    n = len(ts.index)
    if not len(entities):
        return np.zeros((n, 0))
    cols = ts.columns
    if (
        not isinstance(cols, pd.MultiIndex)
        or "quantity" not in cols.names
        or name not in cols.get_level_values("quantity")
    ):
        return np.zeros((n, len(entities)))
    sub = ts.xs(name, axis=1, level="quantity")
    sub = sub.reindex(columns=list(entities))
    return np.nan_to_num(sub.to_numpy(dtype=float, na_value=np.nan), nan=0.0)


def _f(x: float | np.floating[Any] | None) -> float | None:
    """A JSON-safe float: None for None / NaN / inf."""
    if x is None:
        return None
    v = float(x)
    return v if math.isfinite(v) else None


def _ratio(num: float, den: float) -> float | None:
    return float(num) / float(den) if abs(den) > _EPS else None


def _peak(x: FloatArray) -> float:
    """The maximum of a series, never below zero (a block that never imports has peak 0)."""
    return float(max(0.0, x.max())) if x.size else 0.0


# --- allocation of demand to sources ----------------------------------------------------------


def demand_allocation(
    load_kw: FloatArray,
    gen_used_kw: FloatArray,
    discharge_kw: FloatArray,
    bought_kw: FloatArray,
    shared_fraction: FloatArray,
) -> dict[str, FloatArray]:
    """Split each participant's served demand (steps x participants, kW) into the four sources.

    Merit order: own generation first (it is free and on site), then the own battery, then local
    purchases, then the grid as the residual, so the four parts add up to the demand exactly.
    `shared_fraction` (per step) is the share of local deliveries that came out of shared
    batteries; that part of the local purchases is counted as `battery`.
    """
    load = np.maximum(load_kw, 0.0)
    own = np.minimum(load, np.maximum(gen_used_kw, 0.0))
    rest = load - own
    batt = np.minimum(rest, np.maximum(discharge_kw, 0.0))
    rest = rest - batt
    local = np.minimum(rest, np.maximum(bought_kw, 0.0))
    grid = rest - local
    from_shared = local * shared_fraction[:, None]
    return {
        "own_generation": own,
        "battery": batt + from_shared,
        "local_trade": local - from_shared,
        "grid": grid,
    }


def _shares(parts_kwh: dict[str, float], demand_kwh: float) -> dict[str, float | None]:
    return {k: _ratio(parts_kwh[k], demand_kwh) for k in SHARE_KEYS}


# --- the main entry point ---------------------------------------------------------------------


def score(results: Results) -> None:
    """Fill `results.kpis` and `results.values` (reference-free parts of the three values)."""
    d = results.design
    dt_h = d.dt_h
    names = list(d.participants)
    pts = results.participants_ts
    n = len(pts.index) if len(pts.index) else d.n_steps

    def q(name: str) -> FloatArray:
        return quantity(pts, name, names) if len(pts.index) else np.zeros((n, len(names)))

    load = q("load")
    pv, wind = q("pv"), q("wind")
    avail = pv + wind
    if not avail.any():
        # Results built without the available-profile columns: take them from the design.
        avail = (
            np.column_stack([d.participants[p].generation_kw(n) for p in names])
            if names
            else np.zeros((n, 0))
        )
    used = q("generation_used")
    curt = q("curtailment")
    if not curt.any():
        curt = np.maximum(avail - used, 0.0)
    gi, ge = q("grid_import"), q("grid_export")
    charge, discharge = q("battery_charge"), q("battery_discharge")
    bought, sold = q("local_bought"), q("local_sold")
    # Local purchases that carried local energy (pipeline.local_labels); grid energy passed on
    # through a market is grid energy in the demand shares.
    bought_local = q("local_bought_local") if _has(pts, "local_bought_local") else bought

    # Batteries (private and shared) from their own table.
    batteries = d.batteries()
    bnames = list(batteries)
    bts = results.batteries_ts
    b_charge = quantity(bts, "charge", bnames) if len(bts.index) else np.zeros((n, len(bnames)))
    b_dis = quantity(bts, "discharge", bnames) if len(bts.index) else np.zeros((n, len(bnames)))
    shared = [i for i, b in enumerate(bnames) if batteries[b].owner is None]
    shared_dis = b_dis[:, shared].sum(axis=1) if shared else np.zeros(n)
    offered = shared_dis + sold.sum(axis=1)
    shared_fraction = np.divide(
        shared_dis, offered, out=np.zeros(n), where=offered > _EPS * max(dt_h, 1.0)
    )
    alloc = demand_allocation(load, used, discharge, bought_local, shared_fraction)

    # Generation exported in a step: what left through the grid, up to the generation used.
    exported_gen = np.minimum(ge, used)

    # Blocks: nets at the connections; participants outside any block count on their own.
    blocks = list(d.blocks)
    blts = results.blocks_ts
    b_imp = quantity(blts, "import", blocks) if len(blts.index) else np.zeros((n, len(blocks)))
    b_exp = quantity(blts, "export", blocks) if len(blts.index) else np.zeros((n, len(blocks)))
    if blocks and not len(blts.index):
        # No block table: a block's net is its members' net (no inter-block exchange known).
        for j, b in enumerate(blocks):
            idx = [names.index(p) for p in d.blocks[b].participants if p in names]
            net = (gi[:, idx] - ge[:, idx]).sum(axis=1)
            b_imp[:, j], b_exp[:, j] = np.maximum(net, 0.0), np.maximum(-net, 0.0)
    loose = [i for i, p in enumerate(names) if d.participants[p].block not in d.blocks]
    net_all = (b_imp - b_exp).sum(axis=1) + (gi[:, loose] - ge[:, loose]).sum(axis=1)

    bills = _bills(results, names)

    # --- participants -----------------------------------------------------------------------
    def kwh(x: FloatArray) -> FloatArray:
        """Per-column energy over the horizon (kWh)."""
        return x.sum(axis=0) * dt_h

    e = {
        "demand": kwh(load),
        "gen": kwh(avail),
        "used": kwh(used),
        "curt": kwh(curt),
        "gi": kwh(gi),
        "ge": kwh(ge),
        "exp_gen": kwh(exported_gen),
        "bought": kwh(bought),
        "sold": kwh(sold),
        "charge": kwh(charge),
        "discharge": kwh(discharge),
    }
    alloc_kwh = {k: kwh(v) for k, v in alloc.items()}
    peak_imp, peak_exp = gi.max(axis=0, initial=0.0), ge.max(axis=0, initial=0.0)

    participants: dict[str, dict[str, Any]] = {}
    for i, p in enumerate(names):
        own_batt = d.participants[p].battery
        thr = float(e["discharge"][i])
        bill = bills.get(p, {})
        participants[p] = {
            "block": d.participants[p].block,
            "bill": _f(bill.get("total")),
            "demand_kwh": float(e["demand"][i]),
            "generation_kwh": float(e["gen"][i]),
            "generation_used_kwh": float(e["used"][i]),
            "curtailment_kwh": float(e["curt"][i]),
            "curtailment_share": _ratio(e["curt"][i], e["gen"][i]),
            "grid_import_kwh": float(e["gi"][i]),
            "grid_export_kwh": float(e["ge"][i]),
            "self_sufficiency": _one_minus(e["gi"][i], e["demand"][i]),
            "self_consumption": _ratio(e["used"][i] - e["exp_gen"][i], e["gen"][i]),
            "demand_shares": _shares({k: alloc_kwh[k][i] for k in SHARE_KEYS}, e["demand"][i]),
            "local_bought_kwh": float(e["bought"][i]),
            "local_sold_kwh": float(e["sold"][i]),
            "local_avg_buy_price": _ratio(bill.get("local_purchases", 0.0), e["bought"][i]),
            "local_avg_sell_price": _ratio(bill.get("local_sales", 0.0), e["sold"][i]),
            "peak_import_kw": float(peak_imp[i]),
            "peak_export_kw": float(peak_exp[i]),
            "battery_throughput_kwh": thr,
            "battery_cycles": _cycles(thr, own_batt) if own_batt else None,
        }

    # --- blocks -------------------------------------------------------------------------------
    blocks_kpis: dict[str, dict[str, Any]] = {}
    for j, b in enumerate(blocks):
        idx = [names.index(p) for p in d.blocks[b].participants if p in names]
        members_gen = used[:, idx].sum(axis=1)
        blk_batts = [k for k, bn in enumerate(bnames) if _battery_block(d, batteries[bn]) == b]
        thr = float(b_dis[:, blk_batts].sum() * dt_h)
        usable = sum(_usable(batteries[bnames[k]]) for k in blk_batts)
        demand = float(e["demand"][idx].sum())
        gen = float(e["gen"][idx].sum())
        imp_kwh = float(b_imp[:, j].sum() * dt_h)
        exp_gen_blk = float(np.minimum(b_exp[:, j], members_gen).sum() * dt_h)
        blocks_kpis[b] = {
            "participants": [names[i] for i in idx],
            "bill": _f(sum(bills.get(names[i], {}).get("total", math.nan) for i in idx)),
            "demand_kwh": demand,
            "generation_kwh": gen,
            "curtailment_kwh": float(e["curt"][idx].sum()),
            "curtailment_share": _ratio(float(e["curt"][idx].sum()), gen),
            "import_kwh": imp_kwh,
            "export_kwh": float(b_exp[:, j].sum() * dt_h),
            "self_sufficiency": _one_minus(imp_kwh, demand),
            "self_consumption": _ratio(float(e["used"][idx].sum()) - exp_gen_blk, gen),
            "demand_shares": _shares(
                {k: float(alloc_kwh[k][idx].sum()) for k in SHARE_KEYS}, demand
            ),
            "peak_import_kw": _peak(b_imp[:, j]),
            "peak_export_kw": _peak(b_exp[:, j]),
            "battery_throughput_kwh": thr,
            "battery_cycles": _ratio(thr, usable) if blk_batts else None,
        }

    # --- design -------------------------------------------------------------------------------
    demand = float(e["demand"].sum())
    gen = float(e["gen"].sum())
    used_sum = used.sum(axis=1)
    # Community level: generation leaving the community in a step, up to what was generated.
    exp_gen_all = float(np.minimum(ge.sum(axis=1), used_sum).sum() * dt_h)
    trade_kwh, trade_value, by_market = _markets(results)
    b_thr = float(b_dis.sum() * dt_h)
    usable_all = sum(_usable(b) for b in batteries.values())
    design_kpis: dict[str, Any] = {
        "currency": d.currency,
        "total_cost": _f(results.total_cost),
        "shadow_cost": _f(results.shadow_cost),
        "objective": _f(results.objective),
        "total_bills": _f(sum(bills[p].get("total", math.nan) for p in names if p in bills))
        if bills
        else None,
        "grid_import_kwh": float(e["gi"].sum()),
        "grid_export_kwh": float(e["ge"].sum()),
        "demand_kwh": demand,
        "generation_kwh": gen,
        "generation_used_kwh": float(e["used"].sum()),
        "curtailment_kwh": float(e["curt"].sum()),
        "curtailment_share": _ratio(float(e["curt"].sum()), gen),
        "self_sufficiency": _one_minus(float(e["gi"].sum()), demand),
        "self_consumption": _ratio(float(e["used"].sum()) - exp_gen_all, gen),
        "demand_shares": _shares({k: float(alloc_kwh[k].sum()) for k in SHARE_KEYS}, demand),
        "local_trade_kwh": trade_kwh,
        "local_trade_avg_price": _ratio(trade_value, trade_kwh),
        "peak_import_kw": _peak(net_all),
        "peak_export_kw": _peak(-net_all),
        "battery_throughput_kwh": b_thr,
        "battery_charge_kwh": float(b_charge.sum() * dt_h),
        "battery_losses_kwh": float(b_charge.sum() * dt_h - b_thr - _soc_gain(results, bnames)),
        "battery_cycles": _ratio(b_thr, usable_all) if bnames else None,
    }
    batteries_kpis = {
        bn: {
            "owner": batteries[bn].owner,
            "block": _battery_block(d, batteries[bn]),
            "capacity_kwh": batteries[bn].capacity_kwh,
            "charge_kwh": float(b_charge[:, k].sum() * dt_h),
            "throughput_kwh": float(b_dis[:, k].sum() * dt_h),
            "cycles": _cycles(float(b_dis[:, k].sum() * dt_h), batteries[bn]),
        }
        for k, bn in enumerate(bnames)
    }
    results.kpis = {
        "design": design_kpis,
        "participants": participants,
        "blocks": blocks_kpis,
        "batteries": batteries_kpis,
        "markets": by_market,
    }

    # --- the reference-free parts of the three values ------------------------------------------
    surplus = np.maximum(avail - load, 0.0)
    curt_s = np.minimum(curt, surplus)
    lost = np.minimum(surplus, curt + exported_gen)
    surplus_kwh = float(surplus.sum() * dt_h)
    local_kwh = float((surplus - lost).sum() * dt_h)
    flex_kwh, flex_value = _flexibility(results, blocks)
    results.values = {
        "pv_surplus_kwh": surplus_kwh,
        "pv_surplus_local_kwh": local_kwh,
        "pv_surplus_exported_kwh": float((lost - curt_s).sum() * dt_h),
        "pv_surplus_curtailed_kwh": float(curt_s.sum() * dt_h),
        "pv_surplus_local_share": _ratio(local_kwh, surplus_kwh),
        "peak_import_kw": {
            **{b: _peak(b_imp[:, j]) for j, b in enumerate(blocks)},
            ALL: _peak(net_all),
        },
        "peak_export_kw": {
            **{b: _peak(b_exp[:, j]) for j, b in enumerate(blocks)},
            ALL: _peak(-net_all),
        },
        "reinforcement_cost_per_kw_year": d.dso.reinforcement_cost_per_kw_year,
        "local_trade_kwh": trade_kwh,
        "local_trade_value": trade_value,
        "flexibility_kwh": flex_kwh,
        "flexibility_value": flex_value,
    }


def three_values(results: Results, reference: Results | None) -> dict[str, Any]:
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
       valued at the flexibility price).
    """
    if not results.values:
        score(results)
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
    if not reference.values:
        score(reference)
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


def _one_minus(num: float, den: float) -> float | None:
    r = _ratio(num, den)
    return None if r is None else 1.0 - r


def _usable(b: Any) -> float:
    return max(float(b.capacity_kwh) - float(b.min_soc_kwh), 0.0)


def _cycles(throughput_kwh: float, battery: Any) -> float | None:
    return _ratio(throughput_kwh, _usable(battery))


def _battery_block(d: Any, b: Any) -> str | None:
    if b.owner is not None:
        return d.participants[b.owner].block if b.owner in d.participants else None
    return b.block


def _soc_gain(results: Results, bnames: Sequence[str]) -> float:
    """Energy left in the batteries at the end minus at the start (kWh), for the loss account."""
    if not bnames or not len(results.batteries_ts.index):
        return 0.0
    soc = quantity(results.batteries_ts, "soc", bnames)
    initial = np.array([results.design.batteries()[b].initial_kwh for b in bnames])
    return float((soc[-1] - initial).sum())


def _bills(results: Results, names: Iterable[str]) -> dict[str, dict[str, float]]:
    b = results.bills
    if b is None or b.empty:
        return {}
    rows = b.reindex([p for p in names if p in b.index])
    return {str(k): {str(c): float(v) for c, v in row.items()} for k, row in rows.iterrows()}


def _markets(results: Results) -> tuple[float, float, dict[str, dict[str, Any]]]:
    """Local trade of local energy (kWh delivered), its value at local prices, and per-market
    figures (all deliveries, of which local energy and resold grid energy)."""
    d = results.design
    mnames = list(d.markets)
    mts = results.markets_ts
    if not mnames or not len(mts.index):
        return 0.0, 0.0, {}
    dt_h = d.dt_h
    vol = quantity(mts, "volume", mnames)
    # Only deliveries of local energy count as local trade (grid energy resold is not).
    lvol = quantity(mts, "local_volume", mnames) if _has(mts, "local_volume") else vol
    price = quantity(mts, "price", mnames)
    loss = quantity(mts, "loss", mnames)
    fees = quantity(mts, "fees", mnames)
    vol_kwh = vol.sum(axis=0) * dt_h
    lvol_kwh = lvol.sum(axis=0) * dt_h
    value = (vol * price).sum(axis=0) * dt_h
    lvalue = (lvol * price).sum(axis=0) * dt_h
    out: dict[str, dict[str, Any]] = {}
    for k, m in enumerate(mnames):
        traded = vol[:, k] > _EPS
        out[m] = {
            "type": d.markets[m].type,
            # How degenerate prices were chosen (pipeline._price_rules; docs/model.md).
            "price_rule": results.extras.get("price_rule", {}).get(m, "dual"),
            "volume_kwh": float(vol_kwh[k]),
            "local_energy_kwh": float(lvol_kwh[k]),
            "resold_grid_kwh": float(max(vol_kwh[k] - lvol_kwh[k], 0.0)),
            "value": float(value[k]),
            "avg_price": _ratio(float(value[k]), float(vol_kwh[k])),
            "min_price": float(price[traded, k].min()) if traded.any() else None,
            "max_price": float(price[traded, k].max()) if traded.any() else None,
            "loss_kwh": float(loss[:, k].sum() * dt_h),
            # fees is a currency-per-hour rate in markets_ts: x dt_h gives currency per step.
            "fees": float(fees[:, k].sum() * dt_h),
        }
    return float(lvol_kwh.sum()), float(lvalue.sum()), out


def _has(ts: pd.DataFrame, name: str) -> bool:
    cols = ts.columns
    return (
        isinstance(cols, pd.MultiIndex)
        and "quantity" in cols.names
        and name in cols.get_level_values("quantity")
    )


def _flexibility(results: Results, blocks: Sequence[str]) -> tuple[float, float]:
    bts = results.blocks_ts
    if not blocks or not len(bts.index):
        return 0.0, 0.0
    dt_h = results.design.dt_h
    flex = quantity(bts, "flexibility", blocks)
    price = quantity(bts, "flexibility_price", blocks)
    return float(flex.sum() * dt_h), float((flex * price).sum() * dt_h)
