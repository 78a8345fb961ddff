"""The PyPSA bridge: the physical part of a design as a `pypsa.Network` (docs/pypsa.md).

Input: a resolved, deterministic `pebdsl.design.Design`. It is typed `Any` here because
`Design.to_pypsa()` calls this module: importing design.py back would close an import cycle.
Output: `network(design)`, a PyPSA network whose optimum (`n.optimize(solver_name="highs")`)
equals pebdsl's objective for the same design, which for every design the bridge covers is also
its real cost (`total_cost`: no shadow terms); `write_netcdf(design, path)` writes that network
as netCDF (`pypsa.Network(path)` reads it back). Quantities keep pebdsl's units: read PyPSA's
MW as kW, MWh as kWh and currency/MWh as currency/kWh (`n.meta["units"]` says so); snapshots
are the steps' starts in UTC (naive), each weighted by Δt hours.

The translation (docs/pypsa.md has it as a table, with the reasons):
  grid        bus `grid` and an unlimited generator `grid` at price 0 that also absorbs
  blocks      a bus per block; link `B.connection` grid -> B (import limit forward, export
              limit backward): it carries the block's net import Σ (gi − ge) (docs/model.md §6)
  participant bus `p`; load `p.load`; generators `p.pv`, `p.wind` (p_max_pu = profile / peak,
              cost 0, so curtailable as in §2); links `p.import` (block or grid -> p, cost
              buy·(1 + VAT)) and `p.export` (p -> block or grid, cost −sell; none when
              `sell = none`), each capped by the participant's `connection` (§1)
  meter       with an energy charge on the meter basis: bus `p.meter` between the grid links
              and `p`; link `p.meter_in` (meter -> p, cost charge·(1 + VAT)) and a free
              `p.meter_out` back, so the charge falls on the positive net withdrawal (§5c);
              on the purchase basis the charge is added to the cost of `p.import` instead
  battery     bus and store `B` (e_nom = capacity, e_min_pu = min_soc and the final state at
              the last step, e_initial = initial, not cyclic), links `B.charge` (p -> B,
              efficiency η) and `B.discharge` (B -> p, efficiency η, p_nom = power/η so the
              delivered power is at most `power`), each paying the throughput cost per kWh at
              the battery's terminals (§3); with `available` a_t, p_max_pu and e_max_pu = a_t,
              the bounds, initial and final scaled by it, and a load `B.fleet` on the
              battery's bus for the energy that arrives or leaves with the share present
  flexible    bus and store `p.flexible` of the energy moved so far in the window (empty at
              each window's last step), links `p.shift_in` and `p.shift_out` (paying the
              shifting cost), each at most share·load[t] (§4)
  DSO links   two one-way links per line (capacity, efficiency 1 − loss, fee), inactive: in
              pebdsl only markets move energy over them, and the bridge covers no market

Errors: E905 when PyPSA (the `pypsa` extra) is not installed; E906 for each construct the
bridge does not translate (markets, shared batteries, capacity charges, flexibility needs,
investments, hard goals, scenarios, a staged grid, local-only batteries),
all of them at once, each at its declaration. Nothing is exported half-translated.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from pebdsl.diagnostics import Diagnostic, PebdslError, error
from pebdsl.fsutil import atomic_write_bytes, write_error
from pebdsl.source import Span

# Carriers name what each component is, so PyPSA's statistics group by them.
CARRIERS = (
    "AC",
    "grid",
    "load",
    "pv",
    "wind",
    "battery",
    "flexible",
    "connection",
    "meter",
    "dso link",
)


def _refuse(what: str, span: Span, label: str = "not covered by the PyPSA bridge") -> Diagnostic:
    return error(
        "E906",
        f"the PyPSA bridge does not cover {what}",
        span,
        label,
        hints=("docs/pypsa.md lists what it covers; export a variant without it (`--variant`)",),
    )


def _nonzero(a: Any) -> bool:
    return a is not None and bool(np.any(np.asarray(a) != 0))


def uncovered(design: Any) -> list[Diagnostic]:
    """E906 for every construct of `design` the bridge does not translate (empty: all of it)."""
    d = design
    out = [_refuse(f"market `{m.name}` (local trading)", m.span) for m in d.markets.values()]
    out += [
        _refuse(f"shared battery `{b.name}` (it trades only in markets)", b.span)
        for b in d.shared_batteries.values()
    ]
    for p in d.participants.values():
        out += _participant_refusals(p)
    if d.dso.capacity_charge_per_kw_month != 0 or _nonzero(d.dso.capacity_charge_by_step):
        out.append(_refuse("the DSO's capacity charge (monthly peaks)", d.dso.span))
    out += [
        _refuse(f"the flexibility need at block `{f.block}`", f.span) for f in d.dso.flexibility
    ]
    out += [
        _refuse(f"the investment `{i.path}` (a size chosen by the model)", i.span)
        for i in d.investments.values()
    ]
    out += [_refuse(f"the goal `{g.text}`", g.span) for g in d.goals if not g.prefer]
    if d.stochastic is not None:
        out.append(_refuse("scenarios (a stochastic design)", d.stochastic.span))
    if d.grid.day_ahead is not None:
        out.append(_refuse("a staged grid (day-ahead and intraday)", d.grid.day_ahead.span))
    return out


def _participant_refusals(p: Any) -> list[Diagnostic]:
    out = []
    b = p.battery
    if b is not None and b.charge_from == "local":
        out.append(_refuse(f"`charge_from = local` of `{b.name}` (labelled local energy)", b.span))
    t = p.tariff
    if t is not None and (_nonzero(t.capacity_charge_per_kw_month) or t.capacity_steps_kw):
        out.append(_refuse(f"the capacity charge of `{p.name}`'s tariff", t.span))
    return out


def _import_pypsa() -> Any:
    try:
        import pypsa
    except ImportError as e:
        raise PebdslError(
            error(
                "E905",
                "exporting to PyPSA needs pypsa, which is not installed",
                hints=("pip install 'pebdsl[pypsa]'",),
            )
        ) from e
    return pypsa


def unlimited_kw(design: Any) -> float:
    """PyPSA's stand-in for "no limit" (it needs a finite p_nom): ten times every load peak,
    generation peak and battery power of the design together, plus 1. No flow of an optimum
    needs more (what crosses a link is at most all the load and all the charging, or all the
    generation and all the discharging), so the bound never changes the optimal cost."""
    total = 0.0
    for p in design.participants.values():
        total += float(np.max(p.demand_kw(design.n_steps), initial=0.0))
        total += sum(float(np.max(g.profile_kw, initial=0.0)) for g in p.generation)
        total += p.battery.power_kw if p.battery is not None else 0.0
    return 10.0 * total + 1.0


@contextmanager
def _quiet() -> Iterator[None]:
    """PyPSA's `Network()` configures the root logger (level INFO) when nothing has, logs its
    exports at INFO and warns about pandas' string dtype: a pebdsl call leaves the process's
    logging as it found it and passes on nothing about PyPSA's internals."""
    root, own = logging.getLogger(), logging.getLogger("pypsa")
    handlers, level, own_level = list(root.handlers), root.level, own.level
    own.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "pandas infers the `str` dtype", FutureWarning)
            yield
    finally:
        for h in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(h)
        root.setLevel(level)
        own.setLevel(own_level)


def network(design: Any) -> Any:
    """The design as a `pypsa.Network` (see the module docstring); E906 / E905 otherwise."""
    problems = uncovered(design)
    if problems:
        raise PebdslError(problems)
    pypsa = _import_pypsa()
    with _quiet():
        return _build(pypsa, design)


class _Parts:
    """The network's components, collected first and added with one `n.add` per kind and set
    of attributes (PyPSA adds a list of components much faster than one at a time). A value is
    a number or string, or an array over the steps (a time series)."""

    KINDS = ("Bus", "Generator", "Load", "Store", "Link")

    def __init__(self) -> None:
        self.groups: dict[tuple[str, tuple[tuple[str, bool], ...]], list[Any]] = {}

    def add(self, kind: str, name: str, **attrs: Any) -> None:
        shape = tuple(sorted((k, isinstance(v, np.ndarray)) for k, v in attrs.items()))
        self.groups.setdefault((kind, shape), []).append((name, attrs))

    def into(self, n: Any) -> None:
        import pandas as pd

        for kind in self.KINDS:
            for (k, shape), rows in self.groups.items():
                if k != kind:
                    continue
                names = [name for name, _ in rows]
                cols: dict[str, Any] = {}
                for attr, series in shape:
                    values = [a[attr] for _, a in rows]
                    cols[attr] = (
                        pd.DataFrame(dict(zip(names, values, strict=True)), index=n.snapshots)
                        if series
                        else values
                    )
                n.add(kind, names, **cols)


def _build(pypsa: Any, d: Any) -> Any:
    import pandas as pd

    n = pypsa.Network(name=d.title)
    n.set_snapshots(d.time.index.tz_convert("UTC").tz_localize(None))
    w = n.snapshot_weightings  # integer columns until set: assign whole float frames
    n.snapshot_weightings = pd.DataFrame(float(d.dt_h), index=w.index, columns=w.columns)
    big = unlimited_kw(d)
    n.meta = {
        "source": "pebdsl export --to pypsa (docs/pypsa.md)",
        "variant": d.variant or "",
        "currency": d.currency,
        "timezone": d.time.timezone,
        "units": "MW read as kW, MWh as kWh, currency/MWh as currency/kWh",
        "unlimited_kw": big,
    }
    n.add("Carrier", list(CARRIERS))
    parts = _Parts()
    parts.add("Bus", "grid", carrier="AC")
    exports = d.grid.sell_per_kwh is not None
    low = -1.0 if exports else 0.0
    parts.add("Generator", "grid", bus="grid", carrier="grid", p_nom=big, p_min_pu=low)
    for b in d.blocks.values():
        _block(parts, b, big)
    for p in d.participants.values():
        _participant(parts, d, p, big)
    for lk in d.dso.links:
        for a, b in ((lk.a, lk.b), (lk.b, lk.a)):
            parts.add(
                "Link",
                f"dso.{a}->{b}",
                bus0=a,
                bus1=b,
                p_nom=big if lk.capacity_kw is None else lk.capacity_kw,
                efficiency=1.0 - lk.loss,
                marginal_cost=lk.fee_per_kwh,
                carrier="dso link",
                active=False,
            )
    parts.into(n)
    return n


def _limits(conn: Any, big: float) -> tuple[float, float]:
    """(import, export) kW of a connection; `big` where it sets none."""
    imp = conn.import_kw if conn is not None and conn.import_kw is not None else big
    exp = conn.export_kw if conn is not None and conn.export_kw is not None else big
    return float(imp), float(exp)


def _block(parts: _Parts, b: Any, big: float) -> None:
    imp, exp = _limits(b.connection, big)
    nom = max(imp, exp)
    parts.add("Bus", b.name, carrier="AC")
    parts.add(
        "Link",
        f"{b.name}.connection",
        bus0="grid",
        bus1=b.name,
        carrier="connection",
        p_nom=nom,
        p_max_pu=imp / nom if nom > 0 else 0.0,
        p_min_pu=-exp / nom if nom > 0 else 0.0,
    )


def _steps(values: Any) -> Any:
    return np.array(values, dtype=np.float64)


def _energy_charge(d: Any, p: Any) -> Any:
    """The participant's energy charge per step (its tariff's, else the DSO's), or None."""
    if p.tariff is not None and p.tariff.energy_charge_per_kwh is not None:
        return p.tariff.energy_charge_per_kwh
    return d.dso.energy_charge_per_kwh


def _participant(parts: _Parts, d: Any, p: Any, big: float) -> None:
    home, upstream, vat = p.name, p.block or "grid", 1.0 + p.vat
    parts.add("Bus", home, carrier="AC")
    if p.load is not None:
        parts.add("Load", f"{home}.load", bus=home, carrier="load", p_set=_steps(p.load.profile_kw))
    kinds = [g.kind for g in p.generation]
    for k, g in enumerate(p.generation):
        name = f"{home}.{g.kind}" + (f".{k}" if kinds.count(g.kind) > 1 else "")
        peak = float(np.max(g.profile_kw, initial=0.0)) or 1.0
        pu = _steps(g.profile_kw / peak)
        parts.add("Generator", name, bus=home, carrier=g.kind, p_nom=peak, p_max_pu=pu)
    charge = _energy_charge(d, p)
    buy = _steps(d.grid.buy_per_kwh) * vat
    meter = home
    if _nonzero(charge) and d.dso.charge_on == "meter":
        meter = f"{home}.meter"
        parts.add("Bus", meter, carrier="AC")
        cost = _steps(charge) * vat
        kw = {"carrier": "meter", "p_nom": big}
        parts.add("Link", f"{home}.meter_in", bus0=meter, bus1=home, marginal_cost=cost, **kw)
        parts.add("Link", f"{home}.meter_out", bus0=home, bus1=meter, **kw)
    elif _nonzero(charge):
        buy = buy + _steps(charge) * vat
    imp, exp = _limits(p.connection, big)
    grid = {"carrier": "grid"}
    parts.add(
        "Link", f"{home}.import", bus0=upstream, bus1=meter, p_nom=imp, marginal_cost=buy, **grid
    )
    if d.grid.sell_per_kwh is not None:
        sell = -_steps(d.grid.sell_per_kwh)
        parts.add(
            "Link",
            f"{home}.export",
            bus0=meter,
            bus1=upstream,
            p_nom=exp,
            marginal_cost=sell,
            **grid,
        )
    if p.battery is not None:
        _battery(parts, p.battery, home, d.n_steps, d.dt_h)
    if p.flexible is not None:
        _flexible(parts, d, p)


def _flexible(parts: _Parts, d: Any, p: Any) -> None:
    """Load moved within windows (docs/model.md §4) as a store of moved energy: `p.shift_in`
    (p -> the store's bus) serves load moved into the step, `p.shift_out` (the store's bus ->
    p, paying the shifting cost) load moved out of it, each at most share·load[t]. The store
    holds Σ (in − out)·Δt since the window began (negative when load moved out first) and
    must be empty at the last step of every window, which is Σ_(t∈w) (in − out) = 0."""
    f, load = p.flexible, p.demand_kw(d.n_steps)
    upper = f.share * np.maximum(load, 0.0)
    nom = float(upper.max()) or 1.0
    bus = f"{p.name}.flexible"
    windows = d.time.windows(f.window_h)
    ends = np.append(windows[1:] != windows[:-1], True)  # the last step of each window
    room = np.where(ends, 0.0, 1.0)
    parts.add("Bus", bus, carrier="flexible")
    energy = float(upper.sum()) * d.dt_h + 1.0  # more than can ever be moved
    parts.add(
        "Store",
        bus,
        bus=bus,
        carrier="flexible",
        e_nom=energy,
        e_min_pu=-room,
        e_max_pu=room,
        e_initial=0.0,
        e_cyclic=False,
    )
    pu, kw = _steps(upper / nom), {"carrier": "flexible", "p_nom": nom}
    parts.add("Link", f"{p.name}.shift_in", bus0=p.name, bus1=bus, p_max_pu=pu, **kw)
    cost = f.cost_per_kwh
    parts.add(
        "Link", f"{p.name}.shift_out", bus0=bus, bus1=p.name, p_max_pu=pu, marginal_cost=cost, **kw
    )


def _battery(parts: _Parts, b: Any, home: str, n_steps: int, dt_h: float) -> None:
    # Availability a_t (docs/model.md §3): power and the state-of-charge bounds scale with it,
    # `initial` with a_0 and `final` with a_(T−1); 1 without `available`.
    avail = _steps(b.available) if b.available is not None else np.ones(n_steps)
    e_min = b.min_soc_kwh * avail
    if b.final_kwh is not None:
        e_min[-1] = max(e_min[-1], b.final_kwh * avail[-1])
    cap = b.capacity_kwh
    parts.add("Bus", b.name, carrier="battery")
    parts.add(
        "Store",
        b.name,
        bus=b.name,
        carrier="battery",
        e_nom=cap,
        e_min_pu=e_min / cap if cap > 0 else 0.0 * e_min,
        e_max_pu=avail,
        e_initial=b.initial_kwh * avail[0],
        e_cyclic=False,
    )
    if b.available is not None:
        # The part of the battery that arrives brings arrival_soc of its capacity, the part
        # that leaves takes departure_soc: a load on the battery's bus (negative: energy in),
        # in kW over the step, so that the store moves by that many kWh.
        rise = np.diff(avail, prepend=avail[0])
        moved = cap * (b.arrival_soc * np.maximum(rise, 0) - b.departure_soc * np.maximum(-rise, 0))
        parts.add("Load", f"{b.name}.fleet", bus=b.name, carrier="battery", p_set=-moved / dt_h)
    cost = b.throughput_cost_per_kwh
    parts.add(
        "Link",
        f"{b.name}.charge",
        bus0=home,
        bus1=b.name,
        carrier="battery",
        p_nom=b.power_kw,
        p_max_pu=avail,
        efficiency=b.efficiency,
        marginal_cost=cost,
    )
    # The link's flow is measured where it leaves the store (discharge/η): its capacity and
    # cost are scaled so that the kW delivered to the home is at most `power` and each kWh
    # delivered pays the throughput cost once, as in pebdsl.
    parts.add(
        "Link",
        f"{b.name}.discharge",
        bus0=b.name,
        bus1=home,
        carrier="battery",
        p_nom=b.power_kw / b.efficiency,
        p_max_pu=avail,
        efficiency=b.efficiency,
        marginal_cost=cost * b.efficiency,
    )


def write_netcdf(design: Any, path: str | Path) -> Path:
    """Write `network(design)` to `path` as netCDF, whole or not at all (E903 if the OS
    refuses); E906 / E905 as `network`. Returns the path."""
    net = network(design)
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="pebdsl-pypsa-") as tmp, _quiet():
        part = Path(tmp) / "network.nc"
        net.export_to_netcdf(part)
        data = part.read_bytes()
    try:
        atomic_write_bytes(path, data)
    except OSError as e:
        raise write_error(path, e) from None
    return path
