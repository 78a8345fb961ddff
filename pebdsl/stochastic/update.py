"""Forecasts updated from the errors already seen (rolling over forecasts).

Input: the forecast `Design` (the expected-value design), the actual one (a scenario taken as
the actuals), a design to condition (the forecast itself or one scenario draw), the error
model's autocorrelation ρ per step and the first step not yet known, k0.
Output: `condition(...)`: that design with its uncertain series (each participant's load and
generation, the grid's intraday buy and sell prices) corrected for the steps t ≥ k0. Raises
nothing.

The rule follows the documented error model (pebdsl/resolve/scenarios.py): a series is the
forecast f times (1 + ε_t), ε_t = σ·e_t, with e an AR(1) process of autocorrelation ρ. Let s
be the last step before k0 where the forecast is positive (where an error can be observed: a
PV forecast of 0 at night tells nothing) and ε_s = actual_s / f_s − 1 the error seen there.
Then E[ε_t | ε_s] = ρ^(t−s)·ε_s, so the **point forecast** becomes

    f'_t = max(0, f_t · (1 + ρ^(t−s) · ε_s))                       (lead t − s ≥ 1)

and a **scenario draw** x (its own error ε^x_s = x_s / f_s − 1) is conditioned on the same
observation by shifting its path: e_t − ρ^(t−s)·e_s is independent of e_s for a Gaussian AR(1),
so replacing e_s by the observed value gives an exact sample of the conditional law:

    x'_t = max(0, x_t + f_t · ρ^(t−s) · (ε_s − ε^x_s))

(the forecast is the draw with ε^x = 0, so one formula serves both). Truncation at zero is
applied again after the shift; an actual value that was truncated is taken as observed. The
corrected intraday prices keep the generator's no-sure-gain bounds (buy ≥ day-ahead sell, sell
≤ day-ahead buy). ρ = 0 (declared scenarios: they state no error model) leaves every series as
it was.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from pebdsl.design import Design, FloatArray

__all__ = ["condition"]


def _full(a: Any, n: int) -> FloatArray:
    return np.broadcast_to(np.asarray(a, dtype=float), (n,)).copy()


def _shift(x: Any, f: Any, a: Any, rho: float, k0: int, n: int) -> Any:
    """x'_t for t ≥ k0 (module docstring); `x` itself when nothing changes."""
    if x is None or f is None or a is None:
        return x
    xf, ff, af = _full(x, n), _full(f, n), _full(a, n)
    seen = np.flatnonzero(ff[:k0] > 1e-12)
    if seen.size == 0:
        return x
    s = int(seen[-1])
    gap = af[s] / ff[s] - xf[s] / ff[s]  # ε_s − ε^x_s
    if gap == 0.0:
        return x
    lead = np.arange(k0, n) - s
    out = xf
    out[k0:] = np.maximum(0.0, xf[k0:] + ff[k0:] * rho**lead * gap)
    return out


def condition(x: Design, forecast: Design, actual: Design, rho: float, k0: int) -> Design:
    """Design `x` (the forecast or a draw) conditioned on the actual errors seen before step
    `k0` (module docstring)."""
    if rho <= 0.0 or k0 <= 0:
        return x
    n = x.n_steps

    def sh(xs: Any, fs: Any, acts: Any) -> Any:
        return _shift(xs, fs, acts, rho, k0, n)

    parts = {}
    for name, p in x.participants.items():
        fp, ap = forecast.participants[name], actual.participants[name]
        load = p.load
        if load is not None and fp.load is not None and ap.load is not None:
            load = replace(
                load, profile_kw=sh(load.profile_kw, fp.load.profile_kw, ap.load.profile_kw)
            )
        gens = tuple(
            replace(g, profile_kw=sh(g.profile_kw, fg.profile_kw, ag.profile_kw))
            for g, fg, ag in zip(p.generation, fp.generation, ap.generation, strict=True)
        )
        parts[name] = replace(p, load=load, generation=gens)
    g, fg, ag = x.grid, forecast.grid, actual.grid
    buy = sh(g.buy_per_kwh, fg.buy_per_kwh, ag.buy_per_kwh)
    sell = sh(g.sell_per_kwh, fg.sell_per_kwh, ag.sell_per_kwh)
    da = g.day_ahead
    if da is not None and da.sell_per_kwh is not None and buy is not g.buy_per_kwh:
        buy = np.maximum(buy, da.sell_per_kwh)
    if da is not None and sell is not None and sell is not g.sell_per_kwh:
        sell = np.minimum(sell, da.buy_per_kwh)
    return replace(x, participants=parts, grid=replace(g, buy_per_kwh=buy, sell_per_kwh=sell))
