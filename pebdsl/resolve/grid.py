"""The grid and the DSO: `grid { buy; sell }` and `dso { … }` with its links and flexibility needs.

Input: the design's `grid` and `dso` declarations (after edits), read through a `Reader`; the
syntax-level blocks (a link or flexibility need at a block removed by the variant goes with it).
Output: `design.Grid` (buy and sell prices per step; no `sell` = 0, `sell = none` = no export)
and `design.Dso` (energy and capacity charges, links, flexibility needs, reinforcement cost).
Errors: E301 no grid or no `buy`, E101 flexibility at an unknown block, E306 a bad link
(`blocks.link`), E302 negative values, E307 a word not among the choices, units and data errors
of the price series.
"""

from __future__ import annotations

import contextlib
from typing import Literal, cast

import numpy as np

import pebdsl.resolve.tariffs as tariffs
from pebdsl import design as D
from pebdsl.diagnostics import did_you_mean, error
from pebdsl.front import syntax as S
from pebdsl.resolve.blocks import link
from pebdsl.resolve.model import Failed, Node, Single
from pebdsl.resolve.reader import Reader, is_word
from pebdsl.source import Span

__all__ = ["dso", "flex_need", "grid"]


def grid(r: Reader) -> D.Grid:
    """The grid's buy price (required) and sell price per step; with `day_ahead` and
    `intraday` stages, the intraday prices as buy/sell and the day-ahead ones apart."""
    single = r.required_single("grid", "grid { buy = 0.30 EUR/kWh; sell = 0.05 EUR/kWh }")
    a = r.attrs(single.items, "grid", (S.Asset,))
    for k, at in a.items():
        r.where[("grid", k)] = at.value.span
    stages = _stages(r, single)
    bidder = "participant"
    if "bidder" in a:
        with contextlib.suppress(Failed):
            bidder = r.word(a["bidder"], ("participant", "block", "community"), "bidder")
    if stages is None:
        buy, sell = _prices(r, a, single.span, "grid")
        if "bidder" in a:
            r.errs.add(
                error(
                    "E307",
                    "`bidder` needs a staged grid",
                    a["bidder"].span,
                    "no day-ahead stage",
                    ("add `day_ahead { buy = …; sell = … }` and `intraday { … }` to the grid",),
                )
            )
        return D.Grid(buy, sell, single.span)
    for k in ("buy", "sell"):
        if k in a:
            r.errs.add(
                error(
                    "E307",
                    f"a staged grid takes `{k}` in `day_ahead` and `intraday`, not at its top",
                    a[k].span,
                    "move into a stage",
                )
            )
    (da_buy, da_sell, da_span), (id_buy, id_sell, _) = stages
    day_ahead = D.DayAhead(da_buy, da_sell, da_span)
    return D.Grid(id_buy, id_sell, single.span, day_ahead, cast(D.Bidder, bidder))


_Stage = tuple[D.FloatArray, D.FloatArray | None, Span]


def _stages(r: Reader, single: Single) -> tuple[_Stage, _Stage] | None:
    """The `day_ahead` and `intraday` stages (both or neither: E301), or None."""
    found: dict[str, S.Asset] = {}
    for it in single.items:
        if isinstance(it, S.Asset):
            if it.kind not in ("day_ahead", "intraday") or it.name is not None:
                r.errs.add(
                    error("E304", f"`{it.kind}` cannot appear in grid", it.span, "misplaced")
                )
            elif it.kind in found:
                r.errs.add(error("E109", f"`{it.kind}` is given twice", it.span, "given again"))
            else:
                found[it.kind] = it
    if not found:
        return None
    for k in ("day_ahead", "intraday"):
        if k not in found:
            other = next(iter(found.values()))
            r.errs.add(
                error(
                    "E301",
                    f"a staged grid needs both `day_ahead` and `intraday`; `{k}` is missing",
                    other.span,
                    f"no {k}",
                    (f"{k} {{ buy = …; sell = … }}",),
                )
            )
            raise Failed
    out = []
    for k in ("day_ahead", "intraday"):
        st = found[k]
        at = r.attrs(st.body.items, k)
        for n, v in at.items():
            r.where[("grid", k, n)] = v.value.span
        buy, sell = _prices(r, at, st.span, k)
        out.append((buy, sell, st.span))
    return out[0], out[1]


def _prices(
    r: Reader, a: dict[str, S.Attribute], span: Span, what: str
) -> tuple[D.FloatArray, D.FloatArray | None]:
    """`buy` (required) and `sell` (absent: 0; `none`: no sale) of the grid or a stage."""
    buy = None
    with contextlib.suppress(Failed):
        buy = r.series(r.need(a, "buy", what, span, "0.30 EUR/kWh"), "price", f"{what} buy price")
    sell: D.FloatArray | None
    if "sell" not in a:
        # No feed-in tariff stated: export is allowed but earns nothing (docs/language.md).
        sell = np.zeros(r.ctx.n if r.ctx else 0)
    elif is_word(a["sell"].value, "none"):
        sell = None
    else:
        sell = r.series(a["sell"], "price", f"{what} sell price")
    if buy is None:
        raise Failed
    return buy, sell


def dso(r: Reader, single: Single) -> D.Dso:
    """The DSO: energy and capacity charges, links and flexibility needs; every part is
    tried, so their errors are reported together."""
    a = r.attrs(single.items, "dso", (S.Link, S.Flexibility))
    energy = None
    failed = False
    if "energy_charge" in a:
        try:
            energy = r.series(a["energy_charge"], "price", "energy_charge")
        except Failed:
            failed = True
    cap = rein = 0.0
    cap_by_step = None
    basis = "participant"
    try:
        if "capacity_charge" in a:  # a constant, or a series constant in each month
            cap, cap_by_step = tariffs.capacity_price(r, a["capacity_charge"], "capacity_charge")
    except Failed:
        failed = True
    try:
        rein = r.const(
            a.get("reinforcement_cost"),
            "capacity_cost_year",
            "reinforcement_cost",
            lo=0,
            default=0.0,
        )
    except Failed:
        failed = True
    if "capacity_basis" in a:
        try:
            basis = r.word(a["capacity_basis"], ("participant", "block"), "capacity_basis")
        except Failed:
            failed = True
    charge_on = "meter"
    if "charge_on" in a:
        try:
            charge_on = r.word(a["charge_on"], ("meter", "purchase"), "charge_on")
        except Failed:
            failed = True
    links: list[D.Link] = []
    needs: list[D.FlexibilityNeed] = []
    blocks = r.m.of_kind("block")
    for it in single.items:
        try:
            if isinstance(it, S.Link):
                links.append(link(r, it, blocks))
            elif isinstance(it, S.Flexibility):
                needs.append(flex_need(r, it, blocks))
        except Failed:
            failed = True
    if failed:
        raise Failed
    return D.Dso(
        energy,
        cap,
        cast(Literal["participant", "block"], basis),
        cast(Literal["meter", "purchase"], charge_on),
        tuple(links),
        tuple(needs),
        rein,
        single.span,
        cap_by_step,
    )


def flex_need(r: Reader, it: S.Flexibility, blocks: dict[str, Node]) -> D.FlexibilityNeed:
    """The DSO's flexibility need at a block (E101 an unknown block)."""
    if it.block.value not in blocks:
        if it.block.value in r.m.removed_names:
            raise Failed
        r.errs.add(
            error(
                "E101",
                f"flexibility at unknown block `{it.block.value}`",
                it.block.span,
                "not a block",
                did_you_mean(it.block.value, blocks),
            )
        )
        raise Failed
    a = r.attrs(it.body.items, "flexibility")
    limit = r.const(
        r.need(a, "limit", "flexibility", it.span, "250 kW"),
        "power",
        "flexibility limit",
        lo=0,
    )
    price = r.const(a["price"], "price", "flexibility price", lo=0) if "price" in a else None
    return D.FlexibilityNeed(it.block.value, limit, price, it.span)
