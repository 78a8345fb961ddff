"""An unreachable goal: which goal of `goals { … }` makes the design infeasible, and by how much.

Input: the design, the lowered IR, the rows of the solver's irreducible infeasible subset and
the backend. Output: E505 (a `PebdslError`, returned) when a hard goal's row (`goal.*`,
lower/goals.py) is in the conflict: it names the goal and its line, and says how far it must
give for the rest of the design to be feasible — the least violation of that goal's rows with
every other constraint (other goals included) kept, from the elastic re-solve of
`diagnose.violation`: the best peak import reachable, the local trade or the share of the PV
surplus short of the goal. None when no goal is in the conflict (the usual E501 follows).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pebdsl.design import Design, Goal
from pebdsl.diagnostics import PebdslError, error
from pebdsl.ir import ConBlock, FloatArray

Violation = Callable[[ConBlock], FloatArray | None]


def goal_error(
    design: Design,
    rows: list[tuple[ConBlock, str, int]],
    violation: Violation,
    when: Callable[[Design, int], str],
) -> PebdslError | None:
    """E505 for the first goal in the conflict `rows`; `violation(con)` is the elastic
    re-solve of diagnose.py (passed in: diagnose calls this module), `when` its step text."""
    con = next((c for c, _, _ in rows if c.name.startswith("goal.")), None)
    if con is None:
        return None
    goal = next((g for g in design.goals if _name(g) == con.name), None)
    if goal is None:
        return None
    v = violation(con)
    how = "it conflicts with the rest of the design (no operation meets it)"
    if v is not None and np.any(v):
        gap = float(np.abs(v).max())
        if goal.metric == "peak_import":
            step = int(np.argmax(np.abs(v).max(axis=0)))
            how = (
                f"the least peak import any operation reaches is {goal.value + gap:.4g} kW, "
                f"{gap:.4g} kW above the goal (worst at {when(design, step)})"
            )
        elif goal.metric == "local_trade":
            how = (
                f"at most {goal.value - gap:.4g} kWh can be traded locally, {gap:.4g} kWh "
                "short of the goal"
            )
        else:
            surplus = _surplus_kwh(design)
            pts = 100 * gap / surplus if surplus > 0 else float("nan")
            how = (
                f"at most {100 * goal.value - pts:.3g} % of the PV surplus can stay local, "
                f"{pts:.3g} percentage points ({gap:.4g} kWh) short of the goal"
            )
    return PebdslError(
        error(
            "E505",
            f"goal `{goal.text}` cannot be met: {how}",
            goal.span,
            "unreachable goal",
            (
                "relax the goal, write it as `prefer …` to rank designs by it instead, or "
                "give the design the means (storage, a market, a larger connection)",
            ),
        )
    )


def _name(g: Goal) -> str:
    return f"goal.{g.block}.{g.metric}" if g.block else f"goal.{g.metric}"


def _surplus_kwh(design: Design) -> float:
    """Σ max(G − L, 0)·Δt over participants and steps (docs/kpis.md, value 1)."""
    total = 0.0
    for p in design.participants.values():
        gen = p.generation_kw(design.n_steps)
        total += float(np.maximum(gen - p.demand_kw(design.n_steps), 0.0).sum())
    return total * design.dt_h
