"""Rule checks across a resolved design: what no single attribute can tell.

Input: a `Design` (built by the resolve passes, or directly in Python by tests) and optionally
a table of precise spans (`Where`) recorded by the resolver for attributes (`("market", "p2p",
"members")` -> the span of `members = ...`), so errors point at the value that broke the rule
rather than at the whole declaration.
Output: a list of `Diagnostic`s (empty when the design is fine); the caller raises them together
in one `PebdslError` (sorted and capped there).

Errors: E101 a name that is not declared (market member, flexibility block), E302 value out of
range (loss, efficiency, shares), E305 market with fewer than two members, E306 link between
unknown or identical blocks, E308 a participant in two blocks (or listed twice), E309 an empty
block, E310 battery states of charge that contradict each other (min_soc <= initial <= capacity,
min_soc <= capacity, final <= capacity, final reachable from initial at full power), E313 a
market whose trades cross DSO links (the DSO declares links and the market has traders in a
block) with members or shared batteries outside every block: links join blocks only, so those
would be cut off from the rest of the market. E322 a PV or wind peak sized by `invest(...)`
whose owner's available output a rule reads as a constant (lower/local.py's own use, origin
and premium rules; a hard `pv_surplus_local` goal): with the size a decision those rules would
not be linear.

A shared battery that no market reaches is allowed: it stays idle (a variant `without market X`
must still be a valid design), see docs/language.md; `lint.py` warns about it (W104).
"""

from __future__ import annotations

from pebdsl.design import Battery, Design, Market
from pebdsl.diagnostics import Diagnostic, did_you_mean, error
from pebdsl.source import Span

Where = dict[tuple[str, ...], Span]

_EPS = 1e-9


def check_design(design: Design, where: Where | None = None) -> list[Diagnostic]:
    """Every cross-object rule violated by `design` (empty list when it is valid)."""
    where = where or {}
    out: list[Diagnostic] = []
    out += _check_blocks(design, where)
    for b in design.batteries().values():
        out += check_battery(b, design.time.duration_h, where)
    out += _check_markets(design, where)
    out += _check_dso(design, where)
    out += _check_sized_generation(design)
    return out


def _check_sized_generation(design: Design) -> list[Diagnostic]:
    """E322 (module docstring): the rules that read a participant's available generation as a
    constant — own use min(available, load) in the local-energy and origin rows, the premium
    cap, the surplus of the hard `pv_surplus_local` goal — would need min/max of a decision."""
    out = []
    hard_share = next(
        (g for g in design.goals if g.metric == "pv_surplus_local" and not g.prefer), None
    )
    for path, inv in design.investments.items():
        owner, _, rest = path.partition(".")
        if rest not in ("pv.peak", "wind.peak") or owner not in design.participants:
            continue
        why = _reads_generation(design, owner)
        hint = "write a constant peak and size it as options of a `choice` (docs/tailor.md)"
        if why is None and hard_share is not None:
            why = f"the hard goal `{hard_share.text}` (its surplus is max(output − load, 0))"
            hint = f"make the goal a preference: `prefer {hard_share.text}`, or {hint}"
        if why is None:
            continue
        out.append(
            error(
                "E322",
                f"the {rest.replace('.', ' ')} of {owner} cannot be sized here: {why} reads "
                "its output as a constant",
                inv.span,
                "a size that rule cannot follow",
                (hint,),
            )
        )
    return out


def _reads_generation(design: Design, owner: str) -> str | None:
    """The first rule that reads `owner`'s available generation as a constant, in words."""
    own = design.participants[owner].battery
    if own is not None and own.charge_from == "local":
        return "its battery's `charge_from = local` (own use comes first)"
    for m in design.markets.values():
        if owner not in m.members:
            continue
        local_only = any(
            design.shared_batteries[b].charge_from == "local" for b in m.batteries
        ) or any(
            (bat := design.participants[p].battery) is not None and bat.charge_from == "local"
            for p in m.members
            if p in design.participants
        )
        if local_only:
            return f"market {m.name}, which trades local energy only,"
        for k in m.products:
            prod = design.products.get(k)
            if prod is not None and (prod.origin is not None or prod.premium_per_kwh > 0):
                return f"product {k} (its origin or premium) in market {m.name}"
    return None


def _at(where: Where, key: tuple[str, ...], default: Span) -> Span:
    return where.get(key, default)


def _check_blocks(design: Design, where: Where) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    seen: dict[str, str] = {}
    for b in design.blocks.values():
        if not b.participants:
            out.append(
                error(
                    "E309",
                    f"block `{b.name}` has no participants",
                    b.span,
                    "empty block",
                    ("declare participants inside the block, or remove it",),
                )
            )
        for p in b.participants:
            if p in seen and seen[p] != b.name:
                out.append(
                    error(
                        "E308",
                        f"participant `{p}` is in two blocks, `{seen[p]}` and `{b.name}`",
                        b.span,
                        "second block",
                    )
                )
            seen[p] = b.name
            part = design.participants.get(p)
            if part is not None and part.block not in (None, b.name):
                out.append(
                    error(
                        "E308",
                        f"participant `{p}` is in block `{part.block}` but listed in `{b.name}`",
                        b.span,
                    )
                )
    return out


def check_battery(b: Battery, duration_h: float, where: Where) -> list[Diagnostic]:
    """State-of-charge rules of one battery (E302, E310)."""
    out: list[Diagnostic] = []
    key = ("battery", b.name)

    def at(attr: str) -> Span:
        return _at(where, (*key, attr), b.span)

    if not 0 < b.efficiency <= 1:
        out.append(
            error(
                "E302",
                f"battery efficiency must be in (0, 1], got {b.efficiency:g}",
                at("efficiency"),
                "out of range",
            )
        )
    if b.capacity_kwh < 0 or b.power_kw < 0:
        out.append(error("E302", "battery capacity and power must not be negative", b.span))
    if b.min_soc_kwh > b.capacity_kwh + _EPS:
        out.append(
            error(
                "E310",
                f"min_soc ({b.min_soc_kwh:g} kWh) is above the capacity ({b.capacity_kwh:g} kWh)",
                at("min_soc"),
                "above capacity",
            )
        )
    if b.initial_kwh > b.capacity_kwh + _EPS:
        out.append(
            error(
                "E310",
                f"initial state of charge ({b.initial_kwh:g} kWh) is above the "
                f"capacity ({b.capacity_kwh:g} kWh)",
                at("initial"),
                "above capacity",
            )
        )
    elif b.initial_kwh < b.min_soc_kwh - _EPS:
        out.append(
            error(
                "E310",
                f"initial state of charge ({b.initial_kwh:g} kWh) is below "
                f"min_soc ({b.min_soc_kwh:g} kWh)",
                at("initial"),
                "below min_soc",
                ("the battery starts between min_soc and its capacity",),
            )
        )
    if b.final_kwh is not None:
        if b.final_kwh > b.capacity_kwh + _EPS:
            out.append(
                error(
                    "E310",
                    f"final state of charge ({b.final_kwh:g} kWh) is above "
                    f"the capacity ({b.capacity_kwh:g} kWh)",
                    at("final"),
                    "above capacity",
                )
            )
        elif b.initial_kwh <= b.capacity_kwh + _EPS:
            # Charging at full power for the whole horizon must be able to reach `final`,
            # otherwise the model is infeasible for a reason the user can see here.
            reach = b.initial_kwh + b.power_kw * b.efficiency * duration_h
            if b.final_kwh > reach + 1e-6:
                out.append(
                    error(
                        "E310",
                        f"final state of charge ({b.final_kwh:g} kWh) cannot "
                        f"be reached: at most {reach:g} kWh at full power over the "
                        "horizon",
                        at("final"),
                        "unreachable",
                    )
                )
    return out


def _check_markets(design: Design, where: Where) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for m in design.markets.values():
        members_span = _at(where, ("market", m.name, "members"), m.span)
        unknown = [p for p in m.members if p not in design.participants]
        for p in unknown:
            out.append(
                error(
                    "E101",
                    f"unknown participant `{p}` in market `{m.name}`",
                    members_span,
                    "not declared",
                    did_you_mean(p, design.participants),
                )
            )
        if len(set(m.members)) != len(m.members):
            out.append(error("E308", f"market `{m.name}` lists a member twice", members_span))
        if len(set(m.members)) < 2:
            n = len(set(m.members))
            out.append(
                error(
                    "E305",
                    f"market `{m.name}` has {n} member{'s' if n != 1 else ''}; "
                    "a market needs at least two",
                    members_span,
                    "fewer than two members",
                )
            )
        if not 0 <= m.loss < 1:
            out.append(
                error(
                    "E302",
                    f"market loss must be in [0, 1), got {m.loss:g}",
                    _at(where, ("market", m.name, "loss"), m.span),
                    "out of range",
                )
            )
        for b in m.batteries:
            if b not in design.shared_batteries:
                out.append(
                    error("E101", f"unknown shared battery `{b}` in market `{m.name}`", m.span)
                )
        out += _outside_blocks(design, m, members_span)
    return out


def _outside_blocks(design: Design, m: Market, span: Span) -> list[Diagnostic]:
    """E313: with DSO links, a market's nodes are its blocks; traders outside every block
    would form a node no link reaches."""
    if not design.dso.links:
        return []
    blocks: dict[str, str | None] = {
        p: design.participants[p].block for p in m.members if p in design.participants
    }
    blocks.update(
        {b: design.shared_batteries[b].block for b in m.batteries if b in design.shared_batteries}
    )
    outside = [a for a, b in blocks.items() if b is None]
    if not outside or len(outside) == len(blocks):
        return []
    shown = ", ".join(f"`{a}`" for a in outside[:5]) + (
        f" and {len(outside) - 5} more" if len(outside) > 5 else ""
    )
    return [
        error(
            "E313",
            f"market `{m.name}` trades between blocks over DSO links, but {shown} "
            f"{'is' if len(outside) == 1 else 'are'} outside every block",
            span,
            "members outside every block",
            (
                "DSO links join blocks only, so these could not trade with the members in "
                "blocks; put them in a block (or leave them out of this market)",
            ),
        )
    ]


def _check_dso(design: Design, where: Where) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    seen: set[frozenset[str]] = set()
    for link in design.dso.links:
        for end in (link.a, link.b):
            if end not in design.blocks:
                out.append(
                    error(
                        "E306",
                        f"link to unknown block `{end}`",
                        link.span,
                        "not a block",
                        did_you_mean(end, design.blocks),
                    )
                )
        if link.a == link.b:
            out.append(
                error(
                    "E306",
                    f"link from block `{link.a}` to itself",
                    link.span,
                    "same block at both ends",
                )
            )
        pair = frozenset((link.a, link.b))
        if pair in seen:
            out.append(
                error(
                    "E306",
                    f"second link between `{link.a}` and `{link.b}`",
                    link.span,
                    "duplicate link",
                )
            )
        seen.add(pair)
        if not 0 <= link.loss < 1:
            out.append(error("E302", f"link loss must be in [0, 1), got {link.loss:g}", link.span))
    for need in design.dso.flexibility:
        if need.block not in design.blocks:
            out.append(
                error(
                    "E101",
                    f"flexibility at unknown block `{need.block}`",
                    need.span,
                    "not a block",
                    did_you_mean(need.block, design.blocks),
                )
            )
    return out
