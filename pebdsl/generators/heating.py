"""`heating_load(building, annual, seed, t_winter, t_summer, …)`: electric heating load in kW.

Input: a tz-aware regular `pd.DatetimeIndex` of step starts, a BDEW heat profile type, the
annual electricity for space heating and hot water (kWh), a weather seed and the site's
climate (the coldest and the warmest monthly mean air temperature, degrees Celsius).  Output:
the mean electric power (kW) over each step.  Over every full local calendar year,
sum(kW x step_h) equals `annual` (to floating-point precision).

Why: most Norwegian buildings heat with electricity (direct or heat pumps), so their winter
peaks are heating peaks, which the German electricity profiles of `standard_load` do not carry.
Use it beside `standard_load`: `profile = standard_load("H0", annual = 4 MWh, seed = 7) +
heating_load("MFH", annual = 5 MWh)`.

Chain (all offline):
1. a seeded hourly air temperature for the local calendar year: a seasonal cosine through
   `t_winter` (about 20 January) and `t_summer` (about 20 July), a day-to-day AR(1) weather
   anomaly (lag-1 correlation 0.75; standard deviation 4 K in winter, 2 K in summer, less its
   31-day running mean so that every seed keeps the monthly climate) and a diurnal cycle
   (half-range 1.5 K in winter, 3 K in summer, warmest at 15:00);
2. demandlib's implementation of the BDEW standard heat load profiles (SigLinDe daily demand
   from the four-day weighted mean temperature, hourly factors by weekday and temperature
   class, hot water included), with the country's public holidays as Sundays;
3. each fine step reads its local wall-clock hour (so the profile follows daylight saving
   time); the year is scaled to `annual`.

The electricity follows the heat demand in proportion (a constant efficiency or coefficient
of performance): a heat pump whose COP falls in the cold would peak higher still.
The temperature model is a climatology, not a measured year; the defaults are Trondheim's
(see docs/data.md).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd

from pebdsl.generators import _grid
from pebdsl.generators.base import FloatArray, Generator, Param, demandlib_contained
from pebdsl.generators.load import _holidays

_TAG = 4  # random stream of this generator

RESIDENTIAL = ("EFH", "MFH")
COMMERCIAL = ("GKO", "GHA", "GMK", "GBD", "GBH", "GWA", "GGA", "GBA", "GGB", "GPD", "GMF", "GHD")
BUILDINGS = RESIDENTIAL + COMMERCIAL
_DEFAULT_CLASS = 5  # BDEW building class of residential profiles when none is given

# Trondheim (Værnes/Voll), coldest and warmest monthly mean, deg C (ASSUMPTION: rounded from
# the Norwegian Meteorological Institute's 1991-2020 normals, about -2 in January and +14 in
# July; see docs/data.md).
T_WINTER = -2.0
T_SUMMER = 14.0

_ANOMALY_PHI = 0.75  # lag-1 correlation of the daily weather anomaly
_ANOMALY_SD = (4.0, 2.0)  # K, winter and summer
_DIURNAL = (1.5, 3.0)  # K half-range, winter and summer
_WARMEST_HOUR = 15
_DRIFT_DAYS = 31  # anomalies slower than a month are removed
_DEMANDLIB_T = (-19.0, 39.0)  # deg C range of demandlib's temperature classes (after rounding)
# Monthly means of a cosine are damped by sinc(pi/12); widen so the months hit their targets.
_MONTH_DAMPING = math.sin(math.pi / 12) / (math.pi / 12)


def temperature(year: int, seed: int, t_winter: float, t_summer: float) -> pd.Series:
    """Hourly air temperature (deg C) of one local calendar year, on a naive wall-clock index."""
    idx = pd.date_range(
        pd.Timestamp(year, 1, 1), pd.Timestamp(year + 1, 1, 1), freq="h", inclusive="left"
    )
    days = (len(idx) + 23) // 24
    doy = np.arange(days, dtype=np.float64)
    summer = 0.5 * (1.0 + np.cos(2.0 * np.pi * (doy - 200.0) / 365.25))  # 1 mid-July, 0 mid-Jan
    mid = 0.5 * (t_summer + t_winter)
    amp = 0.5 * (t_summer - t_winter) / _MONTH_DAMPING
    rng = _grid.seed_rng(seed, _TAG, year)
    sd = _ANOMALY_SD[0] + (_ANOMALY_SD[1] - _ANOMALY_SD[0]) * summer
    anomaly = sd * _grid.ar1(rng, days, _ANOMALY_PHI)
    # Keep the weather, drop the slow drift: every seed is a climatological year month by month
    # (as `solar` pins its monthly clearness), so seeds differ in cold spells, not in winters.
    from scipy.ndimage import uniform_filter1d  # here: only heating_load() needs scipy

    anomaly = anomaly - uniform_filter1d(anomaly, _DRIFT_DAYS, mode="wrap")
    daily = mid + amp * (2.0 * summer - 1.0) + anomaly
    half_range = _DIURNAL[0] + (_DIURNAL[1] - _DIURNAL[0]) * summer
    hour = idx.hour.to_numpy()
    d = np.arange(len(idx)) // 24
    values = daily[d] + half_range[d] * np.cos(2.0 * np.pi * (hour - _WARMEST_HOUR) / 24.0)
    return pd.Series(values, index=idx, name="temperature")


@functools.lru_cache(maxsize=32)
def _heat_year(
    building: str, klass: int, year: int, seed: int, t_winter: float, t_summer: float, country: str
) -> FloatArray:
    """One year of hourly heat demand on the naive wall-clock hours, mean 1."""
    temp = temperature(year, seed, t_winter, t_summer)
    with demandlib_contained():  # demandlib 0.2.x sets warnings.simplefilter("error")
        from demandlib import bdew

        profile = bdew.HeatBuilding(
            temp.index,
            # demandlib's temperature classes span -20..40 deg C and SigLinDe divides by zero
            # at 40; the heat curve is flat beyond both ends, so clipping changes nothing else.
            temperature=temp.clip(_DEMANDLIB_T[0], _DEMANDLIB_T[1]),
            shlp_type=building,
            building_class=klass,
            wind_class=0,
            annual_heat_demand=1000.0,
            ww_incl=True,
            holidays=_holidays(country, year),
            name=building,
        ).get_bdew_profile()
    values = np.nan_to_num(np.asarray(profile, dtype=np.float64))
    if not values.mean() > 0:
        raise ValueError(f"the {building} heat profile of {year} has no demand")
    out: FloatArray = values / values.mean()
    out.setflags(write=False)
    return out


def heating_load(
    index: pd.DatetimeIndex,
    *,
    building: str = "MFH",
    annual: float = 1000.0,
    seed: int = 0,
    t_winter: float = T_WINTER,
    t_summer: float = T_SUMMER,
    building_class: int = 0,
    country: str = "NO",
) -> FloatArray:
    """Mean electric heating load in kW over each step of `index` (see the module docstring)."""
    name = building.strip().upper()
    if name not in BUILDINGS:
        raise ValueError(
            f"unknown heat profile {building!r}; expected one of {', '.join(BUILDINGS)}"
        )
    _grid.check_annual(annual)
    if not (-40.0 <= t_winter <= 30.0 and -30.0 <= t_summer <= 40.0 and t_winter <= t_summer):
        raise ValueError(
            "t_winter and t_summer are the coldest and warmest monthly mean in deg C, "
            f"t_winter <= t_summer, got {t_winter} and {t_summer}"
        )
    klass = _grid.check_whole(building_class, "building_class")
    if name in RESIDENTIAL:
        klass = klass or _DEFAULT_CLASS
        if not 1 <= klass <= 11:
            raise ValueError(f"building_class of {name} must be 1-11, got {building_class}")
    elif klass != 0:
        raise ValueError(f"building_class applies to EFH and MFH only, got {building_class}")
    seed_i = _grid.check_seed(seed)
    country_code = country.strip().upper()

    def per_year(year: int, tz: str, res_s: int) -> FloatArray:
        hourly = _heat_year(
            name, klass, year, seed_i, float(t_winter), float(t_summer), country_code
        )
        slot = _grid.wall_clock_slots(year, tz, res_s, 3600, len(hourly))
        return _grid.to_annual(hourly[slot], res_s, annual)

    return _grid.over_years(index, per_year)


GENERATOR = Generator(
    name="heating_load",
    params=(
        Param(
            "building",
            "string",
            None,
            "MFH",
            "BDEW heat profile: EFH, MFH (homes), GKO (offices), GHA, GMK, GBD, GBH, GWA, GGA, "
            "GBA, GGB, GPD, GMF, GHD (commerce and services)",
        ),
        Param(
            "annual",
            "quantity",
            "energy",
            1000.0,
            "electricity for space heating and hot water over each calendar year, kWh",
        ),
        Param("seed", "number", None, 0, "weather year; one seed for all buildings of a city"),
        Param("t_winter", "number", None, T_WINTER, "coldest monthly mean, deg C (Trondheim)"),
        Param("t_summer", "number", None, T_SUMMER, "warmest monthly mean, deg C (Trondheim)"),
        Param(
            "building_class",
            "number",
            None,
            0,
            "BDEW building class 1-11 of EFH/MFH (0: 5 for homes, 0 otherwise)",
        ),
        Param("country", "string", None, "NO", "ISO code for public holidays (as Sundays)"),
    ),
    unit="kW",
    fn=heating_load,
    doc="BDEW standard heat load profile (demandlib, SigLinDe) driven by a seeded temperature "
    "climatology (Trondheim by default), as electric load scaled to an annual energy; kW.",
)
