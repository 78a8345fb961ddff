"""Output of a stochastic solve: results.json and report.html of a two-stage design.

Input: `StochasticResults` (pebdsl.stochastic) and the `Design` it came from.
Output:
- `stochastic_json(r, design) -> dict`: results.json of a stochastic solve: the common head
  (status, objective = the expected cost, design, variant, currency, horizon, model, backend,
  timings, versions, hash) and the `stochastic` section (expected_cost, wait_and_see,
  expected_value_solution_cost, evpi, vss, method, scenarios {name: {probability, cost,
  alone}}, day_ahead_kwh {bidder: [kWh per step]}, notes); JSON-safe (`output.jsonable`).
- `render_stochastic(r, design, command) -> str`: the report page: EVPI and VSS in words, the
  cost of each scenario (a bar chart), and per bidder the day-ahead position against each
  scenario's realised net demand (a time chart).
- `write_stochastic(r, design, out_dir, command)`: both files, plus `scenarios/<name>/` with
  each scenario's outputs as a deterministic solve writes them (results.json, tables,
  report.html), replacing `out_dir` as a set (`fsutil.replace_dir`).
- `rolling_json` / `write_rolling`, `decomposed_json` / `write_decomposed`: results.json of a
  rolling solve (`solution: rolling`, the `rolling` section) and of progressive hedging
  (`solution: decomposed`, objective = the upper bound, the `decomposition` section).
Raises OSError when a file cannot be written, PebdslError E902 for an unusable `out_dir`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup, escape

from pebdsl.fsutil import atomic_write_text, replace_dir
from pebdsl.present.output import jsonable, versions, write_into
from pebdsl.present.report.barchart import BarSeries, bar_chart
from pebdsl.present.report.charts import OKABE_ITO, TimeAxis, color, fmt_num
from pebdsl.present.report.common import _csp
from pebdsl.present.report.timecharts import Layer, time_line_chart

if TYPE_CHECKING:
    from pebdsl.design import Design
    from pebdsl.stochastic import RollingResults, StochasticResults
    from pebdsl.stochastic.decompose import Decomposed

__all__ = [
    "decomposed_json",
    "render_stochastic",
    "stochastic_json",
    "value_in_words",
    "write_decomposed",
    "write_stochastic",
]


def _head(design: Design, status: str, objective: float) -> dict[str, Any]:
    files = [s.path for s in design.sources]
    return {
        "status": status,
        "objective": {"value": objective, "unit": design.currency},
        "design": {
            "title": design.title,
            "file": files[0] if files else None,
            "files": files,
            "description": design.description,
            "hash": design.digest(),
        },
        "variant": design.variant,
        "currency": design.currency,
        "horizon": {
            "start": design.time.index[0].isoformat() if design.n_steps else None,
            "step_h": design.time.step_h,
            "n_steps": design.n_steps,
            "duration_h": design.time.duration_h,
            "timezone": design.time.timezone,
        },
        "versions": versions(),
        "hash": design.digest(),
    }


def stochastic_json(r: StochasticResults, design: Design) -> dict[str, Any]:
    """results.json of a stochastic solve (module docstring)."""
    doc = _head(design, r.status, r.expected_cost)
    doc.update(stochastic=r.to_json(), model=r.model, backend=r.backend, timings=r.timings)
    out = jsonable(doc)
    assert isinstance(out, dict)
    return out


def rolling_json(r: RollingResults, design: Design) -> dict[str, Any]:
    """results.json of a rolling solve: the head (objective = the rolling operation's cost)
    and the `rolling` section (period, lookahead, rolling and perfect-foresight cost, gap)."""
    doc = _head(design, "optimal", r.rolling_cost)
    doc.update(solution="rolling", rolling=r.to_json(), backend=r.backend, timings=r.timings)
    out = jsonable(doc)
    assert isinstance(out, dict)
    return out


def decomposed_json(r: Decomposed, design: Design) -> dict[str, Any]:
    """results.json of a decomposed solve: the head (objective = the upper bound, the cost of
    the consensus position) and the `decomposition` section."""
    doc = _head(design, "optimal", r.upper_bound)
    doc.update(solution="decomposed", decomposition=r.to_json())
    out = jsonable(doc)
    assert isinstance(out, dict)
    return out


def write_decomposed(r: Decomposed, design: Design, out_dir: str | Path, command: str = "") -> None:
    """results.json of a decomposed solve into `out_dir` (replaced as a set)."""
    _write_json(decomposed_json(r, design), out_dir, command)


def write_rolling(
    r: RollingResults, design: Design, out_dir: str | Path, command: str = ""
) -> None:
    """results.json of a rolling solve into `out_dir` (replaced as a set)."""
    _write_json(rolling_json(r, design), out_dir, command)


def _write_json(doc: dict[str, Any], out_dir: str | Path, command: str) -> None:
    with replace_dir(out_dir) as tmp:
        tmp.mkdir(parents=True, exist_ok=True)
        if command:
            doc["command"] = command
        atomic_write_text(tmp / "results.json", json.dumps(doc, indent=2, allow_nan=False) + "\n")


def value_in_words(r: StochasticResults) -> list[str]:
    """EVPI and VSS (and what they mean) as sentences."""
    cur = r.currency
    out = [
        f"Expected cost {fmt_num(r.expected_cost)} {cur} over {len(r.scenarios)} scenarios "
        f"({r.method}).",
        f"Perfect information is worth {fmt_num(r.evpi)} {cur} (EVPI): knowing which scenario "
        f"comes before bidding day-ahead would lower the expected cost to "
        f"{fmt_num(r.wait_and_see)} {cur}.",
    ]
    if r.vss is None:
        out.append(
            "Planning on the average forecast is not even feasible in every scenario: the value "
            "of the stochastic solution (VSS) is unbounded."
        )
    else:
        out.append(
            f"Planning for the scenarios instead of the average forecast saves {fmt_num(r.vss)} "
            f"{cur} (VSS): committing the expected-value design's day-ahead position would cost "
            f"{fmt_num(r.eev)} {cur} in expectation."
        )
    return out


def _position_charts(r: StochasticResults, design: Design) -> list[Markup]:
    axis = TimeAxis(design.time.index, design.dt_h)
    charts = []
    for bidder, da in list(r.day_ahead_kwh.items())[:12]:
        lines = [Layer("day-ahead position", da, OKABE_ITO["black"], "line")]
        for i, s in enumerate(r.scenarios[:8]):
            if bidder in s.net_demand_kwh:
                lines.append(
                    Layer(f"{s.name} realised", s.net_demand_kwh[bidder], color(i), "dash")
                )
        charts.append(
            time_line_chart(
                axis,
                lines,
                title=f"{bidder}: day-ahead position and realised net demand",
                y_label="kWh per step",
                desc="the first-stage purchase (− sale) against each scenario's grid exchange",
                zero_based=False,
            )
        )
    return charts


def render_stochastic(r: StochasticResults, design: Design, command: str = "") -> str:
    """The report page of a stochastic solve."""
    names = [s.name for s in r.scenarios]
    costs = bar_chart(
        [f"{s.name} ({100 * s.probability:.3g} %)" for s in r.scenarios],
        [
            BarSeries("stochastic optimum", [s.cost for s in r.scenarios], OKABE_ITO["blue"]),
            BarSeries("perfect information", [s.alone for s in r.scenarios], "#A6A6A6"),
        ],
        title="Cost of each scenario",
        x_label=design.currency,
        desc="each scenario's cost at the stochastic optimum and when solved alone",
    )
    words = "".join(f"<p>{escape(t)}</p>" for t in value_in_words(r))
    links = ", ".join(
        f'<a href="scenarios/{escape(s.name)}/report.html">{escape(s.name)}</a>'
        for s in r.scenarios
        if s.results is not None
    )
    if links:
        words += f"<p>Each scenario's own report (series, bills, prices): {links}.</p>"
    notes = "".join(f"<p class=note>{escape(n)}</p>" for n in r.notes)
    charts = "".join(str(c) for c in [costs, *_position_charts(r, design)])
    title = escape(design.title + (f" — {design.variant}" if design.variant else ""))
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f'<meta http-equiv="Content-Security-Policy" content="{_csp()}">'
        f"<title>{title} (stochastic)</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
        "padding:0 1rem}svg{max-width:100%}.note{color:#a00}</style></head><body>"
        f"<h1>{title}</h1><p>Two-stage stochastic solution: scenarios "
        f"{escape(', '.join(names))}.</p>{words}{notes}{charts}"
        + (f"<p><code>{escape(command)}</code></p>" if command else "")
        + "</body></html>\n"
    )


def write_stochastic(
    r: StochasticResults, design: Design, out_dir: str | Path, command: str = ""
) -> None:
    """results.json and report.html as one set into `out_dir`."""
    with replace_dir(out_dir) as tmp:
        tmp.mkdir(parents=True, exist_ok=True)
        doc = stochastic_json(r, design)
        if command:
            doc["command"] = command
        atomic_write_text(tmp / "results.json", json.dumps(doc, indent=2, allow_nan=False) + "\n")
        atomic_write_text(tmp / "report.html", render_stochastic(r, design, command))
        for s in r.scenarios:
            if s.results is not None:
                # Each scenario read like a deterministic solve: its own results.json, tables
                # and report (prices = its duals / its probability).
                write_into(s.results, tmp / "scenarios" / s.name, command=command)
