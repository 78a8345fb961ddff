"""designs/data/trondheim/tariffs_2023.csv: complete, sourced, and equal to the code's constants.

The CSV is the one table of Trondheim's 2023 tariff figures (its README gives the sources and
derivations); `pebdsl/generators/tariffs.py` holds the same figures as constants. A figure
changed in one place and not the other fails here.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from pebdsl.generators import tariffs as T

DATA = Path(__file__).resolve().parents[1] / "designs" / "data" / "trondheim"
STATUSES = ("cited", "secondary", "assumption")


def rows() -> dict[str, dict[str, str]]:
    with (DATA / "tariffs_2023.csv").open(encoding="utf-8") as f:
        return {r["key"]: r for r in csv.DictReader(f)}


def value(key: str) -> float:
    return float(rows()[key]["value"])


def test_every_row_has_a_status_and_a_source() -> None:
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    for key, r in rows().items():
        assert r["status"].startswith(STATUSES), key
        if r["status"] != "assumption":
            # every source key named in a row is listed in the README's source table
            for src in r["source"].split(";"):
                name = src.strip().split(" ")[0]
                if name not in ("data.md", "-"):
                    assert f"| {name} |" in readme, (key, name)


def test_taxes_match_the_constants() -> None:
    assert value("elavgift_jan_mar") / 100 == pytest.approx(T.CONSUMPTION_TAX_2023_JAN_MAR)
    assert value("elavgift_apr_dec") / 100 == pytest.approx(T.CONSUMPTION_TAX_2023_APR_DEC)
    assert value("vat") / 100 == pytest.approx(T.VAT)
    assert value("enova_household") / 100 == pytest.approx(T.ENOVA_LEVY_HOUSEHOLD)
    assert value("enova_business") == pytest.approx(T.ENOVA_LEVY_BUSINESS_PER_YEAR)


def test_household_tariff_matches_the_constants_and_its_derivation() -> None:
    """Incl. VAT and levies (36.26 / 28.39 øre) less 16.41 øre of 2022 taxes, over 1.25."""
    assert value("tensio_h_energy_day") / 100 == pytest.approx(T.TENSIO_ENERGY_CHARGE_DAY)
    assert value("tensio_h_energy_night") / 100 == pytest.approx(T.TENSIO_ENERGY_CHARGE_NIGHT)
    day, night = 36.26 / 1.25 - 15.41 - 1.0, 28.39 / 1.25 - 15.41 - 1.0
    assert day == pytest.approx(12.6, abs=0.005)
    assert night == pytest.approx(6.3, abs=0.005)
    incl_vat = (73, 128, 219, 323, 426, 530)
    keys = ("0_2", "2_5", "5_10", "10_15", "15_20", "20_25")
    for k, gross, (lo, hi, net) in zip(keys, incl_vat, T.TENSIO_CAPACITY_STEPS, strict=False):
        assert value(f"tensio_h_cap_{k}") == pytest.approx(net) == pytest.approx(gross / 1.25)
        assert f"{lo:g}_{hi:g}" == k


def test_business_tariff_matches_the_constants() -> None:
    assert value("tensio_b_energy") / 100 == pytest.approx(T.TENSIO_BUSINESS_ENERGY_CHARGE)
    for season in ("winter", "summer"):
        for lo, _hi, price in T.TENSIO_BUSINESS_CAPACITY[season]:
            band = {0.0: "0_99", 100.0: "100_399", 400.0: "400"}[lo]
            assert value(f"tensio_b_cap_{season}_{band}") == price


def test_capacity_step_charge_uses_the_2023_steps() -> None:
    """A flat whose top-3 mean is 7.5 kW sits in the 5-10 kW step: 219 NOK incl. VAT / 1.25."""
    assert T.capacity_step_charge(7.5) == pytest.approx(175.2)
    assert T.capacity_step_charge(2.0) == pytest.approx(102.4)  # a step's lower bound is in it
