"""`ev_plugged(cars, arrive, depart, spread, weekend, seed, country)`: fleet share plugged in.

Input: a tz-aware regular `pd.DatetimeIndex` of step starts, the number of cars sharing the
chargers, the mean local arrival and departure hour, the spread (standard deviation, hours) of
both, the probability that a car comes on a weekend day or public holiday, a seed and an ISO
country code for public holidays.  Output: the mean share (0..1) of the fleet plugged in over
each step, a bare number; multiply by the fleet's charger power or usable battery energy.

Why: bidirectional (V2G) chargers at an office car park are a battery only while the cars are
there.  Pooled as one always-available battery they would serve the evening peak with cars that
left at four.  A design states the availability with this share (a battery's `available`), and
energy leaves with the cars that leave (docs/model.md).

Model (commuters, ASSUMPTION: the shape of a Norwegian office car park; no +CityxChange plug-in
data are published): on a working day every car comes; on a weekend day or public holiday each
car comes with probability `weekend`.  A car arrives at N(arrive, spread) and leaves at
N(depart, spread) local wall-clock time (clipped to the day; at least 30 min plugged in), drawn
per car and day from the seed.  The share is built on a fine wall-clock grid (the profile
follows daylight saving time) and averaged over each step, so with `cars` cars it moves in
steps of 1/cars.

Raises `ValueError` for a non-positive or fractional fleet, hours outside 0..24, a departure
before the arrival, or a probability outside 0..1.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from pebdsl.generators import _grid
from pebdsl.generators.base import FloatArray, Generator, Param
from pebdsl.generators.load import _holidays

_TAG = 5  # random stream of this generator
_MIN_STAY_H = 0.5


@functools.lru_cache(maxsize=32)
def _year(
    year: int,
    cars: int,
    arrive: float,
    depart: float,
    spread: float,
    weekend: float,
    seed: int,
    country: str,
    res_s: int,
) -> FloatArray:
    """Fleet share plugged in on each fine wall-clock slot of one (naive) local year."""
    days = pd.date_range(pd.Timestamp(year, 1, 1), pd.Timestamp(year + 1, 1, 1), freq="D")[:-1]
    holidays = {pd.Timestamp(str(d)) for d in _holidays(country, year)}
    free = np.array([d.dayofweek >= 5 or d in holidays for d in days])
    rng = _grid.seed_rng(seed, _TAG, year)
    n_days = len(days)
    comes = np.where(free[:, None], rng.random((n_days, cars)) < weekend, True)
    arr = np.clip(arrive + spread * rng.standard_normal((n_days, cars)), 0.0, 24.0 - _MIN_STAY_H)
    dep = np.clip(depart + spread * rng.standard_normal((n_days, cars)), 0.0, 24.0)
    dep = np.maximum(dep, arr + _MIN_STAY_H)
    per_day = 86400 // res_s
    slot_h = res_s / 3600.0
    day0 = np.arange(n_days)[:, None] * per_day
    a = (day0 + np.round(arr / slot_h).astype(np.int64))[comes]
    b = (day0 + np.round(dep / slot_h).astype(np.int64))[comes]
    diff = np.zeros(n_days * per_day + 1)
    np.add.at(diff, a, 1.0)
    np.add.at(diff, b, -1.0)
    out: FloatArray = np.cumsum(diff[:-1]) / cars
    out.setflags(write=False)
    return out


def ev_plugged(
    index: pd.DatetimeIndex,
    *,
    cars: float = 20,
    arrive: float = 8.0,
    depart: float = 16.0,
    spread: float = 1.0,
    weekend: float = 0.1,
    seed: int = 0,
    country: str = "NO",
) -> FloatArray:
    """Mean share of the fleet plugged in over each step of `index` (module docstring)."""
    n = _grid.check_whole(cars, "cars")
    if n < 1:
        raise ValueError(f"cars must be at least 1, got {cars}")
    if not (0.0 <= arrive < 24.0 and 0.0 < depart <= 24.0):
        raise ValueError(f"arrive and depart are local hours in 0..24, got {arrive} and {depart}")
    if depart <= arrive:
        raise ValueError(f"depart ({depart}) must come after arrive ({arrive}) on the same day")
    if not 0.0 <= spread <= 6.0:
        raise ValueError(f"spread is a standard deviation of 0..6 hours, got {spread}")
    if not 0.0 <= weekend <= 1.0:
        raise ValueError(f"weekend is a probability 0..1, got {weekend}")
    seed_i = _grid.check_seed(seed)
    code = country.strip().upper()

    def per_year(year: int, tz: str, res_s: int) -> FloatArray:
        share = _year(year, n, arrive, depart, spread, weekend, seed_i, code, res_s)
        slot = _grid.wall_clock_slots(year, tz, res_s, res_s, len(share))
        out: FloatArray = share[slot]
        return out

    return _grid.over_years(index, per_year)


GENERATOR = Generator(
    name="ev_plugged",
    params=(
        Param("cars", "number", None, 20, "cars sharing the chargers (a whole number)"),
        Param("arrive", "number", None, 8.0, "mean local arrival hour on a working day"),
        Param("depart", "number", None, 16.0, "mean local departure hour"),
        Param("spread", "number", None, 1.0, "standard deviation of both hours, h"),
        Param("weekend", "number", None, 0.1, "probability a car comes on a day off"),
        Param("seed", "number", None, 0, "random stream of the arrivals and departures"),
        Param("country", "string", None, "NO", "ISO code for public holidays (days off)"),
    ),
    unit="",
    fn=ev_plugged,
    doc="Share (0..1) of a commuter car fleet plugged in at an office car park: working-day "
    "arrivals and departures drawn per car and day; a bare number.",
)
