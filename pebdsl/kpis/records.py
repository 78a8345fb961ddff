"""The records of scoring: what it reads (`ScoreInput`) and returns (`Scores`), with units.

Input: built by pebdsl.solve (or `Results.rescored`). Output: frozen records; `unit_of(key)`
gives the unit of every KPI and value key (the naming rule docs/kpis.md states), and
`Scores.quantity` a KPI with its unit. Raises nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd

from pebdsl.design import Design


class Tables(Protocol):
    """The time-series tables scoring reads (invert's `Dispatch`, or a `Results`)."""

    @property
    def participants_ts(self) -> pd.DataFrame: ...
    @property
    def batteries_ts(self) -> pd.DataFrame: ...
    @property
    def blocks_ts(self) -> pd.DataFrame: ...
    @property
    def markets_ts(self) -> pd.DataFrame: ...


@dataclass(frozen=True)
class ScoreInput:
    """What scoring reads: the design, its tables, the bills and the objective's split."""

    design: Design
    tables: Tables
    bills: pd.DataFrame | None = None
    objective: float = 0.0  # currency
    shadow_cost: float = 0.0  # currency
    price_rules: Mapping[str, str] = field(default_factory=dict)

    @property
    def total_cost(self) -> float:
        return self.objective - self.shadow_cost


@dataclass(frozen=True)
class Quantity:
    """A KPI value with its unit."""

    value: float | None
    unit: str


@dataclass(frozen=True)
class Scores:
    """KPIs and the reference-free parts of the three values (JSON-ready mappings; the unit
    of each key is `unit_of(key)`, documented in docs/kpis.md)."""

    kpis: Mapping[str, Any]  # {"design", "participants", "blocks", "batteries", "markets"}
    values: Mapping[str, Any]

    def quantity(self, section: str, key: str, entity: str | None = None) -> Quantity:
        """One KPI with its unit: `quantity("design", "grid_import_kwh")`,
        `quantity("participants", "bill", "alice")`."""
        rec = self.kpis[section] if entity is None else self.kpis[section][entity]
        return Quantity(rec[key], unit_of(key, str(self.kpis["design"].get("currency", ""))))


def unit_of(key: str, currency: str = "currency") -> str:
    """The unit of a KPI or value key, by the naming rule every key follows: `_kwh` kWh, `_kw`
    kW, shares/sufficiency/consumption 1, `price` currency/kWh, bills/costs/values/fees the
    currency, cycles 1, `_per_kw_year` currency/kW/year."""
    if key.endswith("_kwh"):
        return "kWh"
    if key.endswith("_kw"):
        return "kW"
    if key.endswith("_per_kw_year"):
        return f"{currency}/kW/year"
    if "price" in key:
        return f"{currency}/kWh"
    if key in ("bill", "value", "fees", "objective") or key.endswith(("_cost", "_bills", "_value")):
        return currency
    return "1"


class Valued(Protocol):
    """A scored solve (a `Results`): its design and the reference-free values."""

    @property
    def design(self) -> Design: ...
    @property
    def values(self) -> Mapping[str, Any]: ...
