"""Results as data for other tools: units of every quantity, KPI frames, xarray and netCDF.

Input: a `Results` (results.py calls these from its methods; typed `Any` here, as results.py
imports this module: no cycle). Output:
- `quantity_unit(quantity, currency)`: the unit of a time-series quantity (docstring of
  results.py: powers kW, `soc` kWh, prices currency/kWh, market fees currency/h);
- `kpi_frame(kpis, currency)`, `values_frame(values, currency)`: the KPIs and the three
  values as long DataFrames with a unit column (numbers only);
- `to_xarray(results)`: an `xarray.Dataset` with one variable per (table, quantity),
  `participant_load`, `market_price`, …, of dims (time, participant|battery|block|market|
  link); the bills as `bill` (party x bill_item); the design-level KPIs as 0-d `kpi_<key>`
  variables. Every variable carries CF `units` and `long_name`; the time coordinate holds the
  step starts in UTC (CF-encoded on write), its `timezone` attribute the horizon's zone; the
  dataset's attributes hold the provenance (design title and hash, data hash, variant, status,
  objective, backend, solver, pebdsl version, `Conventions = CF-1.10`);
- `to_netcdf(results, path)`: that dataset written with h5netcdf (netCDF4/HDF5) when
  installed, else scipy's netCDF3 writer (scipy is a core dependency).
Errors: E905 (as a `PebdslError`) when xarray is not installed (`pip install
'pebdsl[xarray]'`); OSError when the file cannot be written.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pebdsl.diagnostics import PebdslError, error
from pebdsl.kpis import unit_of

__all__ = [
    "TABLE_DIMS",
    "kpi_frame",
    "quantity_unit",
    "to_netcdf",
    "to_xarray",
    "values_frame",
]

# table attribute of Results -> the entity dimension of its variables
TABLE_DIMS = {
    "participants_ts": "participant",
    "batteries_ts": "battery",
    "blocks_ts": "block",
    "markets_ts": "market",
    "links_ts": "link",
}
_KWH = frozenset({"soc"})
_PRICE = frozenset({"price", "flexibility_price"})
_PER_HOUR = frozenset({"fees"})


def quantity_unit(quantity: str, currency: str) -> str:
    """The unit of a time-series quantity (results.py's docstring lists them)."""
    if quantity in _KWH:
        return "kWh"
    if quantity in _PRICE:
        return f"{currency}/kWh"
    if quantity in _PER_HOUR:
        return f"{currency}/h"
    return "kW"


def _number(v: Any) -> bool:
    return v is None or (isinstance(v, int | float | np.number) and not isinstance(v, bool))


def kpi_frame(kpis: Mapping[str, Any], currency: str) -> pd.DataFrame:
    """KPIs (`Results.kpis`: design, participants, blocks, batteries, markets) as rows of
    scope, entity, key, value, unit (docs/kpis.md's units). Nested shares are keys
    `demand_shares.grid`; text and lists (a participant's block) are left out."""
    rows: list[tuple[str, str | None, str, float | None, str]] = []

    def walk(scope: str, entity: str | None, rec: Mapping[str, Any]) -> None:
        for key, v in rec.items():
            unit = unit_of(key, currency)
            parts = v.items() if isinstance(v, Mapping) else [(None, v)]
            for sub, x in parts:
                if _number(x):
                    name = key if sub is None else f"{key}.{sub}"
                    rows.append((scope, entity, name, None if x is None else float(x), unit))

    for scope, rec in kpis.items():
        if scope == "design":
            walk(scope, None, rec)
        else:
            for entity, r in rec.items():
                walk(scope, str(entity), r)
    return pd.DataFrame(rows, columns=["scope", "entity", "key", "value", "unit"])


def values_frame(values: Mapping[str, Any], currency: str) -> pd.DataFrame:
    """The three values (`Results.values`) as rows of key, entity (a block, `all`, or None),
    value, unit; text entries are left out."""
    rows: list[tuple[str, str | None, float | None, str]] = []
    for key, v in values.items():
        unit = unit_of(key, currency)
        for entity, x in v.items() if isinstance(v, Mapping) else [(None, v)]:
            if _number(x):
                rows.append((key, entity, None if x is None else float(x), unit))
    return pd.DataFrame(rows, columns=["key", "entity", "value", "unit"])


def _xarray() -> Any:
    try:
        import xarray as xr
    except ImportError:
        raise PebdslError(
            error(
                "E905",
                "Results.to_xarray() and to_netcdf() need xarray, which is not installed",
                hints=("pip install 'pebdsl[xarray]'",),
            )
        ) from None
    return xr


def _version() -> str:
    try:
        return metadata.version("pebdsl")
    except metadata.PackageNotFoundError:  # a source tree that is not installed
        return "unknown"


def to_xarray(results: Any) -> Any:
    """The results as an `xarray.Dataset` (see the module docstring)."""
    xr = _xarray()
    d = results.design
    cur = d.currency
    utc = d.time.index.tz_convert("UTC").tz_localize(None)
    coords: dict[str, Any] = {
        "time": (
            "time",
            utc.to_numpy(dtype="datetime64[ns]"),
            {
                "standard_name": "time",
                "long_name": "start of step (UTC)",
                "timezone": d.time.timezone,
                "step_h": d.time.step_h,
            },
        )
    }
    data: dict[str, Any] = {}
    for table, dim in TABLE_DIMS.items():
        ts: pd.DataFrame = getattr(results, table)
        if ts.shape[1] == 0:
            continue
        entities = list(dict.fromkeys(ts.columns.get_level_values(0)))
        coords[dim] = (dim, np.asarray(entities, dtype=str))
        for q in dict.fromkeys(ts.columns.get_level_values(1)):
            block = ts.xs(q, axis=1, level=1).reindex(columns=entities)
            data[f"{dim}_{q}"] = (
                ("time", dim),
                block.to_numpy(dtype=np.float64, na_value=np.nan),
                {"units": quantity_unit(q, cur), "long_name": f"{dim} {q.replace('_', ' ')}"},
            )
    bills = results.bills
    if bills is not None:
        coords["party"] = ("party", np.asarray([str(i) for i in bills.index], dtype=str))
        coords["bill_item"] = ("bill_item", np.asarray([str(c) for c in bills.columns], dtype=str))
        data["bill"] = (
            ("party", "bill_item"),
            bills.to_numpy(dtype=np.float64),
            {"units": cur, "long_name": "bill over the horizon (positive: pays)"},
        )
    for key, v in results.kpis.get("design", {}).items():
        if isinstance(v, int | float) and not isinstance(v, bool):
            data[f"kpi_{key}"] = ((), float(v), {"units": unit_of(key, cur), "long_name": key})
    attrs = {
        "Conventions": "CF-1.10",
        "title": d.title,
        "source": f"pebdsl {_version()}",
        "design_hash": d.digest(),
        "data_hash": d.data_digest,
        "variant": d.variant or "",
        "currency": cur,
        "status": str(results.status),
        "objective": float(results.objective),
        "total_cost": float(results.total_cost),
        "backend": results.backend,
        "solver": results.solver,
    }
    return xr.Dataset(data_vars=data, coords=coords, attrs=attrs)


def to_netcdf(results: Any, path: str | Path, engine: str | None = None) -> str:
    """Write `to_xarray(results)` to `path`; returns the engine used (`engine`, else
    h5netcdf when installed, else scipy)."""
    ds = to_xarray(results)
    if engine is None:
        engine = "h5netcdf" if importlib.util.find_spec("h5netcdf") is not None else "scipy"
    encoding = {"time": {"units": "hours since 1970-01-01", "dtype": "float64"}}
    if engine == "scipy":  # netCDF3 has no 64-bit integers and no variable-length strings
        for name in ds.coords:
            if ds[name].dtype.kind == "U":
                encoding[str(name)] = {"dtype": "S1"}
    ds.to_netcdf(path, engine=engine, encoding=encoding)
    return engine
