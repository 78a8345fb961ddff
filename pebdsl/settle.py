"""Settlement: who pays whom, and the closing of the money account.

Input: `Results` with time series and `extras` filled by `solve.extract`, the IR and the
solution. Output: `results.bills` (one row per participant, then one per other party: "grid",
"dso", each market (its operator's account) and each shared battery; columns in currency,
+ = paid by that row's party, − = received) with `results.bill_roles`, and `results.money`.
Raises nothing.

Columns: grid_purchases, grid_sales, energy_charges, capacity_charges, local_purchases,
local_sales, fees, flexibility, battery_costs, shift_costs, link_fees, total, where
total = grid_purchases − grid_sales + energy_charges + capacity_charges + local_purchases
        − local_sales + fees + flexibility + battery_costs + shift_costs + link_fees.
For the other parties each column is the counter-entry of the participants' one (the grid
supplier's grid_purchases are −Σ purchases, …), so the sum over all rows of `total` is
exactly the real costs that leave the system (battery throughput and load-shifting costs).

Rules (docs/model.md):
- local trades are paid per kWh received; pools at the node price (market balance dual / dt),
  p2p at the `settlement` rule over the two traders' valuations of one delivered kWh;
- the buyer pays the fee to the market's operator (the market's row, or "dso" when
  `operator = dso`); link fees are paid by the market to the DSO from its settlement surplus;
- capacity charges on a block basis are shared by the members pro rata to their own import in
  the step of the block's monthly peak (equally if none imported then);
- the DSO pays for flexibility delivered at the local flexibility price (its dual), shared by
  the block's members pro rata to how far each cut its grid import against the baseline.

Money closing (`results.money`, residual asserted ≈ 0 in tests):
  total_bills = objective − non_monetary − flexibility_payments + market_surplus
                + shared_batteries
  non_monetary          objective terms nobody pays: priced-flexibility excess x price
                        (a shadow cost) minus product premiums (a buyer's valuation)
  flexibility_payments  paid by the DSO to participants
  market_surplus        Σ markets (buyers' payments for energy − sellers' receipts − link fees)
  shared_batteries      what shared batteries earn from the participants (their owners' net)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pebdsl.backends import Solution
from pebdsl.ir import FloatArray, ModelIR
from pebdsl.results import Results

COLUMNS = (
    "grid_purchases",
    "grid_sales",
    "energy_charges",
    "capacity_charges",
    "local_purchases",
    "local_sales",
    "fees",
    "flexibility",
    "battery_costs",
    "shift_costs",
    "link_fees",
)
_SIGN = {c: (-1.0 if c in ("grid_sales", "local_sales") else 1.0) for c in COLUMNS}


def settle(res: Results, ir: ModelIR, sol: Solution) -> None:
    d = res.design
    dt = d.dt_h
    t = d.n_steps
    x = sol.x
    parts = list(d.participants)
    rows: dict[str, dict[str, float]] = {}
    roles: dict[str, str] = {}

    def row(name: str, role: str) -> dict[str, float]:
        if name not in rows:
            rows[name] = dict.fromkeys(COLUMNS, 0.0)
            roles[name] = role
        return rows[name]

    for p in parts:
        row(p, "participant")
    row("grid", "grid")
    row("dso", "dso")
    for m in d.markets:
        row(m, "market")
    for b in d.shared_batteries:
        row(b, "battery")

    def book(name: str, col: str, amount: float, counter: str | None) -> None:
        rows[name][col] += amount
        if counter is not None:
            rows[counter][col] -= amount

    gi = ir.vars["gi"].values(x)
    ge = ir.vars["ge"].values(x) if "ge" in ir.vars else np.zeros_like(gi)
    ec = d.dso.energy_charge_per_kwh
    for i, p in enumerate(parts):
        book(p, "grid_purchases", float(d.grid.buy_per_kwh @ gi[i]) * dt, "grid")
        if d.grid.sell_per_kwh is not None:
            book(p, "grid_sales", float(d.grid.sell_per_kwh @ ge[i]) * dt, "grid")
        if ec is not None and "meter_in" not in ir.vars:
            book(p, "energy_charges", float(ec @ gi[i]) * dt, "dso")
    if ec is not None and "meter_in" in ir.vars:
        # `charge_on = meter`: each meter pays on its positive net withdrawal.
        mv = ir.vars["meter_in"]
        for name, w in zip(mv.entities, mv.values(x), strict=True):
            book(name, "energy_charges", float(ec @ w) * dt, "dso")
    withdrawal = meter_net(ir, x) if d.dso.charge_on == "meter" else gi
    _capacity(res, ir, x, withdrawal, book)
    non_monetary = 0.0
    surplus = 0.0
    bats = d.batteries()
    # Local markets: energy payments, fees, link fees.
    for mname, prods in res.extras["flows"].items():
        info = ir.info["markets"][mname]
        market = d.markets[mname]
        traders = list(info["traders"])
        operator = "dso" if info["operator"] == "dso" else mname
        for f in prods.values():
            split = f["split"]
            for j, a in enumerate(traders):
                book(a, "local_purchases", float(split["buyer_pays"][j]), mname)
                book(a, "local_sales", float(split["seller_gets"][j]), mname)
            surplus += float(split["buyer_pays"].sum() - split["seller_gets"].sum())
            fees = _fees(market, info, f, t) * dt  # per trader, currency per step
            for j, a in enumerate(traders):
                book(a, "fees", float(fees[j].sum()), operator)
            prem = f["premium_per_kwh"]
            if prem:
                is_part = np.array([a in d.participants for a in traders])
                non_monetary -= prem * float(f["recv"][is_part].sum()) * dt
            if f.get("flow"):
                fv = ir.vars[f["flow"]]
                lf = float((fv.cost * fv.values(x).ravel()).sum())
                book(mname, "link_fees", lf, "dso")
                surplus -= lf
    # Batteries: throughput costs (real costs, paid to nobody).
    if "charge" in ir.vars:
        cv, dv = ir.vars["charge"], ir.vars["discharge"]
        c, dis = cv.values(x), dv.values(x)
        for j, (bname, bat) in enumerate(bats.items()):
            cost = bat.throughput_cost_per_kwh * float((c[j] + dis[j]).sum()) * dt
            book(bat.owner or bname, "battery_costs", cost, None)
    if "shift_out" in ir.vars:
        sv = ir.vars["shift_out"]
        so = sv.values(x)
        for j, p in enumerate(sv.entities):
            fl = d.participants[p].flexible
            cost = (fl.cost_per_kwh if fl else 0.0) * float(so[j].sum()) * dt
            book(p, "shift_costs", cost, None)
    flex_paid = _flexibility(res, ir, x, gi, book)
    if "excess" in ir.vars:
        ev = ir.vars["excess"]
        non_monetary += float(ev.cost @ ev.values(x).ravel())

    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(COLUMNS))
    table["total"] = sum(table[c] * _SIGN[c] for c in COLUMNS)
    table.index.name = "party"
    res.bills = table
    res.bill_roles = roles
    total_bills = float(table.loc[parts, "total"].sum()) if parts else 0.0
    shared = -float(table.loc[list(d.shared_batteries), "total"].sum()) if bats else 0.0
    real_costs = float(table["battery_costs"].sum() + table["shift_costs"].sum())
    expected = res.objective - non_monetary - flex_paid + surplus + shared
    res.money = {
        "total_bills": total_bills,
        "objective": res.objective,
        "non_monetary": non_monetary,
        "flexibility_payments": flex_paid,
        "market_surplus": surplus,
        "shared_batteries": shared,
        "residual": total_bills - expected,
        "all_parties": float(table["total"].sum()),
        "real_costs": real_costs,
    }


def _fees(m: Any, info: dict[str, Any], f: dict[str, Any], t: int) -> FloatArray:
    """Fees per trader (buyer) and step, currency per hour."""
    n = len(info["traders"])
    if f["pairs"] is None:
        return m.fee_per_kwh * f["recv"]
    ps, pr, q = f["pairs"]
    traders = info["traders"]
    pair_fees = m.pair_fees_per_kwh
    fee = np.array(
        [
            pair_fees.get((traders[s], traders[r]), m.fee_per_kwh)
            for s, r in zip(ps, pr, strict=True)
        ]
    )
    out = np.zeros((n, t))
    np.add.at(out, pr, fee[:, None] * q)
    return out


def meter_net(ir: ModelIR, x: FloatArray) -> FloatArray:
    """Net withdrawal at every agent's meter (agents x t, kW; + = imports), from the IR's
    meter expression: gi − ge + Σ_m received − Σ_m sold."""
    e = ir.info["meters"]["meter"]
    rows, cols, vals = e.coo()
    out = np.zeros(e.n_entities * e.n_steps)
    np.add.at(out, rows, vals * x[cols])
    return out.reshape(e.n_entities, e.n_steps)


def _capacity(res: Results, ir: ModelIR, x: FloatArray, gi: FloatArray, book: Any) -> None:
    """Capacity charges per metered entity; a block's charge is shared by its members pro rata
    to their own withdrawal (`gi`: the meter's net withdrawal, or the purchases on the
    `purchase` basis) in the step of the block's monthly peak."""
    if "peak" not in ir.vars:
        return
    d = res.design
    pv = ir.vars["peak"]
    peak = pv.values(x)
    cost = pv.cost.reshape(peak.shape) * peak  # currency per entity and month
    parts = list(d.participants)
    from pebdsl.lower.context import Context
    from pebdsl.lower.tariffs import months

    mid, _, _ = months(Context.start(d))
    net = res.extras["block_net"]
    for k, e in enumerate(pv.entities):
        if e in d.participants or e in d.shared_batteries:
            book(e, "capacity_charges", float(cost[k].sum()), "dso")
            continue
        members = [p for p in d.blocks[e].participants if p in d.participants]
        bi = list(d.blocks).index(e)
        for mth in range(peak.shape[1]):
            steps = np.flatnonzero(mid == mth)
            if not steps.size or not members:
                continue
            tpk = steps[int(np.argmax(net[bi, steps]))]
            imp = np.maximum(np.array([gi[parts.index(p), tpk] for p in members]), 0.0)
            w = imp / imp.sum() if imp.sum() > 1e-9 else np.full(len(members), 1 / len(members))
            for p, wp in zip(members, w, strict=True):
                book(p, "capacity_charges", float(cost[k, mth] * wp), "dso")


def _flexibility(res: Results, ir: ModelIR, x: FloatArray, gi: FloatArray, book: Any) -> float:
    d = res.design
    base_x = res.extras.get("flex_baseline_x")
    if base_x is None:
        return 0.0
    bts = res.blocks_ts
    dt = d.dt_h
    parts = list(d.participants)
    gi_base = ir.vars["gi"].values(base_x)
    paid = 0.0
    for b in d.blocks:
        if (b, "flexibility") not in bts.columns:
            continue
        pay_t = (bts[(b, "flexibility")] * bts[(b, "flexibility_price")]).to_numpy() * dt
        if not pay_t.any():
            continue
        members = [parts.index(p) for p in d.blocks[b].participants if p in d.participants]
        cut = np.maximum(gi_base[members] - gi[members], 0.0)  # members x t
        tot = cut.sum(axis=0)
        share = np.where(tot > 1e-9, cut / np.maximum(tot, 1e-9), 1.0 / max(len(members), 1))
        for j, i in enumerate(members):
            amount = float((share[j] * pay_t).sum())
            book(parts[i], "flexibility", -amount, "dso")
        paid += float(pay_t.sum())
    return paid
