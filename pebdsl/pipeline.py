"""Compile, solve, extract, settle and score one design.

Input: a validated `Design`. Output: `Results` (pebdsl.results) with every time series, the
trades per market, bills and the money closing (settle.py), KPIs (`pebdsl.kpis.score`),
timings per stage (parse and resolve from the design, lower, build, solve, extract, settle,
kpis, notes), model_stats and the post-solve notes (`pebdsl.notes`).
Raises `PebdslError`: E501 infeasible (an IIS mapped back to declarations, entities and local
timestamps), E502 unbounded, E503 solver failure or unknown backend, E504 a model the solver
refused to take (HiGHS `passModel` error).

Extraction reads the IR blocks by name (see pebdsl.lower): participant prices are balance
duals / dt_h (currency/kWh); market prices are market-balance duals / dt_h at each node
(currency per kWh received), where a degenerate dual is replaced by the midpoint of its valid
interval (`price_rows` are sent to the backend, which returns the intervals; the rule that
applied per market is `extras["price_rule"]`, shown as `markets[m].price_rule`).
Compact-form markets are split into seller x buyer trades pro rata within each step (each
seller's delivered energy shared over the buyers in proportion to what they receive);
docs/model.md explains every choice.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from pebdsl.backends import Solution, solve_ir
from pebdsl.design import Design
from pebdsl.diagnostics import Diagnostic, PebdslError, error
from pebdsl.ir import ConBlock, FloatArray, IntArray, ModelIR, evaluate
from pebdsl.lower import lower
from pebdsl.lower.local import LOCAL_BATTERIES_KEY
from pebdsl.results import Results
from pebdsl.source import NO_SPAN, Span

_EPS = 1e-9


def build(design: Design) -> ModelIR:
    """The model IR of a design (lowering only)."""
    return lower(design)


# How degenerate local prices are chosen (docs/model.md "Extraction and settlement"):
# "midpoint" of the valid dual interval, or "dual", the solver's pick.
PRICE_RULES = ("midpoint", "dual")
DEFAULT_PRICES = "midpoint"


def solve(
    design: Design,
    backend: str = "highs",
    solver: str | None = None,
    prices: str = DEFAULT_PRICES,
) -> Results:
    if prices not in PRICE_RULES:
        raise PebdslError(
            error(
                "E503",
                f"unknown price rule `{prices}`",
                hints=(f"one of {', '.join(PRICE_RULES)}",),
            )
        )
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    ir = lower(design)
    timings["lower"] = time.perf_counter() - t0
    from pebdsl import mip

    mip_record = mip.fix_integers(ir)  # None for an LP; else the integers are now fixed
    if mip_record is not None:
        timings["mip"] = float(mip_record.get("seconds", 0.0))
    rows = price_rows(ir) if prices == "midpoint" else None
    sol = solve_ir(ir, backend=backend, solver=solver, price_rows=rows)
    timings["build"] = sol.timings.get("build", 0.0)
    timings["solve"] = sol.timings.get("solve", 0.0)
    if "price_intervals" in sol.timings:
        timings["price_intervals"] = sol.timings["price_intervals"]
    if not sol.ok:
        raise diagnose(design, ir, sol)
    t0 = time.perf_counter()
    res = extract(design, ir, sol)
    res.backend = backend
    res.solver = sol.solver
    timings["extract"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    from pebdsl.settle import settle

    settle(res, ir, sol)
    timings["settle"] = time.perf_counter() - t0
    from pebdsl import kpis

    t0 = time.perf_counter()
    kpis.score(res)
    timings["kpis"] = time.perf_counter() - t0
    from pebdsl.notes import find_notes

    t0 = time.perf_counter()
    res.notes = find_notes(res) + mip.note(mip_record)
    timings["notes"] = time.perf_counter() - t0
    # Front-end stages (parse, resolve) were timed by pebdsl.load.load, when it made the design.
    res.timings = {**design.timings, **timings}
    return res


# -- extraction ------------------------------------------------------------------------------


def price_rows(ir: ModelIR) -> IntArray:
    """The rows whose duals settle local trades: every market balance (pool prices; p2p
    node prices), and the energy balance of each trader of a per-pair p2p market without a
    market balance (its valuation of a kWh)."""
    out: list[IntArray] = []
    agents: tuple[str, ...] = ir.info["agents"]
    bal = ir.cons.get("balance")
    for info in ir.info["markets"].values():
        for p in info["products"].values():
            cb = ir.cons.get(p.get("balance", ""))
            if cb is not None:
                out.append(np.arange(cb.start, cb.start + cb.size, dtype=np.int64))
            if info["form"] != "compact" and bal is not None:
                # Per-pair trades settle at the traders' own valuations.
                for a in info["traders"]:
                    e = agents.index(a)
                    start = bal.start + e * bal.n_steps
                    out.append(np.arange(start, start + bal.n_steps, dtype=np.int64))
    return np.unique(np.concatenate(out)) if out else np.zeros(0, dtype=np.int64)


def settlement_duals(sol: Solution) -> FloatArray:
    """The row duals settlement uses: on price rows the midpoint of the valid interval
    (solution.price_lo/hi; equal to the dual where it is unique or no basis was left), the
    solver's dual elsewhere."""
    if sol.price_lo is None or sol.price_hi is None:
        return sol.row_dual
    lo, hi = sol.price_lo, sol.price_hi
    out: FloatArray = 0.5 * (lo + hi)
    return out


def _frame(index: pd.DatetimeIndex, data: dict[tuple[str, str], FloatArray]) -> pd.DataFrame:
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


def market_flows(ir: ModelIR, x: FloatArray) -> dict[str, dict[str, Any]]:
    """Per market and product: sent (n, T), received (n, T) per trader, and per-pair arrays."""
    out: dict[str, dict[str, Any]] = {}
    for mname, info in ir.info["markets"].items():
        n = len(info["traders"])
        loss = info["loss"]
        prods: dict[str, Any] = {}
        for k, p in info["products"].items():
            if info["form"] == "compact":
                sent = ir.vars[p["sell"]].values(x)
                recv = ir.vars[p["buy"]].values(x)
                pairs = None
            else:
                q = ir.vars[p["trade"]].values(x)
                idx = [(s, r) for s in range(n) for r in range(n) if s != r]
                ps = np.array([s for s, _ in idx], dtype=np.int64)
                pr = np.array([r for _, r in idx], dtype=np.int64)
                sent = np.zeros((n, q.shape[1]))
                recv = np.zeros((n, q.shape[1]))
                np.add.at(sent, ps, q)
                np.add.at(recv, pr, (1.0 - loss) * q)
                pairs = (ps, pr, (1.0 - loss) * q)
            prods[k] = {"sent": sent, "recv": recv, "pairs": pairs, **p}
        out[mname] = prods
    return out


def extract(design: Design, ir: ModelIR, sol: Solution) -> Results:
    x = sol.x
    y = settlement_duals(sol)
    d = design
    t = d.n_steps
    dt = d.dt_h
    idx = d.time.index
    agents: tuple[str, ...] = ir.info["agents"]
    parts = list(d.participants)
    np_ = len(parts)
    zeros = np.zeros((np_, t))
    gi = _vals(ir, "gi", x)
    ge = _vals(ir, "ge", x)
    gi = zeros if gi is None else gi
    ge = zeros if ge is None else ge
    ginfo = ir.info.get("generation", {"assets": [], "owners": [], "kinds": []})
    gen = _vals(ir, "gen", x)
    used = np.zeros((np_, t))
    avail = {"pv": np.zeros((np_, t)), "wind": np.zeros((np_, t))}
    if gen is not None:
        np.add.at(used, np.array(ginfo["owners"]), gen)
        gv = ir.vars["gen"]
        prof = gv.upper.reshape(len(gv.entities), t)
        for k in ("pv", "wind"):
            sel = [i for i, kk in enumerate(ginfo["kinds"]) if kk == k]
            if sel:
                np.add.at(avail[k], np.array(ginfo["owners"])[sel], prof[sel])
    bats = d.batteries()
    bnames = list(bats)
    ch = _vals(ir, "charge", x)
    dis = _vals(ir, "discharge", x)
    soc = _vals(ir, "soc", x)
    own_c, own_d, own_s = np.zeros((np_, t)), np.zeros((np_, t)), np.zeros((np_, t))
    for j, b in enumerate(bats.values()):
        if b.owner is not None and ch is not None and dis is not None and soc is not None:
            i = parts.index(b.owner)
            own_c[i], own_d[i], own_s[i] = ch[j], dis[j], soc[j]
    flows = market_flows(ir, x)
    bought = np.zeros((len(agents), t))
    sold = np.zeros((len(agents), t))
    for mname, prods in flows.items():
        tr = [agents.index(a) for a in ir.info["markets"][mname]["traders"]]
        for f in prods.values():
            np.add.at(bought, tr, f["recv"])
            np.add.at(sold, tr, f["sent"])
    s_in = np.zeros((np_, t))
    s_out = np.zeros((np_, t))
    if "shift_in" in ir.vars:
        fl = [parts.index(p) for p in ir.vars["shift_in"].entities]
        s_in[fl] = ir.vars["shift_in"].values(x)
        s_out[fl] = ir.vars["shift_out"].values(x)
    # Participants' prices are the solver's balance duals; settlement uses `bal_settle`, whose
    # price rows hold the midpoint of their valid interval (see `price_rows`).
    bal = ir.cons["balance"].values(sol.row_dual) / dt
    bal_settle = ir.cons["balance"].values(y) / dt
    base = np.vstack([d.participants[p].demand_kw(t) for p in parts]) if parts else zeros
    own_use = np.minimum(avail["pv"] + avail["wind"], base)  # the LP's U (lower/local.py)
    lab = local_labels(d, ir, flows, used, own_use, ch, dis, sold)
    bought_local = lab["bought_local"]
    meter = evaluate(ir.info["meters"]["meter"], x)
    pdata: dict[tuple[str, str], FloatArray] = {}
    for i, p in enumerate(parts):
        for q, v in (
            ("load", base[i] + s_in[i] - s_out[i]),
            ("base_load", base[i]),
            ("pv", avail["pv"][i]),
            ("wind", avail["wind"][i]),
            ("generation_used", used[i]),
            ("curtailment", np.maximum(avail["pv"][i] + avail["wind"][i] - used[i], 0.0)),
            ("grid_import", gi[i]),
            ("grid_export", ge[i]),
            ("battery_charge", own_c[i]),
            ("battery_discharge", own_d[i]),
            ("soc", own_s[i]),
            ("local_bought", bought[i]),
            ("local_bought_local", bought_local[i]),
            ("local_sold", sold[i]),
            ("meter", meter[i]),
            ("shift_in", s_in[i]),
            ("shift_out", s_out[i]),
            ("price", bal[i]),
        ):
            pdata[(p, q)] = _clean(v)
    bdata: dict[tuple[str, str], FloatArray] = {}
    for j, bn in enumerate(bnames):
        if ch is not None and dis is not None and soc is not None:
            bdata[(bn, "charge")] = _clean(ch[j])
            bdata[(bn, "discharge")] = _clean(dis[j])
            bdata[(bn, "soc")] = _clean(soc[j])
            if bn in agents:
                bdata[(bn, "price")] = bal[agents.index(bn)]
    # Blocks: net import at the connection, its parts, and the DSO's flexibility need.
    blocks = list(d.blocks)
    net = evaluate(ir.info["block_net"], x) if blocks else np.zeros((0, t))
    grid_net = np.zeros((len(blocks), t))
    for i, p in enumerate(parts):
        bl = d.participants[p].block
        if bl in blocks:
            grid_net[blocks.index(bl)] += gi[i] - ge[i]
    exch = net - grid_net
    flex_kw, flex_price, base_x = flexibility(d, ir, sol, net)
    bldata: dict[tuple[str, str], FloatArray] = {}
    for bi, bl_name in enumerate(blocks):
        bldata[(bl_name, "import")] = _clean(np.maximum(net[bi], 0.0))
        bldata[(bl_name, "export")] = _clean(np.maximum(-net[bi], 0.0))
        bldata[(bl_name, "from_blocks")] = _clean(np.maximum(exch[bi], 0.0))
        bldata[(bl_name, "to_blocks")] = _clean(np.maximum(-exch[bi], 0.0))
        bldata[(bl_name, "flexibility")] = _clean(flex_kw[bi])
        bldata[(bl_name, "flexibility_price")] = _clean(flex_price[bi])
    mdata, ldata, trades, prices = _markets(d, ir, x, y, flows, bal_settle)
    for mname, vol_local in lab["market_local"].items():
        mdata[(mname, "local_volume")] = _clean(vol_local)
    res = Results(
        design=d,
        status="optimal",
        objective=float(sol.objective),
        participants_ts=_frame(idx, pdata),
        batteries_ts=_frame(idx, bdata),
        blocks_ts=_frame(idx, bldata),
        markets_ts=_frame(idx, mdata),
        links_ts=_frame(idx, ldata),
        trades=trades,
        model_stats=ir.stats(),
    )
    res.extras["flows"] = flows
    res.extras["market_prices"] = prices
    res.extras["price_rule"] = _price_rules(ir, sol)
    res.extras["balance_price"] = bal
    res.extras["block_net"] = net
    res.extras["flex_baseline_x"] = base_x
    return res


def _price_rules(ir: ModelIR, sol: Solution) -> dict[str, str]:
    """Per market, the rule its prices follow: "midpoint" of the valid interval, "dual" (the
    solver's pick: no simplex basis), or "midpoint_partial" (some degenerate rows kept the
    solver's side: their window outgrew intervals.MAX_WINDOW)."""
    out: dict[str, str] = {}
    inexact = set() if sol.price_inexact is None else set(sol.price_inexact.tolist())
    agents: tuple[str, ...] = ir.info["agents"]
    bal = ir.cons.get("balance")
    for mname, info in ir.info["markets"].items():
        if sol.price_rule != "midpoint":
            out[mname] = sol.price_rule
            continue
        rows: list[int] = []
        for p in info["products"].values():
            cb = ir.cons.get(p.get("balance", ""))
            if cb is not None:
                rows.extend(range(cb.start, cb.start + cb.size))
            if info["form"] != "compact" and bal is not None:
                for a in info["traders"]:
                    start = bal.start + agents.index(a) * bal.n_steps
                    rows.extend(range(start, start + bal.n_steps))
        out[mname] = "midpoint_partial" if inexact.intersection(rows) else "midpoint"
    return out


def local_labels(
    d: Design,
    ir: ModelIR,
    flows: dict[str, dict[str, Any]],
    used: FloatArray,
    own_use: FloatArray,
    ch: FloatArray | None,
    dis: FloatArray | None,
    sold: FloatArray,
) -> dict[str, Any]:
    """Which local trades carried local energy (Lüth et al.: generation surplus, what batteries
    of local energy give back, local purchases of it) and which resold grid energy.

    Per agent and step, own use first: surplus = max(0, used − U), with the LP's own use U =
    min(available generation, declared load) (lower/local.py; load shifted in is not served by
    own generation first, as documented there). The local energy an
    agent can sell is surplus + discharge of a battery holding local energy only + purchases in
    local-energy markets − the charge of its own local-only battery (the same accounting as the
    LP's rule, lower/local.py: a battery that may charge from the grid is not a local use, so
    it may take grid energy while its owner sells its surplus); the local share of its sales is
    min(1, that / sales). A market's local deliveries in a step are its deliveries x the
    sellers' sales-weighted local share. Buyers receive their market's share
    (`local_bought_local`). The LP guarantees a share of 1 for every seller bound by the
    local-energy rules (lower/local.py); elsewhere grid energy passed on through a market is
    reported as such, not as local trade.
    Returns `bought_local` (agents x t, kW), `market_local` (market -> kW delivered, per step)
    and `share` (agents x t)."""
    agents: tuple[str, ...] = ir.info["agents"]
    na, t = len(agents), d.n_steps
    np_ = len(d.participants)
    src = np.zeros((na, t))
    src[:np_] = np.maximum(used - own_use, 0.0)
    is_local = ir.info.get(LOCAL_BATTERIES_KEY, {})
    local_markets = ir.info.get("local_markets", frozenset())
    if ch is not None and dis is not None:
        for j, (bname, bi) in enumerate(ir.info["batteries"].items()):
            a = agents.index(bi["owner"] or bname)
            if is_local.get(bname, False):
                src[a] += dis[j]
                # A local-only battery's charge takes local energy first (lower/local.py);
                # a battery that may charge from the grid is not a local use.
                src[a] -= ch[j] if bi["owner"] is not None else 0.0
    for mname, prods in flows.items():
        if mname not in local_markets:
            continue
        tr = [agents.index(a) for a in ir.info["markets"][mname]["traders"]]
        for f in prods.values():
            np.add.at(src, tr, f["recv"])
    # Shared batteries buy their charge in the markets: it is netted against their purchases.
    if ch is not None:
        for j, (bname, bi) in enumerate(ir.info["batteries"].items()):
            if bi["owner"] is None and not is_local.get(bname, False):
                src[agents.index(bname)] -= ch[j]
            elif bi["owner"] is None:
                src[agents.index(bname)] = np.inf  # holds local energy only
    share = np.where(
        sold > _EPS, np.clip(np.maximum(src, 0.0) / np.maximum(sold, _EPS), 0.0, 1.0), 1.0
    )
    bought_local = np.zeros((na, t))
    market_local: dict[str, FloatArray] = {}
    for mname, prods in flows.items():
        tr = [agents.index(a) for a in ir.info["markets"][mname]["traders"]]
        vol_local = np.zeros(t)
        for f in prods.values():
            sent = f["sent"]
            tot = sent.sum(axis=0)
            mu = np.where(tot > _EPS, (sent * share[tr]).sum(axis=0) / np.maximum(tot, _EPS), 1.0)
            np.add.at(bought_local, tr, f["recv"] * mu)
            vol_local += f["recv"].sum(axis=0) * mu
        market_local[mname] = vol_local
    return {"bought_local": bought_local, "market_local": market_local, "share": share}


def _clean(v: FloatArray) -> FloatArray:
    """Round solver noise (|v| < 1e-9) to exact zeros so tables and KPIs read cleanly."""
    v = np.asarray(v, dtype=np.float64)
    return np.where(np.abs(v) < _EPS, 0.0, v)


def valuations(
    info: dict[str, Any], agents: tuple[str, ...], bal: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Each trader's value of one kWh delivered: as seller λ/(1 − loss), as buyer λ − fee
    (a shared battery buys fee-free: λ)."""
    tr = [agents.index(a) for a in info["traders"]]
    lam = bal[tr]
    loss = info["loss"]
    v_sell = lam / (1.0 - loss) if loss < 1.0 else lam
    payer = np.asarray(info.get("fee_payer", [True] * len(tr)), dtype=bool)
    v_buy = lam - np.where(payer, info["fee_per_kwh"], 0.0)[:, None]
    return v_sell, v_buy


def _markets(
    d: Design,
    ir: ModelIR,
    x: FloatArray,
    y: FloatArray,
    flows: dict[str, dict[str, Any]],
    bal: FloatArray,
) -> tuple[
    dict[tuple[str, str], FloatArray],
    dict[tuple[str, str], FloatArray],
    dict[str, pd.DataFrame],
    dict[str, Any],
]:
    dt = d.dt_h
    t = d.n_steps
    agents: tuple[str, ...] = ir.info["agents"]
    mdata: dict[tuple[str, str], FloatArray] = {}
    link_flow: dict[str, dict[str, FloatArray]] = {}
    trades: dict[str, pd.DataFrame] = {}
    prices: dict[str, Any] = {}
    for mname, info in ir.info["markets"].items():
        traders = list(info["traders"])
        loss = info["loss"]
        total_vol = np.zeros(t)
        total_loss = np.zeros(t)
        total_fees = np.zeros(t)
        value = np.zeros(t)
        groups = trade_groups(traders, flows[mname].values())
        seller_labels, buyer_labels = groups[2], groups[3]
        tr_kwh = np.zeros((len(seller_labels), len(buyer_labels)))
        prices[mname] = {}
        for k, f in flows[mname].items():
            sent, recv = f["sent"], f["recv"]
            vol = recv.sum(axis=0)
            lost = loss * sent.sum(axis=0)
            flow = None
            if f.get("flow"):
                fl = ir.vars[f["flow"]].values(x)
                keep = np.asarray(f["link_loss"])[:, None]
                lost = lost + ((1.0 - keep) * fl).sum(axis=0)
                ends = [e.split("->") for e in ir.vars[f["flow"]].entities]
                names = list(info["nodes"])
                flow = (
                    fl,
                    np.array([names.index(a) for a, _ in ends], dtype=np.int64),
                    np.array([names.index(b) for _, b in ends], dtype=np.int64),
                    keep[:, 0],
                )
                for j, (a, b) in enumerate(ends):
                    key = "--".join(_link_key(d, a, b))
                    lf = link_flow.setdefault(
                        key, {"flow_ab": np.zeros(t), "flow_ba": np.zeros(t), "loss": np.zeros(t)}
                    )
                    direction = "flow_ab" if _link_key(d, a, b)[0] == a else "flow_ba"
                    lf[direction] += fl[j]
                    lf["loss"] += (1.0 - keep[j, 0]) * fl[j]
            pair_prices = pair_split(info, f, agents, bal, ir, y, dt, flow, groups[:2])
            if flow is not None and pair_prices["rule"] != "pool":
                # p2p: the DSO's link fees are paid by the traders whose energy crossed the link.
                cost_l = ir.vars[f["flow"]].cost.reshape(len(flow[1]), t) * flow[0]
                pair_prices["link_fees"] = link_fee_shares(info, f, flow, cost_l)
            f["split"] = pair_prices
            tr_kwh += pair_prices["kwh"]
            price = pair_prices["avg_price"]
            if f["pairs"] is not None:
                ps, pr, q = f["pairs"]
                fee = ir.vars[f["trade"]].cost.reshape(len(ps), t)[:, 0] / dt / (1.0 - loss)
                fee = fee + np.where(
                    np.array([a in d.participants for a in np.array(traders)[pr]]),
                    f["premium_per_kwh"],
                    0.0,
                )
                fees = (fee[:, None] * q).sum(axis=0)
            else:
                payer = np.asarray(info.get("fee_payer", [True] * len(traders)), dtype=bool)
                fees = info["fee_per_kwh"] * recv[payer].sum(axis=0)
            total_vol += vol
            total_loss += lost
            total_fees += fees
            value += price * vol
            suffix = "" if len(flows[mname]) == 1 else f"_{k}"
            if suffix:
                mdata[(mname, f"price{suffix}")] = _clean(price)
                mdata[(mname, f"volume{suffix}")] = _clean(vol)
            prices[mname][k] = pair_prices
        avg = np.where(total_vol > _EPS, value / np.maximum(total_vol, _EPS), np.nan)
        first = next(iter(prices[mname].values()))["avg_price"] if prices[mname] else np.zeros(t)
        avg = np.where(np.isnan(avg), first, avg)
        mdata[(mname, "price")] = _clean(avg)
        mdata[(mname, "volume")] = _clean(total_vol)
        mdata[(mname, "loss")] = _clean(total_loss)
        mdata[(mname, "fees")] = _clean(total_fees)
        trades[mname] = pd.DataFrame(
            np.where(np.abs(tr_kwh) < _EPS, 0.0, tr_kwh),
            index=pd.Index(seller_labels, name="seller"),
            columns=pd.Index(buyer_labels, name="buyer"),
        )
    ldata: dict[tuple[str, str], FloatArray] = {}
    for key, lf in link_flow.items():
        for q, v in lf.items():
            ldata[(key, q)] = _clean(v)
    return mdata, ldata, trades, prices


# A market's trades table is seller x buyer; beyond this many traders on a side only the
# largest sellers and buyers keep their own row or column and the rest are summed into
# OTHERS, so the table (and everything that traces trades) stays linear in the traders.
MAX_TRADE_PARTIES = 200
OTHERS = "(others)"


def trade_groups(
    traders: list[str], products: Any, limit: int = MAX_TRADE_PARTIES
) -> tuple[IntArray, IntArray, list[str], list[str]]:
    """Row of each trader as a seller and column as a buyer in the trades table, and the labels.

    Up to `limit` traders every trader has its own row and column (the full matrix). Beyond,
    the `limit` traders that sold (bought) most over the horizon keep theirs, in trader order,
    and the others share the last one, labelled OTHERS."""
    n = len(traders)
    if n <= limit:
        ident = np.arange(n, dtype=np.int64)
        return ident, ident, list(traders), list(traders)
    sold = np.zeros(n)
    bought = np.zeros(n)
    for f in products:
        sold += np.asarray(f["sent"]).sum(axis=1)
        bought += np.asarray(f["recv"]).sum(axis=1)

    def side(volume: FloatArray) -> tuple[IntArray, list[str]]:
        top = np.sort(np.argsort(-volume, kind="stable")[:limit])
        group = np.full(n, len(top), dtype=np.int64)
        group[top] = np.arange(len(top))
        return group, [traders[i] for i in top] + [OTHERS]

    gs, ls = side(sold)
    gb, lb = side(bought)
    return gs, gb, ls, lb


def _link_key(d: Design, a: str, b: str) -> tuple[str, str]:
    for lk in d.dso.links:
        if (lk.a, lk.b) == (a, b) or (lk.a, lk.b) == (b, a):
            return lk.a, lk.b
    return a, b


def pair_split(
    info: dict[str, Any],
    f: dict[str, Any],
    agents: tuple[str, ...],
    bal: FloatArray,
    ir: ModelIR,
    y: FloatArray,
    dt: float,
    flow: tuple[FloatArray, IntArray, IntArray, FloatArray] | None = None,
    groups: tuple[IntArray, IntArray] | None = None,
) -> dict[str, Any]:
    """Who delivered to whom, at which price, per step.

    Returns `kwh` (seller x buyer, kWh received over the horizon; with `groups`, the row of
    each seller and the column of each buyer, as `trade_groups` gives them), `buyer_pays` and
    `seller_gets` (per trader, currency over the horizon, energy only — fees apart) and
    `avg_price` (currency/kWh received, per step). Pools settle at the node price (the market
    balance dual / dt); p2p trades at the `settlement` rule over the two traders' valuations
    (`valuations`). Compact forms are split by proportional sharing (`node_mix`): buyer r gets
    the mix of sellers of the energy at its node, which is its sellers' share within one node
    and follows the link flows between nodes (`flow`, as `node_mix` takes it).
    """
    sent, recv = f["sent"], f["recv"]
    n, t = recv.shape
    loss = info["loss"]
    if groups is None:
        groups = (np.arange(n, dtype=np.int64), np.arange(n, dtype=np.int64))
    gs, gb = groups
    shape = (int(gs.max(initial=-1)) + 1, int(gb.max(initial=-1)) + 1)
    v_sell, v_buy = valuations(info, agents, bal)
    mu = ir.cons[f["balance"]].values(y) / dt if f.get("balance") else None  # node x t
    node = np.asarray(info["trader_node"], dtype=np.int64)
    if info["form"] == "compact" and mu is not None:
        # A trader's valuation of a delivered kWh equals its node's price whenever it trades
        # (KKT of `sell` and `buy`), so compact forms read the node price: one row, whose
        # valid interval is known, instead of each trader's balance.
        v_sell = v_buy = mu[node]
    if info["type"] == "pool" and mu is not None:
        price_s = mu[node]
        price_r = mu[node]
        rule = "pool"
    else:
        price_s, price_r = v_sell, v_buy
        rule = info["settlement"]
    if f["pairs"] is not None:
        ps, pr, q = f["pairs"]
        kwh_pair = q * dt
        if rule == "pool":
            pay = price_r[pr]
            get = price_s[ps]
        else:
            pi = _rule(rule, v_sell[ps], v_buy[pr])
            pay = get = pi
        buyer_pays = np.zeros(n)
        seller_gets = np.zeros(n)
        np.add.at(buyer_pays, pr, (pay * kwh_pair).sum(axis=1))
        np.add.at(seller_gets, ps, (get * kwh_pair).sum(axis=1))
        surplus_t = ((pay - get) * kwh_pair).sum(axis=0)
        kwh = np.zeros(shape)
        np.add.at(kwh, (gs[ps], gb[pr]), kwh_pair.sum(axis=1))
        vol = kwh_pair.sum(axis=0)
        value = (pay * kwh_pair).sum(axis=0)
    else:
        delivered = (1.0 - loss) * sent
        n_nodes = len(info["nodes"])
        # The mix at node k is inv[:, k, node[s]] * delivered[s] (`node_mix`): built one node at
        # a time, so no (steps x nodes x sellers) array is ever held.
        inv = node_inverse(delivered, node, n_nodes, flow)  # t x nodes x nodes
        rkwh = recv * dt  # each buyer's kWh received per step
        kwh = np.zeros(shape)  # seller x buyer (rows and columns as grouped)
        for k in range(n_nodes):
            at_k = np.flatnonzero(node == k)
            if at_k.size:
                mix_t = _mix_at(inv, k, node, delivered)  # sellers x t
                by_seller = np.zeros((shape[0], t))
                np.add.at(by_seller, gs, mix_t)
                by_buyer = np.zeros((shape[1], t))
                np.add.at(by_buyer, gb[at_k], rkwh[at_k])
                kwh += by_seller @ by_buyer.T
        if rule == "pool":
            buyer_pays = (price_r * rkwh).sum(axis=1)
            # Sellers are paid their node's price per kWh delivered (before link losses).
            seller_gets = (price_s * delivered * dt).sum(axis=1)
            value = (price_r * rkwh).sum(axis=0)
            surplus_t = value - (price_s * delivered * dt).sum(axis=0)
        else:
            # Σ_s mix_s·π(s, r) per buyer and Σ_r recv_r·π(s, r) per seller, per step,
            # without forming the n x n x t tensor: every rule is linear in v_s and v_r.
            ws, wb = _weights(rule)
            tot_k = np.zeros((n_nodes, t))
            rv_k = np.zeros((n_nodes, t))
            np.add.at(tot_k, node, rkwh)  # kWh received at each node
            np.add.at(rv_k, node, rkwh * v_buy)  # Σ_(r at node) recv_r v_r
            sv = np.zeros((n_nodes, t))  # Σ_s mix_s v_s per node and step
            by_tot = np.zeros((n, t))  # Σ_k mix_(k,s) tot_k per seller and step
            by_rv = np.zeros((n, t))  # Σ_k mix_(k,s) rv_k
            for k in range(n_nodes):
                mix_t = _mix_at(inv, k, node, delivered)
                sv[k] = (mix_t * v_sell).sum(axis=0)
                by_tot += mix_t * tot_k[k]
                by_rv += mix_t * rv_k[k]
            pay_r = ws * sv[node] + wb * v_buy  # price paid by each buyer, per step
            buyer_pays = (pay_r * rkwh).sum(axis=1)
            gets_st = ws * v_sell * by_tot + wb * by_rv
            seller_gets = gets_st.sum(axis=1)
            value = (pay_r * rkwh).sum(axis=0)
            surplus_t = value - gets_st.sum(axis=0)
        vol = rkwh.sum(axis=0)
    avg = np.where(vol > _EPS, value / np.maximum(vol, _EPS), np.nan)
    if rule == "pool":
        fallback = price_r.mean(axis=0) if n else np.zeros(t)
    else:
        ws, wb = _weights(rule)
        fallback = ws * v_sell.mean(axis=0) + wb * v_buy.mean(axis=0) if n else np.zeros(t)
    avg = np.where(np.isnan(avg), fallback, avg)
    return {
        "kwh": kwh,
        "buyer_pays": buyer_pays,
        "seller_gets": seller_gets,
        "avg_price": avg,
        "rule": rule,
        "surplus_t": surplus_t,
    }


def link_fee_shares(
    info: dict[str, Any],
    f: dict[str, Any],
    flow: tuple[FloatArray, IntArray, IntArray, FloatArray],
    cost_l: FloatArray,
) -> FloatArray:
    """The DSO's link fees of a p2p market, per trader and step (currency per step).

    The energy on a link from node k to node m is traced upstream to the sellers whose energy
    it carries (their shares of the mix at k, `node_mix`) and downstream to the buyers it
    reaches (the same proportional sharing on the reversed network: the energy passing through
    m goes to its buyers and its outgoing links alike). Each trading pair's part of the fee is
    paid like the gains of trade are shared: the buyer pays the seller's weight of the
    `settlement` rule and the seller the buyer's weight (midpoint: half each; `seller`: the
    price is the seller's valuation, the buyer keeps the gains and pays the fee; `buyer`: the
    reverse), so no side is left worse off than without the trade. `cost_l` is (links, steps).
    """
    fl, fr, to, _keep = flow
    sent, recv = f["sent"], f["recv"]
    n, t = recv.shape
    node = np.asarray(info["trader_node"], dtype=np.int64)
    n_nodes = len(info["nodes"])
    up = node_mix((1.0 - info["loss"]) * sent, node, n_nodes, flow)  # t x nodes x sellers
    back = (fl, to, fr, np.ones(len(fr)))
    down = node_mix(recv, node, n_nodes, back)  # t x nodes x buyers
    ws, wb = _weights(info["settlement"])
    out = np.zeros((n, t))
    for j in range(len(fr)):
        for mix, k, w in ((up, fr[j], wb), (down, to[j], ws)):
            share = mix[:, k, :].T  # traders x t
            tot = share.sum(axis=0)
            # Normalised so each link's fee is allocated whole (no money lost to rounding);
            # a node without traced energy (never with a positive flow) shares it equally.
            share = np.where(tot > _EPS, share / np.maximum(tot, _EPS), 1.0 / max(n, 1))
            out += w * share * cost_l[j]
    return out


def node_mix(
    delivered: FloatArray,
    node: IntArray,
    n_nodes: int,
    flow: tuple[FloatArray, IntArray, IntArray, FloatArray] | None = None,
) -> FloatArray:
    """Where the energy at each node comes from: a (steps, nodes, sellers) array of shares.

    Proportional sharing (Bialek's tracing): the energy passing through node k — its sellers'
    delivered energy plus what links bring in — is a mix; local buyers and outgoing links take
    that mix alike. Per step, with P_k the throughput and A[k, m] = Σ_(links m→k) keep·flow,
    P_k·C_k = S_k + Σ_m A[k, m]·C_m, solved as (diag(P) − A)·C = S. Within one node this is
    each seller's share of the delivered energy; link losses fall on the sellers whose energy
    crossed the link. `delivered` is (sellers, steps) in kW; `flow` is (kW per link direction
    and step, from-node, to-node, keep = 1 − loss). Each row sums to 1 where the node has energy.
    """
    inv = node_inverse(delivered, node, n_nodes, flow)
    n, t = delivered.shape
    out = np.zeros((t, n_nodes, n))
    for k in range(n_nodes):
        out[:, k, :] = _mix_at(inv, k, node, delivered).T
    return out


def node_inverse(
    delivered: FloatArray,
    node: IntArray,
    n_nodes: int,
    flow: tuple[FloatArray, IntArray, IntArray, FloatArray] | None = None,
) -> FloatArray:
    """(diag(P) − A)⁻¹ per step, (steps, nodes, nodes): the mix of `node_mix` is
    inv[t, k, node[s]] · delivered[s, t], since the supply of seller s sits at its node only.
    Holding this instead of the mix keeps memory at steps x nodes² (not x sellers)."""
    t = delivered.shape[1]
    supply_k = np.zeros((t, n_nodes))  # delivered energy at each node
    np.add.at(supply_k.T, node, delivered)
    inflow = np.zeros((t, n_nodes, n_nodes))
    if flow is not None:
        fl, fr, to, keep = flow
        for j in range(len(fr)):
            inflow[:, to[j], fr[j]] += keep[j] * np.maximum(fl[j], 0.0)
    through = supply_k + inflow.sum(axis=2)  # t x nodes
    m = -inflow
    idx = np.arange(n_nodes)
    # A node without energy gets an empty mix; a tiny ridge keeps lossless cycles solvable.
    m[:, idx, idx] += np.where(through > _EPS, through, 1.0) + 1e-12
    eye = np.broadcast_to(np.eye(n_nodes), m.shape)
    out: FloatArray = np.asarray(np.linalg.solve(m, eye), dtype=np.float64)
    return out


def _mix_at(inv: FloatArray, k: int, node: IntArray, delivered: FloatArray) -> FloatArray:
    """Each seller's share of the energy at node k, (sellers, steps), clipped to [0, 1]."""
    share: FloatArray = np.clip(inv[:, k, node].T * delivered, 0.0, 1.0)
    return share


def _weights(rule: str) -> tuple[float, float]:
    return {"midpoint": (0.5, 0.5), "seller": (1.0, 0.0), "buyer": (0.0, 1.0)}[rule]


def _rule(rule: str, vs: FloatArray, vb: FloatArray) -> FloatArray:
    ws, wb = _weights(rule)
    return ws * vs + wb * vb


def flexibility(
    d: Design, ir: ModelIR, sol: Solution, net: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray | None]:
    """Flexibility delivered (kW) and the local flexibility price (currency/kWh) per block.

    Price = −dual of `flex_limit` / dt_h (≥ 0). Delivered = how far the need pushed the block's
    import down, against the baseline of the same design solved without the need:
    max(0, baseline − max(limit, import)). The baseline comes from a warm re-solve of the IR
    with the limit rows relaxed (only designs with a flexibility need pay for it).
    """
    blocks = list(d.blocks)
    t = d.n_steps
    kw = np.zeros((len(blocks), t))
    price = np.zeros((len(blocks), t))
    cb = ir.cons.get("flex_limit")
    if cb is None:
        return kw, price, None
    mu = -cb.values(sol.row_dual) / d.dt_h
    base_x = baseline_x(ir, cb)
    base = evaluate(ir.info["block_net"], base_x)
    for k, b in enumerate(cb.entities):
        i = blocks.index(b)
        price[i] = np.maximum(mu[k], 0.0)
        limit = cb.upper.reshape(len(cb.entities), t)[k]
        kw[i] = np.maximum(0.0, base[i] - np.maximum(limit, net[i]))
    return kw, price, base_x


def baseline_x(ir: ModelIR, cb: ConBlock) -> FloatArray:
    """The optimum of the same IR without the DSO's flexibility rows (the baseline)."""
    from pebdsl.backends.highs import Rejected, new_highs, pass_model, to_highs_lp

    lp = to_highs_lp(ir)
    upper = ir.row_upper()
    upper[cb.start : cb.start + cb.size] = np.inf
    lp.row_upper_ = upper
    h = new_highs()
    try:
        pass_model(h, lp)
    except Rejected as e:
        raise PebdslError(error("E504", f"the flexibility baseline: {e}")) from None
    h.run()
    return np.asarray(h.getSolution().col_value, dtype=np.float64)


# -- diagnosis of models without an optimum ------------------------------------------------

_PRIORITY = (
    "connection",
    "meter_connection",
    "flex_limit",
    "link_capacity",
    "peak_def",
    "local_energy",
    "origin",
)


def diagnose(design: Design, ir: ModelIR, sol: Solution) -> PebdslError:
    if sol.status == "infeasible":
        return _infeasible(design, ir, sol)
    if sol.status == "unbounded":
        return _unbounded(design, ir, sol)
    if sol.status == "rejected":
        return PebdslError(
            error(
                "E504",
                f"the solver rejected the model: {sol.message}",
                design.span,
                "",
                ("run `pebdsl compile --emit ir` to see the model's blocks and their ranges",),
            )
        )
    return PebdslError(
        error(
            "E503",
            f"the solver stopped without an optimum: {sol.status}"
            + (f" ({sol.message})" if sol.message else ""),
            design.span,
        )
    )


def _when(design: Design, step: int) -> str:
    idx = design.time.index
    if 0 <= step < len(idx):
        ts = idx[step]
        return f"{ts.strftime('%Y-%m-%d %H:%M')} ({design.time.timezone}, step {step})"
    return f"step {step}"


def _infeasible(design: Design, ir: ModelIR, sol: Solution) -> PebdslError:
    rows = [ir.locate_row(i) for i in sol.iis_rows]
    cols = [ir.locate_col(j) for j in sol.iis_cols]

    def prio(item: tuple[ConBlock, str, int]) -> tuple[int, int]:
        name = item[0].name.split(".")[0]
        p = next((k for k, pre in enumerate(_PRIORITY) if name.startswith(pre)), len(_PRIORITY))
        return p, item[2]

    rows.sort(key=prio)
    members = [f"`{c.name}[{e},{s}]`" for c, e, s in rows[:8]] + [
        f"`{v.name}[{e},{s}]` bounds" for v, e, s in cols[:6]
    ]
    if not rows:
        return PebdslError(
            error(
                "E501",
                "the model is infeasible: no operation meets every constraint",
                design.span,
                hints=(
                    "HiGHS found no irreducible infeasible subset to point at; run `pebdsl "
                    "explain` to see the constraints",
                ),
            )
        )
    con, ent, step = rows[0]
    span = _entity_span(con, ent)
    extent = _extent(design, ir, con, ent) if con.name in ("connection", "flex_limit") else None
    if extent is not None:
        step = extent[0]
    when = _when(design, step)
    if con.name == "connection":
        msg = f"block `{ent}` cannot stay within its connection at {when}"
        label = "this limit cannot be met"
    elif con.name == "flex_limit":
        msg = f"block `{ent}` cannot keep its import under the DSO's limit at {when}"
        label = "this hard limit cannot be met"
    elif con.name == "balance":
        msg = f"participant `{ent}` cannot balance its energy at {when}"
        label = "no feasible supply"
    else:
        msg = f"`{con.name}[{ent}]` ({con.doc or con.template}) cannot be met at {when}"
        label = "part of the conflict"
    related = []
    for c, e, _ in rows[1:6]:
        sp = _entity_span(c, e)
        if sp is not NO_SPAN and sp.source.path != "<generated>":
            related.append((sp, f"`{c.name}[{e}]` is involved"))
    diag = Diagnostic(
        "E501",
        f"infeasible: {msg}",
        span,
        label,
        hints=(
            *((extent[1],) if extent is not None else ()),
            "the conflicting constraints (an irreducible infeasible subset): " + ", ".join(members),
            f"{con.name}: {con.template}",
        ),
        related=tuple(related),
    )
    if span is NO_SPAN:
        diag = Diagnostic(
            "E501", diag.message, design.span, label, hints=diag.hints, related=diag.related
        )
    return PebdslError(diag)


def _extent(design: Design, ir: ModelIR, con: ConBlock, ent: str) -> tuple[int, str] | None:
    """The first step a hard kW limit of `ent` must be broken, and a hint on how far overall."""
    if ent not in con.entities:
        return None
    v = violation(ir, con)
    if v is None:
        return None
    k = con.entities.index(ent)
    vk = v[k]
    steps = np.flatnonzero(vk)
    if steps.size == 0:
        return None
    worst = int(steps[np.argmax(np.abs(vk[steps]))])
    side = "import" if vk[worst] > 0 else "export"
    bound = con.upper if vk[worst] > 0 else -con.lower
    limit = float(np.asarray(bound).reshape(len(con.entities), con.n_steps)[k, worst])
    what = "connection" if con.name == "connection" else "DSO limit"
    need = limit + abs(float(vk[worst]))
    hint = (
        f"`{ent}` must {side} more than its {what} allows at {steps.size} of {con.n_steps} "
        f"steps, first at {_when(design, int(steps[0]))}; the worst is "
        f"{_when(design, worst)}: {need:.4g} kW against {limit:.4g} kW allowed; "
        f"{np.abs(vk).sum() * design.dt_h:.4g} kWh beyond the limit in all (the least any "
        "operation achieves: an elastic re-solve)"
    )
    return int(steps[0]), hint


def violation(ir: ModelIR, cb: ConBlock) -> FloatArray | None:
    """The least violation of the rows of `cb` that makes the rest of the model feasible.

    An elastic re-solve: every row of `cb` gets slack columns (one per finite bound) and the sum
    of slack is minimised with the original costs set to zero. Returns an (entities, steps)
    array in the rows' unit: > 0 where a row must exceed its upper bound, < 0 where it must fall
    below its lower bound, 0 elsewhere; `None` if the model stays infeasible with the slack (the
    conflict lies elsewhere) or HiGHS gives no optimum. The steps are those of one optimum:
    storage can sometimes move a shortfall between steps, the total cannot be smaller.
    """
    from pebdsl.backends.highs import new_highs, to_highs_lp

    rows = np.arange(cb.start, cb.start + cb.size)
    up = np.isfinite(np.asarray(cb.upper).reshape(-1))
    lo = np.isfinite(np.asarray(cb.lower).reshape(-1))
    idx = np.concatenate([rows[up], rows[lo]]).astype(np.int32)
    val = np.concatenate([-np.ones(int(up.sum())), np.ones(int(lo.sum()))])
    n = idx.size
    if n == 0:
        return None
    h = new_highs()
    h.passModel(to_highs_lp(ir, cost=np.zeros(ir.n_cols)))
    h.addCols(
        n,
        np.ones(n),
        np.zeros(n),
        np.full(n, np.inf),
        n,
        np.arange(n, dtype=np.int32),
        idx,
        val,
    )
    h.run()
    if h.getModelStatus().name != "kOptimal":
        return None
    slack = np.asarray(h.getSolution().col_value, dtype=np.float64)[ir.n_cols :]
    out = np.zeros(cb.size)
    out[np.flatnonzero(up)] += slack[: int(up.sum())]
    out[np.flatnonzero(lo)] -= slack[int(up.sum()) :]
    out[np.abs(out) < 1e-6] = 0.0  # HiGHS's feasibility tolerance is 1e-7
    return out.reshape(len(cb.entities), cb.n_steps)


def _entity_span(con: ConBlock, ent: str) -> Span:
    if con.entity_spans and ent in con.entities:
        i = con.entities.index(ent)
        if i < len(con.entity_spans):
            return con.entity_spans[i]
    return con.spans[0] if con.spans else NO_SPAN


def unbounded_steps(design: Design) -> IntArray:
    """Steps where feeding in pays more than buying costs (arbitrage through one meter; the
    same rule as the check-time warning W101)."""
    from pebdsl.resolve.lint import arbitrage_steps

    return arbitrage_steps(design).astype(np.int64)


def _unbounded(design: Design, ir: ModelIR, sol: Solution) -> PebdslError:
    where: list[str] = []
    first_step = None
    if sol.ray is not None and sol.ray.size == ir.n_cols:
        for j in np.flatnonzero(np.abs(sol.ray) > 1e-9)[:6]:
            v, e, s = ir.locate_col(int(j))
            where.append(f"`{v.name}[{e},{s}]`")
            first_step = s if first_step is None else min(first_step, s)
    steps = unbounded_steps(design)
    if first_step is None and steps.size:
        first_step = int(steps[0])
    msg = "unbounded: the total cost can decrease without limit"
    hints = []
    if steps.size:
        on_meter = design.dso.charge_on == "meter"
        msg += (
            "; the grid's sell price exceeds its buy price"
            + ("" if on_meter else " plus the energy charge")
            + f" at {_when(design, int(steps[0]))}"
        )
        hints.append(
            "importing and exporting at once through one meter pays (W101): make `sell` at "
            "most `buy` at every step (the meter nets import and export: an energy charge does "
            "not deter it)"
            if on_meter
            else "importing and exporting at once through one meter pays (W101): make `sell` "
            "at most `buy` plus the energy charge at every step"
        )
    if where:
        hints.append("growing without limit: " + ", ".join(where))
    if first_step is not None and not steps.size:
        msg += f" (first at {_when(design, first_step)})"
    return PebdslError(Diagnostic("E502", msg, design.grid.span, "these prices", tuple(hints)))


__all__ = ["build", "diagnose", "extract", "market_flows", "solve"]
