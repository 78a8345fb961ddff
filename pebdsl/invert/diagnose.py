"""Diagnosis of models without an optimum: infeasible, unbounded, refused, failed.

Input: the design, the lowered IR, the failed `Solution` and the `Backend` that solved it.
Output: a `PebdslError` (returned, not raised) with a coded diagnostic: E501 infeasible (an
IIS mapped back to declarations, entities and local timestamps, with how far a hard kW limit
must be broken: an elastic re-solve on the same backend), E505 a hard goal that cannot be met
(invert/goals.py, the goal's line and by how much), E502 unbounded, E503 solver
failure, E504 a model the solver refused to take, E506 a solve stopped by its time or iteration
limit before an optimum (`limit_error`: the status is in the message; nothing of the
unfinished solution is kept). The code carries the status; nothing reads
the rendered text back.
"""

from __future__ import annotations

import logging

import numpy as np

from pebdsl.backends import Backend, Solution, Status
from pebdsl.design import Design
from pebdsl.diagnostics import Diagnostic, PebdslError, error
from pebdsl.invert.goals import goal_error
from pebdsl.ir import ConBlock, FloatArray, IntArray, ModelIR
from pebdsl.source import NO_SPAN, Span

log = logging.getLogger(__name__)

_PRIORITY = (
    "connection",
    "meter_connection",
    "flex_limit",
    "link_capacity",
    "peak_def",
    "local_energy",
    "origin",
)


def diagnose(design: Design, ir: ModelIR, sol: Solution, backend: Backend) -> PebdslError:
    if sol.status == Status.INFEASIBLE:
        return _infeasible(design, ir, sol, backend)
    if sol.status == Status.UNBOUNDED:
        return _unbounded(design, ir, sol)
    if sol.status == Status.REJECTED:
        return PebdslError(
            error(
                "E504",
                f"the solver rejected the model: {sol.message}",
                design.span,
                "",
                ("run `pebdsl compile --emit ir` to see the model's blocks and their ranges",),
            )
        )
    if sol.status in (Status.TIME_LIMIT, Status.ITERATION_LIMIT):
        return limit_error(design, sol.status.value)
    return PebdslError(
        error(
            "E503",
            f"the solver stopped without an optimum: {sol.status.value}"
            + (f" ({sol.message})" if sol.message else ""),
            design.span,
        )
    )


def limit_error(design: Design, status: str, where: str = "") -> PebdslError:
    """E506: the solver stopped at its `status` ("time_limit" or "iteration_limit") before
    proving an optimum, so there are no results (bills from an unfinished solve would look
    final)."""
    what = "time limit" if status == "time_limit" else "iteration limit"
    return PebdslError(
        error(
            "E506",
            f"the solver stopped at its {what} before an optimum (status {status})"
            + (f" {where}" if where else "")
            + "; no results",
            design.span,
            "",
            (
                "allow more time (--time-limit SECONDS, or solver_options={'time_limit': …})"
                if status == "time_limit"
                else "allow more iterations (--solver-option simplex_iteration_limit=…)",
                "or make the model smaller: a shorter horizon or a longer step",
            ),
        )
    )


def when(design: Design, step: int) -> str:
    idx = design.time.index
    if 0 <= step < len(idx):
        ts = idx[step]
        return f"{ts.strftime('%Y-%m-%d %H:%M')} ({design.time.timezone}, step {step})"
    return f"step {step}"


def _prio(item: tuple[ConBlock, str, int]) -> tuple[int, int]:
    name = item[0].name.split(".")[0]
    p = next((k for k, pre in enumerate(_PRIORITY) if name.startswith(pre)), len(_PRIORITY))
    return p, item[2]


def _headline(con: ConBlock, ent: str, at: str) -> tuple[str, str]:
    """The message and the label of the first conflicting row."""
    if con.name == "connection":
        return f"block `{ent}` cannot stay within its connection at {at}", (
            "this limit cannot be met"
        )
    if con.name == "flex_limit":
        return f"block `{ent}` cannot keep its import under the DSO's limit at {at}", (
            "this hard limit cannot be met"
        )
    if con.name == "balance":
        return f"participant `{ent}` cannot balance its energy at {at}", "no feasible supply"
    return (
        f"`{con.name}[{ent}]` ({con.doc or con.template}) cannot be met at {at}",
        "part of the conflict",
    )


def _infeasible(design: Design, ir: ModelIR, sol: Solution, backend: Backend) -> PebdslError:
    rows = sorted((ir.locate_row(i) for i in sol.iis_rows), key=_prio)
    # A hard goal in the conflict: E505, with how far it must give.
    unreachable = goal_error(design, rows, lambda c: violation(ir, c, backend), when)
    if unreachable is not None:
        return unreachable
    cols = [ir.locate_col(j) for j in sol.iis_cols]
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
    extent = None
    if con.name in ("connection", "flex_limit"):
        extent = _extent(design, ir, con, ent, backend)
    if extent is not None:
        step = extent[0]
    msg, label = _headline(con, ent, when(design, step))
    related = []
    for c, e, _ in rows[1:6]:
        sp = _entity_span(c, e)
        if sp is not NO_SPAN and sp.source.path != "<generated>":
            related.append((sp, f"`{c.name}[{e}]` is involved"))
    return PebdslError(
        Diagnostic(
            "E501",
            f"infeasible: {msg}",
            design.span if span is NO_SPAN else span,
            label,
            hints=(
                *((extent[1],) if extent is not None else ()),
                "the conflicting constraints (an irreducible infeasible subset): "
                + ", ".join(members),
                f"{con.name}: {con.template}",
            ),
            related=tuple(related),
        )
    )


def _extent(
    design: Design, ir: ModelIR, con: ConBlock, ent: str, backend: Backend
) -> tuple[int, str] | None:
    """The first step a hard kW limit of `ent` must be broken, and a hint on how far overall."""
    if ent not in con.entities:
        return None
    v = violation(ir, con, backend)
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
        f"steps, first at {when(design, int(steps[0]))}; the worst is "
        f"{when(design, worst)}: {need:.4g} kW against {limit:.4g} kW allowed; "
        f"{np.abs(vk).sum() * design.dt_h:.4g} kWh beyond the limit in all (the least any "
        "operation achieves: an elastic re-solve)"
    )
    return int(steps[0]), hint


def violation(ir: ModelIR, cb: ConBlock, backend: Backend) -> FloatArray | None:
    """The least violation of the rows of `cb` that makes the rest of the model feasible.

    An elastic re-solve on the chosen backend: every row of `cb` gets slack columns (one per
    finite bound) and the sum of slack is minimised with the original costs set to zero.
    Returns an (entities, steps) array in the rows' unit: > 0 where a row must exceed its upper
    bound, < 0 where it must fall below its lower bound, 0 elsewhere; `None` if the model stays
    infeasible with the slack (the conflict lies elsewhere) or the solver gives no optimum. The
    steps are those of one optimum: storage can sometimes move a shortfall between steps, the
    total cannot be smaller.
    """
    rows = np.arange(cb.start, cb.start + cb.size, dtype=np.int64)
    up = np.isfinite(np.asarray(cb.upper).reshape(-1))
    lo = np.isfinite(np.asarray(cb.lower).reshape(-1))
    idx = np.concatenate([rows[up], rows[lo]])
    sign = np.concatenate([-np.ones(int(up.sum())), np.ones(int(lo.sum()))])
    if idx.size == 0:
        return None
    log.info("infeasible: how far `%s` must give (an elastic re-solve)", cb.name)
    sol = backend.solve_elastic(ir, idx, sign)
    if not sol.ok:
        return None
    slack = np.asarray(sol.x, dtype=np.float64)[ir.n_cols :]
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
            + f" at {when(design, int(steps[0]))}"
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
        msg += f" (first at {when(design, first_step)})"
    return PebdslError(Diagnostic("E502", msg, design.grid.span, "these prices", tuple(hints)))
