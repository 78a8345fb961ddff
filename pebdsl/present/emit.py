"""Emit the compiled model without solving: IR summary, LP, MPS or math.

Input: a `Design` and a kind (`ir` | `lp` | `mps` | `math`). Output: text. LP and MPS are
written by HiGHS (`Highs.writeModel`) from the IR with the design's names in an LP-safe
spelling (`gi(alice,3)`, `balance(alice,3)`, pairs `trade(alice/bob,3)`). The `ir` summary
lists every block with its size, unit, bounds, template and origin; it is stable text used
by golden tests. Raises PebdslError E901 for an unknown kind.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from pebdsl.design import Design
from pebdsl.diagnostics import PebdslError, error
from pebdsl.ir import ModelIR

KINDS = ("ir", "lp", "mps", "math")


def emit(design: Design, kind: str) -> str:
    """The design's model as text of `kind` (ir, lp, mps or math); E901 for another."""
    from pebdsl.lower import lower

    if kind not in KINDS:
        raise PebdslError(error("E901", f"unknown emit kind `{kind}`", hints=(", ".join(KINDS),)))
    if kind == "math":
        from pebdsl.present.explain import explain

        return explain(design)
    ir = lower(design)
    if kind == "ir":
        return ir_text(ir)
    return model_text(ir, kind)


def model_text(ir: ModelIR, kind: str) -> str:
    """The LP or MPS file HiGHS writes for `ir`, as text."""
    from pebdsl.backends.highs import write_model

    fd, path = tempfile.mkstemp(suffix=f".{kind}")
    os.close(fd)
    try:
        write_model(ir, path)
        with open(path, encoding="utf-8") as f:
            return f.read()
    finally:
        os.unlink(path)


def _r(a: np.ndarray) -> str:
    if a.size == 0:
        return "-"
    lo, hi = float(a.min()), float(a.max())

    def f(v: float) -> str:
        return "inf" if v == np.inf else "-inf" if v == -np.inf else f"{v:.6g}"

    return f(lo) if lo == hi else f"{f(lo)}..{f(hi)}"


def ir_text(ir: ModelIR) -> str:
    """A stable, readable summary of the IR (for `compile --emit ir` and golden files)."""
    s = ir.stats()
    out = [
        f"model: {s['variables']} variables, {s['constraints']} constraints, "
        f"{s['nonzeros']} nonzeros; {ir.n_steps} steps of {ir.dt_h:g} h",
        "",
        "variables:",
    ]
    for v in ir.vars.values():
        out.append(
            f"  {v.name}[{v.index[0]},{v.index[1]}] cols {v.start}..{v.start + v.size - 1} "
            f"({len(v.entities)}x{v.n_steps}) {v.unit} lb {_r(v.lower)} ub {_r(v.upper)} "
            f"cost {_r(v.cost)}"
        )
        out.append(f"    entities: {', '.join(v.entities)}")
    out += ["", "constraints:"]
    for c in ir.cons.values():
        out.append(
            f"  {c.name}[{c.index[0]},{c.index[1]}] rows {c.start}..{c.start + c.size - 1} "
            f"({len(c.entities)}x{c.n_steps}) nnz {c.nnz} lb {_r(c.lower)} ub {_r(c.upper)}"
        )
        out.append(f"    {c.template}")
        out.append(f"    entities: {', '.join(c.entities)}")
    return "\n".join(out) + "\n"
