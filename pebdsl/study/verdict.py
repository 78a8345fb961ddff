"""The verdict of a comparison: a ranking and one sentence per design on why.

Input: compared cases (anything with `.file`, `.label`, `.variant`, `.summary` — the summary
dict of docs/compare.md — and `.results` / `.error`; a `pebdsl.study.compare.Case` or a
test's stand-in). Output: `verdict(cases) -> list[Verdict]`, solved cases first, ranked per
file and reference by real cost over the horizon (`total_cost`, cheapest first; docs/kpis.md:
real money, not the objective's shadow terms), then the failed ones (no rank). Cases measured
against different references (a June week and a January week of one file, each against its
own season's reference) are ranked apart: their costs are of different weeks. Each
`Verdict.text` says, in words, what the design buys against its reference (the case's
`Design.reference`: the variant's own, else its file's) — which of the three values
(docs/kpis.md) it delivers and by how much — and what it costs: its saving, or its extra cost,
with the split into trade and storage when there is one. Data only: the compare page
(present/report/compare_page.py) and the terminal (console.py) show it. Raises nothing.

Why rank by real cost: it is the one number every case has in the same unit; the values are
what the cost buys, so they are the reasons, not the order. Deferral value (value 2) is an
annual saving of the DSO, not a payment within the horizon, so it is named, not added. A file's
costs are ranked among themselves only: designs of different files do not share a reference.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Below these a value "did not change": solver tolerances, not a design's effect.
_EPS_SHARE = 0.005  # half a percentage point of the PV surplus
_EPS_KW = 0.05
_EPS_KWH = 0.0005
_EPS_MONEY = 1e-6


@dataclass(frozen=True)
class Verdict:
    """One design's place and reason. `rank` is 1 for the cheapest of its file and reference
    (None: failed); `group` names that reference when a file has more than one."""

    file: str
    label: str
    rank: int | None
    total_cost: float | None
    currency: str
    text: str
    is_reference: bool = False
    group: str | None = None


def amount(x: float) -> str:
    """A money or energy figure with enough digits to be seen (0.0016, not 0.00): two decimals
    from 1 up, three significant digits below, thousands separated."""
    if x == 0 or not math.isfinite(x):
        return f"{x:,.2f}"
    digits = max(2, min(6, 2 - math.floor(math.log10(abs(x)))))
    return f"{x:,.{digits}f}"


def _share(x: float) -> str:
    return f"{100 * x:.0f} %"


def _reference_name(c: Any) -> str | None:
    """The name of the variant `c` is measured against (its design's reference), or None."""
    r = getattr(c, "results", None)
    name = getattr(r.design, "reference", None) if r is not None else None
    return str(name) if name else None


def _reference_of(c: Any, group: list[Any]) -> Any:
    """The case of `group` that `c` is measured against (its design's reference), or None."""
    name = _reference_name(c)
    return next((g for g in group if name and g.variant == name), None)


def _failed(c: Any) -> bool:
    return getattr(c, "error", None) is not None or getattr(c, "results", None) is None


def verdict(cases: Iterable[Any]) -> list[Verdict]:
    """Ranked verdicts: per file in the order files first appear, solved cases by real cost
    (ties: more PV surplus balanced locally, then the declaration order), failed ones last."""
    by_file: dict[str, list[Any]] = {}
    for c in cases:
        by_file.setdefault(str(c.file), []).append(c)
    out: list[Verdict] = []
    for file, group in by_file.items():
        solved = [c for c in group if not _failed(c) and c.summary.get("total_cost") is not None]
        by_ref: dict[str | None, list[Any]] = {}
        for c in solved:
            by_ref.setdefault(_reference_name(c), []).append(c)
        for ref_name, ok in by_ref.items():
            ok.sort(
                key=lambda c: (float(c.summary["total_cost"]), -_num(c, "pv_surplus_local_share"))
            )
            tag = ref_name if len(by_ref) > 1 else None
            for i, c in enumerate(ok, start=1):
                ref = _reference_of(c, group)
                out.append(
                    Verdict(
                        file=file,
                        label=str(c.label),
                        rank=i,
                        total_cost=float(c.summary["total_cost"]),
                        currency=str(c.summary.get("currency") or ""),
                        text=_sentence(c, ref, i == 1 and len(ok) > 1, tag),
                        is_reference=ref is c,
                        group=tag,
                    )
                )
        for c in group:
            if c not in solved:
                status = (c.summary or {}).get("status") or "error"
                out.append(
                    Verdict(file, str(c.label), None, None, "", f"failed ({status}): not ranked.")
                )
    return out


def _num(c: Any, key: str) -> float:
    v = ((getattr(c, "summary", None) or {}).get("values") or {}).get(key)
    return float(v) if v is not None else 0.0


def _sentence(c: Any, ref: Any, best: bool, group: str | None = None) -> str:
    """What the case buys (its values against the reference) and what it costs; `group` names
    the reference when the file ranks cases against more than one."""
    s: Mapping[str, Any] = c.summary
    cur = str(s.get("currency") or "")
    cost = f"{amount(float(s['total_cost']))} {cur}".strip()
    among = f" measured against {group}" if group else ""
    lead = f"the cheapest design{among}: " if best else ""
    if ref is not None and c is ref:
        return (
            f"{lead}the reference, {cost} over the horizon; "
            "every saving and value below is measured against it."
        )
    buys = _buys(s, ref.summary if ref is not None else None, cur)
    saving = s.get("saving")
    if saving is None:
        price = f"costs {cost} (no reference to measure a saving against)"
    elif abs(float(saving)) <= _EPS_MONEY:
        price = f"costs {cost}, the same as the reference"
    elif float(saving) > 0:
        price = f"costs {cost}, {amount(float(saving))} {cur} less than the reference"
        price += _split(s, cur)
    else:
        price = f"costs {cost}, {amount(-float(saving))} {cur} more than the reference"
        price += _split(s, cur)
    what = "buys " + _join(buys) if buys else "buys none of the three values beyond the reference"
    return f"{lead}{what}; {price}."


def _split(s: Mapping[str, Any], cur: str) -> str:
    """The saving's split into trade and storage, where compare made one."""
    trade, storage = s.get("saving_trade"), s.get("saving_storage")
    if trade is None or storage is None:
        return ""
    parts = []
    if abs(float(trade)) > _EPS_MONEY:
        parts.append(f"{amount(float(trade))} {cur} from trade")
    if abs(float(storage)) > _EPS_MONEY:
        parts.append(f"{amount(float(storage))} {cur} from storage")
    return f" ({' and '.join(parts)})" if parts else ""


def _buys(s: Mapping[str, Any], ref: Mapping[str, Any] | None, cur: str) -> list[str]:
    """The values the case delivers beyond the reference (or at all, without one)."""
    v = s.get("values") or {}
    rv = (ref or {}).get("values") or {}
    out: list[str] = []
    share, ref_share = v.get("pv_surplus_local_share"), rv.get("pv_surplus_local_share")
    if share is not None:
        base = float(ref_share) if ref_share is not None else 0.0
        if float(share) - base > _EPS_SHARE:
            tail = f" (reference {_share(base)})" if ref is not None else ""
            out.append(
                f"local balancing of {_share(float(share))} of the PV surplus{tail} [value 1]"
            )
    cut = v.get("peak_reduction_kw")
    if cut is not None and abs(float(cut)) > _EPS_KW:
        if float(cut) > 0:
            worth = v.get("deferral_value")
            money = f", worth {amount(float(worth))} {cur}/year to the DSO" if worth else ""
            out.append(f"a peak import {float(cut):.1f} kW lower{money} [value 2]")
        else:
            out.append(f"a peak import {-float(cut):.1f} kW higher [value 2, lost]")
    trade = v.get("local_trade_kwh")
    if trade is not None and float(trade) - float(rv.get("local_trade_kwh") or 0) > _EPS_KWH:
        out.append(f"{amount(float(trade))} kWh of local trade [value 3]")
    flex = v.get("flexibility_kwh")
    if flex is not None and float(flex) - float(rv.get("flexibility_kwh") or 0) > _EPS_KWH:
        out.append(f"{amount(float(flex))} kWh of flexibility to the DSO [value 3]")
    return out


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
