"""Pass 6 — labelled local energy: what may be stored as, sold as and paid a premium for as local.

Input: the context after the markets pass (`ctx.sold`, `ctx.received_local`,
`ctx.premium_bought`, `ctx.product_sales`, the inverse map's `local_markets`). Output: the
constraint blocks below. Raises nothing.

Local energy follows Lüth et al. (2018): a participant's generation **surplus** (generation not
used by its own load), energy discharged from a battery that stores local energy only, and local
purchases of such energy. Own use comes first, as it does physically behind a meter: the
generation an owner could use itself is never local surplus, so a battery cannot "charge from
PV" while the grid serves the owner's load (a swap), and a neighbour cannot sell its PV while
importing its own load.

The own use of participant p in step t is taken as the constant
    U[p,t] = min(available generation[p,t], declared load[p,t]).
The exact own use, min(gen, load served), would make the rules non-convex with curtailable
generation and shiftable load; the constant is exact without both, and the model stays an LP.
Two documented consequences for a participant with flexible load: load shifted *into* a step is
not served by its own generation first (within share x load, such load may be served by the grid
while the same amount of generation is stored or sold), and generation freed by shifting load
*away* is not surplus (it may be exported, not stored or sold as local). Curtailing below U only
tightens the rules, and U is always reachable by serving the declared load, so the rules never
make a feasible design infeasible.

Rows:
- `local_energy` for every participant that owns a battery with `charge_from = local` or is a
  member of a local-energy market (one where a local-only battery trades): its local uses are
  bounded by its local sources, across all markets at once,
      charge_local[p,t] + Σ_m sell[m,p,t]
          ≤ Σ gen[p,·,t] − U[p,t] + discharge_local[p,t] + Σ_(m local) received[m,p,t].
  A shared battery that trades in a local-energy market but also elsewhere and may charge from
  any energy: Σ_m sell ≤ Σ_(m local) received (its store may hold grid energy).
- `origin.K` for a product K with an `origin`: a seller's sales of K over all markets are
  bounded by its surplus output of that origin, Σ_(g∈origin) gen − min(available of origin,
  load), plus the discharge of a local-only battery when `battery` is in the origin.
- `premium_cap`: a participant's purchases of premium products over all markets are bounded by
  the consumption its own generation cannot serve (`markets.premium_cap_kw`), so no premium is
  earned on a wash trade or on energy passed on.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from pebdsl.ir import Expr, FloatArray
from pebdsl.lower.context import Context
from pebdsl.lower.markets import premium_cap_kw
from pebdsl.lower.storage import add_rows_of
from pebdsl.source import Span


def own_use_kw(ctx: Context, kinds: tuple[str, ...] = ("pv", "wind")) -> FloatArray:
    """U[a,t] = min(available generation of `kinds`, declared load), agents x t."""
    return np.minimum(ctx.available_gen_kw(kinds), ctx.load_kw())


def local_batteries(ctx: Context) -> dict[str, bool]:
    """Battery name -> whether what it stores is local energy by construction: it may charge
    only from local energy (`charge_from = local`), or it is a shared battery that trades only
    in local-energy markets (it has no grid access of its own)."""
    d = ctx.design
    local = ctx.inv.local_markets
    out: dict[str, bool] = {}
    for name, b in d.batteries().items():
        if b.charge_from == "local":
            out[name] = True
        elif b.owner is None:
            mk = [m for m in d.markets.values() if name in m.batteries]
            out[name] = bool(mk) and all(m.name in local for m in mk)
        else:
            out[name] = False
    return out


def lower_local(ctx: Context) -> None:
    ctx.local_batteries = local_batteries(ctx)
    ctx.inv.batteries = {
        n: replace(b, local=ctx.local_batteries[n]) for n, b in ctx.inv.batteries.items()
    }
    _local_energy_rows(ctx)
    _origin_rows(ctx)
    _premium_rows(ctx)


def _battery_terms(ctx: Context, ex: Expr, rows: dict[int, int], only_local: bool) -> None:
    """Add −discharge (+charge) of each agent's local battery to its row in `ex`."""
    if "discharge" not in ctx.ir.vars:
        return
    dis, ch = ctx.ir.vars["discharge"], ctx.ir.vars["charge"]
    for j, bi in enumerate(ctx.inv.batteries.values()):
        a = ctx.agent(bi.agent)
        if a not in rows or (only_local and not bi.local):
            continue
        ex.add(dis, -1.0, var_entities=[j], row_entities=[rows[a]])
        if bi.owner is not None:
            ex.add(ch, 1.0, var_entities=[j], row_entities=[rows[a]])


def _local_energy_rows(ctx: Context) -> None:
    d = ctx.design
    local = ctx.inv.local_markets
    labelled: list[int] = []
    for i, p in enumerate(ctx.participants):
        bat = d.participants[p].battery
        if (bat is not None and bat.charge_from == "local") or any(
            p in d.markets[m].members for m in local
        ):
            labelled.append(i)
    is_local = ctx.local_batteries
    shared: list[int] = []
    for b in d.shared_batteries:
        mk = [m for m in d.markets.values() if b in m.batteries]
        if not is_local[b] and any(m.name in local for m in mk):
            shared.append(ctx.agent(b))
    agents = [ctx.agent(ctx.participants[i]) for i in labelled] + shared
    if not agents:
        return
    t = ctx.n_steps
    pos = {a: k for k, a in enumerate(agents)}
    ex = Expr(len(agents), t)
    add_rows_of(ex, ctx.sold, agents, 1.0)
    add_rows_of(ex, ctx.received_local, agents, -1.0)
    add_rows_of(ex, _pad(ctx.gen_expr(("pv", "wind")), len(ctx.agents)), agents, -1.0)
    # Only a local-only battery's charge is a local use, and only its discharge a local source
    # (a participant's battery that may charge from the grid is neither); shared batteries in
    # this row hold grid energy, so their discharge is not local.
    _battery_terms(ctx, ex, {a: pos[a] for a in agents[: len(labelled)]}, only_local=True)
    upper = np.zeros((len(agents), t))
    upper[: len(labelled)] = 0.0 - own_use_kw(ctx)[agents[: len(labelled)]]
    names = tuple(ctx.agents[a] for a in agents)
    ctx.ir.add_con(
        "local_energy",
        names,
        ex,
        upper=upper,
        template="charge_local[p,t] + Σ_m sell[m,p,t] ≤ Σ gen[p,·,t] − own_use[p,t] "
        "+ discharge_local[p,t] + Σ_(m local) received[m,p,t]",
        sources=tuple(f"participant {n}" for n in names),
        spans=tuple(_span_of(ctx, n) for n in names),
        entity_spans=tuple(_span_of(ctx, n) for n in names),
        doc="local energy: only generation surplus, local-only storage and local purchases may "
        "be stored by a local-only battery or sold where grid energy may not be resold",
        index=("p", "t"),
    )


def _pad(e: Expr, n_entities: int) -> Expr:
    """`e` with its entity axis widened to `n_entities` (the extra rows empty)."""
    out = Expr(n_entities, e.n_steps, list(e.rows), list(e.cols))
    out.vals = list(e.vals)
    return out


def _span_of(ctx: Context, name: str) -> Span:
    d = ctx.design
    if name in d.participants:
        return d.participants[name].span
    return d.shared_batteries[name].span


def _origin_rows(ctx: Context) -> None:
    d = ctx.design
    for k, e in ctx.product_sales.items():
        prod = d.products.get(k)
        if prod is None or prod.origin is None or not e.rows:
            continue
        sellers = sorted({int(r) for rows in e.rows for r in np.unique(rows // e.n_steps)})
        ex = Expr(len(sellers), ctx.n_steps)
        add_rows_of(ex, e, sellers, 1.0)
        kinds = tuple(x for x in prod.origin if x in ("pv", "wind"))
        add_rows_of(ex, _pad(ctx.gen_expr(kinds), len(ctx.agents)), sellers, -1.0)
        upper = np.zeros((len(sellers), ctx.n_steps))
        if kinds:
            upper = 0.0 - own_use_kw(ctx, kinds)[sellers]
        if "battery" in prod.origin and "discharge" in ctx.ir.vars:
            dis = ctx.ir.vars["discharge"]
            for j, bi in enumerate(ctx.inv.batteries.values()):
                a = ctx.agent(bi.agent)
                if a in sellers and bi.local:
                    ex.add(dis, -1.0, var_entities=[j], row_entities=[sellers.index(a)])
        names = tuple(ctx.agents[s] for s in sellers)
        ctx.ir.add_con(
            f"origin.{k}",
            names,
            ex,
            upper=upper,
            template=f"Σ_m sell[m,{k},a,t] ≤ Σ_(g∈origin) gen[a,g,t] − own_use[a,t]  (origin = "
            + ", ".join(prod.origin)
            + ")",
            sources=(f"product {k}",),
            spans=(prod.span,),
            doc=f"only surplus energy of origin {', '.join(prod.origin)} may be sold as {k}",
        )


def _premium_rows(ctx: Context) -> None:
    e = ctx.premium_bought
    if not e.rows:
        return
    rows, _, _ = e.coo()
    counts = np.bincount(rows, minlength=e.n_entities * e.n_steps).reshape(e.n_entities, -1)
    # One purchase variable per participant and step is already bounded by the cap itself.
    need = [a for a in range(e.n_entities) if counts[a].max(initial=0) > 1]
    if not need:
        return
    ex = Expr(len(need), ctx.n_steps)
    add_rows_of(ex, e, need, 1.0)
    names = tuple(ctx.agents[a] for a in need)
    ctx.ir.add_con(
        "premium_cap",
        names,
        ex,
        upper=premium_cap_kw(ctx)[need],
        template="Σ_(m,k premium) received[m,k,p,t] ≤ max(0, load[p,t]·(1 − share_p) − avail[p,t])",
        sources=tuple(f"participant {n}" for n in names),
        spans=tuple(_span_of(ctx, n) for n in names),
        doc="a premium is earned only on consumption that own generation cannot serve",
        index=("p", "t"),
    )
