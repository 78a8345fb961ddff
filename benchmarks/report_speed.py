"""How long `render_report` takes for a 3-block, one-week design (target: < 3 s).

Builds the design as .peb text (3 blocks x 4 participants, hourly steps, a market per block and
one between blocks, DSO links and a flexibility need), solves it with the real pipeline when it
is installed, else fabricates a comparable `Results` (tests/test_report.py's synthetic
fixture). Times `render_report` (median of 3), prints seconds, the HTML size and whether it is
under the target; also renders a one-year synthetic design for its size.
Exit status 0 when under the target, 1 otherwise.

    python benchmarks/report_speed.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET_S = 3.0

SOLAR = ", ".join(
    str(v)
    for v in (
        *(0, 0, 0, 0, 0.02, 0.08, 0.2, 0.35, 0.5, 0.62, 0.7, 0.74),
        *(0.74, 0.7, 0.62, 0.5, 0.35, 0.2, 0.08, 0.02, 0, 0, 0, 0),
    )
)
HOME = ", ".join(
    str(v)
    for v in (
        *(0.4, 0.35, 0.3, 0.3, 0.35, 0.5, 0.9, 1.1, 0.8, 0.6, 0.55, 0.6),
        *(0.6, 0.55, 0.55, 0.7, 1.0, 1.4, 1.6, 1.5, 1.2, 0.9, 0.7, 0.5),
    )
)
SPOT = (
    "40, 38, 37, 36, 37, 42, 55, 70, 75, 68, 60, 55, 50, 48, 47, 50, 58, 72, 85, 80, 70, 60, 50, 45"
)


def design_text(n_blocks: int = 3, per_block: int = 4) -> str:
    """A one-week design with `n_blocks` blocks of `per_block` participants."""
    lines = [
        'design "Benchmark: three blocks, one week" {',
        "  currency = EUR",
        "  reference = no_trade",
        "}",
        "horizon {",
        "  start = 2021-06-07",
        "  duration = 7 d",
        "  step = 1 h",
        '  timezone = "Europe/Oslo"',
        "}",
        f"series spot = daily [{SPOT}] EUR/MWh",
        f"series solar = daily [{SOLAR}]",
        f"series home = daily [{HOME}] kW",
        "grid {",
        "  buy = spot + 5 ct/kWh",
        "  sell = spot",
        "}",
        "template household {",
        "  load { profile = home }",
        "}",
    ]
    blocks = [f"block{b + 1}" for b in range(n_blocks)]
    for bi, b in enumerate(blocks):
        lines.append(f"block {b} {{")
        lines.append("  connection = 40 kW")
        for i in range(per_block):
            name = f"{b}_h{i + 1}"
            body = []
            if i % 2 == 0:
                body.append(f"    pv {{ profile = solar; peak = {4 + i + bi} kWp }}")
            if i == 0:
                body.append("    battery { capacity = 10 kWh; power = 5 kW; efficiency = 95 % }")
            lines.append(f"  participant {name} from household {{")
            lines.extend(body)
            lines.append("  }")
        lines.append("}")
        lines.append(f"market {b}_p2p {{")
        lines.append("  type = p2p")
        lines.append(f"  members = {b}")
        lines.append("  fee = 1 ct/kWh")
        lines.append("  loss = 2 %")
        lines.append("}")
    lines += [
        "market city {",
        "  type = pool",
        "  members = all",
        "  fee = 0.5 ct/kWh",
        "}",
        "dso {",
        "  energy_charge = 4 ct/kWh",
        "  reinforcement_cost = 120 EUR/kW/year",
        "}",
        "variant no_trade {",
    ]
    lines += [f"  without market {b}_p2p" for b in blocks]
    lines += ["  without market city", "}"]
    return "\n".join(lines) + "\n"


SOLVE_S: list[float] = []  # the real pipeline's solve of the same design, when it ran


def real_results() -> tuple[Any, Any] | None:
    """(results, reference) from the real pipeline, or None when it is not installed."""
    try:
        from pebdsl.load import load_all
        from pebdsl.solve import solve
    except ImportError:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench3.peb"
        path.write_text(design_text(), encoding="utf-8")
        try:
            designs = load_all(str(path))
            t0 = time.perf_counter()
            res = solve(designs[None])
            SOLVE_S.append(time.perf_counter() - t0)
            ref = solve(designs["no_trade"])
        except Exception as exc:  # a partial tree; say so rather than hide it
            print(f"(real pipeline failed: {type(exc).__name__}: {exc}; using synthetic results)")
            return None
    return res, ref


def main() -> int:
    from pebdsl.present.report import render_report
    from tests.test_report import synthetic_results

    pair = real_results()
    if pair is None:
        source = "synthetic (tests/test_report.py)"
        res, ref = (
            synthetic_results(per_block=4),
            synthetic_results(per_block=4, variant="no_trade", trade=False),
        )
    else:
        source = "real pipeline (pebdsl.solve)"
        res, ref = pair
    render_report(res, reference=ref)  # warm-up: template compilation, lazy imports
    times = []
    html = ""
    for _ in range(3):
        t0 = time.perf_counter()
        html = render_report(res, reference=ref, command="benchmarks/report_speed.py")
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    ok = med < TARGET_S
    print(
        f"results: {source}; {len(res.design.participants)} participants, "
        f"{len(res.design.blocks)} blocks, {res.design.n_steps} steps"
    )
    print(
        f"render_report, 3 blocks x 1 week: median {med:.3f} s of 3 "
        f"({', '.join(f'{t:.3f}' for t in times)}); "
        f"{'<' if ok else '>='} {TARGET_S:.0f} s: {'OK' if ok else 'TOO SLOW'}"
    )
    # Baselines measured in this run: writing the same results' time series as CSV text, and
    # (with the real pipeline) solving the design; the ratios travel between machines.
    t0 = time.perf_counter()
    for frame in (res.participants_ts, res.blocks_ts, res.markets_ts, res.batteries_ts):
        frame.to_csv()
    csv_s = time.perf_counter() - t0
    print(f"baseline: time series as CSV text {csv_s:.3f} s; render / CSV = x{med / csv_s:.1f}")
    if SOLVE_S:
        print(
            f"baseline: solve of the same design {SOLVE_S[0]:.3f} s; "
            f"render / solve = x{med / SOLVE_S[0]:.2f}"
        )
    print(f"report size: {len(html.encode()) / 1024:,.0f} KiB, {html.count('<svg')} charts")
    year = synthetic_results(days=365, per_block=4)
    t0 = time.perf_counter()
    html_year = render_report(year)
    year_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for frame in (year.participants_ts, year.blocks_ts, year.markets_ts, year.batteries_ts):
        frame.to_csv()
    year_csv_s = time.perf_counter() - t0
    print(
        f"one year (synthetic, hourly, 3 blocks x 4): {year_s:.3f} s, "
        f"{len(html_year.encode()) / 1024:,.0f} KiB; render / CSV = x{year_s / year_csv_s:.1f}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
