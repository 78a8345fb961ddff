"""Flexibility delivered to the DSO and its local price, per block.

Input: the design, the lowered IR, the solution, each block's net import (kW) and the
`Backend` that solved the model. Output: `Flexibility` (kW delivered, the local price and the
price paid, currency/kWh, per block and step, and the baseline optimum). Raises PebdslError
E504 when the solver refuses the baseline model, E503 when the baseline has no optimum.

Price = −dual of `flex_limit` / Δt (≥ 0): the local value of the limit. Paid = the price the
DSO declared for a priced need (`price = …`: it buys each delivered kWh at that price, whatever
the dual), the dual for a hard need (no price declared: the dual is the only price there is).
Paying the declared price is consistent with the optimum: on a step where the baseline is above
the limit, delivered = (baseline − limit) − excess, so the objective's `price·excess` equals a
payment of `price·delivered` minus a constant, and the community dispatch that minimises the one
minimises the other (docs/model.md). Delivered = how far the need pushed the block's
import down, against the baseline of the same design solved without the need:
max(0, baseline − max(limit, import)). The baseline is a re-solve of the IR with the limit
rows relaxed, on the chosen backend and solver (only designs with a flexibility need pay
for it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from pebdsl.backends import Backend, Solution, Status
from pebdsl.design import Design
from pebdsl.diagnostics import PebdslError, error
from pebdsl.ir import ConBlock, FloatArray, ModelIR

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Flexibility:
    kw: FloatArray  # blocks x t, kW the DSO's limit removed
    price: FloatArray  # blocks x t, currency/kWh: the dual of the limit
    paid: FloatArray  # blocks x t, currency/kWh the DSO pays per kWh delivered
    baseline_x: FloatArray | None  # the optimum without the flexibility rows


def flexibility(
    d: Design, ir: ModelIR, sol: Solution, net: FloatArray, backend: Backend
) -> Flexibility:
    blocks = list(d.blocks)
    t = d.n_steps
    kw = np.zeros((len(blocks), t))
    price = np.zeros((len(blocks), t))
    paid = np.zeros((len(blocks), t))
    cb = ir.cons.get("flex_limit")
    if cb is None:
        return Flexibility(kw, price, paid, None)
    mu = -cb.values(sol.row_dual) / d.dt_h
    base_x = baseline_x(ir, cb, backend)
    base = ir.inverse.block_net(base_x)
    bid = {n.block: n.price_per_kwh for n in d.dso.flexibility}
    for k, b in enumerate(cb.entities):
        i = blocks.index(b)
        price[i] = np.maximum(mu[k], 0.0)
        limit = cb.upper.reshape(len(cb.entities), t)[k]
        kw[i] = np.maximum(0.0, base[i] - np.maximum(limit, net[i]))
        declared = bid.get(b)
        paid[i] = price[i] if declared is None else np.full(t, declared)
    return Flexibility(kw, price, paid, base_x)


def baseline_x(ir: ModelIR, cb: ConBlock, backend: Backend) -> FloatArray:
    """The optimum of the same IR without the DSO's flexibility rows (the baseline)."""
    rows = np.arange(cb.start, cb.start + cb.size, dtype=np.int64)
    lower = np.asarray(cb.lower, dtype=np.float64).reshape(-1)
    upper = np.full(cb.size, np.inf)
    log.info("flexibility baseline: the model again without the DSO's %d limit rows", cb.size)
    sol = backend.solve_bounds(ir, rows, lower, upper)
    if sol.status == Status.REJECTED:
        raise PebdslError(error("E504", f"the flexibility baseline: {sol.message}"))
    if sol.status in (Status.TIME_LIMIT, Status.ITERATION_LIMIT):
        raise PebdslError(
            error(
                "E506",
                f"the solver stopped the flexibility baseline at its limit "
                f"(status {sol.status.value}); no results",
            )
        )
    if not sol.ok:
        raise PebdslError(
            error("E503", f"the flexibility baseline has no optimum: {sol.status.value}")
        )
    return np.asarray(sol.x, dtype=np.float64)
