"""Local labels: which local trades carried local energy and which resold grid energy.

Input: the design, the inverse map, the market flows (invert/flows.py) and per agent and step
(kW) the generation used, the LP's own use, battery charge/discharge and sales. Output:
`LocalLabels` (kW delivered of local energy per agent and per market, and each agent's local
share of its sales). Raises nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pebdsl.invert.records import ProductFlow
from pebdsl.ir import FloatArray
from pebdsl.lower.inverse import Inverse

_EPS = 1e-9


@dataclass(frozen=True)
class LocalLabels:
    bought_local: FloatArray  # agents x t, kW of local energy received
    market_local: dict[str, FloatArray]  # market -> kW of local energy delivered, per step
    share: FloatArray  # agents x t, local share of each agent's sales (1 where it sold none)


def _local_sources(
    inv: Inverse,
    flows: dict[str, dict[str, ProductFlow]],
    surplus: FloatArray,
    ch: FloatArray | None,
    dis: FloatArray | None,
) -> FloatArray:
    """The local energy each agent can sell per step (agents x t, kW; inf: only local)."""
    agents = inv.agents
    src = np.zeros((len(agents), surplus.shape[1]))
    src[: surplus.shape[0]] = surplus
    if ch is not None and dis is not None:
        for j, bi in enumerate(inv.batteries.values()):
            a = agents.index(bi.agent)
            if bi.local:
                src[a] += dis[j]
                # A local-only battery's charge takes local energy first (lower/local.py);
                # a battery that may charge from the grid is not a local use.
                src[a] -= ch[j] if bi.owner is not None else 0.0
    for mname, prods in flows.items():
        if mname not in inv.local_markets:
            continue
        tr = [agents.index(a) for a in inv.markets[mname].traders]
        for f in prods.values():
            np.add.at(src, tr, f.recv)
    # Shared batteries buy their charge in the markets: it is netted against their purchases.
    if ch is not None:
        for j, bi in enumerate(inv.batteries.values()):
            if bi.owner is None and not bi.local:
                src[agents.index(bi.name)] -= ch[j]
            elif bi.owner is None:
                src[agents.index(bi.name)] = np.inf  # holds local energy only
    return src


def local_labels(
    inv: Inverse,
    flows: dict[str, dict[str, ProductFlow]],
    used: FloatArray,
    own_use: FloatArray,
    ch: FloatArray | None,
    dis: FloatArray | None,
    sold: FloatArray,
) -> LocalLabels:
    """Which local trades carried local energy (Lüth et al.: generation surplus, what batteries
    of local energy give back, local purchases of it) and which resold grid energy.

    Per agent and step, own use first: surplus = max(0, used − U), with the LP's own use U =
    min(available generation, declared load) (lower/local.py; load shifted in is not served by
    own generation first, as documented there). The local energy an
    agent can sell is surplus + discharge of a battery holding local energy only + purchases in
    local-energy markets − the charge of its own local-only battery (the same accounting as the
    LP's rule, lower/local.py: a battery that may charge from the grid is not a local use, so
    it may take grid energy while its owner sells its surplus); the local share of its sales is
    min(1, that / sales). A market's local deliveries in a step are its deliveries x the
    sellers' sales-weighted local share. Buyers receive their market's share
    (`local_bought_local`). The LP guarantees a share of 1 for every seller bound by the
    local-energy rules (lower/local.py); elsewhere grid energy passed on through a market is
    reported as such, not as local trade."""
    agents = inv.agents
    t = used.shape[1]
    src = _local_sources(inv, flows, np.maximum(used - own_use, 0.0), ch, dis)
    share = np.where(
        sold > _EPS, np.clip(np.maximum(src, 0.0) / np.maximum(sold, _EPS), 0.0, 1.0), 1.0
    )
    bought_local = np.zeros((len(agents), t))
    market_local: dict[str, FloatArray] = {}
    for mname, prods in flows.items():
        tr = [agents.index(a) for a in inv.markets[mname].traders]
        vol_local = np.zeros(t)
        for f in prods.values():
            tot = f.sent.sum(axis=0)
            mu = np.where(tot > _EPS, (f.sent * share[tr]).sum(axis=0) / np.maximum(tot, _EPS), 1.0)
            np.add.at(bought_local, tr, f.recv * mu)
            vol_local += f.recv.sum(axis=0) * mu
        market_local[mname] = vol_local
    return LocalLabels(bought_local, market_local, share)
