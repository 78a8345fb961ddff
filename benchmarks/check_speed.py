"""How fast is `pebdsl check` on a realistic design?

Generates (in a temporary folder) a 3-block, 30-participant design whose loads, PV and prices
come from one CSV file holding a year of hourly data (8760 rows x 31 columns), then times
`pebdsl check` as a subprocess (cold start: imports included) and in-process (`load_all`).
Also times `pebdsl check designs/sunny_street.peb` (goal, issue 14: under 0.5 s above the
interpreter's start), both as the console script runs it (pebdsl/entry.py, without Typer) and
through the Typer app (pebdsl.cli.main, the path every other command takes). Every figure is
printed beside a baseline measured in the same run, `python -c pass` (the interpreter's own
start): the time above it and the ratio to it, so a loaded or slower machine shifts both alike.
Target: < 2 s for the subprocess on the year design. Exit status 1 when it is missed.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

N_BLOCKS = 3
PER_BLOCK = 10


def write_design(folder: Path) -> Path:
    rng = np.random.default_rng(1)
    idx = pd.date_range("2021-01-01", periods=8760, freq="1h", tz="Europe/Oslo")
    hours = np.asarray(idx.hour)
    cols: dict[str, object] = {"time": [t.isoformat() for t in idx]}
    for i in range(N_BLOCKS * PER_BLOCK):
        cols[f"load{i}"] = np.round(0.3 + rng.random(8760) * (1 + (hours > 16)), 3)
    cols["pv"] = np.round(np.clip(np.sin((hours - 6) / 12 * np.pi), 0, None), 3)
    cols["spot"] = np.round(40 + 30 * rng.random(8760), 2)
    pd.DataFrame(cols).to_csv(folder / "year.csv", index=False)
    lines = [
        'design "benchmark" { currency = EUR }',
        'horizon { start = 2021-01-01; end = 2022-01-01; step = 1 h; timezone = "Europe/Oslo" }',
        'series spot = csv("year.csv", column = "spot", unit = EUR/MWh)',
        'series solar = csv("year.csv", column = "pv")',
        "grid { buy = spot + 5 ct/kWh; sell = spot }",
        "template house { pv { profile = solar; peak = 5 kWp } }",
    ]
    for b in range(N_BLOCKS):
        lines.append(f"block b{b} {{\n  connection = 200 kW")
        for j in range(PER_BLOCK):
            i = b * PER_BLOCK + j
            lines.append(
                f"  participant p{i} from house {{ load {{ profile = "
                f'csv("year.csv", column = "load{i}", unit = kW) }}'
                + ("; battery { capacity = 10 kWh; power = 5 kW }" if j % 3 == 0 else "")
                + " }"
            )
        lines.append("}")
        lines.append(f"market m{b} {{ type = p2p; members = b{b}; fee = 1 ct/kWh }}")
    lines.append("market city { type = pool; members = all }")
    lines.append(
        "dso { energy_charge = 4 ct/kWh; capacity_charge = 8 EUR/kW/month\n"
        "  link b0 -- b1 { capacity = 100 kW }\n  link b1 -- b2 { capacity = 100 kW } }"
    )
    lines.append("variant no_trade { without market city; without market m0 }")
    path = folder / "bench.peb"
    path.write_text("\n".join(lines) + "\n")
    return path


ROOT = Path(__file__).resolve().parent.parent


def timed(cmd: list[str], repeat: int = 3) -> float:
    """Median wall time of `cmd` run as a subprocess (it must exit 0)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        if r.returncode != 0:
            print(r.stdout, r.stderr)
            raise SystemExit(1)
    return statistics.median(times)


def main() -> None:
    base_s = timed([sys.executable, "-c", "pass"], repeat=5)
    print(f"baseline: python -c pass                {base_s:.3f} s")
    small_s = timed(
        [sys.executable, "-m", "pebdsl", "check", str(ROOT / "designs" / "sunny_street.peb")]
    )
    met = "met" if small_s - base_s < 0.5 else "missed"
    print(
        f"pebdsl check sunny_street.peb           {small_s:.3f} s = baseline + "
        f"{small_s - base_s:.3f} s (x{small_s / base_s:.1f}; goal < 0.5 s above: {met})"
    )
    typer_s = timed(
        [
            sys.executable,
            "-c",
            "import sys; from pebdsl.cli import main; sys.argv[0] = 'pebdsl'; main()",
            "check",
            str(ROOT / "designs" / "sunny_street.peb"),
        ]
    )
    print(
        f"  the same through the Typer app         {typer_s:.3f} s = baseline + "
        f"{typer_s - base_s:.3f} s (x{typer_s / base_s:.1f})"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = write_design(Path(tmp))
        sub_s = timed([sys.executable, "-m", "pebdsl", "check", str(path)], repeat=1)
        from pebdsl.load import load_all
        from pebdsl.resolve.csvread import _CSV_CACHE

        t0 = time.perf_counter()
        load_all(str(path))
        first_s = time.perf_counter() - t0
        _CSV_CACHE.clear()
        t0 = time.perf_counter()
        load_all(str(path))
        warm_s = time.perf_counter() - t0
        print(
            f"pebdsl check year csv design (cold)     {sub_s:.3f} s = baseline + "
            f"{sub_s - base_s:.3f} s (x{sub_s / base_s:.1f}; target < 2 s)"
        )
        print(f"load_all in-process, first             {first_s:.3f} s (x{first_s / base_s:.1f})")
        print(
            f"load_all in-process, warm              {warm_s:.3f} s (x{warm_s / base_s:.1f}; "
            "CSV re-parsed)"
        )
        if sub_s >= 2.0:
            raise SystemExit("too slow")


if __name__ == "__main__":
    main()
