"""`month_table(jan, feb, …, dec)`: one value per calendar month, as a bare-number series.

Input: a tz-aware regular `pd.DatetimeIndex` of step starts and twelve numbers, January first.
Output: each step's value is the number of the local calendar month (horizon's timezone) the
step starts in; a bare number, so a design gives it a unit by multiplying:
`capacity_charge = month_table(49, 49, 49, 49, 33, 33, 33, 33, 33, 33, 49, 49) * 1 NOK/kW/month`
(Tensio's winter and summer prices). A step that starts in one month and ends in the next
(a step longer than an hour at a month boundary) takes its starting month's value.

Why: tariffs change by month or season (capacity prices, the consumption tax in 2023), and a
capacity price must hold for a whole calendar month (the DSO's charge of that month).
Raises `ValueError` for a value that is not finite (the registry's checks).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pebdsl.generators import _grid
from pebdsl.generators.base import REQUIRED, FloatArray, Generator, Param

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def month_table(index: pd.DatetimeIndex, **values: float) -> FloatArray:
    """The value of each step's local calendar month (module docstring)."""
    index = _grid.as_aware(index)
    table = np.array([float(values[m]) for m in MONTHS], dtype=np.float64)
    out: FloatArray = table[np.asarray(index.month, dtype=np.int64) - 1]
    return out


GENERATOR = Generator(
    name="month_table",
    params=tuple(Param(m, "number", None, REQUIRED, f"value in {m.title()}") for m in MONTHS),
    unit="",
    fn=month_table,
    doc="One value per local calendar month, January first (a bare number: multiply by a "
    "unit); for tariffs that change by month or season.",
)
