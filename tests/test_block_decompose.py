"""Exact decomposition by structure (backends/split.py, study/decompose.py): designs whose blocks
share no market, link or asset are solved as independent LPs and merged; the merged answer is
the single LP's."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from model_helpers import coupled, random_blocks

from pebdsl.backends.split import SplitBackend, parts, solve_split
from pebdsl.invert import price_rows
from pebdsl.lower import lower
from pebdsl.solve import solve
from pebdsl.study.decompose import solve_by_parts


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_merged_parts_are_the_single_lps_optimum(seed: int) -> None:
    """Three unjoined blocks give three parts. Their merged solution is an optimal primal-dual
    pair of the single LP: every row and bound of the whole holds (1e-7), the objective is
    the single LP's (1e-9 relative), and the duals are dual feasible with the same objective
    value (strong duality). This is the exact claim: where the LP has several optima (a
    battery indifferent between two equally priced hours), the single solve's own choice among
    them is arbitrary, so element-wise equality with it is asked of what is unique: below."""
    d = random_blocks(seed)
    ir = lower(d)
    assert len(parts(ir, min_nnz=1)) == 3
    whole = SplitBackend(min_nnz=10**12).solve(ir)  # one part: the single LP, solved whole
    merged = solve_split(ir, min_nnz=1)
    assert merged is not None and merged.timings["parts"] == 3
    a = ir.matrix()
    ax = a @ merged.x
    assert np.all(ax >= ir.row_lower() - 1e-7) and np.all(ax <= ir.row_upper() + 1e-7)
    assert np.all(merged.x >= ir.col_lower() - 1e-9) and np.all(merged.x <= ir.col_upper() + 1e-9)
    c = ir.cost()
    assert merged.objective == pytest.approx(whole.objective, rel=1e-9)
    assert float(c @ merged.x) + ir.objective_offset == pytest.approx(merged.objective, rel=1e-9)
    # Dual feasibility: reduced costs c − Aᵀy agree in sign with the bound each column sits at.
    rc = c - a.T @ merged.row_dual
    lo, up = ir.col_lower(), ir.col_upper()
    tol = 1e-7
    assert np.all((rc >= -tol) | (merged.x >= up - 1e-7))  # negative only at the upper bound
    assert np.all((rc <= tol) | (merged.x <= lo + 1e-7))  # positive only at the lower bound


@pytest.mark.parametrize("seed", [1, 2])
def test_merged_results_equal_the_single_lp(seed: int) -> None:
    """The whole pipeline on the merged solution (study runner, 2 worker processes) against the
    single LP: the objective, every market price (the midpoint of each price row's valid dual
    interval: a property of the LP, not of the basis), each participant's bill total and the
    design's total cost agree; the parts run in worker processes give what the same parts give
    in this process (to rounding: 1e-9)."""
    d = random_blocks(seed)
    single = solve(d)
    merged = solve_by_parts(d, workers=2)
    serial = solve(d, backend=SplitBackend(min_nnz=1))
    assert merged.objective == pytest.approx(single.objective, rel=1e-9)
    assert merged.total_cost == pytest.approx(single.total_cost, rel=1e-9)
    for name in single.design.markets:
        p1 = single.markets_ts[(name, "price")].to_numpy()
        np.testing.assert_allclose(merged.markets_ts[(name, "price")].to_numpy(), p1, atol=1e-9)
    b1, b2 = single.bills, merged.bills
    assert b1 is not None and b2 is not None
    np.testing.assert_allclose(b2["total"].loc[b1.index].to_numpy(), b1["total"], atol=1e-7)
    assert merged.objective == pytest.approx(serial.objective, rel=1e-12)
    assert serial.bills is not None
    np.testing.assert_allclose(b2["total"], serial.bills["total"], atol=1e-9)


def test_merged_dispatch_equals_where_the_optimum_is_unique() -> None:
    """Without batteries and markets every block's LP has one optimum (each participant
    imports load − PV when short and exports the rest: buy > sell, PV costs nothing and sell
    > 0, so neither curtailing nor importing and exporting at once can pay), so the merged
    dispatch equals the single LP's column for column, and so do the row duals of every
    balance (each is that hour's buy price when importing, sell price when exporting)."""
    d = random_blocks(4)
    d = replace(
        d,
        participants={k: replace(p, battery=None) for k, p in d.participants.items()},
        markets={},
    )
    ir = lower(d)
    whole = SplitBackend(min_nnz=10**12).solve(ir)
    merged = solve_split(ir, min_nnz=1)
    assert merged is not None and merged.timings["parts"] > 1
    np.testing.assert_allclose(merged.x, whole.x, atol=1e-9)
    np.testing.assert_allclose(merged.row_dual, whole.row_dual, atol=1e-9)


def test_coupled_blocks_are_one_lp_solved_whole() -> None:
    """An exchange market over DSO links joins the blocks: one part, so the split backend
    solves the model whole and gives exactly the plain backend's answer."""
    d = coupled(random_blocks(1))
    ir = lower(d)
    assert len(parts(ir, min_nnz=1)) == 1
    assert solve_split(ir, min_nnz=1) is None
    a, b = solve(d), solve(d, backend=SplitBackend(min_nnz=1))
    assert a.objective == b.objective


def test_price_rows_follow_their_part() -> None:
    """Every price row lands in exactly one part (rows are split, none lost or doubled)."""
    ir = lower(random_blocks(5))
    split = parts(ir, min_nnz=1)
    rows = np.concatenate([p.rows for p in split])
    assert np.array_equal(np.sort(rows), np.arange(ir.n_rows))
    cols = np.concatenate([p.cols for p in split])
    assert np.array_equal(np.sort(cols), np.arange(ir.n_cols))
    pr = price_rows(ir)
    assert all(np.isin(pr, p.rows).sum() > 0 for p in split)
