"""Generation: a participant's `pv { profile; peak }` and `wind { profile; peak }`.

Input: the asset's syntax, read through a `Reader`. Output: `design.Generation` (kW per step:
the profile in kW, or a per-kWp shape times `peak`). Errors: E301 no profile, E302 a negative
output or a profile x peak beyond `units.MAX_MAGNITUDE`, units and data errors of the profile.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from pebdsl import design as D
from pebdsl import units as U
from pebdsl.diagnostics import error
from pebdsl.front import syntax as S
from pebdsl.resolve.model import Failed
from pebdsl.resolve.reader import Reader

__all__ = ["generation"]


def generation(r: Reader, asset: S.Asset, kind: Literal["pv", "wind"]) -> D.Generation:
    """A `pv` or `wind` asset (see the module docstring)."""
    a = r.attrs(asset.body.items, kind)
    prof = r.need(a, "profile", kind, asset.span, "solar  # per kWp, with peak")
    assert r.ctx is not None
    peak = None
    if "peak" in a:
        peak = r.const(a["peak"], "power", f"{kind} peak", lo=0)
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
