"""Loads: a participant's `load { profile; annual }` and `flexible { share; window; cost }`.

Input: the asset's syntax, read through a `Reader` (the profile is a series expression).
Output: `design.Load` (kW per step; with `annual`, the profile scaled so a year holds that
energy: by the generator's own annual reference when known, else the horizon's mean x 8760 h)
and `design.Flexible`. Errors: E202 a profile of the wrong dimension for `annual`, E302 a
negative load, a profile with no energy to scale or one beyond `units.MAX_MAGNITUDE`, E303 a
window that is not a whole number of steps, E301 missing attributes.
"""

from __future__ import annotations

import math

import numpy as np

from pebdsl import design as D
from pebdsl import units as U
from pebdsl.diagnostics import PebdslError, error
from pebdsl.front import syntax as S
from pebdsl.resolve.model import Failed
from pebdsl.resolve.reader import Reader

__all__ = ["flexible", "load_asset"]


def load_asset(r: Reader, asset: S.Asset) -> D.Load:
    """A participant's load in kW per step (see the module docstring)."""
    a = r.attrs(asset.body.items, "load")
    prof = r.need(a, "profile", "load", asset.span, "home  # a series in kW")
    assert r.ctx is not None
    if "annual" not in a:
        values = r.series(prof, "power", "load profile")
    else:
        annual_kwh = r.const(a["annual"], "energy", "annual", lo=0)
        try:
            s = r.ctx.eval(prof.value)
        except PebdslError as e:
            r.errs.diags.extend(e.diagnostics)
            raise Failed from None
        if s.dims not in ((), U.DIMENSIONS["power"].dims):
            r.errs.add(
                error(
                    "E202",
                    "with `annual`, the load profile needs power (kW) or "
                    f"a bare-number shape, got {U.dims_name(s.dims)}",
                    prof.value.span,
                    "expected power or a shape",
                )
            )
            raise Failed
        arr = s.values if isinstance(s.values, np.ndarray) else np.full(r.ctx.n, float(s.values))
        # The profile's energy over a year: the generator's own normalisation when known
        # (standard_load: its `annual`), else the horizon's mean power x 8760 h.
        ref_kwh = (
            s.annual_ref_kwh() if s.annual_ref_kwh is not None else float(np.mean(arr)) * 8760.0
        )
        if not ref_kwh > 0 or not math.isfinite(ref_kwh):
            r.errs.add(
                error(
                    "E302",
                    "the load profile has no energy to scale to `annual`",
                    prof.value.span,
                    "all zero",
                )
            )
            raise Failed
        values = np.asarray(arr * (annual_kwh / ref_kwh), dtype=np.float64)
        worst = int(np.argmax(np.abs(values)))
        big = U.beyond_magnitude(
            float(values[worst]), "power", prof.value.span, r.currency,
            f"load profile scaled to `annual` at step {worst + 1}",
        )  # fmt: skip
        if big is not None:
            r.errs.diags.extend(big.diagnostics)
            raise Failed
    r.nonnegative(values, prof, "load profile")
    return D.Load(values, asset.span)


def flexible(r: Reader, asset: S.Asset) -> D.Flexible:
    """A flexible load: share, window (a whole number of steps, E303), cost."""
    a = r.attrs(asset.body.items, "flexible")
    share = r.const(
        r.need(a, "share", "flexible", asset.span, "20 %"),
        "ratio",
        "flexible share",
        lo=0,
        hi=1,
    )
    wa = r.need(a, "window", "flexible", asset.span, "4 h")
    window = r.const(wa, "time", "flexible window", lo=0, lo_open=True)
    assert r.ctx is not None
    step = r.ctx.grid.step_h
    ratio = window / step
    if abs(ratio - round(ratio)) > 1e-9 * max(1.0, ratio) or round(ratio) < 1:
        r.errs.add(
            error(
                "E303",
                f"the window ({window:g} h) is not a whole number of steps ({step:g} h)",
                wa.value.span,
                "does not divide",
            )
        )
        raise Failed
    cost = r.const(a.get("cost"), "price", "flexible cost", lo=0, default=0.0)
    return D.Flexible(share, window, cost, asset.span)
