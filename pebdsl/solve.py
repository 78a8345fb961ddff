"""Solve one design: the only composer of the back half of the pipeline.

    lower -> backend -> invert -> settle -> kpis -> notes -> Results

Input: a validated `Design`, the backend ("highs" | "pyomo", or a `Backend` object such as
backends.split.SplitBackend), the solver (a HiGHS method on
the highs backend, any Pyomo solver on pyomo) and the price rule for degenerate local prices
("midpoint" of the valid dual interval, or "dual"). Output: a frozen `Results`
(pebdsl/results.py) with timings per stage (parse and resolve from the design, lower, build,
solve, price_intervals, extract, settle, kpis, notes). Raises `PebdslError`: E501 infeasible,
E502 unbounded, E503 solver failure, unknown backend or price rule, E504 a model the solver
refused to take (pebdsl/invert/diagnose.py); E604 a time-aggregated design (`design.periods`,
pebdsl/aggregate.py) whose model a typical day cannot stand for.

Every re-solve (flexibility baseline, elastic relaxation for an infeasibility hint) runs on
the chosen backend and solver. Heavy modules are imported inside `solve`, so `import pebdsl`
(which binds `pebdsl.solve` to this function) stays light for `pebdsl check` and `fmt`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from pebdsl.diagnostics import PebdslError, error

if TYPE_CHECKING:
    from pebdsl.backends import Backend, Solution
    from pebdsl.design import Design
    from pebdsl.ir import ModelIR
    from pebdsl.results import Results

# How degenerate local prices are chosen (docs/model.md "Extraction and settlement").
PRICE_RULES = ("midpoint", "dual")


def solve(
    design: Design,
    backend: str | Backend = "highs",
    solver: str | None = None,
    prices: str = "midpoint",
) -> Results:
    """Compile, solve, settle and score one design (see the module docstring)."""
    from pebdsl.backends import get_backend, mip
    from pebdsl.invert import diagnose, price_rows
    from pebdsl.lower import lower

    if prices not in PRICE_RULES:
        raise PebdslError(
            error(
                "E503",
                f"unknown price rule `{prices}`",
                hints=(f"one of {', '.join(PRICE_RULES)}",),
            )
        )
    # A Backend object is used as given (e.g. backends.split.SplitBackend); `solver` then
    # belongs to it.
    be = get_backend(backend, solver) if isinstance(backend, str) else backend
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    ir = lower(design)
    timings["lower"] = time.perf_counter() - t0
    if design.periods is not None:  # typical periods (`--aggregate`, pebdsl/aggregate.py)
        from pebdsl.aggregate import weigh

        weigh(design, ir)
    # Integer columns (stepped capacity charges): solve the MIP and fix them; the LP below then
    # has the same optimum and duals for prices and settlement (pebdsl.backends.mip, note N105).
    mip_record = mip.fix_integers(ir)
    if mip_record is not None:
        timings["mip"] = float(mip_record.get("seconds", 0.0))
    sol = be.solve(ir, price_rows=price_rows(ir) if prices == "midpoint" else None)
    for k in ("build", "solve", "price_intervals", "split", "longest_part"):
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

    run = partial(solve, backend=backend, solver=solver, prices=prices)
    record = against_full(design, record, time.perf_counter() - t0, run)
    return replace(results, aggregation=record)


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
