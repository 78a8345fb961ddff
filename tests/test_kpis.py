"""KPIs and the three values (pebdsl.kpis) on tiny hand-built Results with hand-computed answers.

The Results here are made by hand (no solver), so these tests pin the KPI definitions of
docs/kpis.md independently of the model. `make_results` is reused by test_output.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pebdsl import kpis
from pebdsl.design import (
    Battery,
    Block,
    Design,
    Dso,
    Generation,
    Grid,
    Load,
    Market,
    Participant,
    TimeGrid,
)
from pebdsl.results import Results, empty_frame


def a(*xs: float) -> np.ndarray:
    return np.array(xs, dtype=float)


def frame(index: pd.DatetimeIndex, data: dict[str, dict[str, np.ndarray]]) -> pd.DataFrame:
    """A (entity, quantity) MultiIndex frame from {entity: {quantity: array}}."""
    if not data:
        return empty_frame(index)
    cols = {(e, q): v for e, qs in data.items() for q, v in qs.items()}
    df = pd.DataFrame(cols, index=index)
    df.columns = pd.MultiIndex.from_tuples(list(cols), names=["entity", "quantity"])
    return df


def make_results(
    design: Design,
    objective: float,
    participants: dict[str, dict[str, np.ndarray]],
    batteries: dict[str, dict[str, np.ndarray]] | None = None,
    blocks: dict[str, dict[str, np.ndarray]] | None = None,
    markets: dict[str, dict[str, np.ndarray]] | None = None,
    bills: dict[str, dict[str, float]] | None = None,
) -> Results:
    idx = design.time.index
    return Results.build(
        design=design,
        status="optimal",
        objective=objective,
        participants_ts=frame(idx, participants),
        batteries_ts=frame(idx, batteries or {}),
        blocks_ts=frame(idx, blocks or {}),
        markets_ts=frame(idx, markets or {}),
        links_ts=empty_frame(idx),
        bills=pd.DataFrame.from_dict(bills, orient="index") if bills else None,
        model_stats={"variables": 10, "constraints": 5, "nonzeros": 20},
        timings={"solve": 0.01},
    )


def street(reinforcement: float = 100.0, with_battery: bool = True) -> Design:
    """alice (PV 3 kW in step 1, a 2 kWh battery) and bob, in one block, 3 hourly steps."""
    batt = (
        Battery("alice.battery", capacity_kwh=2.0, power_kw=2.0, owner="alice")
        if with_battery
        else None
    )
    alice = Participant(
        "alice",
        block="street",
        load=Load(a(1, 1, 1)),
        generation=(Generation("pv", a(3, 0, 0)),),
        battery=batt,
    )
    bob = Participant("bob", block="street", load=Load(a(1, 2, 1)))
    return Design(
        title="street",
        currency="EUR",
        time=TimeGrid(datetime(2021, 6, 7), 1.0, 3, "UTC"),
        grid=Grid(buy_per_kwh=a(0.2, 0.3, 0.2), sell_per_kwh=None),
        participants={"alice": alice, "bob": bob},
        blocks={"street": Block("street", None, ("alice", "bob"))},
        markets={"p2p": Market("p2p", "p2p", ("alice", "bob"))},
        dso=Dso(reinforcement_cost_per_kw_year=reinforcement),
    )


def street_results() -> Results:
    """Step 1: alice's 3 kW of PV: 1 to her load, 1 into her battery, 1 sold to bob.
    Step 2: alice from her battery, bob 2 from the grid. Step 3: both from the grid."""
    z = a(0, 0, 0)
    return make_results(
        street(),
        objective=0.3 * 2 + 0.2 * 2,
        participants={
            "alice": {
                "load": a(1, 1, 1),
                "pv": a(3, 0, 0),
                "generation_used": a(3, 0, 0),
                "curtailment": z,
                "grid_import": a(0, 0, 1),
                "grid_export": z,
                "battery_charge": a(1, 0, 0),
                "battery_discharge": a(0, 1, 0),
                "local_bought": z,
                "local_sold": a(1, 0, 0),
            },
            "bob": {
                "load": a(1, 2, 1),
                "generation_used": z,
                "curtailment": z,
                "grid_import": a(0, 2, 1),
                "grid_export": z,
                "local_bought": a(1, 0, 0),
                "local_sold": z,
            },
        },
        batteries={
            "alice.battery": {"charge": a(1, 0, 0), "discharge": a(0, 1, 0), "soc": a(1, 0, 0)}
        },
        blocks={"street": {"import": a(0, 2, 2), "export": z}},
        markets={"p2p": {"price": a(0.1, 0.3, 0.2), "volume": a(1, 0, 0), "loss": z, "fees": z}},
        bills={
            "alice": {"grid_purchases": 0.2, "local_sales": 0.1, "total": 0.1},
            "bob": {"grid_purchases": 0.8, "local_purchases": 0.1, "total": 0.9},
        },
    )


def test_design_kpis_hand_computed() -> None:
    r = street_results()
    r = r.rescored()
    k = r.kpis["design"]
    assert k["total_cost"] == pytest.approx(1.0)
    assert k["total_bills"] == pytest.approx(1.0)
    assert k["demand_kwh"] == pytest.approx(7.0)
    assert k["grid_import_kwh"] == pytest.approx(4.0)
    assert k["grid_export_kwh"] == 0.0
    assert k["generation_kwh"] == pytest.approx(3.0)
    assert k["curtailment_kwh"] == 0.0
    assert k["curtailment_share"] == 0.0
    assert k["self_sufficiency"] == pytest.approx(3 / 7)
    assert k["self_consumption"] == pytest.approx(1.0)
    assert k["demand_shares"] == pytest.approx(
        {"own_generation": 1 / 7, "battery": 1 / 7, "local_trade": 1 / 7, "grid": 4 / 7}
    )
    assert k["local_trade_kwh"] == pytest.approx(1.0)
    assert k["local_trade_avg_price"] == pytest.approx(0.1)
    assert k["peak_import_kw"] == pytest.approx(2.0)
    assert k["peak_export_kw"] == 0.0
    assert k["battery_throughput_kwh"] == pytest.approx(1.0)
    assert k["battery_cycles"] == pytest.approx(0.5)
    assert k["battery_losses_kwh"] == pytest.approx(0.0)


def test_participant_and_block_kpis() -> None:
    r = street_results()
    r = r.rescored()
    al, bob = r.kpis["participants"]["alice"], r.kpis["participants"]["bob"]
    assert al["bill"] == pytest.approx(0.1)
    assert al["self_sufficiency"] == pytest.approx(2 / 3)
    assert al["demand_shares"] == pytest.approx(
        {"own_generation": 1 / 3, "battery": 1 / 3, "local_trade": 0, "grid": 1 / 3}
    )
    assert al["local_avg_sell_price"] == pytest.approx(0.1)
    assert al["battery_cycles"] == pytest.approx(0.5)
    assert bob["demand_shares"] == pytest.approx(
        {"own_generation": 0, "battery": 0, "local_trade": 0.25, "grid": 0.75}
    )
    assert bob["self_consumption"] is None  # no generation
    assert bob["battery_cycles"] is None
    assert bob["peak_import_kw"] == pytest.approx(2.0)
    blk = r.kpis["blocks"]["street"]
    assert blk["bill"] == pytest.approx(1.0)
    assert blk["peak_import_kw"] == pytest.approx(2.0)
    assert blk["self_sufficiency"] == pytest.approx(3 / 7)
    assert sum(blk["demand_shares"].values()) == pytest.approx(1.0)


def test_three_values_with_and_without_reference() -> None:
    r = street_results()
    r = r.rescored()
    v = kpis.three_values(r, None)
    assert v["pv_surplus_kwh"] == pytest.approx(2.0)  # 3 kW PV - 1 kW own load, one hour
    assert v["pv_surplus_local_share"] == pytest.approx(1.0)
    assert v["peak_reduction_kw"] is None and v["deferral_value"] is None
    assert v["local_trade_kwh"] == pytest.approx(1.0)
    assert v["local_trade_value"] == pytest.approx(0.1)
    assert v["flexibility_kwh"] == 0.0

    # The reference imports 3 kW at its peak: 1 kW less in the case, 100 EUR/kW/year.
    z = a(0, 0, 0)
    ref = make_results(
        street(with_battery=False),
        objective=1.5,
        participants={
            "alice": {
                "load": a(1, 1, 1),
                "pv": a(3, 0, 0),
                "generation_used": a(1, 0, 0),
                "curtailment": a(2, 0, 0),
                "grid_import": a(0, 1, 1),
            },
            "bob": {"load": a(1, 2, 1), "grid_import": a(1, 2, 1)},
        },
        blocks={"street": {"import": a(1, 3, 2), "export": z}},
    )
    ref = ref.rescored()
    assert ref.values["pv_surplus_local_share"] == pytest.approx(0.0)
    assert ref.values["pv_surplus_curtailed_kwh"] == pytest.approx(2.0)
    v = kpis.three_values(r, ref)
    assert v["peak_reduction_kw"] == pytest.approx(1.0)
    assert v["peak_reduction_by_block_kw"] == {"street": pytest.approx(1.0)}
    assert v["deferral_value"] == pytest.approx(100.0)
    assert v["deferral_value_horizon"] == pytest.approx(100.0 * 3 / 8760)
    assert v["deferral_unit"] == "EUR/year"


def test_export_and_curtailment_split() -> None:
    """carol: 5 kW PV, 1 kW load, exports 2 and curtails 2: surplus 4, none of it local."""
    d = Design(
        title="carol",
        currency="EUR",
        time=TimeGrid(datetime(2021, 6, 7), 0.5, 1, "UTC"),
        grid=Grid(buy_per_kwh=a(0.2), sell_per_kwh=a(0.05)),
        participants={
            "carol": Participant("carol", load=Load(a(1)), generation=(Generation("pv", a(5)),))
        },
    )
    r = make_results(
        d,
        objective=-0.05,
        participants={
            "carol": {
                "load": a(1),
                "pv": a(5),
                "generation_used": a(3),
                "curtailment": a(2),
                "grid_export": a(2),
            }
        },
    )
    r = r.rescored()
    k = r.kpis["design"]
    assert k["generation_kwh"] == pytest.approx(2.5)  # 5 kW for half an hour
    assert k["self_consumption"] == pytest.approx(0.2)
    assert k["curtailment_share"] == pytest.approx(0.4)
    assert k["self_sufficiency"] == pytest.approx(1.0)
    assert k["peak_export_kw"] == pytest.approx(2.0)  # no blocks: the participant's own net
    assert k["demand_shares"]["own_generation"] == pytest.approx(1.0)
    assert r.values["pv_surplus_kwh"] == pytest.approx(2.0)
    assert r.values["pv_surplus_exported_kwh"] == pytest.approx(1.0)
    assert r.values["pv_surplus_curtailed_kwh"] == pytest.approx(1.0)
    assert r.values["pv_surplus_local_share"] == pytest.approx(0.0)
    assert r.kpis["blocks"] == {}


def test_shared_battery_deliveries_count_as_battery() -> None:
    """A shared battery sells 1 kW into the market; bob buys it: his share is battery, not trade."""
    d = street(with_battery=False)
    shared = Battery("hub", capacity_kwh=4.0, power_kw=2.0, block="street")
    d = Design(**{**d.__dict__, "shared_batteries": {"hub": shared}})
    z = a(0, 0, 0)
    r = make_results(
        d,
        objective=1.0,
        participants={
            "alice": {
                "load": a(1, 1, 1),
                "pv": a(3, 0, 0),
                "generation_used": a(3, 0, 0),
                "local_sold": a(2, 0, 0),
                "grid_import": a(0, 1, 1),
            },
            "bob": {"load": a(1, 2, 1), "local_bought": a(0, 1, 0), "grid_import": a(1, 1, 1)},
        },
        batteries={"hub": {"charge": a(2, 0, 0), "discharge": a(0, 1, 0), "soc": a(2, 1, 1)}},
        markets={"p2p": {"price": a(0.1, 0.2, 0.2), "volume": a(2, 1, 0), "loss": z, "fees": z}},
    )
    r = r.rescored()
    bob = r.kpis["participants"]["bob"]["demand_shares"]
    assert bob["battery"] == pytest.approx(0.25)
    assert bob["local_trade"] == pytest.approx(0.0)
    assert r.kpis["batteries"]["hub"]["cycles"] == pytest.approx(0.25)
    assert r.kpis["design"]["battery_losses_kwh"] == pytest.approx(0.0)


def test_shares_sum_to_one_on_random_flows() -> None:
    rng = np.random.default_rng(1)
    shape = (50, 4)
    load = rng.uniform(0, 2, shape)
    parts = kpis.demand_allocation(
        load,
        rng.uniform(0, 2, shape),
        rng.uniform(0, 1, shape),
        rng.uniform(0, 1, shape),
        rng.uniform(0, 1, 50),
    )
    assert all((p >= -1e-12).all() for p in parts.values())
    total: Any = sum(parts.values())
    assert np.allclose(total, load)


def test_every_documented_kpi_has_its_unit() -> None:
    """`unit_of` gives each KPI key of docs/kpis.md's table the unit written there ("–" is
    a ratio, 1; "currency" the design's currency), so a KPI always travels with its unit:
    e.g. `grid_import_kwh` kWh, `local_trade_avg_price` EUR/kWh, `self_sufficiency` 1."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "kpis.md").read_text()
    table = text.split("## KPIs", 1)[1].split("\n\n", 2)[1]
    checked = 0
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        keys = re.findall(r"`(\w+)`", cells[0])
        units = [u.strip() for u in cells[-1].split(",")]
        units = units * len(keys) if len(units) == 1 else units
        for key, unit in zip(keys, units, strict=True):
            want = {"–": "1", "currency": "EUR", "currency/kWh": "EUR/kWh"}.get(unit, unit)
            assert kpis.unit_of(key, "EUR") == want, key
            checked += 1
    assert checked >= 20
    r = street_results()
    q = r.scores.quantity("design", "grid_import_kwh")
    assert q.unit == "kWh" and q.value == r.kpis["design"]["grid_import_kwh"]
