"""designs/lueth2018_pcdg.peb against an independent model of the same LP (highspy alone).

The independent model below is written from MODEL.md and the design's comments, not from
pebdsl's lowering: matrices are built here from the CSVs with numpy and passed to HiGHS.
Every variant's optimal cost must agree with `pebdsl.solve` to 1e-6 relative.

The LP (per house p, step t, dt = 0.5 h; powers in kW, energy = power x dt):
  min  Σ_t dt · price_t · Σ_p gi[p,t]                       (no feed-in, no fees)
  s.t. gi + g + d_own + buy − c_own − sell = load           (house balance; g ≤ PV + wind)
       Σ_p ((1 − loss)·sell − buy) + (1 − loss)·d_hub − c_hub = 0   (the P2P market, compact
                                                              form; a shared battery trades in it)
       s_t = s_{t−1} + dt·(η·c_t − d_t/η), s_0 = 0, 0 ≤ s ≤ capacity, c, d ≤ power
  Local energy (MODEL.md, corrected rules): own use first, U_p,t = min(available_p,t, load_p,t)
  (the generation a house could use itself is never surplus), so with a local-only battery
  (private, or the hub in the market) every house that can reach it obeys
       c_own(p) + sell_p ≤ g_p − U_p + d_own(p) + buy_p
  (a battery stores, and a house sells, only its surplus, what its local-only battery gives
  back, and local purchases — never grid energy, and never PV that its own load needed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import highspy
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
DESIGN = ROOT / "designs" / "lueth2018_pcdg.peb"
DATA = ROOT / "designs" / "data" / "pcdg-london-2013-01-01"

DT_H = 0.5  # half-hourly steps
LOSS = 0.076  # P2P loss (psi = 0.924)
PRIVATE = ("H5", "H15", "H23")
PRIVATE_BATTERY = (4.0, 2.5, 0.9408)  # kWh, kW, one-way efficiency
HUB_BATTERY = (13.2, 3.3, math.sqrt(0.89))


@dataclass(frozen=True)
class Case:
    market: bool
    private_batteries: bool
    hub: bool = False


CASES = {
    "reference": Case(market=False, private_batteries=False),
    "storage_only": Case(market=False, private_batteries=True),
    "p2p_only": Case(market=True, private_batteries=False),
    None: Case(market=True, private_batteries=True),  # the base design ("Flexi User")
    "pool_hub": Case(market=True, private_batteries=False, hub=True),
}


def read_data() -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Houses, load (T x N, kW), available generation (T x N, kW), price (T, GBP/kWh)."""
    load = pd.read_csv(DATA / "demand_kw.csv", index_col=0)
    pv = pd.read_csv(DATA / "pv_kw.csv", index_col=0).reindex(columns=load.columns)
    wind = pd.read_csv(DATA / "wind_kw.csv", index_col=0).reindex(columns=load.columns)
    price = pd.read_csv(DATA / "grid_price_pence_per_kwh.csv", index_col=0)["price"] / 100.0
    gen = pv.fillna(0.0).to_numpy() + wind.fillna(0.0).to_numpy()
    return list(load.columns), load.to_numpy(), gen, price.to_numpy()


class LP:
    """A tiny LP builder: variable blocks by name, rows from (block, index, coefficient)."""

    def __init__(self) -> None:
        self.lb: list[np.ndarray] = []
        self.ub: list[np.ndarray] = []
        self.cost: list[np.ndarray] = []
        self.n = 0
        self.rows: list[np.ndarray] = []
        self.cols: list[np.ndarray] = []
        self.vals: list[np.ndarray] = []
        self.row_lo: list[np.ndarray] = []
        self.row_hi: list[np.ndarray] = []
        self.m = 0

    def var(self, shape: tuple[int, ...], ub: Any = np.inf, cost: Any = 0.0) -> np.ndarray:
        size = int(np.prod(shape))
        idx = np.arange(self.n, self.n + size).reshape(shape)
        self.n += size
        self.lb.append(np.zeros(size))
        self.ub.append(np.broadcast_to(np.asarray(ub, float), shape).reshape(-1).copy())
        self.cost.append(np.broadcast_to(np.asarray(cost, float), shape).reshape(-1).copy())
        return idx

    def rows_(self, terms: list[tuple[np.ndarray, Any]], lo: Any, hi: Any) -> None:
        """One row per element of the (equal-shaped) index arrays: Σ coef·x[idx] in [lo, hi]."""
        shape = terms[0][0].shape
        k = int(np.prod(shape))
        row = np.arange(self.m, self.m + k)
        for idx, coef in terms:
            self.rows.append(row)
            self.cols.append(idx.reshape(-1))
            self.vals.append(np.broadcast_to(np.asarray(coef, float), shape).reshape(-1).copy())
        self.row_lo.append(np.broadcast_to(np.asarray(lo, float), shape).reshape(-1).copy())
        self.row_hi.append(np.broadcast_to(np.asarray(hi, float), shape).reshape(-1).copy())
        self.m += k

    def solve(self) -> float:
        a = sp.csc_matrix(
            (np.concatenate(self.vals), (np.concatenate(self.rows), np.concatenate(self.cols))),
            shape=(self.m, self.n),
        )
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = self.n, self.m
        lp.col_cost_ = np.concatenate(self.cost)
        lp.col_lower_ = np.concatenate(self.lb)
        lp.col_upper_ = np.concatenate(self.ub)
        lp.row_lower_ = np.concatenate(self.row_lo)
        lp.row_upper_ = np.concatenate(self.row_hi)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = a.indptr
        lp.a_matrix_.index_ = a.indices
        lp.a_matrix_.value_ = a.data
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.passModel(lp)
        h.run()
        assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
        return float(h.getInfo().objective_function_value)


def independent_cost(case: Case) -> float:
    houses, load, gen, price = read_data()
    t, n = load.shape
    lp = LP()
    gi = lp.var((t, n), cost=DT_H * price[:, None])
    g = lp.var((t, n), ub=gen)
    owners = [houses.index(h) for h in PRIVATE] if case.private_batteries else []
    others = [k for k in range(n) if k not in owners]
    specs = [PRIVATE_BATTERY] * len(owners) + ([HUB_BATTERY] if case.hub else [])
    nb = len(specs)
    c = d = np.zeros((t, 0), dtype=int)
    if nb:
        cap, power, eta = (np.array(x) for x in zip(*specs, strict=True))
        c = lp.var((t, nb), ub=power)
        d = lp.var((t, nb), ub=power)
        s = lp.var((t, nb), ub=cap)
        # s_t − s_{t−1} − dt·η·c_t + dt/η·d_t = 0, with s_{-1} = 0 (empty at the start)
        lp.rows_([(s[:1], 1.0), (c[:1], -DT_H * eta), (d[:1], DT_H / eta)], 0.0, 0.0)
        lp.rows_(
            [(s[1:], 1.0), (s[:-1], -1.0), (c[1:], -DT_H * eta), (d[1:], DT_H / eta)], 0.0, 0.0
        )
    k_own = len(owners)  # private batteries are columns 0..k_own-1 of c, d; the hub is last

    # House balances: gi + g (+ buy − sell) (+ d − c at battery owners) = load
    def house_terms(cols: list[int]) -> list[tuple[np.ndarray, Any]]:
        terms: list[tuple[np.ndarray, Any]] = [(gi[:, cols], 1.0), (g[:, cols], 1.0)]
        if case.market:
            terms += [(buy[:, cols], 1.0), (sell[:, cols], -1.0)]
        return terms

    if case.market:
        sell = lp.var((t, n))
        buy = lp.var((t, n))
        market = [(sell[:, k], 1.0 - LOSS) for k in range(n)]
        market += [(buy[:, k], -1.0) for k in range(n)]
        if case.hub:  # the hub trades in the market: it buys its charge, sells its discharge
            market += [(d[:, nb - 1], 1.0 - LOSS), (c[:, nb - 1], -1.0)]
        lp.rows_(market, 0.0, 0.0)
    lp.rows_(house_terms(others), load[:, others], load[:, others])
    if owners:
        lp.rows_(
            [*house_terms(owners), (d[:, :k_own], 1.0), (c[:, :k_own], -1.0)],
            load[:, owners],
            load[:, owners],
        )
    own_use = np.minimum(gen, load)  # U: what each house's own generation covers itself
    labelled = (owners or case.hub) and (case.market or owners)
    if labelled:
        # Every house the local-only storage can reach (all of them when the market holds one;
        # only the owners without a market): local uses ≤ local sources, with U on the right.
        houses_ = list(range(n)) if case.market else owners
        for grp, with_bat in (
            ([k for k in houses_ if k not in owners], False),
            ([k for k in houses_ if k in owners], True),
        ):
            if not grp:
                continue
            terms: list[tuple[np.ndarray, Any]] = [(g[:, grp], -1.0)]
            if case.market:
                terms += [(sell[:, grp], 1.0), (buy[:, grp], -1.0)]
            if with_bat:
                pos = [owners.index(k) for k in grp]
                terms += [(c[:, pos], 1.0), (d[:, pos], -1.0)]
            lp.rows_(terms, -np.inf, -own_use[:, grp])
    return lp.solve()


@pytest.fixture(scope="module")
def pebdsl_costs() -> dict[str | None, float]:
    from pebdsl.load import load_all
    from pebdsl.solve import solve

    return {v: solve(d).objective for v, d in load_all(str(DESIGN)).items()}


@pytest.mark.parametrize("variant", list(CASES), ids=lambda v: v or "base")
def test_matches_independent_model(variant: str | None, pebdsl_costs: dict) -> None:
    expected = independent_cost(CASES[variant])
    assert pebdsl_costs[variant] == pytest.approx(expected, rel=1e-6)


def test_cost_ordering(pebdsl_costs: dict) -> None:
    c = pebdsl_costs
    tol = 1e-9 * c["reference"]
    assert c["reference"] >= c["storage_only"] - tol
    assert c["reference"] >= c["p2p_only"] - tol
    assert c["storage_only"] >= c[None] - tol
    assert c["p2p_only"] >= c[None] - tol
    assert c["p2p_only"] >= c["pool_hub"] - tol


def test_reference_cost_is_plain_grid_bill() -> None:
    """No trade, no storage, no feed-in: each house buys what its own generation does not
    cover, so the reference cost has a closed form."""
    _, load, gen, price = read_data()
    closed = float((DT_H * price[:, None] * np.maximum(load - gen, 0.0)).sum())
    assert independent_cost(CASES["reference"]) == pytest.approx(closed, rel=1e-9)


def test_design_file_is_canonical() -> None:
    """The design is kept in `pebdsl fmt`'s canonical layout (comments included)."""
    from pebdsl.front.formatter import format_source

    text = DESIGN.read_text(encoding="utf-8")
    assert format_source(text, str(DESIGN)) == text
