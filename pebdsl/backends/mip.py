"""Models with integer columns (stepped capacity charges): solve the MIP, fix the integers.

Input: a `ModelIR` whose variable blocks may be `integer` (binaries of `lower/household.py`).
Output: `fix_integers(ir)` solves the MIP with HiGHS (branch and bound, relative gap 1e-6),
then fixes every integer column at its rounded value (lower = upper) in the IR itself, so the
ordinary LP solve that follows (any backend) finds the same optimum and has duals: local
prices and settlement come from that LP, with the chosen steps held fixed. Returns a record of
what it did (`None` for an LP): the MIP's objective, its gap, the number of integer columns,
its status. `note(record)` is the results note N105 that says so (docs/errors.md).
Raises nothing (solver options were checked by `get_backend`, E507): a MIP that finds no
solution leaves the integers free (their LP relaxation is then solved and diagnosed as usual);
one stopped by the time limit records status "time_limit", which `pebdsl.solve` reports (E506).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from pebdsl.ir import ModelIR

log = logging.getLogger(__name__)

MIP_REL_GAP = 1e-6


def fix_integers(ir: ModelIR, options: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """Solve the MIP under the solver `options` (backends/options.py) and fix its integers; a
    MIP stopped by a time limit records status "time_limit" (the caller reports it, E506)."""
    cols = ir.integer_cols()
    if cols.size == 0:
        return None
    import highspy

    from pebdsl.backends.highs import to_highs_lp
    from pebdsl.backends.options import apply_highs
    from pebdsl.backends.session import Rejected, new_highs, pass_model

    t0 = time.perf_counter()
    lp = to_highs_lp(ir)
    integrality = [highspy.HighsVarType.kContinuous] * ir.n_cols
    for j in cols.tolist():
        integrality[j] = highspy.HighsVarType.kInteger
    lp.integrality_ = integrality
    h = new_highs()
    h.setOptionValue("mip_rel_gap", MIP_REL_GAP)
    apply_highs(h, options or {})  # after the gap: a --solver-option mip_rel_gap=… wins
    try:
        pass_model(h, lp)
    except Rejected:
        return {"status": "rejected", "integer_columns": int(cols.size)}
    log.info("MIP: %d integer columns (stepped capacity charges)", cols.size)
    h.run()
    status = h.getModelStatus().name
    record: dict[str, Any] = {
        "status": {"kOptimal": "optimal", "kTimeLimit": "time_limit"}.get(status, status),
        "integer_columns": int(cols.size),
        "seconds": time.perf_counter() - t0,
    }
    if status != "kOptimal":
        return record
    info = h.getInfo()
    record["objective"] = float(info.objective_function_value)
    record["gap"] = float(info.mip_gap)
    x = np.asarray(h.getSolution().col_value, dtype=np.float64)
    for vb in ir.vars.values():
        if vb.integer:
            v = np.round(x[vb.start : vb.start + vb.size]).reshape(vb.lower.shape)
            vb.lower = v.copy()
            vb.upper = v.copy()
    return record


def note(record: dict[str, Any] | None) -> list[dict[str, Any]]:
    """N105: the model had integer columns (stepped capacity charges); how it was solved."""
    if record is None:
        return []
    if record.get("status") != "optimal":
        msg = (
            f"the stepped capacity charges ({record['integer_columns']} binary columns) found no "
            f"MIP solution ({record.get('status')}); their LP relaxation was solved instead"
        )
    else:
        msg = (
            f"stepped capacity charges: the MIP ({record['integer_columns']} binary columns) was "
            f"solved with HiGHS (gap {record.get('gap', 0.0):.2g}), the chosen steps fixed and "
            "the LP solved again; local prices and bills come from that LP"
        )
    return [{"code": "N105", "message": msg, **{k: record[k] for k in ("status",)}}]
