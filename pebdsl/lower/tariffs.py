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

from pebdsl.ir import INF, Expr, FloatArray
from pebdsl.lower.context import Context
from pebdsl.lower.inverse import CapacityMap
from pebdsl.lower.meters import energy_charge_rows, metered
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
    if dso.charge_on == "purchase":
        rates = energy_charge_rows(ctx, list(range(len(ctx.participants))))
        if rates is not None:
            gi.cost = gi.cost + (rates * ctx.dt_h).ravel()
            gi.cost_doc = "Δt·(buy[t] + energy_charge[t])·gi[p,t]"
    parts, _ = capacity_prices(ctx)
    if parts or (dso.capacity_charge_basis == "block" and ctx.blocks and _dso_charges(ctx)):
        _capacity(ctx)
    if dso.flexibility:
        _flexibility(ctx)


def dso_month_price(ctx: Context, mid: np.ndarray, nm: int) -> FloatArray:
    """The DSO's capacity price (currency/kW/month) of each month of the horizon: the series'
    value in that month (constant there, E315), or the constant."""
    dso = ctx.design.dso
    if dso.capacity_charge_by_step is None:
        return np.full(nm, dso.capacity_charge_per_kw_month)
    first = np.array([int(np.flatnonzero(mid == j)[0]) for j in range(nm)], dtype=np.int64)
    return np.asarray(dso.capacity_charge_by_step[first], dtype=np.float64)


def _dso_charges(ctx: Context) -> bool:
    mid, labels, _ = months(ctx)
    return bool(np.any(dso_month_price(ctx, mid, len(labels)) > 0))


def own_capacity(ctx: Context, agent: int) -> bool:
    """True for a participant whose own tariff measures or steps its capacity charge
    differently (`lower/household.py` bills it, not the hourly peak here)."""
    if agent >= len(ctx.participants):
        return False
    tf = ctx.design.participants[ctx.participants[agent]].tariff
    return tf is not None and (tf.capacity_peak != "hour" or bool(tf.capacity_steps_kw))


def capacity_prices(ctx: Context) -> tuple[list[int], FloatArray]:
    """Participants and shared batteries billed on their hourly monthly peak (agent indices)
    and their price per month (currency/kW/month incl. VAT): their own tariff's, else the
    DSO's. Blocks (`capacity_basis = block`) are added by `_capacity`."""
    d = ctx.design
    mid, labels, _ = months(ctx)
    nm = len(labels)
    dso_p = dso_month_price(ctx, mid, nm)
    by_block = d.dso.capacity_charge_basis == "block"
    cand = metered(ctx) if d.dso.charge_on == "meter" else list(range(len(ctx.participants)))
    vat = ctx.vat_factor()
    out: list[int] = []
    rows = []
    for a in cand:
        if own_capacity(ctx, a) or (by_block and ctx.agent_block(ctx.agents[a])):
            continue
        price = dso_p
        if a < len(ctx.participants):
            tf = d.participants[ctx.participants[a]].tariff
            if tf is not None and tf.capacity_charge_per_kw_month is not None:
                first = [int(np.flatnonzero(mid == j)[0]) for j in range(nm)]
                price = tf.capacity_charge_per_kw_month[first]
            price = price * vat[a]
        if np.any(price > 0):
            out.append(a)
            rows.append(price)
    block_any = by_block and bool(ctx.blocks) and bool(np.any(dso_p > 0))
    if not out and not block_any:
        return [], np.zeros((0, nm))
    return out, np.array(rows, dtype=np.float64).reshape(len(out), nm)


def _capacity(ctx: Context) -> None:
    d = ctx.design
    dso = d.dso
    gi = ctx.ir.vars["gi"]
    mid, labels, frac = months(ctx)
    nm = len(labels)
    by_block = dso.capacity_charge_basis == "block"
    on_meter = dso.charge_on == "meter"
    # Metered entities: participants (and, on the meter basis, shared batteries that trade),
    # except those inside a block when the block connection is what is charged, and those
    # whose own tariff bills another measure (lower/household.py).
    parts, price = capacity_prices(ctx)
    ents = [ctx.agents[a] for a in parts] + (list(ctx.blocks) if by_block else [])
    if by_block and ctx.blocks:
        price = np.vstack([price, np.tile(dso_month_price(ctx, mid, nm), (len(ctx.blocks), 1))])
    peak = ctx.ir.add_var(
        "peak",
        ents,
        nm,
        cost=price * frac[None, :],
        doc="highest import in the month",
        span=dso.span,
        spans=(dso.span,),
        index=("e", "m"),
        step_kind="month",
        step_labels=tuple(labels),
        cost_doc="capacity_charge_m·share_m·peak[e,m]  (share_m = hours of m inside the horizon"
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
