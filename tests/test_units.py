"""units.py: parsing, dimensions, exact conversions and the E2xx diagnostics."""

from __future__ import annotations

import pytest

from pebdsl import PebdslError
from pebdsl.units import convert, parse_unit


@pytest.mark.parametrize(
    ("value", "unit", "dim", "expected"),
    [
        (45, "EUR/MWh", "price", 0.045),
        (2, "ct/kWh", "price", 0.02),
        (0.30, "EUR/kWh", "price", 0.30),
        (8, "EUR/kW/month", "capacity_charge", 8.0),
        (96, "EUR/kW/year", "capacity_charge", 8.0),
        (120, "EUR/kW/year", "capacity_cost_year", 120.0),
        (10, "EUR/kW/month", "capacity_cost_year", 120.0),
        (500, "W", "power", 0.5),
        (6, "kWp", "power", 6.0),
        (2, "MW", "power", 2000.0),
        (1, "GWh", "energy", 1e6),
        (250, "Wh", "energy", 0.25),
        (30, "min", "time", 0.5),
        (7, "d", "time", 168.0),
        (1, "week", "time", 168.0),
        (1, "year", "time", 8760.0),
        (1, "month", "time", 730.0),
        (95, "%", "ratio", 0.95),
        (35, "deg", "angle", 35.0),
    ],
)
def test_exact_conversions(value: float, unit: str, dim: str, expected: float) -> None:
    assert convert(value, unit, dim) == expected  # exact, not approx


def test_currencies_are_their_own_dimensions() -> None:
    assert convert(10, "øre/kWh", "price", currency="NOK") == 0.1
    assert convert(10, "ore/kWh", "price", currency="NOK") == 0.1
    assert convert(3, "p/kWh", "price", currency="GBP") == 0.03
    with pytest.raises(PebdslError) as e:
        convert(1, "NOK/kWh", "price", currency="EUR")
    assert e.value.codes == ["E204"]


def test_bare_numbers() -> None:
    assert convert(0.5, None, "ratio") == 0.5
    assert convert(63.4, None, "angle") == 63.4
    with pytest.raises(PebdslError) as e:
        convert(1, None, "price", what="fee")
    assert e.value.codes == ["E203"]
    assert "fee needs currency/energy, e.g. 1 ct/kWh" in e.value.render()


def test_wrong_dimension_names_both() -> None:
    with pytest.raises(PebdslError) as e:
        convert(10, "kW", "energy", what="capacity")
    assert e.value.codes == ["E202"]
    assert "capacity needs energy (e.g. 10 kWh), got power (kW)" in e.value.render()


def test_capacity_charge_needs_a_time_unit() -> None:
    with pytest.raises(PebdslError) as e:
        convert(1, "ct/kWh", "capacity_charge")
    assert e.value.codes == ["E202"]


def test_unknown_unit_suggests() -> None:
    with pytest.raises(PebdslError) as e:
        parse_unit("kwh")
    assert e.value.codes == ["E201"] and "did you mean `kWh`?" in e.value.render()
    with pytest.raises(PebdslError) as e:
        parse_unit("EUR/kWH/month")
    assert e.value.codes == ["E201"]


def test_malformed_unit() -> None:
    with pytest.raises(PebdslError) as e:
        parse_unit("kW//h")
    assert e.value.codes == ["E205"]


def test_not_finite() -> None:
    with pytest.raises(PebdslError) as e:
        convert(float("inf"), "kW", "power")
    assert e.value.codes == ["E302"]


def test_snapshot_equals_pint() -> None:
    from pebdsl import units

    for sym in units.SYMBOLS:
        assert units._SNAPSHOT[sym] == units.symbol_base(sym), sym


def test_ore_is_written_either_way_in_a_design(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from pebdsl.load import load

    prices = []
    for unit in ("øre/kWh", "ore/kWh"):
        path = tmp_path / f"{unit[0]}.peb"
        path.write_text(
            'design "x" { currency = NOK }\n'
            "horizon { start = 2021-06-07; duration = 1 d; step = 1 h }\n"
            f"grid {{ buy = 45 {unit} }}\n"
            "participant bob { load { profile = 1 kW } }\n",
            encoding="utf-8",
        )
        prices.append(load(str(path)).grid.buy_per_kwh[0])
    assert prices == [pytest.approx(0.45), pytest.approx(0.45)]
