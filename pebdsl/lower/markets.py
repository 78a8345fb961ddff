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
stored kWh pays the fee once, when it is sold on. Every trade also enters the agents'
meters (`ctx.meter`: + received, − sent), their total sales (`ctx.sold`), their purchases from
local-energy markets (`ctx.received_local`) and their purchases of premium products
(`ctx.premium_bought`); `lower/local.py` turns those into the rules on local energy (what may
be stored by a local-only battery, resold, sold as a product with an origin, earn a premium).
A premium is a negative cost on participants' purchases of the product.
Raises nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from pebdsl.design import Design, Link, Market
from pebdsl.ir import INF, Expr, FloatArray, IntArray, VarBlock
from pebdsl.lower.context import Context
from pebdsl.lower.inverse import MarketMap, ProductMap, pair_order

TOP = "(community)"  # the node of participants outside every block


def lower_markets(ctx: Context) -> None:
    d = ctx.design
    t = ctx.n_steps
    sales = ctx.product_sales  # product -> agent x t: kW sent into markets
    market_sales: dict[str, Expr] = {}  # market -> agent x t (for the no-resale rule)
    link_uses: dict[int, list[tuple[VarBlock, list[int]]]] = {}
    local = local_markets(d)
    ctx.inv.local_markets = local
    for m in d.markets.values():
        mk = _Market.of(ctx, m, m.name in local)
        ms = market_sales.setdefault(m.name, Expr(len(ctx.agents), t))
        products = {k: _lower_product(ctx, mk, k, sales, ms, link_uses) for k in m.products}
        ctx.inv.markets[m.name] = mk.inverse(products)
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


@dataclass(frozen=True)
class _Market:
    """One market's traders and network, as every product of it is lowered."""

    m: Market
    traders: list[str]
    agent: IntArray  # agent index of each trader
    is_part: npt.NDArray[np.bool_]  # trader is a participant (shared batteries are not)
    node_names: tuple[str, ...]
    tnode: IntArray  # node index of each trader
    multi: bool  # members in more than one block
    nodal: bool  # one node per block, joined by DSO links
    in_block: npt.NDArray[np.bool_]
    blk_i: IntArray  # block index of each trader (-1: none)
    links: list[tuple[int, Link]]
    compact: bool
    is_local: bool
    cap_buy: FloatArray  # trader x t: premium purchase cap

    @classmethod
    def of(cls, ctx: Context, m: Market, is_local: bool) -> _Market:
        d = ctx.design
        traders = list(m.members) + [b for b in m.batteries if b not in m.members]
        agent = np.array([ctx.agent(a) for a in traders], dtype=np.int64)
        node_of = [ctx.agent_block(a) or TOP for a in traders]
        order = [*d.blocks, TOP]
        nodes = sorted(set(node_of), key=order.index)
        multi = len(nodes) > 1
        nodal = multi and bool(d.dso.links)
        names = tuple(nodes) if nodal else (m.name,)
        blk = np.array([ctx.block_index(ctx.agent_block(a)) if multi else None for a in traders])
        return cls(
            m=m,
            traders=traders,
            agent=agent,
            is_part=np.array([a in d.participants for a in traders]),
            node_names=names,
            tnode=np.array([names.index(x) if nodal else 0 for x in node_of], dtype=np.int64),
            multi=multi,
            nodal=nodal,
            in_block=np.array([b is not None for b in blk]),
            blk_i=np.array([b if b is not None else -1 for b in blk], dtype=np.int64),
            links=[
                (i, lk)
                for i, lk in enumerate(d.dso.links)
                if nodal and lk.a in names and lk.b in names
            ],
            compact=m.type == "pool" or m.uniform,
            is_local=is_local,
            # A premium is a consumer's valuation: what a participant may buy of premium
            # products is capped (jointly over markets, `lower/local.py`) by the consumption
            # its own generation cannot serve; the same constant bounds each purchase variable.
            cap_buy=premium_cap_kw(ctx)[agent],
        )

    def inverse(self, products: dict[str, ProductMap]) -> MarketMap:
        m = self.m
        return MarketMap(
            name=m.name,
            type=m.type,
            form="compact" if self.compact else "pair",
            traders=tuple(self.traders),
            nodes=self.node_names,
            trader_node=tuple(int(x) for x in self.tnode),
            nodal=self.nodal,
            between_blocks=self.multi,
            loss=m.loss,
            fee_per_kwh=m.fee_per_kwh,
            fee_payer=tuple(bool(x) for x in self.is_part),  # shared batteries buy fee-free
            settlement=m.settlement,
            operator=m.operator,
            local_only=self.is_local,
            products=products,
        )


def _lower_product(
    ctx: Context,
    mk: _Market,
    k: str,
    sales: dict[str, Expr],
    ms: Expr,
    link_uses: dict[int, list[tuple[VarBlock, list[int]]]],
) -> ProductMap:
    """The blocks of product k in market mk: trades, link flows, the market balance."""
    m = mk.m
    t = ctx.n_steps
    tag = m.name if len(m.products) == 1 else f"{m.name}.{k}"
    prod = ctx.design.products.get(k)
    premium = prod.premium_per_kwh if prod else 0.0
    node_expr = Expr(len(mk.node_names), t)
    sales_k = sales.setdefault(k, Expr(len(ctx.agents), t))
    if mk.compact:
        names = _compact(ctx, mk, tag, premium, node_expr, sales_k, ms)
    else:
        names = _pairs(ctx, mk, tag, premium, node_expr, sales_k, ms)
    pm = ProductMap(
        k, premium, sell=names.get("sell"), buy=names.get("buy"), trade=names.get("trade")
    )
    if mk.links:
        flow, keep = _link_flows(ctx, mk, tag, node_expr, link_uses)
        pm = replace(pm, flow=flow, link_loss=tuple(float(x) for x in keep))
    if mk.compact or mk.nodal:
        ctx.ir.add_con(
            f"{tag}.balance",
            mk.node_names,
            node_expr,
            lower=0.0,
            upper=0.0,
            template=f"Σ_(a∈n) ((1 − loss)·sell[{tag},a,t] − buy[{tag},a,t])"
            + (" + Σ_l (1 − loss_l)·flow[in,t] − Σ_l flow[out,t]" if mk.links else "")
            + " = 0",
            sources=(f"market {m.name}",),
            spans=(m.span,),
            doc=f"market balance of {tag}: its dual / Δt is the local price",
            entity_spans=tuple(m.span for _ in mk.node_names),
            index=("n", "t"),
        )
        pm = replace(pm, balance=f"{tag}.balance")
    return pm


def _compact(
    ctx: Context,
    mk: _Market,
    tag: str,
    premium: float,
    node_expr: Expr,
    sales_k: Expr,
    ms: Expr,
) -> dict[str, str]:
    """`sell` and `buy` per trader (pools, and p2p with one fee and loss for every pair)."""
    m, is_part, agent, loss = mk.m, mk.is_part, mk.agent, mk.m.loss
    meta: dict[str, Any] = dict(span=m.span, spans=(m.span,), index=("a", "t"))
    prem = np.where(is_part, premium, 0.0)[:, None]
    # A shared battery buys fee-free: its stored kWh pays the fee once, when sold.
    fee_a = np.where(is_part, m.fee_per_kwh, 0.0)[:, None]
    up = np.where((is_part & (premium > 0))[:, None], mk.cap_buy, INF)
    sell = ctx.ir.add_var(f"{tag}.sell", mk.traders, doc=f"kW sent into {tag}", **meta)
    buy = ctx.ir.add_var(
        f"{tag}.buy",
        mk.traders,
        upper=up,
        cost=(fee_a - prem) * ctx.dt_h,
        doc=f"kW received from {tag}",
        cost_doc=f"Δt·fee·buy[{tag},a,t]" + (" − Δt·premium·buy" if premium else ""),
        **meta,
    )
    for e, sign in ((ctx.balance, 1.0), (ctx.meter, 1.0), (ctx.received, 1.0)):
        e.add(buy, sign, row_entities=agent)
    for e, sign in ((ctx.balance, -1.0), (ctx.meter, -1.0), (ctx.sold, 1.0)):
        e.add(sell, sign, row_entities=agent)
    if mk.is_local:
        ctx.received_local.add(buy, 1.0, row_entities=agent)
    if premium > 0 and is_part.any():
        ip = np.flatnonzero(is_part)
        ctx.premium_bought.add(buy, 1.0, var_entities=ip, row_entities=agent[ip])
    sales_k.add(sell, 1.0, row_entities=agent)
    ms.add(sell, 1.0, row_entities=agent)
    node_expr.add(sell, 1.0 - loss, row_entities=mk.tnode)
    node_expr.add(buy, -1.0, row_entities=mk.tnode)
    if mk.multi and mk.in_block.any():
        ib = np.flatnonzero(mk.in_block)
        ctx.block_net.add(buy, 1.0, var_entities=ib, row_entities=mk.blk_i[ib])
        ctx.block_net.add(sell, -(1.0 - loss), var_entities=ib, row_entities=mk.blk_i[ib])
    return {"sell": sell.name, "buy": buy.name}


def _pairs(
    ctx: Context,
    mk: _Market,
    tag: str,
    premium: float,
    node_expr: Expr,
    sales_k: Expr,
    ms: Expr,
) -> dict[str, str]:
    """`trade[s->r]` per ordered pair (p2p with pair fees), in `pair_order`."""
    m, is_part, agent, loss, traders = mk.m, mk.is_part, mk.agent, mk.m.loss, mk.traders
    ps, pr = pair_order(len(traders))
    fee = np.array(
        [
            m.pair_fees_per_kwh.get((traders[s], traders[r]), m.fee_per_kwh)
            if is_part[r]
            else 0.0  # a shared battery buys fee-free (one fee per stored kWh)
            for s, r in zip(ps, pr, strict=True)
        ]
    )
    prem = np.where(is_part[pr], premium, 0.0)
    # The fee and the premium are per kWh received: (1 − loss) per kW sent.
    q = ctx.ir.add_var(
        f"{tag}.trade",
        [f"{traders[s]}->{traders[r]}" for s, r in zip(ps, pr, strict=True)],
        cost=((fee - prem) * (1.0 - loss) * ctx.dt_h)[:, None],
        doc=f"kW sent by s to r in {tag}",
        cost_doc=f"Δt·(1 − loss)·fee[s,r]·trade[{tag},s->r,t]",
        span=m.span,
        spans=(m.span,),
        index=("a", "t"),
    )
    for e, sign in ((ctx.balance, -1.0), (ctx.meter, -1.0), (ctx.sold, 1.0)):
        e.add(q, sign, row_entities=agent[ps])
    for e in (ctx.balance, ctx.meter, ctx.received):
        e.add(q, 1.0 - loss, row_entities=agent[pr])
    if mk.is_local:
        ctx.received_local.add(q, 1.0 - loss, row_entities=agent[pr])
    if premium > 0:
        sel = np.flatnonzero(is_part[pr])
        ctx.premium_bought.add(q, 1.0 - loss, var_entities=sel, row_entities=agent[pr[sel]])
    sales_k.add(q, 1.0, row_entities=agent[ps])
    ms.add(q, 1.0, row_entities=agent[ps])
    if mk.nodal:
        node_expr.add(q, 1.0 - loss, row_entities=mk.tnode[ps])
        node_expr.add(q, -(1.0 - loss), row_entities=mk.tnode[pr])
    if mk.multi:
        blk_i = mk.blk_i
        cross = np.flatnonzero(blk_i[ps] != blk_i[pr])
        for side, sign in ((pr, 1.0), (ps, -1.0)):
            sel = cross[blk_i[side[cross]] >= 0]
            ctx.block_net.add(
                q, sign * (1.0 - loss), var_entities=sel, row_entities=blk_i[side[sel]]
            )
    return {"trade": q.name}


def _link_flows(
    ctx: Context,
    mk: _Market,
    tag: str,
    node_expr: Expr,
    link_uses: dict[int, list[tuple[VarBlock, list[int]]]],
) -> tuple[str, FloatArray]:
    """`flow[a->b]` per direction of each DSO link between the market's nodes; returns the
    block's name and the keep factor (1 − loss) per flow entity."""
    links = mk.links
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
        cost=(np.array(fee_l) * ctx.dt_h)[:, None],
        doc="kW sent over a DSO link",
        cost_doc="Δt·fee_l·flow[l,t]",
        span=links[0][1].span,
        spans=tuple(lk.span for _, lk in links),
        index=("l", "t"),
    )
    fr = [mk.node_names.index(e.split("->")[0]) for e in ents]
    to = [mk.node_names.index(e.split("->")[1]) for e in ents]
    keep = np.repeat([1.0 - lk.loss for _, lk in links], 2)
    node_expr.add(flow, -1.0, row_entities=fr)
    node_expr.add(flow, keep[:, None], row_entities=to)
    for j, (li, _) in enumerate(links):
        link_uses.setdefault(li, []).append((flow, [2 * j, 2 * j + 1]))
    return flow.name, keep


def local_markets(d: Design) -> frozenset[str]:
    """Markets that trade local energy only: those where a battery with `charge_from = local`
    trades (a shared one, or a member's own). Nobody may sell grid energy into them, so what a
    local-only battery buys there is local energy (`lower/local.py`)."""
    out = set()
    for m in d.markets.values():
        shared_local = any(d.shared_batteries[b].charge_from == "local" for b in m.batteries)
        private_local = any(
            (bat := d.participants[p].battery) is not None and bat.charge_from == "local"
            for p in m.members
            if p in d.participants
        )
        if shared_local or private_local:
            out.add(m.name)
    return frozenset(out)


def premium_cap_kw(ctx: Context) -> FloatArray:
    """The consumption of each agent that its own generation cannot serve, agents x t:
    max(0, load x (1 − flexible share) − available generation). Purchases that earn a premium
    are bounded by it: a premium is earned only on energy consumed, never on energy resold or
    swapped (two self-sufficient owners trading their output earn nothing). The load that can
    be shifted away and purchases stored in a battery are not counted (a conservative bound:
    it never overstates the consumption served). Zero for shared batteries."""
    d = ctx.design
    share = np.array(
        [
            fl.share if a in d.participants and (fl := d.participants[a].flexible) else 0.0
            for a in ctx.agents
        ]
    )
    base = ctx.load_kw() * (1.0 - share[:, None])
    return np.maximum(base - ctx.available_gen_kw(), 0.0)
