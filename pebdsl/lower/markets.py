"""Pass 5 — local markets (p2p, pool), exchange between blocks over DSO links, and products.

Input: `design.markets`, `design.products`, `design.dso.links`. Output, per market m and
product k (blocks are named `m.sell`, `m.buy`, … or `m.k.sell` when m trades several
products):
- compact form (pools, and p2p with one fee and loss for every pair — exactly equivalent to
  the per-pair form, 2N instead of N(N−1) variables per step): `sell[a,t]` (kW sent) and
  `buy[a,t]` (kW received) per trader a, with the market balance per node n
      Σ_{a∈n} ((1 − loss)·sell[a,t] − buy[a,t]) + inflow[n,t] − outflow[n,t] = 0
  whose dual / Δt is the market's price at n (currency per kWh received);
- per-pair form (p2p with pair fees): `trade[s->r,t]` (kW sent by s to r; r receives
  (1 − loss)·trade), with no market balance (each pair is balanced by construction) unless
  the market crosses DSO links;
- between blocks (members in more than one block): with DSO links, one node per block and
  link flows `flow[a->b,t] <= capacity` (b receives (1 − loss_link)·flow, fee per kWh sent);
  without links, one node (the blocks trade limited only by their connections). Either way
  each block's net import gains Σ_{a∈block} (buy − (1 − loss)·sell).
Traders are the members, then the market's shared batteries (no grid access of their own).
The buyer pays the fee per kWh received (cost Δt·fee·buy); shared batteries buy fee-free, so a
stored kWh pays the fee once, when it is sold on. A product with an `origin` bounds
each seller's sales of it by its output of that origin (`origin[k]` rows); its `premium` is a
negative cost on participants' purchases, which are bounded by their load (a premium is a
consumer's valuation, so it is earned only on energy a participant consumes).
A market holding a battery with `charge_from = local` (a shared one, or a member's own)
forbids resale of grid energy in it: each member sells at most its generation used plus its
own discharge (`no_resale`), so what such a battery buys locally is local energy.
Raises nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pebdsl.design import Market
from pebdsl.ir import INF, Expr, VarBlock
from pebdsl.lower.context import Context, Pending
from pebdsl.lower.storage import add_rows_of

TOP = "(community)"  # the node of participants outside every block


def lower_markets(ctx: Context) -> None:
    d = ctx.design
    t = ctx.n_steps
    sales: dict[str, Expr] = {}  # product -> agent x t: kW sent into markets
    market_sales: dict[str, Expr] = {}  # market -> agent x t (for the no-resale rule)
    link_uses: dict[int, list[tuple[VarBlock, list[int]]]] = {}
    for m in d.markets.values():
        info = _lower_market(ctx, m, sales, market_sales, link_uses)
        ctx.ir.info["markets"][m.name] = info
    # A link used by several markets (or products) carries their flows together.
    for li, uses in link_uses.items():
        if len(uses) < 2:
            continue
        link = d.dso.links[li]
        e = Expr(2, t)
        for var, ents in uses:
            e.add(var, 1.0, var_entities=ents, row_entities=[0, 1])
        ctx.ir.add_con(
            f"link_capacity.{link.a}-{link.b}",
            (f"{link.a}->{link.b}", f"{link.b}->{link.a}"),
            e,
            upper=INF if link.capacity_kw is None else link.capacity_kw,
            template="Σ_{m,k} flow[m,k,l,t] ≤ capacity_l",
            sources=(f"link {link.a} -- {link.b}",),
            spans=(link.span,),
            entity_spans=(link.span, link.span),
        )
    _origin_rows(ctx, sales)
    _no_resale_rows(ctx, market_sales)


def _lower_market(
    ctx: Context,
    m: Market,
    sales: dict[str, Expr],
    market_sales: dict[str, Expr],
    link_uses: dict[int, list[tuple[VarBlock, list[int]]]],
) -> dict[str, Any]:
    d = ctx.design
    t = ctx.n_steps
    dt = ctx.dt_h
    traders = list(m.members) + [b for b in m.batteries if b not in m.members]
    n = len(traders)
    agent = np.array([ctx.agent(a) for a in traders], dtype=np.int64)
    is_part = np.array([a in d.participants for a in traders])
    node_of = [ctx.agent_block(a) or TOP for a in traders]
    order = [*d.blocks, TOP]
    nodes = sorted(set(node_of), key=order.index)
    multi = len(nodes) > 1
    nodal = multi and bool(d.dso.links)
    node_names = tuple(nodes) if nodal else (m.name,)
    tnode = np.array([node_names.index(x) if nodal else 0 for x in node_of], dtype=np.int64)
    blk = np.array([ctx.block_index(ctx.agent_block(a)) if multi else None for a in traders])
    in_block = np.array([b is not None for b in blk])
    blk_i = np.array([b if b is not None else -1 for b in blk], dtype=np.int64)
    links = [
        (i, lk)
        for i, lk in enumerate(d.dso.links)
        if nodal and lk.a in node_names and lk.b in node_names
    ]
    compact = m.type == "pool" or m.uniform
    loss = m.loss
    loads = np.vstack([ctx.load_kw()[a] for a in agent])
    flex_share = np.array(
        [
            d.participants[a].flexible.share  # type: ignore[union-attr]
            if a in d.participants and d.participants[a].flexible
            else 0.0
            for a in traders
        ]
    )
    cap_buy = loads * (1.0 + flex_share[:, None])
    ms = market_sales.setdefault(m.name, Expr(len(ctx.agents), t))
    info: dict[str, Any] = {
        "type": m.type,
        "form": "compact" if compact else "pair",
        "traders": tuple(traders),
        "nodes": node_names,
        "trader_node": tuple(int(x) for x in tnode),
        "nodal": nodal,
        "between_blocks": multi,
        "loss": loss,
        "fee_per_kwh": m.fee_per_kwh,
        "fee_payer": tuple(bool(x) for x in is_part),  # shared batteries buy fee-free
        "settlement": m.settlement,
        "operator": m.operator,
        "products": {},
    }
    src = (f"market {m.name}",)
    for k in m.products:
        tag = m.name if len(m.products) == 1 else f"{m.name}.{k}"
        prod = d.products.get(k)
        premium = prod.premium_per_kwh if prod else 0.0
        pinfo: dict[str, Any] = {"premium_per_kwh": premium}
        node_expr = Expr(len(node_names), t)
        sales_k = sales.setdefault(k, Expr(len(ctx.agents), t))
        meta: dict[str, Any] = dict(span=m.span, spans=(m.span,), index=("a", "t"))
        if compact:
            prem = np.where(is_part, premium, 0.0)[:, None]
            # A shared battery buys fee-free: its stored kWh pays the fee once, when sold.
            fee_a = np.where(is_part, m.fee_per_kwh, 0.0)[:, None]
            up = np.where((is_part & (premium > 0))[:, None], cap_buy, INF)
            sell = ctx.ir.add_var(f"{tag}.sell", traders, doc=f"kW sent into {tag}", **meta)
            buy = ctx.ir.add_var(
                f"{tag}.buy",
                traders,
                upper=up,
                cost=(fee_a - prem) * dt,
                doc=f"kW received from {tag}",
                cost_doc=f"Δt·fee·buy[{tag},a,t]" + (" − Δt·premium·buy" if premium else ""),
                **meta,
            )
            ctx.balance.add(buy, 1.0, row_entities=agent)
            ctx.balance.add(sell, -1.0, row_entities=agent)
            ctx.received.add(buy, 1.0, row_entities=agent)
            sales_k.add(sell, 1.0, row_entities=agent)
            ms.add(sell, 1.0, row_entities=agent)
            node_expr.add(sell, 1.0 - loss, row_entities=tnode)
            node_expr.add(buy, -1.0, row_entities=tnode)
            if multi and in_block.any():
                ib = np.flatnonzero(in_block)
                ctx.block_net.add(buy, 1.0, var_entities=ib, row_entities=blk_i[ib])
                ctx.block_net.add(sell, -(1.0 - loss), var_entities=ib, row_entities=blk_i[ib])
            pinfo.update(sell=sell.name, buy=buy.name)
        else:
            pairs = [(s, r) for s in range(n) for r in range(n) if s != r]
            ps = np.array([s for s, _ in pairs], dtype=np.int64)
            pr = np.array([r for _, r in pairs], dtype=np.int64)
            fee = np.array(
                [
                    m.pair_fees_per_kwh.get((traders[s], traders[r]), m.fee_per_kwh)
                    if is_part[r]
                    else 0.0  # a shared battery buys fee-free (one fee per stored kWh)
                    for s, r in pairs
                ]
            )
            prem = np.where(is_part[pr], premium, 0.0)
            # The fee and the premium are per kWh received: (1 − loss) per kW sent.
            q = ctx.ir.add_var(
                f"{tag}.trade",
                [f"{traders[s]}->{traders[r]}" for s, r in pairs],
                cost=((fee - prem) * (1.0 - loss) * dt)[:, None],
                doc=f"kW sent by s to r in {tag}",
                cost_doc=f"Δt·(1 − loss)·fee[s,r]·trade[{tag},s->r,t]",
                **meta,
            )
            ctx.balance.add(q, -1.0, row_entities=agent[ps])
            ctx.balance.add(q, 1.0 - loss, row_entities=agent[pr])
            ctx.received.add(q, 1.0 - loss, row_entities=agent[pr])
            sales_k.add(q, 1.0, row_entities=agent[ps])
            ms.add(q, 1.0, row_entities=agent[ps])
            if nodal:
                node_expr.add(q, 1.0 - loss, row_entities=tnode[ps])
                node_expr.add(q, -(1.0 - loss), row_entities=tnode[pr])
            if multi:
                cross = np.flatnonzero(blk_i[ps] != blk_i[pr])
                for side, sign in ((pr, 1.0), (ps, -1.0)):
                    sel = cross[blk_i[side[cross]] >= 0]
                    ctx.block_net.add(
                        q, sign * (1.0 - loss), var_entities=sel, row_entities=blk_i[side[sel]]
                    )
            if premium > 0:
                buyers = np.flatnonzero(is_part)
                e = Expr(len(buyers), t)
                pos = np.full(n, -1)
                pos[buyers] = np.arange(len(buyers))
                sel = np.flatnonzero(is_part[pr])
                e.add(q, 1.0 - loss, var_entities=sel, row_entities=pos[pr[sel]])
                ctx.ir.add_con(
                    f"{tag}.premium_cap",
                    tuple(traders[b] for b in buyers),
                    e,
                    upper=cap_buy[buyers],
                    template=f"Σ_s (1 − loss)·trade[{tag},s->r,t] ≤ load[r,t]",
                    sources=src,
                    spans=(m.span,),
                    doc="a premium is earned only on energy consumed",
                )
            pinfo.update(trade=q.name)
        if links:
            ents = []
            cap = []
            fee_l = []
            for _, lk in links:
                for a, b in ((lk.a, lk.b), (lk.b, lk.a)):
                    ents.append(f"{a}->{b}")
                    cap.append(INF if lk.capacity_kw is None else lk.capacity_kw)
                    fee_l.append(lk.fee_per_kwh)
            flow = ctx.ir.add_var(
                f"{tag}.flow",
                ents,
                upper=np.array(cap)[:, None],
                cost=(np.array(fee_l) * dt)[:, None],
                doc="kW sent over a DSO link",
                cost_doc="Δt·fee_l·flow[l,t]",
                span=links[0][1].span,
                spans=tuple(lk.span for _, lk in links),
                index=("l", "t"),
            )
            fr = [node_names.index(e.split("->")[0]) for e in ents]
            to = [node_names.index(e.split("->")[1]) for e in ents]
            keep = np.repeat([1.0 - lk.loss for _, lk in links], 2)
            node_expr.add(flow, -1.0, row_entities=fr)
            node_expr.add(flow, keep[:, None], row_entities=to)
            for j, (li, _) in enumerate(links):
                link_uses.setdefault(li, []).append((flow, [2 * j, 2 * j + 1]))
            pinfo["flow"] = flow.name
            pinfo["link_loss"] = tuple(float(x) for x in keep)
        if compact or nodal:
            ctx.ir.add_con(
                f"{tag}.balance",
                node_names,
                node_expr,
                lower=0.0,
                upper=0.0,
                template=f"Σ_(a∈n) ((1 − loss)·sell[{tag},a,t] − buy[{tag},a,t])"
                + (" + Σ_l (1 − loss_l)·flow[in,t] − Σ_l flow[out,t]" if links else "")
                + " = 0",
                sources=src,
                spans=(m.span,),
                doc=f"market balance of {tag}: its dual / Δt is the local price",
                entity_spans=tuple(m.span for _ in node_names),
                index=("n", "t"),
            )
            pinfo["balance"] = f"{tag}.balance"
        info["products"][k] = pinfo
    return info


def _origin_rows(ctx: Context, sales: dict[str, Expr]) -> None:
    d = ctx.design
    for k, e in sales.items():
        prod = d.products.get(k)
        if prod is None or prod.origin is None or not e.rows:
            continue
        sellers = sorted({int(r) for rows in e.rows for r in np.unique(rows // e.n_steps)})
        ex = Expr(len(sellers), ctx.n_steps)
        add_rows_of(ex, e, sellers, 1.0)
        gen = ctx.gen_expr(tuple(x for x in prod.origin if x in ("pv", "wind")))
        ps = [s for s in sellers if s < len(ctx.participants)]
        pos = [sellers.index(s) for s in ps]
        tmp = Expr(len(ps), ctx.n_steps)
        add_rows_of(tmp, gen, ps, -1.0)
        _shift_rows(ex, tmp, pos)
        if "battery" in prod.origin and "discharge" in ctx.ir.vars:
            dis = ctx.ir.vars["discharge"]
            bats = ctx.ir.info["batteries"]
            for j, (bname, bi) in enumerate(bats.items()):
                owner = bi["owner"] or bname
                a = ctx.agent(owner)
                if a in sellers:
                    ex.add(dis, -1.0, var_entities=[j], row_entities=[sellers.index(a)])
        names = tuple(ctx.agents[s] for s in sellers)
        ctx.ir.add_con(
            f"origin.{k}",
            names,
            ex,
            upper=0.0,
            template=f"Σ_m sell[m,{k},a,t] ≤ Σ_(g∈origin) gen[a,g,t]  (origin = "
            + ", ".join(prod.origin)
            + ")",
            sources=(f"product {k}",),
            spans=(prod.span,),
            doc=f"only energy of origin {', '.join(prod.origin)} may be sold as {k}",
        )


def _shift_rows(target: Expr, src: Expr, pos: list[int]) -> None:
    """Add src row k to target row pos[k]."""
    remap = np.asarray(pos, dtype=np.int64)
    for rows, cols, vals in zip(src.rows, src.cols, src.vals, strict=True):
        target.rows.append(remap[rows // src.n_steps] * target.n_steps + rows % src.n_steps)
        target.cols.append(cols)
        target.vals.append(vals)


def _no_resale_rows(ctx: Context, market_sales: dict[str, Expr]) -> None:
    d = ctx.design
    for m in d.markets.values():
        shared_local = any(d.shared_batteries[b].charge_from == "local" for b in m.batteries)
        private_local = any(
            (bat := d.participants[p].battery) is not None and bat.charge_from == "local"
            for p in m.members
            if p in d.participants
        )
        if not (shared_local or private_local):
            continue
        members = [p for p in m.members if p in d.participants]
        if not members:
            continue
        idx = [ctx.agent(p) for p in members]
        ex = Expr(len(members), ctx.n_steps)
        add_rows_of(ex, market_sales[m.name], idx, 1.0)
        gen = ctx.gen_expr(("pv", "wind"))
        add_rows_of(ex, gen, [ctx.participants.index(p) for p in members], -1.0)
        if "discharge" in ctx.ir.vars:
            dis = ctx.ir.vars["discharge"]
            for j, p in enumerate(members):
                own = d.participants[p].battery
                if own is not None:
                    ex.add(dis, -1.0, var_entities=[dis.entity_index(own.name)], row_entities=[j])
        ctx.pending.append(
            Pending(
                f"{m.name}.no_resale",
                tuple(members),
                ex,
                upper=0.0,
                meta=dict(
                    template=f"Σ sell[{m.name},p,t] ≤ Σ gen[p,·,t] + discharge[p,t]",
                    doc="a battery charged from local energy only trades here: no resale "
                    "of grid imports into the market",
                    sources=(f"market {m.name}",),
                    spans=(m.span,),
                ),
            )
        )
