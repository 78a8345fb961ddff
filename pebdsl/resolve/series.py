"""Series expressions evaluated on the horizon's time grid, vectorised with numpy.

Input: syntax `Expr` nodes (inline lists, `daily [...]`, `csv(...)`, generator calls, quantities,
references to `series` declarations and `+ - * /` between them), the `TimeGrid`, the design's
currency and the design file's folder.
Output: `expr.Series` values (a float or a float64 array of one value per step, in the coherent
base units of `units.py`, with their dimensions); `SeriesContext.array()` / `.constant()`
convert them to the canonical unit a place in the language expects. `parquet()` and `data()`
(in-memory series from Python) are `frames.py`'s.

Rules (docs/language.md): `daily [...]` follows the LOCAL clock: the value for a step is
`values[local time of day // step]`, so on a 23-hour DST day the missing hour is skipped and on
a 25-hour day the repeated hour repeats its value. Generator calls are `calls.py`'s, `csv()`
calls `csvalign.py`'s (files read by `csvread.py`).

Errors: E101 unknown series or function, E103 a name that is not a series, E106 a cycle of
series references, E201-E205 units, E302 a value beyond `units.MAX_MAGNITUDE`, E303 a step that
does not divide a day (`daily`), E307 a value of the wrong kind, E401 wrong count of values,
E408 a value that is not finite (division by zero); E4xx of `calls.py`, `csvread.py` and
`csvalign.py`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from pebdsl import units as U
from pebdsl.design import TimeGrid
from pebdsl.diagnostics import PebdslError, did_you_mean
from pebdsl.front import syntax as S
from pebdsl.resolve.calls import generator_call
from pebdsl.resolve.csvalign import csv_call
from pebdsl.resolve.expr import (
    NS_PER_H,
    FloatArray,
    Series,
    as_value,
    fail,
    number_value,
    scaled_ref,
    span_of,
    strip,
)
from pebdsl.resolve.scenarios import Spec, by_scenario_names
from pebdsl.source import Span

__all__ = ["Series", "SeriesContext", "strip"]


def _per_scenario_arg(e: S.Call) -> int | None:
    """The position of `columns = scenarios` (csv) or `seed = scenario` (a generator)."""
    for k, a in enumerate(e.args):
        v = strip(a.value)
        if a.name is None or not isinstance(v, S.Ref):
            continue
        if (a.name.value, v.name) in (("columns", "scenarios"), ("seed", "scenario")):
            return k
    return None


class SeriesContext:
    """Evaluates series expressions of one design (one variant) on its grid.

    `decls` are the `series` declarations by name; `kinds` maps every other declared name to
    its kind ("participant", "block", ...) for E103 messages.
    """

    def __init__(
        self,
        grid: TimeGrid,
        currency: str,
        directory: Path,
        decls: dict[str, S.SeriesDecl],
        kinds: dict[str, str] | None = None,
        allow_outside: bool = False,
    ) -> None:
        self.grid = grid
        self.currency = currency
        self.directory = directory
        self.allow_outside = allow_outside
        self.decls = decls
        self.kinds = kinds or {}
        self.n = grid.n_steps
        self.step_ns = round(grid.step_h * NS_PER_H)
        self.data_files: dict[str, str] = {}  # path -> sha256
        self._done: dict[str, Series] = {}
        self._failed: dict[str, PebdslError] = {}
        self.failed_files: dict[str, PebdslError] = {}
        self._stack: list[str] = []
        self._index: Any = None
        self._utc_ns: npt.NDArray[np.int64] | None = None
        # The design's declared scenarios, and the one being resolved (None: the expected-value
        # design, where `by_scenario` is the probability-weighted mean of its branches).
        self.scenarios: Spec | None = None
        self.scenario: str | None = None
        self.data: Mapping[str, Any] = {}  # `data("name")`: series passed from Python

    @property
    def index(self) -> Any:
        """The horizon's steps as a pandas DatetimeIndex (built on first use)."""
        if self._index is None:
            self._index = self.grid.index
        return self._index

    @property
    def utc_ns(self) -> npt.NDArray[np.int64]:
        """The horizon's steps as UTC nanoseconds (built on first use)."""
        if self._utc_ns is None:
            self._utc_ns = self.grid.utc_ns()  # without pandas: `check` does not import it
        return self._utc_ns

    def series(self, name: str, span: Span) -> Series:
        """The value of a declared series (evaluated once; cycles are E106)."""
        if name in self._done:
            return self._done[name]
        if name in self._failed:
            raise self._failed[name]
        if name in self._stack:
            cycle = " -> ".join([*self._stack[self._stack.index(name) :], name])
            raise fail(
                "E106",
                f"series `{name}` depends on itself: {cycle}",
                span,
                "cycle of series references",
            )
        decl = self.decls[name]
        self._stack.append(name)
        try:
            value = self.eval(decl.value)
        except PebdslError as e:
            self._failed[name] = e
            raise
        finally:
            self._stack.pop()
        self._done[name] = value
        return value

    def array(self, expr: S.Expr, dimension: str, what: str) -> FloatArray:
        """`expr` as one value per step in the canonical unit of `dimension`."""
        s = self.eval(expr)
        self._check(s, expr, dimension, what)
        factor = U.canonical_factor(dimension, self.currency)
        if isinstance(s.values, np.ndarray):
            out = U.scale_array(s.values, factor)
        else:
            out = np.full(self.n, U.scale(s.values, factor))
        if not np.all(np.isfinite(out)):
            bad = int(np.flatnonzero(~np.isfinite(out))[0])
            raise fail(
                "E408",
                f"{what} is not finite at step {bad + 1} ({self._step_time(bad)})",
                span_of(expr),
                "division by zero or overflow",
            )
        if out.size:
            worst = int(np.argmax(np.abs(out)))
            big = U.beyond_magnitude(
                float(out[worst]),
                dimension,
                span_of(expr),
                self.currency,
                what if s.is_constant else f"{what} at step {worst + 1} ({self._step_time(worst)})",
            )
            if big is not None:
                raise big
        return np.ascontiguousarray(out, dtype=np.float64)

    def constant(self, expr: S.Expr, dimension: str, what: str) -> float:
        """`expr` as one number in the canonical unit of `dimension` (a series is E307)."""
        e = strip(expr)
        if isinstance(e, S.Quantity):
            # Keep the written unit: tells `EUR/kW/month` from `EUR/kWh` (same dimension).
            return U.convert(
                float(e.number.value),
                e.unit.text,
                dimension,
                span_of(e),
                self.currency,
                what,
                unit_span=span_of(e.unit),
            )
        s = self.eval(expr)
        self._check(s, expr, dimension, what)
        if not s.is_constant:
            raise fail(
                "E307",
                f"{what} must be a constant, not a series",
                span_of(expr),
                f"expected one {U.DIMENSIONS[dimension].name} value",
            )
        assert isinstance(s.values, float)
        out = U.scale(s.values, U.canonical_factor(dimension, self.currency))
        if not math.isfinite(out):
            raise fail("E302", f"{what} is not a finite number", span_of(expr))
        big = U.beyond_magnitude(out, dimension, span_of(expr), self.currency, what)
        if big is not None:
            raise big
        return out

    def _check(self, s: Series, expr: S.Expr, dimension: str, what: str) -> None:
        dim = U.DIMENSIONS[dimension]
        if not s.dims and dim.dims and not dim.bare_ok:
            raise U.missing_unit(dimension, span_of(expr), self.currency, what)
        if dim.bare_ok and not s.dims:
            return
        unit = None
        e = strip(expr)
        if isinstance(e, S.Quantity):
            unit = U.parse_unit(e.unit.text, span_of(e.unit))
        U.check_dims(s.dims, dimension, span_of(expr), self.currency, what, unit)

    def _step_time(self, i: int) -> str:
        return self.grid.local_time(i).isoformat()

    def eval(self, expr: S.Expr) -> Series:
        """The value of an expression in coherent base units, with its dimensions."""
        e = strip(expr)
        if isinstance(e, S.Number):
            return Series(float(e.value), ())
        if isinstance(e, S.Quantity):
            unit = U.parse_unit(e.unit.text, span_of(e.unit))
            v = U.scale(float(e.number.value), unit.factor)
            if not math.isfinite(v):
                raise fail("E302", "value is not a finite number", span_of(e))
            return Series(v, unit.dims)
        if isinstance(e, S.Neg):
            s = self.eval(e.operand)
            return Series(-s.values, s.dims)
        if isinstance(e, S.BinOp):
            return self._binop(e)
        if isinstance(e, S.Ref):
            return self._ref(e)
        if isinstance(e, S.List):
            return self._list(e)
        if isinstance(e, S.Daily):
            return self._daily(e)
        if isinstance(e, S.Call):
            return self._call(e)
        if isinstance(e, S.ByScenario):
            return self._by_scenario(e)
        kind = {
            S.String: "a string",
            S.Bool: "a boolean",
            S.DateTime: "a date",
            S.UnitValue: "a bare unit",
        }.get(type(e), "this")
        raise fail("E307", f"expected a series or quantity, got {kind}", span_of(e), "not a series")

    def _by_scenario(self, e: S.ByScenario) -> Series:
        """The branch of the scenario being resolved, or the probability-weighted mean."""
        branches = by_scenario_names(e, self.scenarios)
        assert self.scenarios is not None
        values = [(n, self.eval(x), x) for n, x in branches]
        dims = values[0][1].dims
        for _, v, x in values[1:]:
            if v.dims != dims:
                raise fail(
                    "E202",
                    f"scenarios give {U.dims_name(dims)} and {U.dims_name(v.dims)}",
                    span_of(x),
                    "every scenario's series has the same dimension",
                )
        if self.scenario is not None:
            return next(v for n, v, _ in values if n == self.scenario)
        mean: Any = 0.0
        for n, v, _ in values:
            mean = mean + self.scenarios.probability(n) * v.values
        return Series(as_value(mean), dims)

    def _scenario_call(self, e: S.Call, k: int) -> Series:
        """A call with `columns = scenarios` (csv: the scenario's column) or `seed =
        scenario` (a generator: the scenario's draw, seed = its position 1, 2, …): the
        scenario's value, or the probability-weighted mean over the scenarios."""
        spec = self.scenarios
        arg = e.args[k]
        if spec is None or not spec.declared:
            raise fail(
                "E351",
                f"`{arg.name.value if arg.name else ''} = {strip(arg.value).name}` needs "  # type: ignore[union-attr]
                "declared scenarios",
                span_of(arg),
                "no scenarios",
            )
        names = spec.names

        def one(i: int, scen: str) -> Series:
            if arg.name is not None and arg.name.value == "columns":
                new = S.Arg(
                    S.Name("column", arg.name.span), S.String(scen, arg.value.span), arg.span
                )
            else:
                new = S.Arg(arg.name, S.Number(float(i + 1), str(i + 1), arg.value.span), arg.span)
            args = (*e.args[:k], new, *e.args[k + 1 :])
            return self._call(S.Call(e.func, args, e.span))

        if self.scenario is not None:
            return one(names.index(self.scenario), self.scenario)
        values = [one(i, n) for i, n in enumerate(names)]
        mean: Any = 0.0
        for n, v in zip(names, values, strict=True):
            mean = mean + spec.probability(n) * v.values
        return Series(as_value(mean), values[0].dims)

    def _binop(self, e: S.BinOp) -> Series:
        a = self.eval(e.left)
        b = self.eval(e.right)
        with np.errstate(all="ignore"):
            if e.op in "+-":
                if a.dims != b.dims:
                    word = "add" if e.op == "+" else "subtract"
                    raise fail(
                        "E202",
                        f"cannot {word} {U.dims_name(a.dims)} and {U.dims_name(b.dims)}",
                        span_of(e),
                        f"{U.dims_name(a.dims)} {e.op} {U.dims_name(b.dims)}",
                    )
                values = a.values + b.values if e.op == "+" else a.values - b.values
                return Series(as_value(values), a.dims)
            if e.op == "*":
                ref = scaled_ref(a, b) or scaled_ref(b, a)
                return Series(as_value(a.values * b.values), U.dims_mul(a.dims, b.dims), ref)
            if e.op == "/":
                ref = None
                if a.annual_ref_kwh is not None and b.is_constant and not b.dims:
                    ra, bv = a.annual_ref_kwh, float(b.values)  # type: ignore[arg-type]
                    ref = (lambda: ra() / bv) if bv else None
                if b.is_constant and b.values == 0:
                    raise fail("E408", "division by zero", span_of(e.right), "is zero")
                return Series(
                    as_value(np.true_divide(a.values, b.values)),
                    U.dims_mul(a.dims, b.dims, -1),
                    ref,
                )
        raise fail("E307", f"unknown operator `{e.op}`", span_of(e))

    def _ref(self, e: S.Ref) -> Series:
        parts = e.path.parts
        name = parts[0]
        if len(parts) == 1 and name in self.decls:
            return self.series(name, span_of(e))
        if len(parts) > 1:
            raise fail("E307", f"`{e.name}` is not a series", span_of(e), "expected a series name")
        kind = self.kinds.get(name)
        if kind is not None:
            raise fail(
                "E103", f"`{name}` is a {kind}, not a series", span_of(e), "expected a series"
            )
        raise fail(
            "E101",
            f"unknown series `{name}`",
            span_of(e),
            "not declared",
            did_you_mean(name, self.decls),
        )

    def _numbers(self, items: tuple[S.Expr, ...]) -> tuple[FloatArray, U.Dims] | None:
        """Plain numbers of a list, vectorised; None when an item is not a plain number."""
        if all(type(it) is S.Number for it in items):
            # The common case (a year of hourly values): one vectorised conversion.
            nums = cast(tuple[S.Number, ...], items)
            return np.fromiter((it.value for it in nums), dtype=np.float64, count=len(nums)), ()
        out = np.empty(len(items))
        dims: U.Dims | None = None
        for i, it in enumerate(items):
            v = number_value(it)
            if v is not None:
                out[i] = v
                d: U.Dims = ()
            else:
                s = self.eval(it)
                if not s.is_constant:
                    raise fail(
                        "E307",
                        "a list item must be a number or a quantity",
                        span_of(it),
                        "not a number",
                    )
                out[i] = float(s.values)  # type: ignore[arg-type]
                d = s.dims
            if dims is None:
                dims = d
            elif d != dims:
                raise fail(
                    "E202", f"list items mix {U.dims_name(dims)} and {U.dims_name(d)}", span_of(it)
                )
        return out, dims or ()

    def _list_values(self, lst: S.List) -> tuple[FloatArray, U.Dims]:
        got = self._numbers(lst.items)
        assert got is not None
        values, dims = got
        if lst.unit is not None:
            if dims:
                raise fail(
                    "E202", "a list with a unit after it must hold plain numbers", span_of(lst.unit)
                )
            unit = U.parse_unit(lst.unit.text, span_of(lst.unit))
            values = U.scale_array(values, unit.factor)
            dims = unit.dims
        if not np.all(np.isfinite(values)):
            raise fail("E302", "list value is not a finite number", span_of(lst))
        return values, dims

    def _list(self, e: S.List) -> Series:
        values, dims = self._list_values(e)
        if len(values) != self.n:
            raise fail(
                "E401",
                f"{len(values)} value{'s' if len(values) != 1 else ''} for a {self.n}-step horizon",
                span_of(e),
                f"expected {self.n} values",
                ("a list holds one value per step; `daily [...]` repeats one day",),
            )
        return Series(values, dims)

    def _daily(self, e: S.Daily) -> Series:
        values, dims = self._list_values(e.values)
        step_s = self.grid.step_h * 3600.0
        per_day_f = 86400.0 / step_s
        per_day = round(per_day_f)
        if per_day < 1 or abs(per_day - per_day_f) > 1e-9:
            raise fail(
                "E303",
                f"`daily` needs a step that divides a day; the step is {self.grid.step_h:g} h",
                span_of(e),
            )
        if len(values) != per_day:
            raise fail(
                "E401",
                f"{len(values)} value{'s' if len(values) != 1 else ''} for "
                f"a day of {per_day} steps",
                span_of(e.values),
                f"expected {per_day} values",
            )
        # The local clock: position = local time of day // step. A 23 h day skips the missing
        # hour's value, a 25 h day repeats the value of the repeated hour.
        tod_s = self.grid.local_seconds_of_day()
        pos = np.minimum((tod_s // round(step_s)).astype(np.int64), per_day - 1)
        return Series(values[pos], dims)

    def _call(self, e: S.Call) -> Series:
        name = e.func.value
        per = _per_scenario_arg(e)
        if per is not None:
            return self._scenario_call(e, per)
        if name == "csv":
            return csv_call(self, e)
        if name in ("parquet", "data"):
            from pebdsl.resolve.frames import data_call, parquet_call

            return parquet_call(self, e) if name == "parquet" else data_call(self, e)
        from pebdsl import generators

        gen = generators.REGISTRY.get(name)
        if name == "invest":  # resolve/sizing.py reads it where a size may be a decision
            raise fail(
                "E321",
                "`invest(...)` is not allowed here: only a size can be chosen by the optimisation",
                span_of(e.func),
                "not a size the model can choose",
                (
                    "sizes that can be decisions: battery capacity and power (private and "
                    "shared), a PV or wind peak, a block's connection, a DSO link's capacity",
                ),
            )
        if gen is None:
            raise fail(
                "E101",
                f"unknown function `{name}`",
                span_of(e.func),
                "not a function",
                did_you_mean(name, ["csv", "parquet", "data", *generators.REGISTRY]),
            )
        return generator_call(self, e, gen)
