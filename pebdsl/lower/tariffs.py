"""Pass 7 — the DSO: energy charge, monthly capacity charge, flexibility needs.

Input: `design.dso` and the block net-import expression. Output:
- energy charge: Δt·energy_charge[t] added to the cost of each participant's own `gi`
  (gross import, not the block's net);
- capacity charge: variable block `peak[e,month]` (kW) per participant — or per block when
  `capacity_charge_basis == "block"` (participants outside blocks stay per participant) —
  and calendar month of the horizon's timezone, rows `peak_def`: gi[p,t] ≤ peak[p,m(t)]
  (block: net import ≤ peak), cost charge·peak·(hours of the month inside the horizon / hours
  in the month): billed pro rata;
- flexibility: rows `flex_limit`: net_import[b,t] − excess[b,t] ≤ limit_b, with the variable
  `excess[b,t] ≥ 0` at Δt·price only for priced needs (hard needs have none). The dual of a
  row / Δt is the local flexibility price (currency/kWh).
Raises nothing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pebdsl.ir import INF, Expr
from pebdsl.lower.context import Context
from pebdsl.lower.inverse import CapacityMap
from pebdsl.lower.meters import metered
from pebdsl.lower.storage import add_rows_of


def months(ctx: Context) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Month id of every step, month labels, and the share of each month inside the horizon."""
    idx = pd.DatetimeIndex(ctx.ir.step_index)
    key = np.asarray(idx.year * 12 + idx.month - 1)
    uniq, mid = np.unique(key, return_inverse=True)
    labels = [f"{k // 12:04d}-{k % 12 + 1:02d}" for k in uniq]
    frac = np.empty(len(uniq))
    for j, k in enumerate(uniq):
        start = pd.Timestamp(year=int(k // 12), month=int(k % 12 + 1), day=1, tz=idx.tz)
        end = start + pd.offsets.MonthBegin(1)
        hours = (end - start).total_seconds() / 3600.0
        frac[j] = np.count_nonzero(mid == j) * ctx.dt_h / hours
    return mid.astype(np.int64), labels, frac


def lower_tariffs(ctx: Context) -> None:
    d = ctx.design
    dso = d.dso
    gi = ctx.ir.vars["gi"]
    if dso.energy_charge_per_kwh is not None and dso.charge_on == "purchase":
        gi.cost = gi.cost + np.tile(dso.energy_charge_per_kwh * ctx.dt_h, len(gi.entities))
        gi.cost_doc = "Δt·(buy[t] + energy_charge[t])·gi[p,t]"
    if dso.capacity_charge_per_kw_month:
        _capacity(ctx)
    if dso.flexibility:
        _flexibility(ctx)


def _capacity(ctx: Context) -> None:
    d = ctx.design
    dso = d.dso
    gi = ctx.ir.vars["gi"]
    mid, labels, frac = months(ctx)
    nm = len(labels)
    by_block = dso.capacity_charge_basis == "block"
    on_meter = dso.charge_on == "meter"
    # Metered entities: participants (and, on the meter basis, shared batteries that trade),
    # except those inside a block when the block connection is what is charged.
    cand = metered(ctx) if on_meter else list(range(len(ctx.participants)))
    parts = [a for a in cand if not (by_block and ctx.agent_block(ctx.agents[a]))]
    ents = [ctx.agents[a] for a in parts] + (list(ctx.blocks) if by_block else [])
    charge = dso.capacity_charge_per_kw_month
    peak = ctx.ir.add_var(
        "peak",
        ents,
        nm,
        cost=(charge * frac)[None, :],
        doc="highest import in the month",
        span=dso.span,
        spans=(dso.span,),
        index=("e", "m"),
        step_kind="month",
        step_labels=tuple(labels),
        cost_doc="capacity_charge·share_m·peak[e,m]  (share_m = hours of m inside the horizon"
        " / hours of m)",
    )
    t = ctx.n_steps
    e = Expr(len(ents), t)
    if on_meter:
        add_rows_of(e, ctx.meter, parts, 1.0)
    else:
        e.add(gi, 1.0, var_entities=parts, row_entities=np.arange(len(parts)))
    if by_block and ctx.blocks:
        add_rows_of_offset(e, ctx.block_net, len(parts))
    e.add(peak, -1.0, var_steps=mid, row_steps=np.arange(t))
    ctx.ir.add_con(
        "peak_def",
        tuple(ents),
        e,
        upper=0.0,
        template=("meter[e,t]" if on_meter else "gi[e,t]")
        + " ≤ peak[e,m(t)]"
        + ("  (blocks: net import at the connection)" if by_block else ""),
        sources=("dso capacity_charge",),
        spans=(dso.span,),
        doc="the monthly peak import that the capacity charge bills",
    )
    ctx.inv.capacity = CapacityMap(tuple(ents), tuple(labels), tuple(frac.tolist()), mid)


def add_rows_of_offset(target: Expr, src: Expr, offset: int) -> None:
    for rows, cols, vals in zip(src.rows, src.cols, src.vals, strict=True):
        target.rows.append(rows + offset * target.n_steps)
        target.cols.append(cols)
        target.vals.append(vals)


def _flexibility(ctx: Context) -> None:
    d = ctx.design
    needs = [n for n in d.dso.flexibility if n.block in ctx.blocks]
    if not needs:
        return
    t = ctx.n_steps
    names = tuple(n.block for n in needs)
    bidx = [ctx.blocks.index(b) for b in names]
    e = Expr(len(needs), t)
    add_rows_of(e, ctx.block_net, bidx, 1.0)
    priced = [i for i, n in enumerate(needs) if n.price_per_kwh is not None]
    if priced:
        price = np.array([needs[i].price_per_kwh or 0.0 for i in priced])
        ex = ctx.ir.add_var(
            "excess",
            tuple(names[i] for i in priced),
            cost=(price * ctx.dt_h)[:, None],
            doc="import above the DSO's limit (priced flexibility need)",
            spans=tuple(needs[i].span for i in priced),
            span=needs[priced[0]].span,
            index=("b", "t"),
            cost_doc="Δt·price_b·excess[b,t]",
        )
        e.add(ex, -1.0, row_entities=priced)
    limit = np.array([n.limit_kw for n in needs])[:, None]
    spans = tuple(n.span for n in needs)
    ctx.ir.add_con(
        "flex_limit",
        names,
        e,
        upper=np.broadcast_to(limit, (len(needs), t)),
        lower=-INF,
        template="net_import[b,t] − excess[b,t] ≤ limit_b   (excess only when priced)",
        sources=tuple(f"dso flexibility {n}" for n in names),
        spans=spans,
        entity_spans=spans,
        doc="the DSO's flexibility need: its dual / Δt is the local flexibility price",
        index=("b", "t"),
    )
