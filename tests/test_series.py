"""resolve/series.py (with csvread, csvalign, calls): inline lists, `daily` on the local clock
(DST), CSV reading, arithmetic with units, references and cycles, generators; each E4xx case."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pebdsl import PebdslError
from pebdsl.front.parser import parse
from pebdsl.resolve import resolve
from pebdsl.resolve.csvread import _CSV_CACHE


def design(horizon: str, extra: str, load: str = "1 kW", path: str = "d.peb") -> str:
    return (
        f'design "t" {{ currency = EUR }}\nhorizon {{ {horizon} }}\n'
        f"grid {{ buy = 0.3 EUR/kWh }}\n{extra}\n"
        f"participant a {{ load {{ profile = {load} }} }}\n"
    )


def load_of(text: str, path: str = "d.peb") -> np.ndarray:
    d = resolve(parse(text, path))
    lp = d.participants["a"].load
    assert lp is not None
    return lp.profile_kw


def codes(text: str, path: str = "d.peb") -> list[str]:
    with pytest.raises(PebdslError) as e:
        resolve(parse(text, path))
    return e.value.codes


HOURS = ", ".join(str(i) for i in range(24))


def test_daily_follows_local_clock_on_dst_days() -> None:
    # 2021-03-28 (spring, 23 h) and 2021-10-31 (autumn, 25 h) in Oslo.
    spring = load_of(
        design(
            'start = 2021-03-28; end = 2021-03-29; step = 1 h; timezone = "Europe/Oslo"',
            f"series s = daily [{HOURS}] kW",
            "s",
        )
    )
    assert len(spring) == 23
    assert list(spring[:3]) == [0, 1, 3]  # 02:00 does not exist: its value is skipped
    autumn = load_of(
        design(
            'start = 2021-10-31; end = 2021-11-01; step = 1 h; timezone = "Europe/Oslo"',
            f"series s = daily [{HOURS}] kW",
            "s",
        )
    )
    assert len(autumn) == 25
    assert list(autumn[:5]) == [0, 1, 2, 2, 3]  # the repeated 02:00 repeats its value
    assert autumn[-1] == 23


def test_daily_needs_a_day_of_values() -> None:
    assert codes(
        design("start = 2021-06-07; duration = 1 d; step = 1 h", "series s = daily [1, 2] kW", "s")
    ) == ["E401"]
    assert codes(
        design("start = 2021-06-07; duration = 2 d; step = 2 d", "series s = daily [1] kW", "s")
    ) == ["E303"]


def test_arithmetic_units_and_references() -> None:
    v = load_of(
        design(
            "start = 2021-06-07; duration = 4 h; step = 1 h",
            "series sa = [1, 2, 3, 4] kW\nseries sb = (sa + 500 W) * 2 - sa / 2",
            "sb",
        )
    )
    assert list(v) == [2.5, 4.0, 5.5, 7.0]
    assert codes(
        design("start = 2021-06-07; duration = 4 h; step = 1 h", "series sa = 1 kW + 1 kWh", "sa")
    ) == ["E202"]
    assert codes(
        design(
            "start = 2021-06-07; duration = 4 h; step = 1 h", "series sa = sb\nseries sb = sa", "sa"
        )
    ) == ["E106"]
    c = codes(design("start = 2021-06-07; duration = 4 h; step = 1 h", "series sa = 1 kW", "sab"))
    assert c == ["E101"]
    assert codes(design("start = 2021-06-07; duration = 4 h; step = 1 h", "", "1 kW / 0")) == [
        "E408"
    ]


def _write_csv(path: Path, index: pd.DatetimeIndex, **cols: list[object]) -> None:
    frame = pd.DataFrame({"time": [t.isoformat() for t in index], **cols})
    frame.to_csv(path, index=False)


def test_csv_same_resolution_and_cache(tmp_path: Path) -> None:
    idx = pd.date_range("2021-06-06T22:00Z", periods=48, freq="1h")
    _write_csv(tmp_path / "data.csv", idx, H5=[float(i) for i in range(48)], H6=[1.0] * 48)
    _CSV_CACHE.clear()
    text = design(
        'start = 2021-06-07; duration = 1 d; step = 1 h; timezone = "Europe/Oslo"',
        'series s = csv("data.csv", column = "H5", unit = W) * 1000\n'
        'series t = csv("data.csv", column = "H6", unit = kW)',
        "s + t",
    )
    d = resolve(parse(text, str(tmp_path / "d.peb")))
    lp = d.participants["a"].load
    assert lp is not None
    assert list(lp.profile_kw[:3]) == [1.0, 2.0, 3.0]  # local midnight = 22:00Z, row 0
    assert len(_CSV_CACHE) == 1  # one parse for two columns
    assert d.data_digest and len(d.data_digest) == 64


def test_csv_errors(tmp_path: Path) -> None:
    idx = pd.date_range("2021-06-07T00:00Z", periods=12, freq="1h")
    _write_csv(tmp_path / "short.csv", idx, x=[1.0] * 12)
    _write_csv(tmp_path / "gaps.csv", idx, x=[1.0, "", *[1.0] * 10])
    fine = pd.date_range("2021-06-07T00:00Z", periods=48, freq="30min")
    _write_csv(tmp_path / "fine.csv", fine, x=[float(i % 2) for i in range(48)])
    p = str(tmp_path / "d.peb")
    h = "start = 2021-06-07; duration = 1 d; step = 1 h"
    assert codes(design(h, 'series s = csv("nope.csv", column = "x", unit = kW)', "s"), p) == [
        "E402"
    ]
    assert codes(design(h, 'series s = csv("short.csv", column = "y", unit = kW)', "s"), p) == [
        "E403"
    ]
    assert codes(design(h, 'series s = csv("short.csv", column = "x", unit = kW)', "s"), p) == [
        "E404"
    ]
    assert codes(design(h, 'series s = csv("fine.csv", column = "x", unit = kW)', "s"), p) == [
        "E404"
    ]
    h6 = "start = 2021-06-07; duration = 6 h; step = 1 h"
    assert codes(design(h6, 'series s = csv("gaps.csv", column = "x", unit = kW)', "s"), p) == [
        "E405"
    ]
    v = load_of(
        design(h6, 'series s = csv("gaps.csv", column = "x", unit = kW, missing = 0)', "s"), p
    )
    assert list(v) == [1, 0, 1, 1, 1, 1]
    v = load_of(design(h, 'series s = csv("fine.csv", x, kW, resample = true)', "s"), p)
    assert np.allclose(v, 0.5)  # 30-min rows averaged


def test_csv_coarser_rows_repeat_and_local_timestamps(tmp_path: Path) -> None:
    (tmp_path / "daily.csv").write_text("time,x\n2021-10-30,1\n2021-10-31,2\n2021-11-01,3\n")
    p = str(tmp_path / "d.peb")
    v = load_of(
        design(
            'start = 2021-10-31; end = 2021-11-01; step = 1 h; timezone = "Europe/Oslo"',
            'series s = csv("daily.csv", column = "x", unit = kW, resample = true)',
            "s",
        ),
        p,
    )
    assert len(v) == 25 and np.all(v == 2)
    # local hourly timestamps across the autumn change: the repeated hour comes twice, in order
    local = pd.date_range("2021-10-31", periods=25, freq="1h", tz="Europe/Oslo")
    rows = "\n".join(f"{t.tz_localize(None).isoformat()},{i}" for i, t in enumerate(local))
    (tmp_path / "local.csv").write_text("time,x\n" + rows + "\n")
    v = load_of(
        design(
            'start = 2021-10-31; end = 2021-11-01; step = 1 h; timezone = "Europe/Oslo"',
            'series s = csv("local.csv", column = "x", unit = kW)',
            "s",
        ),
        p,
    )
    assert list(v) == list(range(25))


def test_generators_and_annual_scaling() -> None:
    text = design(
        'start = 2021-06-07; duration = 7 d; step = 1 h; timezone = "Europe/Oslo"', "", "1 kW"
    )
    text = text.replace(
        "load { profile = 1 kW }", 'load { profile = standard_load("H0"); annual = 120 MWh }'
    )
    text += 'participant b { load { profile = standard_load("H0", annual = 120 MWh) } }\n'
    d = resolve(parse(text, "g.peb"))
    a = d.participants["a"].load
    b = d.participants["b"].load
    assert a is not None and b is not None
    assert np.allclose(a.profile_kw, b.profile_kw)  # annual scales the 1 MWh/yr profile x 120
    assert codes(text.replace('standard_load("H0")', 'standard_load("H0", anual = 1 MWh)')) == [
        "E407"
    ]
    assert codes(text.replace('standard_load("H0")', 'standrd_load("H0")')) == ["E101"]


def test_heating_load_in_a_design() -> None:
    # Appliances and heating side by side: the sum of two generators, each normalised to its
    # own `annual`; `annual` on the load scales a lone generator's 1 MWh/yr as for standard_load.
    text = design(
        'start = 2023-01-09; duration = 7 d; step = 1 h; timezone = "Europe/Oslo"', "", "1 kW"
    )
    text = text.replace(
        "load { profile = 1 kW }", 'load { profile = heating_load("GKO"); annual = 50 MWh }'
    )
    text += (
        'participant b { load { profile = heating_load("GKO", annual = 50 MWh) } }\n'
        'participant c { load { profile = standard_load("H0", annual = 4 MWh, seed = 7)'
        ' + heating_load("MFH", annual = 5 MWh, seed = 1) } }\n'
    )
    d = resolve(parse(text, "h.peb"))
    a, b, c = (d.participants[p].load for p in "abc")
    assert a is not None and b is not None and c is not None
    np.testing.assert_allclose(a.profile_kw, b.profile_kw)
    # A January week of a 50 MWh/yr office heating load is well above 50 MWh x 7/365.
    assert a.profile_kw.sum() > 1.3 * 50_000 * 7 / 365
    assert np.all(c.profile_kw > 0)
    assert codes(text.replace('heating_load("GKO")', 'heating_load("XYZ")')) == ["E407"]


def test_generator_in_foreign_currency(monkeypatch: pytest.MonkeyPatch) -> None:
    from pebdsl import generators
    from pebdsl.generators.base import Generator

    fake = Generator("fake_price", (), "NOK/kWh", lambda index: np.ones(len(index)), "test")
    monkeypatch.setitem(generators.REGISTRY, "fake_price", fake)
    text = design("start = 2021-06-07; duration = 4 h; step = 1 h", "", "1 kW")
    text = text.replace("buy = 0.3 EUR/kWh", "buy = fake_price()")
    assert codes(text) == ["E204"]
