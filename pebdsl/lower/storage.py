"""Pass 3 — batteries, private and shared.

Input: `design.batteries()`. Output: variable blocks `charge`, `discharge` (kW, <= power) and
`soc` (kWh at the END of each step, in [min_soc, capacity], the last step >= final when set),
constraint block `soc_balance`
    soc[b,t] = soc[b,t−1] + (η·charge[b,t] − discharge[b,t]/η)·Δt,  soc[b,−1] = initial,
terms in the owner's balance (a private battery) or in the shared battery's own balance
(it trades through its markets: no grid access of its own), the throughput cost
(Δt·cost·(charge + discharge): every kWh through the terminals). `charge_from = local` is
enforced with the labelled local energy of `lower/local.py`. Raises nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pebdsl.ir import Expr
from pebdsl.lower.context import Context
from pebdsl.lower.inverse import BatteryMap


def lower_storage(ctx: Context) -> None:
    d = ctx.design
    bats = d.batteries()
    if not bats:
        return
    names = tuple(bats)
    bs = list(bats.values())
    t = ctx.n_steps
    dt = ctx.dt_h
    power = np.array([b.power_kw for b in bs])[:, None]
    cap = np.array([b.capacity_kwh for b in bs])
    eta = np.array([b.efficiency for b in bs])
    tp = np.array([b.throughput_cost_per_kwh for b in bs])[:, None] * dt
    spans = tuple(b.span for b in bs)
    meta: dict[str, Any] = dict(spans=spans, span=spans[0], index=("b", "t"))
    c = ctx.ir.add_var("charge", names, upper=power, cost=tp, doc="battery charge", **meta)
    dis = ctx.ir.add_var("discharge", names, upper=power, cost=tp, doc="battery discharge", **meta)
    soc_lo = np.repeat(np.array([b.min_soc_kwh for b in bs])[:, None], t, axis=1)
    final = np.array([b.final_kwh if b.final_kwh is not None else -np.inf for b in bs])
    soc_lo[:, -1] = np.maximum(soc_lo[:, -1], final)
    soc = ctx.ir.add_var(
        "soc",
        names,
        lower=soc_lo,
        upper=cap[:, None],
        unit="kWh",
        doc="state of charge at the end of the step",
        **meta,
    )
    e = Expr(len(names), t)
    e.add(soc, 1.0)
    if t > 1:
        e.add(soc, -1.0, var_steps=np.arange(t - 1), row_steps=np.arange(1, t))
    e.add(c, -(eta * dt)[:, None])
    e.add(dis, (dt / eta)[:, None])
    const = np.zeros((len(names), t))
    const[:, 0] = -np.array([b.initial_kwh for b in bs])
    e.add_constant(const)
    ctx.ir.add_con(
        "soc_balance",
        names,
        e,
        lower=0.0,
        upper=0.0,
        unit="kWh",
        template="soc[b,t] = soc[b,t−1] + (η_b·charge[b,t] − discharge[b,t]/η_b)·Δt,"
        "  soc[b,−1] = initial_b",
        sources=tuple(f"battery {n}" for n in names),
        doc="battery state of charge",
        spans=spans,
        entity_spans=spans,
        index=("b", "t"),
    )
    owner_agent = [ctx.agent(b.owner) if b.owner else ctx.agent(n) for n, b in bats.items()]
    ctx.balance.add(c, -1.0, row_entities=owner_agent)
    ctx.balance.add(dis, 1.0, row_entities=owner_agent)
    # `local` is settled by the local pass (it needs the markets); provisional until then.
    ctx.inv.batteries = {
        n: BatteryMap(n, b.owner, b.block if b.owner is None else None, b.charge_from, False)
        for n, b in bats.items()
    }


def add_rows_of(target: Expr, src: Expr, src_rows: list[int], scale: float) -> None:
    """Add rows `src_rows[k]` of `src` (entity x t) to row k of `target`, times `scale`.

    `src_rows` holds distinct entities (one battery per owner)."""
    remap = np.full(src.n_entities, -1, dtype=np.int64)
    remap[np.asarray(src_rows, dtype=np.int64)] = np.arange(len(src_rows))
    for rows, cols, vals in zip(src.rows, src.cols, src.vals, strict=True):
        ent = remap[rows // src.n_steps]
        keep = ent >= 0
        if not keep.any():
            continue
        target.rows.append(ent[keep] * target.n_steps + rows[keep] % src.n_steps)
        target.cols.append(cols[keep])
        target.vals.append(vals[keep] * scale)
