"""Trade tracing: who delivered to whom, at which price, and who pays a link's fee.

Input: one market's `MarketMap` (lower/inverse.py), its `ProductFlow`s (invert/flows.py), the
traders' balance duals and the settlement duals. Output: `PairSplit` per product
(`pair_split`), the DSO's link fees per trader (`link_fee_shares`), the seller x buyer table
grouping (`trade_groups`) and the proportional-sharing mix (`node_mix`, `node_inverse`).
Raises nothing.

Compact-form markets are split into seller x buyer trades pro rata within each step (each
seller's delivered energy shared over the buyers in proportion to what they receive), across
nodes by proportional sharing (Bialek's tracing); docs/model.md explains every choice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from pebdsl.invert.records import LinkFlow, PairSplit, ProductFlow
from pebdsl.ir import FloatArray, IntArray, ModelIR
from pebdsl.lower.inverse import MarketMap

_EPS = 1e-9

# A market's trades table is seller x buyer; beyond this many traders on a side only the
# largest sellers and buyers keep their own row or column and the rest are summed into
# OTHERS, so the table (and everything that traces trades) stays linear in the traders.
MAX_TRADE_PARTIES = 200
OTHERS = "(others)"


def trade_groups(
    traders: list[str], products: Iterable[ProductFlow], limit: int = MAX_TRADE_PARTIES
) -> tuple[IntArray, IntArray, list[str], list[str]]:
    """Row of each trader as a seller and column as a buyer in the trades table, and the labels.

    Up to `limit` traders every trader has its own row and column (the full matrix). Beyond,
    the `limit` traders that sold (bought) most over the horizon keep theirs, in trader order,
    and the others share the last one, labelled OTHERS."""
    n = len(traders)
    if n <= limit:
        ident = np.arange(n, dtype=np.int64)
        return ident, ident, list(traders), list(traders)
    sold = np.zeros(n)
    bought = np.zeros(n)
    for f in products:
        sold += np.asarray(f.sent).sum(axis=1)
        bought += np.asarray(f.recv).sum(axis=1)

    def side(volume: FloatArray) -> tuple[IntArray, list[str]]:
        top = np.sort(np.argsort(-volume, kind="stable")[:limit])
        group = np.full(n, len(top), dtype=np.int64)
        group[top] = np.arange(len(top))
        return group, [traders[i] for i in top] + [OTHERS]

    gs, ls = side(sold)
    gb, lb = side(bought)
    return gs, gb, ls, lb


def valuations(
    mk: MarketMap, agents: tuple[str, ...], bal: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Each trader's value of one kWh delivered: as seller λ/(1 − loss), as buyer λ − fee
    (a shared battery buys fee-free: λ)."""
    tr = [agents.index(a) for a in mk.traders]
    lam = bal[tr]
    loss = mk.loss
    v_sell = lam / (1.0 - loss) if loss < 1.0 else lam
    payer = np.asarray(mk.fee_payer, dtype=bool)
    v_buy = lam - np.where(payer, mk.fee_per_kwh, 0.0)[:, None]
    return v_sell, v_buy


def _weights(rule: str) -> tuple[float, float]:
    return {"midpoint": (0.5, 0.5), "seller": (1.0, 0.0), "buyer": (0.0, 1.0)}[rule]


def _rule(rule: str, vs: FloatArray, vb: FloatArray) -> FloatArray:
    ws, wb = _weights(rule)
    return ws * vs + wb * vb


@dataclass(frozen=True)
class _Prices:
    """Each trader's valuation as seller and buyer, the prices each side settles at, and
    the rule ("pool" or the p2p settlement)."""

    v_sell: FloatArray
    v_buy: FloatArray
    price_s: FloatArray
    price_r: FloatArray
    rule: str


def _prices(
    mk: MarketMap, f: ProductFlow, agents: tuple[str, ...], bal: FloatArray, mu: FloatArray | None
) -> _Prices:
    v_sell, v_buy = valuations(mk, agents, bal)
    node = np.asarray(mk.trader_node, dtype=np.int64)
    if mk.compact and mu is not None:
        # A trader's valuation of a delivered kWh equals its node's price whenever it trades
        # (KKT of `sell` and `buy`), so compact forms read the node price: one row, whose
        # valid interval is known, instead of each trader's balance.
        v_sell = v_buy = mu[node]
    if mk.type == "pool" and mu is not None:
        return _Prices(v_sell, v_buy, mu[node], mu[node], "pool")
    return _Prices(v_sell, v_buy, v_sell, v_buy, mk.settlement)


@dataclass(frozen=True)
class _Split:
    kwh: FloatArray
    buyer_pays: FloatArray
    seller_gets: FloatArray
    surplus_t: FloatArray
    vol: FloatArray  # kWh received per step
    value: FloatArray  # currency paid per step


def _split_pairs(
    f: ProductFlow, pr_: _Prices, dt: float, groups: tuple[IntArray, IntArray], n: int
) -> _Split:
    """Per-pair form: each pair's kWh at its own price."""
    assert f.pairs is not None
    ps, pr, q = f.pairs
    gs, gb = groups
    kwh_pair = q * dt
    if pr_.rule == "pool":
        pay = pr_.price_r[pr]
        get = pr_.price_s[ps]
    else:
        pay = get = _rule(pr_.rule, pr_.v_sell[ps], pr_.v_buy[pr])
    buyer_pays = np.zeros(n)
    seller_gets = np.zeros(n)
    np.add.at(buyer_pays, pr, (pay * kwh_pair).sum(axis=1))
    np.add.at(seller_gets, ps, (get * kwh_pair).sum(axis=1))
    kwh = np.zeros((int(gs.max(initial=-1)) + 1, int(gb.max(initial=-1)) + 1))
    np.add.at(kwh, (gs[ps], gb[pr]), kwh_pair.sum(axis=1))
    return _Split(
        kwh,
        buyer_pays,
        seller_gets,
        ((pay - get) * kwh_pair).sum(axis=0),
        kwh_pair.sum(axis=0),
        (pay * kwh_pair).sum(axis=0),
    )


def _traced_kwh(
    inv: FloatArray,
    node: IntArray,
    delivered: FloatArray,
    rkwh: FloatArray,
    groups: tuple[IntArray, IntArray],
) -> FloatArray:
    """Seller x buyer kWh (rows and columns as grouped) of a compact market: buyer r gets the
    mix of sellers at its node. The mix at node k is inv[:, k, node[s]] * delivered[s]
    (`node_mix`): built one node at a time, so no (steps x nodes x sellers) array is held."""
    gs, gb = groups
    t = delivered.shape[1]
    shape = (int(gs.max(initial=-1)) + 1, int(gb.max(initial=-1)) + 1)
    kwh = np.zeros(shape)
    for k in range(inv.shape[1]):
        at_k = np.flatnonzero(node == k)
        if at_k.size:
            mix_t = _mix_at(inv, k, node, delivered)  # sellers x t
            by_seller = np.zeros((shape[0], t))
            np.add.at(by_seller, gs, mix_t)
            by_buyer = np.zeros((shape[1], t))
            np.add.at(by_buyer, gb[at_k], rkwh[at_k])
            kwh += by_seller @ by_buyer.T
    return kwh


def _split_compact(
    mk: MarketMap,
    f: ProductFlow,
    pr_: _Prices,
    dt: float,
    flow: LinkFlow | None,
    groups: tuple[IntArray, IntArray],
) -> _Split:
    """Compact form: trades traced by proportional sharing (`node_mix`)."""
    node = np.asarray(mk.trader_node, dtype=np.int64)
    delivered = (1.0 - mk.loss) * f.sent
    inv = node_inverse(delivered, node, len(mk.nodes), flow)  # t x nodes x nodes
    rkwh = f.recv * dt  # each buyer's kWh received per step
    kwh = _traced_kwh(inv, node, delivered, rkwh, groups)
    if pr_.rule == "pool":
        value = (pr_.price_r * rkwh).sum(axis=0)
        # Sellers are paid their node's price per kWh delivered (before link losses).
        gets = (pr_.price_s * delivered * dt).sum(axis=1)
        surplus_t = value - (pr_.price_s * delivered * dt).sum(axis=0)
        return _Split(
            kwh, (pr_.price_r * rkwh).sum(axis=1), gets, surplus_t, rkwh.sum(axis=0), value
        )
    # Σ_s mix_s·π(s, r) per buyer and Σ_r recv_r·π(s, r) per seller, per step, without
    # forming the n x n x t tensor: every rule is linear in v_s and v_r.
    n, t = f.recv.shape
    n_nodes = len(mk.nodes)
    ws, wb = _weights(pr_.rule)
    tot_k = np.zeros((n_nodes, t))
    rv_k = np.zeros((n_nodes, t))
    np.add.at(tot_k, node, rkwh)  # kWh received at each node
    np.add.at(rv_k, node, rkwh * pr_.v_buy)  # Σ_(r at node) recv_r v_r
    sv = np.zeros((n_nodes, t))  # Σ_s mix_s v_s per node and step
    by_tot = np.zeros((n, t))  # Σ_k mix_(k,s) tot_k per seller and step
    by_rv = np.zeros((n, t))  # Σ_k mix_(k,s) rv_k
    for k in range(n_nodes):
        mix_t = _mix_at(inv, k, node, delivered)
        sv[k] = (mix_t * pr_.v_sell).sum(axis=0)
        by_tot += mix_t * tot_k[k]
        by_rv += mix_t * rv_k[k]
    pay_r = ws * sv[node] + wb * pr_.v_buy  # price paid by each buyer, per step
    gets_st = ws * pr_.v_sell * by_tot + wb * by_rv
    value = (pay_r * rkwh).sum(axis=0)
    return _Split(
        kwh,
        (pay_r * rkwh).sum(axis=1),
        gets_st.sum(axis=1),
        value - gets_st.sum(axis=0),
        rkwh.sum(axis=0),
        value,
    )


def pair_split(
    mk: MarketMap,
    f: ProductFlow,
    agents: tuple[str, ...],
    bal: FloatArray,
    ir: ModelIR,
    y: FloatArray,
    dt: float,
    flow: LinkFlow | None = None,
    groups: tuple[IntArray, IntArray] | None = None,
) -> PairSplit:
    """Who delivered to whom, at which price, per step.

    Returns `kwh` (seller x buyer, kWh received over the horizon; with `groups`, the row of
    each seller and the column of each buyer, as `trade_groups` gives them), `buyer_pays` and
    `seller_gets` (per trader, currency over the horizon, energy only — fees apart) and
    `avg_price` (currency/kWh received, per step). Pools settle at the node price (the market
    balance dual / dt); p2p trades at the `settlement` rule over the two traders' valuations
    (`valuations`). Compact forms are split by proportional sharing (`node_mix`): buyer r gets
    the mix of sellers of the energy at its node, which is its sellers' share within one node
    and follows the link flows between nodes (`flow`, as `node_mix` takes it).
    """
    n, t = f.recv.shape
    if groups is None:
        groups = (np.arange(n, dtype=np.int64), np.arange(n, dtype=np.int64))
    bname = f.product.balance
    mu = ir.cons[bname].values(y) / dt if bname else None  # node x t
    pr_ = _prices(mk, f, agents, bal, mu)
    if f.pairs is not None:
        sp = _split_pairs(f, pr_, dt, groups, n)
    else:
        sp = _split_compact(mk, f, pr_, dt, flow, groups)
    avg = np.where(sp.vol > _EPS, sp.value / np.maximum(sp.vol, _EPS), np.nan)
    if pr_.rule == "pool":
        fallback = pr_.price_r.mean(axis=0) if n else np.zeros(t)
    else:
        ws, wb = _weights(pr_.rule)
        fallback = ws * pr_.v_sell.mean(axis=0) + wb * pr_.v_buy.mean(axis=0) if n else np.zeros(t)
    avg = np.where(np.isnan(avg), fallback, avg)
    return PairSplit(sp.kwh, sp.buyer_pays, sp.seller_gets, avg, pr_.rule, sp.surplus_t)


def link_fee_shares(
    mk: MarketMap, f: ProductFlow, flow: LinkFlow, cost_l: FloatArray
) -> FloatArray:
    """The DSO's link fees of a p2p market, per trader and step (currency per step).

    The energy on a link from node k to node m is traced upstream to the sellers whose energy
    it carries (their shares of the mix at k, `node_mix`) and downstream to the buyers it
    reaches (the same proportional sharing on the reversed network: the energy passing through
    m goes to its buyers and its outgoing links alike). Each trading pair's part of the fee is
    paid like the gains of trade are shared: the buyer pays the seller's weight of the
    `settlement` rule and the seller the buyer's weight (midpoint: half each; `seller`: the
    price is the seller's valuation, the buyer keeps the gains and pays the fee; `buyer`: the
    reverse), so no side is left worse off than without the trade. `cost_l` is (links, steps).
    """
    fl, fr, to, _keep = flow
    n, t = f.recv.shape
    node = np.asarray(mk.trader_node, dtype=np.int64)
    n_nodes = len(mk.nodes)
    sent = (1.0 - mk.loss) * f.sent
    back = (fl, to, fr, np.ones(len(fr)))
    # The mixes held as their (steps x nodes x nodes) inverses and read one node at a time
    # (`_mix_at`), never as (steps x nodes x traders) arrays: memory stays linear in traders.
    up = (node_inverse(sent, node, n_nodes, flow), sent)
    down = (node_inverse(f.recv, node, n_nodes, back), f.recv)
    ws, wb = _weights(mk.settlement)
    out = np.zeros((n, t))
    for j in range(len(fr)):
        for (inv, delivered), k, w in ((up, fr[j], wb), (down, to[j], ws)):
            share = _mix_at(inv, k, node, delivered)  # traders x t
            tot = share.sum(axis=0)
            # Normalised so each link's fee is allocated whole (no money lost to rounding);
            # a node without traced energy (never with a positive flow) shares it equally.
            share = np.where(tot > _EPS, share / np.maximum(tot, _EPS), 1.0 / max(n, 1))
            out += w * share * cost_l[j]
    return out


def node_mix(
    delivered: FloatArray, node: IntArray, n_nodes: int, flow: LinkFlow | None = None
) -> FloatArray:
    """Where the energy at each node comes from: a (steps, nodes, sellers) array of shares.

    Proportional sharing (Bialek's tracing): the energy passing through node k — its sellers'
    delivered energy plus what links bring in — is a mix; local buyers and outgoing links take
    that mix alike. Per step, with P_k the throughput and A[k, m] = Σ_(links m→k) keep·flow,
    P_k·C_k = S_k + Σ_m A[k, m]·C_m, solved as (diag(P) − A)·C = S. Within one node this is
    each seller's share of the delivered energy; link losses fall on the sellers whose energy
    crossed the link. `delivered` is (sellers, steps) in kW; `flow` is (kW per link direction
    and step, from-node, to-node, keep = 1 − loss). Each row sums to 1 where the node has energy.
    """
    inv = node_inverse(delivered, node, n_nodes, flow)
    n, t = delivered.shape
    out = np.zeros((t, n_nodes, n))
    for k in range(n_nodes):
        out[:, k, :] = _mix_at(inv, k, node, delivered).T
    return out


def node_inverse(
    delivered: FloatArray, node: IntArray, n_nodes: int, flow: LinkFlow | None = None
) -> FloatArray:
    """(diag(P) − A)⁻¹ per step, (steps, nodes, nodes): the mix of `node_mix` is
    inv[t, k, node[s]] · delivered[s, t], since the supply of seller s sits at its node only.
    Holding this instead of the mix keeps memory at steps x nodes² (not x sellers)."""
    t = delivered.shape[1]
    supply_k = np.zeros((t, n_nodes))  # delivered energy at each node
    np.add.at(supply_k.T, node, delivered)
    inflow = np.zeros((t, n_nodes, n_nodes))
    if flow is not None:
        fl, fr, to, keep = flow
        for j in range(len(fr)):
            inflow[:, to[j], fr[j]] += keep[j] * np.maximum(fl[j], 0.0)
    through = supply_k + inflow.sum(axis=2)  # t x nodes
    m = -inflow
    idx = np.arange(n_nodes)
    # A node without energy gets an empty mix; a tiny ridge keeps lossless cycles solvable.
    m[:, idx, idx] += np.where(through > _EPS, through, 1.0) + 1e-12
    eye = np.broadcast_to(np.eye(n_nodes), m.shape)
    out: FloatArray = np.asarray(np.linalg.solve(m, eye), dtype=np.float64)
    return out


def _mix_at(inv: FloatArray, k: int, node: IntArray, delivered: FloatArray) -> FloatArray:
    """Each seller's share of the energy at node k, (sellers, steps), clipped to [0, 1]."""
    share: FloatArray = np.clip(inv[:, k, node].T * delivered, 0.0, 1.0)
    return share
