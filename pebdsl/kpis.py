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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from pebdsl.design import Design

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


class Tables(Protocol):
    """The time-series tables scoring reads (invert's `Dispatch`, or a `Results`)."""

    @property
    def participants_ts(self) -> pd.DataFrame: ...
    @property
    def batteries_ts(self) -> pd.DataFrame: ...
    @property
    def blocks_ts(self) -> pd.DataFrame: ...
    @property
    def markets_ts(self) -> pd.DataFrame: ...


@dataclass(frozen=True)
class ScoreInput:
    """What scoring reads: the design, its tables, the bills and the objective's split."""

    design: Design
    tables: Tables
    bills: pd.DataFrame | None = None
    objective: float = 0.0  # currency
    shadow_cost: float = 0.0  # currency
    price_rules: Mapping[str, str] = field(default_factory=dict)

    @property
    def total_cost(self) -> float:
        return self.objective - self.shadow_cost


@dataclass(frozen=True)
class Quantity:
    """A KPI value with its unit."""

    value: float | None
    unit: str


@dataclass(frozen=True)
class Scores:
    """KPIs and the reference-free parts of the three values (JSON-ready mappings; the unit
    of each key is `unit_of(key)`, documented in docs/kpis.md)."""

    kpis: Mapping[str, Any]  # {"design", "participants", "blocks", "batteries", "markets"}
    values: Mapping[str, Any]

    def quantity(self, section: str, key: str, entity: str | None = None) -> Quantity:
        """One KPI with its unit: `quantity("design", "grid_import_kwh")`,
        `quantity("participants", "bill", "alice")`."""
        rec = self.kpis[section] if entity is None else self.kpis[section][entity]
        return Quantity(rec[key], unit_of(key, str(self.kpis["design"].get("currency", ""))))


def unit_of(key: str, currency: str = "currency") -> str:
    """The unit of a KPI or value key, by the naming rule every key follows: `_kwh` kWh, `_kw`
    kW, shares/sufficiency/consumption 1, `price` currency/kWh, bills/costs/values/fees the
    currency, cycles 1, `_per_kw_year` currency/kW/year."""
    if key.endswith("_kwh"):
        return "kWh"
    if key.endswith("_kw"):
        return "kW"
    if key.endswith("_per_kw_year"):
        return f"{currency}/kW/year"
    if "price" in key:
        return f"{currency}/kWh"
    if key in ("bill", "value", "fees", "objective") or key.endswith(("_cost", "_bills", "_value")):
        return currency
    return "1"


@dataclass(frozen=True)
class _Series:
    """Per step x participant (kW) unless stated: what every KPI is formed from."""

    names: list[str]
    load: FloatArray
    avail: FloatArray
    used: FloatArray
    curt: FloatArray
    gi: FloatArray
    ge: FloatArray
    exported_gen: FloatArray
    alloc: dict[str, FloatArray]
    bnames: list[str]
    b_charge: FloatArray  # step x battery
    b_dis: FloatArray
    b_imp: FloatArray  # step x block
    b_exp: FloatArray
    net_all: FloatArray  # per step


def _q(pts: pd.DataFrame, names: list[str], n: int) -> Callable[[str], FloatArray]:
    def q(name: str) -> FloatArray:
        return quantity(pts, name, names) if len(pts.index) else np.zeros((n, len(names)))

    return q


def _participant_series(inp: ScoreInput, n: int) -> dict[str, FloatArray]:
    d = inp.design
    names = list(d.participants)
    pts = inp.tables.participants_ts
    q = _q(pts, names, n)
    avail = q("pv") + q("wind")
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
    out = {k: q(k) for k in ("load", "grid_import", "grid_export", "battery_discharge")}
    out.update(avail=avail, used=used, curt=curt, sold=q("local_sold"))
    # Local purchases that carried local energy (invert/labels.py); grid energy passed on
    # through a market is grid energy in the demand shares.
    has_local = _has(pts, "local_bought_local")
    out["bought_local"] = q("local_bought_local") if has_local else q("local_bought")
    return out


def _block_series(
    inp: ScoreInput, n: int, gi: FloatArray, ge: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Blocks: nets at the connections (import, export per step x block, kW), and the net of
    all blocks together with the participants outside any block."""
    d = inp.design
    names = list(d.participants)
    blocks = list(d.blocks)
    blts = inp.tables.blocks_ts
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
    return b_imp, b_exp, net_all


def _series(inp: ScoreInput) -> _Series:
    d = inp.design
    dt_h = d.dt_h
    names = list(d.participants)
    pts = inp.tables.participants_ts
    n = len(pts.index) if len(pts.index) else d.n_steps
    ps = _participant_series(inp, n)
    # Batteries (private and shared) from their own table.
    batteries = d.batteries()
    bnames = list(batteries)
    bts = inp.tables.batteries_ts
    b_charge = quantity(bts, "charge", bnames) if len(bts.index) else np.zeros((n, len(bnames)))
    b_dis = quantity(bts, "discharge", bnames) if len(bts.index) else np.zeros((n, len(bnames)))
    shared = [i for i, b in enumerate(bnames) if batteries[b].owner is None]
    shared_dis = b_dis[:, shared].sum(axis=1) if shared else np.zeros(n)
    offered = shared_dis + ps["sold"].sum(axis=1)
    shared_fraction = np.divide(
        shared_dis, offered, out=np.zeros(n), where=offered > _EPS * max(dt_h, 1.0)
    )
    alloc = demand_allocation(
        ps["load"], ps["used"], ps["battery_discharge"], ps["bought_local"], shared_fraction
    )
    gi, ge = ps["grid_import"], ps["grid_export"]
    b_imp, b_exp, net_all = _block_series(inp, n, gi, ge)
    return _Series(
        names=names,
        load=ps["load"],
        avail=ps["avail"],
        used=ps["used"],
        curt=ps["curt"],
        gi=gi,
        ge=ge,
        # Generation exported in a step: what left through the grid, up to the generation used.
        exported_gen=np.minimum(ge, ps["used"]),
        alloc=alloc,
        bnames=bnames,
        b_charge=b_charge,
        b_dis=b_dis,
        b_imp=b_imp,
        b_exp=b_exp,
        net_all=net_all,
    )


def _energies(inp: ScoreInput, s: _Series) -> dict[str, FloatArray]:
    """Per-participant energy over the horizon (kWh)."""
    pts = inp.tables.participants_ts
    n = s.load.shape[0]
    q = _q(pts, s.names, n)
    dt_h = inp.design.dt_h
    series = {
        "demand": s.load,
        "gen": s.avail,
        "used": s.used,
        "curt": s.curt,
        "gi": s.gi,
        "ge": s.ge,
        "exp_gen": s.exported_gen,
        "bought": q("local_bought"),
        "sold": q("local_sold"),
        "charge": q("battery_charge"),
        "discharge": q("battery_discharge"),
    }
    out = {k: v.sum(axis=0) * dt_h for k, v in series.items()}
    out.update({f"alloc_{k}": v.sum(axis=0) * dt_h for k, v in s.alloc.items()})
    return out


def _participants(
    inp: ScoreInput, s: _Series, e: dict[str, FloatArray], bills: dict[str, dict[str, float]]
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
            "demand_shares": _shares({k: e[f"alloc_{k}"][i] for k in SHARE_KEYS}, e["demand"][i]),
            "local_bought_kwh": float(e["bought"][i]),
            "local_sold_kwh": float(e["sold"][i]),
            "local_avg_buy_price": _ratio(bill.get("local_purchases", 0.0), e["bought"][i]),
            "local_avg_sell_price": _ratio(bill.get("local_sales", 0.0), e["sold"][i]),
            "peak_import_kw": float(peak_imp[i]),
            "peak_export_kw": float(peak_exp[i]),
            "battery_throughput_kwh": thr,
            "battery_cycles": _cycles(thr, own_batt) if own_batt else None,
        }
    return out


def _blocks(
    inp: ScoreInput, s: _Series, e: dict[str, FloatArray], bills: dict[str, dict[str, float]]
) -> dict[str, dict[str, Any]]:
    d = inp.design
    dt_h = d.dt_h
    names = s.names
    batteries = d.batteries()
    out: dict[str, dict[str, Any]] = {}
    for j, b in enumerate(d.blocks):
        idx = [names.index(p) for p in d.blocks[b].participants if p in names]
        members_gen = s.used[:, idx].sum(axis=1)
        blk = [k for k, bn in enumerate(s.bnames) if _battery_block(d, batteries[bn]) == b]
        thr = float(s.b_dis[:, blk].sum() * dt_h)
        usable = sum(_usable(batteries[s.bnames[k]]) for k in blk)
        demand = float(e["demand"][idx].sum())
        gen = float(e["gen"][idx].sum())
        imp_kwh = float(s.b_imp[:, j].sum() * dt_h)
        exp_gen_blk = float(np.minimum(s.b_exp[:, j], members_gen).sum() * dt_h)
        out[b] = {
            "participants": [names[i] for i in idx],
            "bill": _f(sum(bills.get(names[i], {}).get("total", math.nan) for i in idx)),
            "demand_kwh": demand,
            "generation_kwh": gen,
            "curtailment_kwh": float(e["curt"][idx].sum()),
            "curtailment_share": _ratio(float(e["curt"][idx].sum()), gen),
            "import_kwh": imp_kwh,
            "export_kwh": float(s.b_exp[:, j].sum() * dt_h),
            "self_sufficiency": _one_minus(imp_kwh, demand),
            "self_consumption": _ratio(float(e["used"][idx].sum()) - exp_gen_blk, gen),
            "demand_shares": _shares(
                {k: float(e[f"alloc_{k}"][idx].sum()) for k in SHARE_KEYS}, demand
            ),
            "peak_import_kw": _peak(s.b_imp[:, j]),
            "peak_export_kw": _peak(s.b_exp[:, j]),
            "battery_throughput_kwh": thr,
            "battery_cycles": _ratio(thr, usable) if blk else None,
        }
    return out


def _design(
    inp: ScoreInput,
    s: _Series,
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
    usable_all = sum(_usable(b) for b in d.batteries().values())
    charge_kwh = float(s.b_charge.sum() * dt_h)
    return {
        "currency": d.currency,
        "total_cost": _f(inp.total_cost),
        "shadow_cost": _f(inp.shadow_cost),
        "objective": _f(inp.objective),
        "total_bills": _f(sum(bills[p].get("total", math.nan) for p in s.names if p in bills))
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
        "demand_shares": _shares({k: float(e[f"alloc_{k}"].sum()) for k in SHARE_KEYS}, demand),
        "local_trade_kwh": trade_kwh,
        "local_trade_avg_price": _ratio(trade_value, trade_kwh),
        "peak_import_kw": _peak(s.net_all),
        "peak_export_kw": _peak(-s.net_all),
        "battery_throughput_kwh": b_thr,
        "battery_charge_kwh": charge_kwh,
        "battery_losses_kwh": float(charge_kwh - b_thr - _soc_gain(inp, s.bnames)),
        "battery_cycles": _ratio(b_thr, usable_all) if s.bnames else None,
    }


def _values(inp: ScoreInput, s: _Series, trade: tuple[float, float]) -> dict[str, Any]:
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
        "pv_surplus_local_share": _ratio(local_kwh, surplus_kwh),
        "peak_import_kw": {
            **{b: _peak(s.b_imp[:, j]) for j, b in enumerate(blocks)},
            ALL: _peak(s.net_all),
        },
        "peak_export_kw": {
            **{b: _peak(s.b_exp[:, j]) for j, b in enumerate(blocks)},
            ALL: _peak(-s.net_all),
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
    s = _series(inp)
    e = _energies(inp, s)
    bills = _bills(inp, s.names)
    trade_kwh, trade_value, by_market = _markets(inp)
    batteries = d.batteries()
    batteries_kpis = {
        bn: {
            "owner": batteries[bn].owner,
            "block": _battery_block(d, batteries[bn]),
            "capacity_kwh": batteries[bn].capacity_kwh,
            "charge_kwh": float(s.b_charge[:, k].sum() * d.dt_h),
            "throughput_kwh": float(s.b_dis[:, k].sum() * d.dt_h),
            "cycles": _cycles(float(s.b_dis[:, k].sum() * d.dt_h), batteries[bn]),
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


class Valued(Protocol):
    """A scored solve (a `Results`): its design and the reference-free values."""

    @property
    def design(self) -> Design: ...
    @property
    def values(self) -> Mapping[str, Any]: ...


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
       valued at the flexibility price).
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


def _soc_gain(inp: ScoreInput, bnames: Sequence[str]) -> float:
    """Energy left in the batteries at the end minus at the start (kWh), for the loss account."""
    bts = inp.tables.batteries_ts
    if not bnames or not len(bts.index):
        return 0.0
    soc = quantity(bts, "soc", bnames)
    initial = np.array([inp.design.batteries()[b].initial_kwh for b in bnames])
    return float((soc[-1] - initial).sum())


def _bills(inp: ScoreInput, names: Iterable[str]) -> dict[str, dict[str, float]]:
    b = inp.bills
    if b is None or b.empty:
        return {}
    rows = b.reindex([p for p in names if p in b.index])
    return {str(k): {str(c): float(v) for c, v in row.items()} for k, row in rows.iterrows()}


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
            # How degenerate prices were chosen (invert/flows.py `price_rules`; docs/model.md).
            "price_rule": inp.price_rules.get(m, "dual"),
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


def _flexibility(inp: ScoreInput, blocks: Sequence[str]) -> tuple[float, float]:
    bts = inp.tables.blocks_ts
    if not blocks or not len(bts.index):
        return 0.0, 0.0
    dt_h = inp.design.dt_h
    flex = quantity(bts, "flexibility", blocks)
    price = quantity(bts, "flexibility_price", blocks)
    return float(flex.sum() * dt_h), float((flex * price).sum() * dt_h)
