"""`solar(latitude, longitude, tilt, azimuth, seed, clearness)`: PV output in kW per kWp.

Input: a tz-aware regular `pd.DatetimeIndex` of step starts and the site (degrees).  Output: the
mean AC output over each step per kWp installed (dimensionless, 0 at night, at most 1.0 since
the inverter is sized at 1 kW AC per kWp).  Deterministic given `seed`.

Chain (all offline):
1. sun position (pvlib, NREL SPA in numpy) and Ineichen/Perez clear sky with pvlib's shipped
   monthly Linke turbidity climatology and SRTM altitude (both in pvlib's own data files);
2. a seeded cloud model that turns clear-sky GHI into all-sky GHI: a daily clear-sky index
   kc drawn from a Beta distribution with a monthly mean, day-to-day AR(1) persistence through a
   Gaussian copula, and intra-day AR(1) log-normal flicker that is largest on broken-cloud days;
   each month's irradiance-weighted mean kc is then pinned to its target, so the yield of every
   seed is that of a climatological year;
3. Erbs decomposition into DNI/DHI, Hay-Davies transposition to the plane of array,
   Fresnel IAM on the beam, Faiman cell temperature, PVWatts DC (gamma = -0.4 %/K),
   14 % system losses (PVWatts default) and a PVWatts inverter (96 % nominal, DC/AC = 1).

Computed per local calendar year at 15 min (or the index's step if finer) at the midpoint of
each fine step, averaged to the caller's steps.  Calibration and sources: docs/data.md.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd

from pebdsl.generators import _grid
from pebdsl.generators.base import FloatArray, Generator, Param

_TAG = 1  # random stream of this generator

# Monthly mean clear-sky index kc = GHI / GHI_clear (Ineichen) for Trondheim.  Derived from
# approximate long-term monthly global irradiation on the horizontal for Trondheim
# (kWh/m2: 3, 13, 45, 88, 135, 150, 140, 100, 57, 24, 6, 1.5; about 760 per year; ASSUMPTION,
# see docs/data.md) divided by the Ineichen clear-sky irradiation of the same months
# (6.9, 30.8, 89.3, 154, 218, 238, 227, 173, 101, 48, 12.5, 2.3), then scaled by
# _TRONDHEIM_SCALE so the annual yield at tilt 35 deg south is ~800 kWh/kWp (the middle of
# NVE's 650-1000 kWh/kWp range for Norway).
_TRONDHEIM_KC = (0.43, 0.42, 0.50, 0.57, 0.62, 0.63, 0.62, 0.58, 0.56, 0.50, 0.48, 0.55)
_TRONDHEIM_SCALE = 1.115

# Norway's mainland bounding box: sites inside it use the Trondheim climatology.
_NORWAY_BOX = (57.5, 71.5, 4.0, 31.5)  # lat_min, lat_max, lon_min, lon_max

_BETA_CONCENTRATION = 3.0  # a + b of the daily kc Beta law: broad, nearly U-shaped in winter
_KC_FLOOR, _KC_SPAN = 0.03, 0.99  # daily kc lives in [0.03, 1.02]
_DAILY_PHI = 0.45  # lag-1 autocorrelation of daily clearness (weather persists ~2 days)
_INTRA_TAU_H = 0.75  # correlation time of intra-day cloud flicker
_INTRA_SIGMA = 1.2  # sigma of log flicker = _INTRA_SIGMA * kc (1 - kc): 0.3 at kc = 0.5
_KC_MAX = 1.15  # cloud enhancement allowed at the fine step

_SYSTEM_LOSSES = 0.14  # soiling, snow, mismatch, wiring, LID, availability (PVWatts default)
_GAMMA_PDC = -0.004  # 1/K, crystalline silicon
_ALBEDO = 0.2
_WIND_MS = 2.0  # constant wind speed for the cell-temperature model


# Annual mean kc by |latitude| outside Norway (ASSUMPTION, a rough global picture: cloudy
# tropics, clear subtropical deserts and Mediterranean, cloudier towards the poles; about
# +-15 % in yield; pass `clearness` for a better figure).
_LAT_KC = (
    (0.0, 0.62),
    (15.0, 0.72),
    (25.0, 0.82),
    (38.0, 0.82),
    (45.0, 0.72),
    (52.0, 0.64),
    (60.0, 0.57),
    (70.0, 0.52),
    (90.0, 0.50),
)


def _default_monthly_kc(latitude: float, longitude: float) -> tuple[float, ...]:
    """Monthly target kc: Trondheim's inside Norway, a latitude rule elsewhere (ASSUMPTION).

    The rule takes the annual mean from `_LAT_KC` and adds a summer/winter swing of
    +-0.003 |lat| (+-0.15 at 50 deg), phase-flipped south of the equator.
    """
    lat_min, lat_max, lon_min, lon_max = _NORWAY_BOX
    if lat_min <= latitude <= lat_max and lon_min <= longitude <= lon_max:
        return tuple(k * _TRONDHEIM_SCALE for k in _TRONDHEIM_KC)
    a = abs(latitude)
    base = float(np.interp(a, [p[0] for p in _LAT_KC], [p[1] for p in _LAT_KC]))
    amp = min(0.003 * a, 0.15)
    sign = 1.0 if latitude >= 0 else -1.0
    return tuple(
        float(np.clip(base + sign * amp * math.cos(2 * math.pi * (m - 7) / 12), 0.2, 0.9))
        for m in range(1, 13)
    )


def _monthly_kc(latitude: float, longitude: float, clearness: float | None) -> FloatArray:
    kc = np.array(_default_monthly_kc(latitude, longitude))
    if clearness is not None:
        if not 0.05 <= clearness <= 0.95:
            raise ValueError(f"clearness must lie in 0.05-0.95, got {clearness}")
        # A user figure is the annual mean kc; keep the site's seasonal shape.
        kc = kc * (clearness / kc.mean())
    out: FloatArray = np.clip(kc, 0.05, 0.95)
    return out


def _daily_kc(rng: np.random.Generator, target: FloatArray) -> FloatArray:
    """Daily kc: Beta margins with mean `target` (per day), AR(1) persistence via a copula."""
    from scipy import stats  # here: only a design that calls solar() pays for scipy

    z = _grid.ar1(rng, len(target), _DAILY_PHI)
    u = stats.norm.cdf(z)
    mean = np.clip((target - _KC_FLOOR) / _KC_SPAN, 0.02, 0.98)
    a = mean * _BETA_CONCENTRATION
    b = (1.0 - mean) * _BETA_CONCENTRATION
    out: FloatArray = _KC_FLOOR + _KC_SPAN * stats.beta.ppf(u, a, b)
    return out


@functools.lru_cache(maxsize=64)
def _year(
    year: int,
    tz: str,
    res_s: int,
    latitude: float,
    longitude: float,
    tilt: float,
    azimuth: float,
    seed: int,
    clearness: float | None,
) -> FloatArray:
    import pvlib  # here: only a design that calls solar() pays for pvlib

    starts = _grid.fine_grid(year, tz, res_s)
    times = starts + pd.Timedelta(res_s / 2, unit="s")  # midpoint ~ mean over the fine step
    altitude = float(pvlib.location.lookup_altitude(latitude, longitude))
    solpos = pvlib.solarposition.get_solarposition(times, latitude, longitude, altitude=altitude)
    site = pvlib.location.Location(latitude, longitude, altitude=altitude)
    clear = site.get_clearsky(times, model="ineichen", solar_position=solpos)
    ghi_cs = clear["ghi"].to_numpy()

    # Cloud model, in local days and months (weather regimes follow the local calendar).
    local = starts
    months = np.asarray(local.month) - 1
    target = _monthly_kc(latitude, longitude, clearness)
    rng = _grid.seed_rng(seed, _TAG, year)
    _, first_of_day, day_idx = np.unique(
        np.asarray(local.normalize().asi8), return_index=True, return_inverse=True
    )
    kc_day = _daily_kc(rng, target[months[first_of_day]])
    kc_d = kc_day[day_idx]
    phi = math.exp(-res_s / 3600.0 / _INTRA_TAU_H)
    sigma = _INTRA_SIGMA * kc_d * (1.0 - kc_d)
    flicker = np.exp(sigma * _grid.ar1(rng, len(times), phi) - 0.5 * sigma**2)
    kc = np.clip(kc_d * flicker, 0.0, _KC_MAX)
    # Pin each month's irradiance-weighted kc to its target: the seed then changes the
    # weather, not the climate.
    for m in range(12):
        sel = months == m
        w = ghi_cs[sel]
        got = float(np.dot(kc[sel], w))
        if got > 0.0:
            kc[sel] = np.clip(kc[sel] * (target[m] * w.sum() / got), 0.0, _KC_MAX)

    ghi = kc * ghi_cs
    zenith = solpos["zenith"].to_numpy()
    split = pvlib.irradiance.erbs(ghi, zenith, times.day_of_year.to_numpy())
    dni = np.nan_to_num(np.asarray(split["dni"], dtype=np.float64))
    dhi = np.nan_to_num(np.asarray(split["dhi"], dtype=np.float64))
    dni_extra = pvlib.irradiance.get_extra_radiation(times).to_numpy()
    poa = pvlib.irradiance.get_total_irradiance(
        tilt,
        azimuth,
        solpos["apparent_zenith"].to_numpy(),
        solpos["azimuth"].to_numpy(),
        dni,
        ghi,
        dhi,
        dni_extra=dni_extra,
        model="haydavies",
        albedo=_ALBEDO,
    )
    aoi = pvlib.irradiance.aoi(tilt, azimuth, solpos["apparent_zenith"], solpos["azimuth"])
    iam = np.nan_to_num(np.asarray(pvlib.iam.physical(aoi.to_numpy()), dtype=np.float64))
    beam = np.nan_to_num(np.asarray(poa["poa_direct"], dtype=np.float64))
    diffuse = np.nan_to_num(np.asarray(poa["poa_diffuse"], dtype=np.float64))
    effective = np.clip(beam * iam + diffuse, 0.0, None)
    t_air = _air_temperature(local, latitude)
    t_cell = pvlib.temperature.faiman(effective, t_air, wind_speed=_WIND_MS)
    dc = pvlib.pvsystem.pvwatts_dc(effective, t_cell, 1.0, _GAMMA_PDC)
    dc = np.asarray(dc, dtype=np.float64) * (1.0 - _SYSTEM_LOSSES)
    pac0 = 1.0
    ac = pvlib.inverter.pvwatts(dc, pac0 / 0.96, eta_inv_nom=0.96)
    out = np.clip(np.nan_to_num(np.asarray(ac, dtype=np.float64)), 0.0, pac0)
    out.setflags(write=False)
    return out


def _air_temperature(local: pd.DatetimeIndex, latitude: float) -> FloatArray:
    """Ambient temperature climatology (ASSUMPTION): a seasonal and a daily sinusoid.

    Annual mean 30 - 0.4 |lat| deg C (4.6 at Trondheim, 10 at 50 deg), seasonal half-range
    0.14 |lat| (coldest mid-January in the north), daily half-range 3 K peaking at 15:00.
    Only the temperature derating (-0.4 %/K) uses it, a few per cent of the yield.
    """
    a = abs(latitude)
    doy = np.asarray(local.day_of_year, dtype=np.float64)
    hour = np.asarray(local.hour + local.minute / 60.0, dtype=np.float64)
    sign = 1.0 if latitude >= 0 else -1.0
    seasonal = -sign * 0.14 * a * np.cos(2 * np.pi * (doy - 15.0) / 365.25)
    daily = 3.0 * np.cos(2 * np.pi * (hour - 15.0) / 24.0)
    out: FloatArray = (30.0 - 0.4 * a) + seasonal + daily
    return out


def solar(
    index: pd.DatetimeIndex,
    *,
    latitude: float,
    longitude: float,
    tilt: float = 35.0,
    azimuth: float = 180.0,
    seed: int = 0,
    clearness: float | None = None,
) -> FloatArray:
    """Mean PV output per kWp over each step of `index` (see the module docstring)."""
    if not -90.0 <= latitude <= 90.0:
        raise ValueError(f"latitude must lie in -90..90 deg, got {latitude}")
    if not -180.0 <= longitude <= 360.0:
        raise ValueError(f"longitude must lie in -180..360 deg, got {longitude}")
    if not 0.0 <= tilt <= 90.0:
        raise ValueError(f"tilt must lie in 0..90 deg, got {tilt}")
    seed_i = _grid.check_seed(seed)
    lon = ((float(longitude) + 180.0) % 360.0) - 180.0

    def per_year(year: int, tz: str, res_s: int) -> FloatArray:
        return _year(
            year,
            tz,
            res_s,
            float(latitude),
            lon,
            float(tilt),
            float(azimuth) % 360.0,
            seed_i,
            None if clearness is None else float(clearness),
        )

    return _grid.over_years(index, per_year)


GENERATOR = Generator(
    name="solar",
    params=(
        Param("latitude", "quantity", "angle", doc="site latitude, deg north"),
        Param("longitude", "quantity", "angle", doc="site longitude, deg east"),
        Param("tilt", "quantity", "angle", 35.0, "panel tilt from horizontal, deg"),
        Param("azimuth", "quantity", "angle", 180.0, "panel azimuth, deg from north (180 = south)"),
        Param("seed", "number", None, 0, "weather realisation; same seed, same series"),
        Param(
            "clearness",
            "number",
            None,
            None,
            "annual mean clear-sky index (0.05-0.95); None = site default (Trondheim "
            "climatology inside Norway, a latitude rule elsewhere)",
        ),
    ),
    unit="",
    fn=solar,
    doc="PV output in kW per kWp at the site: pvlib clear sky, seeded clouds, PVWatts with "
    "14 % losses; ~800 kWh/kWp/yr at Trondheim, tilt 35 deg south.",
)
