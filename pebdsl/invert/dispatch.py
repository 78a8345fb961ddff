"""Dispatch: the optimum as time series of participants, batteries, blocks, markets, links.

Input: a validated `Design`, its lowered `ModelIR` (the inverse map), the optimal `Solution`
and the `Backend` that solved it (for the flexibility baseline). Output: `(Dispatch, Trades)`
(invert/records.py): the time-series tables whose quantities pebdsl/results.py documents,
the balance prices and block nets settlement reads, and every market's flows, splits, trades
table and price rule. Raises PebdslError E503/E504 from the flexibility baseline only.

Extraction reads the IR blocks by name (see pebdsl.lower) through the inverse map:
participant prices are balance duals / Δt (currency/kWh); market prices come from
invert/markets.py and invert/trace.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pebdsl.backends import Backend, Solution
from pebdsl.design import Design
from pebdsl.invert.flexibility import Flexibility, flexibility
from pebdsl.invert.flows import market_flows, price_rules, settlement_duals
from pebdsl.invert.labels import LocalLabels, local_labels
from pebdsl.invert.markets import Columns, clean, market_tables
from pebdsl.invert.records import Dispatch, ProductFlow, Trades
from pebdsl.ir import FloatArray, ModelIR


def frame(index: pd.DatetimeIndex, data: Columns) -> pd.DataFrame:
    """A time-series table with (entity, quantity) columns."""
    if not data:
        return pd.DataFrame(
            index=index, columns=pd.MultiIndex.from_tuples([], names=["entity", "quantity"])
        )
    cols = pd.MultiIndex.from_tuples(list(data), names=["entity", "quantity"])
    mat = np.column_stack([np.asarray(v, dtype=np.float64) for v in data.values()])
    return pd.DataFrame(mat, index=index, columns=cols)


def _vals(ir: ModelIR, name: str, x: FloatArray) -> FloatArray | None:
    v = ir.vars.get(name)
    return None if v is None else v.values(x)


@dataclass(frozen=True)
class _Operation:
    """Per participant and step (kW): what the columns of the LP say it did."""

    gi: FloatArray
    ge: FloatArray
    used: FloatArray  # generation used
    avail: dict[str, FloatArray]  # kind ("pv", "wind") -> available generation
    own: tuple[FloatArray, FloatArray, FloatArray]  # own battery charge, discharge, soc
    shift: tuple[FloatArray, FloatArray]  # load shifted in, out
    bought: FloatArray  # agents x t, received from markets
    sold: FloatArray  # agents x t, sent into markets


def _generation(
    ir: ModelIR, x: FloatArray, shape: tuple[int, int]
) -> tuple[FloatArray, dict[str, FloatArray]]:
    g = ir.inverse.generation
    used = np.zeros(shape)
    avail = {"pv": np.zeros(shape), "wind": np.zeros(shape)}
    gen = _vals(ir, "gen", x)
    if gen is not None:
        np.add.at(used, np.array(g.owners), gen)
        gv = ir.vars["gen"]
        prof = gv.upper.reshape(len(gv.entities), shape[1])
        inv = ir.vars.get("invest")
        if inv is not None:
            # A sized peak (lower/invest.py): the column's upper bound is the output at `max`;
            # what was available is that shape times the chosen size.
            sizes = inv.values(x)[:, 0]
            prof = prof.copy()
            for j, name in enumerate(gv.entities):
                path = f"{name}.peak"
                if path in inv.entities:
                    hi = float(np.asarray(inv.upper).reshape(-1)[inv.entity_index(path)])
                    got = float(sizes[inv.entity_index(path)])
                    prof[j] *= got / hi if hi > 0 else 0.0
        for k in ("pv", "wind"):
            sel = [i for i, kk in enumerate(g.kinds) if kk == k]
            if sel:
                np.add.at(avail[k], np.array(g.owners)[sel], prof[sel])
    return used, avail


def _operation(
    d: Design, ir: ModelIR, x: FloatArray, flows: dict[str, dict[str, ProductFlow]]
) -> _Operation:
    inv = ir.inverse
    parts = list(d.participants)
    shape = (len(parts), d.n_steps)
    gi, ge = _vals(ir, "gi", x), _vals(ir, "ge", x)
    used, avail = _generation(ir, x, shape)
    ch, dis, soc = (_vals(ir, n, x) for n in ("charge", "discharge", "soc"))
    own = (np.zeros(shape), np.zeros(shape), np.zeros(shape))
    for j, b in enumerate(d.batteries().values()):
        if b.owner is not None and ch is not None and dis is not None and soc is not None:
            i = parts.index(b.owner)
            own[0][i], own[1][i], own[2][i] = ch[j], dis[j], soc[j]
    bought = np.zeros((len(inv.agents), d.n_steps))
    sold = np.zeros((len(inv.agents), d.n_steps))
    for mname, prods in flows.items():
        tr = [inv.agents.index(a) for a in inv.markets[mname].traders]
        for f in prods.values():
            np.add.at(bought, tr, f.recv)
            np.add.at(sold, tr, f.sent)
    s_in, s_out = np.zeros(shape), np.zeros(shape)
    if "shift_in" in ir.vars:
        fl = [parts.index(p) for p in ir.vars["shift_in"].entities]
        s_in[fl] = ir.vars["shift_in"].values(x)
        s_out[fl] = ir.vars["shift_out"].values(x)
    zeros = np.zeros(shape)
    return _Operation(
        zeros if gi is None else gi,
        zeros if ge is None else ge,
        used,
        avail,
        own,
        (s_in, s_out),
        bought,
        sold,
    )


def _participants(
    d: Design,
    op: _Operation,
    base: FloatArray,
    meter: FloatArray,
    bal: FloatArray,
    lab: LocalLabels,
) -> Columns:
    out: Columns = {}
    pv, wind = op.avail["pv"], op.avail["wind"]
    for i, p in enumerate(d.participants):
        for q, v in (
            ("load", base[i] + op.shift[0][i] - op.shift[1][i]),
            ("base_load", base[i]),
            ("pv", pv[i]),
            ("wind", wind[i]),
            ("generation_used", op.used[i]),
            ("curtailment", np.maximum(pv[i] + wind[i] - op.used[i], 0.0)),
            ("grid_import", op.gi[i]),
            ("grid_export", op.ge[i]),
            ("battery_charge", op.own[0][i]),
            ("battery_discharge", op.own[1][i]),
            ("soc", op.own[2][i]),
            ("local_bought", op.bought[i]),
            ("local_bought_local", lab.bought_local[i]),
            ("local_sold", op.sold[i]),
            ("meter", meter[i]),
            ("shift_in", op.shift[0][i]),
            ("shift_out", op.shift[1][i]),
            ("price", bal[i]),
        ):
            out[(p, q)] = clean(v)
    return out


def _batteries(d: Design, ir: ModelIR, x: FloatArray, bal: FloatArray) -> Columns:
    out: Columns = {}
    ch, dis, soc = (_vals(ir, n, x) for n in ("charge", "discharge", "soc"))
    agents = ir.inverse.agents
    if ch is None or dis is None or soc is None:
        return out
    for j, bn in enumerate(d.batteries()):
        out[(bn, "charge")] = clean(ch[j])
        out[(bn, "discharge")] = clean(dis[j])
        out[(bn, "soc")] = clean(soc[j])
        if bn in agents:
            out[(bn, "price")] = bal[agents.index(bn)]
    return out


def _blocks(d: Design, op: _Operation, net: FloatArray, flex: Flexibility) -> Columns:
    """Blocks: net import at the connection, its parts, and the DSO's flexibility need."""
    blocks = list(d.blocks)
    grid_net = np.zeros((len(blocks), d.n_steps))
    for i, p in enumerate(d.participants):
        bl = d.participants[p].block
        if bl in blocks:
            grid_net[blocks.index(bl)] += op.gi[i] - op.ge[i]
    exch = net - grid_net
    out: Columns = {}
    for bi, name in enumerate(blocks):
        out[(name, "import")] = clean(np.maximum(net[bi], 0.0))
        out[(name, "export")] = clean(np.maximum(-net[bi], 0.0))
        out[(name, "from_blocks")] = clean(np.maximum(exch[bi], 0.0))
        out[(name, "to_blocks")] = clean(np.maximum(-exch[bi], 0.0))
        out[(name, "flexibility")] = clean(flex.kw[bi])
        out[(name, "flexibility_price")] = clean(flex.price[bi])
        out[(name, "flexibility_paid")] = clean(flex.paid[bi])
    return out


def invert(d: Design, ir: ModelIR, sol: Solution, backend: Backend) -> tuple[Dispatch, Trades]:
    """The optimum in the design's terms (see the module docstring)."""
    x = sol.x
    y = settlement_duals(sol)
    t = d.n_steps
    flows = market_flows(ir, x)
    op = _operation(d, ir, x, flows)
    parts = list(d.participants)
    # Participants' prices are the solver's balance duals; settlement uses `bal_settle`, whose
    # price rows hold the midpoint of their valid interval (invert/flows.py `price_rows`).
    bal = ir.cons["balance"].values(sol.row_dual) / d.dt_h
    bal_settle = ir.cons["balance"].values(y) / d.dt_h
    base = np.vstack([d.participants[p].demand_kw(t) for p in parts]) if parts else np.zeros((0, t))
    own_use = np.minimum(op.avail["pv"] + op.avail["wind"], base)  # the LP's U (lower/local.py)
    ch, dis = _vals(ir, "charge", x), _vals(ir, "discharge", x)
    lab = local_labels(ir.inverse, flows, op.used, own_use, ch, dis, op.sold)
    meter = ir.inverse.meters.meter(x)
    net = ir.inverse.block_net(x) if d.blocks else np.zeros((0, t))
    flex = flexibility(d, ir, sol, net, backend)
    mt = market_tables(d, ir, x, y, flows, bal_settle, price_rules(ir, sol))
    mdata = dict(mt.markets_ts)
    for mname, vol_local in lab.market_local.items():
        mdata[(mname, "local_volume")] = clean(vol_local)
    idx = d.time.index
    dispatch = Dispatch(
        participants_ts=frame(idx, _participants(d, op, base, meter, bal, lab)),
        batteries_ts=frame(idx, _batteries(d, ir, x, bal)),
        blocks_ts=frame(idx, _blocks(d, op, net, flex)),
        markets_ts=frame(idx, mdata),
        links_ts=frame(idx, mt.links_ts),
        balance_price=bal,
        block_net=net,
        flex_baseline_x=flex.baseline_x,
    )
    return dispatch, Trades(mt.trades)
