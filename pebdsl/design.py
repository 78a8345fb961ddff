"""Validated design objects: what the model is built from.

Input: produced by `pebdsl.resolve` from the syntax tree (or built directly in Python by tests).
Output: plain dataclasses with floats in canonical units and series as numpy arrays on the
horizon's grid. Canonical units (names carry them): power kW, energy kWh, time h, prices
currency/kWh (`*_per_kwh`), capacity charges currency/kW/month, reinforcement cost
currency/kW/year, shares as fractions in [0, 1]. The currency is `Design.currency`.
Every object keeps the `Span` of the declaration that made it, so model errors point at lines.
Raises nothing; validation happened in `pebdsl.resolve` (`resolve/checks.py`). Only
`Design.to_pypsa()` raises: E906 for what the PyPSA bridge does not cover, E905 without PyPSA
(pebdsl/bridges/pypsa.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from pebdsl.source import NO_SPAN, SourceFile, Span
from pebdsl.timegrid import TimeGrid

if TYPE_CHECKING:
    from pebdsl.diagnostics import Diagnostic

FloatArray = npt.NDArray[np.float64]

ASSET_KINDS = ("load", "pv", "wind", "battery", "flexible", "connection")


def _span() -> Span:
    return field(default=NO_SPAN, compare=False, repr=False)  # type: ignore[no-any-return]


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
    # Share (0..1) of the battery present in each step (`available`, e.g. the cars of a V2G
    # fleet plugged in); None = always. Power, capacity and min_soc scale with it; energy
    # arrives at `arrival_soc` and leaves at `departure_soc` (shares of the capacity that
    # comes or goes) when it rises or falls (docs/model.md §3).
    available: FloatArray | None = None
    arrival_soc: float = 0.0
    departure_soc: float = 0.0
    # 1: the charge/discharge schedule is committed day-ahead (one schedule in all scenarios);
    # 2 (default): it follows each scenario.
    stage: int = 2
    # `min_soc`, `initial` and `final` as written shares of the capacity (None: an energy, or
    # not given). The *_kwh fields hold them at the capacity's value; a sized capacity
    # (`invest`) takes them of the size chosen (lower/invest.py).
    min_soc_share: float | None = None
    initial_share: float | None = None
    final_share: float | None = None


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
class Tariff:
    """A participant's customer class and the network tariff it selects (its own terms override
    the DSO's; None = the DSO's). Prices excl. VAT; `vat` is added on everything the
    participant buys from the grid supplier, the DSO and the market operators.

    `capacity_peak`: what the capacity charge measures per calendar month: `hour` (the highest
    step) or `top3_days` (the mean of the highest step on each of the three days with the
    highest peaks: the Norwegian household kapasitetsledd). With `capacity_steps_kw` (upper
    bounds, increasing) the charge is stepped: the month costs `capacity_step_prices[k]` for
    the first step whose bound is at least the measured peak (a MIP, docs/model.md §7b).
    """

    customer_class: Literal["business", "household"] = "business"
    vat: float = 0.0
    energy_charge_per_kwh: FloatArray | None = None
    capacity_charge_per_kw_month: FloatArray | None = None  # per step (a month's value)
    capacity_peak: Literal["hour", "top3_days"] = "hour"
    capacity_steps_kw: tuple[float, ...] = ()
    capacity_step_prices: tuple[float, ...] = ()  # currency per month
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
    tariff: Tariff | None = None  # None: a business customer on the DSO's tariff, no VAT

    @property
    def vat(self) -> float:
        return self.tariff.vat if self.tariff is not None else 0.0

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
    # `purchase`: the market's trades stay out of the meters the DSO charges (a sharing
    # scheme's exemption, e.g. the delingsordning); None = the DSO's `charge_on`.
    charge_on: Literal["meter", "purchase"] | None = None

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
    # A capacity price that varies by month (a series, constant within each calendar month):
    # the value per step; None = `capacity_charge_per_kw_month` in every month.
    capacity_charge_by_step: FloatArray | None = None


@dataclass(frozen=True)
class Investment:
    """A size the optimisation chooses (`invest(...)` in the design): an LP column in
    [0, `max_value`] (kWh or kW) that replaces the constant wherever the size bounds the model,
    with the cost `cost_per_unit_h × horizon hours × size` in the objective and in real cost.

    `path` names the size: `alice.battery.capacity`, `alice.battery.power`, `hub.capacity`
    (a shared battery), `street.connection` (a block connection, both ways),
    `street.connection.import` / `.export`, `dso.link.a--b.capacity`, `alice.pv.peak` (kWp: the
    output is the per-kWp profile times the size). `cost_per_unit_h` is the
    cost per kWh or kW per hour of horizon: the `cost = …` form as written (0.1 EUR/kWh/day =
    0.1/24 per hour), or the annuity form's `capex × rate / (1 − (1 + rate)^−lifetime)` per
    year / 8760 (`capex / lifetime` at rate 0); `capex`, `lifetime_years`, `rate` keep the
    annuity form's inputs (None for the `cost` form) for reports and the formatter."""

    path: str
    unit: Literal["kWh", "kW", "kWp"]
    max_value: float
    cost_per_unit_h: float
    capex: float | None = None
    lifetime_years: float | None = None
    rate: float | None = None
    span: Span = _span()

    @property
    def annuity(self) -> bool:
        return self.capex is not None


GOAL_METRICS = ("pv_surplus_local", "peak_import", "local_trade")


@dataclass(frozen=True)
class Goal:
    """A value the design must deliver (`goals { … }`, docs/tailor.md). `metric` names one of
    the three values: `pv_surplus_local` (share of the PV surplus balanced locally, value 1),
    `peak_import` (kW, all blocks together or one `block`, value 2), `local_trade` (kWh
    delivered in local markets, value 3). `value` is canonical (a fraction, kW, kWh). A hard
    goal (`prefer` False) is a constraint of the LP; a preferred one only ranks designs."""

    metric: Literal["pv_surplus_local", "peak_import", "local_trade"]
    op: Literal[">=", "<="]
    value: float
    block: str | None = None
    prefer: bool = False
    text: str = ""  # as written, for messages: `peak_import <= 1200 kW`
    span: Span = _span()

    def met(self, achieved: float | None) -> bool:
        """Whether an achieved figure (same unit as `value`) meets the goal (1e-6 slack)."""
        if achieved is None:
            return False
        tol = 1e-6 * max(1.0, abs(self.value))
        return achieved >= self.value - tol if self.op == ">=" else achieved <= self.value + tol


def annuity_factor(rate: float, lifetime_years: float) -> float:
    """The capital recovery factor: the share of an investment paid each year over its lifetime
    at interest `rate` (rate / (1 − (1 + rate)^−lifetime); 1 / lifetime at rate 0)."""
    if rate == 0:
        return 1.0 / lifetime_years
    return rate / (1.0 - (1.0 + rate) ** -lifetime_years)


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
    # The error model's autocorrelation per step (generated scenarios: `correlation`; declared
    # ones state no error model: 0). Rolling over forecasts updates them with it
    # (pebdsl.stochastic.update).
    correlation: float = 0.0

    def probability(self, name: str) -> float:
        return next(s.probability for s in self.scenarios if s.name == name)


@dataclass(frozen=True)
class Periods:
    """The typical periods of a time-aggregated design (`pebdsl solve --aggregate`,
    pebdsl/aggregate.py): the design's horizon is `len(weights)` typical periods of
    `period_steps` steps each, laid end to end; typical period k is the original period
    `days[k]` (a medoid: a real period, not an average) and stands for `weights[k]` original
    periods; `order[p]` is the typical period of original period p (the chronology, which the
    batteries' inter-period state of charge follows). `error` holds the aggregation's error on
    the input series (tsam's accuracy indicators, averaged over the series); `full`, when set,
    is the design on its whole horizon, solved as well to measure the error of the objective."""

    period_steps: int
    order: tuple[int, ...]
    weights: tuple[int, ...]
    days: tuple[int, ...]
    full_steps: int
    error: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0  # the clustering's time (tsam)
    # `--aggregate Nd,check`: the full design, solved too for the error and the speed-up.
    full: Design | None = field(default=None, compare=False, repr=False)

    def step_weights(self) -> FloatArray:
        """The weight of every step of the aggregated horizon (its period's occurrences)."""
        return np.repeat(np.asarray(self.weights, dtype=np.float64), self.period_steps)


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
    # Sizes the LP chooses (`invest(...)`), by path; the sized object holds `max_value` as its
    # constant (a bound the column never exceeds), so checks and reports read a size as before.
    investments: dict[str, Investment] = field(default_factory=dict)
    goals: tuple[Goal, ...] = ()  # `goals { … }`: hard ones are LP constraints
    sources: tuple[SourceFile, ...] = ()
    data_digest: str = ""  # sha256 of the data files read (CSV), filled by resolve
    # `set` edits applied on top of the text and variant (`--set`, `load(sets=…)`), in order.
    edits: tuple[str, ...] = ()
    # Seconds spent in the front end (parse, resolve) making this design; for results.json.
    timings: dict[str, float] = field(default_factory=dict, compare=False, repr=False)
    # Check-time warnings (W1xx, pebdsl.resolve.lint) of this design as loaded, sorted by position.
    warnings: tuple[Diagnostic, ...] = field(default=(), compare=False, repr=False)
    # The variant's declaration (NO_SPAN for the base): tells a warning about text the variant
    # wrote from one its edits cause on the base's text (`lint.merge`).
    variant_span: Span = _span()
    # The scenarios of a two-stage stochastic design (`scenarios { … }`); None: deterministic.
    stochastic: Stochastic | None = field(default=None, compare=False, repr=False)
    # The typical periods of a time-aggregated design (`--aggregate`); None: the full horizon.
    periods: Periods | None = field(default=None, compare=False, repr=False)
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

    def to_pypsa(self) -> Any:
        """The physical part of this design as a `pypsa.Network` (docs/pypsa.md): buses, loads,
        PV, batteries, grid links; E906 names what it cannot translate, E905 without PyPSA."""
        from pebdsl.bridges.pypsa import network

        return network(self)

    def _summary(self) -> tuple[str, str]:
        """The title (with the variant) and one line of counts, for the two reprs."""
        name = self.title + (f" / {self.variant}" if self.variant else "")
        counts = (
            f"{len(self.participants)} participants, {len(self.blocks)} blocks, "
            f"{len(self.markets)} markets, {len(self.batteries())} batteries; "
            f"{self.n_steps} steps of {self.dt_h:g} h from {self.time.start:%Y-%m-%d %H:%M} "
            f"({self.time.timezone}), {self.currency}"
        )
        return name, counts

    def __repr__(self) -> str:
        name, counts = self._summary()
        return f"<Design {name!r}: {counts}>"

    def _repr_html_(self) -> str:
        """Two lines for Jupyter: the title and the counts."""
        from html import escape

        name, counts = self._summary()
        return (
            f"<div class='pebdsl-design'><strong>{escape(name)}</strong><br>{escape(counts)}</div>"
        )

    def digest(self) -> str:
        """sha256 over the design text(s) and the data they read: the provenance hash."""
        h = hashlib.sha256()
        for s in self.sources:
            h.update(s.text.encode())
        h.update(self.data_digest.encode())
        h.update((self.variant or "").encode())
        for e in self.edits:  # (none: the hash of the text and variant alone, as before)
            h.update(b"\0set " + e.encode())
        return h.hexdigest()
