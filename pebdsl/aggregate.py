"""Temporal aggregation for long horizons: `pebdsl solve --aggregate 12d` (docs/scale.md).

Input: a deterministic `Design` and the option's text `Nd` (N typical days; `Nd,check` also
solves the full horizon and records the objective's error and the speed-up: `against_full`).
Output: `aggregate(design, text)` -> the design on N typical days: tsam (the `aggregate` extra)
clusters the horizon's days by every time series of the design (loads, generation profiles,
prices, charges; hierarchical clustering, medoid representation, so each typical day is a real
day of the horizon and its series are that day's, unaltered), and the new design's horizon is
those N days end to end, with `design.periods` (pebdsl.design.Periods: which day each typical
day is, how many days it stands for, the order of the days, and tsam's error on the series).
`solve` (pebdsl/solve.py) then weighs each step's costs by its day's count, links the
batteries' state of charge across the original days (pebdsl/lower/periods.py), and reads the
solution back per typical day (`weigh` / `unweigh` here): the dispatch, prices and bills of
the results cover the typical days once each; `Results.aggregation` (results.json
`aggregation`) holds the objective over the whole horizon, the days and weights, and the error.

Errors (PebdslError): E307 an option that is not `Nd` with 1 <= N <= the horizon's days, or a
horizon that is not whole days of steps; E905 tsam is not installed (`pip install
'pebdsl[aggregate]'`); E604 a design a typical day cannot stand for (scenarios, battery
availability, `invest(...)`, or model blocks indexed by month, window or the whole horizon:
capacity charges, flexible-load windows, hard goals).
"""

from __future__ import annotations

import dataclasses
import re
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from pebdsl.design import Design, FloatArray, Periods, TimeGrid
from pebdsl.diagnostics import PebdslError, error

__all__ = ["against_full", "aggregate", "refuse", "unweigh", "weigh"]

# Design fields that hold no per-step series of the model (or are rebuilt here).
_SKIP = frozenset({"time", "sources", "stochastic", "periods", "warnings", "timings", "span"})


def _typical_days(text: str, n_steps: int, step_h: float) -> tuple[int, int]:
    """(typical days, steps per day) of the option text `Nd`; else E307."""
    m = re.fullmatch(r"\s*([0-9]+)\s*d\s*(,\s*check\s*)?", text)
    per_day = 24.0 / step_h
    s = round(per_day)
    days = n_steps // s if s else 0
    if m is None or abs(per_day - s) > 1e-9 or n_steps % max(s, 1) or days < 1:
        raise PebdslError(
            error(
                "E307",
                f"--aggregate takes a number of typical days like `12d` (or `12d,check`), not "
                f"`{text}`, on a horizon of whole days",
                hints=(f"the horizon has {n_steps} steps of {step_h:g} h",),
            )
        )
    k = int(m.group(1))
    if not 1 <= k <= days:
        raise PebdslError(
            error("E307", f"--aggregate {text}: between 1 and the horizon's {days} days")
        )
    return k, s


def refuse(why: str) -> PebdslError:
    return PebdslError(
        error(
            "E604",
            f"--aggregate: a typical day cannot stand for {why}",
            hints=("solve the full horizon (drop --aggregate), or --rolling for memory",),
        )
    )


def _series(obj: Any, n: int, found: dict[int, FloatArray]) -> None:
    """Collect every per-step array (length n) under `obj`, by identity."""
    if isinstance(obj, np.ndarray):
        if obj.ndim == 1 and obj.size == n and obj.dtype.kind == "f":
            found[id(obj)] = obj
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            if f.name not in _SKIP:
                _series(getattr(obj, f.name), n, found)
    elif isinstance(obj, dict):
        for v in obj.values():
            _series(v, n, found)
    elif isinstance(obj, tuple | list):
        for v in obj:
            _series(v, n, found)


def _take(obj: Any, n: int, idx: np.ndarray) -> Any:
    """`obj` with every per-step array (length n) cut to the steps `idx`."""
    if isinstance(obj, np.ndarray):
        return obj[idx] if obj.ndim == 1 and obj.size == n and obj.dtype.kind == "f" else obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        changes = {
            f.name: _take(getattr(obj, f.name), n, idx)
            for f in dataclasses.fields(obj)
            if f.init and f.name not in _SKIP
        }
        return dataclasses.replace(obj, **changes)  # type: ignore[type-var]
    if isinstance(obj, dict):
        return {k: _take(v, n, idx) for k, v in obj.items()}
    if isinstance(obj, tuple | list):
        return type(obj)(_take(v, n, idx) for v in obj)
    return obj


def _check(design: Design) -> None:
    if design.stochastic is not None:
        raise refuse("a design with scenarios")
    if design.investments:
        raise refuse("sizes chosen by the model (`invest(...)`): their cost is per horizon")
    if any(b.available is not None for b in design.batteries().values()):
        raise refuse("batteries with an availability series (`available`)")


def aggregate(design: Design, text: str) -> Design:
    """The design on N typical days (see the module docstring)."""
    _check(design)
    k, s = _typical_days(text, design.n_steps, design.dt_h)
    t0 = time.perf_counter()
    try:
        import pandas as pd

        with warnings.catch_warnings():  # tsam 2.3 sets options pandas 3.1 deprecates
            warnings.simplefilter("ignore")
            from tsam.timeseriesaggregation import TimeSeriesAggregation
    except ImportError:
        raise PebdslError(
            error(
                "E905",
                "--aggregate needs tsam, which is not installed",
                hints=("pip install 'pebdsl[aggregate]', or drop --aggregate",),
            )
        ) from None
    n = design.n_steps
    found: dict[int, FloatArray] = {}
    _series(design, n, found)
    # One column per distinct series (many participants share a profile).
    distinct = {a.tobytes(): a for a in found.values()}
    cols = {f"s{i}": a for i, a in enumerate(distinct.values())} or {"none": np.zeros(n)}
    frame = pd.DataFrame(cols, index=pd.date_range("2001-01-01", periods=n, freq="h"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        agg = TimeSeriesAggregation(
            frame,
            noTypicalPeriods=k,
            hoursPerPeriod=s,  # in steps: the index counts one "hour" per step
            resolution=1.0,
            clusterMethod="hierarchical",
            representationMethod="medoidRepresentation",
            rescaleClusterPeriods=False,
        )
        agg.createTypicalPeriods()
        acc = agg.accuracyIndicators()
    days = tuple(int(i) for i in agg.clusterCenterIndices)
    counts = agg.clusterPeriodNoOccur
    periods = Periods(
        period_steps=s,
        order=tuple(int(c) for c in agg.clusterOrder),
        weights=tuple(int(counts[i]) for i in range(len(days))),
        days=days,
        full_steps=n,
        error={"rmse": float(acc["RMSE"].mean()), "mae": float(acc["MAE"].mean())},
        seconds=time.perf_counter() - t0,
        full=design if text.strip().endswith("check") else None,
    )
    idx = np.concatenate([np.arange(d * s, d * s + s) for d in days])
    t = design.time
    grid = TimeGrid(t.start, t.step_h, len(idx), t.timezone, t.span)
    out: Design = _take(design, n, idx)
    return dataclasses.replace(out, time=grid, periods=periods)


def weigh(design: Design, ir: Any) -> None:
    """Refuse blocks a typical day cannot stand for (E604); weigh the per-step costs."""
    from pebdsl.lower.periods import unaggregable, weight_costs

    assert design.periods is not None
    bad = unaggregable(ir)
    if bad:
        raise refuse(f"the model's {', '.join(f'`{b}`' for b in bad)} (not indexed by step)")
    weight_costs(ir, design.periods.step_weights())


def unweigh(design: Design, ir: Any, sol: Any) -> dict[str, Any]:
    """Undo `weigh` on the IR and on the solution (duals and price intervals per step, the
    objective per typical day); return the aggregation record (the whole horizon's objective)."""
    from pebdsl.lower.periods import weight_costs

    per = design.periods
    assert per is not None
    w = per.step_weights()
    whole = float(sol.objective)
    weighted_cost = ir.cost()
    weight_costs(ir, 1.0 / w)
    if sol.ok:
        sol.objective = whole - float((weighted_cost - ir.cost()) @ sol.x)
        for cb in ir.cons.values():
            if cb.step_kind != "t" or cb.n_steps != w.size:
                continue
            sl = slice(cb.start, cb.start + cb.size)
            shape = (len(cb.entities), cb.n_steps)
            arrays = [sol.row_dual]  # (each array once, should two names share one)
            arrays += [a for a in (sol.price_lo, sol.price_hi) if a is not None]
            for arr in {id(a): a for a in arrays}.values():
                if arr is not None:
                    arr[sl] = (arr[sl].reshape(shape) / w[None, :]).ravel()
    return {
        "method": "tsam typical periods (hierarchical, medoids), inter-period storage",
        "typical_periods": len(per.weights),
        "period_steps": per.period_steps,
        "periods": len(per.order),
        "days": list(per.days),
        "weights": list(per.weights),
        "order": list(per.order),
        "series_error": dict(per.error),
        "objective": whole,
        "objective_typical": float(sol.objective),
        "tsam_seconds": per.seconds,
    }


def against_full(
    design: Design, record: dict[str, Any], seconds: float, run: Callable[[Design], Any]
) -> dict[str, Any]:
    """`--aggregate Nd,check`: also solve the full design (`run`, pebdsl.solve with the same
    backend) and add its objective, the relative error of the aggregated one and the speed-up
    (the full solve's seconds over the clustering's plus the aggregated solve's)."""
    per = design.periods
    if per is None or per.full is None:
        return record
    t0 = time.perf_counter()
    full = float(run(per.full).objective)
    full_s = time.perf_counter() - t0
    return {
        **record,
        "full_objective": full,
        "error": (record["objective"] - full) / max(abs(full), 1e-12),
        "seconds": per.seconds + seconds,
        "full_seconds": full_s,
        "speed_up": full_s / max(per.seconds + seconds, 1e-12),
    }
