"""Temporal warm start: a basis of the full LP assembled from its time chunks solved alone.

Input: a `ModelIR` and the warm-start spec (`parse`: "off", "auto" or a chunk length such as
"2d", "12h", or levels "2d+14d"; `levels` turns it into chunk lengths in steps, `auto` by the
horizon). Output: `build` gives a `WarmBasis` — a `highspy.HighsBasis` of the full LP plus
counters (chunks, coupling rows, the chunk solves' time and iterations) — or `None` when a
chunk LP is not optimal (infeasible, unbounded, a time limit) or there is a single chunk;
`start(h, ir, spec)` hands that basis to a HiGHS instance holding the IR's LP (`setBasis`) and
returns the counters, or None (the caller then solves cold: backends/highs.py).
Raises PebdslError E507 from `parse` for a spec it cannot read; nothing else.

Why: HiGHS's dual simplex is nearly all of a year-long solve, and its work grows faster than
the number of steps. The LP is almost block diagonal in time: only storage continuity across a
chunk's boundary and rows touching step-less columns (monthly peaks, `invest` sizes) tie the
chunks together. Solving each chunk alone is cheap, and their optimal bases make one basis of
the whole LP from which the dual simplex has only those few coupling rows to repair.

How:
1. Chunks: column j with step s belongs to chunk s // chunk_steps; step-less columns (step −1,
   backends/intervals.py `steps`) to none. A row belongs to chunk c when all its columns do;
   every other row (it spans two chunks, touches a step-less column, or is empty) is a
   *coupling row*.
2. Each chunk's sub-LP (its columns and rows, coupling rows dropped: a relaxation) is solved by
   HiGHS's dual simplex, from the previous chunk's optimal basis when both have the same shape.
   Any chunk not optimal ends the warm start (`None`). With levels, each coarser chunk (a whole
   number of finer ones) is then solved from the basis the finer level assembled.
3. The full basis: chunk columns and rows keep their chunk-basis status; coupling rows are
   BASIC; step-less columns are nonbasic at their lower bound if finite, else their upper
   bound, else nonbasic free (`kZero`). Basic variables then number exactly the rows (each
   chunk basis has as many as the chunk's rows, plus one per coupling row). Ordering chunk rows
   first, the basis matrix is block lower triangular — the chunks' own basis matrices on the
   diagonal, then the identity of the coupling rows' slacks — so it is nonsingular. With
   coupling-row duals 0 every chunk column's reduced cost is its chunk's (its entries outside
   its chunk lie in coupling rows), so the basis is dual feasible wherever the chunks were
   optimal (step-less columns aside): the dual simplex starts near the optimum and still ends
   at the full LP's optimum. The warm start changes where the simplex starts, never what it
   proves optimal.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import highspy
import numpy as np
import scipy.sparse as sp

from pebdsl.backends.intervals import steps
from pebdsl.backends.session import Rejected, new_highs, pass_model
from pebdsl.diagnostics import PebdslError, error
from pebdsl.ir import FloatArray, IntArray, ModelIR
from pebdsl.logs import stage

log = logging.getLogger(__name__)


@dataclass
class WarmBasis:
    """A basis of the full LP and what making it took."""

    basis: highspy.HighsBasis
    stats: dict[str, float] = field(default_factory=dict)


def chunks(ir: ModelIR, chunk_steps: int) -> tuple[IntArray, IntArray]:
    """The chunk of each column and row (−1: step-less column, coupling row)."""
    col_step, _ = steps(ir)
    col_chunk = np.where(col_step >= 0, col_step // max(1, chunk_steps), -1)
    a = ir.matrix().tocsr()
    row_chunk = np.full(ir.n_rows, -1, dtype=np.int64)
    nnz = np.diff(a.indptr)
    full = nnz > 0
    if not full.any():
        return col_chunk, row_chunk
    per_entry = col_chunk[a.indices]
    starts = a.indptr[:-1][full]
    lo = np.minimum.reduceat(per_entry, starts)
    hi = np.maximum.reduceat(per_entry, starts)
    # reduceat over the non-empty rows' starts: each segment ends where the next row starts,
    # and empty rows have no entries in between, so the segments are exactly the rows'.
    row_chunk[full] = np.where((lo == hi) & (lo >= 0), lo, -1)
    return col_chunk, row_chunk


@dataclass
class _Full:
    """The full LP's arrays, read from the IR once (the IR concatenates them on each call)."""

    a: sp.csc_matrix
    cost: FloatArray
    col_lower: FloatArray
    col_upper: FloatArray
    row_lower: FloatArray
    row_upper: FloatArray


def _chunk_lp(full: _Full, cols: IntArray, rows: IntArray) -> highspy.HighsLp:
    sub = full.a[:, cols][rows, :].tocsc()
    sub.sort_indices()
    lp = highspy.HighsLp()
    lp.num_col_ = int(cols.size)
    lp.num_row_ = int(rows.size)
    lp.col_cost_ = full.cost[cols]
    lp.col_lower_ = full.col_lower[cols]
    lp.col_upper_ = full.col_upper[cols]
    lp.row_lower_ = full.row_lower[rows]
    lp.row_upper_ = full.row_upper[rows]
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = sub.indptr.astype(np.int32)
    lp.a_matrix_.index_ = sub.indices.astype(np.int32)
    lp.a_matrix_.value_ = sub.data
    return lp


_TO_ENUM = {int(s): s for s in highspy.HighsBasisStatus.__members__.values()}
_FROM_ENUM = {s: int(s) for s in highspy.HighsBasisStatus.__members__.values()}


def _codes(statuses: list[highspy.HighsBasisStatus]) -> IntArray:
    return np.array([_FROM_ENUM[s] for s in statuses], dtype=np.int64)


def _basis(col_status: IntArray, row_status: IntArray) -> highspy.HighsBasis:
    b = highspy.HighsBasis()
    b.valid = True
    b.col_status = [_TO_ENUM[s] for s in col_status.tolist()]
    b.row_status = [_TO_ENUM[s] for s in row_status.tolist()]
    return b


def _solve_chunk(
    lp: highspy.HighsLp, start: highspy.HighsBasis | None, time_limit: float | None
) -> tuple[highspy.HighsBasis, int] | None:
    """The chunk's optimal basis and simplex iterations, or None when it is not optimal."""
    h = new_highs()
    h.setOptionValue("solver", "simplex")
    if time_limit is not None:
        h.setOptionValue("time_limit", max(time_limit, 0.0))
    try:
        pass_model(h, lp)
    except Rejected:
        return None
    if start is not None and h.setBasis(start) == highspy.HighsStatus.kError:
        h.clearSolver()
    if h.run() == highspy.HighsStatus.kError:
        return None
    status = h.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        log.debug("warm start: a chunk LP is %s", h.modelStatusToString(status))
        return None
    if not h.getInfo().basis_validity:
        return None
    return h.getBasis(), int(h.getInfo().simplex_iteration_count)


def _stepless_status(lower: FloatArray, upper: FloatArray) -> IntArray:
    """Nonbasic status of each step-less column: at a finite bound, else free (kZero)."""
    st = np.full(lower.size, int(highspy.HighsBasisStatus.kZero), dtype=np.int64)
    st[np.isfinite(upper)] = int(highspy.HighsBasisStatus.kUpper)
    st[np.isfinite(lower)] = int(highspy.HighsBasisStatus.kLower)
    return st


def _groups(chunk: IntArray, n: int) -> list[IntArray]:
    """The indices of each chunk 0..n−1, in order (−1: in none)."""
    order = np.argsort(chunk, kind="stable")
    bounds = np.searchsorted(chunk[order], np.arange(n + 1))
    return [order[bounds[c] : bounds[c + 1]] for c in range(n)]


def build(
    ir: ModelIR,
    levels: Sequence[int],
    cost: FloatArray | None = None,
    time_limit: float | None = None,
) -> WarmBasis | None:
    """A basis of the full LP (module docstring) from chunks of `levels[0]` steps, then each
    coarser level's chunks (of `levels[k]` steps, whole multiples of the finer ones) solved from
    the basis the finer level assembled; None when a chunk is not optimal, when there is a
    single chunk, or past `time_limit` seconds."""
    t0 = time.perf_counter()
    full = _Full(
        ir.matrix(),
        ir.cost() if cost is None else cost,
        ir.col_lower(),
        ir.col_upper(),
        ir.row_lower(),
        ir.row_upper(),
    )
    col_status = np.full(ir.n_cols, -1, dtype=np.int64)
    row_status = np.full(ir.n_rows, int(highspy.HighsBasisStatus.kBasic), dtype=np.int64)
    stats: dict[str, float] = {"chunk_iterations": 0.0}
    finer = 1
    for level, wanted in enumerate(levels):
        # A coarser chunk must hold whole finer chunks: a row inside a finer chunk then stays
        # inside a coarser one, and the rows left basic are still exactly the coupling rows.
        size = finer * max(1, -(-int(wanted) // finer))
        finer = size
        col_chunk, row_chunk = chunks(ir, size)
        n_chunks = int(col_chunk.max()) + 1 if col_chunk.size else 0
        if n_chunks < 2:
            break
        if level == 0:
            free = col_chunk < 0
            col_status[free] = _stepless_status(full.col_lower[free], full.col_upper[free])
            stats["chunks"] = float(n_chunks)
        stats["coupling_rows"] = float((row_chunk < 0).sum())
        prev: tuple[tuple[int, int], highspy.HighsBasis] | None = None
        groups = zip(_groups(col_chunk, n_chunks), _groups(row_chunk, n_chunks), strict=True)
        for c, (cols, rows) in enumerate(groups):
            if not cols.size:
                continue
            shape = (int(cols.size), int(rows.size))
            start: highspy.HighsBasis | None = None
            if level > 0:
                start = _basis(col_status[cols], row_status[rows])
            else:
                # Chunks of one length have the same structure and similar data: the previous
                # chunk's optimal basis is a far better start than a slack basis.
                if prev is not None and prev[0] == shape:
                    start = prev[1]
            left = None if time_limit is None else time_limit - (time.perf_counter() - t0)
            res = _solve_chunk(_chunk_lp(full, cols, rows), start, left)
            if res is None:
                log.debug("warm start given up (chunk %d of %d): solving cold", c + 1, n_chunks)
                return None
            b, it = res
            prev = (shape, b)
            stats["chunk_iterations"] += it
            col_status[cols] = _codes(b.col_status)
            row_status[rows] = _codes(b.row_status)
        stats["levels"] = float(level + 1)
    if "chunks" not in stats:
        return None
    basis = _basis(col_status, row_status)
    stats["chunk_seconds"] = time.perf_counter() - t0
    return WarmBasis(basis, stats)


# `auto` (docs/scale.md, "Temporal warm start"; model_speed's 3 x 10 design, HiGHS iterations
# cold -> in the chunks + in the full LP): on from AUTO_MIN_DAYS of horizon (below it a solve
# takes seconds, and short designs keep the cold solve's choice among equal optima), in chunks
# of horizon / AUTO_CHUNKS days, at least AUTO_DAYS[0] and at most AUTO_DAYS[1]: 30 days
# (2-day chunks) 174 107 -> 36 594 + 5 837, a year (7-day chunks) 2 041 816 -> 306 046 + 36 151;
# 2-day chunks at a year left 2 730 coupling rows and a final solve 2.5x as long.
AUTO_MIN_DAYS = 14.0
AUTO_CHUNKS = 50.0
AUTO_DAYS = (2.0, 7.0)
_SPEC = re.compile(r"^(\d+(?:\.\d+)?)([dh])$")


def parse(text: str) -> str:
    """`off`, `auto` or a chunk length (`2d`, `12h`, levels joined by `+`: `2d+14d`), checked
    (E507 otherwise) and returned as given."""
    spec = text.strip().lower()
    if spec in ("off", "auto") or all(_SPEC.match(p) for p in spec.split("+")):
        if spec not in ("off", "auto") and any(float(p[:-1]) <= 0 for p in spec.split("+")):
            raise _warm_error(text)
        return spec
    raise _warm_error(text)


def _warm_error(text: str) -> PebdslError:
    return PebdslError(
        error(
            "E507",
            f"--warm-start takes off, auto or a chunk length such as 2d, not `{text}`",
            hints=("e.g. --warm-start 2d (chunks of two days) or --warm-start off",),
        )
    )


def levels(spec: str, n_steps: int, dt_h: float) -> list[int]:
    """The chunk lengths in steps for `spec` (parse) on a horizon of `n_steps` steps of `dt_h`
    hours; empty for no warm start."""
    if spec == "off":
        return []
    if spec == "auto":
        if n_steps * dt_h < AUTO_MIN_DAYS * 24.0:
            return []
        days = round(n_steps * dt_h / 24.0 / AUTO_CHUNKS)
        hours = [24.0 * min(max(days, AUTO_DAYS[0]), AUTO_DAYS[1])]
    else:
        hours = [float(p[:-1]) * (24.0 if p.endswith("d") else 1.0) for p in spec.split("+")]
    return [max(1, round(h / dt_h)) for h in hours]


def start(
    h: highspy.Highs, ir: ModelIR, spec: str, time_limit: float | None = None
) -> dict[str, float] | None:
    """Give `h` (holding the IR's LP) the warm basis of `spec`; its counters, or None when
    there is none (off, a short horizon, a chunk not optimal, HiGHS refusing the basis)."""
    steps_ = levels(spec, ir.n_steps, ir.dt_h)
    if not steps_ or ir.n_cols == 0:
        return None
    wb = build(ir, steps_, time_limit=time_limit)
    if wb is None:
        return None
    if h.setBasis(wb.basis) == highspy.HighsStatus.kError:
        log.debug("warm start: HiGHS refused the assembled basis; solving cold")
        h.clearSolver()
        return None
    log.info(
        "warm start: %d chunks of %d steps, %d coupling rows, %d simplex iterations in %.2f s",
        int(wb.stats["chunks"]),
        steps_[0],
        int(wb.stats["coupling_rows"]),
        int(wb.stats["chunk_iterations"]),
        wb.stats["chunk_seconds"],
        extra=stage("solve"),
    )
    return wb.stats


__all__ = [
    "AUTO_CHUNKS",
    "AUTO_DAYS",
    "AUTO_MIN_DAYS",
    "WarmBasis",
    "build",
    "chunks",
    "levels",
    "parse",
    "start",
]
