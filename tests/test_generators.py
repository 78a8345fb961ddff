"""Calibration and contract tests of the built-in generators (pebdsl.generators)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from pebdsl.generators import REGISTRY, REQUIRED, call, resolve_kwargs, unit_of
from pebdsl.generators.calendar import MONTHS
from pebdsl.generators.prices import ANNUAL_ORE_PER_KWH, EUR_NOK_2023
from pebdsl.generators.tariffs import NORWAY_TARIFFS, capacity_step_charge

OSLO = "Europe/Oslo"
TRONDHEIM = {"latitude": 63.43, "longitude": 10.39}


def year_index(freq: str = "1h", year: int = 2023, tz: str = OSLO) -> pd.DatetimeIndex:
    return pd.date_range(
        pd.Timestamp(year, 1, 1),
        pd.Timestamp(year + 1, 1, 1),
        freq=freq,
        tz=tz,
        inclusive="left",
    )


def hours_per_step(index: pd.DatetimeIndex) -> float:
    return float((index[1] - index[0]).total_seconds()) / 3600.0


# Minimal arguments that make every registered generator callable.
REQUIRED_ARGS: dict[str, dict[str, object]] = {
    "solar": dict(TRONDHEIM),
    "month_table": {m: float(i) for i, m in enumerate(MONTHS)},
}


# --- solar ----------------------------------------------------------------------------------


def test_solar_annual_yield_trondheim() -> None:
    idx = year_index()
    pv = call("solar", idx, "NOK", **TRONDHEIM)
    yield_kwh_per_kwp = pv.sum() * hours_per_step(idx)
    assert 700.0 <= yield_kwh_per_kwp <= 900.0, yield_kwh_per_kwp
    assert pv.min() >= 0.0
    assert pv.max() <= 1.1
    # zero at night: local midnight to 01:00 in December and in January
    night = (idx.hour < 2) & np.isin(idx.month, [1, 12])
    assert np.all(pv[night] == 0.0)
    winter_noon = pv[(idx.month == 12) & (idx.hour == 12)]
    summer_noon = pv[(idx.month == 6) & (idx.hour == 13)]
    assert summer_noon.mean() > 5 * winter_noon.mean()


def test_solar_deterministic_and_seeded() -> None:
    idx = year_index()
    a = call("solar", idx, "NOK", **TRONDHEIM, seed=3)
    b = call("solar", idx, "NOK", **TRONDHEIM, seed=3)
    c = call("solar", idx, "NOK", **TRONDHEIM, seed=4)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    # the seed changes the weather, not the climate
    assert abs(a.sum() - c.sum()) / a.sum() < 0.03


def test_solar_step_means_are_consistent() -> None:
    """Hourly values are the means of the 15-minute values (mean power over each step)."""
    h = call("solar", year_index("1h"), "NOK", **TRONDHEIM)
    q = call("solar", year_index("15min"), "NOK", **TRONDHEIM)
    np.testing.assert_allclose(q.reshape(-1, 4).mean(axis=1), h, atol=1e-12)


# --- standard_load --------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["H0", "G1"])
@pytest.mark.parametrize("freq", ["1h", "15min"])
def test_standard_load_annual_energy(profile: str, freq: str) -> None:
    idx = year_index(freq)
    kw = call("standard_load", idx, "NOK", profile=profile, annual=4500.0, seed=7)
    energy = kw.sum() * hours_per_step(idx)
    assert abs(energy - 4500.0) / 4500.0 < 1e-3
    assert kw.min() > 0.0


def seeded_pair(name: str, **kwargs: object) -> tuple[np.ndarray, np.ndarray]:
    """A year of `name` for seeds 1 and 2, after checking that seed 1 repeats exactly and that
    the two seeds differ but carry the same annual energy."""
    idx = year_index()
    a = call(name, idx, "NOK", **kwargs, seed=1)
    b = call(name, idx, "NOK", **kwargs, seed=1)
    c = call(name, idx, "NOK", **kwargs, seed=2)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)
    assert a.sum() == pytest.approx(c.sum(), rel=1e-9)
    return a, c


def test_standard_load_seeds() -> None:
    a, c = seeded_pair("standard_load", profile="H0", annual=3000.0)
    assert np.corrcoef(a, c)[0, 1] > 0.5  # the same household type


def test_standard_load_week_is_a_slice_of_the_year() -> None:
    year = year_index()
    week = pd.date_range("2023-03-20", periods=7 * 24, freq="1h", tz=OSLO)
    full = call("standard_load", year, "NOK", profile="G1", seed=5)
    part = call("standard_load", week, "NOK", profile="G1", seed=5)
    start = year.get_loc(week[0])
    np.testing.assert_allclose(part, full[start : start + len(week)], rtol=1e-12)


def test_standard_load_over_a_year_boundary() -> None:
    idx = pd.date_range("2023-12-28", "2024-01-04", freq="1h", tz=OSLO, inclusive="left")
    kw = call("standard_load", idx, "NOK", profile="H0", seed=0)
    assert len(kw) == len(idx) and np.all(kw > 0.0)
    assert np.all(np.isfinite(kw))


def test_standard_load_leaves_warning_filters_alone() -> None:
    """demandlib's `simplefilter("error")` is disarmed during the call (with pandas 3.1 it
    would turn pandas' deprecation warnings into exceptions) and restored after it. A first
    call on another year imports what the generator needs (an import may add filters)."""
    call("standard_load", year_index(year=2019), "NOK", profile="L1")
    before = list(warnings.filters)
    simplefilter = warnings.simplefilter
    call("standard_load", year_index(year=2021), "NOK", profile="L1")
    assert list(warnings.filters) == before
    assert warnings.simplefilter is simplefilter


def test_standard_load_rejects_unknown_profile() -> None:
    with pytest.raises(ValueError, match="unknown standard load profile"):
        call("standard_load", year_index(), "NOK", profile="X9")


# --- heating_load ---------------------------------------------------------------------------


@pytest.mark.parametrize("building", ["MFH", "GKO"])
@pytest.mark.parametrize("freq", ["1h", "15min"])
def test_heating_load_annual_energy(building: str, freq: str) -> None:
    idx = year_index(freq)
    kw = call("heating_load", idx, "NOK", building=building, annual=20_000.0, seed=3)
    assert abs(kw.sum() * hours_per_step(idx) - 20_000.0) / 20_000.0 < 1e-3
    assert kw.min() > 0.0  # hot water all year


def test_heating_load_is_a_winter_load() -> None:
    # Trondheim's climate: January needs several times July's energy, and the winter peak is
    # far above the mean (what BDEW electricity profiles lack in Norway).
    idx = year_index()
    kw = pd.Series(call("heating_load", idx, "NOK", building="MFH", annual=8760.0), index=idx)
    monthly = kw.resample("MS").sum()
    assert monthly.iloc[0] > 3.0 * monthly.iloc[6]
    assert kw.max() > 2.0 * kw.mean()
    # A milder climate shifts energy out of winter.
    mild = call("heating_load", idx, "NOK", building="MFH", annual=8760.0, t_winter=6.0)
    assert mild[: 31 * 24].sum() < kw.iloc[: 31 * 24].sum()


def test_heating_load_seeds_share_the_climate() -> None:
    from pebdsl.generators.heating import temperature

    seeded_pair("heating_load", building="GKO", annual=5000.0)
    # Every seed keeps the monthly climate (within 2 K); seeds differ in cold spells.
    months = [temperature(2023, seed, -2.0, 14.0).resample("MS").mean() for seed in range(5)]
    for m in months:
        assert m.iloc[0] == pytest.approx(-2.0, abs=2.0)
        assert m.iloc[6] == pytest.approx(14.0, abs=2.0)
    assert months[0].iloc[0] != months[1].iloc[0]


@pytest.mark.parametrize(("t_winter", "t_summer"), [(-15.0, 12.0), (-30.0, 10.0), (20.0, 40.0)])
def test_heating_load_extreme_climates(t_winter: float, t_summer: float) -> None:
    # Inland Norway's winters (and a hot site) lie beyond demandlib's -20..40 deg C classes.
    idx = year_index()
    for seed in range(3):
        kw = call(
            "heating_load",
            idx,
            "NOK",
            annual=1000.0,
            seed=seed,
            t_winter=t_winter,
            t_summer=t_summer,
        )
        assert np.all(np.isfinite(kw)) and kw.sum() == pytest.approx(1000.0, rel=1e-9)


def test_heating_load_rejects_bad_arguments() -> None:
    idx = year_index()
    with pytest.raises(ValueError, match="unknown heat profile"):
        call("heating_load", idx, "NOK", building="H0")
    with pytest.raises(ValueError, match="EFH and MFH only"):
        call("heating_load", idx, "NOK", building="GKO", building_class=3)
    with pytest.raises(ValueError, match="building_class must be a whole number"):
        call("heating_load", idx, "NOK", building="EFH", building_class=2.5)
    with pytest.raises(ValueError, match="must be 1-11"):
        call("heating_load", idx, "NOK", building="EFH", building_class=12)
    with pytest.raises(ValueError, match="t_winter <= t_summer"):
        call("heating_load", idx, "NOK", t_winter=10.0, t_summer=5.0)


# --- spot_price -----------------------------------------------------------------------------


def test_spot_price_annual_mean_and_shape() -> None:
    idx = year_index()
    p = call("spot_price", idx, "NOK", area="NO3")
    published = ANNUAL_ORE_PER_KWH[2023]["NO3"] / 100.0
    assert abs(p.mean() - published) / published < 0.02
    assert p.min() > 0.0
    s = pd.Series(p, index=idx)
    by_hour = s.groupby(idx.hour).mean()
    assert by_hour[8] > by_hour[3] and by_hour[18] > by_hour[3]
    by_month = s.groupby(idx.month).mean()
    assert by_month[1] == pytest.approx(0.6961, rel=1e-9)  # NVE/RME, January 2023
    assert by_month[1] > by_month[7]


def test_spot_price_deterministic_areas_and_currency() -> None:
    idx = year_index()
    a = call("spot_price", idx, "NOK", area="NO3", seed=2)
    assert np.array_equal(a, call("spot_price", idx, "NOK", area="NO3", seed=2))
    assert not np.array_equal(a, call("spot_price", idx, "NOK", area="NO3", seed=3))
    eur = call("spot_price", idx, "EUR", area="NO3", seed=2)
    np.testing.assert_allclose(eur * EUR_NOK_2023, a, rtol=1e-12)
    assert unit_of("spot_price", "EUR") == "EUR/kWh"
    assert unit_of("spot_price", "NOK") == REGISTRY["spot_price"].unit == "NOK/kWh"
    for area, level in ANNUAL_ORE_PER_KWH[2023].items():
        mean = call("spot_price", idx, "NOK", area=area).mean()
        assert mean == pytest.approx(level / 100.0, rel=0.01)


def test_spot_price_currency_must_match_the_design() -> None:
    with pytest.raises(ValueError, match="design currency"):
        call("spot_price", year_index(), "NOK", currency="EUR")
    with pytest.raises(ValueError, match="NOK or EUR"):
        call("spot_price", year_index(), "GBP")


# --- every generator ------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_registry_contract(name: str) -> None:
    gen = REGISTRY[name]
    assert gen.name == name and gen.doc and callable(gen.fn)
    for p in gen.params:
        assert p.kind in {"number", "string", "quantity"}
        assert (p.dimension is not None) == (p.kind == "quantity")
    args = REQUIRED_ARGS.get(name, {})
    # (a suggestion only where there is a `seed` to suggest: month_table has none)
    hint = r".*did you mean `seed`" if gen.param("seed") else ""
    with pytest.raises(ValueError, match=r"unknown parameter `sede`" + hint):
        call(name, year_index(), "NOK", **args, sede=1)
    missing = [p.name for p in gen.params if p.default is REQUIRED]
    if missing:
        with pytest.raises(ValueError, match="missing required parameter"):
            call(name, year_index(), "NOK")
    full = resolve_kwargs(name, "NOK", **args)
    assert set(full) == {p.name for p in gen.params}


@pytest.mark.parametrize("name", sorted(REGISTRY))
@pytest.mark.parametrize(
    "index",
    [
        # a week across the end of daylight saving time (Oct 29, 2023) ...
        pd.date_range("2023-10-25", periods=7 * 24, freq="1h", tz=OSLO),
        # ... and across its start (Mar 26, 2023), at 30 minutes
        pd.date_range("2023-03-23", periods=7 * 48, freq="30min", tz=OSLO),
        pd.date_range("2024-06-01", periods=96, freq="15min", tz="UTC"),
    ],
    ids=["dst-end-hourly", "dst-start-30min", "utc-15min"],
)
def test_every_generator_on_short_indexes(name: str, index: pd.DatetimeIndex) -> None:
    values = call(name, index, "NOK", **REQUIRED_ARGS.get(name, {}))
    assert values.dtype == np.float64
    assert values.shape == (len(index),)
    assert np.all(np.isfinite(values)) and np.all(values >= 0.0)


def test_errors_are_value_errors() -> None:
    with pytest.raises(ValueError, match=r"unknown generator `solr`.*did you mean `solar`"):
        call("solr", year_index(), "NOK")
    with pytest.raises(ValueError, match="must be a string"):
        call("standard_load", year_index(), "NOK", profile=3.0)
    with pytest.raises(ValueError, match="whole number"):
        call("standard_load", year_index(), "NOK", seed=1.5)
    irregular = pd.DatetimeIndex(["2023-01-01 00:00", "2023-01-01 01:00", "2023-01-01 03:00"])
    with pytest.raises(ValueError, match="regular step"):
        call("spot_price", irregular.tz_localize(OSLO), "NOK")


def test_tariff_constants() -> None:
    assert NORWAY_TARIFFS["vat"]["value"] == 0.25
    assert NORWAY_TARIFFS["plusskunde_max_feed_in"]["value"] == 100.0
    assert capacity_step_charge(0.0) < capacity_step_charge(7.5) < capacity_step_charge(120.0)
    assert all("source" in entry for entry in NORWAY_TARIFFS.values())
