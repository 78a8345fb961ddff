"""Properties of the model on generated designs (Hypothesis).

For every generated, feasible design:
- every participant's energy balance closes in every step, and every battery's state of charge
  follows its charge and discharge;
- every meter carries gi − ge + local purchases − local sales, which equals its physical net
  withdrawal, and the energy charge falls on its positive part (meter basis);
- no grid energy passed on through a market is counted as local trade;
- the purchase basis (local trades exempt from DSO charges) never costs more than the meter
  basis on the same design;
- money is conserved: the bills and the operators' accounts add up to the total cost, real
  money and shadow terms make up the objective, and every term sits with a named party;
- the solution does not depend on declaration order (participants, members, markets permuted);
- scaling every price by k scales the total cost by k.
Two sources of designs: `strategies.designs()` (texts from the resolver engineer, through the
parser and resolver) and a small strategy below that builds `Design` objects directly (so the
properties are checked even when the language front end changes). The CI profile runs 200
text designs and 60 object designs.
"""

from __future__ import annotations

import dataclasses
import os
from datetime import datetime
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import designs as text_designs

from pebdsl.design import (
    Battery,
    Block,
    Connection,
    Design,
    Dso,
    Generation,
    Grid,
    Load,
    Market,
    Participant,
    TimeGrid,
)
from pebdsl.diagnostics import PebdslError
from pebdsl.kpis import quantity
from pebdsl.results import Results

CI = bool(os.environ.get("CI"))
TOL = 1e-6
N_TEXT = 200 if CI else 60
N_OBJECTS = 60 if CI else 30
COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=CI)


# --- checks -------------------------------------------------------------------------------------


def _tol(*arrays: np.ndarray) -> float:
    scale = max([1.0, *(float(np.abs(a).max()) for a in arrays if a.size)])
    return TOL * scale


def check_energy_balances(r: Results) -> None:
    d = r.design
    names = list(d.participants)
    ts = r.participants_ts

    def q(x: str) -> np.ndarray:
        return quantity(ts, x, names)

    supply = q("generation_used") + q("battery_discharge") + q("local_bought") + q("grid_import")
    use = q("load") + q("battery_charge") + q("local_sold") + q("grid_export")
    assert np.abs(supply - use).max(initial=0.0) <= _tol(supply, use), "participant balance"
    gen = np.column_stack([d.participants[p].generation_kw(d.n_steps) for p in names])
    used = q("generation_used")
    assert (used <= gen + _tol(gen)).all(), "generation used above what is available"
    assert (q("grid_import") >= -_tol(supply)).all()
    bats = d.batteries()
    if bats:
        bn = list(bats)
        c = quantity(r.batteries_ts, "charge", bn)
        dis = quantity(r.batteries_ts, "discharge", bn)
        soc = quantity(r.batteries_ts, "soc", bn)
        eta = np.array([bats[b].efficiency for b in bn])
        init = np.array([bats[b].initial_kwh for b in bn])
        prev = np.vstack([init, soc[:-1]])
        expect = prev + (eta * c - dis / eta) * d.dt_h
        assert np.abs(soc - expect).max() <= _tol(soc, expect), "battery state of charge"
        cap = np.array([bats[b].capacity_kwh for b in bn])
        assert (soc <= cap + _tol(cap)).all()


def check_money(r: Results) -> None:
    """Money is conserved (MODEL.md, settle.py): every payment has a counter-entry, so the
    totals of all parties (participants, grid supplier, DSO, market operators, shared batteries)
    add up to the real costs that leave the system (battery throughput and shifting costs), and
    the closing of the account (bills = objective − non-monetary − flexibility payments + market
    surplus + shared batteries' earnings) has no residual."""
    b = r.bills
    assert b is not None
    scale = max(1.0, abs(r.objective), float(b["total"].abs().sum()))
    real = float(b["battery_costs"].sum() + b["shift_costs"].sum())
    assert float(b["total"].sum()) == pytest.approx(real, abs=1e-6 * scale)
    participants = [p for p in r.design.participants if p in b.index]
    total_bills = float(b.loc[participants, "total"].sum())
    assert r.money["total_bills"] == pytest.approx(total_bills, abs=1e-6 * scale)
    assert abs(r.money["residual"]) <= 1e-6 * scale, r.money
    check_honest_money(r, scale)


def check_honest_money(r: Results, scale: float) -> None:
    """Honest money (issue 8): real money and shadow terms make up the objective; real money is
    exactly what the outside parties receive for goods and services (the grid supplier for
    energy, the DSO for its charges and link fees, the operators for their fees) plus the real
    costs nobody receives; every row is a named party (participants, grid, dso, market
    operators, shared batteries), a shared battery's row and the row of a market whose rent or
    fees go elsewhere end at zero (no money left in an anonymous account); the participants
    together pay the real money minus the DSO's flexibility payments plus the rent kept by
    operators and the DSO."""
    d = r.design
    b = r.bills
    assert b is not None
    tol = 1e-6 * scale
    m = r.money
    assert m["total_cost"] + m["shadow_cost"] == pytest.approx(r.objective, abs=tol)
    assert r.total_cost + r.shadow_cost == pytest.approx(r.objective, abs=tol)
    roles = r.bill_roles
    assert list(b.index) == list(roles)
    expected = {p: "participant" for p in d.participants}
    expected.update({"grid": "grid", "dso": "dso"})
    expected.update({mk: "market" for mk in d.markets})
    expected.update({bt: "battery" for bt in d.shared_batteries})
    assert roles == expected
    goods = ["energy_charges", "capacity_charges", "link_fees", "fees"]
    outside = -float(b.loc["grid", "total"]) - float(b.loc["dso", goods].sum())
    outside -= float(b.loc[list(d.markets), "fees"].sum()) if d.markets else 0.0
    outside += float(b["battery_costs"].sum() + b["shift_costs"].sum())
    assert m["total_cost"] == pytest.approx(outside, abs=tol)
    for bt in d.shared_batteries:
        assert float(b.loc[bt, "total"]) == pytest.approx(0.0, abs=tol), bt
        owners = d.battery_owners(bt)
        assert sum(owners.values()) == pytest.approx(1.0)
        assert set(owners) <= set(d.participants)
    for name, mk in d.markets.items():
        keeps = mk.operator != "dso" and mk.rent == "operator"
        if not keeps:
            # Its fees (if any) and its rent went to the DSO or the traders.
            fees = float(b.loc[name, "fees"]) if mk.operator != "dso" else 0.0
            assert float(b.loc[name, "total"]) == pytest.approx(fees, abs=tol), name
    participants = list(d.participants)
    bills = float(b.loc[participants, "total"].sum()) if participants else 0.0
    assert bills == pytest.approx(
        m["total_cost"] - m["flexibility_payments"] + m["rent_retained"], abs=tol
    )


def permuted(d: Design) -> Design:
    """The same design declared in reverse order: participants, members, blocks and markets."""
    parts = dict(reversed(list(d.participants.items())))
    return dataclasses.replace(
        d,
        participants=parts,
        blocks={
            n: dataclasses.replace(b, participants=tuple(reversed(b.participants)))
            for n, b in reversed(list(d.blocks.items()))
        },
        markets={
            n: dataclasses.replace(m, members=tuple(reversed(m.members)))
            for n, m in reversed(list(d.markets.items()))
        },
        shared_batteries=dict(reversed(list(d.shared_batteries.items()))),
    )


def scaled_prices(d: Design, k: float) -> Design:
    """Every price and charge times k (grid, DSO tariffs, fees, premiums, battery and
    flexibility costs): the optimum stays the same, the cost scales by k."""
    rep = dataclasses.replace

    def s(x: Any) -> Any:
        return None if x is None else x * k

    parts = {
        n: rep(
            p,
            battery=rep(p.battery, throughput_cost_per_kwh=p.battery.throughput_cost_per_kwh * k)
            if p.battery
            else None,
            flexible=rep(p.flexible, cost_per_kwh=p.flexible.cost_per_kwh * k)
            if p.flexible
            else None,
        )
        for n, p in d.participants.items()
    }
    return rep(
        d,
        grid=rep(d.grid, buy_per_kwh=d.grid.buy_per_kwh * k, sell_per_kwh=s(d.grid.sell_per_kwh)),
        participants=parts,
        shared_batteries={
            n: rep(b, throughput_cost_per_kwh=b.throughput_cost_per_kwh * k)
            for n, b in d.shared_batteries.items()
        },
        markets={
            n: rep(
                m,
                fee_per_kwh=m.fee_per_kwh * k,
                pair_fees_per_kwh={pair: f * k for pair, f in m.pair_fees_per_kwh.items()},
            )
            for n, m in d.markets.items()
        },
        products={n: rep(p, premium_per_kwh=p.premium_per_kwh * k) for n, p in d.products.items()},
        dso=rep(
            d.dso,
            energy_charge_per_kwh=s(d.dso.energy_charge_per_kwh),
            capacity_charge_per_kw_month=d.dso.capacity_charge_per_kw_month * k,
            links=tuple(rep(x, fee_per_kwh=x.fee_per_kwh * k) for x in d.dso.links),
            flexibility=tuple(rep(f, price_per_kwh=s(f.price_per_kwh)) for f in d.dso.flexibility),
            reinforcement_cost_per_kw_year=d.dso.reinforcement_cost_per_kw_year * k,
        ),
    )


def check_meters(r: Results) -> None:
    """Energy balance per meter: each participant's meter carries gi − ge + local purchases −
    local sales, which equals its physical net withdrawal (load + charge − generation −
    discharge); on the meter basis the energy charge is levied on its positive part."""
    d = r.design
    names = list(d.participants)

    def q(x: str) -> np.ndarray:
        return quantity(r.participants_ts, x, names)

    meter = q("meter")
    trade = q("grid_import") - q("grid_export") + q("local_bought") - q("local_sold")
    phys = q("load") + q("battery_charge") - q("generation_used") - q("battery_discharge")
    assert np.abs(meter - trade).max(initial=0.0) <= _tol(meter, trade), "meter vs trades"
    assert np.abs(meter - phys).max(initial=0.0) <= _tol(meter, phys), "meter vs physics"
    ec = d.dso.energy_charge_per_kwh
    if ec is not None and d.dso.charge_on == "meter" and r.bills is not None:
        expect = (np.maximum(meter, 0.0) * ec[:, None]).sum(axis=0) * d.dt_h
        got = r.bills.loc[names, "energy_charges"].to_numpy()
        assert np.allclose(got, expect, atol=_tol(expect)), "energy charge on the meters"


def check_local_is_local(r: Results) -> None:
    """No local trade of grid energy is counted as local: in every step the local energy
    delivered in all markets is at most the local energy that exists — the participants'
    generation surplus over their own load served, plus what batteries give back, plus energy
    passed on by a buyer that sells again in the step — and never more than was delivered at
    all. In markets
    where a local-only battery trades, every delivery is local energy."""
    d = r.design
    if not d.markets:
        return
    names = list(d.participants)

    def q(x: str) -> np.ndarray:
        return quantity(r.participants_ts, x, names)

    surplus = np.maximum(q("generation_used") - q("load"), 0.0).sum(axis=1)
    bn = list(d.batteries())
    dis = quantity(r.batteries_ts, "discharge", bn).sum(axis=1) if bn else 0.0
    mn = list(d.markets)
    vol = quantity(r.markets_ts, "volume", mn)
    lvol = quantity(r.markets_ts, "local_volume", mn)
    assert (lvol <= vol + _tol(vol)).all(), "local deliveries above deliveries"
    # Energy passed on (bought and sold again in one step) may be delivered twice; grid energy
    # never counts: a participant that imports and sells has bought nothing locally to pass on.
    agents = names + list(d.shared_batteries)
    bought = np.zeros((d.n_steps, len(agents)))
    sold = np.zeros((d.n_steps, len(agents)))
    assert r.traded is not None
    for m, prods in r.traded.flows.items():
        mk = d.markets[m]
        traders = list(mk.members) + [b for b in mk.batteries if b not in mk.members]
        cols = [agents.index(a) for a in traders]
        for f in prods.values():
            np.add.at(bought.T, cols, f.recv)
            np.add.at(sold.T, cols, f.sent)
    passed_on = np.minimum(bought, sold).sum(axis=1)
    # Load shifted into a step is not served by its owner's generation first (docs/model.md
    # §5b: the own use is min(available, declared load), an LP-exact constant): up to that
    # volume, generation may count as surplus while the shifted load takes grid energy.
    shifted_in = q("shift_in").sum(axis=1)
    exists = surplus + shifted_in + dis + passed_on
    assert (lvol.sum(axis=1) <= exists + _tol(exists, vol)).all(), "grid energy counted local"
    from pebdsl.lower.markets import local_markets

    for k, m in enumerate(mn):
        if m in local_markets(d):
            assert np.allclose(lvol[:, k], vol[:, k], atol=_tol(vol)), f"{m} carried grid energy"


def check_purchase_basis_not_dearer(d: Design, r: Results) -> None:
    """Exempting local trades from the DSO's charges (`charge_on = purchase`) never costs the
    community more than charging every meter."""
    from pebdsl.solve import solve

    if d.dso.charge_on != "meter" or not (
        d.dso.energy_charge_per_kwh is not None or d.dso.capacity_charge_per_kw_month
    ):
        return
    p = solve(dataclasses.replace(d, dso=dataclasses.replace(d.dso, charge_on="purchase")))
    assert p.objective <= r.objective + 1e-7 * max(1.0, abs(r.objective))


def check_design(d: Design, k: float) -> None:
    from pebdsl.solve import solve

    r = solve(d)
    assert r.status == "optimal"
    check_energy_balances(r)
    check_meters(r)
    check_local_is_local(r)
    check_money(r)
    check_purchase_basis_not_dearer(d, r)
    # Post-solve notes never fail a solve and stay within their codes and the horizon.
    assert all(n["code"] in ("N101", "N102", "N103", "N104") for n in r.notes)
    assert all(0 <= n.get("first_step", 0) < d.n_steps for n in r.notes)
    scale = max(1.0, abs(r.objective))
    assert solve(permuted(d)).objective == pytest.approx(r.objective, abs=1e-7 * scale)
    assert solve(scaled_prices(d, k)).objective == pytest.approx(
        k * r.objective, abs=1e-7 * scale * k
    )


# --- designs from the language (the resolver engineer's strategy) ------------------------------


@settings(max_examples=N_TEXT, **COMMON)  # type: ignore[arg-type]
@given(text=text_designs(), k=st.sampled_from([0.5, 3.0]))
def test_properties_on_text_designs(text: str, k: float) -> None:
    from pebdsl.front.parser import parse
    from pebdsl.resolve import resolve_all
    from pebdsl.source import SourceFile

    src = SourceFile("<generated>", text)
    designs = resolve_all(parse(text, src.path), src)
    check_design(designs[None], k)


# --- designs built directly ---------------------------------------------------------------------


@st.composite
def design_objects(draw: st.DrawFn) -> Design:
    n = draw(st.sampled_from([3, 4, 6]))
    step_h = draw(st.sampled_from([0.25, 0.5, 1.0]))
    vals = st.floats(0.0, 3.0, allow_nan=False).map(lambda x: round(x, 3))

    def series() -> np.ndarray:
        return np.array(draw(st.lists(vals, min_size=n, max_size=n)))

    buy = np.array(draw(st.lists(st.floats(0.05, 0.5).map(lambda x: round(x, 4)),
                                 min_size=n, max_size=n)))  # fmt: skip
    # Selling below buying in every step: otherwise import-and-export would be unbounded.
    sell = None if draw(st.booleans()) else buy * draw(st.sampled_from([0.0, 0.3, 0.9]))
    n_part = draw(st.integers(2, 4))
    in_block = draw(st.booleans())
    parts: dict[str, Participant] = {}
    for i in range(n_part):
        name = f"p{i}"
        gens = (Generation("pv", series()),) if draw(st.booleans()) else ()
        bat = None
        if draw(st.booleans()):
            cap = draw(st.sampled_from([2.0, 5.0]))
            bat = Battery(
                f"{name}.battery",
                capacity_kwh=cap,
                power_kw=draw(st.sampled_from([1.0, 2.5])),
                efficiency=draw(st.sampled_from([1.0, 0.95, 0.9])),
                initial_kwh=draw(st.sampled_from([0.0, cap / 2])),
                charge_from=draw(st.sampled_from(["any", "local"])),
                owner=name,
            )
        parts[name] = Participant(
            name,
            block="blk" if in_block else None,
            load=Load(series()) if draw(st.booleans()) or not gens else None,
            generation=gens,
            battery=bat,
            connection=Connection(50.0, 50.0) if draw(st.booleans()) else None,
        )
    markets = {}
    if draw(st.booleans()):
        markets["m"] = Market(
            "m",
            draw(st.sampled_from(["p2p", "pool"])),
            tuple(parts),
            fee_per_kwh=draw(st.sampled_from([0.0, 0.01])),
            loss=draw(st.sampled_from([0.0, 0.05])),
        )
    blocks = {"blk": Block("blk", Connection(100.0, 100.0), tuple(parts))} if in_block else {}
    energy_charge = np.full(n, 0.04) if draw(st.booleans()) else None
    capacity = draw(st.sampled_from([0.0, 5.0]))
    charge_on = draw(st.sampled_from(["meter", "purchase"]))
    return Design(
        title="objects",
        currency="EUR",
        time=TimeGrid(datetime(2021, 6, 7), step_h, n, "UTC"),
        grid=Grid(buy, sell),
        participants=parts,
        blocks=blocks,
        markets=markets,
        dso=Dso(
            energy_charge_per_kwh=energy_charge,
            capacity_charge_per_kw_month=capacity,
            charge_on=charge_on,  # type: ignore[arg-type]
        ),
    )


@settings(max_examples=N_OBJECTS, **COMMON)  # type: ignore[arg-type]
@given(d=design_objects(), k=st.sampled_from([0.5, 3.0]))
def test_properties_on_design_objects(d: Design, k: float) -> None:
    try:
        check_design(d, k)
    except PebdslError as e:  # every generated design is feasible: a model error is a bug
        pytest.fail(e.render())


def test_the_checks_catch_a_broken_result() -> None:
    """The property checks are not vacuous: a tampered balance or account fails them."""
    from pebdsl.solve import solve

    d = next(iter(_examples()))
    r = solve(d)
    check_energy_balances(r)
    check_money(r)
    col = (next(iter(d.participants)), "grid_import")
    r.participants_ts[col] = r.participants_ts[col] + 0.1
    with pytest.raises(AssertionError):
        check_energy_balances(r)
    assert r.bills is not None
    r.bills.loc[next(iter(d.participants)), "total"] += 0.1
    with pytest.raises(AssertionError):
        check_money(r)


def _examples() -> list[Design]:
    """A fixed small design: two houses with PV, one battery, a p2p market, a block."""
    n = 4
    load = np.array([1.0, 2.0, 1.5, 0.5])
    pv = np.array([0.0, 3.0, 2.0, 0.0])
    parts = {
        "a": Participant(
            "a",
            block="blk",
            load=Load(load),
            generation=(Generation("pv", pv),),
            battery=Battery("a.battery", capacity_kwh=2.0, power_kw=1.0, owner="a"),
        ),
        "b": Participant("b", block="blk", load=Load(load[::-1].copy())),
    }
    return [
        Design(
            title="fixed",
            currency="EUR",
            time=TimeGrid(datetime(2021, 6, 7), 1.0, n, "UTC"),
            grid=Grid(np.array([0.2, 0.3, 0.3, 0.2]), np.full(n, 0.05)),
            participants=parts,
            blocks={"blk": Block("blk", None, ("a", "b"))},
            markets={"m": Market("m", "p2p", ("a", "b"), fee_per_kwh=0.01, loss=0.02)},
        )
    ]
