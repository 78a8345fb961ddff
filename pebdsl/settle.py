"""Settlement: who pays whom, and the closing of the money account.

Input: `Results` with time series and `extras` filled by `solve.extract`, the IR and the
solution. Output: `results.bills` (one row per participant, then one per other party: "grid",
"dso", each market (its operator's account) and each shared battery; columns in currency,
+ = paid by that row's party, − = received) with `results.bill_roles`, and `results.money`.
Raises nothing.

Columns: grid_purchases, grid_sales, energy_charges, capacity_charges, local_purchases,
local_sales, fees, flexibility, battery_costs, shift_costs, link_fees, rent, shared_battery,
total, where
total = grid_purchases − grid_sales + energy_charges + capacity_charges + local_purchases
        − local_sales + fees + flexibility + battery_costs + shift_costs + link_fees + rent
        + shared_battery.
For the other parties each column is the counter-entry of the participants' one (the grid
supplier's grid_purchases are −Σ purchases, …), so the sum over all rows of `total` is
exactly the real costs that leave the system (battery throughput and load-shifting costs).

Rules (docs/model.md):
- local trades are paid per kWh received; pools at the node price (market balance dual / dt,
  the midpoint of its valid interval where the dual is not unique), p2p at the `settlement`
  rule over the two traders' valuations of one delivered kWh (pipeline.pair_split);
- the buyer pays the fee to the market's operator (the market's row, or "dso" when
  `operator = dso`); shared batteries buy fee-free (a stored kWh pays the fee once);
- a pool pays the DSO's link fees from its surplus; in a p2p market the traders whose energy
  crossed a link pay its fee (`pipeline.link_fee_shares`);
- the market's surplus (after the link fees it pays) goes by its `rent` rule: `operator` (its
  operator's account: the market's row or "dso"), `dso`, or `members` (the traders, per step pro
  rata to the kWh each bought and sold);
- a shared battery's row keeps its gross; its net passes to its owners (`shared_battery`
  column, `Design.battery_owners`), so the row ends at zero;
- capacity charges on a block basis are shared by the members pro rata to their own import in
  the step of the block's monthly peak (equally if none imported then);
- the DSO pays for flexibility delivered at the local flexibility price (its dual), shared by
  the block's members pro rata to how far each cut its grid import against the baseline.

Money closing (`results.money`, residual asserted ≈ 0 in tests):
  total_bills = total_cost − flexibility_payments + rent_retained
  total_cost            real money = objective − shadow_cost (`Results.total_cost`)
  shadow_cost           objective terms nobody pays: priced-flexibility excess x price (a
                        shadow cost) minus product premiums (a buyer's valuation); also kept
                        as `non_monetary`
  flexibility_payments  paid by the DSO to participants
  rent_retained         market surplus kept by operators or the DSO (not `rent = members`)
  market_surplus        Σ markets (buyers' payments for energy − sellers' receipts − link fees
                        the market pays); rent_to_members = market_surplus − rent_retained
  shared_batteries      what shared batteries earned, passed to their owners
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
    "rent",
    "shared_battery",
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
    # Each meter's energy charge: its own tariff's, else the DSO's (excl. VAT, booked apart).
    for i, p in enumerate(parts):
        book(p, "grid_purchases", float(d.grid.buy_per_kwh @ gi[i]) * dt, "grid")
        if d.grid.sell_per_kwh is not None:
            book(p, "grid_sales", float(d.grid.sell_per_kwh @ ge[i]) * dt, "grid")
        ec = _energy_charge(d, p)
        if ec is not None and "meter_in" not in ir.vars:
            book(p, "energy_charges", float(ec @ gi[i]) * dt, "dso")
    if "meter_in" in ir.vars:
        # `charge_on = meter`: each meter pays on its positive net withdrawal.
        mv = ir.vars["meter_in"]
        for name, w in zip(mv.entities, mv.values(x), strict=True):
            ec = _energy_charge(d, name)
            if ec is not None:
                book(name, "energy_charges", float(ec @ w) * dt, "dso")
    withdrawal = meter_net(ir, x) if d.dso.charge_on == "meter" else gi
    _capacity(res, ir, x, withdrawal, book)
    _own_capacity(d, ir, x, book)
    non_monetary = 0.0
    surplus = 0.0
    retained = 0.0
    bats = d.batteries()
    # Local markets: energy payments, fees, link fees, and the surplus by the `rent` rule.
    for mname, prods in res.extras["flows"].items():
        info = ir.info["markets"][mname]
        market = d.markets[mname]
        traders = list(info["traders"])
        operator = "dso" if info["operator"] == "dso" else mname
        net_t = np.zeros(t)  # the market's surplus per step, after the link fees it pays
        traded = np.zeros((len(traders), t))  # kWh bought + sold (delivered) per step
        for f in prods.values():
            split = f["split"]
            for j, a in enumerate(traders):
                book(a, "local_purchases", float(split["buyer_pays"][j]), mname)
                book(a, "local_sales", float(split["seller_gets"][j]), mname)
            s_t = np.asarray(split["surplus_t"], dtype=np.float64)
            fees = _fees(market, info, f, t) * dt  # per trader, currency per step
            for j, a in enumerate(traders):
                book(a, "fees", float(fees[j].sum()), operator)
            traded += (f["recv"] + (1.0 - info["loss"]) * f["sent"]) * dt
            prem = f["premium_per_kwh"]
            if prem:
                is_part = np.array([a in d.participants for a in traders])
                non_monetary -= prem * float(f["recv"][is_part].sum()) * dt
            if f.get("flow"):
                fv = ir.vars[f["flow"]]
                cost_lt = fv.cost.reshape(-1, t) * fv.values(x)  # currency per link and step
                if "link_fees" in split:
                    # p2p: the traders whose energy crossed a link pay its fee.
                    for j, a in enumerate(traders):
                        book(a, "link_fees", float(split["link_fees"][j].sum()), "dso")
                else:
                    # pool: the node prices differ by at least the fee; the market pays it.
                    book(mname, "link_fees", float(cost_lt.sum()), "dso")
                    s_t = s_t - cost_lt.sum(axis=0)
            net_t += s_t
        surplus += float(net_t.sum())
        if market.rent == "members":
            # Pro rata to each trader's kWh bought and sold in the step (equally in a step
            # without trade, where the surplus is zero anyway).
            tot = traded.sum(axis=0)
            n_tr = max(len(traders), 1)
            share = np.where(tot > 1e-12, traded / np.maximum(tot, 1e-12), 1.0 / n_tr)
            for j, a in enumerate(traders):
                book(a, "rent", -float((share[j] * net_t).sum()), mname)
        else:
            to = operator if market.rent == "operator" else "dso"
            if to != mname:
                book(to, "rent", -float(net_t.sum()), mname)
            retained += float(net_t.sum())
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
    # Shared batteries: the row keeps the gross; its net passes to the owners.
    shared = 0.0
    for bname in d.shared_batteries:
        net = sum(rows[bname][c] * _SIGN[c] for c in COLUMNS)
        shared -= net
        for owner, w in d.battery_owners(bname).items():
            book(owner, "shared_battery", w * net, bname)

    columns = list(COLUMNS)
    if any(d.participants[p].vat > 0 for p in parts):
        # VAT (households): on what each pays the supplier, the DSO and the market operators,
        # collected for the state. Only designs with VAT get the column and the row.
        columns.append("vat")
        row("state", "state")
        for r in rows.values():
            r.setdefault("vat", 0.0)
        for p in parts:
            v = d.participants[p].vat
            if v > 0:
                r = rows[p]
                base = r["grid_purchases"] + r["energy_charges"] + r["capacity_charges"] + r["fees"]
                book(p, "vat", v * base, "state")
    table = pd.DataFrame.from_dict(rows, orient="index", columns=columns)
    table["total"] = sum(table[c] * _SIGN.get(c, 1.0) for c in columns)
    table.index.name = "party"
    res.bills = table
    res.bill_roles = roles
    total_bills = float(table.loc[parts, "total"].sum()) if parts else 0.0
    real_costs = float(table["battery_costs"].sum() + table["shift_costs"].sum())
    res.shadow_cost = non_monetary
    total_cost = res.total_cost
    expected = total_cost - flex_paid + retained
    res.money = {
        "total_bills": total_bills,
        "objective": res.objective,
        "total_cost": total_cost,
        "shadow_cost": non_monetary,
        "non_monetary": non_monetary,
        "flexibility_payments": flex_paid,
        "market_surplus": surplus,
        "rent_retained": retained,
        "rent_to_members": surplus - retained,
        "shared_batteries": shared,
        "residual": total_bills - expected,
        "all_parties": float(table["total"].sum()),
        "real_costs": real_costs,
    }


def _fees(m: Any, info: dict[str, Any], f: dict[str, Any], t: int) -> FloatArray:
    """Fees per trader (buyer) and step, currency per hour."""
    n = len(info["traders"])
    # Shared batteries buy fee-free (one fee per stored kWh, paid when it is sold on).
    payer = np.asarray(info.get("fee_payer", [True] * n), dtype=bool)
    if f["pairs"] is None:
        return np.where(payer[:, None], m.fee_per_kwh, 0.0) * f["recv"]
    ps, pr, q = f["pairs"]
    traders = info["traders"]
    pair_fees = m.pair_fees_per_kwh
    fee = np.array(
        [
            pair_fees.get((traders[s], traders[r]), m.fee_per_kwh) if payer[r] else 0.0
            for s, r in zip(ps, pr, strict=True)
        ]
    )
    out = np.zeros((n, t))
    np.add.at(out, pr, fee[:, None] * q)
    return out


def _energy_charge(d: Any, agent: str) -> FloatArray | None:
    """An agent's energy charge excl. VAT: its own tariff's, else the DSO's (None: none)."""
    p = d.participants.get(agent)
    if p is not None and p.tariff is not None and p.tariff.energy_charge_per_kwh is not None:
        return np.asarray(p.tariff.energy_charge_per_kwh, dtype=np.float64)
    return d.dso.energy_charge_per_kwh  # type: ignore[no-any-return]


def _own_capacity(d: Any, ir: ModelIR, x: FloatArray, book: Any) -> None:
    """Capacity charges of participants on their own measure (top-3 days, steps;
    `lower/household.py`): the cost of the columns `ir.info["own_capacity"]` lists, per
    participant, less the VAT in it (booked with the VAT column)."""
    for var, owners in ir.info.get("own_capacity", {}).items():
        vb = ir.vars[var]
        cost = (vb.cost.reshape(len(vb.entities), -1) * vb.values(x)).sum(axis=1)
        for k, p in enumerate(owners):
            book(p, "capacity_charges", float(cost[k]) / (1.0 + d.participants[p].vat), "dso")


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
            vat = d.participants[e].vat if e in d.participants else 0.0
            book(e, "capacity_charges", float(cost[k].sum()) / (1.0 + vat), "dso")
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
