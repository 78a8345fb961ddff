"""Honest money (issue 8): real money apart from shadow terms, the `rent` rule, link fees paid by
the trading pairs, shared batteries' earnings passed to their owners, one fee per stored kWh.

Every expected figure is derived by hand in the test's docstring. Conventions: one-hour steps,
grid sell 0.05 and buy 0.30 EUR/kWh unless stated; bills are + paid, − received.
"""

from __future__ import annotations

from dataclasses import replace

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
)

from pebdsl.design import Design
from pebdsl.present.output import results_json
from pebdsl.results import Results
from pebdsl.solve import solve
from pebdsl.study.compare import Case, summarize

TOL = 1e-6


def _closes(r: Results) -> None:
    """Every account closes: no residual, shared batteries' rows end at zero."""
    assert abs(r.money["residual"]) < TOL, r.money
    assert r.bills is not None
    for b in r.design.shared_batteries:
        assert r.bills.loc[b, "total"] == pytest.approx(0.0, abs=TOL)


# -- real vs shadow cost ---------------------------------------------------------------------


def flex_design(price: float | None) -> Design:
    # Block b, import limit 3 kW; alice load 4 then 1 kW; battery 10 kWh / 5 kW holding 1 kWh.
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
        dso=Dso(flexibility=(FlexibilityNeed("b", 3.0, price),) if price is not None else ()),
    )


def test_priced_flexibility_is_shadow_not_money() -> None:
    """A priced flexibility need at 0.05 EUR/kWh is cheaper to exceed than to meet (meeting it
    moves 1 kWh of battery energy from the 0.30 hour to the 0.20 hour: 0.10 > 0.05). So alice
    imports 4 then 0 kW: grid purchases 4 x 0.20 = 0.80 EUR, excess 1 kW x 0.05 = 0.05 in the
    objective, which nobody pays: objective 0.85, shadow_cost 0.05, total_cost 0.80 — the
    alice's bill, since she is the only participant and nothing is delivered to the DSO (the
    import stays at the baseline's 4 kW). results.json carries both as {value, unit}."""
    r = solve(flex_design(0.05))
    assert r.objective == pytest.approx(0.85, abs=TOL)
    assert r.shadow_cost == pytest.approx(0.05, abs=TOL)
    assert r.total_cost == pytest.approx(0.80, abs=TOL)
    assert r.kpis["design"]["total_cost"] == pytest.approx(0.80, abs=TOL)
    assert r.bills.loc["alice", "total"] == pytest.approx(0.80, abs=TOL)
    doc = results_json(r)
    assert doc["total_cost"] == {"value": pytest.approx(0.80, abs=TOL), "unit": "EUR"}
    assert doc["shadow_cost"] == {"value": pytest.approx(0.05, abs=TOL), "unit": "EUR"}
    assert doc["objective"]["value"] == pytest.approx(0.85, abs=TOL)
    _closes(r)


def test_saving_uses_real_money() -> None:
    """The same design without the need: alice imports 4 then 0 as well, 0.80 EUR, objective
    0.80. With the priced need the real money is the same 0.80, so the saving against the
    reference is 0 (the objective would say −0.05, a fictitious loss)."""
    ref = solve(flex_design(None))
    case = solve(flex_design(0.05))
    assert ref.total_cost == pytest.approx(0.80, abs=TOL)
    s = summarize(Case("f.peb", "flex", "flex", case, None), ref, None)
    assert s["total_cost"] == pytest.approx(0.80, abs=TOL)
    assert s["shadow_cost"] == pytest.approx(0.05, abs=TOL)
    assert s["objective"] == pytest.approx(0.85, abs=TOL)
    assert s["saving"] == pytest.approx(0.0, abs=TOL)


def test_premium_is_shadow_not_money() -> None:
    """alice: 2 kW PV + 1 kW wind, no load; bob 2 kW, carol 1 kW load; p2p fee 0.01 EUR/kWh;
    product green (origin pv, premium 0.02). All 3 kWh are traded (fees 0.03 EUR: the only
    money, as sell = 0); 2 kWh of PV sold as green earn premiums 2 x 0.02 = 0.04 that nobody
    pays: objective 0.03 − 0.04 = −0.01, shadow_cost −0.04, total_cost 0.03."""
    d = design(
        [
            participant("alice", 1, pv=2.0, wind=1.0),
            participant("bob", 1, load=2.0),
            participant("carol", 1, load=1.0),
        ],
        n=1,
        sell=0.0,
        markets=[
            market("m", ["alice", "bob", "carol"], fee_per_kwh=0.01, products=("energy", "green"))
        ],
        products=[Product("green", origin=("pv",), premium_per_kwh=0.02)],
    )
    r = solve(d)
    assert r.objective == pytest.approx(-0.01, abs=TOL)
    assert r.shadow_cost == pytest.approx(-0.04, abs=TOL)
    assert r.total_cost == pytest.approx(0.03, abs=TOL)
    assert r.money["total_cost"] == pytest.approx(0.03, abs=TOL)
    _closes(r)


# -- congestion rent across a congested link --------------------------------------------------


def congested(type_: str, **kw: object) -> Design:
    # alice (block A): 2 kW PV; bob (block B): 2 kW load; link A--B 1 kW, fee 0.01 EUR/kWh.
    return design(
        [
            participant("alice", 1, pv=2.0, block="A"),
            participant("bob", 1, load=2.0, block="B"),
        ],
        n=1,
        blocks=[block("A", ["alice"]), block("B", ["bob"])],
        markets=[market("x", ["alice", "bob"], type=type_, **kw)],
        dso=Dso(links=(Link("A", "B", capacity_kw=1.0, fee_per_kwh=0.01),)),
    )


@pytest.mark.parametrize(
    ("kw", "kept_by", "alice", "bob"),
    [
        ({}, "x", -0.10, 0.60),
        ({"operator": "dso"}, "dso", -0.10, 0.60),
        ({"rent": "dso"}, "dso", -0.10, 0.60),
        ({"rent": "members"}, None, -0.22, 0.48),
    ],
)
def test_rent_rule_in_a_pool(kw: dict, kept_by: str | None, alice: float, bob: float) -> None:
    """Pool across a congested link. alice sends 1 kW over the link (its capacity) and exports
    1 kW, so the price at A is her export price 0.05; bob receives 1 kW and imports 1 kW, so
    the price at B is 0.30. Objective: 0.30 − 0.05 + link fee 0.01 = 0.26 (= total_cost).
    bob pays 1 x 0.30 for the pool energy, alice gets 1 x 0.05: surplus 0.25; the market pays
    the DSO's link fee 0.01 from it: rent 0.24.
    - rent = operator (default), community operator: the market's own row keeps 0.24;
      alice −0.05 − 0.05 = −0.10, bob 0.30 + 0.30 = 0.60 (sum 0.50 = 0.26 + 0.24 kept).
    - operator = dso (rent = operator): the DSO's row receives the 0.24; the market row is 0.
    - rent = dso: likewise.
    - rent = members: pro rata to kWh traded in the step (alice sold 1, bob bought 1): 0.12
      each: alice −0.22, bob 0.48 (sum 0.26 = total_cost)."""
    r = solve(congested("pool", **kw))
    assert r.objective == pytest.approx(0.26, abs=TOL)
    b = r.bills
    assert b.loc["alice", "total"] == pytest.approx(alice, abs=TOL)
    assert b.loc["bob", "total"] == pytest.approx(bob, abs=TOL)
    assert b.loc["dso", "link_fees"] == pytest.approx(-0.01, abs=TOL)
    if kept_by is None:
        assert b.loc["x", "total"] == pytest.approx(0.0, abs=TOL)
        assert b.loc["alice", "rent"] == pytest.approx(-0.12, abs=TOL)
        assert r.money["rent_retained"] == pytest.approx(0.0, abs=TOL)
    elif kept_by == "dso":
        assert b.loc["x", "total"] == pytest.approx(0.0, abs=TOL)
        assert b.loc["dso", "rent"] == pytest.approx(-0.24, abs=TOL)
        assert b.loc["dso", "total"] == pytest.approx(-0.25, abs=TOL)
    else:
        assert b.loc["x", "total"] == pytest.approx(-0.24, abs=TOL)
    _closes(r)


# -- link fees paid by the trading pairs --------------------------------------------------------


@pytest.mark.parametrize(
    ("settlement", "alice_fee", "bob_fee"),
    [("midpoint", 0.005, 0.005), ("seller", 0.0, 0.01), ("buyer", 0.01, 0.0)],
)
def test_p2p_link_fees_paid_by_the_pair(settlement: str, alice_fee: float, bob_fee: float) -> None:
    """p2p between blocks over the congested link above. alice's valuation of a delivered kWh
    is her export price 0.05, bob's his import price 0.30; the pair alice -> bob moved 1 kWh
    over the link, whose fee 0.01 the pair pays (not the market): the side whose valuation
    sets the price is indifferent, the other keeps the gains and pays the fee — midpoint: price
    0.175, half the fee each; `seller`: price 0.05, bob pays 0.01; `buyer`: price 0.30, alice
    pays 0.01. midpoint bills: alice −0.05 − 0.175 + 0.005 = −0.22, bob 0.30 + 0.175 + 0.005
    = 0.48; the market's row is 0 and the DSO receives 0.01."""
    r = solve(congested("p2p", settlement=settlement))
    b = r.bills
    assert b.loc["alice", "link_fees"] == pytest.approx(alice_fee, abs=TOL)
    assert b.loc["bob", "link_fees"] == pytest.approx(bob_fee, abs=TOL)
    assert b.loc["x", "total"] == pytest.approx(0.0, abs=TOL)
    assert b.loc["dso", "total"] == pytest.approx(-0.01, abs=TOL)
    if settlement == "midpoint":
        assert b.loc["alice", "total"] == pytest.approx(-0.22, abs=TOL)
        assert b.loc["bob", "total"] == pytest.approx(0.48, abs=TOL)
    _closes(r)


def test_p2p_link_fees_traced_through_a_middle_block() -> None:
    """Three blocks in a line, A -- B -- C, links of 1 kW with fees 0.01 (A--B) and 0.02
    (B--C). alice (A) 2 kW PV; bea (B) no load, no PV; carl (C) 2 kW load; one p2p market with
    everyone. 1 kW flows A -> B -> C (the capacities), alice exports 1, carl imports 1. The
    energy on both links is alice's and reaches carl, so the pair alice -> carl pays both
    fees, 0.03 EUR, half each at midpoint: 0.015; bea, who traded nothing, pays nothing."""
    d = design(
        [
            participant("alice", 1, pv=2.0, block="A"),
            participant("bea", 1, block="B"),
            participant("carl", 1, load=2.0, block="C"),
        ],
        n=1,
        blocks=[block("A", ["alice"]), block("B", ["bea"]), block("C", ["carl"])],
        markets=[market("x", ["alice", "bea", "carl"])],
        dso=Dso(
            links=(
                Link("A", "B", capacity_kw=1.0, fee_per_kwh=0.01),
                Link("B", "C", capacity_kw=1.0, fee_per_kwh=0.02),
            )
        ),
    )
    r = solve(d)
    b = r.bills
    assert b.loc["alice", "link_fees"] == pytest.approx(0.015, abs=TOL)
    assert b.loc["carl", "link_fees"] == pytest.approx(0.015, abs=TOL)
    assert b.loc["bea", "link_fees"] == pytest.approx(0.0, abs=TOL)
    assert b.loc["dso", "link_fees"] == pytest.approx(-0.03, abs=TOL)
    _closes(r)


# -- shared batteries: earnings to owners, one fee per stored kWh --------------------------------


def store_design(fee: float = 0.0, owners: tuple[tuple[str, float], ...] = ()) -> Design:
    # Block b: alice 3 kW PV in step 0, bob 3 kW load in step 1; shared battery `store`
    # (2 kWh, 5 kW, η = 1) in the block's pool.
    return design(
        [
            participant("alice", 2, pv=[3.0, 0.0], block="b"),
            participant("bob", 2, load=[0.0, 3.0], block="b"),
        ],
        n=2,
        blocks=[block("b", ["alice", "bob"], batteries=("store",))],
        shared=[Battery("store", 2.0, 5.0, block="b", **({"owners": owners} if owners else {}))],
        markets=[
            market("pool", ["alice", "bob"], type="pool", batteries=("store",), fee_per_kwh=fee)
        ],
    )


@pytest.mark.parametrize(
    ("owners", "alice_share", "bob_share"),
    [((), -0.25, -0.25), ((("alice", 0.75), ("bob", 0.25)), -0.375, -0.125)],
)
def test_shared_battery_earnings_go_to_owners(
    owners: tuple[tuple[str, float], ...], alice_share: float, bob_share: float
) -> None:
    """Step 0: alice stores 2 kWh (the capacity) and exports 1 at 0.05, so the pool price is
    0.05; step 1: the store delivers 2 kWh to bob, who imports 1 at 0.30, so the price is 0.30.
    Objective 0.30 − 0.05 = 0.25. The store buys 2 x 0.05 = 0.10 and sells 2 x 0.30 = 0.60:
    it earns 0.50. Its row shows that gross and passes it on (`shared_battery` +0.50, total
    0): by default to the block's members equally (−0.25 each), with owners [alice, bob] and
    shares [3, 1] as 0.375 / 0.125. alice: −0.05 − 0.10 + share; bob 0.30 + 0.60 + share;
    the two bills add up to 0.25 = total_cost."""
    r = solve(store_design(owners=owners))
    assert r.objective == pytest.approx(0.25, abs=TOL)
    b = r.bills
    assert b.loc["store", "local_sales"] - b.loc["store", "local_purchases"] == pytest.approx(
        0.50, abs=TOL
    )
    assert b.loc["store", "shared_battery"] == pytest.approx(0.50, abs=TOL)
    assert b.loc["alice", "shared_battery"] == pytest.approx(alice_share, abs=TOL)
    assert b.loc["bob", "shared_battery"] == pytest.approx(bob_share, abs=TOL)
    assert b.loc["alice", "total"] == pytest.approx(-0.15 + alice_share, abs=TOL)
    assert b.loc["bob", "total"] == pytest.approx(0.90 + bob_share, abs=TOL)
    assert r.money["total_bills"] == pytest.approx(0.25, abs=TOL)
    _closes(r)


def test_a_stored_kwh_pays_the_fee_once() -> None:
    """The same design with a pool fee of 0.01 EUR/kWh. The store buys its 2 kWh fee-free and
    bob pays the fee on the 2 kWh he buys from it: 0.02. Objective 0.25 + 0.02 = 0.27 (with a
    fee on the store's purchases too it would be 0.29). Prices: 0.05 in step 0; in step 1 bob's
    import price net of the fee, 0.29. The store: −0.10 + 0.58, no fees."""
    r = solve(store_design(fee=0.01))
    assert r.objective == pytest.approx(0.27, abs=TOL)
    b = r.bills
    assert b.loc["store", "fees"] == pytest.approx(0.0, abs=TOL)
    assert b.loc["bob", "fees"] == pytest.approx(0.02, abs=TOL)
    assert b.loc["pool", "fees"] == pytest.approx(-0.02, abs=TOL)
    assert b.loc["store", "shared_battery"] == pytest.approx(0.48, abs=TOL)
    assert r.kpis["markets"]["pool"]["fees"] == pytest.approx(0.02, abs=TOL)
    _closes(r)


def test_one_fee_per_stored_kwh_in_pair_form() -> None:
    """p2p with pair fees (the per-pair form): the store's purchases carry no fee either.
    alice -> bob pays 0.02 per kWh but alice has no PV in bob's hour, so the energy goes
    through the store: alice -> store fee-free, store -> bob at the market fee 0.01:
    objective 0.30 − 0.05 + 2 x 0.01 = 0.27."""
    base = store_design(fee=0.01)
    m = base.markets["pool"]
    d = replace(
        base,
        markets={"pool": replace(m, type="p2p", pair_fees_per_kwh={("alice", "bob"): 0.02})},
    )
    r = solve(d)
    assert r.objective == pytest.approx(0.27, abs=TOL)
    assert r.bills.loc["store", "fees"] == pytest.approx(0.0, abs=TOL)
    assert r.bills.loc["bob", "fees"] == pytest.approx(0.02, abs=TOL)
    _closes(r)


# -- the language ---------------------------------------------------------------------------------

TEXT = """design "owners" { currency = EUR }
horizon { start = 2021-06-07; duration = 2 h; step = 1 h; timezone = "UTC" }
grid { buy = 0.30 EUR/kWh; sell = 0.05 EUR/kWh }
block b {
  participant alice { pv { profile = [3, 0] kW } }
  participant bob { load { profile = [0, 3] kW } }
  participant carol { }
  battery store { capacity = 2 kWh; power = 5 kW; owners = [alice, bob]; shares = [75 %, 25 %] }
}
market pool { type = pool; members = b; rent = members }
variant solo { without participant bob }
"""


def test_owners_and_rent_in_the_language(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`owners`/`shares` on a shared battery and `rent` on a market resolve to the design;
    a variant that removes an owner leaves the rest with the whole share. Solved, the text
    design is the hand-derived one above (owners 0.75 / 0.25: alice's share −0.375)."""
    from pebdsl.load import load

    path = tmp_path / "owners.peb"
    path.write_text(TEXT)
    d = load(str(path))
    assert d.shared_batteries["store"].owners == (("alice", 0.75), ("bob", 0.25))
    assert d.markets["pool"].rent == "members"
    solo = load(str(path), variant="solo")
    assert solo.battery_owners("store") == {"alice": 1.0}
    r = solve(d)
    assert r.bills.loc["alice", "shared_battery"] == pytest.approx(-0.375, abs=TOL)


@pytest.mark.parametrize(
    ("edit", "code"),
    [
        ("owners = [alice, bob]; shares = [75 %, 25 %]", None),
        ("owners = [alice, alice]", "E308"),
        ("owners = [alic]", "E101"),
        ("owners = [b]", "E103"),
        ("shares = [1]", "E301"),
        ("owners = [alice, bob]; shares = [1]", "E307"),
        ("owners = [alice]; shares = [0]", "E302"),
    ],
)
def test_owner_diagnostics(tmp_path, edit: str, code: str | None) -> None:  # type: ignore[no-untyped-def]
    """Bad owners lists are coded diagnostics, never tracebacks."""
    from pebdsl.diagnostics import PebdslError
    from pebdsl.load import load

    path = tmp_path / "o.peb"
    path.write_text(TEXT.replace("owners = [alice, bob]; shares = [75 %, 25 %]", edit))
    if code is None:
        load(str(path))
        return
    with pytest.raises(PebdslError) as e:
        load(str(path))
    assert e.value.diagnostics[0].code == code


def test_owners_on_a_private_battery_is_misplaced(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A participant's own battery belongs to it: `owners` there is E304."""
    from pebdsl.diagnostics import PebdslError
    from pebdsl.load import load

    path = tmp_path / "p.peb"
    path.write_text(
        TEXT.replace(
            "participant bob { load",
            "participant bob { battery { capacity = 1 kWh; power = 1 kW; owners = [alice] }; load",
        )
    )
    with pytest.raises(PebdslError) as e:
        load(str(path))
    assert e.value.diagnostics[0].code == "E304"


def test_owners_and_rent_format_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`fmt` keeps `owners`, `shares` and `rent` (idempotent, same design after formatting)."""
    from pebdsl.front.formatter import format_source
    from pebdsl.load import load

    once = format_source(TEXT)
    assert format_source(once) == once
    a, b = tmp_path / "a.peb", tmp_path / "b.peb"
    a.write_text(TEXT)
    b.write_text(once)
    da, db = load(str(a)), load(str(b))
    assert da.shared_batteries["store"].owners == db.shared_batteries["store"].owners
    assert da.markets["pool"].rent == db.markets["pool"].rent == "members"
