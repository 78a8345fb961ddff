"""Inversion: from the solver's columns and row duals back to the design's terms.

Input: a `Design`, its lowered `ModelIR` (whose frozen inverse map, lower/inverse.py, is the
only way back to the design), a `Solution` and the `Backend` that produced it. Output:
`invert(...) -> (Dispatch, Trades)` for an optimal solution (dispatch.py), `diagnose(...)`
-> `PebdslError` for any other (diagnose.py). Raises PebdslError E503/E504 when a re-solve
fails (flexibility.py).

Rooms: flows.py (market flows, price rows, settlement duals, price rules), trace.py (who
delivered to whom: pair_split, node_mix, link fees, the trades-table grouping), markets.py
(market and link tables), labels.py (which trades carried local energy), flexibility.py (the
flexibility baseline, re-solved on the chosen backend), diagnose.py (E501–E504, the elastic
re-solve on the chosen backend), records.py (the typed records handed on).
"""

from __future__ import annotations

from pebdsl.invert.diagnose import diagnose
from pebdsl.invert.dispatch import invert
from pebdsl.invert.flows import DEFAULT_PRICES, PRICE_RULES, price_rows, settlement_duals
from pebdsl.invert.records import Dispatch, MarketTrades, PairSplit, ProductFlow, Trades
from pebdsl.invert.trace import MAX_TRADE_PARTIES, OTHERS, node_mix, trade_groups

__all__ = [
    "DEFAULT_PRICES",
    "MAX_TRADE_PARTIES",
    "OTHERS",
    "PRICE_RULES",
    "Dispatch",
    "MarketTrades",
    "PairSplit",
    "ProductFlow",
    "Trades",
    "diagnose",
    "invert",
    "node_mix",
    "price_rows",
    "settlement_duals",
    "trade_groups",
]
