"""Each market's prices, volumes, losses, fees and trades table, and the DSO links' flows.

Input: the design, the lowered IR (its inverse map), the solution's primal values `x`, the
settlement duals `y`, the market flows (invert/flows.py) and the traders' balance prices
(currency/kWh). Output: `MarketTables`: markets_ts and links_ts columns (kW, currency/kWh,
currency per hour for fees), and a `MarketTrades` per market. Raises nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from pebdsl.design import Design
from pebdsl.invert.records import LinkFlow, MarketTrades, PairSplit, ProductFlow
from pebdsl.invert.trace import link_fee_shares, pair_split, trade_groups
from pebdsl.ir import FloatArray, ModelIR
from pebdsl.lower.inverse import MarketMap

_EPS = 1e-9
Columns = dict[tuple[str, str], FloatArray]


def clean(v: FloatArray) -> FloatArray:
    """Round solver noise (|v| < 1e-9) to exact zeros so tables and KPIs read cleanly."""
    v = np.asarray(v, dtype=np.float64)
    return np.where(np.abs(v) < _EPS, 0.0, v)


@dataclass(frozen=True)
class MarketTables:
    markets_ts: Columns
    links_ts: Columns
    trades: dict[str, MarketTrades]


def _link_key(d: Design, a: str, b: str) -> tuple[str, str]:
    for lk in d.dso.links:
        if (lk.a, lk.b) == (a, b) or (lk.a, lk.b) == (b, a):
            return lk.a, lk.b
    return a, b


def _link_flow(
    d: Design, ir: ModelIR, mk: MarketMap, f: ProductFlow, x: FloatArray, links: Columns
) -> tuple[LinkFlow, FloatArray]:
    """A nodal product's link flows (as `node_mix` takes them) and the kW lost on links per
    step; adds each link's flows and loss to `links` (keyed (\"a--b\", quantity))."""
    assert f.product.flow is not None
    t = d.n_steps
    fl = ir.vars[f.product.flow].values(x)
    keep = np.asarray(f.product.link_loss)[:, None]
    ends = [e.split("->") for e in ir.vars[f.product.flow].entities]
    names = list(mk.nodes)
    flow = (
        fl,
        np.array([names.index(a) for a, _ in ends], dtype=np.int64),
        np.array([names.index(b) for _, b in ends], dtype=np.int64),
        keep[:, 0],
    )
    for j, (a, b) in enumerate(ends):
        key = "--".join(_link_key(d, a, b))
        for q in ("flow_ab", "flow_ba", "loss"):
            links.setdefault((key, q), np.zeros(t))
        direction = "flow_ab" if _link_key(d, a, b)[0] == a else "flow_ba"
        links[(key, direction)] += fl[j]
        links[(key, "loss")] += (1.0 - keep[j, 0]) * fl[j]
    return flow, ((1.0 - keep) * fl).sum(axis=0)


def _fees(d: Design, ir: ModelIR, mk: MarketMap, f: ProductFlow) -> FloatArray:
    """Fees collected per step (currency per hour)."""
    if f.pairs is not None:
        assert f.product.trade is not None
        ps, pr, q = f.pairs
        dt = d.dt_h
        fee = ir.vars[f.product.trade].cost.reshape(len(ps), d.n_steps)[:, 0] / dt
        fee = fee / (1.0 - mk.loss)
        fee = fee + np.where(
            np.array([a in d.participants for a in np.array(mk.traders)[pr]]),
            f.product.premium_per_kwh,
            0.0,
        )
        out: FloatArray = (fee[:, None] * q).sum(axis=0)
        return out
    payer = np.asarray(mk.fee_payer, dtype=bool)
    return mk.fee_per_kwh * f.recv[payer].sum(axis=0)


def _market(
    d: Design,
    ir: ModelIR,
    mk: MarketMap,
    flows: dict[str, ProductFlow],
    arrays: tuple[FloatArray, FloatArray, FloatArray],
    cols: Columns,
    links: Columns,
) -> tuple[dict[str, PairSplit], pd.DataFrame]:
    """One market's columns (added to `cols`), its splits and its trades table."""
    x, y, bal = arrays
    t = d.n_steps
    mname = mk.name
    total = {q: np.zeros(t) for q in ("volume", "loss", "fees", "value")}
    gs, gb, seller_labels, buyer_labels = trade_groups(list(mk.traders), flows.values())
    tr_kwh = np.zeros((len(seller_labels), len(buyer_labels)))
    splits: dict[str, PairSplit] = {}
    for k, f in flows.items():
        vol = f.recv.sum(axis=0)
        lost = mk.loss * f.sent.sum(axis=0)
        flow = None
        if f.product.flow:
            flow, link_lost = _link_flow(d, ir, mk, f, x, links)
            lost = lost + link_lost
        split = pair_split(mk, f, ir.inverse.agents, bal, ir, y, d.dt_h, flow, (gs, gb))
        if flow is not None and split.rule != "pool":
            # p2p: the DSO's link fees are paid by the traders whose energy crossed the link.
            assert f.product.flow is not None
            cost_l = ir.vars[f.product.flow].cost.reshape(len(flow[1]), t) * flow[0]
            split = replace(split, link_fees=link_fee_shares(mk, f, flow, cost_l))
        splits[k] = split
        tr_kwh += split.kwh
        total["volume"] += vol
        total["loss"] += lost
        total["fees"] += _fees(d, ir, mk, f)
        total["value"] += split.avg_price * vol
        if len(flows) > 1:
            cols[(mname, f"price_{k}")] = clean(split.avg_price)
            cols[(mname, f"volume_{k}")] = clean(vol)
    vol_t = total["volume"]
    avg = np.where(vol_t > _EPS, total["value"] / np.maximum(vol_t, _EPS), np.nan)
    first = next(iter(splits.values())).avg_price if splits else np.zeros(t)
    cols[(mname, "price")] = clean(np.where(np.isnan(avg), first, avg))
    for q in ("volume", "loss", "fees"):
        cols[(mname, q)] = clean(total[q])
    table = pd.DataFrame(
        np.where(np.abs(tr_kwh) < _EPS, 0.0, tr_kwh),
        index=pd.Index(seller_labels, name="seller"),
        columns=pd.Index(buyer_labels, name="buyer"),
    )
    return splits, table


def market_tables(
    d: Design,
    ir: ModelIR,
    x: FloatArray,
    y: FloatArray,
    flows: dict[str, dict[str, ProductFlow]],
    bal: FloatArray,
    price_rules: dict[str, str],
) -> MarketTables:
    """Every market's columns and trades, and the links' flows (kW) and losses."""
    cols: Columns = {}
    links: Columns = {}
    trades: dict[str, MarketTrades] = {}
    for mname, mk in ir.inverse.markets.items():
        splits, table = _market(d, ir, mk, flows[mname], (x, y, bal), cols, links)
        trades[mname] = MarketTrades(mk, flows[mname], splits, table, price_rules[mname])
    # Links in order of first use, each with flow_ab, flow_ba, loss.
    ldata = {key: clean(v) for key, v in links.items()}
    return MarketTables(cols, ldata, trades)
