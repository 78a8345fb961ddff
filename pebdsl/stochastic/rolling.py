"""Rolling (sequential) operation: solve window after window with limited foresight.

Input: a deterministic `Design`, the rolling period and the lookahead (hours; whole numbers of
steps), the backend and solver.
Output: `RollingResults`: the cost of operating the design window by window, the cost with
perfect foresight (the whole horizon solved at once), the gap between them, and per window the
model size and solve time.

How: window k covers steps [k·R, k·R + R + L) (R = period, L = lookahead, cut at the horizon's
end) of a copy of the design sliced in time (`window_design`), whose batteries start at the
state of charge the previous window left after its first R steps; a battery's `final` state
applies only in the window that reaches the horizon's end (before, the lookahead is all the
window knows of the future). The DSO's capacity-charge peaks reached so far in each month are
lower bounds of the window's `peak` columns, so a window does not plan as if the month's peak
were still free. Each window commits its first R steps: every per-step column (grid, dispatch,
trades, charge, …). The committed operation is then priced on the whole horizon's model with
those columns fixed (so capacity charges and flexible-load windows are billed over the whole
horizon exactly as in a perfect-foresight solve); gap = rolling − perfect ≥ 0.
Also bounds memory for long horizons: each window's model is the size of R + L steps.

Errors: E307 (PebdslError) a period or lookahead that is not a positive whole number of steps
(lookahead may be 0), or a design with scenarios (pebdsl.stochastic.solve_rolling rolls
those over their forecasts: pebdsl.stochastic.forecast);
E501/E502 a window without an optimum; E501 when the committed operation cannot be priced on
the whole horizon (a flexible-load window cut by a window boundary: choose a period that is a
multiple of the flexible windows).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from pebdsl.backends import solve_ir
from pebdsl.design import Design, FloatArray, TimeGrid
from pebdsl.diagnostics import PebdslError, error
from pebdsl.ir import ModelIR
from pebdsl.lower import lower

__all__ = ["RollingResults", "hours_of", "solve_rolling", "window_design", "window_steps"]


def hours_of(text: str, option: str) -> float:
    """A period as the command line writes it (`1d`, `12h`, `1.5 d`) in hours; else E307."""
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(h|d)\s*", text)
    if m is None:
        raise PebdslError(
            error("E307", f"{option} takes a duration like `1d` or `12h`, not `{text}`")
        )
    return float(m.group(1)) * (24.0 if m.group(2) == "d" else 1.0)


@dataclass(frozen=True)
class RollingResults:
    """A rolling solve: its cost, the perfect-foresight cost and the windows."""

    title: str
    variant: str | None
    currency: str
    period_h: float
    lookahead_h: float
    rolling_cost: float
    perfect_cost: float
    windows: tuple[dict[str, Any], ...]
    backend: str
    timings: dict[str, float] = field(default_factory=dict)
    # Rolling over forecasts (a design with scenarios, pebdsl.stochastic.forecast): how each
    # window decided, and per scenario its probability, rolling and perfect-foresight cost;
    # the costs above are then expectations over the scenarios.
    decide: str = ""
    scenarios: tuple[dict[str, Any], ...] = ()
    # ρ with which each window's forecast was updated from the errors seen (0: not updated;
    # pebdsl.stochastic.update).
    correlation: float = 0.0

    @property
    def gap(self) -> float:
        return self.rolling_cost - self.perfect_cost

    @property
    def gap_share(self) -> float | None:
        """The gap as a share of the perfect-foresight cost (None when that is ~0)."""
        return None if abs(self.perfect_cost) < 1e-9 else self.gap / abs(self.perfect_cost)

    def to_json(self) -> dict[str, Any]:
        """The `rolling` section of results.json."""
        return {
            "period_h": self.period_h,
            "lookahead_h": self.lookahead_h,
            "rolling_cost": self.rolling_cost,
            "perfect_foresight_cost": self.perfect_cost,
            "gap": self.gap,
            "gap_share": self.gap_share,
            "currency": self.currency,
            "windows": list(self.windows),
            **(
                {
                    "decide": self.decide,
                    "forecast_update_correlation": self.correlation,
                    "scenarios": {
                        p["name"]: {k: v for k, v in p.items() if k != "name"}
                        for p in self.scenarios
                    },
                }
                if self.scenarios
                else {}
            ),
        }


def _cutter(start: int, n: int, known: int) -> Any:
    """cut(a, f): steps [start, start + n) of `a`, the steps from `start + known` on taken
    from `f` instead (the forecast beyond what a window knows; None: all from `a`)."""

    def cut(a: FloatArray | None, f: FloatArray | None = None) -> Any:
        if a is None:
            return None
        if f is None or known >= n:
            return np.ascontiguousarray(a[start : start + n])
        head = np.broadcast_to(a, (len(f),)) if np.ndim(a) == 0 else a
        return np.concatenate([head[start : start + known], f[start + known : start + n]])

    return cut


def window_design(
    d: Design,
    start: int,
    n: int,
    soc_kwh: dict[str, float],
    last: bool,
    forecast: Design | None = None,
    known: int | None = None,
) -> Design:
    """Steps [start, start + n) of `d`; batteries start at `soc_kwh`; `final` kept if `last`.
    With `forecast` (the same design on forecast data), only the first `known` steps are
    `d`'s and the rest the forecast's: a window that knows its committed steps and forecasts
    its lookahead (rolling over forecasts, pebdsl.stochastic.forecast)."""
    f = forecast
    cut = _cutter(start, n, n if f is None or known is None else known)
    t0 = pd.Timestamp(d.time.index[start]).to_pydatetime()
    time_grid = TimeGrid(t0, d.time.step_h, n, d.time.timezone, d.time.span)
    g, fg = d.grid, None if f is None else f.grid
    da = g.day_ahead
    grid = replace(
        g,
        buy_per_kwh=cut(g.buy_per_kwh, None if fg is None else fg.buy_per_kwh),
        sell_per_kwh=cut(g.sell_per_kwh, None if fg is None else fg.sell_per_kwh),
        day_ahead=None
        if da is None
        else replace(da, buy_per_kwh=cut(da.buy_per_kwh), sell_per_kwh=cut(da.sell_per_kwh)),
    )

    def battery(b: Any) -> Any:
        if b is None:
            return None
        return replace(b, initial_kwh=soc_kwh[b.name], final_kwh=b.final_kwh if last else None)

    parts = {}
    for name, p in d.participants.items():
        fp = None if f is None else f.participants[name]
        load = None
        if p.load:
            fl = fp.load.profile_kw if fp is not None and fp.load else None
            load = replace(p.load, profile_kw=cut(p.load.profile_kw, fl))
        fgens = [None] * len(p.generation) if fp is None else [g.profile_kw for g in fp.generation]
        gens = tuple(
            replace(gen, profile_kw=cut(gen.profile_kw, fgens[i]))
            for i, gen in enumerate(p.generation)
        )
        parts[name] = replace(p, load=load, generation=gens, battery=battery(p.battery))
    shared = {k: battery(b) for k, b in d.shared_batteries.items()}
    fd = None if f is None else f.dso.energy_charge_per_kwh
    dso = replace(d.dso, energy_charge_per_kwh=cut(d.dso.energy_charge_per_kwh, fd))
    return replace(
        d, time=time_grid, grid=grid, participants=parts, shared_batteries=shared, dso=dso
    )


def window_steps(design: Design, period_h: float, lookahead_h: float) -> tuple[int, int]:
    """The rolling period and lookahead in steps (E307 unless whole numbers of steps)."""
    dt = design.dt_h
    return _steps(period_h, dt, "the rolling period", False), _steps(
        lookahead_h, dt, "the lookahead", True
    )


def _steps(hours: float, dt_h: float, what: str, zero_ok: bool) -> int:
    k = hours / dt_h
    if abs(k - round(k)) > 1e-9 or round(k) < (0 if zero_ok else 1):
        raise PebdslError(
            error(
                "E307",
                f"{what} of {hours:g} h is not a {'' if zero_ok else 'positive '}whole number of "
                f"{dt_h:g} h steps",
            )
        )
    return round(k)


def _solve(ir: ModelIR, backend: str, solver: str | None, what: str) -> Any:
    sol = solve_ir(ir, backend=backend, solver=solver)
    if not sol.ok:
        code = "E502" if "unbounded" in sol.status else "E501"
        raise PebdslError(error(code, f"{what} is {sol.status}"))
    return sol


@dataclass
class _State:
    """What the windows carry: committed per-step columns (in the full IR's numbering), the
    batteries' state of charge and the capacity-charge peaks reached so far."""

    full: ModelIR
    x: FloatArray
    fixed: Any
    soc: dict[str, float]
    peak_so_far: dict[tuple[str, str], float] = field(default_factory=dict)

    def bound_peaks(self, ir: ModelIR, name: str = "peak") -> None:
        """The window's peak columns (block `name`) start at the month's peak so far."""
        if name not in ir.vars:
            return
        pv = ir.vars[name]
        lo = pv.lower.reshape(len(pv.entities), pv.n_steps)
        for i, e in enumerate(pv.entities):
            for j, label in enumerate(pv.step_labels or ()):
                lo[i, j] = max(lo[i, j], self.peak_so_far.get((e, label), 0.0))
        pv.lower = lo.ravel()

    def commit(self, ir: ModelIR, xw: FloatArray, k0: int, c: int) -> None:
        """Keep the window's first c steps of every per-step column; carry the batteries."""
        full = self.full
        for vb in ir.vars.values():
            if vb.step_kind != "t" or vb.name not in full.vars:
                continue
            fv = full.vars[vb.name]
            vals = vb.values(xw)[:, :c]
            fcols = fv.cols()
            for i, e in enumerate(vb.entities):
                cols = fcols[fv.entities.index(e), k0 : k0 + c]
                self.x[cols] = vals[i]
                self.fixed[cols] = True
        if "soc" in ir.vars:
            sv = ir.vars["soc"]
            end = sv.values(xw)[:, c - 1]
            self.soc.update({e: float(end[i]) for i, e in enumerate(sv.entities)})
        self._peaks(k0, c)

    def _peaks(self, k0: int, c: int) -> None:
        """The committed steps' metered quantities (peak_def rows with peak = 0) raise the
        month's peak so far."""
        full = self.full
        if "peak_def" not in full.cons or "peak" not in full.vars:
            return
        cb, pk = full.cons["peak_def"], full.vars["peak"]
        rows = (cb.start + np.arange(cb.size)).reshape(len(cb.entities), cb.n_steps)
        act = full.matrix() @ np.where(self.fixed, self.x, 0.0)
        mid = _month_of_steps(full, cb)
        labels = pk.step_labels or ()
        for i, e in enumerate(cb.entities):
            for s in range(k0, k0 + c):
                key = (e, labels[mid[s]])
                self.peak_so_far[key] = max(self.peak_so_far.get(key, 0.0), float(act[rows[i, s]]))

    def price(self, backend: str, solver: str | None) -> float:
        """The whole horizon's cost with the committed columns fixed."""
        full, saved = self.full, {}
        for name, vb in full.vars.items():
            saved[name] = (vb.lower.copy(), vb.upper.copy())
            sel = self.fixed[vb.start : vb.start + vb.size]
            mine = self.x[vb.start : vb.start + vb.size]
            vb.lower = np.where(sel, mine, vb.lower)
            vb.upper = np.where(sel, mine, vb.upper)
        try:
            priced = solve_ir(full, backend=backend, solver=solver)
        finally:
            for name, vb in full.vars.items():
                vb.lower, vb.upper = saved[name]
        if not priced.ok:
            raise PebdslError(
                error(
                    "E501",
                    "the rolling operation cannot be priced on the whole horizon "
                    f"({priced.status})",
                    hints=("choose a rolling period that is a multiple of the flexible windows",),
                )
            )
        return float(priced.objective)


def solve_rolling(
    design: Design,
    period_h: float,
    lookahead_h: float,
    backend: str = "highs",
    solver: str | None = None,
) -> RollingResults:
    """Operate a deterministic `design` window by window (module docstring) and price it (a
    design with scenarios: pebdsl.stochastic.solve_rolling rolls it over its forecasts)."""
    if design.stochastic is not None:
        raise PebdslError(
            error("E307", "this rolling solve takes deterministic designs; this one has scenarios")
        )
    dt, n = design.dt_h, design.n_steps
    r_steps, l_steps = window_steps(design, period_h, lookahead_h)
    t0 = time.perf_counter()
    full = lower(design)
    perfect = _solve(full, backend, solver, "the perfect-foresight model")
    timings = {"perfect_foresight": time.perf_counter() - t0}
    soc = {b.name: b.initial_kwh for b in design.batteries().values()}
    st = _State(full, np.zeros(full.n_cols), np.zeros(full.n_cols, dtype=bool), soc)
    windows = []
    t0 = time.perf_counter()
    for k0 in range(0, n, r_steps):
        m, c = min(r_steps + l_steps, n - k0), min(r_steps, n - k0)
        ir = lower(window_design(design, k0, m, st.soc, last=k0 + m == n))
        st.bound_peaks(ir)
        w0 = time.perf_counter()
        sol = _solve(ir, backend, solver, f"the window starting at step {k0 + 1}")
        windows.append(
            {
                "start_step": k0,
                "steps": m,
                "committed": c,
                "variables": ir.n_cols,
                "objective": float(sol.objective),
                "seconds": time.perf_counter() - w0,
            }
        )
        st.commit(ir, sol.x, k0, c)
    timings["windows"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    rolling_cost = st.price(backend, solver)
    timings["pricing"] = time.perf_counter() - t0
    return RollingResults(
        title=design.title,
        variant=design.variant,
        currency=design.currency,
        period_h=r_steps * dt,
        lookahead_h=l_steps * dt,
        rolling_cost=rolling_cost,
        perfect_cost=float(perfect.objective),
        windows=tuple(windows),
        backend=backend,
        timings=timings,
    )


def _month_of_steps(full: ModelIR, cb: Any) -> Any:
    """The month column of each step, read off the peak_def rows' peak coefficients."""
    pk = full.vars["peak"]
    out = np.zeros(cb.n_steps, dtype=np.int64)
    first = np.flatnonzero(cb.rows < cb.n_steps)  # entity 0's rows
    for r, col in zip(cb.rows[first], cb.cols[first], strict=True):
        if pk.start <= col < pk.start + pk.n_steps:
            out[r] = col - pk.start
    return out
