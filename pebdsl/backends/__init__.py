"""Backends: hand the model IR to a solver and bring back primal and dual values.

Input: a `ModelIR` and optionally `price_rows` (equality rows whose valid dual interval the
caller needs: market prices). Output: `Solution` (status, objective, x, row duals, the
backend's own timings, for infeasible models the IIS rows/columns, and for `price_rows` the
interval [`price_lo`, `price_hi`] of valid duals with the rule that applied, see
backends/intervals.py). Only this package imports
highspy or Pyomo. Raises PebdslError E503 when a requested backend or solver is unavailable.

Status strings (linopy-style): "optimal", "infeasible", "unbounded", "infeasible_or_unbounded",
"time_limit", "error".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pebdsl.diagnostics import PebdslError, error
from pebdsl.ir import FloatArray, IntArray, ModelIR

BACKENDS = ("highs", "pyomo")


@dataclass
class Solution:
    status: str
    objective: float
    x: FloatArray
    row_dual: FloatArray
    timings: dict[str, float] = field(default_factory=dict)  # build (hand-off), solve (solver)
    iis_rows: list[int] = field(default_factory=list)
    iis_cols: list[int] = field(default_factory=list)
    ray: FloatArray | None = None  # primal ray of an unbounded model, when the solver has one
    solver: str = "highs"
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # Valid dual intervals of the requested price rows (n_rows arrays; other rows hold the
    # dual). "midpoint": computed from the basis (backends/intervals.py); "dual": no basis
    # (IPM/PDLP without crossover, a Pyomo solver other than HiGHS), lo = hi = the dual.
    price_lo: FloatArray | None = None
    price_hi: FloatArray | None = None
    price_rule: str = "dual"
    price_inexact: IntArray | None = None  # price rows whose interval kept a solver's side
    price_stats: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "optimal"


def empty_solution(ir: ModelIR, status: str, **kw: Any) -> Solution:
    return Solution(
        status, float("nan"), np.full(ir.n_cols, np.nan), np.full(ir.n_rows, np.nan), **kw
    )


def solve_ir(
    ir: ModelIR,
    backend: str = "highs",
    solver: str | None = None,
    price_rows: IntArray | None = None,
) -> Solution:
    """Solve the IR with the chosen backend ("highs" or "pyomo", the latter with any solver)."""
    if backend == "highs":
        from pebdsl.backends.highs import METHODS, solve

        # On the highs backend `solver` picks HiGHS's method (simplex, ipm, pdlp; default:
        # HiGHS's own choice); other solvers go through Pyomo.
        if solver is not None and solver not in METHODS:
            raise PebdslError(
                error(
                    "E503",
                    f"the highs backend runs HiGHS only, not `{solver}`",
                    hints=(
                        f"HiGHS methods: {', '.join(sorted(METHODS))}",
                        "use --backend pyomo --solver NAME for other solvers",
                    ),
                )
            )
        return solve(ir, method=METHODS[solver or "choose"], price_rows=price_rows)
    if backend == "pyomo":
        from pebdsl.backends.pyomo import solve as psolve

        return psolve(ir, solver=solver, price_rows=price_rows)
    raise PebdslError(
        error("E503", f"unknown backend `{backend}`", hints=(f"one of {', '.join(BACKENDS)}",))
    )


def attach_intervals(
    sol: Solution,
    iv: Any,
    rows_ir: IntArray,
    stats_time: float,
) -> None:
    """Store the intervals `iv` (backends.intervals.Intervals over `rows_ir`, in IR numbering)
    on the solution; `iv` None keeps the dual (no basis)."""
    sol.price_lo = sol.row_dual.copy()
    sol.price_hi = sol.row_dual.copy()
    if iv is None:
        sol.price_rule = "dual"
        return
    sol.price_lo[rows_ir] = iv.lo
    sol.price_hi[rows_ir] = iv.hi
    sol.price_rule = "midpoint"
    if iv.exact is not None:
        sol.price_inexact = np.asarray(rows_ir)[~iv.exact]
    sol.price_stats = {**iv.stats, "seconds": stats_time}
    sol.timings["price_intervals"] = stats_time


__all__ = ["BACKENDS", "Solution", "attach_intervals", "empty_solution", "solve_ir"]
