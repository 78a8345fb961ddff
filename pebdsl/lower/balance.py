"""Pass 1 — grid exchange and the participants' energy balance.

Input: the design's participants and grid. Output: variable blocks `gi` (grid import, kW) and
`ge` (grid export, kW; absent when `sell = none`) with the participant's `connection` as
bounds, their grid prices as costs (price x dt_h per kW), and the first terms of the balance
(`+gi − ge`, right-hand side = load) and of each block's net import. On a staged grid
(`day_ahead` + `intraday`) gi and ge are the physical flows at no price: the stage columns of
`lower/stages.py` carry the prices. Raises nothing.
"""

from __future__ import annotations

import numpy as np

from pebdsl.lower.context import Context, Pending, connection_bounds


def lower_balance(ctx: Context) -> None:
    d = ctx.design
    parts = [d.participants[p] for p in ctx.participants]
    dt = ctx.dt_h
    imp, exp = connection_bounds([p.connection for p in parts])
    staged = d.grid.day_ahead is not None
    buy = np.zeros(ctx.n_steps) if staged else d.grid.buy_per_kwh
    sell = d.grid.sell_per_kwh
    if staged:
        da_sell = d.grid.day_ahead.sell_per_kwh if d.grid.day_ahead else None
        sell = None if sell is None and da_sell is None else np.zeros(ctx.n_steps)
    spans = tuple(p.connection.span for p in parts if p.connection)
    gi = ctx.ir.add_var(
        "gi",
        ctx.participants,
        lower=0.0,
        upper=imp[:, None],
        # VAT on the supplier's energy for participants who pay it (households); a staged
        # grid prices its stages in lower/stages.py.
        cost=buy[None, :] * dt * ctx.vat_factor()[:, None],
        doc="grid import",
        span=d.grid.span,
        spans=spans,
        index=("p", "t"),
        cost_doc="Δt·buy[t]·gi[p,t]",
    )
    agent_of = np.array([ctx.agent(p) for p in ctx.participants], dtype=np.int64)
    ctx.balance.add(gi, 1.0, row_entities=agent_of)
    ctx.meter.add(gi, 1.0, row_entities=agent_of)
    blk = [(i, ctx.block_index(p.block)) for i, p in enumerate(parts)]
    inb = [(i, b) for i, b in blk if b is not None]
    if inb:
        ctx.block_net.add(
            gi, 1.0, var_entities=[i for i, _ in inb], row_entities=[b for _, b in inb]
        )
    if sell is not None:
        ge = ctx.ir.add_var(
            "ge",
            ctx.participants,
            lower=0.0,
            upper=exp[:, None],
            cost=-sell[None, :] * dt,
            doc="grid export",
            span=d.grid.span,
            spans=spans,
            index=("p", "t"),
            cost_doc="−Δt·sell[t]·ge[p,t]",
        )
        ctx.balance.add(ge, -1.0, row_entities=agent_of)
        ctx.meter.add(ge, -1.0, row_entities=agent_of)
        if inb:
            ctx.block_net.add(
                ge, -1.0, var_entities=[i for i, _ in inb], row_entities=[b for _, b in inb]
            )
    # The balance: supply − use = load, so its dual is the marginal cost of serving one more kW
    # of the agent's load in the step (divided by dt_h: the local price in currency/kWh).
    bal = ctx.balance
    bal.add_constant(-ctx.load_kw())
    ctx.pending.append(
        Pending(
            "balance",
            ctx.agents,
            bal,
            lower=0.0,
            upper=0.0,
            meta=dict(
                template="gi[p,t] − ge[p,t] + Σ gen[p,·,t] + discharge[p,t] − charge[p,t] "
                "+ Σ_m (buy[m,p,t] − sell[m,p,t]) + shift_out[p,t] − shift_in[p,t] = load[p,t]",
                doc="energy balance of each participant (and shared battery) in each step",
                sources=tuple(f"participant {p}" for p in ctx.participants),
                spans=tuple(p.span for p in parts),
                entity_spans=tuple(p.span for p in parts)
                + tuple(b.span for b in d.shared_batteries.values()),
                index=("p", "t"),
            ),
        )
    )
