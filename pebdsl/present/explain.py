"""The formulation of one design as readable math, in its own names and units.

Input: a `Design` (or its `ModelIR`). Output: plain Unicode text (`explain`) or Markdown
(`explain_markdown`): the sets, every variable block with unit, bounds and size, the objective
terms, and every constraint block with its math template, its size and the declarations it
comes from (file:line). Raises nothing for a valid design.
"""

from __future__ import annotations

import numpy as np

from pebdsl.design import Design
from pebdsl.ir import ConBlock, ModelIR, VarBlock
from pebdsl.source import NO_SPAN, Span


def _where(spans: tuple[Span, ...], limit: int = 4) -> str:
    locs = []
    for s in spans:
        if s is NO_SPAN or s.source.path == "<generated>":
            continue
        loc = f"{s.source.path}:{s.line}"
        if loc not in locs:
            locs.append(loc)
    if not locs:
        return ""
    more = f" (+{len(locs) - limit} more)" if len(locs) > limit else ""
    return ", ".join(locs[:limit]) + more


def _fmt(v: float) -> str:
    if v == np.inf:
        return "∞"
    if v == -np.inf:
        return "−∞"
    return f"{v:.6g}"


def _range(a: np.ndarray) -> str:
    if a.size == 0:
        return "-"
    lo, hi = float(np.min(a)), float(np.max(a))
    return _fmt(lo) if lo == hi else f"{_fmt(lo)}…{_fmt(hi)}"


def _bounds(v: VarBlock) -> str:
    lo, up = _range(v.lower), _range(v.upper)
    if up == "∞":
        return f"≥ {lo}"
    return f"{lo} ≤ · ≤ {up}"


def _index_text(b: VarBlock | ConBlock) -> str:
    return f"{b.name}[{b.index[0]},{b.index[1]}]"


def _sets(design: Design, ir: ModelIR) -> list[tuple[str, str]]:
    d = design
    t = d.time
    idx = t.index
    first = idx[0].strftime("%Y-%m-%d %H:%M") if len(idx) else "-"
    out = [
        (
            "t ∈ T",
            f"{d.n_steps} steps of Δt = {d.dt_h:g} h from {first} ({t.timezone})",
        ),
        ("p ∈ P", "participants {" + ", ".join(d.participants) + "}"),
    ]
    if d.blocks:
        out.append(("b ∈ B", "blocks {" + ", ".join(d.blocks) + "}"))
    if d.batteries():
        out.append(("b ∈ S", "batteries {" + ", ".join(d.batteries()) + "}"))
    for name, mk in ir.inverse.markets.items():
        nodes = ", ".join(mk.nodes) if mk.nodal else "one node"
        out.append(
            (
                f"a ∈ M[{name}]",
                f"{mk.type} ({mk.form} form) traders {{"
                + ", ".join(mk.traders)
                + f"}}; nodes: {nodes}",
            )
        )
    if "peak" in ir.vars and ir.vars["peak"].step_labels:
        out.append(("m", "calendar months {" + ", ".join(ir.vars["peak"].step_labels or ()) + "}"))
    return out


def explain(design: Design, ir: ModelIR | None = None) -> str:
    """Plain-text formulation of this design."""
    if ir is None:
        from pebdsl.lower import lower

        ir = lower(design)
    d = design
    cur = d.currency
    lines = [
        f"Formulation of “{d.title}”" + (f" — variant {d.variant}" if d.variant else ""),
        f"Units: power kW (mean over a step), energy kWh, prices {cur}/kWh; every cost is "
        "price × power × Δt.",
        f"Size: {ir.n_cols} variables, {ir.n_rows} constraints, {ir.matrix().nnz} nonzeros.",
        "",
        "Sets",
    ]
    for sym, text in _sets(d, ir):
        lines.append(f"  {sym:<14} {text}")
    lines += ["", "Variables"]
    for v in ir.vars.values():
        where = _where(v.spans or (v.span,))
        lines.append(
            f"  {_index_text(v):<28} {v.unit:<4} {_bounds(v):<22} "
            f"{len(v.entities)}×{v.n_steps}  {v.doc}" + (f"  [{where}]" if where else "")
        )
    lines += ["", "Objective (minimise the community's total cost, " + cur + ")"]
    for term, doc in ir.objective_doc:
        # A term written with its own sign (a revenue, `−Δt·sell…`) takes that sign.
        sign, body = ("−", term[1:]) if term.startswith("−") else ("+", term)
        lines.append(f"  {sign} {body:<60} {doc}")
    lines += ["", "Constraints"]
    for c in ir.cons.values():
        where = _where(c.spans)
        lines.append(f"  {_index_text(c)}  ({len(c.entities)}×{c.n_steps} rows) — {c.doc}")
        lines.append(f"      {c.template}")
        if c.sources:
            src = ", ".join(c.sources[:4]) + (" …" if len(c.sources) > 4 else "")
            lines.append(f"      from: {src}" + (f"  [{where}]" if where else ""))
    return "\n".join(lines) + "\n"


def explain_markdown(design: Design, ir: ModelIR | None = None) -> str:
    """The same formulation as Markdown (for the HTML report)."""
    text = explain(design, ir)
    out = []
    for line in text.splitlines():
        if line in ("Sets", "Variables", "Constraints") or line.startswith("Objective"):
            out.append(f"\n### {line}\n")
        elif line.startswith("Formulation"):
            out.append(f"## {line}\n")
        elif line.startswith("  "):
            out.append(f"    {line}")
        elif line:
            out.append(line + "\n")
    return "\n".join(out) + "\n"
