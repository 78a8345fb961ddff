"""Results of one solve, in the design's own terms.

Input: a solved model (filled in by `pipeline.py` from a backend's primal and dual values), then
`settle.py` (bills, money closing) and `kpis.py` (KPIs, the three values).
Output: `Results`, with time series as DataFrames (index = the horizon's step starts, tz-aware;
columns = MultiIndex (entity, quantity)), serialisable to `results.json`, CSV and Parquet.
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
  above it; 0 when no need), flexibility_price (dual of the limit, currency/kWh)
markets_ts (entity = market): price (currency/kWh, dual of the balance), volume (kW delivered),
  loss (kW lost in transit), fees (currency per hour collected)
links_ts (entity = "a--b"): flow_ab, flow_ba (kW sent), loss (kW)
notes: post-solve notes, [{"code": "N101", "message": …, …}] (pebdsl.notes)
trades: market -> DataFrame seller x buyer of kWh received over the horizon (compact-form
  markets are split pro rata within each step; documented in docs/model.md). A market of more
  than `pipeline.MAX_TRADE_PARTIES` (200) traders keeps the 200 largest sellers and buyers and
  sums the rest into a row and a column `(others)`, so the table stays linear in the traders
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from pebdsl.design import Design


def empty_frame(index: pd.DatetimeIndex) -> pd.DataFrame:
    return pd.DataFrame(
        index=index, columns=pd.MultiIndex.from_tuples([], names=["entity", "quantity"])
    )


@dataclass
class Results:
    design: Design
    status: str  # "optimal" | "infeasible" | "unbounded" | "error" | ...
    objective: float  # the LP objective, in design.currency (total_cost + shadow_cost)
    participants_ts: pd.DataFrame
    batteries_ts: pd.DataFrame
    blocks_ts: pd.DataFrame
    markets_ts: pd.DataFrame
    links_ts: pd.DataFrame
    trades: dict[str, pd.DataFrame] = field(default_factory=dict)
    # Filled by settle.py: one row per participant, then one per other party ("grid", "dso",
    # market operators by market name, shared batteries); columns in currency as listed in
    # settle.py's docstring (grid_purchases, …, rent, shared_battery, total)
    bills: pd.DataFrame | None = None
    money: dict[str, float] = field(default_factory=dict)  # the closing of the account
    kpis: dict[str, Any] = field(default_factory=dict)  # design-level, per participant, per block
    values: dict[str, Any] = field(default_factory=dict)  # the three values of MODEL.md
    model_stats: dict[str, int] = field(default_factory=dict)  # variables, constraints, nonzeros
    timings: dict[str, float] = field(default_factory=dict)  # seconds per pipeline stage
    backend: str = "highs"
    solver: str = "highs"
    # Post-solve notes (pebdsl.notes, codes N1xx): markets that traded nothing, simultaneous
    # grid import and export, circulating trades, opposite link flows; JSON-safe dicts.
    notes: list[dict[str, Any]] = field(default_factory=list)
    # Roles of the rows of `bills`: "participant", "grid", "dso", "market", "battery".
    bill_roles: dict[str, str] = field(default_factory=dict)
    # Model-side arrays for settle.py and debugging (flows per market, prices, block nets);
    # not serialised.
    extras: dict[str, Any] = field(default_factory=dict)
    # The objective's terms that are not money (settle.py): priced-flexibility excess x price
    # minus product premiums. 0 until settled.
    shadow_cost: float = 0.0

    @property
    def total_cost(self) -> float:
        """Real money: the objective without its shadow terms (docs/kpis.md, `total_cost`)."""
        return self.objective - self.shadow_cost

    def _repr_html_(self) -> str:
        """A compact summary for Jupyter notebooks."""
        from pebdsl.present.output import repr_html

        return repr_html(self)
