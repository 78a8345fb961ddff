"""`ev_plugged`: the share of a commuter fleet plugged in (pebdsl/generators/ev.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pebdsl.generators import call

OSLO = "Europe/Oslo"


def week(start: str = "2023-01-30", freq: str = "1h") -> pd.DatetimeIndex:
    # 2023-01-30 is a Monday: five working days, then a weekend
    return pd.date_range(start, periods=7 * 24, freq=freq, tz=OSLO)


def test_no_spread_is_exactly_the_working_day() -> None:
    """With spread 0 and no weekend cars every car is plugged in from 08 to 16 on working days.

    Hand-derived: 8 steps of share 1 per working day (08:00 ... 15:00 starts), 0 otherwise;
    the week holds 5 working days, so the shares sum to 40 step-shares."""
    idx = week()
    v = call("ev_plugged", idx, "NOK", cars=4, spread=0.0, weekend=0.0)
    day = v.reshape(7, 24)
    expected = np.zeros(24)
    expected[8:16] = 1.0
    for d in range(5):
        assert np.array_equal(day[d], expected)
    assert np.all(day[5:] == 0.0)
    assert v.sum() == 40.0


def test_half_hour_arrival_is_averaged_over_the_hour() -> None:
    """Arrival at 08:30 and departure 16:30: the 08:00 and 16:00 steps hold the car half the time.

    Hand-derived: share 0.5 at 08, 1 from 09 to 15, 0.5 at 16."""
    v = call("ev_plugged", week(), "NOK", cars=1, arrive=8.5, depart=16.5, spread=0.0, weekend=0.0)
    day = v.reshape(7, 24)[0]
    assert day[8] == 0.5 and day[16] == 0.5
    assert np.all(day[9:16] == 1.0) and day[:8].sum() == 0.0 and day[17:].sum() == 0.0


def test_shares_are_whole_cars_and_seeded() -> None:
    idx = week()
    fine = pd.date_range("2023-01-30", periods=7 * 96, freq="15min", tz=OSLO)
    a = call("ev_plugged", fine, "NOK", cars=20, seed=3)
    # on the generator's own 15-minute grid every value is a whole number of cars
    assert np.allclose(a * 20, np.round(a * 20))
    s3, s4 = (call("ev_plugged", idx, "NOK", seed=s) for s in (3, 4))
    assert np.array_equal(s3, call("ev_plugged", idx, "NOK", seed=3))
    assert not np.array_equal(s3, s4)
    assert np.all((a >= 0.0) & (a <= 1.0))


def test_weekend_probability_over_a_year() -> None:
    """A weekend day holds `weekend` times a working day's car-hours, on average over a year."""
    idx = pd.date_range("2023-01-01", periods=365 * 24, freq="1h", tz=OSLO)
    v = call("ev_plugged", idx, "NOK", cars=20, weekend=0.2, seed=5)
    days = pd.Series(v, index=idx).resample("D").sum()
    off = days.index.dayofweek >= 5
    ratio = days[off].mean() / days[~off].mean()
    assert 0.15 < ratio < 0.25, ratio


def test_daylight_saving_follows_the_wall_clock() -> None:
    """Summer time starts on 2023-03-26 (Sunday): Monday's cars still arrive at 08 local time."""
    idx = pd.date_range("2023-03-27", periods=24, freq="1h", tz=OSLO)
    v = call("ev_plugged", idx, "NOK", cars=1, spread=0.0, weekend=0.0)
    assert v[8] == 1.0 and v[7] == 0.0 and v[15] == 1.0 and v[16] == 0.0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"cars": 0}, "at least 1"),
        ({"cars": 2.5}, "whole number"),
        ({"arrive": 25.0}, "0..24"),
        ({"arrive": 17.0, "depart": 9.0}, "after arrive"),
        ({"weekend": 1.5}, "probability"),
        ({"spread": -1.0}, "standard deviation"),
    ],
)
def test_bad_arguments(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call("ev_plugged", week(), "NOK", **kwargs)
