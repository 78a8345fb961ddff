"""Market flows and the rows whose duals are prices.

Input: a lowered `ModelIR` (its inverse map) and a `Solution`. Output: `price_rows` (the rows
sent to the backend for valid dual intervals), `settlement_duals` (the duals settlement uses),
`market_flows` (per market and product, kW sent and received per trader and per pair), and
`price_rules` (per market, how its degenerate prices were chosen). Raises nothing.

Participant prices are balance duals / Δt (currency/kWh); market prices are market-balance
duals / Δt at each node (currency per kWh received), where a degenerate dual is replaced by
the midpoint of its valid interval (docs/model.md "Extraction and settlement").
"""

from __future__ import annotations

import numpy as np

from pebdsl.backends import Solution
from pebdsl.invert.records import ProductFlow
from pebdsl.ir import FloatArray, IntArray, ModelIR
from pebdsl.lower.inverse import MarketMap

# How degenerate local prices are chosen (docs/model.md "Extraction and settlement"):
# "midpoint" of the valid dual interval, or "dual", the solver's pick.
PRICE_RULES = ("midpoint", "dual")
DEFAULT_PRICES = "midpoint"


def _market_rows(ir: ModelIR, mk: MarketMap) -> list[IntArray]:
    """A market's price rows: its balances, and for per-pair forms its traders' balances
    (per-pair trades settle at the traders' own valuations)."""
    out: list[IntArray] = []
    bal = ir.cons.get("balance")
    for p in mk.products.values():
        cb = ir.cons.get(p.balance or "")
        if cb is not None:
            out.append(np.arange(cb.start, cb.start + cb.size, dtype=np.int64))
        if not mk.compact and bal is not None:
            for a in mk.traders:
                start = bal.start + ir.inverse.agent(a) * bal.n_steps
                out.append(np.arange(start, start + bal.n_steps, dtype=np.int64))
    return out


def price_rows(ir: ModelIR) -> IntArray:
    """The rows whose duals settle local trades: every market balance (pool prices; p2p
    node prices), and the energy balance of each trader of a per-pair p2p market without a
    market balance (its valuation of a kWh)."""
    out = [r for mk in ir.inverse.markets.values() for r in _market_rows(ir, mk)]
    return np.unique(np.concatenate(out)) if out else np.zeros(0, dtype=np.int64)


def settlement_duals(sol: Solution) -> FloatArray:
    """The row duals settlement uses: on price rows the midpoint of the valid interval
    (solution.price_lo/hi; equal to the dual where it is unique or no basis was left), the
    solver's dual elsewhere."""
    if sol.price_lo is None or sol.price_hi is None:
        return sol.row_dual
    out: FloatArray = 0.5 * (sol.price_lo + sol.price_hi)
    return out


def price_rules(ir: ModelIR, sol: Solution) -> dict[str, str]:
    """Per market, the rule its prices follow: "midpoint" of the valid interval, "dual" (the
    solver's pick: no simplex basis), or "midpoint_partial" (some degenerate rows kept the
    solver's side: their window outgrew intervals.MAX_WINDOW)."""
    out: dict[str, str] = {}
    inexact = set() if sol.price_inexact is None else set(sol.price_inexact.tolist())
    for mname, mk in ir.inverse.markets.items():
        if sol.price_rule != "midpoint":
            out[mname] = sol.price_rule
            continue
        rows = [int(i) for r in _market_rows(ir, mk) for i in r]
        out[mname] = "midpoint_partial" if inexact.intersection(rows) else "midpoint"
    return out


def market_flows(ir: ModelIR, x: FloatArray) -> dict[str, dict[str, ProductFlow]]:
    """Per market and product: sent (n, T), received (n, T) per trader, and per-pair arrays
    (seller, buyer, kW received) in the inverse map's pair order."""
    out: dict[str, dict[str, ProductFlow]] = {}
    for mname, mk in ir.inverse.markets.items():
        n = len(mk.traders)
        prods: dict[str, ProductFlow] = {}
        for k, p in mk.products.items():
            if mk.compact:
                assert p.sell is not None and p.buy is not None
                prods[k] = ProductFlow(p, ir.vars[p.sell].values(x), ir.vars[p.buy].values(x), None)
                continue
            assert p.trade is not None
            q = ir.vars[p.trade].values(x)
            ps, pr = mk.pairs()
            sent = np.zeros((n, q.shape[1]))
            recv = np.zeros((n, q.shape[1]))
            np.add.at(sent, ps, q)
            np.add.at(recv, pr, (1.0 - mk.loss) * q)
            prods[k] = ProductFlow(p, sent, recv, (ps, pr, (1.0 - mk.loss) * q))
        out[mname] = prods
    return out
