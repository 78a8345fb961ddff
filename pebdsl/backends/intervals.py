"""Valid dual intervals of chosen equality rows: [left, right] derivative of the optimum.

Input: a HiGHS instance holding an optimally solved LP with a simplex basis, the rows to price
(equality rows, indices into that LP) and the time step of every column and row (−1 for
columns and rows that belong to no single step, such as monthly peaks). Output: `Intervals`
(`lo`, `hi` per requested row, the rule that applied and counters), or `None` when the solve
left no basis (IPM or PDLP without crossover): the caller then keeps the solver's dual.
Raises nothing.

Why: when a market clears exactly at a kink, every price in an interval is a valid dual and
HiGHS returns one endpoint of its choice. The interval of row i is the projection of the set
of optimal duals onto y_i, i.e. [v'(b; −e_i)·(−1), v'(b; e_i)] for the optimal value v(b).

How, in two stages:
1. `Highs.getRanging()`: `row_bound_up/dn.value_` is how far the row's right-hand side can
   move before the current basis stops being optimal. Over a range of positive length the
   objective is linear with slope y_i (the current dual), so that side's derivative is y_i.
   Only a side of zero length (a degenerate basis: a basic variable sits at its bound) can
   have another derivative; ranging alone does not tell it (`objective_` there is the current
   objective), so such sides are *candidates*.
2. For a candidate, the one-sided derivative v'(b; ±e_i) = min c·dx over directions dx that
   stay feasible at x* (dx_j ≥ 0 at a lower bound, ≤ 0 at an upper bound, free in between;
   tight inequality rows one-sided, slack rows dropped) with A·dx = ±e_i: a *cone LP* whose
   dual is max/min y_i over the optimal dual set. First all candidates of one side share one
   cone LP over the whole horizon (right-hand side ±Σ e_i, in `h` itself from its optimal
   basis; `_bulk_in_place`), certified row by row by that LP's ranging; the rest (few or
   none in practice) get their own cone LP, solved on a time window around the
   row's step (columns outside fixed, dx = 0), which can only widen the interval; the
   window's dual y_W, completed by y* outside, is an optimal dual of the whole LP if the
   columns at the window's edge keep their reduced-cost signs — then the window's value is
   exact (a certificate). A window whose cone LP is infeasible proves the side unbounded (the
   window's LP relaxes the whole one), whatever its width. Otherwise the window grows (4, 16,
   64, 256 steps on each side), up to `max_window` steps; past it the side keeps the solver's
   dual and counts as `unresolved`. Columns of no step of their own (a day's peak, a
   flexible-load window) join the windows at the middle of their rows' steps (`localise`).
Cost: two warm-started LP solves plus three rangings whatever the number of degenerate
sides; the per-row windows are small (a few steps) and share windows and warm starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import highspy
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from pebdsl.ir import FloatArray, IntArray, ModelIR

BoolArray = npt.NDArray[np.bool_]

_TOL_RANGE = 1e-9  # a range shorter than this (relative) is a degenerate side
_TOL_BOUND = 1e-7  # HiGHS's primal feasibility tolerance: a value this close sits at its bound
_TOL_DUAL = 1e-7  # HiGHS's dual feasibility tolerance, for the certificate
MAX_WINDOW = 513  # steps; wider windows leave the side at the solver's dual
# A window spans FIRST_WINDOW steps on each side of the row, then GROWTH times more while the
# answer is not certified: each failed window costs a solve, so few, quickly growing ones.
FIRST_WINDOW = 4
GROWTH = 4
# A column of no step of its own whose rows lie within this many steps joins the windows at
# their middle step (`localise`): a day at 15-minute steps is 96 steps.
LOCAL_SPAN = 128


@dataclass
class Intervals:
    rows: IntArray
    lo: FloatArray  # left derivative (the smallest valid dual)
    hi: FloatArray  # right derivative (the largest valid dual)
    stats: dict[str, float] = field(default_factory=dict)
    exact: BoolArray | None = None  # per row: False where a side kept the solver's dual


def compute(
    h: highspy.Highs,
    rows: IntArray,
    col_step: IntArray,
    row_step: IntArray,
    max_window: int = MAX_WINDOW,
) -> Intervals | None:
    """The valid dual interval of each row in `rows` (see the module docstring)."""
    rows = np.asarray(rows, dtype=np.int64)
    if h.getInfo().basis_validity != 1:
        return None
    status, rng = h.getRanging()
    if status != highspy.HighsStatus.kOk:
        return None
    sol = h.getSolution()
    y = np.asarray(sol.row_dual, dtype=np.float64)
    lo = y[rows].copy()
    hi = y[rows].copy()
    exact = np.ones(rows.size, dtype=bool)
    stats: dict[str, float] = {
        "rows": float(rows.size),
        "candidates": 0.0,
        "cone_lps": 0.0,
        "widened": 0.0,
        "unresolved": 0.0,
        "unbounded": 0.0,
    }
    if rows.size == 0:
        return Intervals(rows, lo, hi, stats, exact)
    act = np.asarray(sol.row_value, dtype=np.float64)
    scale = np.maximum(1.0, np.abs(act[rows]))
    up_len = np.asarray(rng.row_bound_up.value_, dtype=np.float64)[rows] - act[rows]
    dn_len = act[rows] - np.asarray(rng.row_bound_dn.value_, dtype=np.float64)[rows]
    # A ranging holds every column's and row's ranges (~0.6 GB at a year of 30 participants):
    # freed before the cone LPs' own rangings, so no two are alive at once.
    del rng
    cand_up = up_len <= _TOL_RANGE * scale
    cand_dn = dn_len <= _TOL_RANGE * scale
    stats["candidates"] = float(cand_up.sum() + cand_dn.sum())
    if not (cand_up.any() or cand_dn.any()):
        return Intervals(rows, lo, hi, stats, exact)
    cone = _Cone(h, sol, y, np.asarray(col_step), np.asarray(row_step))
    # Stage 2a: one whole-horizon cone LP per side settles most candidates at once, solved in
    # `h` itself (bounds changed in place, from the optimal basis; restored afterwards).
    bulk = _bulk_in_place(h, cone, rows, ((1, cand_up), (-1, cand_dn)))
    for side, cand in ((1, cand_up), (-1, cand_dn)):
        ks = np.flatnonzero(cand)
        if not ks.size:
            continue
        stats["cone_lps"] += 1.0
        res = bulk.get(side)
        if res is None:
            continue
        done, val = res
        stats["bulk"] = stats.get("bulk", 0.0) + float(done.sum())
        if side > 0:
            hi[ks[done]] = val[done]
        else:
            lo[ks[done]] = val[done]
        cand[ks[done]] = False
    by_step: dict[int, list[tuple[int, int]]] = {}
    for k in np.flatnonzero(cand_up | cand_dn).tolist():
        st = int(row_step[rows[k]])
        if cand_up[k]:
            by_step.setdefault(st, []).append((k, 1))
        if cand_dn[k]:
            by_step.setdefault(st, []).append((k, -1))
    for st, todo in by_step.items():
        _windows(cone, st, todo, rows, (lo, hi, exact), stats, max_window)
    return Intervals(rows, lo, hi, stats, exact)


def _windows(
    cone: _Cone,
    st: int,
    todo: list[tuple[int, int]],
    rows: IntArray,
    out: tuple[FloatArray, FloatArray, npt.NDArray[np.bool_]],
    stats: dict[str, float],
    max_window: int,
) -> None:
    """Stage 2b: the candidates (k, side) of step `st` the bulk LP left, on cone windows
    around the step that grow until each answer is certified (or MAX_WINDOW is reached:
    `exact` False, the solver's side kept). Writes into `out` = (lo, hi, exact)."""
    lo, hi, exact = out
    width = FIRST_WINDOW
    while todo:
        win = cone.window(st, width)
        stats["cone_lps"] += 1.0
        left: list[tuple[int, int]] = []
        for kk, side in todo:
            got = win.derivative(int(rows[kk]), side)
            if got is None:  # the window's answer is not certified: try a wider one
                left.append((kk, side))
            elif np.isinf(got):
                # No feasible move that way: the interval is unbounded on this side, and
                # the finite side is the price (the dual HiGHS returned, kept here).
                stats["unbounded"] += 1.0
            elif side > 0:
                hi[kk] = got
            else:
                lo[kk] = got
        todo = left
        if todo:
            if win.whole or 2 * width * GROWTH + 1 > max_window:
                stats["unresolved"] += float(len(todo))
                for kk, _ in todo:
                    exact[kk] = False
                return
            stats["widened"] += 1.0
            width *= GROWTH


def _bulk_in_place(
    h: highspy.Highs,
    cone: _Cone,
    rows: IntArray,
    sides: tuple[tuple[int, BoolArray], ...],
) -> dict[int, tuple[BoolArray, FloatArray]]:
    """Per side, every candidate row's one-sided derivative from one whole-horizon cone LP.

    The LP moves all candidate rows at once (right-hand side side·Σ e_i); its dual y
    maximises side·Σ y_i over the optimal dual set. That is y_i's own extreme when y stays
    optimal for any larger weight on y_i, i.e. when ranging lets row i's right-hand side grow
    (side 1) or fall (side −1) without limit: then for every optimal dual y',
    W·y'_i + Σ_(j≠i) y'_j ≤ W·y_i + Σ_(j≠i) y_j for all large W, so side·y'_i ≤ side·y_i.
    The cone LP is `h`'s own LP with the bounds of directions (0 where the optimum sits at a
    bound, slack rows free): the costs and y* are unchanged, so the optimal basis stays dual
    feasible and dual simplex starts from it. Returns side -> (certified, value) per row of
    `rows` (a side is missing when its LP has no optimum: some interval is unbounded there).
    """
    out: dict[int, tuple[BoolArray, FloatArray]] = {}
    if not any(c.any() for _, c in sides):
        return out
    n, r = cone.c_lo.size, cone.r_lo.size
    inf = highspy.kHighsInf
    ci, ri = np.arange(n, dtype=np.int32), np.arange(r, dtype=np.int32)
    row_lo = np.where(cone.r_eq | cone.r_lo, 0.0, -inf)
    row_up = np.where(cone.r_eq | cone.r_up, 0.0, inf)
    h.changeColsBounds(  # type: ignore[attr-defined]
        n, ci, np.where(cone.c_lo, 0.0, -inf), np.where(cone.c_up, 0.0, inf)
    )
    h.changeRowsBounds(r, ri, row_lo, row_up)  # type: ignore[attr-defined]
    try:
        for side, cand in sides:
            ks = rows[cand].astype(np.int32)
            if not ks.size:
                continue
            v = np.full(ks.size, float(side))
            h.changeRowsBounds(ks.size, ks, v, v)  # type: ignore[attr-defined]
            h.run()
            ok = h.getModelStatus() == highspy.HighsModelStatus.kOptimal
            if ok:
                status, rng = h.getRanging()
                ok = status == highspy.HighsStatus.kOk
            if ok:
                yw = np.asarray(h.getSolution().row_dual, dtype=np.float64)[ks]
                rb = rng.row_bound_up if side > 0 else rng.row_bound_dn
                bound = np.asarray(rb.value_, dtype=np.float64)[ks]
                out[side] = (np.abs(bound) >= inf, yw)
                del rb, rng  # before the other side's ranging (see `compute`)
            h.changeRowsBounds(  # type: ignore[attr-defined]
                ks.size, ks, row_lo[ks], row_up[ks]
            )
    finally:
        h.changeColsBounds(n, ci, cone.col_lower, cone.col_upper)  # type: ignore[attr-defined]
        h.changeRowsBounds(r, ri, cone.row_lower, cone.row_upper)  # type: ignore[attr-defined]
    return out


class _Cone:
    """The tangent cone of the LP at x* and the completion of window duals by y*."""

    def __init__(
        self,
        h: highspy.Highs,
        sol: highspy.HighsSolution,
        y: FloatArray,
        col_step: IntArray,
        row_step: IntArray,
    ) -> None:
        lp = h.getLp()
        self.lp = lp
        self._a: sp.csc_matrix | None = None
        self._a_csr: sp.csr_matrix | None = None
        self.h = h
        self.cost = np.asarray(lp.col_cost_, dtype=np.float64)
        x = np.asarray(sol.col_value, dtype=np.float64)
        cl = np.asarray(lp.col_lower_, dtype=np.float64)
        cu = np.asarray(lp.col_upper_, dtype=np.float64)
        self.col_lower, self.col_upper = cl, cu
        self.c_lo = _at(x, cl, 1.0)
        self.c_up = _at(x, cu, -1.0)
        act = np.asarray(sol.row_value, dtype=np.float64)
        rl = np.asarray(lp.row_lower_, dtype=np.float64)
        ru = np.asarray(lp.row_upper_, dtype=np.float64)
        self.row_lower, self.row_upper = rl, ru
        self.r_lo = _at(act, rl, 1.0)
        self.r_up = _at(act, ru, -1.0)
        self.r_eq = rl == ru
        # Slack rows (neither bound tight) impose nothing on directions and have y = 0.
        self.r_keep = self.r_lo | self.r_up
        self.y = y
        self.col_step = col_step
        self.row_step = row_step
        self.n_steps = int(max(col_step.max(initial=-1), row_step.max(initial=-1))) + 1
        self.whole_window: _Window | None = None
        self._sorted: tuple[IntArray, IntArray, IntArray] | None = None

    def sorted_cols(self) -> tuple[IntArray, IntArray, IntArray]:
        """(columns sorted by step, their steps, the columns of no step): a window is a slice
        (no pass over every column per window). Columns of no step of their own (a day's
        peak, a flexible-load window) are first placed at the steps of their rows (`localise`)."""
        if self._sorted is None:
            col_step = localise(self.a, self.col_step, self.row_step, LOCAL_SPAN)
            order = np.argsort(col_step, kind="stable")
            self._sorted = (order, col_step[order], np.flatnonzero(col_step < 0))
        return self._sorted

    @property
    def a(self) -> sp.csc_matrix:
        if self._a is None:  # only the per-step windows (after the bulk stage) need it
            m = self.lp.a_matrix_
            self._a = sp.csc_matrix(
                (np.asarray(m.value_), np.asarray(m.index_), np.asarray(m.start_)),
                shape=(self.lp.num_row_, self.lp.num_col_),
            )
        return self._a

    @property
    def a_csr(self) -> sp.csr_matrix:
        if self._a_csr is None:  # only windows narrower than the horizon need rows' columns
            self._a_csr = self.a.tocsr()
        return self._a_csr

    def window(self, step: int, width: int) -> _Window:
        if step < 0:
            lo_s, hi_s = 0, self.n_steps - 1
        else:
            lo_s, hi_s = max(0, step - width), min(self.n_steps - 1, step + width)
        whole = lo_s == 0 and hi_s == self.n_steps - 1
        if whole and self.whole_window is not None:
            # One whole-horizon window serves every step that needs it (warm starts).
            return self.whole_window
        if whole:  # every column; every tight row that has an entry
            cols = np.arange(self.a.shape[1])
            nonempty = np.bincount(self.a.indices, minlength=self.a.shape[0]) > 0
            rws = np.flatnonzero(self.r_keep & nonempty)
        else:
            order, sorted_steps, global_cols = self.sorted_cols()
            a0, a1 = np.searchsorted(sorted_steps, [lo_s, hi_s + 1])
            cols = np.union1d(order[a0:a1], global_cols)
            rws = np.unique(self.a[:, cols].indices)
            rws = rws[self.r_keep[rws]]
        win = _Window(self, cols, rws, whole)
        if whole:
            self.whole_window = win
        return win


class _Window:
    """The cone LP on the window's columns plus its edge columns (outside the window, meeting
    its rows). An edge column's cost is its reduced cost at y* over the rows outside the
    window, so any dual of this LP completed by y* is an optimal dual of the whole LP (a lower
    bound on the largest valid dual); when the edge columns do not move in the optimal
    direction, that direction is feasible for the whole LP (an upper bound): equal, exact.
    The cone LP's optimum is rarely unique, so when HiGHS's direction moves an edge column a
    second run looks for an equally cheap one that does not: edge moves cost a little extra
    (free edge columns are split in two, each ≥ 0, so every move away from 0 pays)."""

    def __init__(self, cone: _Cone, cols: IntArray, rows: IntArray, whole: bool) -> None:
        self.cone = cone
        self.whole = whole
        self.pos = {int(i): k for k, i in enumerate(rows)}
        edge = (
            np.zeros(0, dtype=np.int64)  # the whole horizon has no edge
            if whole
            else np.setdiff1d(np.unique(cone.a_csr[rows].indices), cols, assume_unique=True)
        )
        e_lo, e_up = cone.c_lo[edge], cone.c_up[edge]
        free = edge[~e_lo & ~e_up]  # these get a mirror column (dx = dx⁺ − dx⁻)
        allc = np.concatenate([cols, edge, free])
        sign = np.concatenate([np.ones(cols.size + edge.size), -np.ones(free.size)])
        self.n_in = cols.size
        a_all = cone.a if whole else cone.a[:, allc] @ sp.diags(sign)
        a = a_all[rows]
        inside = np.zeros(cone.a.shape[0], dtype=bool)
        inside[rows] = True
        y_out = np.where(inside, 0.0, cone.y)
        cost = sign * cone.cost[allc] - a_all.T @ y_out
        inf = highspy.kHighsInf
        c_lo = np.concatenate([cone.c_lo[cols], e_lo | ~e_up, np.ones(free.size, dtype=bool)])
        c_up = np.concatenate([cone.c_up[cols], e_up, np.zeros(free.size, dtype=bool)])
        r_eq, r_lo, r_up = cone.r_eq[rows], cone.r_lo[rows], cone.r_up[rows]
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = allc.size, rows.size
        lp.col_cost_ = cost
        lp.col_lower_ = np.where(c_lo, 0.0, -inf)
        lp.col_upper_ = np.where(c_up, 0.0, inf)
        lp.row_lower_ = np.where(r_eq | r_lo, 0.0, -inf)
        lp.row_upper_ = np.where(r_eq | r_up, 0.0, inf)
        a = a.tocsc()
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = a.indptr.astype(np.int32)
        lp.a_matrix_.index_ = a.indices.astype(np.int32)
        lp.a_matrix_.value_ = a.data.astype(np.float64)
        from pebdsl.backends.session import new_highs

        self.h = new_highs()
        # Candidates of one step re-solve with warm starts: presolve would start from scratch.
        self.h.setOptionValue("presolve", "off")
        self.h.passModel(lp)
        basis = cone.h.getBasis() if whole else None
        if basis is not None and basis.valid:
            # Columns are all of the LP's, in order, rows its tight ones: the basis of the bulk
            # stage's cone LP (dual feasible here, the same costs) restricted to them is a warm
            # start (HiGHS starts from scratch if it is not a basis of this LP).
            b = highspy.HighsBasis()
            b.col_status = list(basis.col_status)
            rs = basis.row_status
            b.row_status = [rs[int(i)] for i in rows]
            b.valid = True
            self.h.setBasis(b)
        self.row_lo = lp.row_lower_
        self.row_up = lp.row_upper_
        self.cost = cost
        self.edge_idx = np.arange(cols.size, allc.size, dtype=np.int32)
        # Every edge move (each split column ≥ 0 or ≤ 0) pays this much extra in the second run.
        eps = 1e-4 * (1.0 + float(np.abs(cost).max(initial=0.0)))
        self.edge_cost = cost[self.edge_idx] + eps * np.where(c_up[self.edge_idx], -1.0, 1.0)

    def derivative(self, row: int, side: int) -> float | None:
        """v'(b; side·e_row) as a dual value, inf if no move is feasible, None if unsure."""
        k = self.pos.get(row)
        if k is None:
            return None
        h = self.h
        h.changeRowBounds(k, float(side), float(side))
        h.run()
        status = h.getModelStatus()
        try:
            if status == highspy.HighsModelStatus.kInfeasible:
                # The window's LP relaxes the whole cone LP (its rows are a subset, its columns
                # keep their cone bounds, edge columns included): no feasible move here means
                # none in the whole LP either, whatever the window's width.
                return np.inf
            if status != highspy.HighsModelStatus.kOptimal:
                return None
            s = h.getSolution()
            got = float(s.row_dual[k])
            if self._edge_still(s):
                return got
            if self.whole:
                return None
            # Look for an equally cheap direction that keeps the edge still.
            best = float(h.getInfo().objective_function_value)
            idx = self.edge_idx
            h.changeColsCost(idx.size, idx, self.edge_cost)
            try:
                h.run()
                if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                    return None
                s2 = h.getSolution()
                x2 = np.asarray(s2.col_value, dtype=np.float64)
                same = float(self.cost @ x2) <= best + _TOL_DUAL * (1.0 + abs(best))
                return got if same and self._edge_still(s2) else None
            finally:
                h.changeColsCost(idx.size, idx, self.cost[idx])
        finally:
            h.changeRowBounds(k, float(self.row_lo[k]), float(self.row_up[k]))

    def _edge_still(self, s: highspy.HighsSolution) -> bool:
        dx_edge = np.asarray(s.col_value, dtype=np.float64)[self.n_in :]
        return not dx_edge.size or bool(np.abs(dx_edge).max() <= _TOL_BOUND)


def _at(v: FloatArray, bound: FloatArray, side: float) -> BoolArray:
    """Where v sits at a finite bound (side 1: lower, −1: upper), within HiGHS's tolerance."""
    fin = np.isfinite(bound)
    b = np.where(fin, bound, 0.0)
    tol = _TOL_BOUND * np.maximum(1.0, np.abs(b))
    out: BoolArray = fin & (side * (v - b) <= tol)
    return out


def localise(a: sp.csc_matrix, col_step: IntArray, row_step: IntArray, span: int) -> IntArray:
    """`col_step` with each column of no step (−1) placed at the middle step of the rows it
    meets, when those rows' steps lie within `span` (a day's peak meets its day's hours; a
    month's peak, over a longer horizon, stays everywhere). Where a column sits decides only
    which windows take it whole rather than as an edge column, never a window's answer (its
    certificate is exact either way), so this is a matter of speed: a window that takes every
    day-indexed column takes every row those meet, i.e. nearly the whole horizon."""
    out = col_step.copy()
    todo = np.flatnonzero(out < 0)
    if not todo.size or not a.nnz:
        return out
    counts = np.diff(a.indptr)[todo]
    todo = todo[counts > 0]
    if not todo.size:
        return out
    sub = a[:, todo]
    st = row_step[sub.indices]
    big = np.iinfo(np.int64).max
    starts = sub.indptr[:-1]
    lo = np.minimum.reduceat(np.where(st >= 0, st, big), starts)
    hi = np.maximum.reduceat(st, starts)
    ok = (hi >= 0) & (lo <= hi) & (hi - lo <= span)
    out[todo[ok]] = (lo[ok] + hi[ok]) // 2
    return out


def steps(ir: ModelIR) -> tuple[IntArray, IntArray]:
    """The step of each column and row of the IR; −1 for blocks not indexed by the horizon's
    steps (monthly peaks)."""
    col = np.full(ir.n_cols, -1, dtype=np.int64)
    row = np.full(ir.n_rows, -1, dtype=np.int64)
    for out, blocks in ((col, ir.vars.values()), (row, ir.cons.values())):
        for b in blocks:
            if b.n_steps == ir.n_steps and not b.step_labels:
                out[b.start : b.start + b.size] = np.tile(np.arange(b.n_steps), len(b.entities))
    return col, row


__all__ = ["MAX_WINDOW", "Intervals", "compute", "steps"]
