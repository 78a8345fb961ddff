"""Settlement: who pays whom, and the closing of the money account.

Input: the design, the IR (its inverse map), the solution, the `Dispatch` and `Trades` of
pebdsl.invert, and the LP objective. Output: a frozen `Settlement`: `bills` (one row per
participant, then one per other party: "grid", "dso", each market (its operator's account)
and each shared battery; columns in currency, + = paid by that row's party, − = received),
`roles` of the rows, `money` (the closing of the account) and `shadow_cost`.
Raises nothing.

Columns: grid_purchases, grid_sales, energy_charges, capacity_charges, local_purchases,
local_sales, fees, flexibility, battery_costs, shift_costs, link_fees, rent, shared_battery,
total, where
total = grid_purchases − grid_sales + energy_charges + capacity_charges + local_purchases
        − local_sales + fees + flexibility + battery_costs + shift_costs + link_fees + rent
        + shared_battery (+ vat and generation_costs in designs that have them: VAT on
        households; a PV or wind peak sized by `invest`, its cost over the horizon).
For the other parties each column is the counter-entry of the participants' one (the grid
supplier's grid_purchases are −Σ purchases, …), so the sum over all rows of `total` is
exactly the real costs that leave the system (battery throughput and load-shifting costs).

Rules (docs/model.md):
- local trades are paid per kWh received; pools at the node price (market balance dual / dt,
  the midpoint of its valid interval where the dual is not unique), p2p at the `settlement`
  rule over the two traders' valuations of one delivered kWh (invert/trace.py `pair_split`);
- the buyer pays the fee to the market's operator (the market's row, or "dso" when
  `operator = dso`); shared batteries buy fee-free (a stored kWh pays the fee once);
- a pool pays the DSO's link fees from its surplus; in a p2p market the traders whose energy
  crossed a link pay its fee (invert/trace.py
  `link_fee_shares`);
- the market's surplus (after the link fees it pays) goes by its `rent` rule: `operator` (its
  operator's account: the market's row or "dso"), `dso`, or `members` (the traders, per step pro
  rata to the kWh each bought and sold);
- a shared battery's row keeps its gross; its net passes to its owners (`shared_battery`
  column, `Design.battery_owners`), so the row ends at zero;
- capacity charges on a block basis are shared by the members pro rata to their own import in
  the step of the block's monthly peak (equally if none imported then);
- the DSO pays for flexibility delivered at the price it declared for the need (the local
  flexibility price, its dual, only for a hard need that declares none: `blocks_ts.
  flexibility_paid`), shared by the block's members pro rata to how far each cut its grid
  import against the baseline.

Money closing (`Settlement.money`, residual asserted ≈ 0 in tests):
  total_bills = total_cost − flexibility_payments + rent_retained − dso_investment
  total_cost            real money = objective − shadow_cost (`Results.total_cost`)
  shadow_cost           objective terms nobody pays: priced-flexibility excess x price (a
                        shadow cost) minus product premiums (a buyer's valuation); also kept
                        as `non_monetary`
  flexibility_payments  paid by the DSO to participants
  rent_retained         market surplus kept by operators or the DSO (not `rent = members`)
  market_surplus        Σ markets (buyers' payments for energy − sellers' receipts − link fees
                        the market pays); rent_to_members = market_surplus − rent_retained
  shared_batteries      what shared batteries earned, passed to their owners
  dso_investment        the cost over the horizon of the block connections and links the LP
                        sized (`invest`): the DSO's, on its row's capacity_charges (a battery's
                        sized capacity or power is its owner's, in battery_costs)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pebdsl.backends import Solution
from pebdsl.design import Design, Market
from pebdsl.invert.records import Dispatch, MarketTrades, ProductFlow, Trades
from pebdsl.ir import FloatArray, ModelIR

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
GENERATION_COSTS = "generation_costs"


@dataclass(frozen=True)
class Settlement:
    """Who pays whom (all amounts in the design's currency over the horizon)."""

    bills: pd.DataFrame | None  # party x COLUMNS + total (None: a hand-built Results)
    # party -> "participant" | "grid" | "dso" | "market" | "battery" | "state" (VAT)
    roles: Mapping[str, str]
    money: Mapping[str, float]  # the closing of the account (module docstring)
    shadow_cost: float  # objective terms nobody pays
    # Sizes the LP chose (`invest(...)`): path -> {"value", "unit", "cost"} (cost over the
    # horizon, in the design's currency).
    investments: Mapping[str, Mapping[str, float | str]] = field(default_factory=dict)


@dataclass
class _Ledger:
    """The bill rows while they are booked (local to `settle`)."""

    rows: dict[str, dict[str, float]] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)

    def open(self, name: str, role: str) -> None:
        if name not in self.rows:
            self.rows[name] = dict.fromkeys(COLUMNS, 0.0)
            self.roles[name] = role

    def book(self, name: str, col: str, amount: float, counter: str | None) -> None:
        """`name` pays `amount` in column `col`; `counter` (if any) receives it."""
        self.rows[name][col] += amount
        if counter is not None:
            self.rows[counter][col] -= amount


@dataclass
class _Market:
    """A market's totals over its products (currency)."""

    non_monetary: float = 0.0
    surplus: float = 0.0
    retained: float = 0.0


def _ledger(d: Design) -> _Ledger:
    led = _Ledger()
    for p in d.participants:
        led.open(p, "participant")
    led.open("grid", "grid")
    led.open("dso", "dso")
    for m in d.markets:
        led.open(m, "market")
    for b in d.shared_batteries:
        led.open(b, "battery")
    return led


def _grid(led: _Ledger, d: Design, ir: ModelIR, x: FloatArray) -> FloatArray:
    """Grid purchases and sales, energy charges; returns gi (participants x t, kW)."""
    dt = d.dt_h
    gi = ir.vars["gi"].values(x)
    ge = ir.vars["ge"].values(x) if "ge" in ir.vars else np.zeros_like(gi)
    # Each meter's energy charge: its own tariff's, else the DSO's (excl. VAT, booked apart).
    if d.grid.day_ahead is not None:
        _stages(led, d, ir, x, gi, ge)
    for i, p in enumerate(d.participants):
        if d.grid.day_ahead is None:
            led.book(p, "grid_purchases", float(d.grid.buy_per_kwh @ gi[i]) * dt, "grid")
            if d.grid.sell_per_kwh is not None:
                led.book(p, "grid_sales", float(d.grid.sell_per_kwh @ ge[i]) * dt, "grid")
        ec = _energy_charge(d, p)
        if ec is not None and "meter_in" not in ir.vars:
            led.book(p, "energy_charges", float(ec @ gi[i]) * dt, "dso")
    if "meter_in" in ir.vars:
        # `charge_on = meter`: each meter pays on its positive net withdrawal.
        mv = ir.vars["meter_in"]
        for name, w in zip(mv.entities, mv.values(x), strict=True):
            ec = _energy_charge(d, name)
            if ec is not None:
                led.book(name, "energy_charges", float(ec @ w) * dt, "dso")
    return gi


def _energy_charge(d: Design, agent: str) -> FloatArray | None:
    """An agent's energy charge excl. VAT: its own tariff's, else the DSO's (None: none)."""
    p = d.participants.get(agent)
    if p is not None and p.tariff is not None and p.tariff.energy_charge_per_kwh is not None:
        return p.tariff.energy_charge_per_kwh
    return d.dso.energy_charge_per_kwh


def _own_capacity(led: _Ledger, d: Design, ir: ModelIR, x: FloatArray) -> None:
    """Capacity charges of participants on their own measure (top-3 days, steps;
    `lower/household.py`): the cost of the columns the inverse map's `own_capacity` lists,
    per participant, less the VAT in it (booked with the VAT column)."""
    for var, owners in ir.inverse.own_capacity.items():
        vb = ir.vars[var]
        cost = (vb.cost.reshape(len(vb.entities), -1) * vb.values(x)).sum(axis=1)
        for k, p in enumerate(owners):
            vat = 1.0 + d.participants[p].vat
            led.book(p, "capacity_charges", float(cost[k]) / vat, "dso")


def _vat(led: _Ledger, d: Design) -> list[str]:
    """VAT (households): on what each pays the supplier, the DSO and the market operators,
    collected for the state. Only designs with VAT get the column and the row `state`."""
    if not any(p.vat > 0 for p in d.participants.values()):
        return list(COLUMNS)
    led.open("state", "state")
    for r in led.rows.values():
        r.setdefault("vat", 0.0)
    for name, p in d.participants.items():
        if p.vat > 0:
            r = led.rows[name]
            base = r["grid_purchases"] + r["energy_charges"] + r["capacity_charges"] + r["fees"]
            led.book(name, "vat", p.vat * base, "state")
    return [*COLUMNS, "vat"]


def _stages(
    led: _Ledger, d: Design, ir: ModelIR, x: FloatArray, gi: FloatArray, ge: FloatArray
) -> None:
    """A staged grid (lower/stages.py): each bidder pays its day-ahead position and its intraday
    deviation at their prices; a block or community bidder's amounts are shared by its members
    per step pro rata to their grid import (purchases) and export (sales), equally when none."""
    dt = d.dt_h
    da = d.grid.day_ahead
    assert da is not None
    parts = list(d.participants)
    buy_cols = (("da_buy", da.buy_per_kwh), ("id_buy", d.grid.buy_per_kwh))
    sell_cols = (("da_sell", da.sell_per_kwh), ("id_sell", d.grid.sell_per_kwh))
    for col, pairs, flow in (("grid_purchases", buy_cols, gi), ("grid_sales", sell_cols, ge)):
        for name, price in pairs:
            if name not in ir.vars or price is None:
                continue
            vb = ir.vars[name]
            paid = vb.values(x) * price[None, :] * dt  # bidder x t, currency
            for b, members in ir.inverse.bidders.items():
                rows = [parts.index(p) for p in members]
                w = flow[rows]
                tot = w.sum(axis=0)
                share = np.where(tot > 1e-12, w / np.where(tot > 1e-12, tot, 1.0), 1 / len(rows))
                amounts = share * paid[vb.entities.index(b)][None, :]
                for k, p in enumerate(members):
                    led.book(p, col, float(amounts[k].sum()), "grid")


def _product(
    led: _Ledger, d: Design, ir: ModelIR, x: FloatArray, mt: MarketTrades, k: str, acc: _Market
) -> tuple[FloatArray, FloatArray]:
    """One product's payments, fees and link fees; returns the market's surplus per step
    (after the link fees it pays) and the kWh each trader bought and sold per step."""
    mk, f, split = mt.market, mt.flows[k], mt.splits[k]
    market = d.markets[mk.name]
    operator = "dso" if mk.operator == "dso" else mk.name
    t = d.n_steps
    for j, a in enumerate(mk.traders):
        led.book(a, "local_purchases", float(split.buyer_pays[j]), mk.name)
        led.book(a, "local_sales", float(split.seller_gets[j]), mk.name)
    s_t = np.asarray(split.surplus_t, dtype=np.float64)
    fees = _fees(market, mk.fee_payer, mk.traders, f, t) * d.dt_h  # currency per step
    for j, a in enumerate(mk.traders):
        led.book(a, "fees", float(fees[j].sum()), operator)
    traded = (f.recv + (1.0 - mk.loss) * f.sent) * d.dt_h
    prem = f.product.premium_per_kwh
    if prem:
        is_part = np.array([a in d.participants for a in mk.traders])
        acc.non_monetary -= prem * float(f.recv[is_part].sum()) * d.dt_h
    if f.product.flow:
        fv = ir.vars[f.product.flow]
        cost_lt = fv.cost.reshape(-1, t) * fv.values(x)  # currency per link and step
        if split.link_fees is not None:
            # p2p: the traders whose energy crossed a link pay its fee.
            for j, a in enumerate(mk.traders):
                led.book(a, "link_fees", float(split.link_fees[j].sum()), "dso")
        else:
            # pool: the node prices differ by at least the fee; the market pays it.
            led.book(mk.name, "link_fees", float(cost_lt.sum()), "dso")
            s_t = s_t - cost_lt.sum(axis=0)
    return s_t, traded


def _market(
    led: _Ledger, d: Design, ir: ModelIR, x: FloatArray, mt: MarketTrades, acc: _Market
) -> None:
    """A market's payments, fees, link fees, and its surplus by the `rent` rule."""
    mk = mt.market
    market = d.markets[mk.name]
    net_t = np.zeros(d.n_steps)  # the market's surplus per step
    traded = np.zeros((len(mk.traders), d.n_steps))  # kWh bought + sold per step
    for k in mt.flows:
        s_t, tr = _product(led, d, ir, x, mt, k, acc)
        net_t += s_t
        traded += tr
    acc.surplus += float(net_t.sum())
    if market.rent == "members":
        # Pro rata to each trader's kWh bought and sold in the step (equally in a step
        # without trade, where the surplus is zero anyway).
        tot = traded.sum(axis=0)
        n_tr = max(len(mk.traders), 1)
        share = np.where(tot > 1e-12, traded / np.maximum(tot, 1e-12), 1.0 / n_tr)
        for j, a in enumerate(mk.traders):
            led.book(a, "rent", -float((share[j] * net_t).sum()), mk.name)
    else:
        operator = "dso" if mk.operator == "dso" else mk.name
        to = operator if market.rent == "operator" else "dso"
        if to != mk.name:
            led.book(to, "rent", -float(net_t.sum()), mk.name)
        acc.retained += float(net_t.sum())


def _assets(led: _Ledger, d: Design, ir: ModelIR, x: FloatArray) -> None:
    """Battery throughput and load-shifting costs (real costs, paid to nobody)."""
    dt = d.dt_h
    if "charge" in ir.vars:
        c, dis = ir.vars["charge"].values(x), ir.vars["discharge"].values(x)
        for j, (bname, bat) in enumerate(d.batteries().items()):
            cost = bat.throughput_cost_per_kwh * float((c[j] + dis[j]).sum()) * dt
            led.book(bat.owner or bname, "battery_costs", cost, None)
    if "shift_out" in ir.vars:
        sv = ir.vars["shift_out"]
        so = sv.values(x)
        for j, p in enumerate(sv.entities):
            fl = d.participants[p].flexible
            cost = (fl.cost_per_kwh if fl else 0.0) * float(so[j].sum()) * dt
            led.book(p, "shift_costs", cost, None)


def _investments(
    led: _Ledger, d: Design, ir: ModelIR, x: FloatArray
) -> tuple[float, dict[str, dict[str, float | str]]]:
    """Sizes chosen by the LP (`invest`, lower/invest.py): each one's size and its cost over
    the horizon (the column's cost × size). A battery's is a real cost of its owner
    (`battery_costs`; a shared battery's row passes it to its owners), a PV or wind peak's too
    (`generation_costs`, a column only designs with such a size get); a block connection's or
    a link's is the DSO's: it builds the capacity (its row's `capacity_charges`). Returns the
    DSO's part and the investments by path."""
    if "invest" not in ir.vars:
        return 0.0, {}
    v = ir.vars["invest"]
    size = v.values(x)[:, 0]
    cost = np.asarray(v.cost).reshape(-1) * size
    bats = d.batteries()
    dso = 0.0
    out: dict[str, dict[str, float | str]] = {}
    for path, val, c in zip(v.entities, size, cost, strict=True):
        head = path.rpartition(".")[0]
        if head in bats:
            led.book(bats[head].owner or head, "battery_costs", float(c), None)
        elif path.endswith((".pv.peak", ".wind.peak")):
            for r in led.rows.values():
                r.setdefault(GENERATION_COSTS, 0.0)
            led.book(path.partition(".")[0], GENERATION_COSTS, float(c), None)
        else:
            led.book("dso", "capacity_charges", float(c), None)
            dso += float(c)
        out[path] = {
            "value": float(val) + 0.0,
            "unit": d.investments[path].unit,
            "cost": float(c) + 0.0,
        }
    return dso, out


def _shared(led: _Ledger, d: Design) -> float:
    """Shared batteries: the row keeps the gross; its net passes to the owners."""
    shared = 0.0
    for bname in d.shared_batteries:
        net = sum(led.rows[bname][c] * _SIGN[c] for c in COLUMNS)
        shared -= net
        for owner, w in d.battery_owners(bname).items():
            led.book(owner, "shared_battery", w * net, bname)
    return shared


def settle(
    d: Design, ir: ModelIR, sol: Solution, dispatch: Dispatch, trades: Trades, objective: float
) -> Settlement:
    x = sol.x
    led = _ledger(d)
    gi = _grid(led, d, ir, x)
    withdrawal = ir.inverse.meters.meter(x) if d.dso.charge_on == "meter" else gi
    _capacity(led, d, ir, x, withdrawal, dispatch.block_net)
    _own_capacity(led, d, ir, x)
    acc = _Market()
    for mt in trades.markets.values():
        _market(led, d, ir, x, mt, acc)
    _assets(led, d, ir, x)
    dso_investment, investments = _investments(led, d, ir, x)
    flex_paid = _flexibility(led, d, ir, dispatch, gi)
    if "excess" in ir.vars:
        ev = ir.vars["excess"]
        acc.non_monetary += float(ev.cost @ ev.values(x).ravel())
    shared = _shared(led, d)
    columns = _vat(led, d)
    if any(GENERATION_COSTS in r for r in led.rows.values()):
        columns.append(GENERATION_COSTS)
    table = pd.DataFrame.from_dict(led.rows, orient="index", columns=columns)
    table["total"] = sum(table[c] * _SIGN.get(c, 1.0) for c in columns)
    table.index.name = "party"
    parts = list(d.participants)
    total_bills = float(table.loc[parts, "total"].sum()) if parts else 0.0
    real_costs = float(table["battery_costs"].sum() + table["shift_costs"].sum()) + dso_investment
    if GENERATION_COSTS in table:
        real_costs += float(table[GENERATION_COSTS].sum())
    total_cost = objective - acc.non_monetary
    money = {
        "total_bills": total_bills,
        "objective": objective,
        "total_cost": total_cost,
        "shadow_cost": acc.non_monetary,
        "non_monetary": acc.non_monetary,
        "flexibility_payments": flex_paid,
        "market_surplus": acc.surplus,
        "rent_retained": acc.retained,
        "rent_to_members": acc.surplus - acc.retained,
        "shared_batteries": shared,
        "dso_investment": dso_investment,
        "residual": total_bills - (total_cost - flex_paid + acc.retained - dso_investment),
        "all_parties": float(table["total"].sum()),
        "real_costs": real_costs,
    }
    return Settlement(table, dict(led.roles), money, acc.non_monetary, investments)


def _fees(
    m: Market, payer_t: tuple[bool, ...], traders: tuple[str, ...], f: ProductFlow, t: int
) -> FloatArray:
    """Fees per trader (buyer) and step, currency per hour."""
    n = len(traders)
    # Shared batteries buy fee-free (one fee per stored kWh, paid when it is sold on).
    payer = np.asarray(payer_t, dtype=bool)
    if f.pairs is None:
        out_c: FloatArray = np.where(payer[:, None], m.fee_per_kwh, 0.0) * f.recv
        return out_c
    ps, pr, q = f.pairs
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


def _capacity(
    led: _Ledger, d: Design, ir: ModelIR, x: FloatArray, gi: FloatArray, net: FloatArray
) -> None:
    """Capacity charges per metered entity; a block's charge is shared by its members pro rata
    to their own withdrawal (`gi`: the meter's net withdrawal, or the purchases on the
    `purchase` basis) in the step of the block's monthly peak."""
    cap = ir.inverse.capacity
    if "peak" not in ir.vars or cap is None:
        return
    pv = ir.vars["peak"]
    peak = pv.values(x)
    cost = pv.cost.reshape(peak.shape) * peak  # currency per entity and month
    parts = list(d.participants)
    mid = cap.step_month
    for k, e in enumerate(pv.entities):
        if e in d.participants or e in d.shared_batteries:
            vat = 1.0 + (d.participants[e].vat if e in d.participants else 0.0)
            led.book(e, "capacity_charges", float(cost[k].sum()) / vat, "dso")
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
                led.book(p, "capacity_charges", float(cost[k, mth] * wp), "dso")


def _flexibility(led: _Ledger, d: Design, ir: ModelIR, dispatch: Dispatch, gi: FloatArray) -> float:
    base_x = dispatch.flex_baseline_x
    if base_x is None:
        return 0.0
    bts = dispatch.blocks_ts
    parts = list(d.participants)
    gi_base = ir.vars["gi"].values(base_x)
    paid = 0.0
    for b in d.blocks:
        if (b, "flexibility") not in bts.columns:
            continue
        pay_t = (bts[(b, "flexibility")] * bts[(b, "flexibility_paid")]).to_numpy() * d.dt_h
        if not pay_t.any():
            continue
        members = [parts.index(p) for p in d.blocks[b].participants if p in d.participants]
        cut = np.maximum(gi_base[members] - gi[members], 0.0)  # members x t
        tot = cut.sum(axis=0)
        share = np.where(tot > 1e-9, cut / np.maximum(tot, 1e-9), 1.0 / max(len(members), 1))
        for j, i in enumerate(members):
            led.book(parts[i], "flexibility", -float((share[j] * pay_t).sum()), "dso")
        paid += float(pay_t.sum())
    return paid
