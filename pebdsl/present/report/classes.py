"""The report's per-class section: bills, energy, grid charges and VAT per customer class.

Input: `Results` (the design's participants with their `Tariff`, the bills of settlement and
the participants' time series). Output: `class_table(results) -> dict | None`, one row per
customer class (`household`, `business`: a participant without its own tariff is a business
customer on the DSO's tariff, `Participant.tariff`) and a total row, or None when no
participant declares a tariff (every meter is then the DSO's one class) or there are no bills.
Raises nothing.

Each row sums its participants' rows of the bills (`Results.bills`, excl. VAT; VAT is its own
column) and their energy over the horizon:
    meters            the class's participants
    demand            Σ load·Δt (kWh); grid import Σ gi·Δt (kWh)
    energy charges    the DSO's energy term; capacity charges the capacity term
    VAT               the `vat` column (0 for classes that pay none)
    bill              the bills' `total` (what the class pays, VAT included)
    bill per meter    bill / meters; per kWh: bill / demand (currency/kWh)
so the per-class bills add up to `money.total_bills` (the total row shows it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pebdsl.present.report.charts import fmt_num
from pebdsl.present.report.common import _index, _num, _sum

if TYPE_CHECKING:
    from pebdsl.results import Results

DEFAULT_CLASS = "business"  # design.Tariff's default: no tariff = a business customer


def classes_of(results: Results) -> dict[str, list[str]]:
    """Customer class -> its participants, in declaration order (households first)."""
    out: dict[str, list[str]] = {"household": [], DEFAULT_CLASS: []}
    for name, p in results.design.participants.items():
        cls = p.tariff.customer_class if p.tariff is not None else DEFAULT_CLASS
        out.setdefault(cls, []).append(name)
    return {c: members for c, members in out.items() if members}


def _bill_sum(results: Results, members: list[str], column: str) -> float:
    bills = results.bills
    if bills is None or column not in bills.columns:
        return 0.0
    return float(bills.loc[members, column].sum())


def class_figures(results: Results, members: list[str]) -> dict[str, float]:
    """The figures of one class (see the module docstring), unformatted."""
    n = len(_index(results))
    dt = results.design.dt_h
    pts = results.participants_ts
    bill = _bill_sum(results, members, "total")
    demand = float(_sum(pts, members, "load", n).sum() * dt)
    return {
        "meters": float(len(members)),
        "demand_kwh": demand,
        "grid_import_kwh": float(_sum(pts, members, "grid_import", n).sum() * dt),
        "energy_charges": _bill_sum(results, members, "energy_charges"),
        "capacity_charges": _bill_sum(results, members, "capacity_charges"),
        "vat": _bill_sum(results, members, "vat"),
        "bill": bill,
        "bill_per_meter": bill / len(members) if members else 0.0,
        "bill_per_kwh": bill / demand if demand > 1e-9 else float("nan"),
    }


def class_table(results: Results) -> dict[str, Any] | None:
    """The section's table (see the module docstring), or None when it has nothing to show."""
    d = results.design
    if results.bills is None or results.bills.empty:
        return None
    if not any(p.tariff is not None for p in d.participants.values()):
        return None
    cur = d.currency
    columns = [
        ("meters", ""),
        ("demand", "kWh"),
        ("grid import", "kWh"),
        ("energy charges", cur),
        ("capacity charges", cur),
        ("VAT", cur),
        ("bill", cur),
        ("bill per meter", cur),
        ("bill per kWh of demand", f"{cur}/kWh"),
    ]
    groups = classes_of(results)
    rows = []
    for cls, members in [*groups.items(), ("all", [m for ms in groups.values() for m in ms])]:
        f = class_figures(results, members)
        per_kwh = _num(f["bill_per_kwh"])
        rows.append(
            {
                "name": cls,
                "total": cls == "all",
                "cells": [
                    fmt_num(f["meters"]),
                    fmt_num(f["demand_kwh"]),
                    fmt_num(f["grid_import_kwh"]),
                    fmt_num(f["energy_charges"], 2),
                    fmt_num(f["capacity_charges"], 2),
                    fmt_num(f["vat"], 2),
                    fmt_num(f["bill"], 2),
                    fmt_num(f["bill_per_meter"], 2),
                    fmt_num(per_kwh, 4),
                ],
            }
        )
    return {"columns": columns, "rows": rows}
