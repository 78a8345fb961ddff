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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pebdsl.backends.solution import Solution, Status, attach_intervals, empty_solution
from pebdsl.diagnostics import PebdslError, error
from pebdsl.ir import FloatArray, IntArray, ModelIR

BACKENDS = ("highs", "pyomo")


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
    # Solver options (backends/options.py), as (name, value) pairs: the dataclass stays frozen.
    options: tuple[tuple[str, Any], ...] = ()
    # The temporal warm start of the HiGHS simplex (backends/warm.py): off, auto or `2d`.
    warm: str = "auto"

    def solve(self, ir: ModelIR, price_rows: IntArray | None = None) -> Solution:
        opts = dict(self.options)
        if self.name == "highs":
            from pebdsl.backends.highs import METHODS, solve

            method = METHODS[self.solver or "choose"]
            return solve(ir, method, price_rows, opts, self.warm)
        from pebdsl.backends.pyomo import solve as psolve

        return psolve(ir, solver=self.solver, price_rows=price_rows, options=opts)

    def solve_bounds(
        self, ir: ModelIR, rows: IntArray, lower: FloatArray, upper: FloatArray
    ) -> Solution:
        from pebdsl.backends.relax import with_row_bounds

        return self.solve(with_row_bounds(ir, rows, lower, upper))

    def solve_elastic(self, ir: ModelIR, rows: IntArray, sign: FloatArray) -> Solution:
        from pebdsl.backends.relax import elastic

        return self.solve(elastic(ir, rows, sign))


def get_backend(
    name: str = "highs",
    solver: str | None = None,
    options: Mapping[str, Any] | None = None,
    warm: str = "auto",
) -> Backend:
    """The backend `name` ("highs" or "pyomo", the latter with any solver Pyomo knows), with
    solver `options` (backends/options.py; E507 now for one HiGHS refuses) and, on HiGHS, the
    temporal warm start `warm` (backends/warm.py: off, auto or a chunk length; E507 otherwise)."""
    from pebdsl.backends.warm import parse

    opts = tuple((options or {}).items())
    warm = parse(warm)
    if options and (name == "highs" or solver in (None, "highs")):
        from pebdsl.backends.options import check_highs

        check_highs(options)
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
        return IRBackend("highs", solver, opts, warm)
    if name == "pyomo":
        return IRBackend("pyomo", solver, opts)
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
