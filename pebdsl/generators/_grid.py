"""Time-grid helpers shared by the generators.

Input: a tz-aware, regularly spaced `pd.DatetimeIndex` of step starts.  Output: the local
calendar years it touches, a fine resolution that every step boundary falls on, and the mean of
a fine series over each step.  Every generator builds whole local calendar years at the fine
resolution (so a year's energy or mean price is exact whatever slice is asked for) and
`steps_mean` averages them to the caller's steps.

Raises `ValueError` for an empty or irregular index, which the resolver turns into a diagnostic.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from pebdsl.generators.base import FloatArray, IntArray

# Standard load profiles are defined per 15 minutes, and a 15-minute PV computation keeps the
# error of averaging the sun's path below ~1 % even at sunrise; finer steps are honoured.
BASE_RESOLUTION_S = 900


def tz_of(index: pd.DatetimeIndex) -> str:
    """The index's time zone as a string; a naive index is taken as UTC."""
    return "UTC" if index.tz is None else str(index.tz)


def as_aware(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """`index` in nanoseconds (pandas 3 may hold microseconds) and tz-aware (naive = UTC)."""
    index = index.as_unit("ns")
    return index.tz_localize("UTC") if index.tz is None else index


def step_of(index: pd.DatetimeIndex) -> pd.Timedelta:
    """The regular spacing of `index`; raises `ValueError` if there is none."""
    if len(index) == 0:
        raise ValueError("the time index is empty")
    index = index.as_unit("ns")
    if len(index) == 1:
        if index.freq is None:
            raise ValueError("a one-step time index needs a freq to define the step length")
        return pd.Timedelta(index.freq)
    diffs = np.diff(index.asi8)
    if not np.all(diffs == diffs[0]) or diffs[0] <= 0:
        raise ValueError("the time index must be increasing with a regular step")
    return pd.Timedelta(int(diffs[0]), unit="ns")


def year_start(year: int, tz: str) -> pd.Timestamp:
    return pd.Timestamp(year=year, month=1, day=1, tz=tz)


def local_years(index: pd.DatetimeIndex, step: pd.Timedelta) -> list[int]:
    """Calendar years (in the index's own time zone) overlapped by the horizon."""
    first = index[0]
    last = index[-1] + step - pd.Timedelta(1, unit="ns")
    return list(range(first.year, last.tz_convert(first.tz).year + 1))


def fine_resolution_s(index: pd.DatetimeIndex, step: pd.Timedelta) -> int:
    """Seconds per fine step: divides the step, 15 min and the offset of the first step."""
    step_s = step.total_seconds()
    if step_s != int(step_s):
        raise ValueError("steps shorter than whole seconds are not supported")
    offset = (index[0] - year_start(index[0].year, tz_of(index))).total_seconds()
    return math.gcd(int(step_s), BASE_RESOLUTION_S, int(offset) % 86400)


def steps_per_year(year: int, tz: str, res_s: int) -> int:
    span = year_start(year + 1, tz) - year_start(year, tz)
    return int(span.total_seconds()) // res_s


def fine_grid(year: int, tz: str, res_s: int) -> pd.DatetimeIndex:
    """Starts of the fine steps of one local calendar year (absolute, tz-aware)."""
    return pd.date_range(
        year_start(year, tz), year_start(year + 1, tz), freq=f"{res_s}s", inclusive="left"
    )


def over_years(
    index: pd.DatetimeIndex,
    per_year: Callable[[int, str, int], FloatArray],
) -> FloatArray:
    """Mean over each step of `index` of a series built one local calendar year at a time.

    `per_year(year, tz, res_s)` returns the fine series of the whole year (length
    `steps_per_year`); the years are contiguous in absolute time, so they are concatenated
    and averaged with a cumulative sum (no Python loop over steps).
    """
    index = as_aware(index)
    step = step_of(index)
    tz = tz_of(index)
    res_s = fine_resolution_s(index, step)
    years = local_years(index, step)
    fine = np.concatenate([per_year(y, tz, res_s) for y in years])
    origin = year_start(years[0], tz)
    start_pos = (index.asi8 - origin.as_unit("ns").value) // (res_s * 10**9)
    n = int(step.total_seconds()) // res_s
    csum = np.concatenate([[0.0], np.cumsum(fine, dtype=np.float64)])
    out: FloatArray = (csum[start_pos + n] - csum[start_pos]) / n
    return out


def ar1(rng: np.random.Generator, n: int, phi: float) -> FloatArray:
    """A stationary AR(1) path of unit variance: z[t] = phi z[t-1] + sqrt(1-phi^2) e[t]."""
    from scipy.signal import lfilter

    eps = rng.standard_normal(n)
    if n == 0:
        return eps
    c = math.sqrt(1.0 - phi * phi)
    rest = lfilter([c], [1.0, -phi], eps[1:], zi=[phi * eps[0]])[0]
    return np.concatenate([eps[:1], rest]).astype(np.float64)


def seed_rng(seed: int, *stream: int) -> np.random.Generator:
    """A generator keyed by the user's seed and a stream (generator tag, year, ...)."""
    return np.random.default_rng([*stream, seed % 2**32])


def check_whole(value: object, name: str) -> int:
    """`value` as an int; ValueError naming `name` unless it is a whole number (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or float(value) != int(value):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    return int(value)


def check_seed(seed: object) -> int:
    return check_whole(seed, "seed")


def wall_clock_slots(year: int, tz: str, res_s: int, slot_s: int, n_slots: int) -> IntArray:
    """For each fine step of the local year, the index of its wall-clock slot of `slot_s`.

    Profiles defined on the wall clock (BDEW's) follow daylight saving time this way: in spring
    the skipped hour's slots are never read, in autumn the repeated hour reads them twice.
    Indexes are clipped to the profile's `n_slots`.
    """
    wall = fine_grid(year, tz, res_s).tz_localize(None).as_unit("ns")
    origin = pd.Timestamp(year, 1, 1).as_unit("ns").value
    out: IntArray = np.clip((wall.asi8 - origin) // (slot_s * 10**9), 0, n_slots - 1)
    return out


def check_annual(annual: float) -> None:
    if not math.isfinite(annual) or annual < 0.0:
        raise ValueError(f"annual energy must be a non-negative number of kWh, got {annual}")


def to_annual(kw: FloatArray, res_s: int, annual: float) -> FloatArray:
    """`kw` (one local year of fine steps) scaled so that its energy is `annual` kWh exactly."""
    hours = len(kw) * res_s / 3600.0
    out: FloatArray = kw * (annual / (kw.mean() * hours))
    return out
