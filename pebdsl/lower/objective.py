"""Pass 8 — close the pending rows and describe the objective.

Input: the context after every other pass. Output: the pending constraint blocks (the energy
balance) added to the IR, and `ir.objective_doc` (each cost term
with the declaration it comes from). The objective itself is the sum of the column costs set
by the passes: min Σ_t Δt·[Σ_p (buy_t + energy_charge_t)·gi − sell_t·ge + fees·received
+ flexible-load cost + battery throughput cost + link fees + flexibility excess·price
− premiums·purchases] + Σ capacity_charge·share_m·peak. Raises nothing.
"""

from __future__ import annotations

import numpy as np

from pebdsl.lower.context import Context


def lower_objective(ctx: Context) -> None:
    for p in ctx.pending:
        ctx.ir.add_con(p.name, p.entities, p.expr, lower=p.lower, upper=p.upper, **p.meta)
    docs = []
    for v in ctx.ir.vars.values():
        if np.any(v.cost != 0.0):
            docs.append((v.cost_doc or f"cost·{v.name}", v.doc))
    ctx.ir.objective_doc = docs
