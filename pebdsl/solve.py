"""Solve one design: the only composer of the back half of the pipeline.

    lower -> backend -> invert -> settle -> kpis -> notes -> Results

Input: a validated `Design`, the backend ("highs" | "pyomo", or a `Backend` object such as
backends.split.SplitBackend), the solver (a HiGHS method on the highs backend, any Pyomo solver
on pyomo) and the price rule for degenerate local prices ("midpoint" of the valid dual
interval, or "dual"), and solver options (`solver_options`: `time_limit` in seconds, `threads`,
`log_file` for the solver's own log, any HiGHS option by name; pebdsl/backends/options.py), and
the HiGHS simplex's temporal warm start (`warm`: off, auto or a chunk length,
pebdsl/backends/warm.py). Output: a frozen `Results` (pebdsl/results.py) with timings per stage
(parse and resolve from the design, lower, build, warm_start when it ran, solve,
price_intervals, extract, settle, kpis, notes). Raises `PebdslError`: E501 infeasible, E502
unbounded, E503 solver failure, unknown backend or price rule, E504 a model the solver refused
to take, E506 the solver stopped at its time or iteration limit before an optimum (no bills are
made from a solution that is not optimal), E507 a solver option the solver refuses
(pebdsl/invert/diagnose.py, backends/options.py), E604 a time-aggregated design
(`design.periods`, pebdsl/aggregate.py) whose model a typical day cannot stand for. Logs each
stage (lower, settle; the backend logs hand-off and solve) to the `pebdsl.solve` logger at INFO
with `extra=logs.stage(...)`.

Every re-solve (flexibility baseline, elastic relaxation for an infeasibility hint) runs on
the chosen backend and solver. Heavy modules are imported inside `solve`, so `import pebdsl`
(which binds `pebdsl.solve` to this function) stays light for `pebdsl check` and `fmt`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from pebdsl.diagnostics import PebdslError, error
from pebdsl.logs import stage

if TYPE_CHECKING:
    from pebdsl.backends import Backend, Solution
    from pebdsl.design import Design
    from pebdsl.ir import ModelIR
    from pebdsl.results import Results

log = logging.getLogger(__name__)

# How degenerate local prices are chosen (docs/model.md "Extraction and settlement").
PRICE_RULES = ("midpoint", "dual")
# HiGHS's method for a time-aggregated design (`--aggregate`) unless one is asked for: the
# interior point with crossover (a basis for the prices). The dual simplex struggles with the
# typical periods chained by the inter-period storage rows (a year of model_speed on 12 typical
# days: 10.3 s vs 73.7 s; on 48: 70.7 s vs 811.9 s, the same objective).
AGGREGATED_METHOD = "ipm"


def solve(
    design: Design,
    backend: str | Backend = "highs",
    solver: str | None = None,
    prices: str = "midpoint",
    solver_options: Mapping[str, Any] | None = None,
    warm: str = "auto",
) -> Results:
    """Compile, solve, settle and score one design (see the module docstring).

    `solver_options`, e.g. `{"time_limit": 60, "threads": 2, "log_file": "highs.log"}`, go to
    the solver on either backend (HiGHS's option names; E507 for one it refuses). `warm`: the
    HiGHS simplex's temporal warm start (backends/warm.py; "off", "auto" or e.g. "2d")."""
    from pebdsl.backends import get_backend, mip
    from pebdsl.invert import diagnose, price_rows
    from pebdsl.invert.diagnose import limit_error
    from pebdsl.lower import lower

    check_price_rule(prices)
    # A Backend object is used as given (e.g. backends.split.SplitBackend); `solver` then
    # belongs to it, and so would solver options: it takes none (E507 rather than ignored).
    if not isinstance(backend, str) and solver_options:
        raise PebdslError(
            error(
                "E507",
                f"solver options go with a backend name, not a `{type(backend).__name__}`",
                hints=("solve with backend='highs' or 'pyomo' to pass solver options",),
            )
        )
    method = solver
    if design.periods is not None and solver is None and backend == "highs":
        method = AGGREGATED_METHOD  # typical days: the IPM is 7-11x faster (docs/scale.md)
    be = get_backend(backend, method, solver_options, warm) if isinstance(backend, str) else backend
    timings: dict[str, float] = {}
    log.info("lower: %s (%s)", design.title, design.variant or "base", extra=stage("lower"))
    t0 = time.perf_counter()
    ir = lower(design)
    timings["lower"] = time.perf_counter() - t0
    log.debug("lowered in %.2f s: %s", timings["lower"], ir.stats())
    if design.periods is not None:  # typical periods (`--aggregate`, pebdsl/aggregate.py)
        from pebdsl.aggregate import weigh

        weigh(design, ir)
    # Integer columns (stepped capacity charges): solve the MIP and fix them; the LP below then
    # has the same optimum and duals for prices and settlement (pebdsl.backends.mip, note N105).
    mip_record = mip.fix_integers(ir, solver_options)
    if mip_record is not None:
        timings["mip"] = float(mip_record.get("seconds", 0.0))
        if mip_record.get("status") == "time_limit":
            raise limit_error(design, "time_limit", "in the MIP of the stepped capacity charges")
    sol = be.solve(ir, price_rows=price_rows(ir) if prices == "midpoint" else None)
    for k in ("build", "warm_start", "solve", "price_intervals", "split", "longest_part"):
        if k in sol.timings or k in ("build", "solve"):
            timings[k] = sol.timings.get(k, 0.0)
    record = None
    if design.periods is not None:
        from pebdsl.aggregate import unweigh

        record = unweigh(design, ir, sol)
    if not sol.ok:
        raise diagnose(design, ir, sol, be)
    results = read_solution(design, ir, sol, be, timings, backend, mip.note(mip_record))
    if record is None:
        return results
    from pebdsl.aggregate import against_full

    run = partial(solve, backend=backend, solver=solver, prices=prices, warm=warm)
    record = against_full(design, record, time.perf_counter() - t0, run)
    return replace(results, aggregation=record)


def check_price_rule(prices: str) -> None:
    """E503 for a price rule other than PRICE_RULES (shared with pebdsl.stochastic)."""
    if prices not in PRICE_RULES:
        raise PebdslError(
            error(
                "E503",
                f"unknown price rule `{prices}`",
                hints=(f"one of {', '.join(PRICE_RULES)}",),
            )
        )


def read_solution(
    design: Design,
    ir: ModelIR,
    sol: Solution,
    be: Backend,
    timings: dict[str, float],
    backend: str | Backend,
    extra_notes: Sequence[dict[str, Any]] = (),
) -> Results:
    """invert -> settle -> kpis -> notes of an optimal solution of `lower(design)`: also how a
    stochastic solve reads each scenario's part of its extensive form (pebdsl.stochastic)."""
    from pebdsl.invert import invert
    from pebdsl.kpis import ScoreInput, score
    from pebdsl.notes import find_notes
    from pebdsl.results import Results, RunInfo
    from pebdsl.settle import settle

    timings = dict(timings)
    log.info("settle: %s, objective %.6g", sol.status.value, sol.objective, extra=stage("settle"))
    t0 = time.perf_counter()
    dispatch, trades = invert(design, ir, sol, be)
    timings["extract"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    settlement = settle(design, ir, sol, dispatch, trades, float(sol.objective))
    timings["settle"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    inp = ScoreInput(
        design,
        dispatch,
        settlement.bills,
        float(sol.objective),
        settlement.shadow_cost,
        trades.price_rules,
    )
    scores = score(inp)
    timings["kpis"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    notes = (*find_notes(design, dispatch, trades), *extra_notes)
    timings["notes"] = time.perf_counter() - t0
    return Results(
        design=design,
        status=sol.status,
        objective=float(sol.objective),
        dispatch=dispatch,
        trades=trades.tables,
        settlement=settlement,
        scores=scores,
        notes=notes,
        # Front-end stages (parse, resolve) were timed by pebdsl.load.load.
        run=RunInfo(ir.stats(), {**design.timings, **timings}, be.name, sol.solver),
        traded=trades,
        ir=ir,
    )
