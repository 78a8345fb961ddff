"""One small design per market rule, its optimum derived by hand in the comment and asserted.

Conventions: buy 0.30, sell 0.05 EUR/kWh unless stated; one-hour steps unless stated; every
cost is price x kW x dt_h. Also: energy balances and the money account close on every design.
"""

from __future__ import annotations

import numpy as np
import pytest
from model_helpers import (
    Battery,
    Dso,
    FlexibilityNeed,
    Link,
    Product,
    block,
    design,
    market,
    participant,
    simple_community,
)

from pebdsl.design import Design
from pebdsl.lower import lower
from pebdsl.results import Results
from pebdsl.solve import solve

TOL = 1e-6


def q(res: Results, entity: str, quantity: str, frame: str = "participants_ts") -> np.ndarray:
    return getattr(res, frame)[(entity, quantity)].to_numpy()


# -- the designs ---------------------------------------------------------------------------


def p2p_fee() -> Design:
    # alice: 2 kW PV, no load; bob: 2 kW load; one step. Trading costs bob the fee only:
    # 2 kWh x 0.01 = 0.02 (vs. export 2 x 0.05 and import 2 x 0.30: 0.50 without trade).
    return design(
        [participant("alice", 1, pv=2.0), participant("bob", 1, load=2.0)],
        n=1,
        markets=[market("m", ["alice", "bob"], fee_per_kwh=0.01)],
    )


def p2p_loss() -> Design:
    # Loss 10 %: bob's 1 kWh needs 1/0.9 kWh sent; alice exports the rest:
    # −0.05 x (2 − 1/0.9) = −0.0444…  (bob importing would cost 0.30 > 0.05/0.9 lost export).
    return design(
        [participant("alice", 1, pv=2.0), participant("bob", 1, load=1.0)],
        n=1,
        markets=[market("m", ["alice", "bob"], loss=0.10)],
    )


def pool() -> Design:
    # alice 3 kW PV; bob and carol 1 kW load each; pool fee 0.02. Buyers take 2 kWh from the
    # pool (fees 0.04), alice exports 1 (−0.05): objective −0.01. Alice exports at the margin,
    # so the pool price is her export price 0.05 (unique), buyers' value 0.05 + 0.02 = 0.07.
    return design(
        [
            participant("alice", 1, pv=3.0),
            participant("bob", 1, load=1.0),
            participant("carol", 1, load=1.0),
        ],
        n=1,
        markets=[market("pool", ["alice", "bob", "carol"], type="pool", fee_per_kwh=0.02)],
    )


def battery_30min() -> Design:
    # dt = 0.5 h, η = 0.9 one way, sell = 0. PV 2 kW in step 0 (1 kWh) charges 2 kW:
    # soc = 0.9 x 2 x 0.5 = 0.9 kWh. Load 1 kW in steps 2, 3 = 1 kWh; discharge delivers
    # 0.9 x 0.9 = 0.81 kWh; the grid gives 0.19 kWh x 0.30 = 0.057.
    return design(
        [
            participant(
                "alice",
                4,
                load=[0, 0, 1, 1],
                pv=[2, 0, 0, 0],
                battery=dict(capacity_kwh=10, power_kw=5, efficiency=0.9),
            )
        ],
        n=4,
        step_h=0.5,
        sell=0.0,
    )


def charge_local(rule: str, bob_pv: float) -> Design:
    # alice: battery (η = 1), load 1 kW in step 1; buy 0.10 then 0.50, sell 0.
    # `any`: charge 1 kWh from the grid at 0.10 → 0.10.
    # `local`, bob without PV: no local energy, buy at 0.50 → 0.50.
    # `local`, bob 0.4 kW PV in step 0: 0.4 via the market, 0.6 x 0.50 = 0.30.
    return design(
        [
            participant(
                "alice",
                2,
                load=[0, 1],
                battery=dict(capacity_kwh=5, power_kw=5, charge_from=rule),
            ),
            participant("bob", 2, pv=[bob_pv, 0.0]),
        ],
        n=2,
        buy=[0.10, 0.50],
        sell=0.0,
        markets=[market("m", ["alice", "bob"])],
    )


def no_sell() -> Design:
    # sell = none: no export variables; alice's 2 kW PV serves 1 kW, 1 kW is curtailed: cost 0.
    return design([participant("alice", 1, load=1.0, pv=2.0)], n=1, sell=None)


def block_connection() -> Design:
    # Block limit 3 kW; alice load 2 then 4 kW; battery 10 kWh / 5 kW, η = 1, empty.
    # Step 1 needs 4 > 3: pre-charge 1 kWh in step 0. Imports 3, 3: 0.2 x 3 + 0.3 x 3 = 1.5.
    return design(
        [
            participant(
                "alice",
                2,
                load=[2, 4],
                block="b",
                battery=dict(capacity_kwh=10, power_kw=5),
            )
        ],
        n=2,
        buy=[0.2, 0.3],
        blocks=[block("b", ["alice"], conn=3.0)],
    )


def link_capacity() -> Design:
    # Two blocks; alice (A) 10 kW PV, bob (B) 5 kW load; exchange market, link A--B 3 kW with
    # fee 0.01. Bob receives 3 over the link (fee 0.03), imports 2 (0.60); alice exports 7
    # (−0.35): objective 0.28.
    return design(
        [
            participant("alice", 1, pv=10.0, block="A"),
            participant("bob", 1, load=5.0, block="B"),
        ],
        n=1,
        blocks=[block("A", ["alice"]), block("B", ["bob"])],
        markets=[market("x", ["alice", "bob"])],
        dso=Dso(links=(Link("A", "B", capacity_kw=3.0, fee_per_kwh=0.01),)),
    )


def energy_charge() -> Design:
    # 1 kW for two steps, buy 0.2, energy charge 0.05 then 0.10: 0.4 + 0.15 = 0.55.
    return design(
        [participant("alice", 2, load=1.0)],
        n=2,
        buy=0.2,
        dso=Dso(energy_charge_per_kwh=np.array([0.05, 0.10])),
    )


def capacity_charge(with_battery: bool) -> Design:
    # 48 hourly steps in June (30 days): the month's share is 48/720 = 1/15. Load 1 kW, 4 kW
    # in hour 24; buy 0.1; capacity charge 15 EUR/kW/month → 1 EUR per kW of peak here.
    # Energy 51 kWh x 0.1 = 5.1. Without battery: peak 4 → 9.1.
    # With a 10 kWh / 5 kW battery (η = 1) the import is flat at p over hours 0–24: the battery
    # charges 24·(p − 1) before hour 24 and discharges 4 − p in it: 24(p − 1) = 4 − p, so
    # p = 28/25 = 1.12 → 5.1 + 1.12 = 6.22.
    load = np.ones(48)
    load[24] = 4.0
    return design(
        [
            participant(
                "alice",
                48,
                load=load,
                battery=dict(capacity_kwh=10, power_kw=5) if with_battery else None,
            )
        ],
        n=48,
        buy=0.1,
        sell=0.0,
        dso=Dso(capacity_charge_per_kw_month=15.0),
    )


def flexibility(price: float | None) -> Design:
    # Block import limit 3 kW; alice load 4 then 1 kW; battery 10 kWh / 5 kW, η = 1, holds
    # 1 kWh; buy 0.2 then 0.3. Baseline (no need): keep the battery for step 1: imports 4, 0
    # → 0.8. Hard limit: discharge 1 in step 0: imports 3, 1 → 0.9; delivered 1 kW at the
    # flexibility price 0.1 (relaxing the limit by 1 saves 0.3 − 0.2).
    # Priced at 0.05: cheaper to exceed: imports 4, 0, excess 1 → 0.8 + 0.05 = 0.85.
    # Priced at 0.20: as hard → 0.9.
    return design(
        [
            participant(
                "alice",
                2,
                load=[4, 1],
                block="b",
                battery=dict(capacity_kwh=10, power_kw=5, initial_kwh=1.0),
            )
        ],
        n=2,
        buy=[0.2, 0.3],
        sell=0.0,
        blocks=[block("b", ["alice"])],
        dso=Dso(flexibility=(FlexibilityNeed("b", 3.0, price),)),
    )


def product() -> Design:
    # alice: 2 kW PV + 1 kW wind, no load; bob 2 kW, carol 1 kW load; p2p fee 0.01, products
    # energy and green (origin pv, premium 0.02). Buyers receive 3 kWh (fees 0.03); green is
    # bounded by alice's PV: 2 kWh earn −0.04 premium. Objective −0.01; non-monetary −0.04.
    return design(
        [
            participant("alice", 1, pv=2.0, wind=1.0),
            participant("bob", 1, load=2.0),
            participant("carol", 1, load=1.0),
        ],
        n=1,
        sell=0.0,
        markets=[
            market(
                "m",
                ["alice", "bob", "carol"],
                fee_per_kwh=0.01,
                products=("energy", "green"),
            )
        ],
        products=[Product("green", origin=("pv",), premium_per_kwh=0.02)],
    )


def pair_fees() -> Design:
    # Pair fees alice→bob 0.01, alice→carol 0.05 (per-pair form); alice 1 kW PV; bob and
    # carol 1 kW load: alice serves bob (0.01), carol imports (0.30): objective 0.31.
    return design(
        [
            participant("alice", 1, pv=1.0),
            participant("bob", 1, load=1.0),
            participant("carol", 1, load=1.0),
        ],
        n=1,
        markets=[
            market(
                "m",
                ["alice", "bob", "carol"],
                fee_per_kwh=0.05,
                pair_fees_per_kwh={("alice", "bob"): 0.01, ("alice", "carol"): 0.05},
            )
        ],
    )


def shared_battery() -> Design:
    # A shared battery (η = 1) in the block's pool: alice's 2 kW PV in step 0 is stored and
    # sold to bob in step 1; sell 0, buy 0.3: objective 0 (vs 0.6 without storage).
    return design(
        [
            participant("alice", 2, pv=[2.0, 0.0], block="b"),
            participant("bob", 2, load=[0.0, 2.0], block="b"),
        ],
        n=2,
        sell=0.0,
        blocks=[block("b", ["alice", "bob"], batteries=("store",))],
        shared=[Battery("store", 5.0, 5.0, block="b")],
        markets=[market("pool", ["alice", "bob"], type="pool", batteries=("store",))],
    )


DESIGNS = {
    "p2p_fee": (p2p_fee, 0.02),
    "p2p_loss": (p2p_loss, -0.05 * (2 - 1 / 0.9)),
    "pool": (pool, -0.01),
    "battery_30min": (battery_30min, 0.057),
    "charge_any": (lambda: charge_local("any", 0.0), 0.10),
    "charge_local": (lambda: charge_local("local", 0.0), 0.50),
    "charge_local_pv": (lambda: charge_local("local", 0.4), 0.30),
    "no_sell": (no_sell, 0.0),
    "block_connection": (block_connection, 1.5),
    "link_capacity": (link_capacity, 0.28),
    "energy_charge": (energy_charge, 0.55),
    "capacity_charge": (lambda: capacity_charge(False), 9.1),
    "capacity_charge_battery": (lambda: capacity_charge(True), 6.22),
    "flex_hard": (lambda: flexibility(None), 0.9),
    "flex_priced_low": (lambda: flexibility(0.05), 0.85),
    "flex_priced_high": (lambda: flexibility(0.20), 0.9),
    "product": (product, -0.01),
    "pair_fees": (pair_fees, 0.31),
    "shared_battery": (shared_battery, 0.0),
    "simple_community": (lambda: simple_community(4), None),
}


@pytest.fixture(scope="module")
def solved() -> dict[str, Results]:
    return {k: solve(f()) for k, (f, _) in DESIGNS.items()}


@pytest.mark.parametrize("name", [k for k, (_, v) in DESIGNS.items() if v is not None])
def test_optimum_by_hand(solved: dict[str, Results], name: str) -> None:
    assert solved[name].objective == pytest.approx(DESIGNS[name][1], abs=TOL)


def test_p2p_fee_trade(solved: dict[str, Results]) -> None:
    r = solved["p2p_fee"]
    assert q(r, "bob", "local_bought")[0] == pytest.approx(2.0)
    assert r.trades["m"].loc["alice", "bob"] == pytest.approx(2.0)
    assert r.bills.loc["bob", "fees"] == pytest.approx(0.02)
    assert r.bills.loc["m", "fees"] == pytest.approx(-0.02)  # the operator collects it


def test_p2p_loss_volumes(solved: dict[str, Results]) -> None:
    r = solved["p2p_loss"]
    assert q(r, "alice", "local_sold")[0] == pytest.approx(1 / 0.9)
    assert q(r, "m", "loss", "markets_ts")[0] == pytest.approx(0.1 / 0.9)


def test_pool_price(solved: dict[str, Results]) -> None:
    r = solved["pool"]
    assert q(r, "pool", "price", "markets_ts")[0] == pytest.approx(0.05)
    assert r.bills.loc["alice", "total"] == pytest.approx(-0.05 - 2 * 0.05)
    assert r.bills.loc["bob", "total"] == pytest.approx(0.07)


def test_battery_soc_30min(solved: dict[str, Results]) -> None:
    r = solved["battery_30min"]
    assert q(r, "alice.battery", "soc", "batteries_ts")[0] == pytest.approx(0.9)
    assert q(r, "alice", "grid_import").sum() * 0.5 == pytest.approx(0.19)


def test_no_sell_has_no_export(solved: dict[str, Results]) -> None:
    assert "ge" not in lower(no_sell()).vars
    r = solved["no_sell"]
    assert q(r, "alice", "curtailment")[0] == pytest.approx(1.0)
    assert q(r, "alice", "grid_export")[0] == 0.0


def test_block_connection_precharges(solved: dict[str, Results]) -> None:
    r = solved["block_connection"]
    np.testing.assert_allclose(q(r, "alice", "grid_import"), [3.0, 3.0], atol=TOL)
    np.testing.assert_allclose(q(r, "b", "import", "blocks_ts"), [3.0, 3.0], atol=TOL)


def test_link_flow_capped(solved: dict[str, Results]) -> None:
    r = solved["link_capacity"]
    assert q(r, "A--B", "flow_ab", "links_ts")[0] == pytest.approx(3.0)
    assert q(r, "B", "from_blocks", "blocks_ts")[0] == pytest.approx(3.0)
    assert q(r, "A", "to_blocks", "blocks_ts")[0] == pytest.approx(3.0)
    assert r.bills.loc["dso", "link_fees"] == pytest.approx(-0.03)


def test_energy_charge_billed(solved: dict[str, Results]) -> None:
    assert solved["energy_charge"].bills.loc["alice", "energy_charges"] == pytest.approx(0.15)


def test_capacity_charge_pro_rata(solved: dict[str, Results]) -> None:
    r = solved["capacity_charge"]
    assert r.bills.loc["alice", "capacity_charges"] == pytest.approx(15.0 * 4.0 * 48 / 720)
    r2 = solved["capacity_charge_battery"]
    assert q(r2, "alice", "grid_import").max() == pytest.approx(1.12)


def test_flexibility_hard_price_and_payment(solved: dict[str, Results]) -> None:
    # A hard need declares no price: the DSO pays the dual of the limit, 0.1 (above).
    r = solved["flex_hard"]
    assert q(r, "b", "flexibility_price", "blocks_ts")[0] == pytest.approx(0.1)
    assert q(r, "b", "flexibility", "blocks_ts")[0] == pytest.approx(1.0)
    assert r.money["flexibility_payments"] == pytest.approx(0.1)
    assert r.bills.loc["alice", "flexibility"] == pytest.approx(-0.1)


def test_flexibility_paid_at_the_declared_price(solved: dict[str, Results]) -> None:
    """Priced at 0.20 EUR/kWh (`flexibility(0.20)` above): exceeding by 1 kW would cost 0.20 >
    0.10 (what discharging in step 0 instead of step 1 costs: 0.30 − 0.20), so alice discharges
    in step 0 and the import stays at the 3 kW limit: flexibility delivered = baseline 4 −
    max(limit 3, import 3) = 1 kW for 1 h. The limit binds with no excess, so its dual is the
    price gap 0.10, not 0.20: the local price is 0.10 but the DSO pays the price it declared,
    1 kWh × 0.20 = 0.20 EUR, to alice (the only member, who cut her import by 1 kW). Her bill:
    grid 3 × 0.20 + 1 × 0.30 = 0.90 less 0.20 = 0.70; the money closes:
    Σ bills 0.70 = total cost 0.90 − flexibility payments 0.20."""
    r = solved["flex_priced_high"]
    assert q(r, "b", "flexibility", "blocks_ts")[0] == pytest.approx(1.0)
    assert q(r, "b", "flexibility_price", "blocks_ts")[0] == pytest.approx(0.10)
    assert q(r, "b", "flexibility_paid", "blocks_ts")[0] == pytest.approx(0.20)
    assert r.money["flexibility_payments"] == pytest.approx(0.20)
    assert r.bills is not None
    assert r.bills.loc["alice", "flexibility"] == pytest.approx(-0.20)
    assert r.bills.loc["alice", "total"] == pytest.approx(0.70)
    assert r.bills.loc["dso", "flexibility"] == pytest.approx(0.20)
    assert r.values["flexibility_value"] == pytest.approx(0.20)
    assert r.money["residual"] == pytest.approx(0.0, abs=TOL)


def test_flexibility_priced_excess(solved: dict[str, Results]) -> None:
    low = solved["flex_priced_low"]
    assert q(low, "b", "import", "blocks_ts")[0] == pytest.approx(4.0)
    assert q(low, "b", "flexibility_price", "blocks_ts")[0] == pytest.approx(0.05)
    assert low.money["non_monetary"] == pytest.approx(0.05)
    high = solved["flex_priced_high"]
    assert q(high, "b", "import", "blocks_ts")[0] == pytest.approx(3.0)


def test_product_origin_and_premium(solved: dict[str, Results]) -> None:
    r = solved["product"]
    assert q(r, "m", "volume_green", "markets_ts")[0] == pytest.approx(2.0)
    assert q(r, "m", "volume_energy", "markets_ts")[0] == pytest.approx(1.0)
    assert r.money["non_monetary"] == pytest.approx(-0.04)


def test_pair_form_matches_compact() -> None:
    # The per-pair form with every pair at the uniform fee is the compact form exactly.
    base = simple_community(4)
    m = base.markets["p2p"]
    pairs = {(a, b): m.fee_per_kwh for a in m.members for b in m.members if a != b}
    from dataclasses import replace

    forced = replace(base, markets={"p2p": replace(m, pair_fees_per_kwh=pairs)})
    assert lower(forced).inverse.markets["p2p"].form == "pair"
    assert solve(forced).objective == pytest.approx(solve(base).objective, abs=TOL)


def test_shared_battery_owner_row(solved: dict[str, Results]) -> None:
    r = solved["shared_battery"]
    np.testing.assert_allclose(q(r, "store", "charge", "batteries_ts"), [2.0, 0.0], atol=TOL)
    assert r.bill_roles["store"] == "battery"


def test_quarter_hour_equals_hourly() -> None:
    # The same energies in 15-minute steps (every hourly value repeated 4 times) cost the same.
    hourly = simple_community(4)
    n = 16
    pv = np.repeat([0.0, 3.0, 4.0, 0.0], 4)
    from model_helpers import Dso as _Dso

    quarter = design(
        [
            participant(
                "alice",
                n,
                load=0.5,
                pv=pv,
                battery=dict(capacity_kwh=4.0, power_kw=2.0, efficiency=0.95),
            ),
            participant("bob", n, load=1.0),
            participant("carol", n, load=np.repeat([0.8, 1.2, 0.6, 1.5], 4)),
        ],
        n=n,
        step_h=0.25,
        markets=[market("p2p", ["alice", "bob", "carol"], fee_per_kwh=0.01, loss=0.02)],
        dso=_Dso(energy_charge_per_kwh=np.full(n, 0.04)),
    )
    assert solve(quarter).objective == pytest.approx(solve(hourly).objective, abs=TOL)


# -- conservation on every design ----------------------------------------------------------


@pytest.mark.parametrize("name", list(DESIGNS))
def test_money_closes(solved: dict[str, Results], name: str) -> None:
    r = solved[name]
    assert abs(r.money["residual"]) < TOL
    assert r.money["total_bills"] == pytest.approx(
        r.objective
        - r.money["non_monetary"]
        - r.money["flexibility_payments"]
        + r.money["market_surplus"]
        + r.money["shared_batteries"],
        abs=TOL,
    )
    # Every transfer has a counter-entry: all parties together bear only the real costs.
    assert r.money["all_parties"] == pytest.approx(r.money["real_costs"], abs=TOL)


@pytest.mark.parametrize("name", list(DESIGNS))
def test_energy_balances_close(solved: dict[str, Results], name: str) -> None:
    r = solved[name]
    for p in r.design.participants:
        supply = (
            q(r, p, "grid_import")
            - q(r, p, "grid_export")
            + q(r, p, "generation_used")
            + q(r, p, "battery_discharge")
            - q(r, p, "battery_charge")
            + q(r, p, "local_bought")
            - q(r, p, "local_sold")
        )
        np.testing.assert_allclose(supply, q(r, p, "load"), atol=TOL)
    for m, info in lower(r.design).inverse.markets.items():
        sent = sum(q(r, a, "local_sold") for a in info.traders if a in r.design.participants)
        mts = r.markets_ts
        assert np.all(mts[(m, "volume")].to_numpy() >= -TOL)
        assert np.all(mts[(m, "loss")].to_numpy() >= -TOL)
        del sent


def test_flexible_load_windows_follow_the_local_clock() -> None:
    # One participant, 1 kW of load in 4 hourly steps, half of it shiftable within 4-hour
    # windows at no cost; grid prices 0.5, 0.5, 0.1, 0.1; Europe/Oslo.
    # From 02:00 local time the windows 00-04 (steps 0-1) and 04-08 (steps 2-3) each hold
    # equal prices, so shifting gains nothing: 2 x 0.5 + 2 x 0.1 = 1.2. (Windows counted from
    # the horizon's start would hold all four steps.)
    # From 00:00 one window holds all four: 0.5 kW moves out of each expensive hour into a
    # cheap one, 2 x 0.5 x 0.5 + 2 x 1.5 x 0.1 = 0.8.
    def cost(start: str) -> float:
        a = participant("a", 4, load=1.0, flexible=dict(share=0.5, window_h=4.0))
        buy = np.array([0.5, 0.5, 0.1, 0.1])
        d = design([a], n=4, buy=buy, sell=None, start=start, tz="Europe/Oslo")
        return solve(d).objective

    assert cost("2021-06-07T02:00") == pytest.approx(1.2)
    assert cost("2021-06-07T00:00") == pytest.approx(0.8)
