"""Pass 4 — flexible load: part of the load may move within each window.

Input: each participant's `flexible` (share, window_h, cost_per_kwh). Output: variable blocks
`shift_in` and `shift_out` (kW, each <= share·load[p,t]), their terms in the balance (load
served = load + shift_in − shift_out), the cost Δt·cost·shift_out (each kWh moved is paid
once) and constraint block `shift_window`: Σ_{t∈w} (shift_in − shift_out) = 0 per window w.
Windows follow the local clock of the horizon's timezone, counted from local midnight of the
first day: `window = 4 h` gives 00–04, 04–08, … and `window = 1 d` the calendar day, so a
horizon starting at 06:00 begins with a partial window, and on a daylight-saving day the
windows keep to the wall clock (a repeated hour stays in its window). Raises nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pebdsl.ir import Expr
from pebdsl.lower.context import Context


def lower_flexible(ctx: Context) -> None:
    d = ctx.design
    flex = [(i, p) for i, p in enumerate(ctx.participants) if d.participants[p].flexible]
    if not flex:
        return
    t = ctx.n_steps
    dt = ctx.dt_h
    names = tuple(p for _, p in flex)
    fs = [d.participants[p].flexible for p in names]
    loads = np.vstack([d.participants[p].demand_kw(t) for p in names])
    share = np.array([f.share for f in fs if f])[:, None]
    cost = np.array([f.cost_per_kwh for f in fs if f])[:, None] * dt
    spans = tuple(f.span for f in fs if f)
    meta: dict[str, Any] = dict(spans=spans, span=spans[0], index=("p", "t"))
    upper = share * np.maximum(loads, 0.0)
    s_in = ctx.ir.add_var("shift_in", names, upper=upper, doc="load moved into the step", **meta)
    s_out = ctx.ir.add_var(
        "shift_out", names, upper=upper, cost=cost, doc="load moved out of the step", **meta
    )
    agents = [ctx.agent(p) for p in names]
    ctx.balance.add(s_in, -1.0, row_entities=agents)
    ctx.balance.add(s_out, 1.0, row_entities=agents)
    # Windows may differ per participant: number them on a common grid of the longest count.
    windows = [d.time.windows(f.window_h) for f in fs if f is not None]
    n_w = max(int(w.max()) + 1 for w in windows)
    e = Expr(len(names), n_w)
    for k, w in enumerate(windows):
        e.add(s_in, 1.0, var_entities=[k], row_entities=[k], row_steps=w)
        e.add(s_out, -1.0, var_entities=[k], row_entities=[k], row_steps=w)
    # Rows of windows past a participant's last one are empty (0 = 0): harmless, kept simple.
    ctx.ir.add_con(
        "shift_window",
        names,
        e,
        lower=0.0,
        upper=0.0,
        unit="kWh/Δt",
        template="Σ_{t∈w} (shift_in[p,t] − shift_out[p,t]) = 0   for each window w",
        sources=tuple(f"{p}.flexible" for p in names),
        doc="shifted energy nets to zero within each window",
        spans=spans,
        entity_spans=spans,
        index=("p", "w"),
        step_kind="window",
    )
