"""Who traded with whom across blocks: proportional sharing follows the link flows.

A compact market (pool or uniform p2p) has no pair variables, so `pair_split` traces the
energy: the mix of sellers at a node is what local buyers and outgoing links carry
(`pebdsl.invert.node_mix`). Within one node this is each seller's share; across nodes no
trade appears between blocks that no link joins, and link losses fall on the sellers whose
energy crossed the link.
"""

from __future__ import annotations

import numpy as np
import pytest
from model_helpers import block, design, market, participant

from pebdsl.design import Dso, Link
from pebdsl.invert import node_mix
from pebdsl.solve import solve


def _three_blocks(kind: str):
    # One step of 1 h. Block A: sa (4 kW PV) and ba (1 kW load); block B: bb (2 kW load);
    # block C: sc (1 kW PV) and bc (3 kW load). One market over everyone; the only link joins
    # A and B (10 % loss, no fee). Grid: buy 0.30, sell 0.05.
    ps = [
        participant("sa", 1, pv=4.0, block="A"),
        participant("ba", 1, load=1.0, block="A"),
        participant("bb", 1, load=2.0, block="B"),
        participant("sc", 1, pv=1.0, block="C"),
        participant("bc", 1, load=3.0, block="C"),
    ]
    return design(
        ps,
        n=1,
        blocks=[block("A", ["sa", "ba"]), block("B", ["bb"]), block("C", ["sc", "bc"])],
        markets=[market("m", [p.name for p in ps], type=kind)],
        dso=Dso(links=(Link("A", "B", capacity_kw=10.0, loss=0.1),)),
    )


@pytest.mark.parametrize("kind", ["p2p", "pool"])
def test_no_trade_between_unlinked_blocks(kind: str) -> None:
    # Optimum (hand): sa covers ba (1 kW) and bb (2 kW received = 2/0.9 kW sent over the link),
    # and sells the remaining 4 − 1 − 2.222 = 0.778 kW to the grid; sc covers 1 kW of bc, who
    # buys 2 kW from the grid. Cost 2·0.30 − 0.778·0.05 = 0.5611.
    r = solve(_three_blocks(kind))
    assert r.objective == pytest.approx(0.6 - (4.0 - 1.0 - 2.0 / 0.9) * 0.05)
    tr = r.trades["m"]
    assert tr.loc["sa", "ba"] == pytest.approx(1.0)
    assert tr.loc["sa", "bb"] == pytest.approx(2.0)  # kWh received
    assert tr.loc["sc", "bc"] == pytest.approx(1.0)
    # Nothing between C and the others (pro rata over the whole market would give sc a share
    # of ba's and bb's energy, and sa a share of bc's).
    assert tr.loc["sc", ["ba", "bb"]].sum() == pytest.approx(0.0, abs=1e-9)
    assert tr.loc["sa", "bc"] == pytest.approx(0.0, abs=1e-9)
    assert tr.to_numpy().sum() == pytest.approx(4.0)


def test_p2p_prices_follow_the_traced_pairs() -> None:
    # Node prices: A 0.05 (sa's marginal kWh goes to the grid), B 0.05/0.9 (over the lossy
    # link), C 0.30 (bc's marginal kWh comes from the grid). Midpoint of the seller's and the
    # buyer's valuation, per kWh received (docs/model.md): sa→ba 0.05, sa→bb
    # (0.05 + 0.05/0.9)/2 = 0.0528 (the seller bears the link loss), sc→bc 0.30.
    r = solve(_three_blocks("p2p"))
    b = r.bills
    assert b.loc["bc", "local_purchases"] == pytest.approx(0.30)
    assert b.loc["sc", "local_sales"] == pytest.approx(0.30)
    assert b.loc["ba", "local_purchases"] == pytest.approx(0.05)
    sa_bb = (0.05 + 0.05 / 0.9) / 2
    assert b.loc["bb", "local_purchases"] == pytest.approx(2.0 * sa_bb)
    assert b.loc["sa", "local_sales"] == pytest.approx(0.05 + 2.0 * sa_bb)
    assert abs(r.money["residual"]) < 1e-6


def test_node_mix_single_node_is_pro_rata() -> None:
    delivered = np.array([[1.0, 0.0, 2.0], [3.0, 0.0, 2.0]])  # 2 sellers x 3 steps
    mix = node_mix(delivered, np.array([0, 0]), 1)
    np.testing.assert_allclose(mix[:, 0, :], [[0.25, 0.75], [0.0, 0.0], [0.5, 0.5]])


def test_node_mix_chain_with_losses() -> None:
    # Nodes 0 → 1 → 2 in a chain; seller s0 at node 0 sends 10 kW, 8 kW of it over link 0→1
    # (keep 0.9: 7.2 kW arrive); node 1 has its own seller s1 (2.8 kW), so 10 kW pass through
    # node 1, of which 5 kW go on to node 2 (keep 0.8: 4 kW arrive). The mix at node 2 is node
    # 1's: 72 % s0 and 28 % s1.
    delivered = np.array([[10.0], [2.8]])
    flow = (np.array([[8.0], [5.0]]), np.array([0, 1]), np.array([1, 2]), np.array([0.9, 0.8]))
    mix = node_mix(delivered, np.array([0, 1]), 3, flow)
    np.testing.assert_allclose(mix[0], [[1.0, 0.0], [0.72, 0.28], [0.72, 0.28]])
