"""The HiGHS backend: the IR's CSC matrix straight into highspy (`Highs.passModel`).

Input: a `ModelIR` (and optionally price rows). Output: `Solution` with primal values, row
duals (`getSolution().row_dual`, HiGHS's sign: d objective / d row bound, so a balance
`… = load` has a positive dual), the valid dual interval of each price row when the solve left
a simplex basis (backends/intervals.py; time in `timings["price_intervals"]`), the
hand-off (`build`) and solver (`solve`) times, and for an infeasible model the IIS
(`Highs.getIis()`), for an unbounded one the primal ray. No banner, no log (`output_flag`
False). Raises nothing while solving: the status says what happened (invert/diagnose.py turns it
into E5xx). Every HiGHS call that returns a `HighsStatus` is checked: a model HiGHS refuses to take
(`passModel` kError, e.g. a matrix value beyond its 1e15 limit or a NaN bound) is status
"rejected" (E504), a failed `run` is "error" (E503), and `kModelEmpty` counts as optimal only
for a model that really has no columns. `write_model` raises E504 when the model is refused.
`solve(..., warm=…)` starts the simplex from the temporal warm start's basis (backends/warm.py;
time in `timings["warm_start"]`), falling back to the cold solve when there is none or when the
warm run ends infeasible or unbounded (so the diagnosis is the cold one's).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import highspy
import numpy as np

from pebdsl.backends.options import apply_highs
from pebdsl.backends.session import Rejected, new_highs, pass_model
from pebdsl.backends.solution import Solution, Status, attach_intervals, empty_solution
from pebdsl.ir import FloatArray, IntArray, ModelIR
from pebdsl.logs import stage

log = logging.getLogger(__name__)

_STATUS = {
    "kOptimal": Status.OPTIMAL,
    "kInfeasible": Status.INFEASIBLE,
    "kUnbounded": Status.UNBOUNDED,
    "kUnboundedOrInfeasible": Status.INFEASIBLE_OR_UNBOUNDED,
    "kTimeLimit": Status.TIME_LIMIT,
    "kIterationLimit": Status.ITERATION_LIMIT,
    "kModelEmpty": Status.OPTIMAL,
}


def to_highs_lp(
    ir: ModelIR, names: bool = False, cost: FloatArray | None = None
) -> highspy.HighsLp:
    """The IR as a HighsLp (column-wise matrix); `names` adds LP-safe row and column names."""
    a = ir.matrix()
    lp = highspy.HighsLp()
    lp.num_col_ = ir.n_cols
    lp.num_row_ = ir.n_rows
    lp.col_cost_ = ir.cost() if cost is None else cost
    lp.col_lower_ = ir.col_lower()
    lp.col_upper_ = ir.col_upper()
    lp.row_lower_ = ir.row_lower()
    lp.row_upper_ = ir.row_upper()
    lp.offset_ = ir.objective_offset
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr.astype(np.int32)
    lp.a_matrix_.index_ = a.indices.astype(np.int32)
    lp.a_matrix_.value_ = a.data
    if names:
        lp.col_names_ = ir.col_names(lp_safe=True)
        lp.row_names_ = ir.row_names(lp_safe=True)
    return lp


def load(
    ir: ModelIR, names: bool = False, options: Mapping[str, Any] | None = None
) -> highspy.Highs:
    h = new_highs()
    apply_highs(h, options or {})
    pass_model(h, to_highs_lp(ir, names=names))
    return h


# HiGHS's LP methods, selectable with `--solver` on the highs backend. The default leaves the
# choice to HiGHS (dual simplex after presolve), which measured fastest on year-long models:
# Trondheim, 8760 h (1.1 M columns): choose 35 s, ipm 231 s; benchmarks/model_speed.py, 8760 h
# (2.2 M columns): choose 180 s, ipm 237 s. The interior-point method wins on mid-sized models
# (30 days x 30 participants: ipm 2.8 s, choose 5.1 s), so it stays one option away.
METHODS = {
    "highs": "choose",
    "choose": "choose",
    "simplex": "simplex",
    "ipm": "ipm",
    "pdlp": "pdlp",
}


def run(h: highspy.Highs, n_cols: int, n_rows: int, method: str = "choose") -> Solution:
    """Run HiGHS on a loaded model and read the solution back."""
    log.info("solve: HiGHS (method %s)", method, extra=stage("solve"))
    h.setOptionValue("solver", method)
    t0 = time.perf_counter()
    status = _run_status(h, n_cols)
    if status == Status.INFEASIBLE_OR_UNBOUNDED:
        # Presolve cannot tell the two apart; the simplex without presolve can.
        h.setOptionValue("presolve", "off")
        status = _run_status(h, n_cols)
    t_solve = time.perf_counter() - t0
    if status != Status.OPTIMAL:
        sol = _empty(n_cols, n_rows, status)
        sol.timings["solve"] = t_solve
        sol.message = h.modelStatusToString(h.getModelStatus())
        if status == Status.INFEASIBLE:
            sol.iis_rows, sol.iis_cols = iis(h)
        elif status == Status.UNBOUNDED:
            try:
                _, has, ray = h.getPrimalRay()  # type: ignore[attr-defined]
                if has:
                    sol.ray = np.asarray(ray, dtype=np.float64)
            except Exception:  # a missing ray only weakens the diagnostic
                pass
        return sol
    s = h.getSolution()
    x = np.asarray(s.col_value, dtype=np.float64)
    y = np.asarray(s.row_dual, dtype=np.float64)
    if x.shape != (n_cols,) or y.shape != (n_rows,):
        sol = _empty(n_cols, n_rows, Status.ERROR)
        sol.timings["solve"] = time.perf_counter() - t0
        sol.message = f"HiGHS returned {len(x)} values for {n_cols} columns"
        return sol
    obj = float(h.getInfo().objective_function_value)
    return Solution(Status.OPTIMAL, obj, x, y, timings={"solve": t_solve})


def _run_status(h: highspy.Highs, n_cols: int) -> Status:
    """Run HiGHS; its model status as a backend status ("error" when `run` itself failed)."""
    if h.run() == highspy.HighsStatus.kError:
        return Status.ERROR
    name = h.getModelStatus().name
    if name == "kModelEmpty" and n_cols > 0:
        return Status.ERROR  # the model HiGHS holds is not the one passed
    return _STATUS.get(name, Status.ERROR)


def _empty(n_cols: int, n_rows: int, status: Status) -> Solution:
    return Solution(status, float("nan"), np.full(n_cols, np.nan), np.full(n_rows, np.nan))


def iis(h: highspy.Highs) -> tuple[list[int], list[int]]:
    """Rows and columns of an irreducible infeasible subsystem (HiGHS >= 1.10 `getIis`)."""
    try:
        # A bit mask: from the LP (2) and reduced to an irreducible set (4). The default
        # ("light") only finds rows that are infeasible on their own bounds.
        h.setOptionValue(
            "iis_strategy",
            int(highspy.IisStrategy.kIisStrategyFromLp)
            | int(highspy.IisStrategy.kIisStrategyIrreducible),
        )
        status, res = h.getIis()
    except Exception:
        return [], []
    if status == highspy.HighsStatus.kError:
        return [], []
    return [int(i) for i in res.row_index_], [int(j) for j in res.col_index_]


def solve(
    ir: ModelIR,
    method: str = "choose",
    price_rows: IntArray | None = None,
    options: Mapping[str, Any] | None = None,
    warm: str = "off",
) -> Solution:
    """Solve the IR on HiGHS; `warm` (backends/warm.py: off, auto, 2d, …) starts the simplex
    from the basis of the IR's time chunks solved alone."""
    log.info(
        "hand-off: %d columns, %d rows to HiGHS", ir.n_cols, ir.n_rows, extra=stage("hand-off")
    )
    t0 = time.perf_counter()
    try:
        h = load(ir, options=options)
    except Rejected as e:
        sol = empty_solution(ir, Status.REJECTED, message=str(e))
        sol.timings["build"] = time.perf_counter() - t0
        return sol
    t_build = time.perf_counter() - t0
    if ir.n_cols == 0:
        sol = empty_solution(ir, Status.OPTIMAL)
        sol.objective = ir.objective_offset
        sol.timings["build"] = t_build
        return sol
    sol = _run_warm(h, ir, method, warm, options or {})
    log.debug("HiGHS: %s in %.2f s", sol.status.value, sol.timings.get("solve", 0.0))
    sol.timings["build"] = t_build
    if sol.ok and price_rows is not None:
        from pebdsl.backends.intervals import compute, steps

        t0 = time.perf_counter()
        col_step, row_step = steps(ir)
        iv = compute(h, price_rows, col_step, row_step)
        attach_intervals(sol, iv, np.asarray(price_rows), time.perf_counter() - t0)
    return sol


def _run_warm(
    h: highspy.Highs, ir: ModelIR, method: str, warm: str, options: Mapping[str, Any]
) -> Solution:
    """`run`, from the temporal warm start's basis where it applies (the simplex: `choose`
    runs it for LPs). A warm run that ends neither optimal nor at a limit is run again cold,
    so an infeasible or unbounded model is diagnosed as always."""
    from pebdsl.backends import warm as warm_start

    limit = options.get("time_limit")
    limit = None if limit is None else float(limit)
    t0 = time.perf_counter()

    def within_limit() -> Solution:
        if limit is not None:  # the chunks' time counts against the caller's limit
            h.setOptionValue("time_limit", max(limit - (time.perf_counter() - t0), 0.0))
        return run(h, ir.n_cols, ir.n_rows, method)

    if method not in ("choose", "simplex") or warm == "off":
        return run(h, ir.n_cols, ir.n_rows, method)
    stats = warm_start.start(h, ir, warm, limit)
    if stats is None:
        return within_limit()
    spent = time.perf_counter() - t0
    sol = within_limit()  # from the warm basis `start` gave `h`
    if sol.ok:
        # The optimal basis factorised afresh (0 iterations): after the warm run's updates the
        # price intervals' ranging took twice as long (30 days: 1.10 s, 0.52 s after a 0.04 s
        # refactorisation). The solution is read again from the refactorised run.
        first = sol.timings["solve"]
        if h.setBasis(h.getBasis()) != highspy.HighsStatus.kError:
            sol = within_limit()
            sol.timings["solve"] = sol.timings.get("solve", 0.0) + first
    if sol.status in (Status.TIME_LIMIT, Status.ITERATION_LIMIT) or sol.ok:
        sol.timings["warm_start"] = spent
        return sol
    log.debug("warm start ended %s: solving cold", sol.status.value)
    h.clearSolver()
    return within_limit()


def write_model(ir: ModelIR, path: str) -> None:
    """Write the model as LP or MPS (by extension) with the design's names."""
    from pebdsl.diagnostics import PebdslError, error

    try:
        h = load(ir, names=True)
    except Rejected as e:
        raise PebdslError(error("E504", str(e))) from None
    if h.writeModel(path) == highspy.HighsStatus.kError:
        raise PebdslError(error("E504", f"HiGHS could not write the model to {path}"))
