"""Progressive hedging (scenario decomposition) through mpi-sppy on Pyomo models of the IR.

Input: the scenarios of a two-stage model, each as (name, probability, its own `ModelIR`,
the IR columns of its first-stage decisions in one common order), and PH settings (ρ,
iteration limit, convergence threshold). Output: `Hedging`: the consensus first stage x̄, the
multipliers W_ω of each scenario, PH's own expected objective, iterations and seconds.

How: each scenario's IR becomes a Pyomo model (`pyomo.to_pyomo`) with its first-stage columns
as the root node's nonanticipative variables (`mpisppy.utils.sputils.attach_root_node`);
`mpisppy.opt.ph.PH` runs with HiGHS (`appsi_highs`) on linearised proximal terms (HiGHS takes
no quadratic objective through APPSI). mpi-sppy runs serially in one process, or spread over
processes under MPI (`mpiexec -n 2 python …`, with mpi4py installed): the scenarios are
shared among the ranks; every rank returns the same consensus.

Bounds are the caller's (pebdsl/stochastic/decompose.py): the Lagrangian bound from the W's
and the cost of x̄ evaluated in every scenario.

Raises PebdslError E905 (an optional extra not installed, as for every extra) when mpi-sppy
(the `stochastic` extra: `pip install 'pebdsl[stochastic]'`) is not installed.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pebdsl.diagnostics import PebdslError, error
from pebdsl.ir import FloatArray, IntArray, ModelIR

__all__ = ["Hedging", "progressive_hedging"]

Scenario = tuple[str, float, ModelIR, IntArray]


@dataclass(frozen=True)
class Hedging:
    """What progressive hedging ended with."""

    xbar: FloatArray  # the consensus first stage, in the common order
    w: dict[str, FloatArray]  # the multipliers of each scenario (Σ π_ω W_ω = 0)
    objective: float  # PH's expected objective of its last scenario solutions
    iterations: int
    convergence: float  # PH's convergence metric at the end
    seconds: float


def _import() -> tuple[Any, Any]:
    try:
        # mpi-sppy announces itself on stdout when imported: stderr keeps `--json` clean.
        with contextlib.redirect_stdout(sys.stderr):
            import mpisppy.utils.sputils as sputils
            from mpisppy.opt.ph import PH
    except ImportError as e:
        raise PebdslError(
            error(
                "E905",
                f"scenario decomposition needs mpi-sppy, which is not installed ({e})",
                hints=(
                    "pip install 'pebdsl[stochastic]', or drop --decompose to solve the "
                    "extensive form",
                ),
            )
        ) from None
    return sputils, PH


def progressive_hedging(
    scenarios: Sequence[Scenario],
    rho: float = 1.0,
    max_iterations: int = 100,
    threshold: float = 1e-6,
) -> Hedging:
    """Run PH on the scenarios (module docstring)."""
    from pebdsl.backends.pyomo import to_pyomo

    sputils, ph_class = _import()
    by_name = {s[0]: s for s in scenarios}

    def creator(name: str, **kwargs: Any) -> Any:
        _name, prob, ir, first = by_name[name]
        model, cols, _rows = to_pyomo(ir)
        cost = ir.cost()
        nonant = [cols[j] for j in first.tolist()]
        expr = sum(float(cost[j]) * cols[j] for j in first.tolist())
        sputils.attach_root_node(model, expr, nonant)
        model._mpisppy_probability = prob
        return model

    options: dict[str, Any] = {
        "solver_name": "appsi_highs",
        "PHIterLimit": max_iterations,
        "defaultPHrho": rho,
        "convthresh": threshold,
        "verbose": False,
        "display_progress": False,
        "display_timing": False,
        "linearize_proximal_terms": True,
        "proximal_linearization_tolerance": 1e-4,
        "iter0_solver_options": {},
        "iterk_solver_options": {},
    }
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # its progress lines, as above
        ph = ph_class(options, list(by_name), creator)
        conv, obj, _ = ph.ph_main()
    seconds = time.perf_counter() - t0
    w: dict[str, FloatArray] = {}
    xbar: FloatArray | None = None
    for name, s in ph.local_scenarios.items():
        keys = list(s._mpisppy_data.nonant_indices)
        w[name] = np.array([float(s._mpisppy_model.W[k].value) for k in keys])
        if xbar is None:
            xbar = np.array([float(s._mpisppy_model.xbars[k].value) for k in keys])
    assert xbar is not None
    return Hedging(xbar, w, float(obj), int(ph._PHIter), float(conv), seconds)
