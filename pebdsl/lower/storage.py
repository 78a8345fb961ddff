"""Pass 3 — batteries, private and shared.

Input: `design.batteries()`. Output: variable blocks `charge`, `discharge` (kW, <= power) and
`soc` (kWh at the END of each step, in [min_soc, capacity], the last step >= final when set),
constraint block `soc_balance`
    soc[b,t] = soc[b,t−1] + (η·charge[b,t] − discharge[b,t]/η)·Δt,  soc[b,−1] = initial,
terms in the owner's balance (a private battery) or in the shared battery's own balance
(it trades through its markets: no grid access of its own), the throughput cost
(Δt·cost·(charge + discharge): every kWh through the terminals). `charge_from = local` is
enforced with the labelled local energy of `lower/local.py`. In a time-aggregated design
(`design.periods`) `soc` restarts from 0 in each typical period and lower/periods.py adds the
inter-period state of charge. Raises nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pebdsl.ir import Expr
from pebdsl.lower.context import Context
from pebdsl.lower.inverse import BatteryMap
from pebdsl.lower.periods import link_periods


def lower_storage(ctx: Context) -> None:
    d = ctx.design
    bats = d.batteries()
    if not bats:
        return
    names = tuple(bats)
    bs = list(bats.values())
    t = ctx.n_steps
    dt = ctx.dt_h
    # Availability (the share of the battery present, e.g. V2G cars plugged in): power,
    # capacity and the state-of-charge bounds scale with it; 1 without `available`.
    avail = np.array([b.available if b.available is not None else np.ones(t) for b in bs])
    power = np.array([b.power_kw for b in bs])[:, None] * avail
    cap_b = np.array([b.capacity_kwh for b in bs])
    cap = cap_b[:, None] * avail
    eta = np.array([b.efficiency for b in bs])
    tp = np.array([b.throughput_cost_per_kwh for b in bs])[:, None] * dt
    spans = tuple(b.span for b in bs)
    meta: dict[str, Any] = dict(spans=spans, span=spans[0], index=("b", "t"))
    c = ctx.ir.add_var("charge", names, upper=power, cost=tp, doc="battery charge", **meta)
    dis = ctx.ir.add_var("discharge", names, upper=power, cost=tp, doc="battery discharge", **meta)
    soc_lo = np.array([b.min_soc_kwh for b in bs])[:, None] * avail
    final = np.array([b.final_kwh if b.final_kwh is not None else -np.inf for b in bs])
    # (an unconstrained final stays -inf, also where nothing is present: -inf·0 would be NaN)
    fin = np.isfinite(final)
    final[fin] = final[fin] * avail[fin, -1]
    soc_lo[:, -1] = np.maximum(soc_lo[:, -1], final)
    periods = d.periods
    # Typical periods (`--aggregate`): `soc` is the change since the period's start, in
    # [−capacity, capacity]; lower/periods.py chains the periods' starts (the absolute state).
    soc = ctx.ir.add_var(
        "soc",
        names,
        lower=soc_lo if periods is None else -cap,
        upper=cap,
        unit="kWh",
        doc="state of charge at the end of the step",
        **meta,
    )
    e = Expr(len(names), t)
    e.add(soc, 1.0)
    if t > 1:
        rows = np.arange(1, t)
        if periods is not None:  # each typical period starts from 0 (its own start)
            rows = rows[rows % periods.period_steps != 0]
        e.add(soc, -1.0, var_steps=rows - 1, row_steps=rows)
    e.add(c, -(eta * dt)[:, None])
    e.add(dis, (dt / eta)[:, None])
    const = np.zeros((len(names), t))
    initial = np.array([b.initial_kwh for b in bs])
    if periods is None:
        const[:, 0] = -initial * avail[:, 0]
    const -= arrivals_kwh(bs, avail, cap_b)
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
    if periods is not None:
        link_periods(ctx, names, soc, bs, final, spans)
    owner_agent = [ctx.agent(b.owner) if b.owner else ctx.agent(n) for n, b in bats.items()]
    ctx.balance.add(c, -1.0, row_entities=owner_agent)
    ctx.balance.add(dis, 1.0, row_entities=owner_agent)
    # `local` is settled by the local pass (it needs the markets); provisional until then.
    ctx.inv.batteries = {
        n: BatteryMap(n, b.owner, b.block if b.owner is None else None, b.charge_from, False)
        for n, b in bats.items()
    }


def arrivals_kwh(bs: list[Any], avail: np.ndarray, cap_kwh: np.ndarray) -> np.ndarray:
    """Energy (kWh) brought in minus taken away by the part of each battery that arrives or
    leaves at the start of each step: when the share present rises by Δ, Δ·capacity arrives at
    `arrival_soc`; when it falls, Δ·capacity leaves at `departure_soc` (cars leave charged)."""
    delta = np.zeros_like(avail)
    delta[:, 1:] = np.diff(avail, axis=1)
    arr = np.array([b.arrival_soc for b in bs])[:, None]
    dep = np.array([b.departure_soc for b in bs])[:, None]
    out: np.ndarray = cap_kwh[:, None] * (
        arr * np.maximum(delta, 0.0) - dep * np.maximum(-delta, 0.0)
    )
    return out


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
