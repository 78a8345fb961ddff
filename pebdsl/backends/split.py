"""Exact decomposition by structure: an LP whose constraint matrix falls apart is solved in parts.

Input: a `ModelIR` (its matrix, costs, bounds), the price rows, and a map function that applies
a function to a list of items (serial by default; the study layer passes one that runs them on
its runner: local processes or Dask). Output: `parts(ir)`, the connected components of the
bipartite graph of columns and rows (a column and a row are linked when the row has a
non-zero coefficient on the column), packed into `Part`s; `pieces(ir, parts, price_rows)`, one
picklable `Piece` per part (its sub-LP as arrays, the price rows and steps in its own
numbering); `solve_piece(piece)`, HiGHS on one piece (what a worker runs); `merge(ir, parts,
solved)`, the Solution of the whole IR. `solve_split(ir, method, price_rows, map_fn)` does all
of it, or returns None when the IR has one part (the caller solves it whole). `SplitBackend`
is a `Backend` (backends/__init__.py) that solves this way: `pebdsl.solve(design,
backend=SplitBackend(...))`; pebdsl.study.decompose runs its parts on the study runner.
Errors: none raised; a part that is not optimal makes `solve_split` return None so that the
caller solves the whole model (its diagnosis, IIS and ray then come from the model as written).

Why it is exact: with no row linking two parts, the feasible set is the product of the parts'
feasible sets and the objective their sum, so the optimum of the whole is the union of the
parts' optima (objective: their sum plus the IR's offset; every primal value and row dual is
that of its part). Blocks of a design fall apart this way when no market, DSO link, shared
battery or design-wide row joins them (docs/scale.md). Valid dual intervals (price rows, the
"midpoint" rule) are computed in each part from that part's basis: a row's interval depends on
its part only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pebdsl.backends import Solution, Status
from pebdsl.ir import FloatArray, IntArray, ModelIR

# Components smaller than this many matrix entries are packed together with others: a part of
# its own would cost a solver start-up (and a worker round trip) for almost no work.
MIN_PART_NNZ = 20_000

MapFn = Callable[[Callable[[Any], Any], Sequence[Any]], Sequence[Any]]


@dataclass(frozen=True)
class Part:
    """Columns and rows (sorted IR indices) of one or more components solved together."""

    cols: IntArray
    rows: IntArray


@dataclass(frozen=True)
class Piece:
    """One part's sub-LP as plain arrays (pickles cheaply to a worker process)."""

    cost: FloatArray
    col_lower: FloatArray
    col_upper: FloatArray
    row_lower: FloatArray
    row_upper: FloatArray
    start: IntArray  # column-wise matrix
    index: IntArray
    value: FloatArray
    method: str
    price_rows: IntArray | None  # in the piece's row numbering
    col_step: IntArray
    row_step: IntArray


@dataclass
class Solved:
    """What `solve_piece` returns: the piece's Solution (in its own numbering)."""

    solution: Solution


def components(ir: ModelIR) -> tuple[int, IntArray, IntArray]:
    """(count, component of each column, component of each row) of the matrix's bipartite
    graph. An empty row is a component of its own, and so is a column in no row."""
    from scipy.sparse import bmat, csr_matrix
    from scipy.sparse.csgraph import connected_components

    a = csr_matrix(ir.matrix())
    a.data = np.ones_like(a.data)
    graph = bmat([[None, a.T], [a, None]], format="csr")
    n, labels = connected_components(graph, directed=False)
    return int(n), labels[: ir.n_cols], labels[ir.n_cols :]


def parts(ir: ModelIR, min_nnz: int = MIN_PART_NNZ) -> list[Part]:
    """The components, the small ones (< `min_nnz` entries) packed into the smallest part."""
    n, col_c, row_c = components(ir)
    if n <= 1:
        return [Part(np.arange(ir.n_cols), np.arange(ir.n_rows))]
    a = ir.matrix()
    nnz_c = np.bincount(col_c, weights=np.diff(a.indptr), minlength=n)
    order = np.argsort(-nnz_c, kind="stable")
    bins: list[list[int]] = []
    sizes: list[float] = []
    for c in order:
        if nnz_c[c] >= min_nnz or not bins:
            bins.append([int(c)])
            sizes.append(float(nnz_c[c]))
        else:
            k = int(np.argmin(sizes))
            bins[k].append(int(c))
            sizes[k] += float(nnz_c[c])
    label = np.empty(n, dtype=np.int64)
    for k, members in enumerate(bins):
        label[members] = k
    col_p, row_p = label[col_c], label[row_c]
    return [Part(np.flatnonzero(col_p == k), np.flatnonzero(row_p == k)) for k in range(len(bins))]


def pieces(
    ir: ModelIR, split: Sequence[Part], method: str, price_rows: IntArray | None
) -> list[Piece]:
    """Each part's sub-LP (see the module docstring)."""
    from pebdsl.backends.intervals import steps

    a = ir.matrix().tocsc()
    cost, lo, up = ir.cost(), ir.col_lower(), ir.col_upper()
    rlo, rup = ir.row_lower(), ir.row_upper()
    col_step, row_step = steps(ir)
    out = []
    for p in split:
        sub = a[:, p.cols][p.rows, :].tocsc()
        sub.sort_indices()
        local = None
        if price_rows is not None:
            pr = np.asarray(price_rows, dtype=np.int64)
            pos = np.searchsorted(p.rows, pr)
            inside = (pos < len(p.rows)) & (p.rows[np.minimum(pos, len(p.rows) - 1)] == pr)
            local = pos[inside]
        out.append(
            Piece(
                cost[p.cols],
                lo[p.cols],
                up[p.cols],
                rlo[p.rows],
                rup[p.rows],
                sub.indptr.astype(np.int32),
                sub.indices.astype(np.int32),
                sub.data,
                method,
                local,
                col_step[p.cols],
                row_step[p.rows],
            )
        )
    return out


def solve_piece(piece: Piece) -> Solved:
    """HiGHS on one piece, with the valid dual intervals of its price rows (a worker's job)."""
    import highspy

    from pebdsl.backends import attach_intervals
    from pebdsl.backends.highs import new_highs, pass_model, run

    t0 = time.perf_counter()
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = len(piece.cost), len(piece.row_lower)
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = piece.cost, piece.col_lower, piece.col_upper
    lp.row_lower_, lp.row_upper_ = piece.row_lower, piece.row_upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_ = piece.start, piece.index
    lp.a_matrix_.value_ = piece.value
    h = new_highs()
    pass_model(h, lp)
    t_build = time.perf_counter() - t0
    sol = run(h, lp.num_col_, lp.num_row_, piece.method)
    sol.timings["build"] = t_build
    if sol.ok and piece.price_rows is not None:
        from pebdsl.backends.intervals import compute

        t0 = time.perf_counter()
        iv = compute(h, piece.price_rows, piece.col_step, piece.row_step)
        attach_intervals(sol, iv, piece.price_rows, time.perf_counter() - t0)
    return Solved(sol)


def merge(ir: ModelIR, split: Sequence[Part], solved: Sequence[Solution]) -> Solution:
    """The whole IR's Solution from its optimal parts' (module docstring)."""
    x = np.empty(ir.n_cols)
    y = np.empty(ir.n_rows)
    for p, s in zip(split, solved, strict=True):
        x[p.cols], y[p.rows] = s.x, s.row_dual
    objective = float(ir.objective_offset + sum(s.objective for s in solved))
    out = Solution(Status.OPTIMAL, objective, x, y)
    out.solver = solved[0].solver
    # Parts may run side by side: the solve time is their sum (the work), reported with the
    # longest part (the wall time when every part has a worker of its own).
    for k in ("build", "solve", "price_intervals"):
        if any(k in s.timings for s in solved):
            out.timings[k] = sum(s.timings.get(k, 0.0) for s in solved)
    out.timings["longest_part"] = max(s.timings.get("solve", 0.0) for s in solved)
    rules = {s.price_rule for s in solved if s.price_lo is not None}
    if rules:
        out.price_lo, out.price_hi = y.copy(), y.copy()
        inexact: list[IntArray] = []
        for p, s in zip(split, solved, strict=True):
            if s.price_lo is not None and s.price_hi is not None:
                out.price_lo[p.rows], out.price_hi[p.rows] = s.price_lo, s.price_hi
            if s.price_inexact is not None:
                inexact.append(p.rows[s.price_inexact])
            for k, v in s.price_stats.items():
                out.price_stats[k] = out.price_stats.get(k, 0.0) + float(v)
        # One part without a basis makes the whole answer "dual" (its rows hold the dual).
        out.price_rule = "midpoint" if rules == {"midpoint"} else "dual"
        if inexact:
            out.price_inexact = np.sort(np.concatenate(inexact))
    return out


def _serial(fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
    return [fn(item) for item in items]


def solve_split(
    ir: ModelIR,
    method: str = "choose",
    price_rows: IntArray | None = None,
    map_fn: MapFn | None = None,
    min_nnz: int = MIN_PART_NNZ,
) -> Solution | None:
    """The IR solved in its independent parts (module docstring); None when it has one part
    or a part is not optimal (the caller then solves it whole)."""
    t0 = time.perf_counter()
    split = parts(ir, min_nnz)
    if len(split) <= 1:
        return None
    work = pieces(ir, split, method, price_rows)
    t_split = time.perf_counter() - t0
    solved = [s.solution for s in (map_fn or _serial)(solve_piece, work)]
    if not all(s.ok for s in solved):
        return None
    out = merge(ir, split, solved)
    out.timings["split"] = t_split
    out.timings["parts"] = float(len(split))
    return out


@dataclass(frozen=True)
class SplitBackend:
    """The HiGHS backend, solving a separable IR in its parts (module docstring) and any other
    IR whole. Re-solves (flexibility baseline, elastic relaxation) build the modified IR
    (backends/relax.py) and go through `solve`, so they are split too."""

    solver: str | None = None  # a HiGHS method (backends.highs.METHODS), None: HiGHS's choice
    map_fn: MapFn | None = None  # how parts run: serial when None
    min_nnz: int = MIN_PART_NNZ

    @property
    def name(self) -> str:
        return "highs"

    def solve(self, ir: ModelIR, price_rows: IntArray | None = None) -> Solution:
        from pebdsl.backends import get_backend
        from pebdsl.backends.highs import METHODS

        method = METHODS[self.solver or "choose"]
        sol = solve_split(ir, method, price_rows, self.map_fn, self.min_nnz)
        return sol if sol is not None else get_backend("highs", self.solver).solve(ir, price_rows)

    def solve_bounds(
        self, ir: ModelIR, rows: IntArray, lower: FloatArray, upper: FloatArray
    ) -> Solution:
        from pebdsl.backends.relax import with_row_bounds

        return self.solve(with_row_bounds(ir, rows, lower, upper))

    def solve_elastic(self, ir: ModelIR, rows: IntArray, sign: FloatArray) -> Solution:
        from pebdsl.backends.relax import elastic

        return self.solve(elastic(ir, rows, sign))
