"""Machine-readable output of one solve: results.json, CSV and Parquet tables, report.html.

Input: a scored `Results` (pebdsl.results).
Output:
- `results_json(results) -> dict`: the results.json contract of ARCHITECTURE.md and
  docs/dev/contracts.md, JSON-safe (NaN and inf become null, numpy scalars become floats; full
  float precision is kept: rounding belongs to whoever displays the numbers).
- `write_outputs(results, out_dir, command="")`: writes into `out_dir`, as one set
    results.json                          the dict above
    participants.csv batteries.csv        time series in tidy (long) form: columns
    blocks.csv markets.csv links.csv        time, entity, quantity, value, unit (time = step
                                            start, ISO 8601 with offset); one row per value
    bills.csv                             one row per participant / operator, currency columns
    trades_<market>.csv                   seller x buyer, kWh received over the horizon
    *.parquet                             the same tables (Parquet, same columns; with
                                            `csv=False` the only copy: no *.csv written);
                                            a table of more than CSV_MAX_ROWS rows (a big
                                            design's time series) is Parquet only; the
                                            numeric fields of bills and trades carry their
                                            unit as field metadata `unit`
    report.html                           pebdsl.present.report.render_report(results, command=...)
  into a temporary sibling folder that then replaces `out_dir` whole (`fsutil.replace_dir`):
  a crash or kill leaves the previous run or this one, never half a file or a mix of runs,
  and no file of an earlier run survives. `write_into(results, folder, …)` writes the same
  files into a folder without that (for callers that stage a larger tree, as compare does).
- `repr_html(results) -> str`: a compact HTML summary for notebooks (`Results._repr_html_`).
Raises OSError when a file cannot be written, PebdslError E902 when `out_dir` is a file or a
folder of other files (fsutil); nothing else.

Tidy rather than wide tables: one format for every table, no multi-row headers, and it loads
straight into pandas (`pivot`), R or a spreadsheet filter. Parquet keeps the size small for
long horizons.
"""

from __future__ import annotations

import html
import io
import logging
import math
import platform
import time
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pebdsl.exchange import quantity_unit
from pebdsl.fsutil import atomic_write_bytes, atomic_write_text, replace_dir

if TYPE_CHECKING:
    from pebdsl.results import Results

TABLES = ("participants", "batteries", "blocks", "markets", "links")
# A tidy table longer than this is written as Parquet only: as CSV it would be slow to write and
# read and ~10x the size (100 participants x a year: ~18 M rows of participants.csv).
CSV_MAX_ROWS = 2_000_000
# The packages that shape a result: the solver stack and the generator libraries (a
# `solar()` or `standard_load()` profile changes with pvlib, demandlib, holidays or scipy).
VERSION_PACKAGES = (
    "pebdsl",
    "numpy",
    "pandas",
    "highspy",
    "pyomo",
    "lark",
    "pvlib",
    "demandlib",
    "holidays",
    "scipy",
)

# The participant energy fields of the contract, taken from the participant KPIs.
_ENERGY_KEYS = (
    "grid_import_kwh",
    "grid_export_kwh",
    "local_bought_kwh",
    "local_sold_kwh",
    "demand_kwh",
    "generation_kwh",
    "generation_used_kwh",
    "curtailment_kwh",
    "battery_throughput_kwh",
)


# --- JSON -------------------------------------------------------------------------------------


def jsonable(x: Any) -> Any:
    """A JSON-safe copy: NaN/inf -> None, numpy -> Python, tuples -> lists, keys -> str."""
    if x is None or isinstance(x, bool | str | int):
        return x
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, np.bool_):
        return bool(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return jsonable(float(x))
    if isinstance(x, Mapping):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple | set | frozenset):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return [jsonable(v) for v in x.tolist()]
    if isinstance(x, pd.Timestamp | datetime | date):
        return x.isoformat()
    return str(x)


def versions() -> dict[str, str | None]:
    """Versions of Python and the packages that shape a result (from metadata: no imports)."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for pkg in VERSION_PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def results_json(results: Results) -> dict[str, Any]:
    """The results.json document of one solve (see the module docstring)."""
    d = results.design
    k = results.kpis
    bills = results.bills
    participants: dict[str, Any] = {}
    for name, pk in k.get("participants", {}).items():
        bill: dict[str, Any] = {"total": pk.get("bill")}
        if bills is not None and name in bills.index:
            bill = {str(c): v for c, v in bills.loc[name].items()}
        participants[name] = {
            "block": pk.get("block"),
            "bill": bill,
            "energy": {key: pk.get(key, 0.0) for key in _ENERGY_KEYS},
            "kpis": {key: v for key, v in pk.items() if key not in (*_ENERGY_KEYS, "block")},
        }
    operators: dict[str, Any] = {}
    if bills is not None:
        for name in bills.index:
            if str(name) not in participants:
                operators[str(name)] = {str(c): v for c, v in bills.loc[name].items()}
    files = [s.path for s in d.sources]
    doc = {
        "status": results.status,
        "objective": {"value": results.objective, "unit": d.currency},
        # Real money (the objective without shadow terms) and the shadow terms (docs/kpis.md).
        "total_cost": {"value": results.total_cost, "unit": d.currency},
        "shadow_cost": {"value": results.shadow_cost, "unit": d.currency},
        "design": {
            "title": d.title,
            "file": files[0] if files else None,
            "files": files,
            "description": d.description,
            "hash": d.digest(),
            "reference": d.reference,
            # The text solved, so `pebdsl.read_results` can rebuild the Design (present/reload.py).
            "source": d.sources[0].text if d.sources else None,
            "edits": list(d.edits),  # `--set` edits on top: read_results applies them again
        },
        "variant": d.variant,
        "currency": d.currency,
        "horizon": {
            "start": d.time.index[0].isoformat() if d.n_steps else None,
            "step_h": d.time.step_h,
            "n_steps": d.n_steps,
            "duration_h": d.time.duration_h,
            "timezone": d.time.timezone,
        },
        "participants": participants,
        "operators": operators,
        "blocks": k.get("blocks", {}),
        "markets": k.get("markets", {}),
        "batteries": k.get("batteries", {}),
        "kpis": k.get("design", {}),
        "values": results.values,
        "money": results.money,
        # Sizes the LP chose (`invest(...)`): path -> {value, unit, cost over the horizon}.
        "investments": results.investments,
        "notes": results.notes,
        "model": {
            "variables": results.model_stats.get("variables"),
            "constraints": results.model_stats.get("constraints"),
            "nonzeros": results.model_stats.get("nonzeros"),
            **{
                key: v
                for key, v in results.model_stats.items()
                if key not in ("variables", "constraints", "nonzeros")
            },
        },
        "backend": results.backend,
        "solver": results.solver,
        "timings": results.timings,
        "versions": versions(),
        "hash": d.digest(),
    }
    if results.aggregation is not None:  # `--aggregate`: the whole horizon's figures
        doc["aggregation"] = dict(results.aggregation)
    out = jsonable(doc)
    assert isinstance(out, dict)
    return out


# --- tables -----------------------------------------------------------------------------------


def tidy(ts: pd.DataFrame, currency: str | None = None) -> pd.DataFrame:
    """A (entity, quantity)-column time-series frame as rows of time, entity, quantity, value
    and, given the design's currency, unit (`exchange.quantity_unit`)."""
    unit = [] if currency is None else ["unit"]
    if ts.shape[1] == 0 or len(ts.index) == 0:
        return pd.DataFrame({k: [] for k in ("time", "entity", "quantity", "value", *unit)})
    cols = ts.columns
    entities = np.asarray(cols.get_level_values(0), dtype=object)
    quantities = np.asarray(cols.get_level_values(1), dtype=object)
    n_t, n_c = ts.shape
    # Vectorised melt: row-major order (time, then column), as pandas' stack would give.
    out = pd.DataFrame(
        {
            "time": ts.index.repeat(n_c),  # keeps the timezone
            "entity": np.tile(entities, n_t),
            "quantity": np.tile(quantities, n_t),
            "value": ts.to_numpy(dtype=float, na_value=np.nan).reshape(-1),
        }
    )
    if currency is not None:
        units = np.asarray([quantity_unit(str(q), currency) for q in quantities], dtype=object)
        out["unit"] = np.tile(units, n_t)
    return out


def tables(results: Results) -> dict[str, pd.DataFrame]:
    """Every output table by file stem (participants, …, bills, trades_<market>)."""
    return dict(each_table(results))


def each_table(results: Results) -> Iterator[tuple[str, pd.DataFrame]]:
    """The tables of `tables`, made one at a time (a writer holds one tidy table at once)."""
    cur = results.design.currency
    for name in TABLES:
        yield name, tidy(getattr(results, f"{name}_ts"), cur)
    if results.bills is not None:
        bills = results.bills.copy()
        bills.index.name = "name"
        table = bills.reset_index()
        table.attrs["unit"] = cur  # every column but `name`: Parquet field metadata
        yield "bills", table
    for market, matrix in results.trades.items():
        m = matrix.copy()
        m.index.name = "seller"
        table = m.reset_index()
        table.attrs["unit"] = "kWh"
        yield f"trades_{market}", table


def _csv_bytes(df: pd.DataFrame) -> bytes:
    frame = df
    if "time" in df.columns and isinstance(df["time"].dtype, pd.DatetimeTZDtype):
        # ISO 8601 with offset: unambiguous across daylight-saving changes.
        # Format each distinct step once, then index: a long table repeats every step.
        codes, uniques = pd.factorize(df["time"])
        text = np.array([t.isoformat() for t in uniques], dtype=object)
        frame = df.assign(time=text[codes])
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def _parquet_bytes(df: pd.DataFrame) -> bytes:
    """The table as Parquet; a wide table's unit (`attrs["unit"]`: bills, trades) becomes the
    field metadata `unit` of each numeric column (tidy tables have a unit column)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = df.copy()
    frame.columns = [str(c) for c in frame.columns]
    table = pa.Table.from_pandas(frame, preserve_index=False)
    unit = df.attrs.get("unit")
    if unit:
        fields = [
            f.with_metadata({"unit": unit}) if pa.types.is_floating(f.type) else f
            for f in table.schema
        ]
        table = table.cast(pa.schema(fields, metadata=table.schema.metadata))
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def write_outputs(
    results: Results,
    out_dir: str | Path,
    command: str = "",
    reference: Results | None = None,
    csv: bool = True,
) -> None:
    """Write results.json, CSV + Parquet tables and report.html as one set into `out_dir`;
    `csv=False` writes the tables as Parquet only (`pebdsl solve --no-csv`).

    Everything is written into a temporary sibling folder that then replaces `out_dir` whole
    (`fsutil.replace_dir`): the folder holds either the previous run or this one, never a mix,
    and no file of an earlier run survives. `reference` (optional) is passed to the report,
    which then shows savings against it. Raises E902 (PebdslError) when `out_dir` is not a
    folder pebdsl may replace, OSError when the OS refuses a write."""
    with replace_dir(out_dir) as tmp:
        write_into(results, tmp, command=command, reference=reference, csv=csv)


def write_into(
    results: Results,
    folder: Path,
    command: str = "",
    reference: Results | None = None,
    csv: bool = True,
) -> None:
    """The files of `write_outputs`, written into `folder` (created) one by one, not as a set:
    for callers that stage a larger tree themselves (compare)."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    for stem, df in each_table(results):
        if csv and len(df) <= CSV_MAX_ROWS:
            atomic_write_bytes(folder / f"{stem}.csv", _csv_bytes(df))
        atomic_write_bytes(folder / f"{stem}.parquet", _parquet_bytes(df))
        del df  # one tidy table in memory at a time
    t0 = time.perf_counter()
    report = _report(results, command, reference)
    doc = results_json(results)
    doc["timings"]["report"] = time.perf_counter() - t0  # the last stage of ARCHITECTURE.md
    if command:
        doc["command"] = command
    atomic_write_text(folder / "results.json", json.dumps(doc, indent=2, allow_nan=False) + "\n")
    atomic_write_text(folder / "report.html", report)


def _report(results: Results, command: str, reference: Results | None = None) -> str:
    try:
        from pebdsl.present.report import render_report
    except ImportError as e:  # pragma: no cover - only while the report module is being written
        logging.getLogger(__name__).warning("report.html is a placeholder (%s)", e)
        return "<!doctype html><title>pebdsl</title>" + repr_html(results)
    return render_report(results, reference=reference, command=command)


# --- notebooks --------------------------------------------------------------------------------


def _fmt(x: Any, digits: int = 2, pct: bool = False) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{100 * x:.1f} %" if pct else f"{x:,.{digits}f}"


def repr_html(results: Results) -> str:
    """A compact HTML summary (title, status, cost, key KPIs, bills) for Jupyter."""
    d = results.design
    k = results.kpis.get("design", {})
    e = html.escape
    title = e(d.title) + (f" — {e(d.variant)}" if d.variant else "")
    rows = [
        ("total cost (real money)", f"{_fmt(results.total_cost)} {e(d.currency)}"),
        ("shadow cost (not paid)", f"{_fmt(results.shadow_cost)} {e(d.currency)}"),
        ("demand", f"{_fmt(k.get('demand_kwh'), 1)} kWh"),
        (
            "grid import / export",
            f"{_fmt(k.get('grid_import_kwh'), 1)} / {_fmt(k.get('grid_export_kwh'), 1)} kWh",
        ),
        ("self-sufficiency", _fmt(k.get("self_sufficiency"), pct=True)),
        ("self-consumption", _fmt(k.get("self_consumption"), pct=True)),
        ("local trade", f"{_fmt(k.get('local_trade_kwh'), 1)} kWh"),
        ("peak import (all blocks)", f"{_fmt(k.get('peak_import_kw'), 1)} kW"),
    ]
    body = "".join(f"<tr><th style='text-align:left'>{a}</th><td>{b}</td></tr>" for a, b in rows)
    bills = ""
    parts = results.kpis.get("participants", {})
    if parts:
        shown = list(parts.items())[:12]
        brows = "".join(
            f"<tr><td>{e(n)}</td><td style='text-align:right'>{_fmt(p.get('bill'))}</td>"
            f"<td style='text-align:right'>{_fmt(p.get('self_sufficiency'), pct=True)}</td></tr>"
            for n, p in shown
        )
        more = f"<p>… and {len(parts) - len(shown)} more</p>" if len(parts) > len(shown) else ""
        bills = (
            f"<table><tr><th>participant</th><th>bill ({e(d.currency)})</th>"
            f"<th>self-sufficiency</th></tr>{brows}</table>{more}"
        )
    return (
        f"<div class='pebdsl-results'><strong>{title}</strong> "
        f"<span>({e(results.status)}, {d.n_steps} steps of {d.dt_h:g} h)</span>"
        f"<table>{body}</table>{bills}</div>"
    )
