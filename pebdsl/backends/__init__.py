"""Backends: hand the model IR to a solver and bring back primal and dual values.

Input: a `ModelIR` and optionally `price_rows` (equality rows whose valid dual interval the
caller needs: market prices). Output: `Solution` (status, objective, x, row duals, the
backend's own timings, for infeasible models the IIS rows/columns, and for `price_rows` the
interval [`price_lo`, `price_hi`] of valid duals with the rule that applied, see
backends/intervals.py). Only this package imports highspy or Pyomo.
Raises PebdslError E503 when a requested backend or solver is unavailable.

`Backend` is the protocol every backend meets: `solve` (with optional price rows) and the two
re-solves the inversion needs — `solve_bounds` (the same model with some rows' bounds
replaced: the flexibility baseline) and `solve_elastic` (some rows made elastic, the sum of
slack minimised: the least violation behind an infeasibility hint). `get_backend(name,
solver)` returns one; the re-solves run on the chosen backend and solver (backends/relax.py
builds the modified IR, so every backend re-solves the same model it solved).

`Status` (a str enum, so JSON and `== "optimal"` keep working): optimal, infeasible,
unbounded, infeasible_or_unbounded, time_limit, iteration_limit, rejected (the solver refused
the model), error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import numpy as np

from pebdsl.diagnostics import PebdslError, error
from pebdsl.ir import FloatArray, IntArray, ModelIR

BACKENDS = ("highs", "pyomo")


class Status(StrEnum):
    """A solve's outcome; compares and serialises as its value ("optimal", …)."""

    OPTIMAL = "optimal"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    INFEASIBLE_OR_UNBOUNDED = "infeasible_or_unbounded"
    TIME_LIMIT = "time_limit"
    ITERATION_LIMIT = "iteration_limit"
    REJECTED = "rejected"
    ERROR = "error"


@dataclass
class Solution:
    """What a backend returns. Filled in by the backend; read-only for every later stage."""

    status: Status
    objective: float
    x: FloatArray
    row_dual: FloatArray
    timings: dict[str, float] = field(default_factory=dict)  # build (hand-off), solve (solver)
    iis_rows: list[int] = field(default_factory=list)
    iis_cols: list[int] = field(default_factory=list)
    ray: FloatArray | None = None  # primal ray of an unbounded model, when the solver has one
    solver: str = "highs"
    message: str = ""
    # Valid dual intervals of the requested price rows (n_rows arrays; other rows hold the
    # dual). "midpoint": computed from the basis (backends/intervals.py); "dual": no basis
    # (IPM/PDLP without crossover, a Pyomo solver other than HiGHS), lo = hi = the dual.
    price_lo: FloatArray | None = None
    price_hi: FloatArray | None = None
    price_rule: str = "dual"
    price_inexact: IntArray | None = None  # price rows whose interval kept a solver's side
    price_stats: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.status = Status(self.status)

    @property
    def ok(self) -> bool:
        return self.status == Status.OPTIMAL


def empty_solution(ir: ModelIR, status: Status | str, **kw: Any) -> Solution:
    return Solution(
        Status(status), float("nan"), np.full(ir.n_cols, np.nan), np.full(ir.n_rows, np.nan), **kw
    )


class Backend(Protocol):
    """A solver route for the IR (backends/highs.py, backends/pyomo.py)."""

    @property
    def name(self) -> str: ...
    @property
    def solver(self) -> str | None: ...

    def solve(self, ir: ModelIR, price_rows: IntArray | None = None) -> Solution:
        """Solve the IR; `price_rows` get their valid dual intervals."""
        ...

    def solve_bounds(
        self, ir: ModelIR, rows: IntArray, lower: FloatArray, upper: FloatArray
    ) -> Solution:
        """Solve the IR with the bounds of `rows` replaced by `lower` and `upper`."""
        ...

    def solve_elastic(self, ir: ModelIR, rows: IntArray, sign: FloatArray) -> Solution:
        """Minimise Σ slack with zero costs, row `rows[k]` relaxed by `sign[k]`·slack_k
        (slack ≥ 0); the slack is the solution's columns after the IR's own."""
        ...


@dataclass(frozen=True)
class IRBackend:
    """A backend that re-solves by building the modified IR (backends/relax.py) and solving it
    on itself: both re-solves run through the same code path as the first solve."""

    name: str
    solver: str | None = None

    def solve(self, ir: ModelIR, price_rows: IntArray | None = None) -> Solution:
        if self.name == "highs":
            from pebdsl.backends.highs import METHODS, solve

            return solve(ir, method=METHODS[self.solver or "choose"], price_rows=price_rows)
        from pebdsl.backends.pyomo import solve as psolve

        return psolve(ir, solver=self.solver, price_rows=price_rows)

    def solve_bounds(
        self, ir: ModelIR, rows: IntArray, lower: FloatArray, upper: FloatArray
    ) -> Solution:
        from pebdsl.backends.relax import with_row_bounds

        return self.solve(with_row_bounds(ir, rows, lower, upper))

    def solve_elastic(self, ir: ModelIR, rows: IntArray, sign: FloatArray) -> Solution:
        from pebdsl.backends.relax import elastic

        return self.solve(elastic(ir, rows, sign))


def get_backend(name: str = "highs", solver: str | None = None) -> Backend:
    """The backend `name` ("highs" or "pyomo", the latter with any solver Pyomo knows)."""
    if name == "highs":
        from pebdsl.backends.highs import METHODS

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
        return IRBackend("highs", solver)
    if name == "pyomo":
        return IRBackend("pyomo", solver)
    raise PebdslError(
        error("E503", f"unknown backend `{name}`", hints=(f"one of {', '.join(BACKENDS)}",))
    )


def solve_ir(
    ir: ModelIR,
    backend: str = "highs",
    solver: str | None = None,
    price_rows: IntArray | None = None,
) -> Solution:
    """Solve the IR with the chosen backend ("highs" or "pyomo", the latter with any solver)."""
    return get_backend(backend, solver).solve(ir, price_rows=price_rows)


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


__all__ = [
    "BACKENDS",
    "Backend",
    "Solution",
    "Status",
    "attach_intervals",
    "empty_solution",
    "get_backend",
    "solve_ir",
]
