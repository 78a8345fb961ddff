"""Post-solve notes: what an optimal plan does that a real one would not (or need not).

Input: the design, invert's `Dispatch` (time series) and `Trades` (per market and product the
kW each trader sent and received). Output: `find_notes(design, dispatch, trades)`, a tuple of
JSON-safe dicts `{"code", "message", …}` that `pebdsl.solve` keeps on `Results.notes`,
`results.json` lists under `notes` and the report shows in its "Notes" section. Raises nothing.

Codes (docs/errors.md, "Notes after a solve"):
N101 a market traded nothing over the horizon (`market`);
N102 a participant imports and exports at once in some steps (`participant`): one meter both
     ways, which only pays when feeding in earns more than buying costs (W101) or as a dump;
N103 a trader both buys and sells in one market in the same step (`market`, `participant`; in
     a market of pair trades also `counterparts`: those it traded with both ways): circulating
     energy that pays a fee and a loss for nothing, unless a premium or a charge rewards it;
N104 a DSO link carries flows both ways in the same step (`link`): energy sent around a loop.
Each note with steps also has `steps` (how many), `first_step`, `first_time` (ISO 8601, local)
and `kwh` (the energy involved: the smaller of the two opposite flows, summed over the steps).

Threshold: a flow counts above `EPS_KW` (1e-6 kW, ten times HiGHS's feasibility tolerance).
Vectorised: numpy over (entity x step) arrays; loops only over markets, traders and links.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from pebdsl.design import Design
from pebdsl.invert.records import Dispatch, ProductFlow, Trades

EPS_KW = 1e-6

Bool2 = npt.NDArray[np.bool_]
Float2 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class _Solved:
    """What the notes read of one solve."""

    design: Design
    dispatch: Dispatch
    trades: Trades

    @property
    def markets_ts(self) -> pd.DataFrame:
        return self.dispatch.markets_ts

    @property
    def participants_ts(self) -> pd.DataFrame:
        return self.dispatch.participants_ts

    @property
    def links_ts(self) -> pd.DataFrame:
        return self.dispatch.links_ts


# A note: JSON-safe {"code", "message", and the facts of the module docstring}.
Note = dict[str, Any]


def find_notes(design: Design, dispatch: Dispatch, trades: Trades) -> tuple[Note, ...]:
    """Every note of one solve, in code order, then by name (see the module docstring)."""
    results = _Solved(design, dispatch, trades)
    out: list[dict[str, Any]] = []
    out += _idle_markets(results)
    out += _import_and_export(results)
    out += _circulating(results)
    out += _opposite_links(results)
    return tuple(out)


def _series(df: pd.DataFrame, entity: str, quantity: str, n: int) -> Float2:
    if (entity, quantity) in df.columns:
        return np.asarray(df[(entity, quantity)].to_numpy(dtype=float), dtype=np.float64)
    return np.zeros(n)


def _steps(results: _Solved, both: Bool2, a: Float2, b: Float2) -> list[dict[str, Any]]:
    """Per row of `both` (entity x step) with any True: the step facts of a note (or {})."""
    d = results.design
    counts = both.sum(axis=1)
    first = both.argmax(axis=1)
    kwh = (np.where(both, np.minimum(a, b), 0.0)).sum(axis=1) * d.dt_h
    index = d.time.index
    out: list[dict[str, Any]] = []
    for i in range(both.shape[0]):
        if not counts[i]:
            out.append({})
            continue
        step = int(first[i])
        out.append(
            {
                "steps": int(counts[i]),
                "first_step": step,
                "first_time": index[step].isoformat(),
                "kwh": float(kwh[i]),
            }
        )
    return out


def _when(results: _Solved, facts: dict[str, Any]) -> str:
    d = results.design
    step = facts["first_step"]
    local = d.time.index[step].strftime("%Y-%m-%d %H:%M")
    return (
        f"in {facts['steps']} of {d.n_steps} steps, first at {local} ({d.time.timezone}, "
        f"step {step}); {facts['kwh']:.6g} kWh in all"
    )


def _idle_markets(results: _Solved) -> list[dict[str, Any]]:
    d = results.design
    out = []
    for name in d.markets:
        vol = _series(results.markets_ts, name, "volume", d.n_steps)
        if not np.any(vol > EPS_KW):
            out.append(
                {
                    "code": "N101",
                    "market": name,
                    "message": f"market `{name}` traded nothing over the horizon",
                }
            )
    return out


def _import_and_export(results: _Solved) -> list[dict[str, Any]]:
    d = results.design
    names = list(d.participants)
    if not names:
        return []
    ts = results.participants_ts
    gi = np.vstack([_series(ts, p, "grid_import", d.n_steps) for p in names])
    ge = np.vstack([_series(ts, p, "grid_export", d.n_steps) for p in names])
    both = (gi > EPS_KW) & (ge > EPS_KW)
    out = []
    for p, facts in zip(names, _steps(results, both, gi, ge), strict=True):
        if facts:
            out.append(
                {
                    "code": "N102",
                    "participant": p,
                    "message": f"`{p}` imports from and exports to the grid at once "
                    + _when(results, facts),
                    **facts,
                }
            )
    return out


def _circulating(results: _Solved) -> list[dict[str, Any]]:
    d = results.design
    flows = results.trades.flows
    out = []
    for mname, prods in flows.items():
        if not prods:
            continue
        first = next(iter(prods.values()))
        sent = np.zeros_like(np.asarray(first.sent, dtype=np.float64))
        recv = np.zeros_like(sent)
        for f in prods.values():
            sent = sent + f.sent
            recv = recv + f.recv
        both = (sent > EPS_KW) & (recv > EPS_KW)
        if not both.any():
            continue
        m = d.markets.get(mname)
        traders = list(m.members) + [b for b in m.batteries if b not in m.members] if m else []
        if len(traders) != sent.shape[0]:
            traders = [f"trader {i}" for i in range(sent.shape[0])]
        counterparts = _opposite_pairs(prods, traders)
        for i, facts in enumerate(_steps(results, both, sent, recv)):
            if not facts:
                continue
            note: dict[str, Any] = {
                "code": "N103",
                "market": mname,
                "participant": traders[i],
                "message": f"`{traders[i]}` buys and sells in market `{mname}` in the same step "
                + _when(results, facts),
                **facts,
            }
            if counterparts.get(traders[i]):
                note["counterparts"] = counterparts[traders[i]]
                note["message"] += "; it trades both ways with " + ", ".join(
                    f"`{c}`" for c in counterparts[traders[i]]
                )
            out.append(note)
    return out


def _opposite_pairs(prods: Mapping[str, ProductFlow], traders: list[str]) -> dict[str, list[str]]:
    """Pair-trade markets: for each trader, those it sent to and received from in one step."""
    out: dict[str, set[str]] = {}
    for f in prods.values():
        if f.pairs is None:
            continue
        ps, pr, q = f.pairs
        n = len(traders)
        pos = np.full((n, n), -1, dtype=np.int64)
        pos[ps, pr] = np.arange(len(ps))
        rev = pos[pr, ps]
        ok = rev >= 0
        if not ok.any():
            continue
        active = np.asarray(q) > EPS_KW
        both = np.zeros_like(active)
        both[ok] = active[ok] & active[rev[ok]]
        for j in np.flatnonzero(both.any(axis=1)):
            out.setdefault(traders[int(ps[j])], set()).add(traders[int(pr[j])])
    return {k: sorted(v) for k, v in out.items()}


def _opposite_links(results: _Solved) -> list[dict[str, Any]]:
    d = results.design
    ts = results.links_ts
    if ts.shape[1] == 0:
        return []
    keys = list(dict.fromkeys(ts.columns.get_level_values(0)))
    ab = np.vstack([_series(ts, k, "flow_ab", d.n_steps) for k in keys])
    ba = np.vstack([_series(ts, k, "flow_ba", d.n_steps) for k in keys])
    both = (ab > EPS_KW) & (ba > EPS_KW)
    out = []
    for k, facts in zip(keys, _steps(results, both, ab, ba), strict=True):
        if facts:
            out.append(
                {
                    "code": "N104",
                    "link": k,
                    "message": f"link `{k.replace('--', ' -- ')}` carries flows both ways "
                    + _when(results, facts),
                    **facts,
                }
            )
    return out


__all__ = ["EPS_KW", "find_notes"]
