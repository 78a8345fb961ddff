"""The KPI tables of the report: labels and units of every KPI key, design and entity tables.

Input: the nested KPI mappings of `Results.kpis` (design, participants, blocks, batteries).
Output: `KpiRow`s (one per design KPI, with the reference's value) and `KpiTable`s (one per
entity kind and theme, so no table is wider than a page), values formatted for display.
Raises nothing; an unknown key gets a label and unit guessed from its name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pebdsl.present.report.charts import fmt_num
from pebdsl.present.report.common import _num, _pct

# KPI keys → (label, unit kind). Unit kinds: kwh, kw, share, money, price, count, text.
KPI_LABELS: dict[str, tuple[str, str]] = {
    "total_cost": ("total cost (real money)", "money"),
    "shadow_cost": ("shadow cost (not paid)", "money"),
    "objective": ("objective (total cost + shadow cost)", "money"),
    "total_bills": ("sum of participant bills", "money"),
    "bill": ("bill", "money"),
    "demand_kwh": ("demand", "kwh"),
    "generation_kwh": ("generation available", "kwh"),
    "generation_used_kwh": ("generation used", "kwh"),
    "curtailment_kwh": ("curtailment", "kwh"),
    "curtailment_share": ("curtailment share", "share"),
    "grid_import_kwh": ("grid import", "kwh"),
    "grid_export_kwh": ("grid export", "kwh"),
    "import_kwh": ("import at the connection", "kwh"),
    "export_kwh": ("export at the connection", "kwh"),
    "self_sufficiency": ("self-sufficiency", "share"),
    "self_consumption": ("self-consumption", "share"),
    "local_trade_kwh": ("local trade", "kwh"),
    "local_trade_avg_price": ("average local price", "price"),
    "local_bought_kwh": ("bought locally", "kwh"),
    "local_sold_kwh": ("sold locally", "kwh"),
    "local_avg_buy_price": ("average local buy price", "price"),
    "local_avg_sell_price": ("average local sell price", "price"),
    "peak_import_kw": ("peak import", "kw"),
    "peak_export_kw": ("peak export", "kw"),
    "battery_throughput_kwh": ("battery throughput", "kwh"),
    "battery_charge_kwh": ("battery charge", "kwh"),
    "battery_losses_kwh": ("battery losses", "kwh"),
    "battery_cycles": ("equivalent full cycles", "count"),
    "demand_shares.own_generation": ("demand met by own generation", "share"),
    "demand_shares.battery": ("demand met by batteries", "share"),
    "demand_shares.local_trade": ("demand met by local trade", "share"),
    "demand_shares.grid": ("demand met by the grid", "share"),
}


def _unit_of(key: str, value: Any) -> str:
    k = key.split(".")[-1]
    if key in KPI_LABELS:
        return KPI_LABELS[key][1]
    if k.endswith("_kwh"):
        return "kwh"
    if k.endswith("_kw"):
        return "kw"
    if "share" in k or k.endswith("_pct"):
        return "share"
    if "price" in k:
        return "price"
    if k.endswith(("cost", "value", "bill")) or k in {"saving", "saving_trade", "saving_storage"}:
        return "money"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "count"
    return "text"


def _unit_text(kind: str, currency: str) -> str:
    return {
        "kwh": "kWh",
        "kw": "kW",
        "share": "%",
        "money": currency,
        "price": f"{currency}/kWh",
        "count": "",
        "text": "",
    }[kind]


def _fmt_value(kind: str, value: Any) -> str:
    if value is None:
        return "–"
    if kind == "text":
        if isinstance(value, list | tuple):
            return ", ".join(str(v) for v in value)
        return str(value)
    v = _num(value)
    if v is None:
        return "–"
    if kind == "share":
        return _pct(v).replace(" %", "")
    if kind == "money":
        return fmt_num(v, 0 if abs(v) >= 10_000 else 2)
    if kind == "price":
        return fmt_num(v, 4)
    if kind == "kw":
        return fmt_num(v, 2 if abs(v) < 100 else 1 if abs(v) < 1000 else 0)
    return fmt_num(v)


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


@dataclass
class KpiRow:
    """One design KPI as printed: label, unit, value and the reference's value."""

    label: str
    unit: str
    value: str
    ref: str = ""
    key: str = ""


@dataclass
class KpiTable:
    """A table of KPIs: one row per entity, one column per KPI (label, unit, css class)."""

    title: str
    columns: list[tuple[str, str, str]] = field(default_factory=list)
    rows: list[tuple[str, list[str]]] = field(default_factory=list)


def _kpi_label(key: str) -> str:
    if key in KPI_LABELS:
        return KPI_LABELS[key][0]
    k = key
    for suffix in ("_kwh", "_kw"):
        if k.endswith(suffix):
            k = k[: -len(suffix)]
    return k.replace(".", ": ").replace("_", " ")


def _design_kpi_rows(
    kpis: Mapping[str, Any], ref: Mapping[str, Any] | None, currency: str
) -> list[KpiRow]:
    flat = _flatten(kpis)
    ref_flat = _flatten(ref) if ref else {}
    rows = []
    for key, value in flat.items():
        if key == "currency":
            continue
        kind = _unit_of(key, value)
        rows.append(
            KpiRow(
                _kpi_label(key),
                _unit_text(kind, currency),
                _fmt_value(kind, value),
                _fmt_value(kind, ref_flat.get(key)) if ref else "",
                key,
            )
        )
    return rows


# Entity tables are split by theme so that no table is wider than a page.
_GROUPS = (
    ("energy", ("kwh",)),
    ("shares", ("share",)),
    ("money and prices", ("money", "price")),
    ("peaks and batteries", ("kw", "count")),
)


def _entity_tables(
    title: str, entities: Mapping[str, Mapping[str, Any]], currency: str
) -> list[KpiTable]:
    if not entities:
        return []
    flats = {name: _flatten(v) for name, v in entities.items()}
    keys: list[str] = []
    for f in flats.values():
        for k, v in f.items():
            if k not in keys and not isinstance(v, list | tuple):
                keys.append(k)
    kinds = {}
    for k in keys:
        sample = next((f[k] for f in flats.values() if f.get(k) is not None), None)
        kinds[k] = _unit_of(k, sample)
    text_keys = [k for k in keys if kinds[k] == "text"]
    tables = []
    for theme, group in _GROUPS:
        cols = [k for k in keys if kinds[k] in group]
        if not cols:
            continue
        cols = text_keys + cols
        table = KpiTable(
            f"{title}: {theme}",
            [
                (_kpi_label(k), _unit_text(kinds[k], currency), "" if kinds[k] == "text" else "n")
                for k in cols
            ],
        )
        for name, f in flats.items():
            table.rows.append((name, [_fmt_value(kinds[k], f.get(k)) for k in cols]))
        tables.append(table)
    return tables
