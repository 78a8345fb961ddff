"""`spot_price(area, year, seed, currency)`: a day-ahead spot price series per kWh.

Input: a tz-aware regular `pd.DatetimeIndex` of step starts, a Norwegian bidding zone
(NO1..NO5), the calibration year whose published levels are used, a seed and the currency.
Output: the mean spot price (excl. VAT) over each step, in `currency`/kWh (NOK or EUR).

Shape: price(t) = month level x day factor x hour-of-day factor x small hourly noise, built on
hourly values in local time (the 2023 day-ahead market cleared hourly) for every local calendar
year of the horizon, whatever its year: the calibration year only picks the levels.
- Month levels: the published monthly area averages where we have them (NVE/RME, the figures
  behind the 2023 electricity support scheme), the other months an assumed shape scaled so that
  the hour-weighted annual mean equals the published annual average (Europower via Adresseavisen).
- Day factor: log-normal AR(1) (sigma 0.25, lag-1 correlation 0.7) plus a 7 % weekend discount;
  the hour-of-day factor has a night trough and morning (08-09) and evening (17-19) peaks.
- Every month is renormalised to its level, so the monthly and annual means are exact for every
  seed (the annual mean to floating-point precision; the tests allow 2 %).

Currency: one currency per design and no conversion in the language, so the generator converts
at Norges Bank's 2023 average EUR/NOK rate (11.42).  `Generator.unit` is "NOK/kWh" (the
default); `unit_of("spot_price", currency)` in `pebdsl.generators` gives the unit for another
currency.  Figures and sources: docs/data.md.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from pebdsl.generators import _grid
from pebdsl.generators.base import FloatArray, Generator, Param

_TAG = 3  # random stream of this generator

# Norges Bank, annual average of daily exchange rates 2023: 1 EUR = 11.42 NOK.
EUR_NOK_2023 = 11.42
CURRENCIES = ("NOK", "EUR")

# Annual average day-ahead price 2023 per area, øre/kWh excl. VAT.  Europower's 2023 overview
# (reported by Adresseavisen / NTB, Dec 2023): NO1 76, NO2 90, NO3 44, NO4 34; NO5 "at the same
# level as Eastern Norway" -> 76 (ASSUMPTION: the article gives no NO5 figure).
ANNUAL_ORE_PER_KWH: dict[int, dict[str, float]] = {
    2023: {"NO1": 76.0, "NO2": 90.0, "NO3": 44.0, "NO4": 34.0, "NO5": 76.0},
}

# Published monthly averages 2023 (month -> øre/kWh excl. VAT): NVE/RME monthly area prices
# for the electricity support scheme (Jan, Feb, May, Jul, Aug; NO5 Jan-Aug; NO4 March from
# Europower via Finansavisen).  Exact sources per figure: docs/data.md.
_PUBLISHED_2023: dict[str, dict[int, float]] = {
    "NO1": {5: 78.61, 7: 36.79, 8: 20.06},
    "NO2": {5: 80.66, 7: 68.68, 8: 72.91},
    "NO3": {1: 69.61, 2: 48.65, 5: 31.82, 7: 28.57, 8: 19.95},
    "NO4": {3: 49.0, 5: 21.94, 7: 22.31, 8: 19.01},
    "NO5": {1: 128.76, 2: 110.80, 3: 113.04, 4: 112.91, 5: 78.99, 6: 73.23, 7: 37.21, 8: 20.08},
}

# Assumed monthly profile (øre/kWh, Jan..Dec) for the months without a published figure
# (ASSUMPTION: southern zones follow NO5's published Jan-Aug path, a low September, a rise into
# the winter; they are scaled together to meet the annual average, see _monthly_levels).
_PRIOR_2023: dict[str, tuple[float, ...]] = {
    "NO1": (125, 108, 110, 110, 79, 72, 37, 20, 30, 50, 85, 95),
    "NO2": (130, 112, 113, 113, 81, 85, 69, 73, 70, 75, 95, 100),
    "NO3": (70, 49, 60, 48, 32, 30, 29, 20, 25, 45, 60, 65),
    "NO4": (45, 40, 49, 35, 22, 22, 22, 19, 22, 35, 45, 50),
    "NO5": (129, 111, 113, 113, 79, 73, 37, 20, 30, 50, 85, 95),
}

AREAS = tuple(sorted(_PUBLISHED_2023))

# Relative hour-of-day shape (local time), working days and weekends (ASSUMPTION, typical of
# Nordic day-ahead prices: night trough, morning and evening peaks, a flatter weekend).
_HOURLY_WORKDAY = np.array(
    [0.90, 0.88, 0.87, 0.87, 0.89, 0.94, 1.02, 1.10, 1.13, 1.10, 1.05, 1.02,
     1.00, 0.99, 0.99, 1.02, 1.07, 1.12, 1.13, 1.09, 1.04, 1.00, 0.96, 0.92],
)  # fmt: skip
_HOURLY_WEEKEND = 1.0 + 0.5 * (_HOURLY_WORKDAY - 1.0)
_WEEKEND_LEVEL = 0.93
_DAY_SIGMA, _DAY_PHI = 0.25, 0.7
_HOUR_SIGMA, _HOUR_PHI = 0.05, 0.8


def _monthly_levels(area: str, year_levels: int, year: int, tz: str) -> FloatArray:
    """Month levels (øre/kWh) for one local calendar year, hour-weighted mean = annual."""
    published = _PUBLISHED_2023[area]
    annual = ANNUAL_ORE_PER_KWH[year_levels][area]
    months = pd.date_range(_grid.year_start(year, tz), _grid.year_start(year + 1, tz), freq="MS")
    hours = np.diff(months.asi8) / 3.6e12  # DST months have 743 / 745 h
    known = np.array([m in published for m in range(1, 13)])
    values = np.array(
        [published.get(m, float(v)) for m, v in enumerate(_PRIOR_2023[area], start=1)]
    )
    need = annual * hours.sum() - float(np.dot(values[known], hours[known]))
    prior = float(np.dot(values[~known], hours[~known]))
    if prior > 0.0:
        values[~known] *= max(need, 0.05 * prior) / prior
    return values


@functools.lru_cache(maxsize=32)
def _year(area: str, year_levels: int, year: int, tz: str, res_s: int, seed: int) -> FloatArray:
    levels = _monthly_levels(area, year_levels, year, tz)
    hours = pd.date_range(
        _grid.year_start(year, tz), _grid.year_start(year + 1, tz), freq="1h", inclusive="left"
    )
    local_hour = np.asarray(hours.hour)
    weekend = np.asarray(hours.day_of_week) >= 5
    month = np.asarray(hours.month) - 1
    _, day_idx = np.unique(np.asarray(hours.normalize().asi8), return_inverse=True)
    rng = _grid.seed_rng(seed, _TAG, year)
    n_days = int(day_idx.max()) + 1
    day = np.exp(_DAY_SIGMA * _grid.ar1(rng, n_days, _DAY_PHI))[day_idx]
    shape = np.where(
        weekend, _WEEKEND_LEVEL * _HOURLY_WEEKEND[local_hour], _HOURLY_WORKDAY[local_hour]
    )
    jitter = np.exp(_HOUR_SIGMA * _grid.ar1(rng, len(hours), _HOUR_PHI))
    price = day * shape * jitter
    # Pin each month's mean to its level (the seed moves days and hours, not months).
    sums = np.bincount(month, weights=price, minlength=12)
    counts = np.bincount(month, minlength=12)
    price *= (levels / (sums / counts))[month]
    # Hourly values onto the fine grid (constant within each hour).
    fine: FloatArray = np.repeat(price, 3600 // res_s) / 100.0  # øre -> NOK
    fine.setflags(write=False)
    return fine


def spot_price(
    index: pd.DatetimeIndex,
    *,
    area: str = "NO3",
    year: int = 2023,
    seed: int = 0,
    currency: str = "NOK",
) -> FloatArray:
    """Mean spot price per kWh over each step of `index`, in `currency` (module docstring)."""
    zone = area.strip().upper()
    if zone not in AREAS:
        raise ValueError(f"unknown bidding zone {area!r}; expected one of {', '.join(AREAS)}")
    year_levels = _grid.check_seed(year)
    if year_levels not in ANNUAL_ORE_PER_KWH:
        known = ", ".join(str(y) for y in sorted(ANNUAL_ORE_PER_KWH))
        raise ValueError(f"no published price levels for {year_levels}; available: {known}")
    cur = currency.strip().upper()
    if cur not in CURRENCIES:
        raise ValueError(f"spot_price supports currency NOK or EUR, got {currency!r}")
    seed_i = _grid.check_seed(seed)
    factor = 1.0 if cur == "NOK" else 1.0 / EUR_NOK_2023

    def per_year(y: int, tz: str, res_s: int) -> FloatArray:
        # res_s divides 15 min, hence the hour.
        return _year(zone, year_levels, y, tz, res_s, seed_i)

    return _grid.over_years(index, per_year) * factor


GENERATOR = Generator(
    name="spot_price",
    params=(
        Param("area", "string", None, "NO3", "Norwegian bidding zone NO1..NO5"),
        Param("year", "number", None, 2023, "year of the published levels (2023)"),
        Param("seed", "number", None, 0, "price realisation; same seed, same series"),
        Param(
            "currency",
            "string",
            None,
            "NOK",
            "NOK or EUR; `call` fills in the design currency (EUR at 11.42 NOK, Norges Bank "
            "2023 average)",
        ),
    ),
    unit="NOK/kWh",
    fn=spot_price,
    doc="Day-ahead spot price (excl. VAT) calibrated to the area's published 2023 monthly and "
    "annual averages, with daily and hourly shape and seeded day-to-day noise.",
)
