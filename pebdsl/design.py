"""Validated design objects: what the model is built from.

Input: produced by `pebdsl.resolve` from the syntax tree (or built directly in Python by tests).
Output: plain dataclasses with floats in canonical units and series as numpy arrays on the
horizon's grid. Canonical units (names carry them): power kW, energy kWh, time h, prices
currency/kWh (`*_per_kwh`), capacity charges currency/kW/month, reinforcement cost
currency/kW/year, shares as fractions in [0, 1]. The currency is `Design.currency`.
Every object keeps the `Span` of the declaration that made it, so model errors point at lines.
Raises nothing; validation happened in `pebdsl.resolve` (`resolve/checks.py`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from pebdsl.source import NO_SPAN, SourceFile, Span

if TYPE_CHECKING:
    from pebdsl.diagnostics import Diagnostic

FloatArray = npt.NDArray[np.float64]

ASSET_KINDS = ("load", "pv", "wind", "battery", "flexible", "connection")


def _span() -> Span:
    return field(default=NO_SPAN, compare=False, repr=False)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class TimeGrid:
    """Steps of exact length `step_h` from `start` (tz-aware, in `timezone`); `n_steps` of them.

    Steps are exact durations: on a daylight-saving day the local day has 23 or 25 hourly steps.
    """

    start: datetime
    step_h: float
    n_steps: int
    timezone: str = "UTC"
    span: Span = _span()

    @property
    def dt_h(self) -> float:
        return self.step_h

    @property
    def index(self) -> pd.DatetimeIndex:
        """Start of each step, tz-aware in the horizon's timezone."""
        start = pd.Timestamp(self.start)
        if start.tzinfo is None:
            start = start.tz_localize(self.timezone)
        utc = pd.date_range(
            start.tz_convert("UTC"), periods=self.n_steps, freq=pd.Timedelta(hours=self.step_h)
        )
        return utc.tz_convert(self.timezone)

    @property
    def duration_h(self) -> float:
        return self.step_h * self.n_steps


@dataclass(frozen=True)
class DayAhead:
    """The first-stage market of a staged grid (`grid { day_ahead { buy; sell } … }`): prices of
    the position committed before the scenario is known; `sell_per_kwh is None` = no sale."""

    buy_per_kwh: FloatArray
    sell_per_kwh: FloatArray | None
    span: Span = _span()


Bidder = Literal["participant", "block", "community"]


@dataclass(frozen=True)
class Grid:
    """The upstream supplier: buy and sell prices per step; `sell_per_kwh is None` = no feed-in.

    A staged grid (`day_ahead` set) reads `buy_per_kwh`/`sell_per_kwh` as the intraday
    (second-stage) prices of the deviations from the day-ahead position; `bidder` says who holds
    a position: each participant, each block (participants outside blocks bid alone) or the whole
    community as one."""

    buy_per_kwh: FloatArray
    sell_per_kwh: FloatArray | None
    span: Span = _span()
    day_ahead: DayAhead | None = None
    bidder: Bidder = "participant"


@dataclass(frozen=True)
class Load:
    profile_kw: FloatArray
    span: Span = _span()


@dataclass(frozen=True)
class Generation:
    """PV or wind: available output per step (already peak x per-kWp profile); curtailable."""

    kind: Literal["pv", "wind"]
    profile_kw: FloatArray
    peak_kw: float | None = None
    span: Span = _span()


@dataclass(frozen=True)
class Battery:
    """A private battery (`owner` set) or a shared one (`owner is None`, belongs to `block`).

    `efficiency` is one-way, applied on charge and on discharge. `power_kw` bounds both.
    """

    name: str  # "alice.battery" for a private one, the declared name for a shared one
    capacity_kwh: float
    power_kw: float
    efficiency: float = 1.0
    min_soc_kwh: float = 0.0
    initial_kwh: float = 0.0
    final_kwh: float | None = None
    charge_from: Literal["any", "local"] = "any"
    throughput_cost_per_kwh: float = 0.0
    owner: str | None = None
    block: str | None = None
    span: Span = _span()
    # A shared battery's owners and their shares (summing to 1), as declared (`owners`,
    # `shares`); empty: the default of `Design.battery_owners`. Private batteries: empty.
    owners: tuple[tuple[str, float], ...] = ()
    # 1: the charge/discharge schedule is committed day-ahead (one schedule in all scenarios);
    # 2 (default): it follows each scenario.
    stage: int = 2


@dataclass(frozen=True)
class Flexible:
    """Up to `share` of the load in each step may move to another step of the same window."""

    share: float
    window_h: float
    cost_per_kwh: float = 0.0
    span: Span = _span()


@dataclass(frozen=True)
class Connection:
    """Limits on exchange with the grid above, per direction; None = unlimited."""

    import_kw: float | None
    export_kw: float | None
    span: Span = _span()


@dataclass(frozen=True)
class Participant:
    name: str
    block: str | None = None
    load: Load | None = None
    generation: tuple[Generation, ...] = ()
    battery: Battery | None = None
    flexible: Flexible | None = None
    connection: Connection | None = None
    span: Span = _span()

    def demand_kw(self, n_steps: int) -> FloatArray:
        return self.load.profile_kw if self.load is not None else np.zeros(n_steps)

    def generation_kw(self, n_steps: int, kinds: tuple[str, ...] = ("pv", "wind")) -> FloatArray:
        out = np.zeros(n_steps)
        for g in self.generation:
            if g.kind in kinds:
                out = out + g.profile_kw
        return out


@dataclass(frozen=True)
class Block:
    """A positive energy block: participants (and shared batteries) behind one connection."""

    name: str
    connection: Connection | None
    participants: tuple[str, ...]
    batteries: tuple[str, ...] = ()  # names of shared batteries declared in the block
    span: Span = _span()


@dataclass(frozen=True)
class Product:
    """A differentiated product: `origin` bounds what may be sold as it (None = any energy)."""

    name: str
    origin: tuple[str, ...] | None = None  # asset kinds: "pv", "wind", "battery"
    premium_per_kwh: float = 0.0
    span: Span = _span()


BUILTIN_PRODUCTS = ("energy", "flexibility")


@dataclass(frozen=True)
class Market:
    """A local market. `members` are participant names; `batteries` the shared batteries that
    trade in it (those of member blocks, or the top-level ones when members = all)."""

    name: str
    type: Literal["p2p", "pool"]
    members: tuple[str, ...]
    fee_per_kwh: float = 0.0
    loss: float = 0.0
    pair_fees_per_kwh: dict[tuple[str, str], float] = field(default_factory=dict)  # (seller, buyer)
    batteries: tuple[str, ...] = ()
    operator: str | None = None  # "dso" or None (the community)
    products: tuple[str, ...] = ("energy",)
    settlement: Literal["midpoint", "seller", "buyer"] = "midpoint"
    span: Span = _span()
    # Who receives the market's surplus (congestion rent net of link fees): the market's
    # operator (its own account, or the DSO with `operator = dso`), its traders, or the DSO.
    rent: Literal["operator", "members", "dso"] = "operator"

    @property
    def uniform(self) -> bool:
        """True when every pair has the same fee and loss: the compact form is exact."""
        return not self.pair_fees_per_kwh


@dataclass(frozen=True)
class Link:
    """A DSO line between two blocks; flows both ways up to `capacity_kw`."""

    a: str
    b: str
    capacity_kw: float | None = None
    loss: float = 0.0
    fee_per_kwh: float = 0.0
    span: Span = _span()


@dataclass(frozen=True)
class FlexibilityNeed:
    """The DSO keeps `block`'s import under `limit_kw`: hard when price is None, else it pays
    `price_per_kwh` for each kWh of import avoided above the limit (soft)."""

    block: str
    limit_kw: float
    price_per_kwh: float | None = None
    span: Span = _span()


@dataclass(frozen=True)
class Dso:
    energy_charge_per_kwh: FloatArray | None = None  # None = no energy charge
    capacity_charge_per_kw_month: float = 0.0
    capacity_charge_basis: Literal["participant", "block"] = "participant"
    # What the energy and capacity charges apply to: each meter's net withdrawal (gi − ge + local
    # purchases − local sales; local trades pay like grid energy), or the retail purchases `gi`
    # only (a sharing regime that exempts local trades from grid charges, stated in the design).
    charge_on: Literal["meter", "purchase"] = "meter"
    links: tuple[Link, ...] = ()
    flexibility: tuple[FlexibilityNeed, ...] = ()
    reinforcement_cost_per_kw_year: float = 0.0
    span: Span = _span()


@dataclass(frozen=True)
class Scenario:
    """One scenario of a stochastic design and its probability (a fraction, summing to 1)."""

    name: str
    probability: float
    span: Span = _span()


@dataclass(frozen=True)
class Stochastic:
    """A design's scenarios: each one's realisation as a whole deterministic `Design`.

    `designs[name]` has the scenario's series (its `by_scenario` branch, its CSV column, its
    generated forecast error) and no `stochastic` of its own; the owning `Design` itself is the
    expected-value design (every scenario-valued series replaced by its probability-weighted
    mean). `method` says in words how the scenarios were made (for results and the report)."""

    scenarios: tuple[Scenario, ...]
    designs: dict[str, Design]
    method: str = "declared"
    span: Span = _span()

    def probability(self, name: str) -> float:
        return next(s.probability for s in self.scenarios if s.name == name)


@dataclass(frozen=True)
class Design:
    """One fully resolved alternative (the base design, or one variant of it)."""

    title: str
    currency: str
    time: TimeGrid
    grid: Grid
    participants: dict[str, Participant]  # declaration order
    blocks: dict[str, Block] = field(default_factory=dict)
    shared_batteries: dict[str, Battery] = field(default_factory=dict)
    markets: dict[str, Market] = field(default_factory=dict)
    products: dict[str, Product] = field(default_factory=dict)  # declared ones (not built-ins)
    dso: Dso = field(default_factory=Dso)
    description: str = ""
    variant: str | None = None  # None for the base design
    # The variant's `description = "…"` (shown by reports and `pebdsl compare`); "" for the base.
    variant_description: str = ""
    # The variant's `compare` attribute: False = `pebdsl compare` leaves it out unless it is named
    # (`--variant NAME`), e.g. a year-long variant. Always True for the base design.
    in_compare: bool = True
    variants: tuple[str, ...] = ()  # every variant declared in the file, in order
    reference: str | None = None  # the variant that is the no-trade reference, if any
    sources: tuple[SourceFile, ...] = ()
    data_digest: str = ""  # sha256 of the data files read (CSV), filled by resolve
    # Seconds spent in the front end (parse, resolve) making this design; for results.json.
    timings: dict[str, float] = field(default_factory=dict, compare=False, repr=False)
    # Check-time warnings (W1xx, pebdsl.resolve.lint) of this design as loaded, sorted by position.
    warnings: tuple[Diagnostic, ...] = field(default=(), compare=False, repr=False)
    # The variant's declaration (NO_SPAN for the base): tells a warning about text the variant
    # wrote from one its edits cause on the base's text (`lint.merge`).
    variant_span: Span = _span()
    # The scenarios of a two-stage stochastic design (`scenarios { … }`); None: deterministic.
    stochastic: Stochastic | None = field(default=None, compare=False, repr=False)
    span: Span = _span()

    @property
    def n_steps(self) -> int:
        return self.time.n_steps

    @property
    def dt_h(self) -> float:
        return self.time.step_h

    def batteries(self) -> dict[str, Battery]:
        """Every battery, private ones first (`alice.battery`), then shared ones."""
        out = {p.battery.name: p.battery for p in self.participants.values() if p.battery}
        out.update(self.shared_batteries)
        return out

    def battery_owners(self, name: str) -> dict[str, float]:
        """Who receives a shared battery's earnings, with shares summing to 1.

        The declared `owners` still in the design (a variant may remove some; the shares of the
        rest are scaled up), else the participants of the battery's block equally, else (a
        top-level battery, or a block left without participants) every participant equally.
        """
        b = self.shared_batteries[name]
        declared = {p: w for p, w in b.owners if p in self.participants}
        total = sum(declared.values())
        if declared and total > 0:
            return {p: w / total for p, w in declared.items()}
        members: list[str] = []
        if b.block in self.blocks:
            members = [p for p in self.blocks[b.block].participants if p in self.participants]
        if not members:
            members = list(self.participants)
        return {p: 1.0 / len(members) for p in members}

    def block_of(self, participant: str) -> str | None:
        return self.participants[participant].block

    def digest(self) -> str:
        """sha256 over the design text(s) and the data they read: the provenance hash."""
        h = hashlib.sha256()
        for s in self.sources:
            h.update(s.text.encode())
        h.update(self.data_digest.encode())
        h.update((self.variant or "").encode())
        return h.hexdigest()
