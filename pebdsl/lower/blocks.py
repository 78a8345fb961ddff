"""Pass 6 — block connections.

Input: `design.blocks` and the block net-import expression built by earlier passes
(Σ_{p∈b} (gi − ge) plus the block's net purchases in markets between blocks). Output:
constraint block `connection` for blocks that declare one:
    −export_b ≤ Σ_{p∈b} (gi[p,t] − ge[p,t]) + from_blocks[b,t] − to_blocks[b,t] ≤ import_b
Each row keeps the Span of its block's `connection` line, so an infeasible block points at it.
Raises nothing.
"""

from __future__ import annotations

from pebdsl.ir import Expr
from pebdsl.lower.context import Context, connection_bounds, linear_map
from pebdsl.lower.storage import add_rows_of


def lower_blocks(ctx: Context) -> None:
    d = ctx.design
    ctx.inv.block_net = linear_map(ctx.block_net)
    limited = [
        i
        for i, b in enumerate(ctx.blocks)
        if (c := d.blocks[b].connection) is not None
        and (c.import_kw is not None or c.export_kw is not None)
    ]
    if not limited:
        return
    conns = [d.blocks[ctx.blocks[i]].connection for i in limited]
    imp, exp = connection_bounds(conns)
    e = Expr(len(limited), ctx.n_steps)
    add_rows_of(e, ctx.block_net, limited, 1.0)
    spans = tuple(
        c.span if c else d.blocks[ctx.blocks[i]].span for c, i in zip(conns, limited, strict=True)
    )
    ctx.ir.add_con(
        "connection",
        tuple(ctx.blocks[i] for i in limited),
        e,
        lower=-exp[:, None],
        upper=imp[:, None],
        template="−export_b ≤ Σ_(p∈b) (gi[p,t] − ge[p,t]) + from_blocks[b,t] − to_blocks[b,t]"
        " ≤ import_b",
        sources=tuple(f"block {ctx.blocks[i]} connection" for i in limited),
        spans=spans,
        entity_spans=spans,
        doc="the block's net exchange with the grid above it",
        index=("b", "t"),
    )
