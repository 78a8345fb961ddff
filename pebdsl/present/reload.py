"""A results folder back into `Results`, without solving: `read_results(folder)`.

Input: a folder `write_outputs` wrote (`pebdsl solve`, `Results` in Python): results.json and
the Parquet tables (written with and without `--no-csv`). Optionally the `Design` solved (else
rebuilt from the design text results.json keeps, with its variant; `data=` the in-memory
series it read, `base_dir` where its relative data paths start: default the folder of the
design file results.json names, if it exists, else the current directory).
Output: a `Results` whose time series and trade tables (from Parquet: float64, exact), bills,
KPIs, values, money, notes, objective, status, model statistics, timings, backend and solver
(from results.json: JSON keeps every float exactly) are the solved ones. JSON has no NaN:
a KPI that was NaN comes back as None (results.json writes it as null). Bill roles are
derived from the design (participants, grid, dso, markets, shared batteries, state).
Errors: E907 a folder that cannot be read back (no or damaged results.json or table, no design
text in an older results.json, or a design whose hash is not the one solved); the errors of
`pebdsl.load` for the rebuilt design.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pebdsl.design import Design
from pebdsl.diagnostics import PebdslError, error
from pebdsl.present.output import TABLES
from pebdsl.results import Results, empty_frame

__all__ = ["read_results"]


def _fail(folder: Path, why: str, hint: str | None = None) -> PebdslError:
    return PebdslError(
        error("E907", f"cannot read results from {folder}: {why}", hints=(hint,) if hint else ())
    )


def read_results(
    folder: str | Path,
    design: Design | None = None,
    *,
    data: Mapping[str, Any] | None = None,
    base_dir: str | Path | None = None,
    allow_outside: bool = False,
) -> Results:
    """The `Results` a results folder holds (see the module docstring)."""
    folder = Path(folder)
    try:
        doc = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise _fail(folder, f"results.json: {getattr(e, 'strerror', None) or e}") from None
    if design is None:
        design = _design(folder, doc, data, base_dir, allow_outside)
    if design.digest() != doc.get("hash"):
        raise _fail(
            folder,
            "the design is not the one solved (its hash differs)",
            "pass the Design solved, or the same data (`data=`) and data files",
        )
    idx = design.time.index
    frames = {f"{t}_ts": _wide(folder, t, idx) for t in TABLES}
    trades = {}
    for path in sorted(folder.glob("trades_*.parquet")):
        m = _parquet(folder, path.name).set_index("seller")
        m.columns.name = "buyer"
        trades[path.stem.removeprefix("trades_")] = m
    bills = None
    if (folder / "bills.parquet").exists():
        bills = _parquet(folder, "bills.parquet").set_index("name")
        bills.index.name = "party"
    return Results.build(
        design,
        doc["objective"]["value"],
        status=doc["status"],
        **frames,
        trades=trades,
        bills=bills,
        bill_roles=_roles(design, bills),
        money=doc.get("money", {}),
        shadow_cost=doc["shadow_cost"]["value"],
        investments=doc.get("investments", {}),
        kpis=_kpis(doc),
        values=doc.get("values", {}),
        notes=tuple(doc.get("notes", ())),
        model_stats={k: v for k, v in doc.get("model", {}).items() if v is not None},
        timings=doc.get("timings", {}),
        backend=doc.get("backend", ""),
        solver=doc.get("solver", ""),
    )


def _design(
    folder: Path,
    doc: Mapping[str, Any],
    data: Mapping[str, Any] | None,
    base_dir: str | Path | None,
    allow_outside: bool,
) -> Design:
    """The design of a results folder, rebuilt from the text results.json keeps."""
    from pebdsl.load import loads

    info = doc.get("design", {})
    text = info.get("source")
    if not isinstance(text, str):
        raise _fail(folder, "results.json holds no design text", "pass the Design solved")
    name = str(info.get("file") or "<results>")
    if base_dir is None:
        parent = Path(name).parent
        base_dir = parent if parent.is_dir() else Path(".")
    return loads(
        text,
        base_dir=base_dir,
        name=name,
        variant=doc.get("variant"),
        sets=[str(e) for e in info.get("edits") or []],
        data=data,
        allow_outside=allow_outside,
    )


def _parquet(folder: Path, name: str) -> pd.DataFrame:
    try:
        return pd.read_parquet(folder / name, engine="pyarrow")
    except Exception as e:  # pyarrow raises ArrowInvalid, OSError, … for a damaged file
        raise _fail(folder, f"{name}: {str(e).splitlines()[0] if str(e) else e}") from None


def _wide(folder: Path, table: str, idx: pd.DatetimeIndex) -> pd.DataFrame:
    """A tidy table back in the (entity, quantity)-column form of `Results`: the tidy rows
    are in row-major order (time, then column), so the values reshape exactly."""
    path = folder / f"{table}.parquet"
    if not path.exists():
        raise _fail(folder, f"{table}.parquet is missing")
    t = _parquet(folder, path.name)
    if len(t) == 0:
        return empty_frame(idx)
    n_t = len(idx)
    if len(t) % n_t:
        raise _fail(folder, f"{table}.parquet does not hold {n_t} steps")
    n_c = len(t) // n_t
    cols = pd.MultiIndex.from_arrays(
        [[str(e) for e in t["entity"].iloc[:n_c]], [str(q) for q in t["quantity"].iloc[:n_c]]],
        names=["entity", "quantity"],
    )
    times = pd.DatetimeIndex(t["time"].iloc[::n_c])
    if not np.array_equal(times.asi8, idx.tz_convert(times.tz).as_unit(times.unit).asi8):
        raise _fail(folder, f"{table}.parquet is on another time grid than the design")
    values = t["value"].to_numpy(dtype=np.float64).reshape(n_t, n_c)
    return pd.DataFrame(values, index=idx, columns=cols)


def _roles(design: Design, bills: pd.DataFrame | None) -> dict[str, str]:
    """Each bill row's role (settle.py's): derived from the design's names."""
    if bills is None:
        return {}
    known = {"grid": "grid", "dso": "dso", "state": "state"}
    known.update(dict.fromkeys(design.markets, "market"))
    known.update(dict.fromkeys(design.shared_batteries, "battery"))
    known.update(dict.fromkeys(design.participants, "participant"))
    return {str(n): known.get(str(n), "operator") for n in bills.index}


def _kpis(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The KPI mapping of `Results.kpis` from results.json's layout of it."""
    participants = {
        name: {"block": p.get("block"), **p.get("energy", {}), **p.get("kpis", {})}
        for name, p in doc.get("participants", {}).items()
    }
    return {
        "design": doc.get("kpis", {}),
        "participants": participants,
        "blocks": doc.get("blocks", {}),
        "batteries": doc.get("batteries", {}),
        "markets": doc.get("markets", {}),
    }
