"""Uncertainty: two-stage stochastic solves and rolling (sequential) operation.

Modules: `extensive.py` solves a design with scenarios as one extensive-form LP and measures
EVPI and VSS by re-solves; `rolling.py` solves a design window after window with limited
foresight and prices the gap to perfect foresight; `forecast.py` rolls a design with scenarios
over its forecasts (decide on the forecast, realise on each scenario), `update.py` updates
those forecasts from the errors seen so far; `decompose.py` solves
one by progressive hedging. `solve_rolling` here picks rolling.py or forecast.py. They compose
lower -> backend only (the results layer of ARCHITECTURE.md, beside pebdsl.solve);
docs/stochastic.md has the maths.
"""

from __future__ import annotations

from pebdsl.design import Design
from pebdsl.stochastic.extensive import ScenarioOutcome, StochasticResults, solve_stochastic
from pebdsl.stochastic.forecast import roll_over_forecasts
from pebdsl.stochastic.rolling import RollingResults
from pebdsl.stochastic.rolling import solve_rolling as _roll

__all__ = [
    "RollingResults",
    "ScenarioOutcome",
    "StochasticResults",
    "solve_rolling",
    "solve_stochastic",
]


def solve_rolling(
    design: Design,
    period_h: float,
    lookahead_h: float,
    backend: str = "highs",
    solver: str | None = None,
    decide: str = "scenarios",
    correlation: float | None = None,
) -> RollingResults:
    """Rolling operation: a deterministic design window by window (rolling.py); a design with
    scenarios over its forecasts, each window deciding on `decide` ("scenarios": the window's
    two-stage programme; "forecast": the point forecast) and realising on each scenario
    (forecast.py), each window's forecast updated from the errors seen so far with
    autocorrelation `correlation` (None: the design's error model's; update.py). `decide`
    and `correlation` are ignored for a deterministic design."""
    if design.stochastic is not None:
        return roll_over_forecasts(
            design, period_h, lookahead_h, backend, solver, decide, correlation
        )
    return _roll(design, period_h, lookahead_h, backend, solver)
