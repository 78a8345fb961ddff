"""A stochastic design solved by scenario decomposition (progressive hedging), with its gap.

Input: a `Design` with `stochastic` set; PH's ρ (default: cost-proportional, the mean
|cost coefficient| of the first-stage columns — Watson & Woodruff 2011, "Progressive hedging
innovations for a class of stochastic mixed-integer resource allocation problems", Comput.
Manag. Sci. 8), iteration limit and threshold.
Output: `Decomposed`: the consensus day-ahead position x̄ (per first-stage block, entity and
step), an upper bound (x̄ evaluated: each scenario solved alone with its first stage fixed to
x̄, weighted by π), a lower bound (the better of the Lagrangian bound Σ_ω π_ω min_x [f_ω(x) +
W_ω·x_1] with PH's multipliers, valid because Σ_ω π_ω W_ω = 0, and the wait-and-see bound
Σ_ω π_ω min_x f_ω(x)), their gap, the consensus as each bidder's day-ahead position (kWh per
step, + buy) and the seconds of each part; `to_json()` is the `decomposition` section of
results.json (`pebdsl solve FILE --decompose ph`).
The extensive form's optimum lies between the bounds: the stated gap is how far the
decomposed solution may be from it. Every bound is one solve per scenario, so nothing here
builds the extensive form.

When to use it (docs/stochastic.md): the extensive form on HiGHS is exact and fast while it
fits in memory; decomposition pays when it does not, or when many cores (MPI ranks) can solve
scenarios side by side.

Raises PebdslError: E307 a design without scenarios; E905 mpi-sppy missing
(backends/hedging.py); E501/E502 a scenario without an optimum in a bound's re-solve.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pebdsl.backends import solve_ir
from pebdsl.backends.hedging import progressive_hedging
from pebdsl.design import Design
from pebdsl.diagnostics import PebdslError, error
from pebdsl.ir import FloatArray, IntArray, ModelIR
from pebdsl.lower import lower
from pebdsl.lower.scenarios import first_stage_entities

__all__ = ["Decomposed", "first_stage_columns", "solve_decomposed"]


@dataclass(frozen=True)
class Decomposed:
    """Progressive hedging's answer and its bounds (currency)."""

    lower_bound: float
    upper_bound: float
    xbar: FloatArray
    iterations: int
    convergence: float
    seconds: dict[str, float]
    bound: str = "lagrangian"  # which lower bound is tighter: lagrangian | wait-and-see
    rho: float = 1.0
    scenarios: int = 0
    day_ahead_kwh: dict[str, FloatArray] = field(default_factory=dict)  # bidder -> per step

    @property
    def gap(self) -> float:
        return self.upper_bound - self.lower_bound

    def to_json(self) -> dict[str, Any]:
        """The `decomposition` section of results.json (money in the design's currency)."""
        return {
            "method": "progressive hedging (mpi-sppy)",
            "scenarios": self.scenarios,
            "lower_bound": self.lower_bound,
            "upper_bound": self.upper_bound,
            "gap": self.gap,
            "lower_bound_kind": self.bound,
            "iterations": self.iterations,
            "convergence": self.convergence,
            "rho": self.rho,
            "day_ahead_kwh": {b: v.tolist() for b, v in self.day_ahead_kwh.items()},
            "seconds": self.seconds,
        }


def first_stage_columns(design: Design, ir: ModelIR) -> IntArray:
    """The first-stage columns of one scenario's IR, in a common order (block, entity, step)."""
    out: list[IntArray] = []
    for name, shared in first_stage_entities(design).items():
        if name not in ir.vars:
            continue
        vb = ir.vars[name]
        cols = vb.cols()
        for i, e in enumerate(vb.entities):
            if shared is None or e in shared:
                out.append(cols[i])
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


@contextmanager
def _changed(ir: ModelIR, cols: IntArray, **arrays: FloatArray) -> Iterator[None]:
    """Temporarily replace the cost, lower or upper bound of `cols` (restored after)."""
    saved = {}
    for vb in ir.vars.values():
        sel = (cols >= vb.start) & (cols < vb.start + vb.size)
        if not sel.any():
            continue
        saved[vb.name] = (vb.cost.copy(), vb.lower.copy(), vb.upper.copy())
        local = cols[sel] - vb.start
        for attr, values in arrays.items():
            arr = getattr(vb, attr).copy()
            arr[local] = values[sel]
            setattr(vb, attr, arr)
    ir._matrix = None
    try:
        yield
    finally:
        for name, (c, lo, up) in saved.items():
            vb = ir.vars[name]
            vb.cost, vb.lower, vb.upper = c, lo, up


def _objective(ir: ModelIR, what: str, unbounded_ok: bool = False) -> float:
    sol = solve_ir(ir)
    if unbounded_ok and "unbounded" in sol.status:
        return -np.inf
    if not sol.ok:
        code = "E502" if "unbounded" in sol.status else "E501"
        raise PebdslError(error(code, f"{what} is {sol.status}"))
    return float(sol.objective)


def _position(design: Design, ir: ModelIR, xbar: FloatArray) -> dict[str, FloatArray]:
    """(da_buy − da_sell)·Δt per bidder from x̄ (first_stage_columns' order)."""
    out: dict[str, FloatArray] = {}
    k = 0
    for name, shared in first_stage_entities(design).items():
        if name not in ir.vars:
            continue
        vb = ir.vars[name]
        for e in vb.entities:
            if shared is not None and e not in shared:
                continue
            v = xbar[k : k + vb.n_steps] * ir.dt_h
            k += vb.n_steps
            if name in ("da_buy", "da_sell"):
                sign = 1.0 if name == "da_buy" else -1.0
                out[e] = out.get(e, np.zeros(vb.n_steps)) + sign * v
    return out


def _cost_proportional_rho(irs: dict[str, ModelIR], first: dict[str, IntArray]) -> float:
    """The mean |cost coefficient| of the first-stage columns (1.0 when they cost nothing)."""
    c = np.concatenate([np.abs(ir.cost()[first[n]]) for n, ir in irs.items()])
    c = c[c > 0]
    return float(c.mean()) if c.size else 1.0


def solve_decomposed(
    design: Design,
    rho: float | None = None,
    max_iterations: int = 100,
    threshold: float = 1e-6,
) -> Decomposed:
    """Progressive hedging on the scenarios of `design`, with both bounds (module docstring);
    `rho` None: cost-proportional."""
    st = design.stochastic
    if st is None:
        raise PebdslError(error("E307", "the design declares no scenarios"))
    t0 = time.perf_counter()
    irs = {sc.name: lower(st.designs[sc.name]) for sc in st.scenarios}
    first = {n: first_stage_columns(st.designs[n], ir) for n, ir in irs.items()}
    seconds = {"lower": time.perf_counter() - t0}
    rho = _cost_proportional_rho(irs, first) if rho is None else rho
    ph = progressive_hedging(
        [(sc.name, sc.probability, irs[sc.name], first[sc.name]) for sc in st.scenarios],
        rho,
        max_iterations,
        threshold,
    )
    seconds["hedging"] = ph.seconds
    t0 = time.perf_counter()
    upper = lagrange = ws = 0.0
    for sc in st.scenarios:
        ir, cols = irs[sc.name], first[sc.name]
        lo, up = ir.col_lower()[cols], ir.col_upper()[cols]
        x = np.clip(ph.xbar, lo, up)
        with _changed(ir, cols, lower=x, upper=x):
            upper += sc.probability * _objective(ir, f"scenario `{sc.name}` at the consensus")
        with _changed(ir, cols, cost=ir.cost()[cols] + ph.w[sc.name]):
            # Unbounded when a first-stage column has no bound (no connection limit) and its
            # multiplier makes it pay: then only the wait-and-see bound is left.
            lagrange += sc.probability * _objective(ir, "", unbounded_ok=True)
        ws += sc.probability * _objective(ir, f"scenario `{sc.name}` alone")
    seconds["bounds"] = time.perf_counter() - t0
    bound, how = (lagrange, "lagrangian") if lagrange >= ws else (ws, "wait-and-see")
    some = st.scenarios[0].name
    return Decomposed(
        bound,
        upper,
        ph.xbar,
        ph.iterations,
        ph.convergence,
        seconds,
        how,
        rho=rho,
        scenarios=len(st.scenarios),
        day_ahead_kwh=_position(st.designs[some], irs[some], ph.xbar),
    )
