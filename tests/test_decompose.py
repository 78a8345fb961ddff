"""Scenario decomposition (issue 12, acceptance 4): progressive hedging through mpi-sppy.

On a design with 20 generated scenarios the decomposed solution's bounds hold the extensive
form's optimum: lower bound (Lagrangian, from PH's multipliers, or wait-and-see) ≤ z* ≤ upper
bound (the consensus day-ahead position evaluated in every scenario). Both bounds are valid for
any multipliers and any position, so the check does not depend on how far PH has converged.
"""

from __future__ import annotations

import pytest

from pebdsl.front.parser import parse
from pebdsl.resolve import resolve
from pebdsl.stochastic import solve_stochastic

pytest.importorskip("mpisppy")

GEN = """design "gen" { currency = EUR }
horizon { start = 2021-06-07; duration = 1 h; step = 1 h }
scenarios { count = 20; seed = 3; pv_error = 60 %; load_error = 20 % }
grid {
  day_ahead { buy = 0.10 EUR/kWh; sell = 0.05 EUR/kWh }
  intraday  { buy = 0.20 EUR/kWh; sell = 0 EUR/kWh }
}
participant alice {
  connection = 25 kW
  load { profile = 10 kW }
  pv { profile = 6 kW }
}
"""


def test_progressive_hedging_brackets_the_extensive_form() -> None:
    """20 scenarios of the issue's hour (PV 6 kW ± 60 %, load 10 kW ± 20 %): the extensive form
    z* lies in [lower bound, upper bound] of 15 PH iterations, and the consensus position is a
    feasible day-ahead purchase within the 25 kW connection."""
    from pebdsl.stochastic.decompose import solve_decomposed

    d = resolve(parse(GEN, "gen.peb"))
    assert d.stochastic is not None and len(d.stochastic.scenarios) == 20
    z = solve_stochastic(d, read=False).expected_cost
    dec = solve_decomposed(d, rho=0.1, max_iterations=15)
    assert dec.lower_bound <= z + 1e-7
    assert z <= dec.upper_bound + 1e-7
    assert dec.gap >= -1e-7
    assert 0.0 <= dec.xbar[0] <= 25.0
