"""Goals: what the design must deliver, the three values of a local market as numbers.

Input: the `goals { … }` declaration (`Single` of goal statements), read through a `Reader`
with the design's blocks. Output: `design.Goal`s in canonical units:

    pv_surplus_local >= 60 %          value 1, a share (written with `%` or as a fraction)
    peak_import <= 1200 kW            value 2, all blocks together; `street.peak_import` one block
    local_trade >= 10 MWh             value 3, energy delivered in local markets
    prefer local_trade >= 20 MWh      ranks designs only (pebdsl tailor), no constraint

Errors: E330 an unknown metric (with did-you-mean), a hard goal in the direction that is not a
requirement (`peak_import >= …`, `pv_surplus_local <= …`), a block prefix on a metric other
than `peak_import`, a share above 100 %; E101 an unknown block; unit errors (E202/E203) and
E302 (negative) of the value.
"""

from __future__ import annotations

from typing import Literal, cast

from pebdsl import design as D
from pebdsl.diagnostics import did_you_mean, error
from pebdsl.front import syntax as S
from pebdsl.resolve.model import Failed, Single
from pebdsl.resolve.reader import Reader

__all__ = ["goals"]

# metric -> (dimension, the direction a hard goal must take, what it is)
_METRICS = {
    "pv_surplus_local": ("ratio", ">=", "the share of the PV surplus balanced locally"),
    "peak_import": ("power", "<=", "the peak import"),
    "local_trade": ("energy", ">=", "the energy delivered in local markets"),
}


def goals(r: Reader, single: Single, blocks: dict[str, D.Block]) -> tuple[D.Goal, ...]:
    """Every goal that reads well (the others recorded as errors)."""
    out: list[D.Goal] = []
    for g in single.items:
        assert isinstance(g, S.Goal)
        try:
            out.append(_goal(r, g, blocks))
        except Failed:
            continue
    return tuple(out)


def _goal(r: Reader, g: S.Goal, blocks: dict[str, D.Block]) -> D.Goal:
    parts = g.metric.path.parts
    metric, block = parts[-1], (parts[0] if len(parts) == 2 else None)
    if metric not in _METRICS or len(parts) > 2:
        r.errs.add(
            error(
                "E330",
                f"unknown goal `{g.metric.path}`",
                g.metric.span,
                "not a value of the design",
                (*did_you_mean(metric, list(_METRICS)), "goals: " + ", ".join(_METRICS)),
            )
        )
        raise Failed
    dim, direction, what = _METRICS[metric]
    if block is not None and metric != "peak_import":
        r.errs.add(
            error(
                "E330",
                f"`{metric}` is a goal of the whole design, not of a block",
                g.metric.span,
                "no block goal",
                ("only `peak_import` takes a block: `street.peak_import <= 400 kW`",),
            )
        )
        raise Failed
    if block is not None and block not in blocks:
        r.errs.add(
            error(
                "E101",
                f"unknown block `{block}`",
                g.metric.span,
                "not a block",
                did_you_mean(block, list(blocks)),
            )
        )
        raise Failed
    if not g.prefer and g.op != direction:
        r.errs.add(
            error(
                "E330",
                f"a goal on {what} is a requirement `{metric} {direction} …`, not `{g.op}`",
                g.span,
                "not a requirement",
                (f"write `{metric} {direction} …`, or `prefer …` to rank designs by it",),
            )
        )
        raise Failed
    attr = S.Attribute(S.Name(metric, g.metric.span), g.value, g.span)
    hi = 1.0 if dim == "ratio" else None
    value = r.const(attr, dim, f"goal {metric}", lo=0, hi=hi)
    # The formatter only when a design has goals: `check` of the others does not load it.
    from pebdsl.front.formatter import format_expr

    text = f"{'prefer ' if g.prefer else ''}{g.metric.path} {g.op} {format_expr(g.value)}"
    return D.Goal(
        cast(Literal["pv_surplus_local", "peak_import", "local_trade"], metric),
        cast(Literal[">=", "<="], g.op),
        value,
        block,
        g.prefer,
        text,
        g.span,
    )
