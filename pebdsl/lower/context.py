"""The state the lowering passes share: the IR under construction and open expressions.

Input: a `Design`. Output: a `Context` whose `ir` the passes fill. Raises nothing.

Open expressions (closed by the objective pass, or read by later passes):
- `balance` (agent x t): supply − use of each agent, closed as `balance = load`. Agents are the
  participants, then the shared batteries (which trade like members but own no load or grid).
- `received` (agent x t): kW received from local markets.
- `sold` (agent x t): kW sent into local markets (all markets and products).
- `meter` (agent x t): the net withdrawal at each agent's meter, gi − ge + received − sold
  (+ = the meter imports): what the DSO's charges apply to (`charge_on = meter`).
- `received_local` (agent x t): kW received from local-energy markets (where no grid energy may
  be sold, `lower/local.py`): energy that is local by construction.
- `premium_bought` (agent x t): kW of premium products received (all markets).
- `block_net` (block x t): the block's net import at its connection (kW, + = import).
- `own_gen` (participant x t, by kind): generation used, for product origins and resale rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pebdsl.design import Connection, Design
from pebdsl.ir import INF, Expr, FloatArray, ModelIR
from pebdsl.lower.inverse import InverseBuilder, LinearMap
from pebdsl.source import Span


def connection_bounds(conns: Sequence[Connection | None]) -> tuple[FloatArray, FloatArray]:
    """Import and export limits (kW) of each connection; INF where none is declared."""
    imp = np.array([c.import_kw if c and c.import_kw is not None else INF for c in conns])
    exp = np.array([c.export_kw if c and c.export_kw is not None else INF for c in conns])
    return imp.astype(np.float64), exp.astype(np.float64)


@dataclass
class Pending:
    """A constraint block whose expression later passes may still extend."""

    name: str
    entities: tuple[str, ...]
    expr: Expr
    lower: float | FloatArray = -INF
    upper: float | FloatArray = INF
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    design: Design
    ir: ModelIR
    agents: tuple[str, ...]
    participants: tuple[str, ...]
    blocks: tuple[str, ...]
    balance: Expr
    received: Expr
    block_net: Expr
    sold: Expr
    meter: Expr
    received_local: Expr
    premium_bought: Expr
    own_gen: dict[str, Expr] = field(default_factory=dict)  # kind -> participant x t
    pending: list[Pending] = field(default_factory=list)
    inv: InverseBuilder = field(default_factory=lambda: InverseBuilder((), (), ()))
    # Between passes only (not part of the inverse map): product -> agent x t kW sent into
    # markets (markets -> local), and which batteries hold local energy only (local).
    product_sales: dict[str, Expr] = field(default_factory=dict)
    local_batteries: dict[str, bool] = field(default_factory=dict)
    _load: FloatArray | None = field(default=None, repr=False)
    _avail: dict[tuple[str, ...], FloatArray] = field(default_factory=dict, repr=False)

    @classmethod
    def start(cls, design: Design) -> Context:
        t = design.n_steps
        participants = tuple(design.participants)
        agents = participants + tuple(design.shared_batteries)
        blocks = tuple(design.blocks)
        ir = ModelIR(t, design.dt_h, design.time.index)
        return cls(
            design=design,
            ir=ir,
            agents=agents,
            participants=participants,
            blocks=blocks,
            balance=Expr(len(agents), t),
            received=Expr(len(agents), t),
            block_net=Expr(len(blocks), t),
            sold=Expr(len(agents), t),
            meter=Expr(len(agents), t),
            received_local=Expr(len(agents), t),
            premium_bought=Expr(len(agents), t),
            inv=InverseBuilder(agents, participants, blocks),
        )

    @property
    def dt_h(self) -> float:
        return self.design.dt_h

    @property
    def n_steps(self) -> int:
        return self.design.n_steps

    def agent(self, name: str) -> int:
        return self.agents.index(name)

    def block_index(self, name: str | None) -> int | None:
        return None if name is None or name not in self.blocks else self.blocks.index(name)

    def agent_block(self, name: str) -> str | None:
        if name in self.design.participants:
            return self.design.participants[name].block
        return self.design.shared_batteries[name].block

    def load_kw(self) -> FloatArray:
        """Declared demand of every agent, shape (agents, t); zero for shared batteries.

        Built once and cached: passes index it per trader, and rebuilding it per participant made
        lowering quadratic in the number of participants."""
        if self._load is None:
            out = np.zeros((len(self.agents), self.n_steps))
            for i, p in enumerate(self.participants):
                out[i] = self.design.participants[p].demand_kw(self.n_steps)
            self._load = out
        return self._load

    def available_gen_kw(self, kinds: tuple[str, ...] = ("pv", "wind")) -> FloatArray:
        """Available generation (before curtailment) of the given kinds, agents x t (built once
        per kinds: every market and local-energy rule reads it)."""
        if kinds not in self._avail:
            out = np.zeros((len(self.agents), self.n_steps))
            for i, p in enumerate(self.participants):
                for g in self.design.participants[p].generation:
                    if g.kind in kinds:
                        out[i] += np.maximum(g.profile_kw, 0.0)
            self._avail[kinds] = out
        return self._avail[kinds]

    def gen_expr(self, kinds: tuple[str, ...]) -> Expr:
        """Generation used of the given kinds, participant x t (an empty Expr if none)."""
        out = Expr(len(self.participants), self.n_steps)
        for k in kinds:
            if k in self.own_gen:
                out.add_expr(self.own_gen[k])
        return out

    def span_of(self, *spans: Span) -> tuple[Span, ...]:
        return tuple(s for s in spans if s is not None)


def linear_map(e: Expr) -> LinearMap:
    """A frozen copy of an open expression, for the inverse map."""
    rows, cols, vals = e.coo()
    const = None if e.constant is None else e.constant.copy()
    return LinearMap(e.n_entities, e.n_steps, rows, cols, vals, const)
