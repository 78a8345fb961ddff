"""What one solved case is worth in a comparison: its real cost and the savings split.

Input: what `study.compare.solve_design` returns for a design (`Results`, or
`StochasticResults` for a design with scenarios). Output: plain numbers (`cost`, `savings`,
`storage_value`, `weighted`) and views of a two-stage solve (`two_stage`, `deterministic`,
`shown`); the formulas are in pebdsl.study.compare's docstring. Raises nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from pebdsl.design import Design
    from pebdsl.results import Results
    from pebdsl.stochastic import StochasticResults

    # What one solve gives (a design with scenarios: its two-stage results).
    Solved = Results | StochasticResults


def has_batteries(design: Design) -> bool:
    return bool(design.batteries())


def comparable(case: Solved | None, ref: Solved | None) -> bool:
    """Savings against `ref` mean something: both solved, on the same time grid."""
    if case is None or ref is None or case.design is None or ref.design is None:
        return False
    return case.design.time == ref.design.time


def two_stage(value: Solved | None) -> StochasticResults | None:
    """The two-stage results, when `value` is one (a design with scenarios)."""
    from pebdsl.stochastic import StochasticResults

    return value if isinstance(value, StochasticResults) else None


def deterministic(value: Solved | None) -> Results | None:
    return None if value is None or two_stage(value) is not None else cast("Results", value)


def shown(value: Solved | None) -> Results | None:
    """What a case shows as its `results`: a two-stage solve's most probable scenario."""
    st = two_stage(value)
    if st is None:
        return deterministic(value)
    return max(st.scenarios, key=lambda sc: sc.probability).results


def real_cost(value: Solved) -> float | None:
    """Real money: a two-stage solve's expected real cost."""
    st = two_stage(value)
    return st.expected("total_cost") if st is not None else float(cast("Results", value).total_cost)


def weighted(xs: list[Any], ws: list[float]) -> Any:
    """Σ w·x over numbers, key by key over dicts; None when any part is None."""
    if any(x is None for x in xs):
        return None
    if all(isinstance(x, dict) for x in xs):
        keys = dict.fromkeys(k for x in xs for k in x)
        return {k: weighted([x.get(k) for x in xs], ws) for k in keys}
    return float(sum(w * float(x) for w, x in zip(ws, xs, strict=True)))


def savings(
    r: Solved, ref: Solved, no_battery: Solved | None, ref_no_battery: Solved | None
) -> dict[str, float | None]:
    """saving, saving_pct, saving_storage and saving_trade (the module docstring)."""
    cost, ref_cost = real_cost(r), real_cost(ref)
    if cost is None or ref_cost is None:
        return {}
    saving = ref_cost - cost
    case_value = storage_value(r, no_battery)
    ref_value = storage_value(ref, ref_no_battery)
    storage = None if case_value is None or ref_value is None else case_value - ref_value
    return {
        "saving": saving,
        "saving_pct": 100.0 * saving / ref_cost if ref_cost else None,
        "saving_storage": storage,
        "saving_trade": None if storage is None else saving - storage,
    }


def storage_value(r: Solved, no_battery: Solved | None) -> float | None:
    """What the batteries of a solved design save: real cost without them - with them.

    None when the design without batteries could not be solved (e.g. infeasible: the batteries
    were needed to meet a hard limit), so no split is claimed."""
    if r.design is None or not has_batteries(r.design):
        return 0.0
    if no_battery is None:
        return None
    cost, without = real_cost(r), real_cost(no_battery)
    return None if cost is None or without is None else without - cost
