"""Temporal aggregation (`pebdsl solve --aggregate Nd`, pebdsl/aggregate.py, lower/periods.py):
typical days from tsam, the batteries' state of charge chained across the original days, the
costs weighted by each typical day's count, and the record in results.json."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from pebdsl.aggregate import aggregate
from pebdsl.design import (
    Battery,
    Block,
    Connection,
    Design,
    Dso,
    Generation,
    Grid,
    Investment,
    Load,
    Market,
    Participant,
    TimeGrid,
)
from pebdsl.diagnostics import PebdslError
from pebdsl.present.output import results_json
from pebdsl.solve import solve
from pebdsl.stochastic.rolling import window_design

pytest.importorskip("tsam")

ROOT = Path(__file__).resolve().parent.parent


def make_design(days: int, batteries: bool = True, seed: int = 3) -> Design:
    """One block of 4 participants (two with PV and, if `batteries`, a battery that starts at
    2 kWh and must end at >= 3 kWh), a p2p market, an energy charge; random cloudiness per day,
    loads and spot prices, so no two days are alike."""
    rng = np.random.default_rng(seed)
    hours = 24 * days
    hod = np.arange(hours) % 24
    clouds = np.repeat(rng.uniform(0.2, 1.0, days), 24)
    sun = np.clip(np.sin(np.pi * (hod - 6) / 12), 0, None) * clouds
    spot = 0.08 + 0.04 * np.sin(2 * np.pi * (hod - 14) / 24) + rng.normal(0, 0.01, hours)
    parts: dict[str, Participant] = {}
    for k in range(4):
        name = f"p{k}"
        load = rng.uniform(0.3, 2.0) * (0.7 + 0.6 * rng.random(hours))
        gens: tuple[Generation, ...] = ()
        bat = None
        if k % 2 == 0:
            peak = float(rng.uniform(3, 9))
            gens = (Generation("pv", peak * sun, peak),)
            if batteries:
                bat = Battery(f"{name}.battery", 8.0, 4.0, 0.93, owner=name)
                bat = replace(bat, initial_kwh=2.0, final_kwh=3.0)
        parts[name] = Participant(name, "street", Load(load), gens, bat)
    return Design(
        title="aggregate",
        currency="EUR",
        time=TimeGrid(datetime(2021, 3, 1), 1.0, hours, "UTC"),
        grid=Grid(spot + 0.06, np.maximum(spot - 0.02, 0.0)),
        participants=parts,
        blocks={"street": Block("street", Connection(40.0, 40.0), tuple(parts))},
        markets={"p2p": Market("p2p", "p2p", tuple(parts), fee_per_kwh=0.01, loss=0.02)},
        dso=Dso(energy_charge_per_kwh=np.full(hours, 0.03)),
    )


def test_every_day_its_own_typical_day_is_the_full_model() -> None:
    """With as many typical days as days (6), each day is its own medoid with weight 1, so the
    aggregated LP is the full LP written with the inter-period state of charge: the absolute
    state at step t of day p is soc_start[p] + soc[k(p), t], soc_start[0] = initial (2 kWh),
    soc_start[6] >= final (3 kWh), and the bounds rows bound exactly those states by
    [min_soc, capacity]. Same feasible set in other coordinates: the same optimum, to 1e-9
    relative; the series error is 0 (no day stands for another). `6d,check` also solves the
    full design and records its objective and the relative error (0)."""
    d = make_design(6)
    full = solve(d)
    a = aggregate(d, "6d,check")
    assert a.periods is not None and a.n_steps == 6 * 24
    assert a.periods.weights == (1,) * 6 and sorted(a.periods.days) == list(range(6))
    r = solve(a)
    assert r.aggregation is not None
    assert r.aggregation["objective"] == pytest.approx(full.objective, rel=1e-9)
    assert r.aggregation["series_error"]["rmse"] == pytest.approx(0.0, abs=1e-12)
    # Each weight is 1: the typical days' own objective is the whole horizon's.
    assert r.objective == pytest.approx(r.aggregation["objective"], rel=1e-9)
    # `,check` solved the full design too: its objective, and the error 0 against it.
    assert r.aggregation["full_objective"] == pytest.approx(full.objective, rel=1e-12)
    assert abs(r.aggregation["error"]) <= 1e-9 and r.aggregation["speed_up"] > 0


def test_typical_days_default_to_the_interior_point(monkeypatch: pytest.MonkeyPatch) -> None:
    """Typical days are solved by HiGHS's interior point (with crossover) unless a method is
    asked for (docs/scale.md: 7-11x faster than the dual simplex on them); the full design
    keeps the default; a method asked for is used as given. Same objective either way."""
    import pebdsl.backends as backends

    asked: list[str | None] = []
    real = backends.get_backend

    def spy(name: str, solver: str | None = None, *a: object, **k: object) -> object:
        asked.append(solver)
        return real(name, solver, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(backends, "get_backend", spy)
    d = make_design(6)
    a = aggregate(d, "3d")
    r = solve(a)
    solve(d)
    r2 = solve(a, solver="simplex")
    assert asked == ["ipm", None, "simplex"]
    assert r2.objective == pytest.approx(r.objective, rel=1e-9)


def test_typical_days_are_weighted_by_their_count() -> None:
    """Without batteries nothing joins two days, so the full LP is one LP per day and the
    aggregated objective is Σ_k weight_k · (the optimum of typical day k alone): each medoid day
    solved by itself (window_design) times the number of days it stands for. The weights count
    every day once (they sum to 8), each typical day is a day of its own cluster
    (order[days[k]] = k), and the results cover the 3 typical days (72 steps) once each."""
    d = make_design(8, batteries=False)
    a = aggregate(d, "3d")
    per = a.periods
    assert per is not None and sum(per.weights) == 8 and len(per.order) == 8
    assert all(per.order[day] == k for k, day in enumerate(per.days))
    r = solve(a)
    assert r.aggregation is not None and r.design.n_steps == 72
    days = [solve(window_design(d, 24 * day, 24, {}, True)).objective for day in per.days]
    expected = sum(w * o for w, o in zip(per.weights, days, strict=True))
    assert r.aggregation["objective"] == pytest.approx(expected, rel=1e-9)
    assert r.objective == pytest.approx(sum(days), rel=1e-9)
    doc = results_json(r)
    assert doc["aggregation"]["weights"] == list(per.weights)
    assert doc["aggregation"]["objective"] == pytest.approx(expected, rel=1e-9)


def test_prices_are_per_kwh_not_weighted() -> None:
    """The LP's per-step costs are multiplied by the weights, so its duals are too; `unweigh`
    divides them back. Without batteries each medoid day's prices are those of the day solved
    alone: the p2p market's price series of the aggregated run equals the days' own, day by
    day (the midpoint of each price row's valid interval, per kWh)."""
    d = make_design(5, batteries=False)
    a = aggregate(d, "2d")
    assert a.periods is not None
    r = solve(a)
    got = r.markets_ts[("p2p", "price")].to_numpy(float)
    for k, day in enumerate(a.periods.days):
        alone = solve(window_design(d, 24 * day, 24, {}, True)).markets_ts
        want = alone[("p2p", "price")].to_numpy(float)
        np.testing.assert_allclose(got[24 * k : 24 * (k + 1)], want, atol=1e-9)


@pytest.mark.parametrize(
    ("text", "message"),
    [("12", "like `12d`"), ("0d", "between 1 and"), ("9d", "between 1 and the horizon's 4")],
)
def test_bad_option_is_e307(text: str, message: str) -> None:
    with pytest.raises(PebdslError) as e:
        aggregate(make_design(4), text)
    assert e.value.diagnostics[0].code == "E307" and message in e.value.diagnostics[0].message


def test_what_a_typical_day_cannot_stand_for_is_e604() -> None:
    """Sizes chosen by the model cost per horizon, and a monthly capacity charge's `peak`
    column is indexed by month: a typical day stands for neither (E604, nothing solved)."""
    d = make_design(4)
    inv = replace(d, investments={"p0.battery.capacity": Investment("p0.battery.capacity", "kWh",
                                                                     8.0, 0.001)})  # fmt: skip
    with pytest.raises(PebdslError) as e:
        aggregate(inv, "2d")
    assert e.value.diagnostics[0].code == "E604"
    cap = replace(d, dso=replace(d.dso, capacity_charge_per_kw_month=5.0))
    with pytest.raises(PebdslError) as e:
        solve(aggregate(cap, "2d"))
    assert e.value.diagnostics[0].code == "E604" and "`peak`" in e.value.diagnostics[0].message


def test_without_tsam_is_e905(monkeypatch: pytest.MonkeyPatch) -> None:
    """The extra is optional: without tsam, E905 names it."""
    monkeypatch.setitem(sys.modules, "tsam.timeseriesaggregation", None)
    with pytest.raises(PebdslError) as e:
        aggregate(make_design(2), "1d")
    d = e.value.diagnostics[0]
    assert d.code == "E905" and "pebdsl[aggregate]" in " ".join(d.hints)


def test_cli_writes_the_aggregation_record(tmp_path: Path) -> None:
    """`solve --aggregate 1d` on sunny_street (a one-day design): one typical day standing for
    itself, so results.json's aggregation objective is the objective (weight 1)."""
    from typer.testing import CliRunner

    from pebdsl.cli import app

    out = tmp_path / "o"
    r = CliRunner().invoke(
        app, ["solve", str(ROOT / "designs" / "sunny_street.peb"), "--aggregate", "1d",
              "--out", str(out), "--no-reference"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    agg = doc["aggregation"]
    assert agg["typical_periods"] == 1 and agg["weights"] == [1]
    assert agg["objective"] == pytest.approx(doc["objective"]["value"], rel=1e-12)


def test_errors_md_e604_example(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command docs/errors.md shows under E604 prints exactly the text shown there."""
    import shlex

    from typer.testing import CliRunner

    from pebdsl.cli import app

    lines = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8").splitlines()
    start = lines.index(next(x for x in lines if x.startswith("## E604")))
    i = lines.index("```sh", start)
    k = lines.index("```text", i)
    command, shown = lines[i + 1], "\n".join(lines[k + 1 : lines.index("```", k + 1)])
    monkeypatch.chdir(ROOT)
    argv = shlex.split(command)
    assert argv[0] == "pebdsl"
    result = CliRunner().invoke(app, argv[1:])
    assert result.exit_code == 1
    assert result.stderr.strip().removesuffix("1 error").strip() == shown.strip()
