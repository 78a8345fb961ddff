"""Pass 1b — the two market stages of a staged grid: day-ahead position and intraday deviation.

Input: a design whose grid has `day_ahead` and `intraday` prices (`design.Grid.day_ahead`), the
grid flows `gi`/`ge` of `lower/balance.py` (physical, priced at zero on a staged grid).
Output, per bidder b (each participant, each block with its lone participants, or the
community as one: `grid.bidder`) and step t:
    da_buy[b,t], da_sell[b,t]   the day-ahead position (first stage), priced Δt·day-ahead price
    id_buy[b,t], id_sell[b,t]   the intraday deviation (second stage), priced Δt·intraday price
    position[b,t]:  Σ_(p∈b) (gi[p,t] − ge[p,t]) − da_buy + da_sell − id_buy + id_sell = 0
The day-ahead columns are bounded by the bidder's connection limits (sum of its members', or
the block's) where declared. A design without stages gets nothing from this pass.

In one scenario's model the day-ahead columns are ordinary columns; `lower/scenarios.py` makes
them one column shared by every scenario (non-anticipativity by construction). Raises nothing.
"""

from __future__ import annotations

import numpy as np

from pebdsl.design import Design
from pebdsl.ir import INF, Expr, FloatArray
from pebdsl.lower.context import Context, connection_bounds

__all__ = ["FIRST_STAGE", "bidders", "lower_stages"]

FIRST_STAGE = ("da_buy", "da_sell")
"""The variable blocks every scenario shares (with stage-1 batteries' charge/discharge/soc)."""


def bidders(design: Design) -> dict[str, tuple[str, ...]]:
    """Each bidder and the participants whose grid exchange it answers for."""
    parts = tuple(design.participants)
    how = design.grid.bidder
    if how == "community":
        return {"community": parts}
    if how == "participant":
        return {p: (p,) for p in parts}
    out: dict[str, tuple[str, ...]] = {}
    for b, blk in design.blocks.items():
        members = tuple(p for p in blk.participants if p in design.participants)
        if members:
            out[b] = members
    for p in parts:
        if design.participants[p].block not in out:
            out[p] = (p,)
    return out


def _limits(design: Design, groups: dict[str, tuple[str, ...]]) -> tuple[FloatArray, FloatArray]:
    """Import and export limits (kW) of each bidder: its block's connection when it is a block
    with one, else the sum of its members' connections (INF if any member has none)."""
    imp, exp = [], []
    for name, members in groups.items():
        blk = design.blocks.get(name)
        if blk is not None and blk.connection is not None:
            i, e = connection_bounds([blk.connection])
        else:
            i, e = connection_bounds([design.participants[p].connection for p in members])
        imp.append(float(np.sum(i)))
        exp.append(float(np.sum(e)))
    return np.array(imp), np.array(exp)


def lower_stages(ctx: Context) -> None:
    d = ctx.design
    da = d.grid.day_ahead
    if da is None:
        return
    groups = bidders(d)
    ctx.inv.bidders = dict(groups)
    names = tuple(groups)
    imp, exp = _limits(d, groups)
    dt = ctx.dt_h
    meta = dict(span=da.span, index=("b", "t"))
    pos = Expr(len(names), ctx.n_steps)
    gi = ctx.ir.vars["gi"]
    ge = ctx.ir.vars.get("ge")
    var_e = [ctx.participants.index(p) for ms in groups.values() for p in ms]
    row_e = [b for b, ms in enumerate(groups.values()) for _ in ms]
    pos.add(gi, 1.0, var_entities=var_e, row_entities=row_e)
    if ge is not None:
        pos.add(ge, -1.0, var_entities=var_e, row_entities=row_e)

    def column(name: str, price: FloatArray | None, sign: float, upper: object, doc: str) -> None:
        if price is None:
            return
        v = ctx.ir.add_var(
            name,
            names,
            upper=upper,  # type: ignore[arg-type]
            cost=sign * price[None, :] * dt,
            doc=doc,
            cost_doc=f"{'' if sign > 0 else '−'}Δt·price[t]·{name}[b,t]",
            **meta,  # type: ignore[arg-type]
        )
        pos.add(v, -1.0 if name.endswith("buy") else 1.0)

    column("da_buy", da.buy_per_kwh, 1.0, imp[:, None], "day-ahead purchase (first stage)")
    column("da_sell", da.sell_per_kwh, -1.0, exp[:, None], "day-ahead sale (first stage)")
    column("id_buy", d.grid.buy_per_kwh, 1.0, INF, "intraday purchase (deviation)")
    column("id_sell", d.grid.sell_per_kwh, -1.0, INF, "intraday sale (deviation)")
    ctx.ir.add_con(
        "position",
        names,
        pos,
        lower=0.0,
        upper=0.0,
        template="Σ_(p∈b) (gi[p,t] − ge[p,t]) = da_buy[b,t] − da_sell[b,t] + id_buy[b,t] "
        "− id_sell[b,t]",
        doc="each bidder's grid exchange is its day-ahead position plus its intraday deviation",
        sources=("grid day_ahead", "grid intraday"),
        spans=(da.span, d.grid.span),
        index=("b", "t"),
    )
