"""Rolling operation over forecasts: a design with scenarios operated window by window.

Input: a `Design` with scenarios (pebdsl.resolve; the design itself is the forecast, each
scenario's design one possible realisation), the rolling period and lookahead in hours, how
each window decides (`decide`: "scenarios" — the window's two-stage programme over the
scenario draws; "forecast" — the point forecast, the window of the expected-value design),
the backend and solver.
Output: `RollingResults` (pebdsl.stochastic.rolling) whose costs are expectations over the
scenarios: `rolling_cost` = Σ_ω π_ω · (the operation's cost when ω realises) and
`perfect_cost` = Σ_ω π_ω · (ω solved alone with perfect foresight) = the wait-and-see bound;
`scenarios` gives each scenario's pair.

How, for each scenario ω taken as the actuals (docs/stochastic.md "Rolling over forecasts"):
window k covers steps [k·R, k·R + R + L). **Decide**: the window is solved on what is known at
its start — the batteries' realised state of charge and the capacity-charge peaks realised so
far, and for its steps the forecast (or the scenario draws, each from the same realised
state), updated from the errors ω's actuals showed before k·R with the error model's
autocorrelation ρ (pebdsl.stochastic.update: corrected = forecast·(1 + ρ^lead·ε_last); the
design's `Stochastic.correlation` unless `correlation` is given; declared scenarios state no
error model, ρ = 0, no update) — and its first-stage columns (day-ahead positions,
`stage = 1` battery schedules; pebdsl.lower.scenarios.first_stage_entities) are kept for its
first R steps. **Realise**: the window is solved again on ω's actual data for its first R
steps (the updated forecast beyond them) with those columns fixed; everything else
(intraday deviations, recourse batteries, trades) reacts to the actuals, and the first R
steps of every per-step column are committed. The re-forecast of the next window starts from
the state the actuals left. The committed operation is priced on ω's whole-horizon model as
in pebdsl.stochastic.rolling.

Errors: as pebdsl.stochastic.rolling (E307, E501, E502); E307 also for an unknown `decide`.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import numpy as np

from pebdsl.design import Design, Stochastic
from pebdsl.diagnostics import PebdslError, error
from pebdsl.ir import FloatArray, ModelIR
from pebdsl.lower import lower
from pebdsl.lower.scenarios import first_stage_entities, lower_extensive
from pebdsl.stochastic.rolling import RollingResults, _solve, _State, window_design, window_steps
from pebdsl.stochastic.update import condition

__all__ = ["DECISIONS", "roll_over_forecasts"]

DECISIONS = ("scenarios", "forecast")


def _decide(
    forecast: Design,
    sto: Stochastic | None,
    k0: int,
    m: int,
    st: _State,
    last: bool,
    be: tuple[str, Any],
) -> tuple[ModelIR, FloatArray]:
    """The window's deciding model and its optimum, on what is known at step k0: the
    (updated) forecast, or with `sto` the window's two-stage programme over its (updated)
    draws."""
    window = window_design(forecast, k0, m, st.soc, last)
    if sto is None:
        ir = lower(window)
        st.bound_peaks(ir)
        return ir, _solve(ir, *be, f"the forecast window starting at step {k0 + 1}").x
    cut = {n: window_design(d, k0, m, st.soc, last) for n, d in sto.designs.items()}
    ext = lower_extensive(replace(window, stochastic=replace(sto, designs=cut)))
    for name in sto.designs:  # each draw's peak columns start at the peaks realised so far
        st.bound_peaks(ext.ir, f"{name}:peak")
    return ext.ir, _solve(ext.ir, *be, f"the two-stage window starting at step {k0 + 1}").x


def _fix_first_stage(
    real: ModelIR, dec: ModelIR, x_dec: FloatArray, shared: dict[str, set[str] | None], c: int
) -> None:
    """Fix the realising window's first-stage columns of its first c steps to the decision."""
    for name, ents in shared.items():
        if name not in real.vars or name not in dec.vars:
            continue
        rv, dv = real.vars[name], dec.vars[name]
        rcols, vals = rv.cols(), dv.values(x_dec)
        for i, e in enumerate(rv.entities):
            if (ents is not None and e not in ents) or e not in dv.entities:
                continue
            cols = rcols[i, :c] - rv.start
            v = vals[dv.entities.index(e), :c]
            rv.lower[cols], rv.upper[cols] = v, v


def _roll_one(
    design: Design,
    actual: Design,
    r_steps: int,
    l_steps: int,
    decide: str,
    be: tuple[str, Any],
    rho: float,
) -> tuple[float, float, list[dict[str, float]]]:
    """(rolling cost, perfect-foresight cost, windows) when `actual` realises; each window's
    forecast (and draws) updated from the errors seen before it with autocorrelation `rho`."""
    full = lower(actual)
    perfect = float(_solve(full, *be, "a scenario alone").objective)
    soc = {b.name: b.initial_kwh for b in actual.batteries().values()}
    st = _State(full, np.zeros(full.n_cols), np.zeros(full.n_cols, dtype=bool), soc)
    forecast = replace(design, stochastic=None)
    sto = design.stochastic
    assert sto is not None
    shared = first_stage_entities(design)
    n, windows = actual.n_steps, []
    for k0 in range(0, n, r_steps):
        m, c = min(r_steps + l_steps, n - k0), min(r_steps, n - k0)
        w0 = time.perf_counter()
        fc = condition(forecast, forecast, actual, rho, k0)
        draws = None
        if decide == "scenarios":
            new = {k: condition(d, forecast, actual, rho, k0) for k, d in sto.designs.items()}
            draws = replace(sto, designs=new)
        dec, x_dec = _decide(fc, draws, k0, m, st, k0 + m == n, be)
        real = lower(window_design(actual, k0, m, st.soc, k0 + m == n, fc, known=c))
        st.bound_peaks(real)
        _fix_first_stage(real, dec, x_dec, shared, c)
        sol = _solve(real, *be, f"the realised window starting at step {k0 + 1}")
        windows.append(
            {
                "start_step": k0,
                "steps": m,
                "committed": c,
                "variables": dec.n_cols + real.n_cols,
                "objective": float(sol.objective),
                "seconds": time.perf_counter() - w0,
            }
        )
        st.commit(real, sol.x, k0, c)
    return st.price(*be), perfect, windows


def roll_over_forecasts(
    design: Design,
    period_h: float,
    lookahead_h: float,
    backend: str = "highs",
    solver: str | None = None,
    decide: str = "scenarios",
    correlation: float | None = None,
) -> RollingResults:
    """Operate a design with scenarios window by window on forecasts (module docstring).
    `correlation`: ρ of the forecast update (None: the design's error model's,
    `Stochastic.correlation`; 0: no update)."""
    sto = design.stochastic
    assert sto is not None, "roll_over_forecasts needs a design with scenarios"
    rho = sto.correlation if correlation is None else correlation
    r_steps, l_steps = window_steps(design, period_h, lookahead_h)
    if decide not in DECISIONS:
        raise PebdslError(
            error("E307", f"unknown rolling decision `{decide}`", hints=(", ".join(DECISIONS),))
        )
    t0 = time.perf_counter()
    per: list[dict[str, Any]] = []
    windows: list[dict[str, Any]] = []
    for sc in sto.scenarios:
        cost, perfect, ws = _roll_one(
            design, sto.designs[sc.name], r_steps, l_steps, decide, (backend, solver), rho
        )
        per.append(
            {
                "name": sc.name,
                "probability": sc.probability,
                "rolling_cost": cost,
                "perfect_foresight_cost": perfect,
            }
        )
        windows += [{**w, "scenario": sc.name} for w in ws]
    dt = design.dt_h
    return RollingResults(
        title=design.title,
        variant=design.variant,
        currency=design.currency,
        period_h=r_steps * dt,
        lookahead_h=l_steps * dt,
        rolling_cost=sum(p["probability"] * p["rolling_cost"] for p in per),
        perfect_cost=sum(p["probability"] * p["perfect_foresight_cost"] for p in per),
        windows=tuple(windows),
        backend=backend,
        timings={"windows": time.perf_counter() - t0},
        decide=decide,
        scenarios=tuple(per),
        correlation=rho,
    )
