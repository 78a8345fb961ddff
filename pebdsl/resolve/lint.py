"""Check-time warnings: designs that are valid but almost certainly not what was meant.

Input: a valid `Design` (after `checks.py` found no error), the precise spans the resolver
recorded (`checks.Where`: the `sell` value of the grid, a market's or shared battery's name, …)
and the declared series nobody uses (`unused_series`, found on the syntax by `series_used`).
Output: a list of `Diagnostic`s with severity "warning", sorted by position; the `lint` pass
keeps them on `Design.warnings`, `pebdsl check` prints them (exit 0, or 1 with `--deny-warnings`),
`solve` and `compare` print them to stderr. `merge` picks the warnings a whole file shows when
its base design and every variant are checked together. Raises nothing: a warning must never
stop a valid design, so every rule here only reads what the design holds.

Codes (docs/errors.md has an example and the fix of each):
W101 the grid's sell price exceeds buy (+ energy charge on the purchase basis) at some step
     (import and export at once through one meter pays);
W102 negative buy + energy charge while markets, links or batteries lose energy (energy can be
     burnt on purpose);
W103 a DSO link no market can use;
W104 a shared battery no market reaches;
W105 a declared series never used;
W106 a market that can never trade (no member has energy to sell, only one member has and
     nobody else can use it, or another market with the same members is never worse).

Vectorised: price rules are numpy comparisons over the whole horizon; nothing loops over steps.
Only numpy and the design objects are imported (`pebdsl check` stays fast).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from pebdsl.design import Design, FloatArray, Market
from pebdsl.diagnostics import Diagnostic
from pebdsl.front import syntax as S
from pebdsl.source import NO_SPAN, Span

Where = dict[tuple[str, ...], Span]

_EPS = 1e-12
_NAME = "@name"  # `where` key suffix of a declaration's name span: ("market", m, "@name")


def warning(
    code: str,
    message: str,
    span: Span,
    label: str = "",
    hints: Iterable[str] = (),
    related: tuple[tuple[Span, str], ...] = (),
) -> Diagnostic:
    return Diagnostic(code, message, span, label, tuple(hints), "warning", related)


def lint(
    design: Design, where: Where | None = None, unused_series: Mapping[str, Span] | None = None
) -> list[Diagnostic]:
    """Every warning of `design`, sorted by position (file, offset, code)."""
    where = where or {}
    out: list[Diagnostic] = []
    out += _sell_above_buy(design, where)
    out += _burnable(design, where)
    out += _unused_links(design)
    out += _idle_shared_batteries(design, where)
    for name, span in (unused_series or {}).items():
        out.append(
            warning(
                "W105",
                f"series `{name}` is declared but never used",
                span,
                "never used",
                ("remove it, or use it where it was meant to go",),
            )
        )
    out += _idle_markets(design, where)
    out.sort(key=lambda d: (d.span.source.path, d.span.start, d.code, d.message))
    return out


# -- prices -----------------------------------------------------------------------------------
def charged_buy(design: Design) -> FloatArray:
    """What one more kWh from the grid costs at each step: buy price + DSO energy charge."""
    ec = design.dso.energy_charge_per_kwh
    return design.grid.buy_per_kwh + (0.0 if ec is None else ec)


def arbitrage_charge(design: Design) -> FloatArray:
    """The energy charge that deters importing and exporting at once through one meter: on
    the `purchase` basis every kWh bought pays it; on the `meter` basis (default) the meter
    nets the two flows, so the charge does not apply and only the buy price deters it."""
    ec = design.dso.energy_charge_per_kwh
    if ec is None or design.dso.charge_on == "meter":
        return np.zeros(design.n_steps)
    return ec


def arbitrage_steps(design: Design) -> npt.NDArray[np.intp]:
    """Steps where feeding in pays more than buying costs (import and export through one
    meter at once is then a profit; without a connection limit the LP is unbounded, E502)."""
    if design.grid.sell_per_kwh is None:
        return np.zeros(0, dtype=np.intp)
    threshold = design.grid.buy_per_kwh + arbitrage_charge(design)
    return np.flatnonzero(design.grid.sell_per_kwh > threshold + _EPS)


def when(design: Design, step: int) -> str:
    """A step as local time, the timezone and its index: `2021-06-07 12:00 (UTC, step 12)`."""
    ts = design.time.index[step]
    return f"{ts.strftime('%Y-%m-%d %H:%M')} ({design.time.timezone}, step {step})"


def _money(x: float) -> str:
    return f"{x:.6g}"


def _sell_above_buy(design: Design, where: Where) -> list[Diagnostic]:
    steps = arbitrage_steps(design)
    if not steps.size or design.grid.sell_per_kwh is None:
        return []
    i = int(steps[0])
    buy = float(design.grid.buy_per_kwh[i])
    charge = float(arbitrage_charge(design)[i])
    sell = float(design.grid.sell_per_kwh[i])
    cur = design.currency
    return [
        warning(
            "W101",
            f"feeding in pays more than buying at {when(design, i)}: sell {_money(sell)} > "
            f"buy {_money(buy)} + energy charge {_money(charge)} {cur}/kWh "
            f"({steps.size} of {design.n_steps} steps)",
            where.get(("grid", "sell"), design.grid.span),
            "sells above buy + charges",
            (
                "a participant gains by importing and exporting at once through one meter: "
                "the results there are an artefact (without a connection limit the model is "
                "unbounded, E502)",
                "make `sell` at most `buy` plus the energy charge at every step"
                if design.dso.charge_on == "purchase"
                else "make `sell` at most `buy` at every step (the meter nets import and "
                "export: an energy charge does not deter it)",
            ),
        )
    ]


def _burnable(design: Design, where: Where) -> list[Diagnostic]:
    buy = charged_buy(design)
    neg = np.flatnonzero(buy < -_EPS)
    if not neg.size:
        return []
    lossy: list[tuple[Span, str]] = []
    for m in design.markets.values():
        if m.loss > 0:
            lossy.append((m.span, f"market `{m.name}` loses {100 * m.loss:g} %"))
    for lk in design.dso.links:
        if lk.loss > 0:
            lossy.append((lk.span, f"link `{lk.a} -- {lk.b}` loses {100 * lk.loss:g} %"))
    for b in design.batteries().values():
        if b.efficiency < 1 and b.power_kw > 0:
            lossy.append((b.span, f"battery `{b.name}` is {100 * b.efficiency:g} % efficient"))
    if not lossy:
        return []
    i = int(neg[0])
    shown = ", ".join(text for _, text in lossy[:3]) + (
        f" and {len(lossy) - 3} more" if len(lossy) > 3 else ""
    )
    return [
        warning(
            "W102",
            f"buying from the grid pays at {when(design, i)}: buy + energy charge = "
            f"{_money(float(buy[i]))} {design.currency}/kWh ({neg.size} of {design.n_steps} "
            f"steps), while {shown}",
            where.get(("grid", "buy"), design.grid.span),
            "negative price",
            (
                "at a negative price the cheapest plan imports more than it needs and burns the "
                "rest in losses (round trips in a market, opposite link flows, charging and "
                "discharging a battery at once): those flows are an artefact",
                "keep `buy` plus the energy charge at or above zero, or accept that flows at "
                "those steps are not physical",
            ),
            tuple((s, t) for s, t in lossy if s is not NO_SPAN),
        )
    ]


# -- structure --------------------------------------------------------------------------------
def _trader_blocks(design: Design, m: Market) -> set[str | None]:
    out: set[str | None] = {
        design.participants[p].block for p in m.members if p in design.participants
    }
    out |= {design.shared_batteries[b].block for b in m.batteries if b in design.shared_batteries}
    return out


def _unused_links(design: Design) -> list[Diagnostic]:
    spans = [_trader_blocks(design, m) for m in design.markets.values()]
    out = []
    for lk in design.dso.links:
        if any(lk.a in blocks and lk.b in blocks for blocks in spans):
            continue
        out.append(
            warning(
                "W103",
                f"no market can use link `{lk.a} -- {lk.b}`: no market has members in both "
                f"`{lk.a}` and `{lk.b}`",
                lk.span,
                "unused link",
                (
                    "a market's trades use a link only between blocks it has members in; add "
                    "a market with members in both blocks, or remove the link",
                ),
            )
        )
    return out


def _idle_shared_batteries(design: Design, where: Where) -> list[Diagnostic]:
    reached = {b for m in design.markets.values() for b in m.batteries}
    out = []
    for b in design.shared_batteries.values():
        if b.name in reached:
            continue
        where_from = f"`{b.block}`" if b.block else "`all`"
        out.append(
            warning(
                "W104",
                f"no market reaches shared battery `{b.name}`: it stays idle",
                where.get(("battery", b.name, _NAME), b.span),
                "idle battery",
                (
                    "a shared battery trades through a market whose `members` name "
                    f"{where_from}; add such a market, or remove the battery",
                ),
            )
        )
    return out


def _sources(design: Design, m: Market) -> list[str]:
    """Traders of `m` that have local energy to sell: generation, a battery, a shared one."""
    out = []
    for p in m.members:
        part = design.participants.get(p)
        if part is None:
            continue
        gen = any(bool(np.any(g.profile_kw > 0)) for g in part.generation)
        bat = part.battery is not None and part.battery.power_kw > 0
        if gen or bat:
            out.append(p)
    out += [
        b
        for b in m.batteries
        if b in design.shared_batteries and design.shared_batteries[b].power_kw > 0
    ]
    return out


def _can_use(design: Design, trader: str) -> bool:
    """Whether `trader` can take local energy: a load, a battery, or a shared battery."""
    part = design.participants.get(trader)
    if part is None:
        b = design.shared_batteries.get(trader)
        return b is not None and b.power_kw > 0
    load = part.load is not None and bool(np.any(part.load.profile_kw > 0))
    return load or (part.battery is not None and part.battery.power_kw > 0)


def _export_limited(design: Design, trader: str) -> bool:
    """Whether `trader`'s own feed-in is limited: then selling through a neighbour's
    connection (who feeds it in) is a real use of a market, so it is not flagged."""
    part = design.participants.get(trader)
    if part is None:
        return True
    conns = [part.connection]
    if part.block is not None and part.block in design.blocks:
        conns.append(design.blocks[part.block].connection)
    return any(c is not None and c.export_kw is not None for c in conns)


def _fee_range(m: Market) -> tuple[float, float]:
    """The lowest and highest fee any pair of `m` pays (pair fees or the market's fee)."""
    fees = [*m.pair_fees_per_kwh.values(), m.fee_per_kwh]
    return min(fees), max(fees)


def _dominates(o: Market, m: Market) -> bool:
    """Every trade `m` allows, `o` allows as well at no higher fee and loss."""
    if set(o.members) != set(m.members) or not set(m.batteries) <= set(o.batteries):
        return False
    if not set(m.products) <= set(o.products) or o.loss > m.loss:
        return False
    pairs = set(o.pair_fees_per_kwh) | set(m.pair_fees_per_kwh)
    for pair in pairs:
        if o.pair_fees_per_kwh.get(pair, o.fee_per_kwh) > m.pair_fees_per_kwh.get(
            pair, m.fee_per_kwh
        ):
            return False
    # Pairs named in neither table pay the markets' own fees.
    return o.fee_per_kwh <= m.fee_per_kwh


def _idle_markets(design: Design, where: Where) -> list[Diagnostic]:
    out = []
    markets = list(design.markets.values())
    for i, m in enumerate(markets):
        span = where.get(("market", m.name, _NAME), m.span)
        sources = _sources(design, m)
        traders = list(m.members) + [b for b in m.batteries if b not in m.members]
        if not sources:
            out.append(
                warning(
                    "W106",
                    f"market `{m.name}` can never trade local energy: no member has "
                    "generation or a battery to sell from",
                    span,
                    "nothing to sell",
                    (
                        "its members could only pass grid energy around; add members with "
                        "generation or storage, or remove the market",
                    ),
                )
            )
            continue
        if len(sources) == 1:
            seller = sources[0]
            others = [a for a in traders if a != seller]
            feed_in = design.grid.sell_per_kwh is not None
            if not any(_can_use(design, a) for a in others) and not (
                feed_in and _export_limited(design, seller)
            ):
                out.append(
                    warning(
                        "W106",
                        f"market `{m.name}` can never trade: only `{seller}` has energy to "
                        "sell, and no other member can use it (no load, no battery)",
                        span,
                        "no buyer",
                        ("add members that consume or store energy, or remove the market",),
                    )
                )
                continue
        # A market is dominated by another with the same traders and no higher fee or loss
        # (`o` trades every product `m` does); of two equal ones the later one is flagged.
        for j, o in enumerate(markets):
            if o is m or not _dominates(o, m):
                continue
            if _dominates(m, o) and j > i:
                continue
            out.append(
                warning(
                    "W106",
                    f"market `{m.name}` can never do better than market `{o.name}`: the same "
                    "members, and its fee and loss are no lower",
                    span,
                    f"dominated by `{o.name}`",
                    (
                        f"every trade here is at least as cheap in `{o.name}`; remove "
                        f"`{m.name}`, or make it differ (members, fee, loss, products)",
                    ),
                    ((where.get(("market", o.name, _NAME), o.span), f"`{o.name}` is declared"),),
                )
            )
            break
    return out


# -- series -----------------------------------------------------------------------------------
_LEAVES = (S.Number, S.Quantity, S.String, S.Bool, S.DateTime, S.Unit, S.Name, Span)


def refs(node: Any) -> set[str]:
    """Every one-part name a syntax subtree refers to (`spot`, `home`, `alice`, `p2p`, …)."""
    out: set[str] = set()
    stack = [node]
    while stack:
        x = stack.pop()
        if isinstance(x, S.Ref):
            if len(x.path.parts) == 1:
                out.add(x.path.parts[0])
            continue
        if isinstance(x, _LEAVES):
            continue  # no names inside: skips a long inline list's numbers cheaply
        if isinstance(x, tuple | list):
            stack.extend(x)
        elif dataclasses.is_dataclass(x) and not isinstance(x, type):
            stack.extend(getattr(x, f.name) for f in dataclasses.fields(x))
    return out


def series_used(file: S.File, extra: Iterable[Any] = ()) -> set[str]:
    """Names of the series the file uses anywhere (the base design, any variant, or `extra`
    syntax such as `--set` edits), directly or through other used series."""
    graph: dict[str, set[str]] = {}
    roots: set[str] = set()

    def visit(items: Iterable[Any]) -> None:
        for it in items:
            if isinstance(it, S.SeriesDecl):
                graph.setdefault(it.name.value, set()).update(refs(it.value))
            elif isinstance(it, S.VariantDecl):
                visit(it.items)
            else:
                roots.update(refs(it))

    visit(file.decls)
    visit(extra)
    used: set[str] = set()
    todo = [r for r in roots if r in graph]
    while todo:
        name = todo.pop()
        if name in used:
            continue
        used.add(name)
        todo.extend(r for r in graph.get(name, ()) if r in graph and r not in used)
    return used


# -- a file's warnings over its variants --------------------------------------------------------
def _inside(span: Span, outer: Span) -> bool:
    return (
        outer is not NO_SPAN
        and span.source.path == outer.source.path
        and outer.start <= span.start < outer.end
    )


def merge(designs: Mapping[str | None, Design]) -> list[Diagnostic]:
    """The warnings of one file whose base design (key None) and variants were loaded together.

    The base's warnings all count. A variant's edits are deliberate, so a warning they cause on
    the base's text (`without market m` leaves a link unused) is shown only when that variant is
    loaded on its own (`check --variant NAME`, `solve --variant NAME`); a warning on text the
    variant wrote itself (a market it adds, a price it sets) is shown here, once. Without the
    base among `designs`, every loaded variant counts in full."""
    out: list[Diagnostic] = []
    seen: set[tuple[str, str, int, str]] = set()
    has_base = None in designs
    for name, d in designs.items():
        for w in d.warnings:
            if has_base and name is not None and not _inside(w.span, d.variant_span):
                continue
            key = (w.code, w.span.source.path, w.span.start, w.message)
            if key not in seen:
                seen.add(key)
                out.append(w)
    out.sort(key=lambda d: (d.span.source.path, d.span.start, d.code, d.message))
    return out


__all__ = ["arbitrage_steps", "charged_buy", "lint", "merge", "series_used", "when"]
