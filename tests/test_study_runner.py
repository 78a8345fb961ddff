"""study.runner: one runner for many solves, in this process, a process pool or on Dask.

Checks: a `PebdslError` pickles whole (codes, spans with their source, hints, the truncated
count, `NO_SPAN` as itself); the three modes give the same outcomes in input order; a failing
case keeps its code across processes (E501 from the worker, E990 for a bug, E991 for a worker
that died) and never loses the other cases; the status of a failure comes from its code;
`pebdsl compare --workers 3` and `pebdsl sweep --workers 3` give what one worker gives.
"""

from __future__ import annotations

import json
import operator
import os
import pickle
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pebdsl.cli import app
from pebdsl.diagnostics import MAX_REPORTED, Diagnostic, PebdslError, error
from pebdsl.load import load, load_all
from pebdsl.source import NO_SPAN, UNKNOWN_SOURCE, SourceFile
from pebdsl.study import runner
from pebdsl.study.compare import solve_design

# A one-day street: the base solves; `tight` gives carol a 0.1 kW connection for a load that
# is 0.3 kW at its lowest, and nothing local can cover her at night, so it is infeasible.
STREET = """design "street" { currency = EUR }
horizon { start = 2021-06-07; duration = 1 d; step = 2 h; timezone = "UTC" }
series home = daily [0.4, 0.3, 0.35, 0.9, 0.8, 0.55, 0.6, 0.7, 1.4, 1.5, 0.9, 0.5] kW
series solar = daily [0, 0, 0.02, 0.2, 0.5, 0.7, 0.74, 0.62, 0.35, 0.08, 0, 0]
grid { buy = 0.30 EUR/kWh; sell = 0.05 EUR/kWh }
participant alice { load { profile = home }; pv { profile = solar; peak = 6 kWp } }
participant bob { load { profile = home } }
participant carol { load { profile = home } }
market p2p { type = p2p; members = all; fee = 1 ct/kWh; loss = 2 % }
variant no_trade { without market p2p }
variant tight { set carol.connection = 0.1 kW }
variant sunnier { set alice.pv.peak = 9 kWp }
"""


@pytest.fixture(scope="module")
def designs(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    """base, no_trade, tight (infeasible), sunnier: in declaration order."""
    path = tmp_path_factory.mktemp("street") / "street.peb"
    path.write_text(STREET)
    return list(load_all(str(path)).values())


def _error_with_span(tmp_path: Path) -> PebdslError:
    path = tmp_path / "bad.peb"
    path.write_text(STREET.replace("profile = home }; pv", "profile = hom }; pv"))
    with pytest.raises(PebdslError) as info:
        load(str(path))
    return info.value


def test_pebdsl_error_pickles_whole(tmp_path: Path) -> None:
    """The round trip keeps codes, the span (its file, text and position), hints and the
    rendered text; a diagnostic without a span keeps `NO_SPAN` itself."""
    err = _error_with_span(tmp_path)
    span = err.diagnostics[0].span
    assert err.codes == ["E101"] and span is not NO_SPAN  # `hom` is not a series
    back = pickle.loads(pickle.dumps(err))
    assert isinstance(back, PebdslError)
    assert back.codes == err.codes and back.diagnostics == err.diagnostics
    got = back.diagnostics[0].span
    assert (got.source.path, got.source.text) == (span.source.path, span.source.text)
    assert (got.start, got.end, got.text) == (span.start, span.end, "hom")
    assert got.location() == span.location()
    assert back.diagnostics[0].hints == err.diagnostics[0].hints
    assert back.render() == err.render() and str(back) == str(err)

    plain = pickle.loads(pickle.dumps(PebdslError(error("E991", "lost"))))
    assert plain.diagnostics[0].span is NO_SPAN
    assert pickle.loads(pickle.dumps(UNKNOWN_SOURCE)) is UNKNOWN_SOURCE
    src = pickle.loads(pickle.dumps(SourceFile("x.peb", "a\nbc\n")))
    assert src.line_col(3) == (2, 2)  # the line table is rebuilt


def test_pebdsl_error_pickles_its_truncated_count() -> None:
    """MAX_REPORTED + 7 diagnostics keep MAX_REPORTED and count 7 left out, also after pickling."""
    err = PebdslError([Diagnostic("E302", f"bad {i}") for i in range(MAX_REPORTED + 7)])
    back = pickle.loads(pickle.dumps(err))
    assert len(back.diagnostics) == MAX_REPORTED and back.truncated == 7
    assert back.render().endswith("... and 7 more errors")


def test_failure_status_comes_from_the_code() -> None:
    """E501 infeasible, E502 unbounded, anything else error, whatever the text says."""
    assert runner.failure_status(PebdslError(error("E501", "x"))) == "infeasible"
    assert runner.failure_status(PebdslError(error("E502", "x"))) == "unbounded"
    assert runner.failure_status(PebdslError(error("E101", "error[E501] infeasible"))) == "error"


def _summary(outcomes: list[runner.Outcome[Any]]) -> list[tuple[float | None, list[str]]]:
    return [
        (None if o.value is None else o.value.objective, [] if o.error is None else o.error.codes)
        for o in outcomes
    ]


def test_pool_and_serial_agree_and_a_failure_keeps_its_code(designs: list[Any]) -> None:
    """The infeasible `tight` fails with E501 in the worker and arrives as E501 (status
    infeasible, its span in the design file); the three others solve, in input order, with
    the objectives of solving in this process."""
    seen: list[int] = []
    serial = runner.run(solve_design, designs, workers=1)
    pool = runner.run(solve_design, designs, workers=2, on_done=lambda i, _: seen.append(i))
    assert sorted(seen) == [0, 1, 2, 3]
    assert [d.variant for d in designs] == [None, "no_trade", "tight", "sunnier"]
    for outcomes in (serial, pool):
        assert [o.status for o in outcomes] == [None, None, "infeasible", None]
        err = outcomes[2].error
        assert err is not None and "E501" in err.codes
        assert any(d.span.source.path.endswith("street.peb") for d in err.diagnostics)
    a, b = _summary(serial), _summary(pool)
    assert [codes for _, codes in a] == [codes for _, codes in b]
    for (x, _), (y, _) in zip(a, b, strict=True):
        assert x == y or x == pytest.approx(y, rel=1e-12)


def test_a_bug_in_one_case_is_e990_and_the_others_solve(designs: list[Any]) -> None:
    """`None` is not a design: solving it raises AttributeError in the worker (a bug), which
    comes back as E990 with the traceback; the designs around it solve."""
    outcomes = runner.run(solve_design, [designs[0], None, designs[1]], workers=2)
    assert outcomes[0].error is None and outcomes[2].error is None
    err = outcomes[1].error
    assert err is not None and err.codes == ["E990"] and outcomes[1].status == "error"
    assert "AttributeError" in err.render() and "Traceback" in err.render()


@pytest.mark.parametrize("dies", [0, 1, 11])
def test_a_worker_that_dies_loses_only_its_case(dies: int) -> None:
    """Item `dies` ends its worker process (os._exit): the pool breaks (also while items are
    still being submitted, when it is the first), the others are run again and give their
    values (|-k| = k); only that item is E991."""
    items: list[Any] = [partial(abs, -k) for k in range(12)]
    items[dies] = partial(os._exit, 7)
    outcomes = runner.run(operator.call, items, workers=2)
    assert [o.value for o in outcomes] == [None if k == dies else k for k in range(12)]
    err = outcomes[dies].error
    assert err is not None and err.codes == ["E991"] and outcomes[dies].status == "error"
    assert all(o.error is None for k, o in enumerate(outcomes) if k != dies)


def test_dask_gives_what_the_pool_gives(designs: list[Any]) -> None:
    """A Dask LocalCluster (threads in this process, loopback only) through the same runner."""
    distributed = pytest.importorskip("dask.distributed", reason="dask[distributed] not installed")
    serial = runner.run(solve_design, designs, workers=1)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        done: list[int] = []
        dask = runner.run(
            solve_design,
            designs,
            scheduler=cluster.scheduler_address,
            on_done=lambda i, _: done.append(i),
        )
    assert sorted(done) == [0, 1, 2, 3]
    assert [o.status for o in dask] == [None, None, "infeasible", None]
    for (x, xc), (y, yc) in zip(_summary(serial), _summary(dask), strict=True):
        assert xc == yc and (x == y or x == pytest.approx(y, rel=1e-12))


def test_auto_workers() -> None:
    """One item or a small run: this process; else the CPUs capped by the items."""
    big = runner.PARALLEL_MIN_WORK
    assert runner.auto_workers(1, 10 * big) == 1
    assert runner.auto_workers(5, big - 1) == 1
    assert runner.auto_workers(3, big) == min(runner.cpu_count(), 3)
    assert runner.auto_workers(1000, big) == runner.cpu_count()


def test_auto_workers_fit_in_memory() -> None:
    """The memory cap, with fake sizes. A case's peak is estimated at 200 MiB + 20 KiB per
    step × participant × scenario: 168 steps × 30 participants = 5 040 units, 10 scenarios
    50 400, peak 200 MiB + 50 400 × 20 KiB = 200 + 984.375 = 1 184.375 MiB. With 8 items and
    plenty of work (8 × 50 400 ≥ PARALLEL_MIN_WORK):
    - 4 GiB available hold 4096 // 1184.375 = 3 such workers (capped further by the CPUs);
    - 1 GiB holds none: still 1 (in this process), never 0;
    - unknown memory (None from available_memory, not Linux) or no peak given: the CPUs.
    The same design without scenarios (5 040 units, 200 + 98.4 = 298.4 MiB) fits 13 in 4 GiB:
    the CPUs. The --workers help states the rule's constants."""
    from pebdsl.cliargs import WorkersOpt

    mib = 2**20
    assert runner.peak_bytes(50_400) == 200 * mib + 50_400 * 20 * 1024
    work, peak = 8 * 50_400, 50_400
    cpus = runner.cpu_count()
    assert runner.auto_workers(8, work, peak, available=4096 * mib) == min(cpus, 3)
    assert runner.auto_workers(8, work, peak, available=1024 * mib) == 1
    assert runner.auto_workers(8, work, 5_040, available=4096 * mib) == min(cpus, 8)
    assert runner.auto_workers(8, work, 0, available=1024 * mib) == min(cpus, 8)
    help_text = WorkersOpt.__metadata__[0].help
    rule = f"{runner.WORKER_BASE_BYTES >> 20} MiB + {runner.BYTES_PER_WORK >> 10} KiB"
    assert f"{rule} per step x participant x scenario" in help_text


def test_case_work_counts_scenarios(monkeypatch: pytest.MonkeyPatch) -> None:
    """case_work = steps × participants × scenarios: the issue's hour (1 step, 1 participant,
    2 scenarios) is 2, its expected-value design 1; with 1 KiB "available" and a fake peak
    the default is 1 whatever the CPUs; unknown memory leaves the CPUs."""
    from pebdsl.front.parser import parse
    from pebdsl.resolve import resolve

    text = """design "s" { currency = EUR }
horizon { start = 2021-06-07; duration = 1 h; step = 1 h }
scenarios { sunny = 60 %; cloudy = 40 % }
series sun = by_scenario { sunny = 6 kW; cloudy = 0 kW }
grid { buy = 0.30 EUR/kWh; sell = 0.10 EUR/kWh }
participant alice {
  load { profile = 10 kW }
  pv { profile = sun }
}
"""
    from dataclasses import replace

    d = resolve(parse(text, "s.peb"))
    assert runner.case_work(d) == 2
    assert runner.case_work(replace(d, stochastic=None)) == 1
    monkeypatch.setattr(runner, "PARALLEL_MIN_WORK", 1)
    monkeypatch.setattr(runner, "available_memory", lambda: 1024)
    assert runner.workers_for([d, d, d]) == 1
    monkeypatch.setattr(runner, "available_memory", lambda: None)
    assert runner.workers_for([d, d, d]) == min(runner.cpu_count(), 3)


def test_cli_compare_and_sweep_with_three_workers(tmp_path: Path) -> None:
    """`--workers 3` (a pool, although the design is small) gives the numbers of `--workers 1`;
    the infeasible variant is a failed case with status infeasible and exit code 1."""
    path = tmp_path / "street.peb"
    path.write_text(STREET)
    cli = CliRunner()
    docs = []
    for n in ("1", "3"):
        res = cli.invoke(app, ["compare", str(path), "--json", "--workers", n])
        assert res.exit_code == 1, res.output  # `tight` failed
        docs.append(json.loads(res.stdout)["cases"])
    one, three = docs
    assert [c["label"] for c in three] == ["base", "no_trade", "tight", "sunnier"]
    assert [c["status"] for c in three] == ["optimal", "optimal", "infeasible", "optimal"]
    assert "error[E501]" in three[2]["error"]
    for a, b in zip(one, three, strict=True):
        assert a["total_cost"] == b["total_cost"] or a["total_cost"] == pytest.approx(
            b["total_cost"], rel=1e-12
        )
    res = cli.invoke(app, ["sweep", str(path), "--set", "alice.pv.peak=2 kWp,4 kWp,8 kWp"])
    assert res.exit_code == 0, res.output
    res3 = cli.invoke(
        app,
        ["sweep", str(path), "--set", "alice.pv.peak=2 kWp,4 kWp,8 kWp", "--workers", "3"],
    )
    assert res3.exit_code == 0, res3.output
    assert res3.stdout == res.stdout  # the same table


def test_cli_workers_must_be_positive(tmp_path: Path) -> None:
    path = tmp_path / "street.peb"
    path.write_text(STREET)
    res = CliRunner().invoke(app, ["compare", str(path), "--workers", "0"])
    assert res.exit_code == 2


def test_cli_compare_on_dask(tmp_path: Path) -> None:
    """`pebdsl compare --scheduler ADDRESS` solves on the cluster: the numbers of `--workers 1`."""
    distributed = pytest.importorskip("dask.distributed", reason="dask[distributed] not installed")
    path = tmp_path / "street.peb"
    path.write_text(STREET)
    cli = CliRunner()
    local = cli.invoke(app, ["compare", str(path), "--json", "--workers", "1"])
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        res = cli.invoke(
            app, ["compare", str(path), "--json", "--scheduler", cluster.scheduler_address]
        )
    assert res.exit_code == local.exit_code == 1, res.output  # `tight` is infeasible
    on_dask = json.loads(res.stdout)["cases"]
    assert [c["status"] for c in on_dask] == ["optimal", "optimal", "infeasible", "optimal"]
    for a, b in zip(json.loads(local.stdout)["cases"], on_dask, strict=True):
        assert a["total_cost"] == b["total_cost"] or a["total_cost"] == pytest.approx(
            b["total_cost"], rel=1e-12
        )
