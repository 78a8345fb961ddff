"""Builders of small `Design` objects for the model tests (no parser needed).

Every helper takes plain numbers (kW, kWh, currency/kWh, hours) and returns design objects;
series given as scalars are broadcast over the horizon.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import numpy as np

from pebdsl.design import (
    Battery,
    Block,
    Connection,
    Design,
    Dso,
    FlexibilityNeed,
    Flexible,
    Generation,
    Grid,
    Link,
    Load,
    Market,
    Participant,
    Product,
    TimeGrid,
)

Series = float | Sequence[float] | np.ndarray


def arr(x: Series, n: int) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    return np.full(n, float(a)) if a.ndim == 0 else a.copy()


def time(n: int = 4, step_h: float = 1.0, start: str = "2021-06-07T00:00", tz: str = "UTC"):
    return TimeGrid(datetime.fromisoformat(start), step_h, n, tz)


def participant(
    name: str,
    n: int,
    *,
    load: Series | None = None,
    pv: Series | None = None,
    wind: Series | None = None,
    battery: dict[str, Any] | None = None,
    flexible: dict[str, Any] | None = None,
    block: str | None = None,
    connection: tuple[float | None, float | None] | None = None,
) -> Participant:
    gens = []
    if pv is not None:
        gens.append(Generation("pv", arr(pv, n)))
    if wind is not None:
        gens.append(Generation("wind", arr(wind, n)))
    bat = None
    if battery is not None:
        bat = Battery(name=f"{name}.battery", owner=name, **battery)
    return Participant(
        name=name,
        block=block,
        load=Load(arr(load, n)) if load is not None else None,
        generation=tuple(gens),
        battery=bat,
        flexible=Flexible(**flexible) if flexible else None,
        connection=Connection(*connection) if connection else None,
    )


def design(
    participants: Sequence[Participant],
    *,
    n: int = 4,
    step_h: float = 1.0,
    buy: Series = 0.30,
    sell: Series | None = 0.05,
    blocks: Sequence[Block] = (),
    markets: Sequence[Market] = (),
    shared: Sequence[Battery] = (),
    products: Sequence[Product] = (),
    dso: Dso | None = None,
    start: str = "2021-06-07T00:00",
    tz: str = "UTC",
    title: str = "test",
) -> Design:
    return Design(
        title=title,
        currency="EUR",
        time=time(n, step_h, start, tz),
        grid=Grid(arr(buy, n), None if sell is None else arr(sell, n)),
        participants={p.name: p for p in participants},
        blocks={b.name: b for b in blocks},
        shared_batteries={b.name: b for b in shared},
        markets={m.name: m for m in markets},
        products={p.name: p for p in products},
        dso=dso or Dso(),
    )


def block(name: str, members: Sequence[str], conn: float | None = None, **kw: Any) -> Block:
    c = Connection(conn, conn) if conn is not None else None
    return Block(name, c, tuple(members), **kw)


def market(name: str, members: Sequence[str], type: str = "p2p", **kw: Any) -> Market:
    return Market(name=name, type=type, members=tuple(members), **kw)  # type: ignore[arg-type]


def simple_community(n: int = 4, with_battery: bool = True) -> Design:
    """Participants + grid + p2p + battery: the smallest design with trade and storage."""
    pv = np.array([0.0, 3.0, 4.0, 0.0] * (n // 4 + 1))[:n]
    ps = [
        participant(
            "alice",
            n,
            load=0.5,
            pv=pv,
            battery=dict(capacity_kwh=4.0, power_kw=2.0, efficiency=0.95) if with_battery else None,
        ),
        participant("bob", n, load=1.0),
        participant("carol", n, load=[0.8, 1.2, 0.6, 1.5] * (n // 4) + [1.0] * (n % 4)),
    ]
    return design(
        ps,
        n=n,
        buy=0.30,
        sell=0.05,
        markets=[market("p2p", ["alice", "bob", "carol"], fee_per_kwh=0.01, loss=0.02)],
        dso=Dso(energy_charge_per_kwh=np.full(n, 0.04)),
    )


__all__ = [
    "Battery",
    "Block",
    "Connection",
    "Dso",
    "FlexibilityNeed",
    "Link",
    "Market",
    "Product",
    "arr",
    "block",
    "design",
    "market",
    "participant",
    "simple_community",
    "time",
]


def random_blocks(
    seed: int,
    blocks: int = 3,
    per_block: int = 4,
    hours: int = 36,
    start: datetime = datetime(2021, 6, 1),
    flexible: bool = False,
    title: str | None = None,
) -> Design:
    """`blocks` blocks of `per_block` participants (every other one with PV and a battery; with
    `flexible`, every third a flexible load: 30 % within 6 h at 0.01/kWh), a p2p market in each
    block, 40 kW block connections, an energy charge; random loads, sun and spot prices drawn
    from `seed`, hourly from `start`. Nothing joins two blocks (`coupled` joins them)."""
    rng = np.random.default_rng(seed)
    hod = np.arange(hours) % 24
    sun = np.clip(np.sin(np.pi * (hod - 6) / 12), 0, None) * rng.uniform(0.4, 1.0, hours)
    spot = 0.08 + 0.04 * np.sin(2 * np.pi * (hod - 14) / 24) + rng.normal(0, 0.01, hours)
    parts_: dict[str, Participant] = {}
    blks: dict[str, Block] = {}
    for b in range(blocks):
        members = []
        for k in range(per_block):
            name = f"b{b}p{k}"
            load = rng.uniform(0.3, 2.0) * (0.7 + 0.6 * rng.random(hours))
            gens: tuple[Generation, ...] = ()
            bat = None
            if k % 2 == 0:
                peak = float(rng.uniform(3, 9))
                gens = (Generation("pv", peak * sun, peak),)
                bat = Battery(f"{name}.battery", 8.0, 4.0, 0.93, owner=name)
            flex = Flexible(0.3, 6.0, 0.01) if flexible and k % 3 == 1 else None
            parts_[name] = Participant(name, f"block{b}", Load(load), gens, bat, flex)
            members.append(name)
        blks[f"block{b}"] = Block(f"block{b}", Connection(40.0, 40.0), tuple(members))
    markets = {
        f"p2p{b}": Market(f"p2p{b}", "p2p", blk.participants, fee_per_kwh=0.01, loss=0.02)
        for b, blk in enumerate(blks.values())
    }
    return Design(
        title=title or f"split {seed}",
        currency="EUR",
        time=TimeGrid(start, 1.0, hours, "UTC"),
        grid=Grid(spot + 0.06, np.maximum(spot - 0.02, 0.0)),
        participants=parts_,
        blocks=blks,
        markets=markets,
        dso=Dso(energy_charge_per_kwh=np.full(hours, 0.03)),
    )


def coupled(d: Design) -> Design:
    """The blocks of `d` joined by an exchange market over two DSO links: one LP."""
    ex = Market("exchange", "p2p", tuple(d.participants), fee_per_kwh=0.02)
    links = (Link("block0", "block1", 10.0, 0.01, 0.005), Link("block1", "block2", 10.0))
    return replace(d, markets={**d.markets, "exchange": ex}, dso=replace(d.dso, links=links))
