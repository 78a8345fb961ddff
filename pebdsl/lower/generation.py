"""Pass 2 — PV and wind: curtailable generation `0 <= gen[a,t] <= profile[a,t]`.

Input: each participant's `generation`. Output: variable block `gen` (kW, one entity per
asset `alice.pv`), its terms in the owner's balance, and `ctx.own_gen[kind]`. Raises nothing.
"""

from __future__ import annotations

import numpy as np

from pebdsl.ir import Expr
from pebdsl.lower.context import Context
from pebdsl.lower.inverse import GenerationMap


def lower_generation(ctx: Context) -> None:
    d = ctx.design
    names: list[str] = []
    owners: list[int] = []
    kinds: list[str] = []
    profiles = []
    spans = []
    for pi, p in enumerate(ctx.participants):
        seen: dict[str, int] = {}
        for g in d.participants[p].generation:
            seen[g.kind] = seen.get(g.kind, 0) + 1
            suffix = "" if seen[g.kind] == 1 else str(seen[g.kind])
            names.append(f"{p}.{g.kind}{suffix}")
            owners.append(pi)
            kinds.append(g.kind)
            profiles.append(np.maximum(g.profile_kw, 0.0))
            spans.append(g.span)
    ctx.inv.generation = GenerationMap(tuple(names), tuple(owners), tuple(kinds))
    if not names:
        return
    gen = ctx.ir.add_var(
        "gen",
        names,
        lower=0.0,
        upper=np.vstack(profiles),
        doc="generation used (available minus curtailed)",
        spans=tuple(spans),
        span=spans[0],
        index=("a", "t"),
    )
    own = np.array(owners, dtype=np.int64)
    ctx.balance.add(
        gen, 1.0, row_entities=np.array([ctx.agent(ctx.participants[o]) for o in owners])
    )
    for kind in sorted(set(kinds)):
        idx = [i for i, k in enumerate(kinds) if k == kind]
        e = Expr(len(ctx.participants), ctx.n_steps)
        e.add(gen, 1.0, var_entities=idx, row_entities=own[idx])
        ctx.own_gen[kind] = e
