"""What a backend brings back: the `Status` of a solve and its `Solution`.

A leaf of the backends room: `highs.py`, `pyomo.py` and the package's `Backend` protocol all
import it, and it imports none of them (so the room has no import cycle). `Status` is a str
enum, so JSON and `== "optimal"` keep working. Raises nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from pebdsl.ir import FloatArray, IntArray, ModelIR


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
