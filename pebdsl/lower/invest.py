"""Pass 8 — sizes as decisions (`invest(...)`, design.Investment).

Input: `design.investments` and the blocks earlier passes built (`soc`, `charge`, `discharge`,
the block net import, the `link_capacity.*` rows). Output: variable block `invest` (one column
per investment path, in [0, max], unit kWh or kW as the path's size; cost per column
`cost_per_unit_h × horizon hours`, so the objective and the real cost carry it) and, per path,
the rows that make the column the size the constant used to be (the constant stays as the
column's `max`, a bound that is never tighter):

    battery capacity     soc[b,t] − size ≤ 0
    battery power        charge[b,t] − size ≤ 0,  discharge[b,t] − size ≤ 0
    PV or wind peak      gen[a,t] − shape[a,t] · size ≤ 0   (shape = output per kWp)
    block connection     block_net[b,t] − size ≤ 0 (import),  −block_net[b,t] − size ≤ 0 (export)
    DSO link capacity    Σ flows over the link a→b (and b→a) − size ≤ 0

Rows are named `size.<path>.<what>` (`size.alice.battery.capacity.soc`,
`size.street.connection.import`, `size.dso.link.a--b.capacity.a->b`, `size.alice.pv.peak.gen`)
and keep the Span of the
`invest(...)` call, so an infeasible design points at it. A link that no market uses carries
nothing: its size is 0 at the optimum, no row is needed. Raises nothing.
"""

from __future__ import annotations

import numpy as np

from pebdsl.design import Battery, Design, Generation, Investment
from pebdsl.ir import ConBlock, Expr, FloatArray, VarBlock
from pebdsl.lower.context import Context
from pebdsl.lower.storage import add_rows_of, arrivals_kwh


def lower_invest(ctx: Context) -> None:
    d = ctx.design
    # A size whose object is gone (compare's battery-free twin) is no decision any more.
    invs = [i for i in d.investments.values() if _present(d, i.path)]
    if not invs:
        return
    hours = d.time.duration_h
    paths = tuple(i.path for i in invs)
    spans = tuple(i.span for i in invs)
    size = ctx.ir.add_var(
        "invest",
        paths,
        1,
        upper=np.array([i.max_value for i in invs])[:, None],
        cost=np.array([i.cost_per_unit_h * hours for i in invs])[:, None],
        unit="kWh or kW",
        doc="size chosen by the optimisation (invest)",
        cost_doc="cost_i·H·invest[i]",
        span=spans[0],
        spans=spans,
        index=("i", "-"),
        step_kind="-",
        step_labels=("size",),
    )
    for k, inv in enumerate(invs):
        for name, expr, coef in _sized_rows(ctx, inv):
            _bound_by(ctx, name, expr, size, k, inv, coef)
        head, _, leaf = inv.path.rpartition(".")
        if leaf == "capacity" and head in d.batteries():
            _soc_of_size(ctx, d.batteries()[head], size, k, inv)


def _soc_of_size(ctx: Context, bat: Battery, size: VarBlock, k: int, inv: Investment) -> None:
    """A sized battery's states of charge written as shares are shares of the size chosen, not
    of `max` (which the *_kwh fields hold): the energy it starts with, `initial·size`, and the
    energy cars bring or take when they come and go (`arrival_soc`, `departure_soc`) move from
    the `soc_balance` constants to coefficients on the size column; `min_soc` and `final`
    become rows `soc[t] − share·avail[t]·size ≥ 0` instead of bounds. Without this a 4 kWh
    battery chosen under `max = 20 kWh` would start with 10 kWh at `initial = 50 %`: energy
    from nowhere."""
    t = ctx.n_steps
    cap_max = inv.max_value
    avail = bat.available if bat.available is not None else np.ones(t)
    soc = ctx.ir.vars["soc"]
    j = soc.entity_index(bat.name)
    col = size.start + k  # the size column (one per investment path)
    # Energy per kWh of capacity brought in at each step (the balance's constant part).
    per_kwh = arrivals_kwh([bat], avail[None, :], np.array([1.0]))[0]
    if bat.initial_share is not None:
        per_kwh[0] += bat.initial_share * avail[0]
    bal = ctx.ir.cons["soc_balance"]
    steps = np.flatnonzero(per_kwh)
    if steps.size:
        local = j * t + steps
        # row: soc[t] − soc[t−1] − (η·charge − discharge/η)·Δt = energy brought in (kWh)
        bal.lower[local] -= per_kwh[steps] * cap_max
        bal.upper[local] -= per_kwh[steps] * cap_max
        bal.rows = np.concatenate([bal.rows, local])
        bal.cols = np.concatenate([bal.cols, np.full(steps.size, col, dtype=np.int64)])
        bal.vals = np.concatenate([bal.vals, -per_kwh[steps]])
    share = np.zeros(t)
    kwh = np.zeros(t)
    if bat.min_soc_share is not None:
        share += bat.min_soc_share * avail
    else:
        kwh += bat.min_soc_kwh * avail
    if bat.final_kwh is not None:
        if bat.final_share is not None:
            share[-1] = max(share[-1], bat.final_share * avail[-1])
        else:
            kwh[-1] = max(kwh[-1], bat.final_kwh * avail[-1])
    if not share.any():
        return
    soc.lower[j * t : (j + 1) * t] = kwh
    # −soc[t] + share[t]·size ≤ 0, i.e. soc[t] ≥ share[t]·size (a row where share is 0 is void).
    e = Expr(1, t).add(soc, -1.0, var_entities=[j], row_entities=[0])
    _bound_by(
        ctx, "soc_min", e, size, k, inv, -share,
        template=f"soc[t] − share[t]·invest[{inv.path}] ≥ 0",
        doc=f"min_soc and final as shares of the size of {inv.path} (invest)",
    )  # fmt: skip


def _present(d: Design, path: str) -> bool:
    """The sized object is in the design: a battery, a generator, a block's connection, a DSO
    link."""
    head = path.rpartition(".")[0]
    if head in d.batteries():
        return True
    if _generator(d, path) is not None:
        return True
    if path.startswith("dso.link."):
        a, _, b = path.removeprefix("dso.link.").removesuffix(".capacity").partition("--")
        return any(lk.a == a and lk.b == b for lk in d.dso.links)
    block = path.partition(".connection")[0]
    return block in d.blocks and d.blocks[block].connection is not None


def _generator(d: Design, path: str) -> Generation | None:
    """The PV or wind asset whose peak `path` (`alice.pv.peak`) sizes, if it is in the design."""
    owner, _, rest = path.partition(".")
    kind = rest.removesuffix(".peak")
    if rest == kind or owner not in d.participants:
        return None
    return next((g for g in d.participants[owner].generation if g.kind == kind), None)


Rows = list[tuple[str, Expr, FloatArray | None]]


def _sized_rows(ctx: Context, inv: Investment) -> Rows:
    """The expressions (1 x t, kW or kWh) the size bounds from above, by row-block suffix, each
    with the size's coefficient per step (None: 1; a generator's output per kWp)."""
    d = ctx.design
    path = inv.path
    gen = _generator(d, path)
    if gen is not None:
        v = ctx.ir.vars["gen"]
        name = path.removesuffix(".peak")
        e = Expr(1, ctx.n_steps).add(v, 1.0, var_entities=[v.entity_index(name)], row_entities=[0])
        # profile_kw is the output at `max` (resolve/generation.py); at max 0 there is none.
        peak = gen.peak_kw or 0.0
        shape = gen.profile_kw / peak if peak > 0 else np.zeros(ctx.n_steps)
        return [("gen", e, np.maximum(shape, 0.0))]
    bats = d.batteries()
    head, _, leaf = path.rpartition(".")
    if head in bats and leaf in ("capacity", "power"):
        blocks = ("soc",) if leaf == "capacity" else ("charge", "discharge")
        # The part of the battery present (cars plugged in) scales its size in each step.
        avail = bats[head].available
        out: Rows = []
        for vname in blocks:
            v = ctx.ir.vars[vname]
            e = Expr(1, ctx.n_steps).add(
                v, 1.0, var_entities=[v.entity_index(head)], row_entities=[0]
            )
            out.append((vname, e, None if avail is None else np.asarray(avail, dtype=float)))
        return out
    if path.startswith("dso.link."):
        a, _, b = path.removeprefix("dso.link.").removesuffix(".capacity").partition("--")
        con = ctx.ir.cons.get(f"link_capacity.{a}-{b}")
        return [] if con is None else [(n, e, None) for n, e in _rows_of(con)]
    block, _, side = path.partition(".connection")
    sides = ("import", "export") if side == "" else (side.lstrip("."),)
    i = ctx.blocks.index(block)
    rows: Rows = []
    for s in sides:
        e = Expr(1, ctx.n_steps)
        add_rows_of(e, ctx.block_net, [i], 1.0 if s == "import" else -1.0)
        rows.append((s, e, None))
    return rows


def _rows_of(con: ConBlock) -> list[tuple[str, Expr]]:
    """Each entity's rows of a constraint block as a 1 x t expression (a link's directions)."""
    out = []
    for j, ent in enumerate(con.entities):
        keep = con.rows // con.n_steps == j
        e = Expr(1, con.n_steps)
        e.rows.append(con.rows[keep] % con.n_steps)
        e.cols.append(con.cols[keep])
        e.vals.append(con.vals[keep])
        out.append((ent, e))
    return out


def _bound_by(
    ctx: Context,
    suffix: str,
    e: Expr,
    size: VarBlock,
    k: int,
    inv: Investment,
    coef: FloatArray | None = None,
    template: str | None = None,
    doc: str | None = None,
) -> None:
    """Rows `e[t] − coef[t] · size_k ≤ 0` for every step (coef 1 unless given); `template`
    and `doc` describe them where the default words do not fit."""
    t = e.n_steps
    e.add(
        size,
        -1.0 if coef is None else -coef,
        var_entities=[k],
        row_entities=[0],
        var_steps=np.zeros(t, dtype=np.int64),
        row_steps=np.arange(t),
    )
    name = f"size.{inv.path}.{suffix}"
    per = "" if coef is None else "shape[t] · "
    ctx.ir.add_con(
        name,
        (inv.path,),
        e,
        upper=0.0,
        unit="kW" if inv.unit == "kWp" else inv.unit,
        template=template or f"{suffix}[t] − {per}invest[{inv.path}] ≤ 0",
        sources=(f"invest {inv.path}",),
        spans=(inv.span,),
        entity_spans=(inv.span,),
        doc=doc or f"the size of {inv.path} bounds it (invest)",
        index=("i", "t"),
    )
