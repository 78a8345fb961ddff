"""What every page of the report shares: the Jinja2 environment, colours, number formatting,
reading the time series of `Results`, and the small texts (variant name, versions, horizon,
rendered-at time) both pages print.

Input: `Results` and `Design` objects, plain numbers. Output: strings and numpy arrays for the
page modules (`report.page`, `report.compare_page`). Raises nothing for well-formed input; a
missing column reads as zeros, a non-finite number prints as "–".
"""

from __future__ import annotations

import base64
import hashlib
import math
import os
import platform
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from pebdsl.present.report.charts import OKABE_ITO, fmt_num

if TYPE_CHECKING:
    from pebdsl.design import Design
    from pebdsl.results import Results

TEMPLATES = Path(__file__).parent / "templates"


# Colours of the energy-balance chart: one hue per kind of flow, the same above zero (supply)
# and below zero (use), so the sign alone says the direction.
C_GEN = OKABE_ITO["yellow"]


C_BATT = OKABE_ITO["bluish_green"]


C_LOCAL = OKABE_ITO["sky_blue"]


C_IMPORT = OKABE_ITO["vermillion"]


C_EXPORT = OKABE_ITO["blue"]


C_LOAD = OKABE_ITO["reddish_purple"]


C_REF = "#A6A6A6"


C_THIS = OKABE_ITO["blue"]


# Opens every <details> before printing, so a printed report holds the formulation and source.
PRINT_SCRIPT = (
    'window.addEventListener("beforeprint",function(){'
    'document.querySelectorAll("details").forEach(function(d){d.open=true;});});'
)


_env: Environment | None = None


def _environment() -> Environment:
    global _env
    if _env is None:
        env = Environment(
            loader=FileSystemLoader(str(TEMPLATES)),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters["num"] = fmt_num
        env.filters["pct"] = _pct
        env.filters["money"] = _money
        env.filters["plural"] = _plural
        env.globals["csp"] = _csp()
        env.globals["print_script"] = Markup(PRINT_SCRIPT)
        _env = env
    return _env


def _csp() -> str:
    """No fetches at all; inline styles; only our own script (by hash) may run."""
    digest = base64.b64encode(hashlib.sha256(PRINT_SCRIPT.encode()).digest()).decode()
    return (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    )


# --------------------------------------------------------------------------------- formatting
def _pct(value: float | None, digits: int = 1) -> str:
    if value is None or not math.isfinite(float(value)):
        return "–"
    return f"{100 * float(value):,.{digits}f} %".replace("-", "−")


def _money(value: float | None, currency: str = "") -> str:
    if value is None or not math.isfinite(float(value)):
        return "–"
    a = abs(float(value))
    digits = 0 if a >= 10_000 else 2
    return f"{fmt_num(float(value), digits)} {currency}".strip()


def _plural(count: float, noun: str) -> str:
    return f"{fmt_num(count)} {noun}" + ("" if abs(count - 1) < 1e-9 else "s")


def _num(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


# --------------------------------------------------------------------------------- data access
def _col(df: pd.DataFrame, entity: str, quantity: str, n: int) -> np.ndarray:
    if isinstance(df.columns, pd.MultiIndex) and (entity, quantity) in df.columns:
        arr = df[(entity, quantity)].to_numpy(dtype=np.float64, na_value=np.nan)
        return np.nan_to_num(arr, nan=0.0)
    return np.zeros(n)


def _sum(df: pd.DataFrame, entities: Sequence[str], quantity: str, n: int) -> np.ndarray:
    total = np.zeros(n)
    for e in entities:
        total = total + _col(df, e, quantity, n)
    return total


def _has(df: pd.DataFrame, entity: str, quantity: str) -> bool:
    return isinstance(df.columns, pd.MultiIndex) and (entity, quantity) in df.columns


def _groups(design: Design) -> list[tuple[str, list[str], list[str], str | None]]:
    """(display name, participants, shared batteries, block name) per block; participants outside
    any block form one more group."""
    out: list[tuple[str, list[str], list[str], str | None]] = []
    for b in design.blocks.values():
        out.append(
            (
                b.name,
                [p for p in b.participants if p in design.participants],
                list(b.batteries),
                b.name,
            )
        )
    loose = [p for p, part in design.participants.items() if part.block not in design.blocks]
    if loose:
        top_batts = [n for n, bt in design.shared_batteries.items() if bt.block is None]
        out.append(("community" if not design.blocks else "outside blocks", loose, top_batts, None))
    return out


def _index(results: Results) -> pd.DatetimeIndex:
    idx = results.participants_ts.index
    if isinstance(idx, pd.DatetimeIndex) and len(idx):
        return idx
    return results.design.time.index


# --------------------------------------------------------------------------------- shared texts
def _variant_name(results: Results) -> str:
    return results.design.variant or "base design"


def _versions(results: Results | None = None) -> list[tuple[str, str]]:
    out = [("python", platform.python_version())]
    for dist in ("pebdsl", "numpy", "pandas", "highspy", "pyomo", "jinja2"):
        try:
            out.append((dist, metadata.version(dist)))
        except metadata.PackageNotFoundError:
            continue
    if results is not None:
        out.append(("backend / solver", f"{results.backend} / {results.solver}"))
    return out


def _horizon_text(design: Design, index: pd.DatetimeIndex) -> str:
    if not len(index):
        return "empty horizon"
    end = index[0] + pd.Timedelta(hours=design.time.duration_h)
    step = design.dt_h
    step_txt = f"{fmt_num(step * 60)} min" if step < 1 else f"{fmt_num(step)} h"
    return (
        f"{index[0]:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} ({design.time.timezone}), "
        f"{len(index):,} steps of {step_txt}"
    )


def _source_date_epoch() -> datetime | None:
    """The moment SOURCE_DATE_EPOCH names, or None when it is unset or not a whole number
    (a malformed value is ignored rather than failing a finished solve's report)."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not value.isdigit():
        return None
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _rendered_at() -> str:
    moment = _source_date_epoch() or datetime.now(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-").lower() or "x"
