"""The benchmark scripts run (on tiny inputs): their figures are only worth something if they do."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _main(script: str):  # type: ignore[no-untyped-def]
    return runpy.run_path(str(ROOT / "benchmarks" / script))["main"]


def test_model_speed_on_two_days(capsys: pytest.CaptureFixture[str]) -> None:
    assert _main("model_speed.py")(["--days", "2", "--backend", "both"]) == 0
    out = capsys.readouterr().out
    assert out.count("overhead / HiGHS run") == 2
    assert "peak memory" in out


def test_model_speed_on_a_design_file(capsys: pytest.CaptureFixture[str]) -> None:
    sunny = str(ROOT / "designs" / "sunny_street.peb")
    assert _main("model_speed.py")(["--design", sunny, "--backend", "highs"]) == 0
    assert "objective" in capsys.readouterr().out


def test_benchmark_scripts_have_a_main() -> None:
    for script in sorted((ROOT / "benchmarks").glob("*.py")):
        assert "def main(" in script.read_text(), script.name


def test_scale_prints_memory_per_participant(capsys: pytest.CaptureFixture[str]) -> None:
    assert _main("scale.py")(["--sizes", "16,32", "--hours", "4"]) == 0
    out = capsys.readouterr().out
    assert "KiB/participant" in out
    assert "memory per participant 16 -> 32: ratio" in out


def test_stochastic_benchmark_on_one_day(capsys: pytest.CaptureFixture[str]) -> None:
    """benchmarks/stochastic.py runs the extensive form of the peer-sized design (one day,
    two scenarios here) and prints its size, HiGHS's run and the overhead ratio, and the same
    for the expected-value design with the ratios between them."""
    assert _main("stochastic.py")(["--days", "1", "--scenarios", "2"]) == 0
    out = capsys.readouterr().out
    assert "overhead / HiGHS run" in out and "2 scenarios" in out and "nonzeros" in out
    assert "baseline (the expected-value design" in out
    assert "ratios extensive form / baseline: variables" in out


def test_peer_speed_on_one_day(capsys: pytest.CaptureFixture[str]) -> None:
    """pebdsl and PyPSA build the same LP: equal objectives on a day (PyPSA optional)."""
    assert _main("peer_speed.py")(["--days", "1"]) == 0
    out = capsys.readouterr().out
    try:
        import pypsa  # noqa: F401
    except ImportError:
        assert "measuring pebdsl alone" in out
        return
    line = next(x for x in out.splitlines() if "objective difference" in x)
    rel = float(line.split("objective difference ")[1].split()[0])
    assert rel <= 1e-6


def test_solver_strategy_on_one_day(capsys: pytest.CaptureFixture[str]) -> None:
    """Every strategy reaches the default's optimum; a warm start reaches the cold one's."""
    assert _main("solver_strategy.py")(["--days", "1", "--warm"]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = [x for x in out if x.split() and x.split()[0] in ("choose", "ipm+crossover", "ipm")]
    assert len(rows) == 3 and all("Optimal" in x for x in rows)
    # "(Δ d)": each objective against the default's; the IPM without crossover stops at its
    # tolerance (1e-8 relative by default), so 1e-6 absolute is a safe bound on ~50 EUR.
    assert all(float(x.split("(Δ ")[1].split(")")[0]) <= 1e-6 for x in rows)
    warm = next(x for x in out if "cold / warm" in x)
    assert float(warm.split("differ by ")[1]) <= 1e-6


def test_solver_strategy_temporal_warm_start(capsys: pytest.CaptureFixture[str]) -> None:
    """Two days in one-day chunks: the full LP solved from the chunks' basis reaches the cold
    `choose` run's optimum (1e-9 relative)."""
    argv = ["--days", "2", "--only", "choose", "--chunks", "1"]
    assert _main("solver_strategy.py")(argv) == 0
    out = capsys.readouterr().out.splitlines()
    cold = float(next(x for x in out if x.startswith("choose")).split()[5])
    row = next(x for x in out if x.startswith("1d "))
    assert "Optimal" in row
    hot = float(row.split("objective ")[1].split()[0])
    assert hot == pytest.approx(cold, rel=1e-9)


def test_decompose_speed_on_one_day(capsys: pytest.CaptureFixture[str]) -> None:
    """The single LP and its three parts (serial, on 2 workers) reach the same objective."""
    assert _main("decompose_speed.py")(["--days", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = [x for x in out if x.startswith(("single LP", "3 parts"))]
    assert len(rows) == 3
    assert all(float(x.split("(Δ ")[1].rstrip(")")) <= 1e-9 for x in rows)


def test_aggregate_speed_on_two_days(capsys: pytest.CaptureFixture[str]) -> None:
    """2 typical days of a 2-day horizon: each day is its own typical day (weight 1), so the
    aggregated LP is the full one in other coordinates and the printed error is 0."""
    pytest.importorskip("tsam")
    args = ["--days", "2", "--typical", "1,2", "--blocks", "2", "--per-block", "2"]
    assert _main("aggregate_speed.py")(args) == 0
    out = capsys.readouterr().out.splitlines()
    heads = ("full", "1", "2")
    rows = {x.split()[0]: x.split() for x in out if x.split() and x.split()[0] in heads}
    assert set(rows) == {"full", "1", "2"}
    assert rows["2"][8] in ("+0.00%", "-0.00%")
