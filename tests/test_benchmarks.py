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
