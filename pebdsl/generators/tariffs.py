"""Norwegian taxes, levies and a typical DSO tariff as named constants (no generator).

Input: nothing.  Output: constants in NOK (per kWh, per month or per year, excl. VAT unless the
name says otherwise) and `NORWAY_TARIFFS`, a plain dict of the same figures with their source
for the docs and for designs that want realistic defaults.  Each figure is either cited (the
`source` field) or marked "ASSUMPTION".  See docs/data.md.
"""

from __future__ import annotations

from typing import Final

# Consumption tax on electricity (forbruksavgift / elavgift), general rate, NOK/kWh excl. VAT.
# 2023: 9.16 øre Jan-Mar, 15.84 øre Apr-Dec; 2024: 9.51 øre Jan-Mar, 16.44 øre Apr-Dec.
# Sources: Lysna nett price list 2023 (lysna.no), Elvenett (elvenett.no, 15.84 from
# 1 Apr 2023), Norgesnett and Lede (2024 rates); set yearly by the Storting.
CONSUMPTION_TAX_2023_JAN_MAR: Final = 0.0916
CONSUMPTION_TAX_2023_APR_DEC: Final = 0.1584
CONSUMPTION_TAX_2024_JAN_MAR: Final = 0.0951
CONSUMPTION_TAX_2024_APR_DEC: Final = 0.1644
# Reduced rate (industry, data centres > 0.5 MW, ...): 0.546 øre/kWh in 2023 (Lysna nett).
CONSUMPTION_TAX_2023_REDUCED: Final = 0.00546

# Enova levy (påslag til Energifondet): households 1 øre/kWh excl. VAT (1.25 incl. VAT, as
# Tensio's 2024 price page states); businesses 800 NOK per metering point and year
# (Lysna nett 2023; Tensio TS 2021).
ENOVA_LEVY_HOUSEHOLD: Final = 0.01  # NOK/kWh
ENOVA_LEVY_BUSINESS_PER_YEAR: Final = 800.0  # NOK per metering point and year

# VAT (merverdiavgift) 25 %; households in Nordland, Troms and Finnmark (NO4) are exempt
# on electricity (NVE/RME support-scheme notes).
VAT: Final = 0.25
VAT_EXEMPT_AREAS: Final = ("NO4",)

# Plusskunde (prosumer) rules, forskrift om kontroll av nettvirksomhet as amended by
# FOR-2016-04-29-456 (lovdata.no): consumption and production behind one connection with fed-in
# power never above 100 kW; "Plusskunder skal ikke tarifferes andre tariffledd for innmating"
# than the energy term, i.e. no fixed or capacity feed-in charge.  The energy term for feed-in
# (marginal losses) is small; we take it as 0 (ASSUMPTION).
PLUSSKUNDE_MAX_FEED_IN_KW: Final = 100.0
PLUSSKUNDE_FEED_IN_FIXED_CHARGE: Final = 0.0
PLUSSKUNDE_FEED_IN_ENERGY_CHARGE: Final = 0.0  # NOK/kWh, ASSUMPTION

# Tensio TS (DSO for the former Sør-Trøndelag, incl. Trondheim), household tariff from
# 2022-07-01 (in force through 2023): a monthly capacity step chosen by the mean of the three
# highest hourly loads on three different days of the calendar month, plus a day (06-22) and
# night (22-06) energy charge (structure: tensio.no, "Ny nettleie 2022 - ofte stilte
# spørsmål"; "Nettleiepriser for private", 2024).  Levels: a secondary transcription (the
# Homey app no.almli.utilitycost, github.com/balmli, commit 18a9964 of 2022-06-01, unchanged in
# December 2023) of Tensio's prices incl. VAT and levies; excl. VAT, elavgift (15.41 øre in
# Apr-Dec 2022) and Enova (1 øre): day 36.26/1.25 - 16.41 = 12.60, night 28.39/1.25 - 16.41 =
# 6.30 øre/kWh; steps 73/128/219/323/426/530 NOK/month / 1.25.  designs/data/trondheim/README.md.
TENSIO_ENERGY_CHARGE_DAY: Final = 0.126  # NOK/kWh, 06-22, excl. VAT (secondary source)
TENSIO_ENERGY_CHARGE_NIGHT: Final = 0.063  # NOK/kWh, 22-06, excl. VAT (secondary source)
TENSIO_DAY_HOURS: Final = (6, 22)
# (lower kW, upper kW, NOK/month excl. VAT).  0-25 kW: the secondary source above.  Above 25 kW
# (never reached by a flat) ASSUMPTION: Tensio TS's 2024 steps (fri-nettleie, tariffer/
# tensio-ts.yml: 20388/32004/43620/63000 NOK/yr incl. VAT) scaled by the 2023/2024 ratio of
# the 20-25 kW step (530 x 12 / 11868 = 0.536).
TENSIO_CAPACITY_STEPS: Final = (
    (0.0, 2.0, 58.4),
    (2.0, 5.0, 102.4),
    (5.0, 10.0, 175.2),
    (10.0, 15.0, 258.4),
    (15.0, 20.0, 340.8),
    (20.0, 25.0, 424.0),
    (25.0, 50.0, 728.0),
    (50.0, 75.0, 1143.0),
    (75.0, 100.0, 1558.0),
    (100.0, float("inf"), 2251.0),
)
# Business tariff NMT effekt lavspent (Tensio TS, "Nettleiepriser bedrift fra 1. januar 2021";
# the 2023 list was not found: ASSUMPTION that the 2021 figures held in 2023): energy 5.0
# øre/kWh; NOK/kW/month on the month's highest hourly load, by season (winter = November-April)
# and by band of the peak (0-99, 100-399, 400+ kW).
TENSIO_BUSINESS_ENERGY_CHARGE: Final = 0.05  # NOK/kWh excl. VAT
TENSIO_BUSINESS_WINTER_MONTHS: Final = (11, 12, 1, 2, 3, 4)
TENSIO_BUSINESS_CAPACITY: Final = {
    "winter": ((0.0, 100.0, 59.0), (100.0, 400.0, 49.0), (400.0, float("inf"), 39.0)),
    "summer": ((0.0, 100.0, 39.0), (100.0, 400.0, 33.0), (400.0, float("inf"), 27.0)),
}


def capacity_step_charge(peak_kw: float) -> float:
    """Tensio-style monthly capacity charge (NOK excl. VAT) for a mean-of-top-3 peak in kW."""
    for lower, upper, charge in TENSIO_CAPACITY_STEPS:
        if lower <= peak_kw < upper:
            return charge
    raise ValueError(f"peak must be a non-negative number of kW, got {peak_kw}")


NORWAY_TARIFFS: Final[dict[str, dict[str, object]]] = {
    "consumption_tax_2023": {
        "value": {"jan-mar": CONSUMPTION_TAX_2023_JAN_MAR, "apr-dec": CONSUMPTION_TAX_2023_APR_DEC},
        "unit": "NOK/kWh",
        "source": "Lysna nett price list 2023; Elvenett (15.84 øre from 2023-04-01)",
    },
    "consumption_tax_2024": {
        "value": {"jan-mar": CONSUMPTION_TAX_2024_JAN_MAR, "apr-dec": CONSUMPTION_TAX_2024_APR_DEC},
        "unit": "NOK/kWh",
        "source": "Norgesnett and Lede, 'Avgifter 2024'",
    },
    "consumption_tax_2023_reduced": {
        "value": CONSUMPTION_TAX_2023_REDUCED,
        "unit": "NOK/kWh",
        "source": "Lysna nett price list 2023",
    },
    "enova_levy_household": {
        "value": ENOVA_LEVY_HOUSEHOLD,
        "unit": "NOK/kWh",
        "source": "Tensio price page 2024 (1.25 øre/kWh incl. VAT)",
    },
    "enova_levy_business": {
        "value": ENOVA_LEVY_BUSINESS_PER_YEAR,
        "unit": "NOK/year",
        "source": "Lysna nett price list 2023; Tensio TS 2021",
    },
    "vat": {"value": VAT, "unit": "", "source": "25 % general rate; NO4 households exempt"},
    "plusskunde_max_feed_in": {
        "value": PLUSSKUNDE_MAX_FEED_IN_KW,
        "unit": "kW",
        "source": "FOR-2016-04-29-456 (definition of plusskunde)",
    },
    "plusskunde_feed_in_charge": {
        "value": PLUSSKUNDE_FEED_IN_FIXED_CHARGE,
        "unit": "NOK/year",
        "source": "FOR-2016-04-29-456 § 16-2; energy term taken as 0 (ASSUMPTION)",
    },
    "tensio_energy_charge": {
        "value": {"day": TENSIO_ENERGY_CHARGE_DAY, "night": TENSIO_ENERGY_CHARGE_NIGHT},
        "unit": "NOK/kWh",
        "source": "Tensio TS from 2022-07-01 via a secondary transcription (homey-gridprices)",
    },
    "tensio_capacity_steps": {
        "value": TENSIO_CAPACITY_STEPS,
        "unit": "kW, kW, NOK/month",
        "source": "0-25 kW: Tensio TS from 2022-07-01 (homey-gridprices); above: ASSUMPTION",
    },
    "tensio_business_energy_charge": {
        "value": TENSIO_BUSINESS_ENERGY_CHARGE,
        "unit": "NOK/kWh",
        "source": "Tensio TS 2021 business list (NMT); 2023 ASSUMED equal",
    },
    "tensio_business_capacity": {
        "value": TENSIO_BUSINESS_CAPACITY,
        "unit": "kW, kW, NOK/kW/month",
        "source": "Tensio TS 2021 business list (NMT); 2023 ASSUMED equal",
    },
}
