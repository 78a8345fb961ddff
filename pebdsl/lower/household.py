"""Pass 9b — capacity charges on a participant's own measure: the Norwegian household
kapasitetsledd (the mean of the three highest daily peaks of the month) and stepped prices.

Input: the participants whose tariff (`Participant.tariff`, their customer class) has
`capacity_peak = top3_days` or `capacity_steps` (`lower/tariffs.own_capacity`); their meter
(`ctx.meter` on `charge_on = meter`, else their retail purchases `gi`).
Output, per such participant p, local calendar day d and calendar month m of the horizon:
- `top3_days`: `cap_day[p,d] ≥ meter[p,t]` for every step t of day d (row `cap_day_def`); the
  sum of the k_m = min(3, days of m in the horizon) largest daily peaks of m as an LP (the sum
  of the k largest of a set is convex): `cap_u[p,m]` free, `cap_v[p,d] ≥ 0`,
  `cap_v[p,d] ≥ cap_day[p,d] − cap_u[p,m(d)]` (row `cap_top3`), measure
  M[p,m] = cap_u[p,m] + Σ_{d∈m} cap_v[p,d] / k_m; at the optimum this is the mean of the k_m
  highest daily peaks (the peaks fall on different days by construction);
- `hour` with steps: `cap_hour[p,m] ≥ meter[p,t]` for t in m (row `cap_hour_def`), M = cap_hour;
- a linear price (`capacity_charge`, else the DSO's price of the month): cost
  price_m·(1 + VAT)·share_m·M[p,m] (share_m: the month's part inside the horizon, pro rata);
- steps (`capacity_steps` upper bounds b_j, prices P_j per month): binaries
  `cap_step[p:j, m]` with Σ_j cap_step = 1 (row `cap_step_one`) and
  M[p,m] ≤ Σ_j b_j·cap_step[p:j,m] (row `cap_step_bound`); cost P_j·(1 + VAT)·share_m per
  chosen step. The binaries make the model a MIP: `pebdsl.backends.mip` solves it with HiGHS, fixes
  the chosen steps and the LP is solved again for the prices and the settlement (docs/model.md
  §7b); results carry note N105 saying so.
The inverse map's `own_capacity` maps each cost-carrying variable block to the participant of
each of its entities, for settlement. Raises nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pebdsl.ir import INF, Expr, FloatArray, IntArray
from pebdsl.lower.context import Context
from pebdsl.lower.storage import add_rows_of
from pebdsl.lower.tariffs import dso_month_price, months, own_capacity


def lower_household(ctx: Context) -> None:
    agents = [a for a in range(len(ctx.participants)) if own_capacity(ctx, a)]
    if not agents:
        return
    d = ctx.design
    names = tuple(ctx.participants[a] for a in agents)
    tariffs = [d.participants[n].tariff for n in names]
    mid, labels, frac = months(ctx)
    nm, t = len(labels), ctx.n_steps
    idx = pd.DatetimeIndex(ctx.ir.step_index)
    day_key = np.asarray(idx.year * 10000 + idx.month * 100 + idx.day, dtype=np.int64)
    _, day_of = np.unique(day_key, return_inverse=True)
    nd = int(day_of.max()) + 1
    month_of_day = np.array([mid[np.flatnonzero(day_of == k)[0]] for k in range(nd)])
    k_m = np.array([min(3, int(np.count_nonzero(month_of_day == j))) for j in range(nm)])
    vat = ctx.vat_factor()[agents]
    dso_p = dso_month_price(ctx, mid, nm)
    first = np.array([int(np.flatnonzero(mid == j)[0]) for j in range(nm)])
    price = (
        np.array(
            [
                (
                    tf.capacity_charge_per_kw_month[first]
                    if tf and tf.capacity_charge_per_kw_month is not None
                    else dso_p
                )
                for tf in tariffs
            ]
        ).reshape(len(agents), nm)
        * vat[:, None]
    )
    stepped = [bool(tf and tf.capacity_steps_kw) for tf in tariffs]
    top3 = [bool(tf and tf.capacity_peak == "top3_days") for tf in tariffs]
    spans = tuple(d.participants[n].span for n in names)
    owners: dict[str, tuple[str, ...]] = {}
    meta: dict[str, Any] = dict(span=spans[0], spans=spans)

    h = _House(
        ctx, agents, names, t, nm, nd, price, frac, tuple(labels), meta, spans, day_of,
        month_of_day, k_m, mid, stepped,
    )  # fmt: skip
    # The measure M[p,m] as an expression over (participant x month), per participant kind.
    measure = Expr(len(agents), nm)
    ti = [i for i in range(len(agents)) if top3[i]]
    if ti:
        _top3(h, ti, measure, owners)
    hi = [i for i in range(len(agents)) if stepped[i] and not top3[i]]
    if hi:
        _hourly(h, hi, measure)
    si = [i for i in range(len(agents)) if stepped[i]]
    if si:
        _steps(ctx, si, names, tariffs, vat, frac, labels, measure, owners, spans)
    ctx.inv.own_capacity = {
        var: tuple(ent.split(":")[0] for ent in ents) for var, ents in owners.items()
    }


def _steps(
    ctx: Context,
    si: list[int],
    names: tuple[str, ...],
    tariffs: list,  # type: ignore[type-arg]
    vat: np.ndarray,
    frac: np.ndarray,
    labels: list[str],
    measure: Expr,
    owners: dict[str, tuple[str, ...]],
    spans: tuple,  # type: ignore[type-arg]
) -> None:
    nm = len(labels)
    ents: list[str] = []
    bound: list[float] = []
    cost: list[np.ndarray] = []
    row_of: list[int] = []
    for r, i in enumerate(si):
        tf = tariffs[i]
        for j, (b, p) in enumerate(zip(tf.capacity_steps_kw, tf.capacity_step_prices, strict=True)):
            ents.append(f"{names[i]}:{j}")
            bound.append(b)
            cost.append(p * vat[i] * frac)
            row_of.append(r)
    z = ctx.ir.add_var(
        "cap_step", ents, nm, upper=1.0, cost=np.array(cost).reshape(len(ents), nm),
        doc="the capacity step chosen in the month (binary)", index=("p:j", "m"),
        step_kind="month", step_labels=tuple(labels), integer=True,
        cost_doc="price_j·(1+VAT)·share_m·cap_step[p:j,m]", span=spans[0], spans=spans,
    )  # fmt: skip
    owners["cap_step"] = z.entities
    sel = tuple(names[i] for i in si)
    one = Expr(len(si), nm)
    one.add(z, 1.0, row_entities=np.array(row_of))
    ctx.ir.add_con(
        "cap_step_one", sel, one, lower=1.0, upper=1.0, template="Σ_j cap_step[p:j,m] = 1",
        doc="one capacity step per month", spans=spans, index=("p", "m"),
    )  # fmt: skip
    e = Expr(len(si), nm)
    # The measure rows of the stepped participants (a sub-selection of `measure`).
    pos = {i: r for r, i in enumerate(si)}
    for rows, cols, vals in zip(measure.rows, measure.cols, measure.vals, strict=True):
        ent = rows // nm
        keep = np.array([int(x) in pos for x in ent], dtype=bool)
        if keep.any():
            new_ent = np.array([pos[int(x)] for x in ent[keep]], dtype=np.int64)
            e.rows.append(new_ent * nm + rows[keep] % nm)
            e.cols.append(cols[keep])
            e.vals.append(vals[keep])
    e.add(z, -np.array(bound)[:, None], row_entities=np.array(row_of))
    ctx.ir.add_con(
        "cap_step_bound", sel, e, upper=0.0,
        template="measure[p,m] ≤ Σ_j bound_j·cap_step[p:j,m]",
        doc="the measured peak lies within the chosen step", spans=spans, index=("p", "m"),
    )  # fmt: skip


@dataclass(frozen=True)
class _House:
    """What the capacity rows of participants on their own measure share."""

    ctx: Context
    agents: list[int]
    names: tuple[str, ...]
    t: int
    nm: int
    nd: int
    price: FloatArray
    frac: FloatArray
    labels: tuple[str, ...]
    meta: dict[str, Any]
    spans: tuple[Any, ...]
    day_of: IntArray
    month_of_day: IntArray
    k_m: IntArray
    mid: IntArray
    stepped: list[bool]

    def basis(self, rows: list[int]) -> Expr:
        """The measured quantity (meter or purchases) of the participants `rows`, per step."""
        e = Expr(len(rows), self.t)
        sel = [self.agents[i] for i in rows]
        if self.ctx.design.dso.charge_on == "meter":
            add_rows_of(e, self.ctx.meter, sel, 1.0)
        else:
            e.add(self.ctx.ir.vars["gi"], 1.0, var_entities=sel, row_entities=np.arange(len(sel)))
        return e


def _top3(h: _House, ti: list[int], measure: Expr, owners: dict[str, tuple[str, ...]]) -> None:
    """The month's mean of the three highest daily peaks as an LP (docs/model.md §7b)."""
    ctx, names, t, nm, nd = h.ctx, h.names, h.t, h.nm, h.nd
    price, frac, labels, meta, spans = h.price, h.frac, h.labels, h.meta, h.spans
    day_of, month_of_day, k_m, stepped = h.day_of, h.month_of_day, h.k_m, h.stepped
    basis = h.basis
    lin = np.array([0.0 if stepped[i] else 1.0 for i in ti])[:, None]
    share = price[ti] * frac[None, :] * lin  # currency per kW of measure (linear price)
    cday = ctx.ir.add_var(
        "cap_day", [names[i] for i in ti], nd, doc="highest meter withdrawal of the day",
        index=("p", "d"), step_kind="day", **meta,
    )  # fmt: skip
    u = ctx.ir.add_var(
        "cap_u", [names[i] for i in ti], nm, lower=-INF, cost=share,
        doc="threshold of the month's top-3 days", index=("p", "m"), step_kind="month",
        step_labels=tuple(labels), cost_doc="price_m·(1+VAT)·share_m·cap_u[p,m]", **meta,
    )  # fmt: skip
    v = ctx.ir.add_var(
        "cap_v", [names[i] for i in ti], nd, cost=share[:, month_of_day] / k_m[month_of_day],
        doc="a day's peak above the month's threshold", index=("p", "d"), step_kind="day",
        cost_doc="price_m·(1+VAT)·share_m·cap_v[p,d]/k_m", **meta,
    )  # fmt: skip
    owners.update(cap_u=u.entities, cap_v=v.entities)
    e = basis(ti)
    e.add(cday, -1.0, var_steps=day_of, row_steps=np.arange(t))
    ctx.ir.add_con(
        "cap_day_def", u.entities, e, upper=0.0, template="meter[p,t] ≤ cap_day[p,d(t)]",
        doc="the day's peak withdrawal (kapasitetsledd)", spans=spans, index=("p", "t"),
    )  # fmt: skip
    e2 = Expr(len(ti), nd)
    e2.add(cday, 1.0)
    e2.add(u, -1.0, var_steps=month_of_day, row_steps=np.arange(nd))
    e2.add(v, -1.0)
    ctx.ir.add_con(
        "cap_top3", u.entities, e2, upper=0.0,
        template="cap_day[p,d] − cap_u[p,m(d)] − cap_v[p,d] ≤ 0",
        doc="the sum of the k largest daily peaks (k = min(3, days)) as an LP",
        spans=spans, index=("p", "d"),
    )  # fmt: skip
    rows = np.arange(len(ti))
    measure.add(u, 1.0, row_entities=np.array(ti))
    measure.add(
        v, (1.0 / k_m[month_of_day])[None, :], var_entities=rows,
        row_entities=np.array(ti), var_steps=np.arange(nd), row_steps=month_of_day,
    )  # fmt: skip


def _hourly(h: _House, hi: list[int], measure: Expr) -> None:
    """The month's highest withdrawal, for stepped prices on an hourly peak."""
    ctx, names, t, nm = h.ctx, h.names, h.t, h.nm
    labels, meta, spans, mid, basis = h.labels, h.meta, h.spans, h.mid, h.basis
    ch = ctx.ir.add_var(
        "cap_hour", [names[i] for i in hi], nm, doc="highest withdrawal of the month",
        index=("p", "m"), step_kind="month", step_labels=tuple(labels), **meta,
    )  # fmt: skip
    e = basis(hi)
    e.add(ch, -1.0, var_steps=mid, row_steps=np.arange(t))
    ctx.ir.add_con(
        "cap_hour_def", ch.entities, e, upper=0.0, template="meter[p,t] ≤ cap_hour[p,m(t)]",
        doc="the month's peak withdrawal (stepped capacity charge)", spans=spans,
        index=("p", "t"),
    )  # fmt: skip
    measure.add(ch, 1.0, row_entities=np.array(hi))
