"""Resolving the tariff attributes of issue 11: customer classes, per-participant tariffs, VAT,
month-varying capacity prices, stepped capacity charges and battery availability.

Input: a resolver (`pebdsl.resolve.Reader`: its `attrs`/`const`/`series`/`word` helpers, its
series context and its error list) and the attributes of one declaration. Output: the design
objects (`Tariff`, the availability of a `Battery`, a month-varying capacity price).
Errors (added to the resolver's list, then `Failed`): E202/E203 wrong or missing unit, E301
missing attribute (`available` without `arrival_soc`/`departure_soc`, `capacity_steps` without
`capacity_step_prices`), E302 out of range, E307 wrong kind of value (lists of different
length, steps not increasing), E315 a capacity price that changes within a calendar month.

Called by the concept builders (participants, batteries, markets, grid) of the resolve passes.
"""

from __future__ import annotations

import itertools
from typing import Any, Literal, cast

import numpy as np

from pebdsl import design as D
from pebdsl.diagnostics import PebdslError, error
from pebdsl.front import syntax as S
from pebdsl.resolve.model import Failed
from pebdsl.resolve.reader import PARTICIPANT_TARIFF, Reader
from pebdsl.resolve.series import strip
from pebdsl.source import Span

HOURS_PER_MONTH = 730.0  # the language's `month` (year / 12)


def month_keys(grid: D.TimeGrid) -> np.ndarray:
    """Calendar month (year*12 + month − 1, in the horizon's timezone) of every step.
    pandas is imported here, only for designs with monthly tariffs (`check` stays light)."""
    import pandas as pd

    idx = pd.DatetimeIndex(grid.index)
    return np.asarray(idx.year * 12 + idx.month - 1, dtype=np.int64)


def monthly_constant(r: Reader, values: D.FloatArray, a: S.Attribute, what: str) -> D.FloatArray:
    """`values` (one per step) unchanged, after checking it is constant in each month (E315)."""
    assert r.ctx is not None
    keys = month_keys(r.ctx.grid)
    for k in np.unique(keys):
        v = values[keys == k]
        if v.size and float(np.ptp(v)) > 1e-9 * max(1.0, float(np.abs(v).max())):
            first = int(np.flatnonzero(keys == k)[int(np.argmax(v != v[0]))])
            r.errs.add(
                error(
                    "E315",
                    f"{what} changes within a calendar month ({k // 12}-{k % 12 + 1:02d}, "
                    f"step {first + 1}): a capacity price holds for a whole month",
                    a.value.span,
                    "not constant within a month",
                    ("give one value per month, e.g. `month_table(...) * 1 NOK/kW/month`",),
                )
            )
            raise Failed
    return values


def capacity_price(r: Reader, a: S.Attribute, what: str) -> tuple[float, D.FloatArray | None]:
    """A capacity charge: a constant (currency/kW/month) or a series constant in each month."""
    assert r.ctx is not None
    try:
        s = r.ctx.eval(strip(a.value))
    except PebdslError as e:
        r.errs.diags.extend(e.diagnostics)
        raise Failed from None
    if not isinstance(s.values, np.ndarray):
        return r.const(a, "capacity_charge", what, lo=0), None
    values = r.series(a, "capacity_charge", what)
    neg = values < 0
    if neg.any():
        i = int(np.flatnonzero(neg)[0])
        r.errs.add(
            error("E302", f"{what} is negative at step {i + 1}", a.value.span, "out of range")
        )
        raise Failed
    return float(values.mean()), monthly_constant(r, values, a, what)


def _numbers(r: Reader, a: S.Attribute, dimension: str, what: str) -> tuple[float, ...]:
    """A list of constants (`[2, 5, 10] kW` or `[2 kW, 5 kW]`) in canonical units."""
    assert r.ctx is not None
    v = strip(a.value)
    items = list(v.items) if isinstance(v, S.List) else [v]
    unit = v.unit if isinstance(v, S.List) else None
    out = []
    failed = False
    for it in items:
        q: Any = it
        if unit is not None and isinstance(it, S.Number):
            q = S.Quantity(it, unit, it.span)
        try:
            out.append(r.ctx.constant(q, dimension, what))
        except PebdslError as e:
            r.errs.diags.extend(e.diagnostics)
            failed = True
    if failed or not out:
        if not out and not failed:
            r.errs.add(error("E307", f"{what} needs at least one value", a.value.span))
        raise Failed
    return tuple(out)


def participant_tariff(r: Reader, a: dict[str, S.Attribute], span: Span) -> D.Tariff | None:
    """The participant's class and tariff, or None when it gives none of the attributes."""
    if not any(k in a for k in PARTICIPANT_TARIFF):
        return None
    failed = False
    klass = "business"
    vat = 0.0
    energy = cap_series = None
    peak = "hour"
    steps: tuple[float, ...] = ()
    prices: tuple[float, ...] = ()

    def attempt(fn: Any) -> Any:
        nonlocal failed
        try:
            return fn()
        except Failed:
            failed = True
            return None

    if "class" in a:
        klass = attempt(lambda: r.word(a["class"], ("business", "household"), "class")) or klass
    if "vat" in a:
        vat = attempt(lambda: r.const(a["vat"], "ratio", "vat", lo=0, hi=1)) or 0.0
    if "energy_charge" in a:
        energy = attempt(lambda: r.series(a["energy_charge"], "price", "energy_charge"))
    if "capacity_charge" in a:
        got = attempt(lambda: capacity_price(r, a["capacity_charge"], "capacity_charge"))
        if got is not None:
            const, by_step = got
            assert r.ctx is not None
            cap_series = by_step if by_step is not None else np.full(r.ctx.n, const)
    if "capacity_peak" in a:
        peak = (
            attempt(lambda: r.word(a["capacity_peak"], ("hour", "top3_days"), "capacity_peak"))
            or peak
        )
    if "capacity_steps" in a or "capacity_step_prices" in a:
        got_steps = attempt(lambda: _steps(r, a, span))
        if got_steps is not None:
            steps, prices = got_steps
            if "capacity_charge" in a:
                r.errs.add(
                    error(
                        "E307",
                        "a stepped capacity charge (`capacity_steps`) replaces `capacity_charge`"
                        ": give one of them",
                        a["capacity_charge"].value.span,
                        "remove one",
                    )
                )
                failed = True
    if failed:
        raise Failed
    return D.Tariff(
        cast(Literal["business", "household"], klass),
        vat,
        energy,
        cap_series,
        cast(Literal["hour", "top3_days"], peak),
        steps,
        prices,
        span,
    )


def _steps(
    r: Reader, a: dict[str, S.Attribute], span: Span
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    sa = r.need(a, "capacity_steps", "a stepped capacity charge", span, "[2, 5, 10] kW")
    pa = r.need(
        a, "capacity_step_prices", "a stepped capacity charge", span, "[58, 102, 175] NOK/month"
    )
    steps = _numbers(r, sa, "power", "capacity_steps")
    per_h = _numbers(r, pa, "money_per_time", "capacity_step_prices")
    prices = tuple(p * HOURS_PER_MONTH for p in per_h)
    if len(steps) != len(prices):
        r.errs.add(
            error(
                "E307",
                f"`capacity_step_prices` needs one price per step: {len(steps)} steps, "
                f"{len(prices)} prices",
                pa.value.span,
                "wrong number of prices",
            )
        )
        raise Failed
    if any(s <= 0 for s in steps) or any(b <= a_ for a_, b in itertools.pairwise(steps)):
        r.errs.add(
            error(
                "E307",
                "`capacity_steps` are the steps' upper bounds in kW: positive and increasing",
                sa.value.span,
                "not increasing",
            )
        )
        raise Failed
    if any(p < 0 for p in prices):
        r.errs.add(error("E302", "capacity step prices must be at least 0", pa.value.span))
        raise Failed
    return steps, prices


def battery_availability(
    r: Reader, a: dict[str, S.Attribute], span: Span, cap_kwh: float
) -> tuple[D.FloatArray | None, float, float]:
    """`available` (a share per step in [0, 1]) and the arrival and departure states of charge
    (shares of the capacity that arrives or leaves)."""
    if "available" not in a:
        for k in ("arrival_soc", "departure_soc"):
            if k in a:
                r.errs.add(
                    error(
                        "E301",
                        f"`{k}` needs `available` (the share of the battery present per step)",
                        a[k].name.span,
                        "without `available`",
                    )
                )
                raise Failed
        return None, 0.0, 0.0
    avail = r.series(a["available"], "ratio", "available")
    bad = (avail < -1e-12) | (avail > 1 + 1e-12)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        r.errs.add(
            error(
                "E302",
                f"available must be a share in [0, 1], got {avail[i]:g} at step {i + 1}",
                a["available"].value.span,
                "out of range",
            )
        )
        raise Failed
    arr_a = r.need(a, "arrival_soc", "a battery with `available`", span, "40 %")
    dep_a = r.need(a, "departure_soc", "a battery with `available`", span, "80 %")
    arrival = r.const(arr_a, "ratio", "arrival_soc", lo=0, hi=1)
    departure = r.const(dep_a, "ratio", "departure_soc", lo=0, hi=1)
    del cap_kwh
    return np.clip(avail, 0.0, 1.0), arrival, departure
