"""Sizes as decisions: `invest(...)` where a design states a capacity.

Input: an attribute whose value may be `invest(...)` (battery `capacity` and `power`, a PV or
wind `peak` (resolve/generation.py), a block's or participant's `connection`, `connection {
import; export }` of a block, a DSO link's `capacity`), the dimension of the size (energy or
power), its path, read through a `Reader`.
Output: the size's constant — its `max` for an investment, so every check and report that
reads the size sees the largest it can be — and, for `invest(...)`, a `design.Investment`
recorded on `Reader.investments` under the path. Two forms:

    invest(max = 20 kWh, cost = 0.1 EUR/kWh/day)             cost per size per time
    invest(max = 500 kWh, capex = 300 EUR/kWh, lifetime = 15 year, rate = 5 %)   annuity

The cost over the horizon is `cost × horizon length × size`; the annuity form's yearly cost is
`capex × rate / (1 − (1 + rate)^−lifetime)` (`capex / lifetime` at rate 0), pro rata per hour
(÷ 8760, the calendar-neutral year of units.py). Units: `max` kWh or kW; `cost`
currency/kWh/time or currency/kW/time; `capex` currency/kWh or currency/kW; `lifetime` a time;
`rate` a share.

Errors: E320 a malformed `invest(...)` (no `max`; neither `cost` nor `capex`, or both; an
annuity without `lifetime`; a lifetime of zero), E321 `invest(...)` where a size cannot be a
decision (any other attribute: series, prices, a participant's connection), E407 an unknown
or repeated argument, units errors (E202/E203/E204) and E302 (negative values) of the arguments.
"""

from __future__ import annotations

from typing import Literal

from pebdsl import design as D
from pebdsl.diagnostics import PebdslError, error
from pebdsl.front import syntax as S
from pebdsl.resolve.calls import call_args
from pebdsl.resolve.model import Failed
from pebdsl.resolve.reader import Reader
from pebdsl.resolve.series import strip
from pebdsl.source import Span

__all__ = ["INVEST", "is_invest", "size"]

INVEST = "invest"
PARAMS = ["max", "cost", "capex", "lifetime", "rate"]
_UNIT: dict[str, Literal["kWh", "kW"]] = {"energy": "kWh", "power": "kW"}
_COST_DIM = {"energy": "energy_cost_time", "power": "power_cost_time"}
_CAPEX_DIM = {"energy": "price", "power": "power_price"}


def is_invest(expr: S.Expr) -> bool:
    """True when `expr` is a call of `invest`."""
    e = strip(expr)
    return isinstance(e, S.Call) and e.func.value == INVEST


def size(
    r: Reader,
    a: S.Attribute,
    dimension: Literal["energy", "power"],
    what: str,
    path: str,
) -> float:
    """The size written in `a` (>= 0) in kWh or kW; for `invest(...)` its `max`, with the
    investment recorded on `r.investments[path]`."""
    e = strip(a.value)
    if not (isinstance(e, S.Call) and e.func.value == INVEST):
        return r.const(a, dimension, what, lo=0)
    inv = _invest(r, e, dimension, what, path)
    r.investments[path] = inv
    return inv.max_value


def _invest(
    r: Reader, e: S.Call, dimension: Literal["energy", "power"], what: str, path: str
) -> D.Investment:
    try:
        args = call_args(e, PARAMS)
    except PebdslError as err:
        r.errs.diags.extend(err.diagnostics)
        raise Failed from None

    def value(key: str, dim: str, label: str, lo_open: bool = False) -> float | None:
        if key not in args:
            return None
        expr, arg = args[key]
        return r.const(
            S.Attribute(S.Name(key, arg.span), expr, arg.span), dim, label, lo=0, lo_open=lo_open
        )

    if "max" not in args:
        _fail(
            r, e.span, f"invest(...) for {what} needs `max`", f"add `max = 20 {_UNIT[dimension]}`"
        )
    has_cost, has_capex = "cost" in args, "capex" in args
    if has_cost == has_capex:
        _fail(
            r,
            e.span,
            f"invest(...) for {what} needs either `cost` or `capex` (with `lifetime`, `rate`)",
            "write `cost = 0.1 EUR/kWh/day`, or `capex = 300 EUR/kWh, lifetime = 15 year, "
            "rate = 5 %`",
        )
    if has_cost and ("lifetime" in args or "rate" in args):
        key = "lifetime" if "lifetime" in args else "rate"
        _fail(
            r,
            args[key][1].span,
            f"`{key}` belongs to the annuity form (`capex = …`)",
            "with `cost = …` the cost per size and time is given directly",
        )
    if has_capex and "lifetime" not in args:
        _fail(
            r,
            e.span,
            f"invest(...) for {what} with `capex` needs `lifetime`",
            "add `lifetime = 15 year` (and `rate = 5 %`; 0 % without it)",
        )
    mx = value("max", dimension, f"{what} max")
    assert mx is not None
    if has_cost:
        cost = value("cost", _COST_DIM[dimension], f"{what} investment cost")
        assert cost is not None
        return D.Investment(path, _UNIT[dimension], mx, cost, span=e.span)
    capex = value("capex", _CAPEX_DIM[dimension], f"{what} capex")
    life_h = value("lifetime", "time", f"{what} lifetime", lo_open=True)
    rate = value("rate", "ratio", f"{what} interest rate")
    assert capex is not None and life_h is not None
    years = life_h / 8760.0
    rate = rate or 0.0
    per_h = capex * D.annuity_factor(rate, years) / 8760.0
    return D.Investment(
        path,
        _UNIT[dimension],
        mx,
        per_h,
        capex,
        years,
        rate,
        e.span,
    )


def _fail(r: Reader, span: Span, message: str, hint: str) -> None:
    r.errs.add(error("E320", message, span, "malformed invest(...)", (hint,)))
    raise Failed
