"""Solving a two-stage stochastic design: the extensive form, EVPI and VSS.

Input: a `Design` with `stochastic` set (pebdsl.resolve), the backend name and solver.
Output: `StochasticResults`: the expected cost (the extensive form's optimum), each scenario's
probability and cost, the first-stage day-ahead position per bidder and step against each
scenario's realised net demand, the wait-and-see bound, the expected-value solution's expected
cost (EEV), and

    EVPI = expected cost − WS,   WS  = Σ_ω π_ω · z*(ω)         (each scenario solved alone)
    VSS  = EEV − expected cost,  EEV = expected cost of the extensive form with the first
                                        stage fixed to the expected-value design's optimum

(Birge & Louveaux, Introduction to Stochastic Programming, ch. 4): WS ≤ RP ≤ EEV. Every
re-solve goes through the chosen backend. `to_json()` is the `stochastic` section of
results.json (money in the design's currency, energy in kWh).
Prices: each scenario's duals divided by π_ω; with `prices="midpoint"` (the default, as in
pebdsl.solve) the degenerate ones are the midpoint of their valid dual interval, computed on
the extensive form's basis for every scenario's price rows; `prices="dual"` keeps the
solver's pick. The re-solves (WS, EEV) give costs only, so the rule does not reach them.

Errors: E501/E502 (PebdslError) when the extensive form is infeasible or unbounded (a
day-ahead sale priced above the expected intraday purchase price is an arbitrage the LP
would take without limit when no connection bounds it); an expected-value first stage that
is infeasible in some scenario gives EEV = VSS = None with the reason in `notes`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from pebdsl.backends import Solution, Status, get_backend, solve_ir
from pebdsl.design import Design
from pebdsl.diagnostics import PebdslError, error
from pebdsl.invert import price_rows
from pebdsl.ir import FloatArray, IntArray, ModelIR
from pebdsl.lower import lower
from pebdsl.lower.scenarios import Extensive, lower_extensive
from pebdsl.lower.stages import bidders
from pebdsl.results import Results
from pebdsl.solve import check_price_rule, read_solution

__all__ = ["ScenarioOutcome", "StochasticResults", "solve_stochastic"]


@dataclass(frozen=True)
class ScenarioOutcome:
    """One scenario at the stochastic optimum (money: currency; energy: kWh per step)."""

    name: str
    probability: float
    cost: float  # the scenario's whole cost: day-ahead + its own second stage
    alone: float  # its cost when solved alone with perfect information (wait-and-see)
    net_demand_kwh: dict[str, FloatArray]  # bidder -> realised grid exchange per step
    intraday_kwh: dict[str, FloatArray]  # bidder -> intraday deviation (+ buy, − sell)
    # The scenario read like a deterministic solve: its time series, bills (its day-ahead
    # position and intraday deviation at their prices) and prices (duals / π).
    results: Results | None = None


@dataclass(frozen=True)
class StochasticResults:
    """The stochastic optimum and its value measures."""

    title: str
    variant: str | None
    currency: str
    method: str
    status: str
    expected_cost: float
    wait_and_see: float
    eev: float | None
    scenarios: tuple[ScenarioOutcome, ...]
    day_ahead_kwh: dict[str, FloatArray]  # bidder -> day-ahead position per step (+ buy)
    model: dict[str, int]
    backend: str
    timings: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    design: Design | None = field(default=None, repr=False)  # the design solved
    # How the scenarios' degenerate local prices were chosen: "midpoint" of the valid dual
    # interval (from the extensive form's basis) or "dual" (asked for, or no basis left).
    price_rule: str = "dual"

    @property
    def evpi(self) -> float:
        return self.expected_cost - self.wait_and_see

    @property
    def vss(self) -> float | None:
        return None if self.eev is None else self.eev - self.expected_cost

    def to_json(self) -> dict[str, Any]:
        """The `stochastic` section of results.json."""
        return {
            "expected_cost": self.expected_cost,
            "wait_and_see": self.wait_and_see,
            "expected_value_solution_cost": self.eev,
            "evpi": self.evpi,
            "vss": self.vss,
            "method": self.method,
            "currency": self.currency,
            "scenarios": {s.name: _scenario_json(s) for s in self.scenarios},
            "expected_bills": self.expected_bills(),
            "day_ahead_kwh": {b: v.tolist() for b, v in self.day_ahead_kwh.items()},
            "price_rule": self.price_rule,
            "notes": list(self.notes),
        }

    def expected(self, of: str) -> float | None:
        """Σ_ω π_ω · (scenario ω's `Results.<of>`), e.g. "total_cost" (real money: the
        expected cost without shadow terms); None when the scenarios were not read."""
        if any(s.results is None for s in self.scenarios):
            return None
        return float(sum(s.probability * float(getattr(s.results, of)) for s in self.scenarios))

    def expected_bills(self) -> dict[str, float]:
        """Σ_ω π_ω · (each participant's bill total in scenario ω)."""
        out: dict[str, float] = {}
        for s in self.scenarios:
            for name, total in _bill_totals(s).items():
                out[name] = out.get(name, 0.0) + s.probability * total
        return out


# HiGHS's method for the extensive form unless one is asked for: the interior point (with
# crossover: a basis, so prices as before); the dual simplex grows badly with the scenarios'
# coupled copies (10 scenarios of 30 participants: 1 day 25.9 s vs 9.2 s, 2 days 161.9 s vs
# 26.7 s).
EXTENSIVE_METHOD = "ipm"


def _bill_totals(s: ScenarioOutcome) -> dict[str, float]:
    if s.results is None or s.results.bills is None or s.results.settlement is None:
        return {}
    bills = s.results.bills
    roles = s.results.settlement.roles
    return {str(n): float(bills.loc[n, "total"]) for n in bills.index if roles[n] == "participant"}


def _scenario_json(s: ScenarioOutcome) -> dict[str, Any]:
    out: dict[str, Any] = {"probability": s.probability, "cost": s.cost, "alone": s.alone}
    if s.results is not None:
        out["bills"] = _bill_totals(s)
        out["money_residual"] = s.results.money.get("residual")
    return out


def _solve(
    ir: ModelIR, backend: str, solver: str | None, what: str, rows: IntArray | None = None
) -> Solution:
    sol = solve_ir(ir, backend=backend, solver=solver, price_rows=rows)
    if not sol.ok:
        code = "E502" if "unbounded" in sol.status else "E501"
        hint = (
            "a day-ahead sale dearer than the expected intraday purchase (or the reverse) "
            "is unbounded without a connection limit"
            if code == "E502"
            else "check the scenarios' loads against the connections"
        )
        raise PebdslError(error(code, f"{what} is {sol.status}", hints=(hint,)))
    return sol


def _price_rows(ext: Extensive) -> IntArray:
    """Every scenario's price rows (pebdsl.invert.price_rows of its own IR) in the extensive
    form's numbering: their valid dual intervals come from the extensive form's basis."""
    rows = [price_rows(ext.scenario_irs[n]) + ext.row_start[n] for n in ext.names]
    return np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)


def _part(ext: Extensive, sol: Solution, name: str, cost: float, xs: FloatArray) -> Solution:
    """Scenario `name`'s part of the extensive form's solution, read like a deterministic
    solve: duals and valid dual intervals divided by π_ω (a change of the scenario's
    right-hand side moves the expected cost π_ω times as much as its own), the price rule
    the extensive form's solve followed."""
    part = Solution(
        Status.OPTIMAL, cost, xs, ext.scenario_dual(sol.row_dual, name), solver=sol.solver
    )
    part.price_rule = sol.price_rule
    if sol.price_lo is not None and sol.price_hi is not None:
        part.price_lo = ext.scenario_dual(sol.price_lo, name)
        part.price_hi = ext.scenario_dual(sol.price_hi, name)
    if sol.price_inexact is not None:
        start, n = ext.row_start[name], ext.scenario_irs[name].n_rows
        inexact = sol.price_inexact[(sol.price_inexact >= start) & (sol.price_inexact < start + n)]
        part.price_inexact = inexact - start
    return part


def _position(ir: ModelIR, x: FloatArray, prefix: str = "") -> dict[str, FloatArray]:
    """(da_buy − da_sell)·Δt per bidder, from blocks named `prefix + da_buy` …"""
    buy = ir.vars.get(prefix + "da_buy")
    if buy is None:
        return {}
    sell = ir.vars.get(prefix + "da_sell")
    net = buy.values(x) - (sell.values(x) if sell is not None else 0.0)
    return {b: net[i] * ir.dt_h for i, b in enumerate(buy.entities)}


def _scenario_flows(
    design: Design, sub: ModelIR, xs: FloatArray
) -> tuple[dict[str, FloatArray], dict[str, FloatArray]]:
    """Each bidder's realised grid exchange and intraday deviation (kWh per step)."""
    groups = bidders(design)
    gi = sub.vars["gi"].values(xs)
    ge = sub.vars["ge"].values(xs) if "ge" in sub.vars else np.zeros_like(gi)
    parts = sub.vars["gi"].entities
    net = {
        b: sum((gi[parts.index(p)] - ge[parts.index(p)] for p in ms), np.zeros(sub.n_steps))
        * sub.dt_h
        for b, ms in groups.items()
    }
    dev: dict[str, FloatArray] = {}
    if "id_buy" in sub.vars:
        ib = sub.vars["id_buy"].values(xs)
        isl = sub.vars["id_sell"].values(xs) if "id_sell" in sub.vars else np.zeros_like(ib)
        dev = {b: (ib[i] - isl[i]) * sub.dt_h for i, b in enumerate(sub.vars["id_buy"].entities)}
    return net, dev


def _eev(
    ext: Extensive, ev_ir: ModelIR, ev_x: FloatArray, backend: str, solver: str | None
) -> tuple[float | None, str]:
    """The extensive form's cost with its first stage fixed to the expected-value optimum."""
    ir = ext.ir
    saved = {}
    for name in ext.first_stage:
        vb, src = ir.vars[name], ev_ir.vars.get(name)
        if src is None:
            continue
        saved[name] = (vb.lower.copy(), vb.upper.copy())
        vals = src.values(ev_x)
        fixed = np.array([vals[src.entities.index(e)] for e in vb.entities]).ravel()
        vb.lower, vb.upper = fixed.copy(), fixed.copy()
    try:
        sol = solve_ir(ir, backend=backend, solver=solver)
    finally:
        for name, (lo, up) in saved.items():
            ir.vars[name].lower, ir.vars[name].upper = lo, up
    if not sol.ok:
        return None, (
            f"the expected-value solution's first stage is {sol.status} in some scenario: "
            "EEV and VSS are undefined (infinite)"
        )
    return float(sol.objective), ""


def solve_stochastic(
    design: Design,
    backend: str = "highs",
    solver: str | None = None,
    read: bool = True,
    prices: str = "midpoint",
) -> StochasticResults:
    """The extensive form of `design` solved, with WS, EEV, EVPI and VSS (module docstring);
    `read`: also read each scenario like a deterministic solve (series, bills, prices, the
    degenerate ones by the price rule `prices` as in pebdsl.solve)."""
    st = design.stochastic
    if st is None:
        raise PebdslError(error("E307", "the design declares no scenarios"))
    check_price_rule(prices)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    ext = lower_extensive(design)
    timings["lower"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    method = solver if solver is not None or backend != "highs" else EXTENSIVE_METHOD
    rows = _price_rows(ext) if read and prices == "midpoint" else None
    sol = _solve(ext.ir, backend, method, "the extensive form", rows)
    timings["solve"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    be = get_backend(backend, solver)
    outcomes = []
    for sc in st.scenarios:
        sub = ext.scenario_irs[sc.name]
        alone = _solve(sub, backend, solver, f"scenario `{sc.name}` alone")
        xs = ext.scenario_x(sol.x, sc.name)
        cost = ext.scenario_cost(sol.x, sc.name)
        net, dev = _scenario_flows(st.designs[sc.name], sub, xs)
        part = _part(ext, sol, sc.name, cost, xs)
        res = read_solution(st.designs[sc.name], sub, part, be, {}, backend) if read else None
        outcomes.append(
            ScenarioOutcome(sc.name, sc.probability, cost, alone.objective, net, dev, res)
        )
    timings["scenarios"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    ev_ir = lower(replace(design, stochastic=None))
    ev = _solve(ev_ir, backend, solver, "the expected-value design")
    eev, note = _eev(ext, ev_ir, ev.x, backend, solver)
    timings["expected_value"] = time.perf_counter() - t0
    ws = float(sum(o.probability * o.alone for o in outcomes))
    return StochasticResults(
        title=design.title,
        variant=design.variant,
        currency=design.currency,
        method=st.method,
        status=str(sol.status),
        expected_cost=float(sol.objective),
        wait_and_see=ws,
        eev=eev,
        scenarios=tuple(outcomes),
        day_ahead_kwh=_position(ext.ir, sol.x),
        model=ext.ir.stats(),
        backend=backend,
        timings=timings,
        notes=(note,) if note else (),
        design=design,
        price_rule=sol.price_rule,
    )
