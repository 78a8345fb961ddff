"""`standard_load(profile, annual, seed, country)`: a standard load profile in kW.

Input: a tz-aware regular `pd.DatetimeIndex` of step starts, a BDEW profile name, the annual
energy (kWh), a seed and an ISO country code for public holidays.  Output: the mean power (kW)
over each step.  Over every full local calendar year, sum(kW x step_h) equals `annual` (to
floating-point precision, well inside the required 0.1 %).

Base shape: demandlib's implementation of the German BDEW standard load profiles, 1999 edition
("H0" household, dynamised as the BDEW prescribes; "G0".."G6" commercial; "L0".."L2"
agricultural) or the 2025 edition ("H25", "G25", "L25"), with the country's public holidays
(the `holidays` package) treated as Sundays.  The profiles are wall-clock shapes: each fine step
takes the value of its local wall-clock time, so the profile follows daylight saving time.

Per-participant variation, seeded (all renormalised so the full-year energy stays exact):
- a time shift of up to +-1 h (households do not all wake at 06:30);
- a seasonal tilt of +-8 % (sd) winter/summer (a flat level factor would cancel out after the
  annual renormalisation, so the level randomness is spent on the season instead);
- multiplicative log-normal AR(1) noise, sigma 12 %, correlation time 1 h.

BDEW profiles are German: they contain no Norwegian electric space heating (most Norwegian
homes heat with electricity), so "H0" understates winter demand in Norway; see docs/data.md.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd

from pebdsl.generators import _grid
from pebdsl.generators.base import FloatArray, Generator, Param, demandlib_contained

_TAG = 2  # random stream of this generator

_PROFILES_1999 = ("H0", "G0", "G1", "G2", "G3", "G4", "G5", "G6", "L0", "L1", "L2")
_PROFILES_2025 = ("H25", "G25", "L25")
PROFILES = _PROFILES_1999 + _PROFILES_2025

_NOISE_SIGMA = 0.12  # within the 10-15 % asked for single households
_NOISE_TAU_H = 1.0
_MAX_SHIFT_STEPS = 4  # 15-min steps: +-1 h
_SEASON_SIGMA = 0.08


def _holidays(country: str, year: int) -> dict[object, str]:
    try:
        import holidays as holidays_lib  # here: only standard_load() needs it

        found = holidays_lib.country_holidays(country, years=year)
    except NotImplementedError as err:
        raise ValueError(f"unknown country code {country!r} for public holidays") from err
    return {day: str(name) for day, name in found.items()}


@functools.lru_cache(maxsize=16)
def _bdew_year(profile: str, year: int, country: str) -> FloatArray:
    """One calendar year of the normalised 15-min profile (naive wall clock), mean 1 kW."""
    with demandlib_contained():  # demandlib 0.2.x sets warnings.simplefilter("error")
        if profile in _PROFILES_1999:
            frame = _elec_slp(year, country)
            column = "h0_dyn" if profile == "H0" else profile.lower()
            values = frame[column].to_numpy(dtype=np.float64)
        else:
            from demandlib import bdew

            cls = {"H25": bdew.H25, "G25": bdew.G25, "L25": bdew.L25}[profile]
            naive = pd.date_range(
                pd.Timestamp(year, 1, 1),
                pd.Timestamp(year + 1, 1, 1),
                freq="15min",
                inclusive="left",
            )
            values = np.asarray(cls(naive, holidays=_holidays(country, year)), dtype=np.float64)
    values = np.nan_to_num(values)
    out: FloatArray = values / values.mean()
    out.setflags(write=False)
    return out


@functools.lru_cache(maxsize=8)
def _elec_slp(year: int, country: str) -> pd.DataFrame:
    """All 1999 BDEW profiles of one year (demandlib builds them together, ~0.25 s)."""
    from demandlib.bdew import ElecSlp

    with demandlib_contained():
        frame: pd.DataFrame = ElecSlp(year, holidays=_holidays(country, year)).get_profiles()
    return frame


@functools.lru_cache(maxsize=32)
def _wall_clock_year(profile: str, year: int, tz: str, res_s: int, country: str) -> FloatArray:
    """The profile on the fine grid of the local year: each step reads its wall-clock slot.

    In spring the skipped hour's values are dropped, in autumn the repeated hour reads them
    twice; the annual renormalisation downstream absorbs the difference.
    """
    base = _bdew_year(profile, year, country)
    out: FloatArray = base[_grid.wall_clock_slots(year, tz, res_s, 900, len(base))]
    out.setflags(write=False)
    return out


def standard_load(
    index: pd.DatetimeIndex,
    *,
    profile: str = "H0",
    annual: float = 1000.0,
    seed: int = 0,
    country: str = "NO",
) -> FloatArray:
    """Mean load in kW over each step of `index` (see the module docstring)."""
    name = profile.strip().upper()
    if name not in PROFILES:
        raise ValueError(
            f"unknown standard load profile {profile!r}; expected one of {', '.join(PROFILES)}"
        )
    _grid.check_annual(annual)
    seed_i = _grid.check_seed(seed)
    country_code = country.strip().upper()
    # Participant traits drawn from the seed alone, so they persist across years.
    traits = _grid.seed_rng(seed_i, _TAG, 0)
    shift = int(traits.integers(-_MAX_SHIFT_STEPS, _MAX_SHIFT_STEPS + 1))
    tilt = float(np.clip(traits.normal(0.0, _SEASON_SIGMA), -0.25, 0.25))

    def per_year(year: int, tz: str, res_s: int) -> FloatArray:
        shape = _wall_clock_year(name, year, tz, res_s, country_code)
        n = len(shape)
        steps_per_15 = 900 // res_s
        shifted = np.roll(shape, shift * steps_per_15)
        doy = np.arange(n, dtype=np.float64) * (365.0 / n)
        season = 1.0 + tilt * np.cos(2.0 * np.pi * (doy - 15.0) / 365.0)
        rng = _grid.seed_rng(seed_i, _TAG, year)
        phi = math.exp(-res_s / 3600.0 / _NOISE_TAU_H)
        noise = np.exp(_NOISE_SIGMA * _grid.ar1(rng, n, phi) - 0.5 * _NOISE_SIGMA**2)
        kw = shifted * season * noise
        return _grid.to_annual(kw, res_s, annual)  # mean power x hours in the year == annual

    return _grid.over_years(index, per_year)


GENERATOR = Generator(
    name="standard_load",
    params=(
        Param(
            "profile",
            "string",
            None,
            "H0",
            "BDEW profile: H0, G0-G6, L0-L2 (1999) or H25, G25, L25 (2025)",
        ),
        Param("annual", "quantity", "energy", 1000.0, "energy over each full calendar year, kWh"),
        Param("seed", "number", None, 0, "participant variation; same seed, same series"),
        Param("country", "string", None, "NO", "ISO code for public holidays (as Sundays)"),
    ),
    unit="kW",
    fn=standard_load,
    doc="BDEW standard load profile (German) scaled to an annual energy, with Norwegian "
    "holidays and seeded per-participant variation; kW.",
)
