"""Generation: a participant's `pv { profile; peak }` and `wind { profile; peak }`.

Input: the asset's syntax and its owner's name, read through a `Reader`. Output:
`design.Generation` (kW per step: the profile in kW, or a per-kWp shape times `peak`). The peak
may be a decision, `peak = invest(max = 50 kWp, …)` (resolve/sizing.py, path
`<owner>.pv.peak`): the profile is then per kWp and `profile_kw` is the output at `max`; the
LP scales it by the chosen size (lower/invest.py). Errors: E301 no profile, E302 a negative
output or a profile x peak beyond `units.MAX_MAGNITUDE`, E322 a sized peak with a profile in kW
(its plant's size is built in), units and data errors of the profile.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

import numpy as np

from pebdsl import design as D
from pebdsl import units as U
from pebdsl.diagnostics import PebdslError, error
from pebdsl.front import syntax as S
from pebdsl.resolve import sizing
from pebdsl.resolve.model import Failed
from pebdsl.resolve.reader import Reader
from pebdsl.resolve.series import strip

__all__ = ["generation"]


def generation(r: Reader, asset: S.Asset, kind: Literal["pv", "wind"], owner: str) -> D.Generation:
    """A `pv` or `wind` asset of participant `owner` (see the module docstring)."""
    a = r.attrs(asset.body.items, kind)
    prof = r.need(a, "profile", kind, asset.span, "solar  # per kWp, with peak")
    assert r.ctx is not None
    peak = None
    if "peak" in a:
        sized = sizing.is_invest(a["peak"].value)
        if sized:
            _per_kwp(r, prof, a["peak"], kind)
        path = f"{owner}.{kind}.peak"
        peak = sizing.size(r, a["peak"], "power", f"{kind} peak", path)
        if sized:  # a peak is counted in kWp (results.json `investments`)
            r.investments[path] = replace(r.investments[path], unit="kWp")
        shape = r.series(prof, "ratio", f"{kind} profile (per kWp, with `peak`)")
        # Each factor is bounded (units.MAX_MAGNITUDE), their product need not be.
        big = np.abs(shape) > U.MAX_MAGNITUDE / max(peak, 1.0)
        if big.any():
            i = int(np.flatnonzero(big)[0])
            r.errs.add(
                error(
                    "E302",
                    f"{kind} output (profile x peak) is {float(shape[i]) * peak:g} kW at "
                    f"step {i + 1}, beyond the supported magnitude of {U.MAX_MAGNITUDE:g} kW",
                    prof.value.span,
                    "too large with this peak",
                    ("sums and products of such values would overflow",),
                )
            )
            raise Failed
        values = shape * peak
    else:
        values = r.series(prof, "power", f"{kind} profile (kW; or per kWp with `peak`)")
    r.nonnegative(values, prof, f"{kind} profile")
    return D.Generation(kind, values, peak, asset.span)


def _per_kwp(r: Reader, prof: S.Attribute, peak: S.Attribute, kind: str) -> None:
    """E322 when a sized peak meets a profile in kW: such a profile is the output of one plant
    of a size of its own, which no `peak` can scale without saying which size that is."""
    assert r.ctx is not None
    try:
        r.ctx.array(prof.value, "ratio", f"{kind} profile")
        return  # per kWp (or an error the normal reading reports)
    except PebdslError:
        pass
    try:
        r.ctx.array(prof.value, "power", f"{kind} profile")
    except PebdslError:
        return  # neither: the normal reading reports the profile's own error
    r.errs.add(
        error(
            "E322",
            f"a sized {kind} peak needs a profile per kWp; this profile is in kW",
            prof.value.span,
            "in kW: the output of a plant of one size",
            (
                f"divide by the peak of the plant it was measured on: `profile = "
                f"{_src(prof)} / 40 kWp` (then `peak = invest(...)` scales that shape)",
            ),
        )
    )
    raise Failed


def _src(a: S.Attribute) -> str:
    """The profile as written, in parentheses where dividing it needs them."""
    # The formatter only for this error's hint: `check` of a valid design stays light.
    from pebdsl.front.formatter import format_expr

    text = format_expr(a.value)
    return text if isinstance(strip(a.value), (S.Ref, S.Call)) else f"({text})"
