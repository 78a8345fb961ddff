"""The deterministic equivalent (extensive form) of a two-stage stochastic design, as one IR.

Input: a `Design` with `stochastic` set (its scenarios and each one's realised `Design`).
Output: `Extensive`: one `ModelIR` holding every scenario's copy of the model, plus the map from
each scenario's own IR (`lower(scenario design)`) into it.

How (why this way: lower/ stays as it is, one pass list for every model): each scenario's
design is lowered alone by the ordinary passes; its blocks are copied into the extensive IR
under the scenario's name (`sunny:gi`, `sunny:balance`) with costs × π_ω. First-stage blocks
(`da_buy`, `da_sell` from `lower/stages.py`, and `charge`/`discharge`/`soc` of batteries with
`stage = 1`) are not copied per scenario: every scenario's columns of them map onto ONE shared
block, so non-anticipativity holds by construction (no linking rows) and its cost
Σ_ω π_ω·c = c is counted once. The objective is therefore
    min  c_1ᵀ x_1 + Σ_ω π_ω · c_ωᵀ x_ω        (x_1 shared, x_ω per scenario).
`Extensive.scenario_x(x, ω)` gives scenario ω's solution in its own IR's layout and
`scenario_dual(y, ω)` its row duals divided by π_ω (the prices of that scenario), so a
scenario can be read like a deterministic solve. Raises nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pebdsl.design import Design
from pebdsl.ir import ConBlock, FloatArray, IntArray, ModelIR, VarBlock
from pebdsl.lower import lower
from pebdsl.lower.stages import FIRST_STAGE

__all__ = ["Extensive", "first_stage_entities", "lower_extensive"]

_BATTERY_BLOCKS = ("charge", "discharge", "soc")


def first_stage_entities(design: Design) -> dict[str, set[str] | None]:
    """The first-stage blocks and their shared entities (None = every entity)."""
    out: dict[str, set[str] | None] = {name: None for name in FIRST_STAGE}
    stage1 = {n for n, b in design.batteries().items() if b.stage == 1}
    if stage1:
        for name in _BATTERY_BLOCKS:
            out[name] = stage1
    return out


@dataclass
class Extensive:
    """The extensive-form IR and how each scenario's own IR maps into it."""

    ir: ModelIR
    names: tuple[str, ...]
    probabilities: dict[str, float]
    scenario_irs: dict[str, ModelIR]
    col_map: dict[str, IntArray] = field(default_factory=dict)  # scenario col -> global col
    row_start: dict[str, int] = field(default_factory=dict)  # scenario rows are contiguous
    first_stage: dict[str, IntArray] = field(default_factory=dict)  # shared block -> cols

    def scenario_x(self, x: FloatArray, name: str) -> FloatArray:
        """Scenario `name`'s solution vector, in its own IR's column order."""
        return x[self.col_map[name]]

    def scenario_dual(self, y: FloatArray, name: str) -> FloatArray:
        """Scenario `name`'s row duals divided by its probability (its own prices)."""
        sub = self.scenario_irs[name]
        start = self.row_start[name]
        return y[start : start + sub.n_rows] / self.probabilities[name]

    def scenario_cost(self, x: FloatArray, name: str) -> float:
        """Scenario `name`'s whole cost (first stage included) at solution x."""
        sub = self.scenario_irs[name]
        return float(sub.cost() @ self.scenario_x(x, name) + sub.objective_offset)


def _copy_var(ir: ModelIR, vb: VarBlock, name: str, keep: list[int], weight: float) -> VarBlock:
    """A copy of rows `keep` of block `vb` under `name`, costs × weight."""
    shape = (len(vb.entities), vb.n_steps)
    return ir.add_var(
        name,
        [vb.entities[i] for i in keep],
        vb.n_steps,
        lower=vb.lower.reshape(shape)[keep],
        upper=vb.upper.reshape(shape)[keep],
        cost=vb.cost.reshape(shape)[keep] * weight,
        unit=vb.unit,
        span=vb.span,
        doc=vb.doc,
        index=vb.index,
        step_kind=vb.step_kind,
        step_labels=vb.step_labels,
        cost_doc=vb.cost_doc,
        spans=vb.spans,
    )


def _map_block(
    ir: ModelIR,
    vb: VarBlock,
    scen: str,
    weight: float,
    shared: set[str] | None,
    col_map: IntArray,
) -> None:
    """Place scenario block `vb` in the extensive IR: its shared entities onto the shared
    block (created by the first scenario, costs accumulated), the others as `scen:name`."""
    cols = vb.cols()
    idx = range(len(vb.entities))
    own = [i for i in idx if shared is not None and vb.entities[i] not in shared]
    common = [i for i in idx if shared is None or vb.entities[i] in shared]
    if common:
        target = ir.vars.get(vb.name)
        if target is None:
            target = _copy_var(ir, vb, vb.name, common, weight)
        else:
            shape = (len(vb.entities), vb.n_steps)
            target.cost += (vb.cost.reshape(shape)[common] * weight).ravel()
            ir._matrix = None
        tcols = target.cols()
        for i in common:
            col_map[cols[i]] = tcols[target.entities.index(vb.entities[i])]
    if own:
        nb = _copy_var(ir, vb, f"{scen}:{vb.name}", own, weight)
        ncols = nb.cols()
        for k, i in enumerate(own):
            col_map[cols[i]] = ncols[k]


def _copy_con(ir: ModelIR, cb: ConBlock, name: str, col_map: IntArray) -> None:
    new = ConBlock(
        name=name,
        entities=cb.entities,
        n_steps=cb.n_steps,
        rows=cb.rows.copy(),
        cols=col_map[cb.cols],
        vals=cb.vals.copy(),
        lower=cb.lower.copy(),
        upper=cb.upper.copy(),
        template=cb.template,
        spans=cb.spans,
        sources=cb.sources,
        unit=cb.unit,
        index=cb.index,
        step_kind=cb.step_kind,
        step_labels=cb.step_labels,
        doc=cb.doc,
        entity_spans=cb.entity_spans,
        start=ir.n_rows,
    )
    ir.cons[name] = new
    ir.n_rows += new.size
    ir._matrix = None


def lower_extensive(design: Design) -> Extensive:
    """The extensive form of a stochastic design (see the module docstring)."""
    st = design.stochastic
    assert st is not None, "lower_extensive needs a stochastic design"
    ir = ModelIR(design.n_steps, design.dt_h, design.time.index)
    probs = {s.name: s.probability for s in st.scenarios}
    shared = first_stage_entities(design)
    ext = Extensive(ir, tuple(probs), probs, {})
    for sc in st.scenarios:
        sub = lower(st.designs[sc.name])
        ext.scenario_irs[sc.name] = sub
        col_map = np.full(sub.n_cols, -1, dtype=np.int64)
        for vb in sub.vars.values():
            share: set[str] | None = shared.get(vb.name, set())
            _map_block(ir, vb, sc.name, sc.probability, share, col_map)
        ext.row_start[sc.name] = ir.n_rows
        for cb in sub.cons.values():
            _copy_con(ir, cb, f"{sc.name}:{cb.name}", col_map)
        ext.col_map[sc.name] = col_map
        ir.objective_offset += sc.probability * sub.objective_offset
    for name in shared:
        if name in ir.vars:
            ext.first_stage[name] = ir.vars[name].cols().ravel()
    docs = [(v.cost_doc or f"cost·{v.name}", v.doc) for v in ir.vars.values() if np.any(v.cost)]
    ir.objective_doc = docs
    return ext
