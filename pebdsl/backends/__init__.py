"""Backends: hand the model IR to a solver and bring back primal and dual values.

Input: a `ModelIR`. Output: `Solution` (status, objective, x, row duals, the backend's own
timings, and — for infeasible models — the IIS rows/columns). Only this package imports
highspy or Pyomo. Raises PebdslError E503 when a requested backend or solver is unavailable.

Status strings (linopy-style): "optimal", "infeasible", "unbounded", "infeasible_or_unbounded",
"time_limit", "error".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pebdsl.diagnostics import PebdslError, error
from pebdsl.ir import FloatArray, ModelIR

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

    @property
    def ok(self) -> bool:
        return self.status == "optimal"


def empty_solution(ir: ModelIR, status: str, **kw: Any) -> Solution:
    return Solution(
        status, float("nan"), np.full(ir.n_cols, np.nan), np.full(ir.n_rows, np.nan), **kw
    )


def solve_ir(ir: ModelIR, backend: str = "highs", solver: str | None = None) -> Solution:
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
        return solve(ir, method=METHODS[solver or "choose"])
    if backend == "pyomo":
        from pebdsl.backends.pyomo import solve as psolve

        return psolve(ir, solver=solver)
    raise PebdslError(
        error("E503", f"unknown backend `{backend}`", hints=(f"one of {', '.join(BACKENDS)}",))
    )


__all__ = ["BACKENDS", "Solution", "empty_solution", "solve_ir"]
