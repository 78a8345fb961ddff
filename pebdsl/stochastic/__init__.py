"""Uncertainty: two-stage stochastic solves and rolling (sequential) operation.

Modules: `extensive.py` solves a design with scenarios as one extensive-form LP and measures
EVPI and VSS by re-solves; `rolling.py` solves a design window after window with limited
foresight and prices the gap to perfect foresight. Both compose lower -> backend only (the
results layer of ARCHITECTURE.md, beside pebdsl.solve); docs/stochastic.md has the maths.
"""

from __future__ import annotations

from pebdsl.stochastic.extensive import ScenarioOutcome, StochasticResults, solve_stochastic
from pebdsl.stochastic.rolling import RollingResults, solve_rolling

__all__ = [
    "RollingResults",
    "ScenarioOutcome",
    "StochasticResults",
    "solve_rolling",
    "solve_stochastic",
]
