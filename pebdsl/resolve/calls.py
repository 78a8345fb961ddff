"""Function calls in series expressions: arguments, and calls of the built-in generators.

Input: a `Call` node, the generator from `pebdsl.generators.REGISTRY` and the evaluator (its
grid's index, the currency, constants). Output: `Series` in coherent base units; for a power
profile, a thunk giving its energy over the calendar year of the start (`load { annual }`
scales by it). Quantity arguments are converted to the parameter's canonical unit.

Errors: E407 a wrong argument (positional after keyword, too many, unknown, given twice, of
the wrong kind) or a generator that fails or returns invalid values, E204 a result in a
foreign currency, units errors of quantity arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np

from pebdsl import units as U
from pebdsl.diagnostics import did_you_mean
from pebdsl.front import syntax as S
from pebdsl.resolve.expr import Evaluator, Series, fail, number_value, span_of, strip

__all__ = ["call_args", "generator_call"]


def call_args(e: S.Call, params: list[str]) -> dict[str, tuple[S.Expr, S.Arg]]:
    """Map positional and keyword arguments to parameter names (E407 on mistakes)."""
    out: dict[str, tuple[S.Expr, S.Arg]] = {}
    seen_kw = False
    fname = e.func.value
    for i, a in enumerate(e.args):
        if a.name is None:
            if seen_kw:
                raise fail(
                    "E407",
                    f"{fname}(): positional argument after a keyword argument",
                    span_of(a),
                )
            if i >= len(params):
                raise fail(
                    "E407",
                    f"{fname}() takes at most {len(params)} positional "
                    f"argument{'s' if len(params) != 1 else ''}",
                    span_of(a),
                    "too many arguments",
                    (f"parameters: {', '.join(params)}",),
                )
            key = params[i]
        else:
            seen_kw = True
            key = a.name.value
            if key not in params:
                raise fail(
                    "E407",
                    f"{fname}() has no parameter `{key}`",
                    span_of(a.name),
                    "unknown parameter",
                    (*did_you_mean(key, params), f"parameters: {', '.join(params)}"),
                )
        if key in out:
            raise fail("E407", f"{fname}(): `{key}` given twice", span_of(a))
        out[key] = (a.value, a)
    return out


def generator_call(ctx: Evaluator, e: S.Call, gen: Any) -> Series:
    """A call of a built-in generator on the horizon's index, in coherent base units."""
    from pebdsl import generators

    params = {p.name: p for p in gen.params}
    args = call_args(e, list(params))
    kwargs: dict[str, object] = {}
    for key, (value, _a) in args.items():
        kwargs[key] = _gen_arg(ctx, gen.name, params[key], value)
    try:
        values = generators.call(gen.name, ctx.index, ctx.currency, **kwargs)
        unit_text = generators.unit_of(gen.name, ctx.currency)
    except (ValueError, TypeError, KeyError, ArithmeticError) as ex:
        msg = str(ex).splitlines()[0] if str(ex) else type(ex).__name__
        raise fail("E407", msg, span_of(e), "in this call") from None
    unit = U.parse_unit(unit_text) if unit_text else None
    dims = unit.dims if unit else ()
    cur = U.currency_of(dims)
    if cur is not None and cur != ctx.currency:
        raise fail(
            "E204",
            f"{gen.name}() gives {unit_text}, but the design's currency is {ctx.currency}",
            span_of(e),
            f"in {cur}",
        )
    arr = np.asarray(values, dtype=np.float64)
    if unit is not None:
        arr = U.scale_array(arr, unit.factor)
    if arr.shape != (ctx.n,) or not np.all(np.isfinite(arr)):
        raise fail("E407", f"{gen.name}() returned invalid values", span_of(e))
    ref: Callable[[], float] | None = None
    if dims == (("energy", 1), ("time", -1)):
        annual_param = params.get("annual")
        if annual_param is not None and annual_param.dimension == "energy":
            annual_kwh = float(kwargs.get("annual", annual_param.default))  # type: ignore[arg-type]
            ref = lambda: annual_kwh  # noqa: E731
        else:
            ref = _annual_thunk(ctx, gen.name, kwargs, unit.factor if unit else Fraction(1))
    return Series(arr, dims, ref)


def _annual_thunk(
    ctx: Evaluator, name: str, kwargs: dict[str, object], factor: Fraction
) -> Callable[[], float]:
    def compute() -> float:
        """The generator's energy over the calendar year of the start (kWh)."""
        import pandas as pd

        from pebdsl import generators

        tz = ctx.grid.timezone
        first = ctx.index[0]
        y0 = pd.Timestamp(year=first.year, month=1, day=1, tz=tz)
        y1 = pd.Timestamp(year=first.year + 1, month=1, day=1, tz=tz)
        idx = pd.date_range(y0, y1, freq="1h", inclusive="left")
        vals = generators.call(name, idx, ctx.currency, **kwargs)
        return float(U.scale(float(np.sum(vals)), factor))  # kW x 1 h = kWh

    return compute


def _gen_arg(ctx: Evaluator, fname: str, param: Any, value: S.Expr) -> object:
    v = strip(value)
    if param.kind == "string":
        if isinstance(v, S.String):
            return v.value
        if isinstance(v, S.Ref) and len(v.path.parts) == 1:
            return v.name  # `standard_load(H0)` reads as the string "H0"
        raise fail(
            "E407",
            f"{fname}(): `{param.name}` must be a string",
            span_of(v),
            "expected a string",
        )
    num = number_value(v)
    if param.kind == "number":
        if num is None:
            raise fail(
                "E407",
                f"{fname}(): `{param.name}` must be a number",
                span_of(v),
                "expected a number",
            )
        return num
    # a quantity
    dimension = param.dimension or ""
    if dimension not in U.DIMENSIONS:
        raise fail("E407", f"{fname}(): unsupported parameter dimension {dimension}", span_of(v))
    if num is not None:
        return U.convert(
            num,
            None,
            dimension,
            span_of(v),
            ctx.currency,
            f"{fname}() argument `{param.name}`",
        )
    return ctx.constant(v, dimension, f"{fname}() argument `{param.name}`")
