"""Results of one solve, in the design's own terms.

Input: the records of the stages, composed by `pebdsl.solve`: invert's `Dispatch` and
`Trades`, settle.py's `Settlement`, kpis.py's `Scores`, the notes and a `RunInfo`.
Output: a frozen `Results`, with time series as DataFrames (index = the horizon's step starts,
tz-aware; columns = MultiIndex (entity, quantity)), serialisable to `results.json`, CSV and
Parquet (pebdsl/present/output.py). The names readers use (participants_ts, bills, kpis, values,
notes, money, bill_roles, model_stats, timings, backend, solver, total_cost, shadow_cost, …)
are fields or properties; `kpis_frame()`, `values_frame()`, `bills_frame()`, `to_xarray()`
and `to_netcdf(path)` give them as data (`pebdsl.exchange`); `Results.build(...)` makes one
from those flat names (scoring it when no KPIs are given) and `replace(...)` returns a
changed copy. No presentation import: `_repr_html_` and `__repr__` are built here from the
results' own data.
Raises nothing.

Sign conventions: every power is >= 0 in kW (mean over the step); energy = power x dt_h.
Prices are in currency/kWh.

participants_ts quantities (entity = participant name):
  load               demand served (kW), after flexible shifting
  base_load          demand as declared (kW), before shifting
  pv, wind           available generation (kW)
  generation_used    generation not curtailed (kW, all kinds)
  curtailment        available - used (kW)
  grid_import        gi, bought from the grid (kW)
  grid_export        ge, sold to the grid (kW)
  battery_charge     own battery charge (kW) (0 without battery)
  battery_discharge  own battery discharge (kW)
  soc                own battery state of charge at the END of the step (kWh)
  local_bought       received from local markets (kW, after loss)
  local_sold         sent into local markets (kW, before loss)
  shift_in, shift_out flexible load moved into / out of the step (kW)
  price              dual of the participant's energy balance (currency/kWh): its local value
batteries_ts (entity = battery name: `alice.battery` or a shared battery): charge, discharge, soc
blocks_ts (entity = block): import, export (kW at the block connection, net of its members),
  from_blocks, to_blocks (exchange with other blocks), flexibility (kW the DSO's limit removed
  above it; 0 when no need), flexibility_price (dual of the limit, currency/kWh: the local
  value of the limit), flexibility_paid (currency/kWh the DSO pays per kWh delivered: the
  need's declared price, or the dual for a hard need)
markets_ts (entity = market): price (currency/kWh, dual of the balance), volume (kW delivered),
  loss (kW lost in transit), fees (currency per hour collected)
links_ts (entity = "a--b"): flow_ab, flow_ba (kW sent), loss (kW)
notes: post-solve notes, [{"code": "N101", "message": …, …}] (pebdsl.notes)
trades: market -> DataFrame seller x buyer of kWh received over the horizon (compact-form
  markets are split pro rata within each step; documented in docs/model.md). A market of more
  than `invert.MAX_TRADE_PARTIES` (200) traders keeps the 200 largest sellers and buyers and
  sums the rest into a row and a column `(others)`, so the table stays linear in the traders
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from dataclasses import replace as _replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pebdsl.backends import Status
from pebdsl.design import Design
from pebdsl.invert.records import Dispatch, Trades
from pebdsl.kpis import ScoreInput, Scores, score
from pebdsl.settle import Settlement

if TYPE_CHECKING:
    from pebdsl.ir import ModelIR


def empty_frame(index: pd.DatetimeIndex) -> pd.DataFrame:
    return pd.DataFrame(
        index=index, columns=pd.MultiIndex.from_tuples([], names=["entity", "quantity"])
    )


@dataclass(frozen=True)
class RunInfo:
    """How the solve ran."""

    model_stats: Mapping[str, int] = field(default_factory=dict)  # variables, constraints, nnz
    timings: Mapping[str, float] = field(default_factory=dict)  # seconds per stage
    backend: str = "highs"
    solver: str = "highs"


_EMPTY_SETTLEMENT = Settlement(None, {}, {}, 0.0)

# Flat names `Results.build` and `Results.replace` accept, by the record that holds them.
_DISPATCH = ("participants_ts", "batteries_ts", "blocks_ts", "markets_ts", "links_ts")
_RUN = ("model_stats", "timings", "backend", "solver")


@dataclass(frozen=True)
class Results:
    """One solved design, composed of the stages' records."""

    design: Design
    status: Status
    objective: float  # the LP objective, in design.currency (total_cost + shadow_cost)
    dispatch: Dispatch
    trades: Mapping[str, pd.DataFrame]  # market -> seller x buyer kWh (the tables)
    settlement: Settlement | None
    scores: Scores
    notes: tuple[dict[str, Any], ...] = ()  # post-solve notes (pebdsl.notes, N1xx)
    run: RunInfo = field(default_factory=RunInfo)
    traded: Trades | None = None  # the market flows and splits behind `trades`
    ir: ModelIR | None = field(default=None, repr=False)  # the solved model (its inverse map)
    # A time-aggregated solve (`--aggregate`, pebdsl/aggregate.py): the whole horizon's
    # objective, the typical days and weights, the error on the series; None otherwise.
    aggregation: Mapping[str, Any] | None = None

    # -- the names readers use ----------------------------------------------------------------
    @property
    def participants_ts(self) -> pd.DataFrame:
        return self.dispatch.participants_ts

    @property
    def batteries_ts(self) -> pd.DataFrame:
        return self.dispatch.batteries_ts

    @property
    def blocks_ts(self) -> pd.DataFrame:
        return self.dispatch.blocks_ts

    @property
    def markets_ts(self) -> pd.DataFrame:
        return self.dispatch.markets_ts

    @property
    def links_ts(self) -> pd.DataFrame:
        return self.dispatch.links_ts

    @property
    def bills(self) -> pd.DataFrame | None:
        """One row per party, columns in currency (settle.py); None when not settled."""
        return None if self.settlement is None else self.settlement.bills

    @property
    def money(self) -> Mapping[str, float]:
        return {} if self.settlement is None else self.settlement.money

    @property
    def bill_roles(self) -> Mapping[str, str]:
        return {} if self.settlement is None else self.settlement.roles

    @property
    def shadow_cost(self) -> float:
        """The objective's terms that are not money (settle.py)."""
        return 0.0 if self.settlement is None else self.settlement.shadow_cost

    @property
    def total_cost(self) -> float:
        """Real money: the objective without its shadow terms (docs/kpis.md, `total_cost`)."""
        return self.objective - self.shadow_cost

    @property
    def investments(self) -> Mapping[str, Mapping[str, Any]]:
        """Sizes the LP chose (`invest(...)`): path -> {value, unit, cost} (settle.py)."""
        return {} if self.settlement is None else self.settlement.investments

    @property
    def kpis(self) -> Mapping[str, Any]:
        return self.scores.kpis

    @property
    def values(self) -> Mapping[str, Any]:
        return self.scores.values

    @property
    def model_stats(self) -> Mapping[str, int]:
        return self.run.model_stats

    @property
    def timings(self) -> Mapping[str, float]:
        return self.run.timings

    @property
    def backend(self) -> str:
        return self.run.backend

    @property
    def solver(self) -> str:
        return self.run.solver

    @property
    def price_rules(self) -> Mapping[str, str]:
        return {} if self.traded is None else self.traded.price_rules

    # -- making and changing -------------------------------------------------------------------
    @classmethod
    def build(cls, design: Design, objective: float, **flat: Any) -> Results:
        """A `Results` from the flat names (tables, `trades`, `bills`, `money`, `kpis`,
        `values`, `model_stats`, …); scored here when no `kpis` are given."""
        idx = design.time.index
        tables = [flat.pop(k) if k in flat else empty_frame(idx) for k in _DISPATCH]
        disp = Dispatch(
            participants_ts=tables[0],
            batteries_ts=tables[1],
            blocks_ts=tables[2],
            markets_ts=tables[3],
            links_ts=tables[4],
            balance_price=np.zeros((0, design.n_steps)),
            block_net=np.zeros((0, design.n_steps)),
            flex_baseline_x=None,
        )
        base = cls(
            design=design,
            status=Status(flat.pop("status", Status.OPTIMAL)),
            objective=objective,
            dispatch=disp,
            trades={},
            settlement=None,
            scores=Scores({}, {}),
        )
        return base.replace(**flat) if "kpis" in flat else base.replace(**flat).rescored()

    def replace(self, **flat: Any) -> Results:
        """A copy with the given flat names (or record fields) changed."""
        disp = {k: flat.pop(k) for k in _DISPATCH if k in flat}
        run = {k: flat.pop(k) for k in _RUN if k in flat}
        sett = {
            k: flat.pop(k)
            for k in ("bills", "money", "bill_roles", "shadow_cost", "investments")
            if k in flat
        }
        sc = {k: flat.pop(k) for k in ("kpis", "values") if k in flat}
        out = _replace(self, **flat)
        if disp:
            out = _replace(out, dispatch=_replace(out.dispatch, **disp))
        if run:
            out = _replace(out, run=_replace(out.run, **run))
        if sett:
            s = out.settlement or _EMPTY_SETTLEMENT
            names = {"bill_roles": "roles"}
            s = _replace(s, **{names.get(k, k): v for k, v in sett.items()})
            out = _replace(out, settlement=s)
        if sc:
            out = _replace(out, scores=_replace(out.scores, **sc))
        return out

    def rescored(self) -> Results:
        """A copy with the KPIs and values scored from its own tables and bills."""
        inp = ScoreInput(
            self.design,
            self.dispatch,
            self.bills,
            self.objective,
            self.shadow_cost,
            self.price_rules,
        )
        return _replace(self, scores=score(inp))

    # -- as data (exchange.py) -----------------------------------------------------------------
    def kpis_frame(self) -> pd.DataFrame:
        """The KPIs as rows of scope, entity, key, value, unit."""
        from pebdsl.exchange import kpi_frame

        return kpi_frame(self.kpis, self.design.currency)

    def values_frame(self) -> pd.DataFrame:
        """The three values as rows of key, entity, value, unit."""
        from pebdsl.exchange import values_frame

        return values_frame(self.values, self.design.currency)

    def bills_frame(self) -> pd.DataFrame:
        """The bills (party x item, in the design's currency, `attrs["unit"]`); empty when
        not settled."""
        out = pd.DataFrame() if self.bills is None else self.bills.copy()
        out.attrs["unit"] = self.design.currency
        return out

    def to_xarray(self) -> Any:
        """The results as an `xarray.Dataset`: one variable per quantity over (time, entity),
        units and provenance in attributes (`pebdsl.exchange`; needs `pebdsl[xarray]`)."""
        from pebdsl.exchange import to_xarray

        return to_xarray(self)

    def to_netcdf(self, path: Any, engine: str | None = None) -> str:
        """Write `to_xarray()` as a netCDF file (`engine`: h5netcdf if installed, else netCDF3
        through scipy); returns the engine used."""
        from pebdsl.exchange import to_netcdf

        return to_netcdf(self, path, engine)

    # -- display -------------------------------------------------------------------------------
    def __repr__(self) -> str:
        d = self.design
        name = d.title + (f" / {d.variant}" if d.variant else "")
        return (
            f"<Results {name!r}: {self.status.value}, total cost {self.total_cost:.6g} "
            f"{d.currency}, {d.n_steps} steps of {d.dt_h:g} h>"
        )

    def _repr_html_(self) -> str:
        """A short summary table for Jupyter notebooks."""
        d = self.design
        k = self.kpis.get("design", {})
        e = html.escape
        rows = [
            ("status", e(self.status.value)),
            ("total cost (real money)", f"{_fmt(self.total_cost)} {e(d.currency)}"),
            ("shadow cost (not paid)", f"{_fmt(self.shadow_cost)} {e(d.currency)}"),
            ("demand", f"{_fmt(k.get('demand_kwh'))} kWh"),
            ("grid import", f"{_fmt(k.get('grid_import_kwh'))} kWh"),
            ("self-sufficiency", _fmt(k.get("self_sufficiency"), pct=True)),
            ("local trade", f"{_fmt(k.get('local_trade_kwh'))} kWh"),
        ]
        body = "".join(
            f"<tr><th style='text-align:left'>{a}</th><td>{b}</td></tr>" for a, b in rows
        )
        title = e(d.title) + (f" — {e(d.variant)}" if d.variant else "")
        return f"<div class='pebdsl-results'><strong>{title}</strong><table>{body}</table></div>"


def _fmt(x: Any, pct: bool = False) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{100 * float(x):.1f} %" if pct else f"{float(x):,.2f}"
