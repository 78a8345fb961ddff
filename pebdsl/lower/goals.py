"""Pass 9 — hard goals as constraints (`goals { … }`, design.Goal; `prefer` goals add nothing).

Input: `design.goals` and the expressions earlier passes built (`gi`, `ge`, the block net
import, the generation used `own_gen`, the local-market receipts `received`). Output: one
constraint block per hard goal, named `goal.<metric>` (`goal.street.peak_import` for a block),
each row keeping the goal's Span (an unreachable goal is diagnosed from it):

    peak_import <= P        net_t ≤ P for every t, net_t = Σ_b block_net[b,t]
                            + Σ_(p outside blocks) (gi[p,t] − ge[p,t])  (docs/kpis.md "Peaks");
                            a block: block_net[b,t] ≤ P
    local_trade >= E        Σ_a,t received[a,t]·Δt ≥ E: energy delivered in local markets
    pv_surplus_local >= s   Σ_p,t ((G − g) + ge)·Δt ≤ (1 − s)·Σ_p,t S·Δt, S = max(G − L, 0)

The share goal is the linear form of docs/kpis.md's definition: the surplus lost to the
community in a step is min(S, curtailment + exported generation) ≤ curtailment + export, so
the row bounds the lost surplus from above and the reported share meets the goal (it is
sufficient, not necessary: export of stored grid energy counts as lost here). `L` is the
declared load (before flexible shifting). The local-trade goal counts every delivery the LP
sees; the reported `local_trade_kwh` labels grid energy passed on through a market as not
local (docs/kpis.md), so it can be lower. A design without PV surplus gets no share row (there
is nothing to balance). Raises nothing.
"""

from __future__ import annotations

import numpy as np

from pebdsl.design import Goal
from pebdsl.ir import Expr
from pebdsl.lower.context import Context
from pebdsl.lower.storage import add_rows_of


def lower_goals(ctx: Context) -> None:
    for g in ctx.design.goals:
        if g.prefer:
            continue
        if g.metric == "peak_import":
            _peak(ctx, g)
        elif g.metric == "local_trade":
            _local_trade(ctx, g)
        else:
            _surplus_share(ctx, g)


def _con(ctx: Context, g: Goal, e: Expr, lower: float, upper: float, template: str) -> None:
    name = f"goal.{g.block}.{g.metric}" if g.block else f"goal.{g.metric}"
    ctx.ir.add_con(
        name,
        (g.block or "design",),
        e,
        lower=lower,
        upper=upper,
        unit={"peak_import": "kW", "local_trade": "kWh"}.get(g.metric, "kWh"),
        template=template,
        sources=(f"goal {g.text}",),
        spans=(g.span,),
        entity_spans=(g.span,),
        doc=f"goal: {g.text}",
        index=("goal", "t" if e.n_steps > 1 else "-"),
        step_kind="t" if e.n_steps > 1 else "-",
        step_labels=None if e.n_steps > 1 else ("total",),
    )


def _peak(ctx: Context, g: Goal) -> None:
    t = ctx.n_steps
    e = Expr(1, t)
    if g.block is not None:
        add_rows_of(e, ctx.block_net, [ctx.blocks.index(g.block)], 1.0)
        _con(ctx, g, e, -np.inf, g.value, "block_net[b,t] ≤ P")
        return
    if ctx.blocks:
        add_rows_of(e, _sum_rows(ctx.block_net), [0], 1.0)
    outside = [
        i for i, p in enumerate(ctx.participants) if ctx.design.participants[p].block is None
    ]
    if outside:
        zeros = np.zeros(len(outside), dtype=np.int64)
        e.add(ctx.ir.vars["gi"], 1.0, var_entities=outside, row_entities=zeros)
        if "ge" in ctx.ir.vars:
            e.add(ctx.ir.vars["ge"], -1.0, var_entities=outside, row_entities=zeros)
    _con(ctx, g, e, -np.inf, g.value, "Σ_b block_net[b,t] + Σ_(p outside blocks) (gi − ge) ≤ P")


def _sum_rows(src: Expr) -> Expr:
    """All entities of `src` added into one row per step."""
    out = Expr(1, src.n_steps)
    for rows, cols, vals in zip(src.rows, src.cols, src.vals, strict=True):
        out.rows.append(rows % src.n_steps)
        out.cols.append(cols)
        out.vals.append(vals)
    if src.constant is not None:
        out.add_constant(src.constant.sum(axis=0, keepdims=True))
    return out


def _total(src: Expr, scale: float) -> Expr:
    """Σ over entities and steps of `src`, times `scale`, as a single row."""
    out = Expr(1, 1)
    for rows, cols, vals in zip(src.rows, src.cols, src.vals, strict=True):
        out.rows.append(np.zeros_like(rows))
        out.cols.append(cols)
        out.vals.append(vals * scale)
    if src.constant is not None:
        out.add_constant(np.array([[float(src.constant.sum()) * scale]]))
    return out


def _local_trade(ctx: Context, g: Goal) -> None:
    _con(ctx, g, _total(ctx.received, ctx.dt_h), g.value, np.inf, "Σ_a,t received[a,t]·Δt ≥ E")


def _surplus_share(ctx: Context, g: Goal) -> None:
    dt = ctx.dt_h
    n_p = len(ctx.participants)
    avail = ctx.available_gen_kw()[:n_p]
    load = ctx.load_kw()[:n_p]
    surplus = float(np.maximum(avail - load, 0.0).sum()) * dt
    if surplus <= 0.0:
        return  # no surplus to balance: the goal asks nothing (its share is null, docs/kpis.md)
    e = _total(ctx.gen_expr(("pv", "wind")), -dt)  # −Σ g·Δt
    if "ge" in ctx.ir.vars:
        e.add_expr(_total(Expr(n_p, ctx.n_steps).add(ctx.ir.vars["ge"], 1.0), dt))
    # (G − g) + ge ≤ (1 − s)·S, with Σ G·Δt a constant moved to the right-hand side.
    upper = (1.0 - g.value) * surplus - float(avail.sum()) * dt
    _con(ctx, g, e, -np.inf, upper, "Σ_p,t ((G − g) + ge)·Δt ≤ (1 − s)·Σ_p,t S·Δt")
