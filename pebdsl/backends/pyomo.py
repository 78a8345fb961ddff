"""The Pyomo backend: a NAMED Pyomo ConcreteModel built from the same IR.

Input: a `ModelIR`. Output: `Solution` (same contract as backends/highs.py), or, through
`to_pyomo`, the model itself: one indexed `Var` per IR variable block and one indexed
`Constraint` per IR constraint block, each indexed by (entity, step) with the design's names
(`model.gi["alice", 3]`, `model.balance["alice", 3]`; dots in block names become `_`).

Solving: with the default solver (HiGHS) the model is compiled to matrices by
`pyomo.repn.plugins.standard_form.LinearStandardFormCompiler` (mixed form) and passed to
highspy with `Highs.passModel` — about 4x faster than Pyomo's persistent HiGHS interfaces at
10^5–10^6 variables; price rows get their valid dual intervals from that HiGHS instance, as
on the highs backend (backends/intervals.py). Any other solver name goes through
`SolverFactory(name)` with a `dual` Suffix, and price rows keep that dual (no basis to range:
price_rule "dual"). Rows are built vectorised from the IR's CSR matrix as `LinearExpression`s
(no expression trees from rules). Raises PebdslError E503 when the solver is unavailable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from pebdsl.backends.options import apply_highs
from pebdsl.backends.solution import Solution, Status, attach_intervals, empty_solution
from pebdsl.diagnostics import PebdslError, error
from pebdsl.ir import FloatArray, IntArray, ModelIR
from pebdsl.logs import stage

log = logging.getLogger(__name__)


def component_name(block: str) -> str:
    return block.replace(".", "_").replace("-", "_")


def to_pyomo(ir: ModelIR) -> tuple[Any, list[Any], list[Any]]:
    """(model, columns in IR order, constraint data in IR row order)."""
    from pyomo.common.gc_manager import PauseGC

    # Millions of small objects: the cyclic GC would rescan them all again and again.
    with PauseGC():
        return _to_pyomo(ir)


def _to_pyomo(ir: ModelIR) -> tuple[Any, list[Any], list[Any]]:
    import pyomo.environ as pyo
    from pyomo.core.expr.numeric_expr import LinearExpression

    m = pyo.ConcreteModel(name="pebdsl")
    cols: list[Any] = []
    lower = ir.col_lower()
    upper = ir.col_upper()
    for vb in ir.vars.values():
        steps = list(vb.step_labels) if vb.step_labels else list(range(vb.n_steps))
        index = [(e, s) for e in vb.entities for s in steps]
        var = pyo.Var(index, dense=True, within=pyo.Reals)
        m.add_component(component_name(vb.name), var)
        data = list(var.values())
        lo = lower[vb.start : vb.start + vb.size]
        up = upper[vb.start : vb.start + vb.size]
        for v, a, b in zip(data, lo.tolist(), up.tolist(), strict=True):
            v.setlb(None if a == -np.inf else a)
            v.setub(None if b == np.inf else b)
        cols.extend(data)
    a = ir.matrix().tocsr()
    indptr, indices, values = a.indptr, a.indices.tolist(), a.data.tolist()
    rlo, rup = ir.row_lower(), ir.row_upper()
    rows: list[Any] = []
    for cb in ir.cons.values():
        steps = list(cb.step_labels) if cb.step_labels else list(range(cb.n_steps))
        index = [(e, s) for e in cb.entities for s in steps]
        con = pyo.Constraint(index)
        m.add_component(component_name(cb.name), con)
        for k, key in enumerate(index):
            i = cb.start + k
            lo_i, up_i = float(rlo[i]), float(rup[i])
            p0, p1 = int(indptr[i]), int(indptr[i + 1])
            if (p0 == p1 and lo_i <= 0.0 <= up_i) or (lo_i == -np.inf and up_i == np.inf):
                # An empty row that holds (0 = 0), or a free row (a relaxed one, as the
                # flexibility baseline makes): Pyomo rejects both; neither constrains anything.
                continue
            expr = LinearExpression(
                constant=0.0,
                linear_coefs=values[p0:p1],
                linear_vars=[cols[j] for j in indices[p0:p1]],
            )
            if lo_i == up_i:
                con[key] = expr == lo_i
            else:
                con[key] = (
                    None if lo_i == -np.inf else lo_i,
                    expr,
                    None if up_i == np.inf else up_i,
                )
        # An IndexedConstraint has no .get(); rows skipped above (0 = 0) map to None.
        rows.extend(con[key] if key in con else None for key in index)  # noqa: SIM401
    cost = ir.cost()
    nz = np.flatnonzero(cost)
    m.objective = pyo.Objective(
        expr=LinearExpression(
            constant=float(ir.objective_offset),
            linear_coefs=cost[nz].tolist(),
            linear_vars=[cols[j] for j in nz.tolist()],
        ),
        sense=pyo.minimize,
    )
    return m, cols, rows


def solve(
    ir: ModelIR,
    solver: str | None = None,
    price_rows: IntArray | None = None,
    options: Mapping[str, Any] | None = None,
) -> Solution:
    """Solve the IR through a Pyomo model; `options` as backends/options.py describes."""
    log.info("hand-off: a Pyomo model of %d columns", ir.n_cols, extra=stage("hand-off"))
    t0 = time.perf_counter()
    model, cols, rows = to_pyomo(ir)
    t_model = time.perf_counter() - t0
    if solver in (None, "highs"):
        sol = _solve_standard_form(ir, model, cols, rows, price_rows, options or {})
    else:
        sol = _solve_factory(ir, model, cols, rows, solver, options or {})
        if sol.ok and price_rows is not None:
            # No basis to read: the solver's dual stands (price_rule "dual").
            attach_intervals(sol, None, np.asarray(price_rows), 0.0)
    sol.timings["build"] = sol.timings.get("build", 0.0) + t_model
    sol.timings["pyomo_model"] = t_model
    return sol


def _solve_standard_form(
    ir: ModelIR,
    model: Any,
    cols: list[Any],
    rows: list[Any],
    price_rows: IntArray | None = None,
    options: Mapping[str, Any] | None = None,
) -> Solution:
    """Compile to matrices and run HiGHS on them (the fast route)."""
    import highspy
    from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

    from pebdsl.backends.highs import run
    from pebdsl.backends.session import Rejected, new_highs, pass_model

    t0 = time.perf_counter()
    repn = LinearStandardFormCompiler().write(
        model, mixed_form=True, set_sense=None, column_order=cols
    )
    col_of = {id(v): j for j, v in enumerate(cols)}
    row_of = {id(c): i for i, c in enumerate(rows) if c is not None}
    colmap = np.fromiter((col_of[id(v)] for v in repn.columns), dtype=np.int64)
    a = repn.A.tocsc()
    n, r = a.shape[1], a.shape[0]
    sense = np.array([s for _, s in repn.rows], dtype=np.int64)
    rhs = np.asarray(repn.rhs, dtype=np.float64)
    # Mixed form: sense 0 is `==`, 1 is `<=`, -1 is `>=` (ranged rows appear twice).
    lo = np.where(sense <= 0, rhs, -np.inf)
    up = np.where(sense >= 0, rhs, np.inf)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, r
    lp.col_cost_ = np.asarray(repn.c.toarray()).ravel() if n else np.zeros(0)
    lp.offset_ = float(repn.c_offset[0]) if len(repn.c_offset) else 0.0
    lp.col_lower_ = ir.col_lower()[colmap]
    lp.col_upper_ = ir.col_upper()[colmap]
    lp.row_lower_ = lo
    lp.row_upper_ = up
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr.astype(np.int32)
    lp.a_matrix_.index_ = a.indices.astype(np.int32)
    lp.a_matrix_.value_ = a.data.astype(np.float64)
    h = new_highs()
    apply_highs(h, options or {})
    try:
        pass_model(h, lp)
    except Rejected as e:
        sol = empty_solution(ir, Status.REJECTED, message=str(e), solver="highs")
        sol.timings["build"] = time.perf_counter() - t0
        return sol
    t_build = time.perf_counter() - t0
    sub = run(h, n, r)
    rowmap = np.fromiter((row_of[id(c)] for c, _ in repn.rows), dtype=np.int64)
    x = np.zeros(ir.n_cols)
    # Columns Pyomo dropped (in no row and no objective) sit at a bound or zero.
    lo_c, up_c = ir.col_lower(), ir.col_upper()
    x[:] = np.clip(0.0, lo_c, up_c)
    y = np.zeros(ir.n_rows)
    if sub.ok:
        x[colmap] = sub.x
        np.add.at(y, rowmap, sub.row_dual)
    sol = Solution(
        sub.status,
        sub.objective,
        x if sub.ok else np.full(ir.n_cols, np.nan),
        y if sub.ok else np.full(ir.n_rows, np.nan),
        timings={"build": t_build, "solve": sub.timings.get("solve", 0.0)},
        solver="highs",
        message=sub.message,
        ray=None,
    )
    if sub.iis_rows or sub.iis_cols:
        sol.iis_rows = sorted({int(rowmap[i]) for i in sub.iis_rows})
        sol.iis_cols = sorted({int(colmap[j]) for j in sub.iis_cols})
    if sub.ray is not None:
        ray = np.zeros(ir.n_cols)
        ray[colmap] = sub.ray
        sol.ray = ray
    if sol.ok and price_rows is not None:
        _intervals(ir, h, sol, np.asarray(price_rows, dtype=np.int64), colmap, rowmap)
    return sol


def _intervals(
    ir: ModelIR,
    h: Any,
    sol: Solution,
    price_rows: IntArray,
    colmap: IntArray,
    rowmap: IntArray,
) -> None:
    """Valid dual intervals of the price rows, computed on the compiled LP (its own row and
    column order) and mapped back to the IR's rows."""
    from pebdsl.backends.intervals import compute, steps

    t0 = time.perf_counter()
    col_step, row_step = steps(ir)
    # The compiled LP's row of each IR price row (an equality row appears once; an empty
    # 0 = 0 row was dropped and keeps its dual, 0).
    sub_of = np.full(ir.n_rows, -1, dtype=np.int64)
    sub_of[rowmap] = np.arange(rowmap.size)
    sub_rows = sub_of[price_rows]
    keep = sub_rows >= 0
    iv = compute(h, sub_rows[keep], col_step[colmap], row_step[rowmap])
    if iv is not None:
        iv.rows = price_rows[keep]
    attach_intervals(sol, iv, price_rows[keep], time.perf_counter() - t0)


def _solve_factory(
    ir: ModelIR,
    model: Any,
    cols: list[Any],
    rows: list[Any],
    solver: str,
    options: Mapping[str, Any],
) -> Solution:
    """Any Pyomo solver: SolverFactory(name), duals through the `dual` Suffix; the options
    under the solver's own names, its log to `log_file` (backends/options.py)."""
    import pyomo.environ as pyo
    from pyomo.opt import TerminationCondition as TC

    from pebdsl.backends.options import pyomo_options

    opt = pyo.SolverFactory(solver)
    try:
        available = bool(opt.available(exception_flag=False))
    except Exception:
        available = False
    if not available:
        raise PebdslError(
            error(
                "E503",
                f"the solver `{solver}` is not available to Pyomo",
                hints=("install it, or use the default: --solver highs",),
            )
        )
    model.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT)
    opts, logfile = pyomo_options(solver, options)
    extra: dict[str, Any] = {"options": opts} if opts else {}
    if logfile:
        extra["logfile"] = logfile
    log.info("solve: %s through Pyomo", solver, extra=stage("solve"))
    t0 = time.perf_counter()
    try:
        res = opt.solve(model, load_solutions=False, **extra)
    except Exception as e:  # a solver plug-in may raise anything; E503 names it
        sol = empty_solution(
            ir, Status.ERROR, message=f"{type(e).__name__}: {e}"[:200], solver=solver
        )
        sol.timings["solve"] = time.perf_counter() - t0
        return sol
    t_solve = time.perf_counter() - t0
    tc = res.solver.termination_condition
    status = {
        TC.optimal: Status.OPTIMAL,
        TC.infeasible: Status.INFEASIBLE,
        TC.unbounded: Status.UNBOUNDED,
        TC.infeasibleOrUnbounded: Status.INFEASIBLE_OR_UNBOUNDED,
        TC.maxTimeLimit: Status.TIME_LIMIT,
        TC.maxIterations: Status.ITERATION_LIMIT,
    }.get(tc, Status.ERROR)
    if status != Status.OPTIMAL:
        return Solution(
            status,
            float("nan"),
            np.full(ir.n_cols, np.nan),
            np.full(ir.n_rows, np.nan),
            timings={"solve": t_solve},
            solver=solver,
            message=str(tc),
        )
    model.solutions.load_from(res)
    x = np.array([v.value if v.value is not None else 0.0 for v in cols], dtype=np.float64)
    y: FloatArray = np.array(
        [model.dual.get(c, 0.0) if c is not None else 0.0 for c in rows], dtype=np.float64
    )
    obj = float(pyo.value(model.objective))
    return Solution(Status.OPTIMAL, obj, x, y, timings={"solve": t_solve}, solver=solver)


def write_model(ir: ModelIR, path: str) -> None:
    """Write LP/MPS through Pyomo with symbolic labels (names read as the design's)."""
    model, _, _ = to_pyomo(ir)
    fmt = "mps" if path.endswith(".mps") else "lp"
    model.write(path, format=fmt, io_options={"symbolic_solver_labels": True})
