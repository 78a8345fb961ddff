"""The typed records the inversion hands to settlement, KPIs and notes.

Input: built by pebdsl.invert (flows.py, trace.py, dispatch.py). Output: frozen records:
`ProductFlow` (one product of one market: kW sent and received per trader, and per pair),
`PairSplit` (who delivered to whom at which price), `MarketTrades` (a market's flows, splits,
seller x buyer table and price rule), `Trades` (every market), `Dispatch` (the time-series
tables and the model-side arrays settlement needs). Raises nothing.

Units: powers in kW (mean over a step), energies in kWh, money in the design's currency,
prices in currency/kWh; arrays are (traders, steps) unless stated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pebdsl.ir import FloatArray, IntArray
from pebdsl.lower.inverse import MarketMap, ProductMap

# A per-pair market's trades: seller index, buyer index, kW received per pair (pairs x t).
Pairs = tuple[IntArray, IntArray, FloatArray]
# A nodal market's link flows: kW sent per link direction (links x t), from-node, to-node,
# keep factor (1 − loss) per link direction.
LinkFlow = tuple[FloatArray, IntArray, IntArray, FloatArray]


@dataclass(frozen=True)
class ProductFlow:
    """One product of one market at the optimum."""

    product: ProductMap
    sent: FloatArray  # kW sent per trader (before loss)
    recv: FloatArray  # kW received per trader (after loss)
    pairs: Pairs | None  # per-pair form only


@dataclass(frozen=True)
class PairSplit:
    """Who delivered to whom, at which price (invert/trace.py `pair_split`)."""

    kwh: FloatArray  # seller x buyer kWh received over the horizon (rows/columns as grouped)
    buyer_pays: FloatArray  # per trader, currency over the horizon (energy only)
    seller_gets: FloatArray  # per trader, currency over the horizon
    avg_price: FloatArray  # currency/kWh received, per step
    rule: str  # "pool" | the p2p settlement rule
    surplus_t: FloatArray  # buyers' payments − sellers' receipts, currency per step
    link_fees: FloatArray | None = None  # p2p over links: currency per trader and step


@dataclass(frozen=True)
class MarketTrades:
    """One market's trades at the optimum."""

    market: MarketMap
    flows: Mapping[str, ProductFlow]  # product -> flow
    splits: Mapping[str, PairSplit]  # product -> split
    table: pd.DataFrame  # seller x buyer kWh received over the horizon
    price_rule: str  # "midpoint" | "midpoint_partial" | "dual"


@dataclass(frozen=True)
class Trades:
    """Every market's trades."""

    markets: Mapping[str, MarketTrades]

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        return {m: t.table for m, t in self.markets.items()}

    @property
    def flows(self) -> dict[str, Mapping[str, ProductFlow]]:
        return {m: t.flows for m, t in self.markets.items()}

    @property
    def price_rules(self) -> dict[str, str]:
        return {m: t.price_rule for m, t in self.markets.items()}


@dataclass(frozen=True)
class Dispatch:
    """The operation at the optimum, as time-series tables (index: step starts; columns:
    (entity, quantity), documented in pebdsl/results.py), and the arrays settlement reads."""

    participants_ts: pd.DataFrame
    batteries_ts: pd.DataFrame
    blocks_ts: pd.DataFrame
    markets_ts: pd.DataFrame
    links_ts: pd.DataFrame
    balance_price: FloatArray  # agents x t, currency/kWh (the solver's balance duals / Δt)
    block_net: FloatArray  # blocks x t, kW (+ = import)
    flex_baseline_x: FloatArray | None  # the optimum without the DSO's flexibility rows


EMPTY_INT = np.zeros(0, dtype=np.int64)
