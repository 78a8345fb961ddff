"""Pass 7 — meters: each participant's (and shared battery's) physical exchange with the grid.

Input: `ctx.meter` (agent x t), the net withdrawal at each agent's meter built by the balance
and markets passes: gi − ge + Σ_m received − Σ_m sold (+ = the meter imports). Local trades
flow through the meters like grid energy: the seller's meter exports what it sends, the
buyer's meter imports what it receives.
Output:
- `meter_connection`: −export_p ≤ meter[p,t] ≤ import_p for participants with a `connection`
  that trade locally (without local trades the bounds on gi and ge already say this): a
  participant cannot receive more through its connection than the connection carries;
- with `dso { charge_on = meter }` (the default) and an energy charge: the variable
  `meter_in[a,t] ≥ meter[a,t]`, `≥ 0` (row `meter_in_def`): the meter's positive net withdrawal,
  on which the energy charge is levied (`lower/tariffs.py`).
The inverse map's `meters` records the basis, the metered agents and the meter expression.
Raises nothing.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from pebdsl.ir import Expr
from pebdsl.lower.context import Context, connection_bounds, linear_map
from pebdsl.lower.inverse import MeterMap
from pebdsl.lower.storage import add_rows_of


def metered(ctx: Context) -> list[int]:
    """Agents whose meter carries anything: every participant, and shared batteries that trade."""
    rows, _, _ = ctx.meter.coo()
    used = set(np.unique(rows // ctx.n_steps).tolist()) if rows.size else set()
    return [a for a in range(len(ctx.agents)) if a < len(ctx.participants) or a in used]


def traders(ctx: Context) -> set[int]:
    rows, _, _ = ctx.sold.coo()
    r2, _, _ = ctx.received.coo()
    return set(np.unique(np.concatenate([rows, r2]) // ctx.n_steps).tolist())


def lower_meters(ctx: Context) -> None:
    d = ctx.design
    agents = metered(ctx)
    meters = MeterMap(d.dso.charge_on, tuple(ctx.agents[a] for a in agents), linear_map(ctx.meter))
    ctx.inv.meters = meters
    _connection(ctx)
    if d.dso.charge_on != "meter" or d.dso.energy_charge_per_kwh is None:
        return
    t = ctx.n_steps
    m_in = ctx.ir.add_var(
        "meter_in",
        tuple(ctx.agents[a] for a in agents),
        cost=np.ones((len(agents), 1)) * (d.dso.energy_charge_per_kwh * ctx.dt_h)[None, :],
        doc="the meter's positive net withdrawal (what the energy charge applies to)",
        span=d.dso.span,
        spans=(d.dso.span,),
        index=("a", "t"),
        cost_doc="Δt·energy_charge[t]·meter_in[a,t]",
    )
    e = Expr(len(agents), t)
    add_rows_of(e, ctx.meter, agents, 1.0)
    e.add(m_in, -1.0)
    ctx.ir.add_con(
        "meter_in_def",
        m_in.entities,
        e,
        upper=0.0,
        template="gi[a,t] − ge[a,t] + Σ_m received[m,a,t] − Σ_m sold[m,a,t] ≤ meter_in[a,t]",
        sources=("dso energy_charge",),
        spans=(d.dso.span,),
        doc="the energy charge applies to each meter's net withdrawal, local purchases included",
        index=("a", "t"),
    )
    ctx.inv.meters = replace(meters, var=m_in.name)


def _connection(ctx: Context) -> None:
    d = ctx.design
    trade = traders(ctx)
    rows = [
        i
        for i, p in enumerate(ctx.participants)
        if (c := d.participants[p].connection) is not None
        and (c.import_kw is not None or c.export_kw is not None)
        and ctx.agent(p) in trade
    ]
    if not rows:
        return
    parts = [d.participants[ctx.participants[i]] for i in rows]
    conns = [p.connection for p in parts]
    imp, exp = connection_bounds(conns)
    e = Expr(len(rows), ctx.n_steps)
    add_rows_of(e, ctx.meter, [ctx.agent(ctx.participants[i]) for i in rows], 1.0)
    spans = tuple(c.span for c in conns if c is not None)
    ctx.ir.add_con(
        "meter_connection",
        tuple(ctx.participants[i] for i in rows),
        e,
        lower=-exp[:, None],
        upper=imp[:, None],
        template="−export_p ≤ gi[p,t] − ge[p,t] + Σ_m received[m,p,t] − Σ_m sold[m,p,t] ≤ import_p",
        sources=tuple(f"participant {ctx.participants[i]} connection" for i in rows),
        spans=spans,
        entity_spans=spans,
        doc="what a participant's connection carries, local trades included",
        index=("p", "t"),
    )
