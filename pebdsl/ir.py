"""The model IR: a solver-independent linear programme over named blocks.

Input: built by the lowering passes (`pebdsl.lower`) from a `Design`.
Output: `ModelIR` — variable blocks (name, entities x steps, bounds, cost per column, unit,
origin Span) and constraint blocks (sparse rows over the global column space, row bounds, a
math template, the Spans of the declarations that made them), assembled into one CSC matrix
for a backend. Every column and row maps back to (block, entity, step) and has a readable
name (`gi[alice,3]`, `balance[alice,3]`); `lp_name` gives the LP/MPS-safe spelling.
Raises nothing (a malformed block is a bug: ValueError/AssertionError keep their traceback).

Layout: a block with E entities and S steps owns the columns (rows) `start + e*S + s`, so a
block is an (E, S) array in C order. `S` is usually the horizon's steps; a block may use
another second index (`step_kind` "month" for capacity peaks, "window" for flexible-load
windows, "-" for a single column per entity) with `step_labels`.

Rows are built with `Expr`: a list of vectorised terms `coef * var[var_entity, var_step]`
placed at row `(row_entity, row_step)`; no Python loop runs over time steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from pebdsl.source import NO_SPAN, Span

if TYPE_CHECKING:  # typing only: lower/inverse.py imports nothing from pebdsl
    from pebdsl.lower.inverse import Inverse

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
INF = float("inf")


@dataclass
class VarBlock:
    """Variables `name[entity, step]`, flattened entity-major (C order)."""

    name: str
    entities: tuple[str, ...]
    n_steps: int
    lower: FloatArray
    upper: FloatArray
    cost: FloatArray  # objective coefficient per column (currency per kW of the step: price*dt)
    unit: str = "kW"
    span: Span = NO_SPAN
    doc: str = ""
    index: tuple[str, str] = ("entity", "t")
    step_kind: str = "t"  # "t" | "month" | "window" | "-"
    step_labels: tuple[str, ...] | None = None
    cost_doc: str = ""  # the objective term, e.g. "Δt·(buy_t + charge_t)·gi[p,t]"
    spans: tuple[Span, ...] = ()
    start: int = -1

    @property
    def size(self) -> int:
        return len(self.entities) * self.n_steps

    def cols(self) -> IntArray:
        """Global column index of every variable, shape (E, S)."""
        return (self.start + np.arange(self.size, dtype=np.int64)).reshape(
            len(self.entities), self.n_steps
        )

    def entity_index(self, name: str) -> int:
        return self.entities.index(name)

    def values(self, x: FloatArray) -> FloatArray:
        """This block's slice of a solution vector, shape (E, S)."""
        return x[self.start : self.start + self.size].reshape(len(self.entities), self.n_steps)


@dataclass
class ConBlock:
    """Rows `lower <= A[rows, :] x <= upper`, flattened entity-major like `VarBlock`."""

    name: str
    entities: tuple[str, ...]
    n_steps: int
    rows: IntArray  # local row index of every nonzero
    cols: IntArray  # global column index of every nonzero
    vals: FloatArray
    lower: FloatArray
    upper: FloatArray
    template: str = ""  # the math, e.g. "gi[p,t] − ge[p,t] + … = load[p,t]"
    spans: tuple[Span, ...] = ()  # the declarations this block comes from
    sources: tuple[str, ...] = ()  # readable names of those declarations
    unit: str = "kW"
    index: tuple[str, str] = ("entity", "t")
    step_kind: str = "t"
    step_labels: tuple[str, ...] | None = None
    doc: str = ""
    entity_spans: tuple[Span, ...] | None = None  # per-entity origin (e.g. each block's line)
    start: int = -1

    @property
    def size(self) -> int:
        return len(self.entities) * self.n_steps

    @property
    def nnz(self) -> int:
        return int(self.vals.size)

    def values(self, y: FloatArray) -> FloatArray:
        return y[self.start : self.start + self.size].reshape(len(self.entities), self.n_steps)


@dataclass
class Expr:
    """A linear expression per (row entity, row step): a list of vectorised terms.

    Each term is `coef[k] * x[col[k]]` added to row `row[k]` (local to an (E, S) row space).
    """

    n_entities: int
    n_steps: int
    rows: list[IntArray] = field(default_factory=list)
    cols: list[IntArray] = field(default_factory=list)
    vals: list[FloatArray] = field(default_factory=list)
    constant: FloatArray | None = None  # added to the expression (moved to the bounds)

    def add(
        self,
        var: VarBlock,
        coef: float | FloatArray = 1.0,
        *,
        var_entities: Sequence[int] | IntArray | None = None,
        row_entities: Sequence[int] | IntArray | None = None,
        var_steps: IntArray | None = None,
        row_steps: IntArray | None = None,
    ) -> Expr:
        """Add `coef * var[ve, vs]` to rows `(re, rs)` for paired entity lists.

        `var_entities[k]` feeds `row_entities[k]` (default: the identity). The step maps run over
        a common axis of length n: `var_steps[j]` and `row_steps[j]` (default `arange`).
        `coef` is a scalar, an array over that axis (n,), or per pair (len(entities), n).
        """
        ve = np.arange(len(var.entities)) if var_entities is None else np.asarray(var_entities)
        re = ve if row_entities is None else np.asarray(row_entities)
        if ve.size == 0:
            return self
        n = (
            len(var_steps)
            if var_steps is not None
            else len(row_steps)
            if row_steps is not None
            else var.n_steps
        )
        vs = np.arange(n) if var_steps is None else np.asarray(var_steps)
        rs = np.arange(n) if row_steps is None else np.asarray(row_steps)
        cols = var.start + ve[:, None] * var.n_steps + vs[None, :]
        rows = re[:, None] * self.n_steps + rs[None, :]
        vals = np.broadcast_to(np.asarray(coef, dtype=np.float64), cols.shape)
        self.rows.append(rows.ravel().astype(np.int64))
        self.cols.append(cols.ravel().astype(np.int64))
        self.vals.append(np.array(vals, dtype=np.float64).ravel())
        return self

    def add_expr(self, other: Expr, scale: float = 1.0) -> Expr:
        assert (other.n_entities, other.n_steps) == (self.n_entities, self.n_steps)
        self.rows.extend(other.rows)
        self.cols.extend(other.cols)
        self.vals.extend(v * scale for v in other.vals)
        if other.constant is not None:
            self.add_constant(other.constant * scale)
        return self

    def add_constant(self, c: FloatArray) -> Expr:
        c = np.broadcast_to(c, (self.n_entities, self.n_steps)).astype(np.float64)
        self.constant = c.copy() if self.constant is None else self.constant + c
        return self

    def copy(self) -> Expr:
        out = Expr(self.n_entities, self.n_steps, list(self.rows), list(self.cols))
        out.vals = list(self.vals)
        out.constant = None if self.constant is None else self.constant.copy()
        return out

    def coo(self) -> tuple[IntArray, IntArray, FloatArray]:
        if not self.rows:
            e = np.zeros(0, dtype=np.int64)
            return e, e, np.zeros(0)
        return np.concatenate(self.rows), np.concatenate(self.cols), np.concatenate(self.vals)


class ModelIR:
    """Variable and constraint blocks in order, plus what the backends and extraction need."""

    def __init__(self, n_steps: int, dt_h: float, step_index: Any = None) -> None:
        self.n_steps = n_steps
        self.dt_h = dt_h
        self.step_index = step_index  # pandas DatetimeIndex of step starts (local time)
        self.vars: dict[str, VarBlock] = {}
        self.cons: dict[str, ConBlock] = {}
        self.n_cols = 0
        self.n_rows = 0
        self.objective_offset = 0.0
        self.objective_doc: list[tuple[str, str]] = []  # (term, source) for explain
        self._inverse: Inverse | None = None  # set by `pebdsl.lower.lower` when it ends
        self._matrix: sp.csc_matrix | None = None

    @property
    def inverse(self) -> Inverse:
        """The frozen map back to the design (lower/inverse.py); lowering sets it."""
        if self._inverse is None:
            raise ValueError("this IR was not made by pebdsl.lower: it has no inverse map")
        return self._inverse

    @inverse.setter
    def inverse(self, value: Inverse) -> None:
        self._inverse = value

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the assembled matrix (rebuilt on demand): `Results.ir` crosses
        processes in `compare`'s pool."""
        state = dict(self.__dict__)
        state["_matrix"] = None
        return state

    # -- construction ------------------------------------------------------------------------
    def add_var(
        self,
        name: str,
        entities: Sequence[str],
        n_steps: int | None = None,
        *,
        lower: float | FloatArray = 0.0,
        upper: float | FloatArray = INF,
        cost: float | FloatArray = 0.0,
        **meta: Any,
    ) -> VarBlock:
        if name in self.vars:
            raise ValueError(f"duplicate variable block {name!r}")
        s = self.n_steps if n_steps is None else n_steps
        shape = (len(entities), s)
        vb = VarBlock(
            name=name,
            entities=tuple(entities),
            n_steps=s,
            lower=_full(lower, shape),
            upper=_full(upper, shape),
            cost=_full(cost, shape),
            start=self.n_cols,
            **meta,
        )
        self.vars[name] = vb
        self.n_cols += vb.size
        self._matrix = None
        return vb

    def add_con(
        self,
        name: str,
        entities: Sequence[str],
        expr: Expr,
        *,
        lower: float | FloatArray = -INF,
        upper: float | FloatArray = INF,
        **meta: Any,
    ) -> ConBlock:
        """Add rows `lower <= expr <= upper`; the expression's constant moves to the bounds."""
        if name in self.cons:
            raise ValueError(f"duplicate constraint block {name!r}")
        shape = (len(entities), expr.n_steps)
        assert shape[0] == expr.n_entities, (name, shape, expr.n_entities)
        lo, up = _full(lower, shape), _full(upper, shape)
        if expr.constant is not None:
            lo = lo - expr.constant.ravel()
            up = up - expr.constant.ravel()
        rows, cols, vals = expr.coo()
        cb = ConBlock(
            name=name,
            entities=tuple(entities),
            n_steps=expr.n_steps,
            rows=rows,
            cols=cols,
            vals=vals,
            lower=lo,
            upper=up,
            start=self.n_rows,
            **meta,
        )
        self.cons[name] = cb
        self.n_rows += cb.size
        self._matrix = None
        return cb

    # -- assembly ----------------------------------------------------------------------------
    def matrix(self) -> sp.csc_matrix:
        """The constraint matrix over all blocks, CSC, duplicates summed."""
        if self._matrix is None:
            blocks = list(self.cons.values())
            if blocks:
                rows = np.concatenate([b.rows + b.start for b in blocks])
                cols = np.concatenate([b.cols for b in blocks])
                vals = np.concatenate([b.vals for b in blocks])
            else:
                rows = cols = np.zeros(0, dtype=np.int64)
                vals = np.zeros(0)
            m = sp.csc_matrix((vals, (rows, cols)), shape=(self.n_rows, self.n_cols))
            m.sum_duplicates()
            m.eliminate_zeros()
            self._matrix = m
        return self._matrix

    def col_lower(self) -> FloatArray:
        return _cat([v.lower for v in self.vars.values()])

    def col_upper(self) -> FloatArray:
        return _cat([v.upper for v in self.vars.values()])

    def cost(self) -> FloatArray:
        return _cat([v.cost for v in self.vars.values()])

    def row_lower(self) -> FloatArray:
        return _cat([c.lower for c in self.cons.values()])

    def row_upper(self) -> FloatArray:
        return _cat([c.upper for c in self.cons.values()])

    def stats(self) -> dict[str, int]:
        return {
            "variables": self.n_cols,
            "constraints": self.n_rows,
            "nonzeros": int(self.matrix().nnz),
        }

    # -- names and the map back ---------------------------------------------------------------
    def col_names(self, lp_safe: bool = False) -> list[str]:
        return [n for v in self.vars.values() for n in _names(v, lp_safe)]

    def row_names(self, lp_safe: bool = False) -> list[str]:
        return [n for c in self.cons.values() for n in _names(c, lp_safe)]

    def locate_col(self, j: int) -> tuple[VarBlock, str, int]:
        """(block, entity, step) of global column j."""
        for v in self.vars.values():
            if v.start <= j < v.start + v.size:
                e, s = divmod(j - v.start, v.n_steps)
                return v, v.entities[e], s
        raise IndexError(j)

    def locate_row(self, i: int) -> tuple[ConBlock, str, int]:
        """(block, entity, step) of global row i."""
        for c in self.cons.values():
            if c.start <= i < c.start + c.size:
                e, s = divmod(i - c.start, c.n_steps)
                return c, c.entities[e], s
        raise IndexError(i)

    def col_name(self, j: int) -> str:
        v, e, s = self.locate_col(j)
        return _name(v.name, e, s, v.step_labels)

    def row_name(self, i: int) -> str:
        c, e, s = self.locate_row(i)
        return _name(c.name, e, s, c.step_labels)


def _name(block: str, entity: str, step: int, labels: tuple[str, ...] | None) -> str:
    return f"{block}[{entity},{labels[step] if labels else step}]"


def _names(b: VarBlock | ConBlock, lp_safe: bool) -> list[str]:
    steps = list(b.step_labels) if b.step_labels else [str(s) for s in range(b.n_steps)]
    ents = [lp_name(e) for e in b.entities] if lp_safe else list(b.entities)
    name = lp_name(b.name) if lp_safe else b.name
    if lp_safe:
        return [f"{name}({e},{s})" for e in ents for s in steps]
    return [f"{name}[{e},{s}]" for e in ents for s in steps]


def lp_name(text: str) -> str:
    """A spelling HiGHS's LP/MPS writers keep: no brackets, arrows or spaces."""
    return (
        text.replace("->", "/")
        .replace("[", "(")
        .replace("]", ")")
        .replace(" ", "_")
        .replace(":", ".")
        .replace("-", "_")
    )


def _full(value: float | FloatArray, shape: tuple[int, int]) -> FloatArray:
    arr = np.broadcast_to(np.asarray(value, dtype=np.float64), shape)
    return np.array(arr, dtype=np.float64).ravel()


def _cat(parts: list[FloatArray]) -> FloatArray:
    return np.concatenate(parts) if parts else np.zeros(0)


def evaluate(expr: Expr, x: FloatArray) -> FloatArray:
    """The value of an expression at a solution, shape (entities, steps), constant included."""
    rows, cols, vals = expr.coo()
    flat = np.bincount(rows, weights=vals * x[cols], minlength=expr.n_entities * expr.n_steps)
    out: FloatArray = flat.astype(np.float64).reshape(expr.n_entities, expr.n_steps)
    if expr.constant is not None:
        out = out + expr.constant
    return out
