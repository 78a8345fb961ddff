"""The inverse map: the only way back from the LP's columns and rows to the design.

Input: facts each lowering pass records while it builds its blocks (an `InverseBuilder` on the
lowering `Context`). Output: a frozen `Inverse` attached to the `ModelIR` (`ir.inverse`) when
lowering ends, read by extraction (pebdsl.invert), settlement, diagnosis and explain.
Raises nothing (a missing part is a bug: `InverseBuilder.freeze` asserts the passes ran).

What it holds:
- `agents`, `participants`, `blocks`: the entity order of the agent x t and block x t rows;
- `markets`: per market its traders (members, then its shared batteries), nodes, each
  trader's node, form ("compact" | "pair"), loss, fees, operator, and per product the names
  of its variable blocks (`sell`/`buy` or `trade`, `flow`) and market balance;
- `batteries`, `generation`, `meters` (the meter expression as a `LinearMap`), `capacity`
  (the month of every step and the share of each month inside the horizon), `block_net`
  (each block's net import as a `LinearMap`) and the local-energy markets.

The pair order of per-pair markets (`pair_order`) is written here once: lowering lays out the
`trade` columns in it, and trade tracing reads them back in it.
This module imports no other pebdsl module (`ir.py` refers to `Inverse` for typing only).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def pair_order(n: int) -> tuple[IntArray, IntArray]:
    """Seller and buyer index of every ordered pair (s, r), s != r, of n traders: the order of
    a per-pair market's `trade` columns (seller-major)."""
    idx = [(s, r) for s in range(n) for r in range(n) if s != r]
    ps = np.array([s for s, _ in idx], dtype=np.int64)
    pr = np.array([r for _, r in idx], dtype=np.int64)
    return ps, pr


@dataclass(frozen=True)
class LinearMap:
    """A linear function of the columns, (entities, steps) rows in C order: the value of an
    open lowering expression (a meter, a block's net import) at a solution."""

    n_entities: int
    n_steps: int
    rows: IntArray
    cols: IntArray
    vals: FloatArray
    constant: FloatArray | None = None

    def __call__(self, x: FloatArray) -> FloatArray:
        """The value at solution `x`, shape (entities, steps), constant included."""
        flat = np.bincount(
            self.rows, weights=self.vals * x[self.cols], minlength=self.n_entities * self.n_steps
        )
        out: FloatArray = flat.astype(np.float64).reshape(self.n_entities, self.n_steps)
        if self.constant is not None:
            out = out + self.constant
        return out


@dataclass(frozen=True)
class ProductMap:
    """One product of one market: the names of its IR blocks."""

    name: str
    premium_per_kwh: float
    sell: str | None = None  # compact form: kW sent per trader
    buy: str | None = None  # compact form: kW received per trader
    trade: str | None = None  # per-pair form: kW sent per (s, r) in `pair_order`
    flow: str | None = None  # DSO link flows (nodal markets)
    link_loss: tuple[float, ...] = ()  # keep factor (1 − loss) per flow entity
    balance: str | None = None  # the market balance per node (its dual / Δt is the price)


@dataclass(frozen=True)
class MarketMap:
    """One local market as lowered (lower/markets.py)."""

    name: str
    type: str  # "pool" | "p2p"
    form: str  # "compact" | "pair"
    traders: tuple[str, ...]
    nodes: tuple[str, ...]
    trader_node: tuple[int, ...]
    nodal: bool
    between_blocks: bool
    loss: float
    fee_per_kwh: float
    fee_payer: tuple[bool, ...]  # shared batteries buy fee-free
    settlement: str
    operator: str | None  # "dso" | None (the market's own operator)
    local_only: bool
    products: Mapping[str, ProductMap]

    @property
    def compact(self) -> bool:
        return self.form == "compact"

    def pairs(self) -> tuple[IntArray, IntArray]:
        """Seller and buyer trader index of each `trade` column (`pair_order`)."""
        return pair_order(len(self.traders))


@dataclass(frozen=True)
class BatteryMap:
    """One battery (private or shared), in the order of the `charge`/`discharge`/`soc` rows."""

    name: str
    owner: str | None
    block: str | None  # a shared battery's block
    charge_from: str
    local: bool  # stores local energy only (lower/local.py `local_batteries`)

    @property
    def agent(self) -> str:
        """The agent whose balance the battery enters: its owner, or itself when shared."""
        return self.owner or self.name


@dataclass(frozen=True)
class GenerationMap:
    """The `gen` block's entities: asset name, owner (participant index) and kind."""

    assets: tuple[str, ...] = ()
    owners: tuple[int, ...] = ()
    kinds: tuple[str, ...] = ()


@dataclass(frozen=True)
class MeterMap:
    """Each agent's meter (gi − ge + received − sold) and the energy-charge basis."""

    basis: str  # "meter" | "purchase"
    agents: tuple[str, ...]  # metered agents
    meter: LinearMap  # agents x t (all agents)
    var: str | None = None  # `meter_in` when an energy charge applies to the meter


@dataclass(frozen=True)
class CapacityMap:
    """The monthly capacity charge: entities charged, month labels, each step's month."""

    entities: tuple[str, ...]
    months: tuple[str, ...]
    share: tuple[float, ...]  # share of each month inside the horizon
    step_month: IntArray  # month index of every step


@dataclass(frozen=True)
class Inverse:
    """Everything needed to read a solution back in the design's terms."""

    agents: tuple[str, ...]
    participants: tuple[str, ...]
    blocks: tuple[str, ...]
    markets: Mapping[str, MarketMap]
    batteries: Mapping[str, BatteryMap]
    generation: GenerationMap
    meters: MeterMap
    block_net: LinearMap
    local_markets: frozenset[str]
    capacity: CapacityMap | None = None

    def agent(self, name: str) -> int:
        return self.agents.index(name)


@dataclass
class InverseBuilder:
    """The parts of the inverse map, collected pass by pass (mutable only during lowering)."""

    agents: tuple[str, ...]
    participants: tuple[str, ...]
    blocks: tuple[str, ...]
    markets: dict[str, MarketMap] = field(default_factory=dict)
    batteries: dict[str, BatteryMap] = field(default_factory=dict)
    generation: GenerationMap = field(default_factory=GenerationMap)
    meters: MeterMap | None = None
    block_net: LinearMap | None = None
    local_markets: frozenset[str] = frozenset()
    capacity: CapacityMap | None = None

    def freeze(self) -> Inverse:
        assert self.meters is not None and self.block_net is not None, "lowering incomplete"
        return Inverse(
            agents=self.agents,
            participants=self.participants,
            blocks=self.blocks,
            markets=dict(self.markets),
            batteries=dict(self.batteries),
            generation=self.generation,
            meters=self.meters,
            block_net=self.block_net,
            local_markets=self.local_markets,
            capacity=self.capacity,
        )


__all__ = [
    "BatteryMap",
    "CapacityMap",
    "GenerationMap",
    "Inverse",
    "InverseBuilder",
    "LinearMap",
    "MarketMap",
    "MeterMap",
    "ProductMap",
    "pair_order",
]
