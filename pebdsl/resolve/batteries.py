"""Batteries: a participant's own battery and shared batteries with their owners and shares.

Input: a battery body (a participant's `battery { … }` or a named `battery NAME { … }` at the
top level or in a block), read through a `Reader`. Output: `design.Battery` (capacity, power,
efficiency, states of charge in kWh, charging rule, throughput cost, owners with shares summing
to 1). Errors: E301 missing capacity/power or `shares` without `owners`, E302 values out of
range, E304 `owners`/`shares` on a participant's battery, E101/E103/E308 bad owner names,
E307 bad shares, E202 a state of charge that is neither a share nor an energy, E310 states of
charge that contradict each other (`checks.check_battery`).
"""

from __future__ import annotations

from typing import Any, Literal, cast

import pebdsl.resolve.tariffs as tariffs
from pebdsl import design as D
from pebdsl import units as U
from pebdsl.diagnostics import Diagnostic, PebdslError, did_you_mean, error
from pebdsl.front import syntax as S
from pebdsl.resolve.checks import check_battery
from pebdsl.resolve.model import Failed
from pebdsl.resolve.reader import Reader, is_word
from pebdsl.resolve.series import strip
from pebdsl.resolve.sizing import size
from pebdsl.source import Span

__all__ = ["battery", "battery_owners", "soc"]


def battery(
    r: Reader, items: list[Any], span: Span, name: str, owner: str | None, block: str | None
) -> D.Battery:
    """A battery (a participant's own when `owner` is set, else shared) in kWh and kW, its
    states of charge checked against each other (E310)."""
    a = r.attrs(items, "battery")
    for k, at in a.items():
        r.where[("battery", name, k)] = at.value.span
    cap = size(
        r,
        r.need(a, "capacity", "battery", span, "10 kWh"),
        "energy",
        "battery capacity",
        f"{name}.capacity",
    )
    power = size(
        r, r.need(a, "power", "battery", span, "5 kW"), "power", "battery power", f"{name}.power"
    )
    eff = r.const(
        a.get("efficiency"),
        "ratio",
        "battery efficiency",
        lo=0,
        hi=1,
        lo_open=True,
        default=1.0,
    )
    min_soc, min_share = soc(r, a.get("min_soc"), cap, "min_soc", 0.0)
    initial, initial_share = soc(r, a.get("initial"), cap, "initial", 0.0)
    final: float | None = None
    final_share: float | None = None
    if "final" in a:
        if is_word(a["final"].value, "initial"):
            final, final_share = initial, initial_share
        elif is_word(a["final"].value, "none"):
            final = None
        else:
            final, final_share = soc(r, a["final"], cap, "final", 0.0)
    charge_from = "any"
    if "charge_from" in a:
        charge_from = r.word(a["charge_from"], ("any", "local"), "charge_from")
    cost = r.const(a.get("throughput_cost"), "price", "throughput_cost", lo=0, default=0.0)
    owners = battery_owners(r, a, span, owner is not None)
    available, arrival, departure = tariffs.battery_availability(r, a, span, cap)
    stage = _stage(r, a, span)
    b = D.Battery(
        name,
        cap,
        power,
        eff,
        min_soc,
        initial,
        final,
        cast(Literal["any", "local"], charge_from),
        cost,
        owner,
        block,
        span,
        owners,
        available,
        arrival,
        departure,
        stage,
        min_share,
        initial_share,
        final_share,
    )
    assert r.ctx is not None
    diags = check_battery(b, r.ctx.grid.duration_h, r.where)
    if diags:
        r.errs.diags.extend(diags)
        raise Failed
    return b


def battery_owners(
    r: Reader, a: dict[str, S.Attribute], span: Span, private: bool
) -> tuple[tuple[str, float], ...]:
    """A shared battery's `owners` (participants) and `shares` (positive numbers or
    percentages, one per owner, scaled to sum to 1; default equal shares). Owners removed
    by a variant are dropped. E304 on a participant's own battery, E301 `shares` without
    `owners`, E101/E103/E308 bad names, E307/E302 bad shares."""
    if private:
        for k in ("owners", "shares"):
            if k in a:
                r.errs.add(
                    error(
                        "E304",
                        f"`{k}` applies to shared batteries only",
                        a[k].name.span,
                        "misplaced",
                        ("a participant's own battery belongs to that participant",),
                    )
                )
                raise Failed
        return ()
    if "owners" not in a:
        if "shares" in a:
            r.need(a, "owners", "a battery with `shares`", span, "[alice, bob]")
        return ()
    names = _owner_names(r, a["owners"])
    shares = _shares(r, a, len(names))
    kept = [(n, w) for (n, _), w in zip(names, shares, strict=True) if n not in r.m.removed_names]
    total = sum(w for _, w in kept)
    return tuple((n, w / total) for n, w in kept) if kept else ()


def _owner_names(r: Reader, owners: S.Attribute) -> list[tuple[str, Span]]:
    """The participants an `owners` list names, with their spans (those the variant removed
    included, so the shares still line up); E307 not a name, E308 twice, E103/E101."""
    v = strip(owners.value)
    items = [strip(it) for it in (v.items if isinstance(v, S.List) else (v,))]
    names: list[tuple[str, Span]] = []
    seen: dict[str, Span] = {}
    ok = True
    for it in items:
        if not (isinstance(it, S.Ref) and len(it.path.parts) == 1):
            r.errs.add(error("E307", "owners are participant names", it.span, "not a name"))
            ok = False
            continue
        if it.name in seen:
            r.errs.add(
                Diagnostic(
                    "E308",
                    f"`{it.name}` is listed twice",
                    it.span,
                    "listed again",
                    related=((seen[it.name], "first listed here"),),
                )
            )
            ok = False
            continue
        seen[it.name] = it.span
        node = r.m.nodes.get(it.name)
        if node is not None and node.kind == "participant":
            names.append((it.name, it.span))
        elif node is not None:
            r.errs.add(
                error(
                    "E103",
                    f"`{it.name}` is a {node.kind}, not a participant",
                    it.span,
                    "expected a participant",
                )
            )
            ok = False
        elif it.name in r.m.removed_names:
            names.append((it.name, it.span))  # dropped below, after the shares line up
        else:
            cands = [k for k, n in r.m.nodes.items() if n.kind == "participant"]
            r.errs.add(
                error(
                    "E101",
                    f"unknown participant `{it.name}`",
                    it.span,
                    "not declared",
                    (*did_you_mean(it.name, cands),),
                )
            )
            ok = False
    if not ok:
        raise Failed
    return names


def _shares(r: Reader, a: dict[str, S.Attribute], n_owners: int) -> list[float]:
    """The `shares` of `n_owners` owners (default equal): E307 a wrong count, E302 not > 0."""
    if "shares" not in a:
        return [1.0] * n_owners
    sv = strip(a["shares"].value)
    sitems = list(sv.items) if isinstance(sv, S.List) else [sv]
    if len(sitems) != n_owners:
        r.errs.add(
            error(
                "E307",
                f"`shares` needs one share per owner: {n_owners} owners, {len(sitems)} shares",
                a["shares"].value.span,
                "wrong number of shares",
            )
        )
        raise Failed
    assert r.ctx is not None
    shares = []
    for it in sitems:
        try:
            x = r.ctx.constant(it, "ratio", "share")
        except PebdslError as e:
            r.errs.diags.extend(e.diagnostics)
            raise Failed from None
        if not x > 0:
            r.errs.add(error("E302", f"a share must be positive, got {x:g}", it.span, "not > 0"))
            raise Failed
        shares.append(x)
    return shares


def soc(
    r: Reader, a: S.Attribute | None, cap_kwh: float, what: str, default: float
) -> tuple[float, float | None]:
    """A state of charge given as a share of the capacity or as an energy: (kWh at the
    capacity `cap_kwh`, the share as written or None for an energy)."""
    if a is None:
        return default, None
    assert r.ctx is not None
    e = strip(a.value)
    try:
        s = r.ctx.eval(e)
    except PebdslError as err:
        r.errs.diags.extend(err.diagnostics)
        raise Failed from None
    if s.dims == ():
        share = r.const(a, "ratio", what, lo=0, hi=1)
        return share * cap_kwh, share
    if s.dims == U.DIMENSIONS["energy"].dims:
        return r.const(a, "energy", what, lo=0), None
    r.errs.add(
        error(
            "E202",
            f"{what} needs a share (e.g. 50 %) or an energy (e.g. "
            f"5 kWh), got {U.dims_name(s.dims)}",
            a.value.span,
            "expected a share or energy",
        )
    )
    raise Failed


def _stage(r: Any, a: Any, span: Any) -> int:
    """A battery's `stage`: 1 = its schedule is committed day-ahead (identical in every
    scenario), 2 (default) = per scenario (E302 otherwise)."""
    stage_v = r.const(a.get("stage"), "ratio", "battery stage", default=2.0)
    if stage_v not in (1.0, 2.0):
        r.errs.add(
            error(
                "E302",
                "battery `stage` is 1 (committed day-ahead) or 2 (per scenario)",
                a["stage"].value.span if "stage" in a else span,
                "not 1 or 2",
            )
        )
        raise Failed
    return int(stage_v)
