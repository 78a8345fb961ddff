"""Rules that must hold in substance, not in name: each design below tries to game one rule.

Every optimum is derived by hand in the design's docstring (one-hour steps; buy and sell prices
in EUR/kWh as stated; cost = price x kW x 1 h) and asserted with both backends. Each of these
designs was solved wrongly before the model-fidelity rework (the value it gave is quoted), when
DSO charges fell on retail purchases and "local" was bounded by gross generation.
"""

from __future__ import annotations

import numpy as np
import pytest
from model_helpers import Dso, Product, block, design, market, participant

from pebdsl.design import Battery, Design
from pebdsl.diagnostics import PebdslError
from pebdsl.results import Results
from pebdsl.solve import solve

TOL = 1e-6
BACKENDS = ("highs", "pyomo")


def local_battery(**kw: object) -> dict[str, object]:
    return dict(capacity_kwh=10.0, power_kw=10.0, charge_from="local", **kw)


def own_load_swap() -> Design:
    """One participant: load 3 kW in both hours, PV 3 kW in hour 0 only, buy 0.10 then 0.50,
    sell 0, a 10 kWh battery (η = 1) with `charge_from = local`.

    The PV serves the load in hour 0 (own use first): there is no surplus to store, so hour 1
    is bought at 0.50: 3 x 0.50 = 1.50. (Gross-generation rule: PV "charged" the battery while
    the grid served the load at 0.10, then the battery served hour 1: 0.30.)"""
    return design(
        [participant("alice", 2, load=3.0, pv=[3.0, 0.0], battery=local_battery())],
        n=2,
        buy=[0.10, 0.50],
        sell=0.0,
    )


def neighbour_swap() -> Design:
    """alice: local-only battery, load 3 kW in hour 1. bob: PV 3 kW and load 3 kW in hour 0.
    A p2p market without fee or loss; buy 0.10 then 0.50, sell 0.

    bob's PV covers his own load, so he has no surplus to sell; alice buys hour 1 from the
    grid: 3 x 0.50 = 1.50. (Before: bob sold his PV to alice's battery and imported his own
    load at 0.10: 0.30.)"""
    return design(
        [
            participant("alice", 2, load=[0.0, 3.0], battery=local_battery()),
            participant("bob", 2, load=[3.0, 0.0], pv=[3.0, 0.0]),
        ],
        n=2,
        buy=[0.10, 0.50],
        sell=0.0,
        markets=[market("m", ["alice", "bob"])],
    )


def resale_in_second_market(premium: float = 0.05) -> Design:
    """x: PV 1 kW in hour 0, no load, member of m1 (with alice) and m2 (with w). alice: a
    local-only battery, load 1 kW in hour 1. w: load 1 kW in hour 0. m2 trades `green` (origin
    pv, premium 0.05) besides energy. Buy 0.10 then 0.50, sell 0.

    x's surplus (1 kWh) goes either to alice's battery (saves 0.50; w imports at 0.10: 0.10) or
    to w as green (saves 0.10 and earns the premium; alice imports at 0.50: 0.50 − 0.05 =
    0.45): the optimum is 0.10. The cheat — x sells its PV to w as green and passes 1 kWh of
    grid energy into m1 for alice's battery — would give 0.10 − 0.05 = 0.05 (what the
    market-by-market no-resale rule allowed): x sells at most its surplus over both markets."""
    return design(
        [
            participant("x", 2, pv=[1.0, 0.0]),
            participant("alice", 2, load=[0.0, 1.0], battery=local_battery()),
            participant("w", 2, load=[1.0, 0.0]),
        ],
        n=2,
        buy=[0.10, 0.50],
        sell=0.0,
        products=[Product("green", ("pv",), premium)],
        markets=[
            market("m1", ["x", "alice"]),
            market("m2", ["x", "w"], products=("energy", "green")),
        ],
    )


def wash_trade() -> Design:
    """a and b: PV 1 kW and load 1 kW each, one hour; p2p with `green` (origin pv, premium
    0.05). Both are self-sufficient: neither has surplus to sell nor unserved consumption to
    buy for, so no premium is earned: cost 0. (Before: they swapped their output and each
    earned the premium on 1 kWh: −0.10.)"""
    return design(
        [participant("a", 1, load=1.0, pv=1.0), participant("b", 1, load=1.0, pv=1.0)],
        n=1,
        buy=0.30,
        sell=0.0,
        products=[Product("green", ("pv",), 0.05)],
        markets=[market("m", ["a", "b"], products=("green",))],
    )


def premium_two_markets() -> Design:
    """a: PV 2 kW, no load; b: load 1 kW; two p2p markets between them, both trading `green`
    (origin pv, premium 0.05); buy 0.30, sell 0, one hour. b consumes 1 kWh, so it earns the
    premium on 1 kWh whatever the market: −0.05. (Before, the cap was per market: b bought
    1 kWh in each, exported the spare kWh at 0 and earned the premium twice: −0.10.)"""
    return design(
        [participant("a", 1, pv=2.0), participant("b", 1, load=1.0)],
        n=1,
        buy=0.30,
        sell=0.0,
        products=[Product("green", ("pv",), 0.05)],
        markets=[
            market("m1", ["a", "b"], products=("green",)),
            market("m2", ["a", "b"], products=("green",)),
        ],
    )


def capacity_between_meters(charge_on: str) -> Design:
    """June 2021 (720 hourly steps, so the month's capacity charge is billed whole). a draws
    10 kW in hour 0, b 10 kW in hour 1, nothing else; buy 0.10; a 1 EUR/kW/month capacity
    charge on each participant; a p2p market between them.

    Meter basis: each meter withdraws 10 kW at its peak whatever they trade (a trade of grid
    energy from a to b goes through both meters): 2 x 10 EUR + 20 kWh x 0.10 = 22.00.
    Purchase basis (the old rule, now a stated regime): a buys 5 kW from the grid in both hours
    and passes 5 kW to b in hour 1, b buys 5 kW: peaks 5 + 5 → 10 + 2 = 12.00."""
    n = 720
    la = np.zeros(n)
    lb = np.zeros(n)
    la[0] = 10.0
    lb[1] = 10.0
    return design(
        [participant("a", n, load=la), participant("b", n, load=lb)],
        n=n,
        buy=0.10,
        sell=0.0,
        start="2021-06-01T00:00",
        markets=[market("m", ["a", "b"])],
        dso=Dso(capacity_charge_per_kw_month=1.0, charge_on=charge_on),  # type: ignore[arg-type]
    )


def energy_charge_local_trade(charge_on: str) -> Design:
    """a: PV 2 kW, no load; b: load 2 kW; buy 0.30, sell 0.05, energy charge 0.05, one hour,
    p2p without fee or loss.

    Meter basis: b's meter withdraws 2 kW whether the energy comes from a or from the grid, so
    local trade pays the energy charge: b buys a's PV, 2 x 0.05 = 0.10 (exporting instead would
    cost 2 x (0.30 + 0.05) − 2 x 0.05 = 0.60). Purchase basis: local purchases are exempt: 0."""
    return design(
        [participant("a", 1, pv=2.0), participant("b", 1, load=2.0)],
        n=1,
        buy=0.30,
        sell=0.05,
        markets=[market("m", ["a", "b"])],
        dso=Dso(energy_charge_per_kwh=np.array([0.05]), charge_on=charge_on),  # type: ignore[arg-type]
    )


def shared_local_battery_swap() -> Design:
    """A shared battery with `charge_from = local` in a pool with bob (PV 3 kW, load 3 kW in
    hour 0) and carol (load 3 kW in hour 1); buy 0.10 then 0.50, sell 0.

    bob has no surplus, so the battery gets nothing: carol buys at 0.50: 1.50. (Before: bob sold
    his PV to the battery while importing his own load at 0.10: 0.30.)"""
    return design(
        [
            participant("bob", 2, load=[3.0, 0.0], pv=[3.0, 0.0], block="b"),
            participant("carol", 2, load=[0.0, 3.0], block="b"),
        ],
        n=2,
        buy=[0.10, 0.50],
        sell=0.0,
        blocks=[block("b", ["bob", "carol"], batteries=("store",))],
        shared=[Battery("store", 10.0, 10.0, charge_from="local", block="b")],
        markets=[market("pool", ["bob", "carol"], type="pool", batteries=("store",))],
    )


def local_surplus_stored() -> Design:
    """The rule still lets real surplus through: alice PV 5 kW and load 3 kW in hour 0, load
    3 kW in hour 1, a local-only battery (η = 1); buy 0.10 then 0.50, sell 0.

    Own use 3 kW; the 2 kW surplus is stored and serves hour 1, the rest is bought:
    1 x 0.50 = 0.50. (Before: 0.10 — the PV "charged" 5 kW while the grid served the load.)"""
    return design(
        [participant("alice", 2, load=3.0, pv=[5.0, 0.0], battery=local_battery())],
        n=2,
        buy=[0.10, 0.50],
        sell=0.0,
    )


DESIGNS = {
    "own_load_swap": (own_load_swap, 1.50),
    "neighbour_swap": (neighbour_swap, 1.50),
    "resale_in_second_market": (resale_in_second_market, 0.10),
    "wash_trade": (wash_trade, 0.0),
    "premium_two_markets": (premium_two_markets, -0.05),
    "capacity_meter": (lambda: capacity_between_meters("meter"), 22.0),
    "capacity_purchase": (lambda: capacity_between_meters("purchase"), 12.0),
    "energy_meter": (lambda: energy_charge_local_trade("meter"), 0.10),
    "energy_purchase": (lambda: energy_charge_local_trade("purchase"), 0.0),
    "shared_local_battery_swap": (shared_local_battery_swap, 1.50),
    "local_surplus_stored": (local_surplus_stored, 0.50),
}


@pytest.fixture(scope="module")
def solved() -> dict[tuple[str, str], Results]:
    return {(k, b): solve(f(), backend=b) for k, (f, _) in DESIGNS.items() for b in BACKENDS}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(DESIGNS))
def test_optimum_by_hand(solved: dict, name: str, backend: str) -> None:
    assert solved[name, backend].objective == pytest.approx(DESIGNS[name][1], abs=TOL)


@pytest.mark.parametrize("name", list(DESIGNS))
def test_money_closes(solved: dict, name: str) -> None:
    assert abs(solved[name, "highs"].money["residual"]) < 1e-6


def test_capacity_bills_follow_the_meters(solved: dict) -> None:
    """On the meter basis each participant pays the capacity charge of its own meter's peak
    (10 kW x 1 EUR/kW), whoever bought from whom."""
    r = solved["capacity_meter", "highs"]
    assert r.bills.loc["a", "capacity_charges"] == pytest.approx(10.0, abs=TOL)
    assert r.bills.loc["b", "capacity_charges"] == pytest.approx(10.0, abs=TOL)
    assert r.bills.loc["dso", "capacity_charges"] == pytest.approx(-20.0, abs=TOL)


def test_energy_charge_paid_at_the_buyers_meter(solved: dict) -> None:
    r = solved["energy_meter", "highs"]
    assert r.bills.loc["b", "energy_charges"] == pytest.approx(0.10, abs=TOL)
    assert r.bills.loc["a", "energy_charges"] == pytest.approx(0.0, abs=TOL)


def test_no_grid_energy_reaches_the_local_battery(solved: dict) -> None:
    """In the resale design alice's battery holds only x's PV (1 kWh), and x's sales over both
    markets never exceed its surplus."""
    r = solved["resale_in_second_market", "highs"]
    ts = r.participants_ts
    sold = ts[("x", "local_sold")].to_numpy()
    assert sold[0] == pytest.approx(1.0, abs=TOL)
    assert ts[("x", "grid_import")].to_numpy().sum() == pytest.approx(0.0, abs=TOL)


def test_participant_connection_carries_local_trades() -> None:
    """b's connection is 5 kW; b needs 8 kW in one hour. a has 10 kW of PV. Through a 5 kW
    connection b cannot receive 8 kW, from the grid or from a neighbour: infeasible, reported
    at b's connection (before, the local purchase bypassed the connection)."""
    d = design(
        [
            participant("a", 1, pv=10.0),
            participant("b", 1, load=8.0, connection=(5.0, 5.0)),
        ],
        n=1,
        markets=[market("m", ["a", "b"])],
    )
    with pytest.raises(PebdslError) as e:
        solve(d)
    assert "E501" in e.value.codes


def test_purchase_basis_never_costs_more_than_meter_basis() -> None:
    """A hand-sized instance of the property tested on generated designs: the purchase basis
    exempts local trades, so it costs at most what the meter basis costs."""
    for charge_on in ("meter", "purchase"):
        assert solve(capacity_between_meters(charge_on)).objective > 0
    assert (
        solve(capacity_between_meters("purchase")).objective
        <= solve(capacity_between_meters("meter")).objective + TOL
    )
