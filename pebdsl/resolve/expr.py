"""Series values and the small helpers every part of series evaluation shares.

Input: syntax expressions. Output: `Series` (a constant or one float64 per step, in coherent
base units, with dimensions), `strip` (parentheses removed), `number_value` (a plain number),
`fail` (a coded `PebdslError`), and `Evaluator`, what generator calls (`calls.py`) and csv()
(`csvalign.py`) need of `series.SeriesContext`. Raises nothing itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from pebdsl import units as U
from pebdsl.design import TimeGrid
from pebdsl.diagnostics import PebdslError, error
from pebdsl.front import syntax as S
from pebdsl.source import Span

__all__ = [
    "NS_PER_H",
    "Evaluator",
    "FloatArray",
    "Series",
    "Value",
    "as_value",
    "fail",
    "number_value",
    "scaled_ref",
    "span_of",
    "strip",
]

FloatArray = npt.NDArray[np.float64]
Value = float | FloatArray

NS_PER_H = 3_600_000_000_000


@dataclass
class Series:
    """A value per step (or one constant) in coherent base units, with its dimensions.

    `annual_ref_kwh`, when known, gives the energy over a calendar year of a power profile that
    came from a generator (`standard_load` is normalised to its `annual` argument): `load
    { annual = … }` scales by it instead of extrapolating the horizon's mean.
    """

    values: Value
    dims: U.Dims
    annual_ref_kwh: Callable[[], float] | None = None

    @property
    def is_constant(self) -> bool:
        """One value for every step (not an array)."""
        return not isinstance(self.values, np.ndarray)


def strip(expr: S.Expr) -> S.Expr:
    """`expr` without enclosing parentheses."""
    while isinstance(expr, S.Paren):
        expr = expr.inner
    return expr


def span_of(node: Any) -> Span:
    """The span of a syntax node."""
    return node.span  # type: ignore[no-any-return]


def fail(
    code: str, message: str, span: Span, label: str = "", hints: tuple[str, ...] = ()
) -> PebdslError:
    """A `PebdslError` of one error diagnostic (to raise)."""
    return PebdslError(error(code, message, span, label, hints))


def number_value(expr: S.Expr) -> float | None:
    """The value of a plain number (`3`, `-3`, `(3)`), else None."""
    expr = strip(expr)
    if isinstance(expr, S.Number):
        return float(expr.value)
    if isinstance(expr, S.Neg):
        inner = number_value(expr.operand)
        return None if inner is None else -inner
    return None


class Evaluator(Protocol):
    """What generator calls and csv() need of the evaluator (`series.SeriesContext`)."""

    grid: TimeGrid
    currency: str
    directory: Path
    allow_outside: bool
    n: int
    step_ns: int
    data_files: dict[str, str]  # path -> sha256 of the data files read
    failed_files: dict[str, PebdslError]  # a file's error, reported at its first use
    data: Mapping[str, Any]  # `data("name")`: in-memory series passed from Python

    @property
    def index(self) -> Any:
        """The horizon's steps as a pandas DatetimeIndex in the design's timezone."""

    @property
    def utc_ns(self) -> npt.NDArray[np.int64]:
        """The horizon's steps as UTC nanoseconds."""

    def eval(self, expr: S.Expr) -> Series:
        """The value of an expression."""

    def constant(self, expr: S.Expr, dimension: str, what: str) -> float:
        """An expression as one number in the canonical unit of `dimension`."""


def as_value(v: Any) -> Value:
    """A numpy array as is, anything else as a float."""
    if isinstance(v, np.ndarray):
        return v
    return float(v)


def scaled_ref(a: Series, b: Series) -> Callable[[], float] | None:
    """The annual reference of `a * b` when `a` has one and `b` is a plain constant."""
    if a.annual_ref_kwh is not None and b.is_constant and not b.dims:
        ra, bv = a.annual_ref_kwh, float(b.values)  # type: ignore[arg-type]
        return lambda: ra() * bv
    return None
