"""The per-step series every KPI is formed from, read from the time-series tables.

Input: a `ScoreInput` (pebdsl/kpis/records.py). Output: `Series` (per step x participant,
battery or block, kW) and per-participant energies (kWh); `quantity` reads one quantity of a
table, `demand_allocation` splits demand into its four sources. Raises nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from pebdsl.kpis.records import ScoreInput

FloatArray = npt.NDArray[np.float64]

SHARE_KEYS = ("own_generation", "battery", "local_trade", "grid")
EPS = 1e-9  # kWh below which a denominator counts as zero (solver noise)


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


def json_float(x: float | np.floating[Any] | None) -> float | None:
    """A JSON-safe float: None for None / NaN / inf."""
    if x is None:
        return None
    v = float(x)
    return v if math.isfinite(v) else None


def ratio_of(num: float, den: float) -> float | None:
    return float(num) / float(den) if abs(den) > EPS else None


def peak_of(x: FloatArray) -> float:
    """The maximum of a series, never below zero (a block that never imports has peak 0)."""
    return float(max(0.0, x.max())) if x.size else 0.0


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


def shares_of(parts_kwh: dict[str, float], demand_kwh: float) -> dict[str, float | None]:
    return {k: ratio_of(parts_kwh[k], demand_kwh) for k in SHARE_KEYS}


@dataclass(frozen=True)
class Series:
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


def column_reader(pts: pd.DataFrame, names: list[str], n: int) -> Callable[[str], FloatArray]:
    def q(name: str) -> FloatArray:
        return quantity(pts, name, names) if len(pts.index) else np.zeros((n, len(names)))

    return q


def participant_series(inp: ScoreInput, n: int) -> dict[str, FloatArray]:
    d = inp.design
    names = list(d.participants)
    pts = inp.tables.participants_ts
    q = column_reader(pts, names, n)
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
    has_local = has_quantity(pts, "local_bought_local")
    out["bought_local"] = q("local_bought_local") if has_local else q("local_bought")
    return out


def block_series(
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


def series_of(inp: ScoreInput) -> Series:
    d = inp.design
    dt_h = d.dt_h
    names = list(d.participants)
    pts = inp.tables.participants_ts
    n = len(pts.index) if len(pts.index) else d.n_steps
    ps = participant_series(inp, n)
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
        shared_dis, offered, out=np.zeros(n), where=offered > EPS * max(dt_h, 1.0)
    )
    alloc = demand_allocation(
        ps["load"], ps["used"], ps["battery_discharge"], ps["bought_local"], shared_fraction
    )
    gi, ge = ps["grid_import"], ps["grid_export"]
    b_imp, b_exp, net_all = block_series(inp, n, gi, ge)
    return Series(
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


def energies(inp: ScoreInput, s: Series) -> dict[str, FloatArray]:
    """Per-participant energy over the horizon (kWh)."""
    pts = inp.tables.participants_ts
    n = s.load.shape[0]
    q = column_reader(pts, s.names, n)
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


def one_minus(num: float, den: float) -> float | None:
    r = ratio_of(num, den)
    return None if r is None else 1.0 - r


def usable_kwh(b: Any) -> float:
    return max(float(b.capacity_kwh) - float(b.min_soc_kwh), 0.0)


def cycles_of(throughput_kwh: float, battery: Any) -> float | None:
    return ratio_of(throughput_kwh, usable_kwh(battery))


def battery_block(d: Any, b: Any) -> str | None:
    if b.owner is not None:
        return d.participants[b.owner].block if b.owner in d.participants else None
    return b.block


def soc_gain(inp: ScoreInput, bnames: Sequence[str]) -> float:
    """Energy left in the batteries at the end minus at the start (kWh), for the loss account."""
    bts = inp.tables.batteries_ts
    if not bnames or not len(bts.index):
        return 0.0
    soc = quantity(bts, "soc", bnames)
    # The state before the first step, read back from the first step's balance: it is the
    # share of the size chosen for a sized battery, and what is present of a fleet.
    bats = inp.design.batteries()
    eta = np.array([bats[b].efficiency for b in bnames])
    ch, dis = quantity(bts, "charge", bnames), quantity(bts, "discharge", bnames)
    initial = soc[0] - (eta * ch[0] - dis[0] / eta) * inp.design.dt_h
    return float((soc[-1] - initial).sum())


def bills_of(inp: ScoreInput, names: Iterable[str]) -> dict[str, dict[str, float]]:
    b = inp.bills
    if b is None or b.empty:
        return {}
    rows = b.reindex([p for p in names if p in b.index])
    return {str(k): {str(c): float(v) for c, v in row.items()} for k, row in rows.iterrows()}


def has_quantity(ts: pd.DataFrame, name: str) -> bool:
    cols = ts.columns
    return (
        isinstance(cols, pd.MultiIndex)
        and "quantity" in cols.names
        and name in cols.get_level_values("quantity")
    )
