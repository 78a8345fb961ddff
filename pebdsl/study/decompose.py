"""Solve one design by exact decomposition, its independent parts on the study runner.

Input: a `Design`, where to run the parts (`workers` local processes, or a Dask `scheduler`
address; study.runner), the HiGHS method and the price rule. Output: its `Results`, the same as
`pebdsl.solve.solve` gives (backends/split.py: the LP's independent parts, when it has more
than one, are solved apart and merged exactly; a design whose blocks are coupled is solved
whole). `results.timings` gains "split" (finding the parts) and "longest_part" (the longest
part's HiGHS run: the wall time of the solve when every part has a worker of its own), and
"solve" is the parts' HiGHS time summed.
Errors: those of `solve` (E501/E502 from the whole model: an infeasible part makes the model
be solved whole, so its diagnosis is the usual one); a part's worker that dies or a bug in it
raises its runner error (E991/E990).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pebdsl.study.runner import cpu_count, run

if TYPE_CHECKING:
    from pebdsl.design import Design
    from pebdsl.results import Results


def runner_map(
    workers: int | None = None, scheduler: str | None = None
) -> Callable[[Callable[[Any], Any], Sequence[Any]], list[Any]]:
    """A map function for backends.split that runs its items on the study runner (`workers`
    None: one per CPU, at most one per item) and raises the first item's error, if any."""

    def map_fn(fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        n = min(cpu_count(), len(items)) if workers is None else workers
        outcomes = run(fn, items, workers=n, scheduler=scheduler)
        for o in outcomes:
            if o.error is not None:
                raise o.error
        return [o.value for o in outcomes]

    return map_fn


def solve_by_parts(
    design: Design,
    workers: int | None = None,
    scheduler: str | None = None,
    solver: str | None = None,
    prices: str = "midpoint",
) -> Results:
    """`design` solved with its independent parts side by side (module docstring)."""
    from pebdsl.backends.split import SplitBackend
    from pebdsl.solve import solve

    backend = SplitBackend(solver, runner_map(workers, scheduler))
    return solve(design, backend=backend, prices=prices)
