"""Typical periods (`pebdsl solve --aggregate`): storage across periods, and the step weights.

Input: a `Context` whose design has `periods` (pebdsl.design.Periods: K typical periods of S
steps laid end to end, `order[p]` the typical period of original period p, P of them).
Output, for the batteries (`link_periods`, called by lower/storage.py, where `soc[b,t]` is the
change of state of charge since the start of t's typical period):
- `soc_start[b,p]` (kWh, p = 0..P): the absolute state of charge at the start of original period
  p (p = P: the horizon's end), in [min_soc, capacity]; `soc_start[b,0]` = initial, and
  `soc_start[b,P]` >= final where a final state is set;
- `soc_high[b,k]`, `soc_low[b,k]`: the highest and lowest `soc` within typical period k;
- rows `soc_chain[b,p]`: soc_start[b,p+1] = soc_start[b,p] + soc[b, last step of order[p]];
  `soc_peak[b,t]`: soc[b,t] <= soc_high[b,k(t)]; `soc_trough[b,t]`: soc[b,t] >= soc_low[b,k(t)];
  `soc_top[b,p]`: soc_start[b,p] + soc_high[b,order[p]] <= capacity; `soc_bottom[b,p]`:
  soc_start[b,p] + soc_low[b,order[p]] >= min_soc.
This is the inter-period storage formulation of Kotzur et al. (2018, "Time series aggregation for
energy system design: modeling seasonal storage"), with the within-period extremes as columns: the
same feasible set as bounding soc_start[b,p] + soc[b,t] at every step of every original period,
in two rows per original period instead of one per step.

`weight_costs(ir, w)` multiplies the cost of every per-step column by its step's weight (the
number of original periods its typical period stands for), so the objective estimates the whole
horizon; `unaggregable(ir)` names the blocks whose second index is no step (monthly peaks,
flexible-load windows, horizon totals): a typical period cannot stand for those. Raises nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pebdsl.ir import ConBlock, Expr, FloatArray, ModelIR, VarBlock
from pebdsl.lower.context import Context

# Step kinds a time-aggregated model may hold: per step, and per original period (below).
AGGREGABLE_STEP_KINDS = ("t", "period")


def link_periods(
    ctx: Context,
    names: tuple[str, ...],
    soc: VarBlock,
    bs: list[Any],
    final: FloatArray,
    spans: tuple[Any, ...],
) -> None:
    """The inter-period state of charge of batteries `names` (see the module docstring)."""
    per = ctx.design.periods
    assert per is not None
    n_b, s = len(names), per.period_steps
    k_count, order = len(per.weights), np.asarray(per.order, dtype=np.int64)
    n_p = len(order)
    cap = np.array([b.capacity_kwh for b in bs], dtype=np.float64)
    low = np.array([b.min_soc_kwh for b in bs], dtype=np.float64)
    start_lo = np.repeat(low[:, None], n_p + 1, axis=1)
    start_hi = np.repeat(cap[:, None], n_p + 1, axis=1)
    initial = np.array([b.initial_kwh for b in bs], dtype=np.float64)
    start_lo[:, 0] = start_hi[:, 0] = initial
    start_lo[:, -1] = np.maximum(start_lo[:, -1], final)
    meta: dict[str, Any] = dict(spans=spans, span=spans[0], step_kind="period", unit="kWh")
    start = ctx.ir.add_var(
        "soc_start",
        names,
        n_p + 1,
        lower=start_lo,
        upper=start_hi,
        doc="state of charge at the start of each original period",
        index=("b", "period"),
        **meta,
    )
    high = ctx.ir.add_var(
        "soc_high", names, k_count, lower=-cap[:, None], upper=cap[:, None],
        doc="highest soc within each typical period", index=("b", "k"), **meta,
    )  # fmt: skip
    low_v = ctx.ir.add_var(
        "soc_low", names, k_count, lower=-cap[:, None], upper=cap[:, None],
        doc="lowest soc within each typical period", index=("b", "k"), **meta,
    )  # fmt: skip
    steps = np.arange(ctx.n_steps)
    of_step = steps // s
    con: dict[str, Any] = dict(spans=spans, entity_spans=spans, unit="kWh")
    chain = Expr(n_b, n_p)
    chain.add(start, 1.0, var_steps=np.arange(1, n_p + 1), row_steps=np.arange(n_p))
    chain.add(start, -1.0, var_steps=np.arange(n_p), row_steps=np.arange(n_p))
    chain.add(soc, -1.0, var_steps=order * s + s - 1, row_steps=np.arange(n_p))
    ctx.ir.add_con(
        "soc_chain", names, chain, lower=0.0, upper=0.0, step_kind="period",
        index=("b", "period"), template="soc_start[b,p+1] = soc_start[b,p] + soc[b,end of k(p)]",
        doc="state of charge from one original period to the next", **con,
    )  # fmt: skip
    for name, var, sign in (("soc_peak", high, 1.0), ("soc_trough", low_v, -1.0)):
        e = Expr(n_b, ctx.n_steps).add(soc, sign)
        e.add(var, -sign, var_steps=of_step, row_steps=steps)
        ctx.ir.add_con(
            name, names, e, upper=0.0, index=("b", "t"),
            template=f"soc[b,t] {'<=' if sign > 0 else '>='} soc_{'high' if sign > 0 else 'low'}"
            "[b,k(t)]", doc="the extremes of soc within each typical period", **con,
        )  # fmt: skip
    for name, var, lo, hi in (
        ("soc_top", high, -np.inf, cap[:, None]),
        ("soc_bottom", low_v, low[:, None], np.inf),
    ):
        e = Expr(n_b, n_p).add(start, 1.0, var_steps=np.arange(n_p), row_steps=np.arange(n_p))
        e.add(var, 1.0, var_steps=order, row_steps=np.arange(n_p))
        ctx.ir.add_con(
            name, names, e, lower=lo, upper=hi, step_kind="period", index=("b", "period"),
            template="min_soc <= soc_start[b,p] + soc_low/high[b,k(p)] <= capacity",
            doc="the state of charge within each original period", **con,
        )  # fmt: skip


def weight_costs(ir: ModelIR, weights: FloatArray) -> None:
    """Multiply every per-step column's cost by its step's weight, in place (1/w undoes it)."""
    for vb in ir.vars.values():
        if vb.step_kind == "t" and vb.n_steps == weights.size:
            vb.cost = (vb.cost.reshape(len(vb.entities), vb.n_steps) * weights[None, :]).ravel()


def unaggregable(ir: ModelIR) -> list[str]:
    """The blocks a typical period cannot stand for (their second index is not a step)."""
    blocks: list[VarBlock | ConBlock] = [*ir.vars.values(), *ir.cons.values()]
    return sorted({b.name for b in blocks if b.step_kind not in AGGREGABLE_STEP_KINDS})
