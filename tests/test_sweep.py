"""`pebdsl sweep`: --set parsing, the cartesian product in a process pool or on Dask, failures."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pebdsl.console import print_sweep
from pebdsl.diagnostics import PebdslError
from pebdsl.present.studies import write_sweep
from pebdsl.study.sweep import parse_set, parse_sets, sweep

STREET = """design "street" { currency = EUR }
horizon { start = 2021-06-07; duration = 1 d; step = 2 h; timezone = "UTC" }
series home = daily [0.4, 0.3, 0.35, 0.9, 0.8, 0.55, 0.6, 0.7, 1.4, 1.5, 0.9, 0.5] kW
series solar = daily [0, 0, 0.02, 0.2, 0.5, 0.7, 0.74, 0.62, 0.35, 0.08, 0, 0]
grid { buy = 0.30 EUR/kWh; sell = 0.05 EUR/kWh }
participant alice { load { profile = home }; pv { profile = solar; peak = 6 kWp } }
participant bob { load { profile = home } }
market p2p { type = p2p; members = all; fee = 1 ct/kWh; loss = 2 % }
"""


@pytest.fixture
def street(tmp_path: Path) -> Path:
    p = tmp_path / "street.peb"
    p.write_text(STREET)
    return p


def test_parse_set() -> None:
    assert parse_set("alice.pv.peak=4 kWp,8 kWp") == ("alice.pv.peak", ["4 kWp", "8 kWp"])
    assert parse_set(" market p2p.fee = 0.5 ct/kWh , 1 ct/kWh") == (
        "market p2p.fee",
        ["0.5 ct/kWh", "1 ct/kWh"],
    )
    # Commas inside brackets belong to the value.
    assert parse_set("s=daily [1, 2] kW,[3, 4] kW") == ("s", ["daily [1, 2] kW", "[3, 4] kW"])


@pytest.mark.parametrize("bad", ["alice.pv.peak", "=4 kWp", "alice.pv.peak=", "a=1 kW,,2 kW"])
def test_parse_set_errors(bad: str) -> None:
    with pytest.raises(PebdslError) as e:
        parse_set(bad)
    assert e.value.codes == ["E601"]
    assert "PATH=V1,V2" in e.value.render() or "empty value" in e.value.render()


def test_parse_sets_duplicate() -> None:
    with pytest.raises(PebdslError) as e:
        parse_sets(["a.pv.peak=1 kWp", "a.pv.peak=2 kWp"])
    assert e.value.codes == ["E602"]


def test_sweep_process_pool(street: Path, tmp_path: Path) -> None:
    """An explicit worker count is a process pool even for small cases."""
    out = tmp_path / "out"
    res = sweep(
        str(street),
        ["alice.pv.peak=2 kWp,6 kWp", "market p2p.fee=0 ct/kWh,1 ct/kWh,2 ct/kWh"],
        workers=2,
    )
    write_sweep(res, out)
    assert len(res.rows) == 6
    assert all(r["status"] == "optimal" and r["error"] is None for r in res.rows)
    assert [(r["alice.pv.peak"], r["market p2p.fee"]) for r in res.rows[:3]] == [
        ("2 kWp", "0 ct/kWh"), ("2 kWp", "1 ct/kWh"), ("2 kWp", "2 ct/kWh"),
    ]  # fmt: skip
    cost = {(r["alice.pv.peak"], r["market p2p.fee"]): r["total_cost"] for r in res.rows}
    # More PV lowers the cost; a higher fee never lowers it.
    assert cost[("6 kWp", "1 ct/kWh")] < cost[("2 kWp", "1 ct/kWh")]
    assert cost[("6 kWp", "0 ct/kWh")] <= cost[("6 kWp", "1 ct/kWh")] + 1e-9
    assert cost[("6 kWp", "1 ct/kWh")] <= cost[("6 kWp", "2 ct/kWh")] + 1e-9

    csv = pd.read_csv(out / "sweep.csv")
    assert len(csv) == 6 and {"case", "alice.pv.peak", "status", "total_cost"} <= set(csv)
    doc = json.loads((out / "sweep.json").read_text())
    assert doc["parameters"]["alice.pv.peak"] == ["2 kWp", "6 kWp"]
    assert len(doc["cases"]) == 6

    # The same as one solve with the same edits.
    from pebdsl.load import load
    from pebdsl.solve import solve

    one = solve(load(str(street), sets=["alice.pv.peak = 6 kWp", "market p2p.fee = 2 ct/kWh"]))
    assert cost[("6 kWp", "2 ct/kWh")] == pytest.approx(one.objective, rel=1e-9)


def test_sweep_failed_case_is_recorded(street: Path) -> None:
    res = sweep(str(street), ["alice.pv.peak=2 kWp,3 kWh,4 kWp"], workers=1)
    assert [r["status"] for r in res.rows] == ["optimal", "error", "optimal"]
    assert "kWh" in res.rows[1]["error"] and res.rows[1]["total_cost"] is None
    failed = res.cases[1].error
    assert failed is not None and failed.codes == ["E202"]  # kWh where kWp is wanted
    assert len({frozenset(r) for r in res.rows}) == 1  # the same columns in every row
    print_sweep(res)


def test_sweep_on_dask(street: Path) -> None:
    """A Dask cluster in this process (threads, loopback only): same costs as locally."""
    distributed = pytest.importorskip("dask.distributed")
    sets = ["alice.pv.peak=2 kWp,6 kWp"]
    local = sweep(str(street), sets, workers=1)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        res = sweep(str(street), sets, scheduler=cluster.scheduler_address)
    assert [r["total_cost"] for r in res.rows] == pytest.approx(
        [r["total_cost"] for r in local.rows], rel=1e-9
    )
