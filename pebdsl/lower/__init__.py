"""Lowering: a `Design` into the model IR, as an ordered tuple of small passes.

Input: a validated `Design` (pebdsl.design). Output: `ModelIR` (pebdsl.ir) with every variable
and constraint block of the design's LP, costs as price x dt_h per kW column, and
`ir.inverse` (lower/inverse.py), the frozen typed map back from columns and rows to the design
that extraction, settlement, diagnosis and explain read (markets, batteries, meters, …).
Raises nothing for a valid design (infeasibility is found by the solver, E5xx in
pebdsl/invert/diagnose.py).

Each pass is `lower_x(ctx) -> None`: it adds whole blocks to `ctx.ir` with numpy, and adds its
terms to the shared expressions that later passes close (the participants' energy balance,
the blocks' net import). Passes run in the order of `PASSES` (after sqlglot's optimizer):
balance, generation, storage, flexible, markets, local (labelled local energy), meters,
blocks, tariffs (DSO), objective. The
objective pass closes the pending rows (the balance needs every earlier pass's terms).
The formulation, block by block, is documented in docs/model.md.
"""

from __future__ import annotations

from collections.abc import Callable

from pebdsl.design import Design
from pebdsl.ir import ModelIR
from pebdsl.lower.balance import lower_balance
from pebdsl.lower.blocks import lower_blocks
from pebdsl.lower.context import Context
from pebdsl.lower.flexible import lower_flexible
from pebdsl.lower.generation import lower_generation
from pebdsl.lower.local import lower_local
from pebdsl.lower.markets import lower_markets
from pebdsl.lower.meters import lower_meters
from pebdsl.lower.objective import lower_objective
from pebdsl.lower.storage import lower_storage
from pebdsl.lower.tariffs import lower_tariffs

Pass = Callable[[Context], None]

PASSES: tuple[Pass, ...] = (
    lower_balance,
    lower_generation,
    lower_storage,
    lower_flexible,
    lower_markets,
    lower_local,
    lower_meters,
    lower_blocks,
    lower_tariffs,
    lower_objective,
)


def lower(design: Design, passes: tuple[Pass, ...] = PASSES) -> ModelIR:
    """Build the model IR of one design by running the passes in order."""
    ctx = Context.start(design)
    for p in passes:
        p(ctx)
    ctx.ir.inverse = ctx.inv.freeze()
    return ctx.ir


__all__ = ["PASSES", "Context", "lower"]
