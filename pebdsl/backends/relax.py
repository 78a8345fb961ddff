"""Modified copies of a model IR for the re-solves every backend offers.

Input: a `ModelIR` and the rows to change. Output: a new `ModelIR` sharing the original's
unchanged blocks (arrays are never written in place): `with_row_bounds` replaces the bounds
of some rows; `elastic` zeroes every cost and appends one slack column per relaxed row (block
`elastic`, after the IR's own columns), row `rows[k]` gaining `sign[k]`·slack_k.
Raises nothing.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from pebdsl.ir import ConBlock, FloatArray, IntArray, ModelIR

ELASTIC = "elastic"


def _copy(ir: ModelIR) -> ModelIR:
    out = ModelIR(ir.n_steps, ir.dt_h, ir.step_index)
    out.vars = dict(ir.vars)
    out.cons = dict(ir.cons)
    out.n_cols, out.n_rows = ir.n_cols, ir.n_rows
    out.objective_offset = ir.objective_offset
    out.objective_doc = list(ir.objective_doc)
    out._inverse = ir._inverse
    return out


def _owned(ir: ModelIR, rows: IntArray) -> list[tuple[ConBlock, IntArray]]:
    """Per constraint block, the positions k whose `rows[k]` it owns."""
    out: list[tuple[ConBlock, IntArray]] = []
    for cb in ir.cons.values():
        k = np.flatnonzero((rows >= cb.start) & (rows < cb.start + cb.size))
        if k.size:
            out.append((cb, k))
    return out


def with_row_bounds(ir: ModelIR, rows: IntArray, lower: FloatArray, upper: FloatArray) -> ModelIR:
    """The IR with row `rows[k]` bounded by [lower[k], upper[k]]."""
    out = _copy(ir)
    rows = np.asarray(rows, dtype=np.int64)
    for cb, k in _owned(ir, rows):
        lo = np.array(cb.lower, dtype=np.float64)
        up = np.array(cb.upper, dtype=np.float64)
        lo[rows[k] - cb.start] = np.asarray(lower, dtype=np.float64)[k]
        up[rows[k] - cb.start] = np.asarray(upper, dtype=np.float64)[k]
        out.cons[cb.name] = replace(cb, lower=lo, upper=up)
    out._matrix = ir._matrix  # the matrix is unchanged
    return out


def elastic(ir: ModelIR, rows: IntArray, sign: FloatArray) -> ModelIR:
    """Zero costs and slack_k ≥ 0 at cost 1 entering row `rows[k]` with coefficient sign[k]
    (a row may appear twice: once per finite bound)."""
    out = _copy(ir)
    for name, v in ir.vars.items():
        out.vars[name] = replace(v, cost=np.zeros_like(v.cost))
    rows = np.asarray(rows, dtype=np.int64)
    sign = np.asarray(sign, dtype=np.float64)
    n = rows.size
    slack = out.add_var(
        ELASTIC, tuple(str(k) for k in range(n)), 1, cost=np.ones((n, 1)), doc="slack of a row"
    )
    col = slack.start + np.arange(n, dtype=np.int64)
    for cb, k in _owned(ir, rows):
        out.cons[cb.name] = replace(
            cb,
            rows=np.concatenate([cb.rows, rows[k] - cb.start]),
            cols=np.concatenate([cb.cols, col[k]]),
            vals=np.concatenate([cb.vals, sign[k]]),
        )
    return out
