"""`pebdsl check` stays light: it imports no generator, solver or pandas module unless the
design needs it (issue 14), and the pandas-free clock of `TimeGrid` agrees with pandas'."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from pebdsl.design import TimeGrid

ROOT = Path(__file__).resolve().parents[1]
SUNNY = ROOT / "designs" / "sunny_street.peb"

HEAVY = ("pandas", "pvlib", "demandlib", "holidays", "scipy", "highspy", "pyomo", "jinja2")
# What the console entry point (pebdsl/entry.py) leaves out of a text `check`: the Typer app,
# its Click and pydantic, and rich (the CLI's log handler is made on its first record).
CLI_FRAMEWORK = ("typer", "click", "pydantic", "rich")


def _modules_after_check(design: Path, entry: str = "pebdsl.cli") -> set[str]:
    """Top-level modules loaded after `pebdsl check DESIGN` runs in a fresh interpreter."""
    code = (
        "import sys\n"
        f"from {entry} import main\n"
        "sys.argv = ['pebdsl', 'check', sys.argv[1]]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "print('MODULES', ' '.join(sorted(sys.modules)))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(design)], capture_output=True, text=True, check=False
    )
    line = next((x for x in proc.stdout.splitlines() if x.startswith("MODULES ")), None)
    assert line is not None, proc.stdout + proc.stderr
    return {m.split(".")[0] for m in line.split()[1:]} | {m for m in line.split()[1:] if "." in m}


def test_check_imports_no_generator_solver_or_pandas() -> None:
    loaded = _modules_after_check(SUNNY)
    assert "pebdsl" in loaded  # the probe did run the check
    assert sorted(loaded & set(HEAVY)) == []


def test_check_from_the_entry_point_imports_no_cli_framework() -> None:
    """`pebdsl check FILE` (the console script, `python -m pebdsl`) runs without Typer."""
    loaded = _modules_after_check(SUNNY, "pebdsl.entry")
    assert "pebdsl" in loaded
    assert sorted(loaded & {*HEAVY, *CLI_FRAMEWORK}) == []
    # Nor the formatter (only a design with goals needs it, resolve/goals.py).
    assert "pebdsl.front.formatter" not in loaded


def test_generator_libraries_come_with_the_generator_a_design_calls(tmp_path: Path) -> None:
    """A design calling `spot_price` needs pandas (the generators work on a DatetimeIndex) and
    scipy (its AR(1) filter), but neither pvlib (solar), demandlib nor holidays (standard_load,
    heating_load)."""
    design = tmp_path / "spot.peb"
    design.write_text(
        'design "d" { currency = EUR }\n'
        "horizon { start = 2021-06-07; duration = 1 d; step = 1 h }\n"
        'series spot = spot_price(area = "NO3")\n'
        "grid { buy = spot + 5 ct/kWh; sell = spot }\n"
        "participant a { load { profile = 1 kW } }\n"
    )
    loaded = _modules_after_check(design)
    assert "pandas" in loaded
    assert sorted(loaded & {"pvlib", "demandlib", "holidays"}) == []


@pytest.mark.parametrize(
    ("start", "step_h", "n", "tz"),
    [
        ("2021-03-27T00:00", 1.0, 72, "Europe/Oslo"),  # spring forward: a 23 h day
        ("2021-10-30T00:00", 0.25, 400, "Europe/Oslo"),  # fall back: a 25 h day
        ("2021-01-01T00:00", 1.0, 8760, "Europe/Berlin"),  # a year, both changes
        ("2021-04-03T00:00", 0.5, 200, "Australia/Lord_Howe"),  # a 30-minute change
        ("2021-01-01T00:00", 48.0, 200, "America/New_York"),  # steps longer than a day
        ("2021-06-07T00:00", 1.0, 24, "UTC"),
    ],
)
def test_pandas_free_clock_matches_pandas(start: str, step_h: float, n: int, tz: str) -> None:
    """`utc_ns`, `local_seconds_of_day` and `local_time` (zoneinfo) equal what the pandas
    `index` gives: the same instants, the same local clock, the same ISO text."""
    aware = datetime.fromisoformat(start).replace(tzinfo=ZoneInfo(tz))
    grid = TimeGrid(aware, step_h, n, tz)
    idx = grid.index
    assert np.array_equal(grid.utc_ns(), idx.tz_convert("UTC").as_unit("ns").asi8)
    clock = idx.hour.to_numpy() * 3600 + idx.minute.to_numpy() * 60 + idx.second.to_numpy()
    assert np.array_equal(grid.local_seconds_of_day(), clock)
    for i in (0, n // 3, n // 2, n - 1):
        assert grid.local_time(i).isoformat() == idx[i].isoformat()
