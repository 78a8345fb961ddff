"""One runner for many independent solves: in this process, in a local process pool, or on Dask.

Input: a function `fn` (defined at module level, so that it pickles by name) and the items to
apply it to; where to run: `workers` local processes (1: in this process) or the address of a
Dask scheduler (`dask.distributed.Client(scheduler).get_executor()`, the same
concurrent.futures interface as the local pool). Output: one `Outcome` per item, in input
order: the value, or the `PebdslError` that stopped that item, and the seconds it took in its
worker. `on_done(index, outcome)` runs in this process as each item finishes (in completion
order): a progress bar, or writing that case's outputs.
Errors: nothing is raised for a failing item, and the other items go on. A `PebdslError`
raised by `fn` is kept as it is: it pickles whole (diagnostics.py), so its codes and spans
cross the process boundary. Any other exception (a bug in pebdsl) becomes E990 with its
traceback; a worker process that dies (out of memory, killed) or a Dask task that is lost
becomes E991. KeyboardInterrupt stops the run (pending items are cancelled). A scheduler
address without Dask installed (the `cluster` extra) raises E905 before anything runs.

The default worker count (`auto_workers`) is the CPUs, at most one per item, and no more
than the available memory holds when each worker solves the largest case, whose peak is
estimated from its steps × participants × scenarios (`peak_bytes`): a design with S
scenarios is solved as an extensive form S times the size of one model.

The status of a failed item comes from its error's code (`failure_status`: E501 and E505 infeasible,
E502 unbounded, anything else "error"), never from rendered text.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, Future, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pebdsl.diagnostics import PebdslError, error

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from pebdsl.design import Design

T = TypeVar("T")
R = TypeVar("R")

# The status of a failed case by the code of its error (docs/errors.md); any other code (a
# resolve error, a solver that refused the model, a bug) is "error".
STATUS_BY_CODE = {"E501": "infeasible", "E505": "infeasible", "E502": "unbounded"}

# Below this many (steps x participants) summed over all solves, a process pool costs more in
# start-up (the forkserver and each worker import numpy, pandas, highspy: ~1.5 s) than it saves.
# Measured on 2 cores with the Lüth design (25 houses, 5 variants + 3 battery-free twins):
#   1 day   (9 600):   sequential 0.8 s,  pool of 2: 2.3 s
#   7 days  (67 200):  sequential 4.6 s,  pool of 2: 4.7 s
#   30 days (288 000): sequential 54 s,   pool of 2: 13 s
PARALLEL_MIN_WORK = 50_000

# The estimated peak memory of one worker: the process with pebdsl's modules loaded (~180 MiB:
# benchmarks/stochastic.py's baseline on a small model, 183 MiB) plus a share per step ×
# participant × scenario. Measured peaks per unit beyond the process's own (docs/scale.md):
# 4 KiB (year100: 100 participants × 8760 h, 3.46 GiB), 7 KiB (week300: 300 × 168 h, 510 MiB),
# 16.5 KiB (the dense model_speed design, 30 participants × 720 h, 528 MiB). The largest,
# rounded up: a worker that runs out of memory loses its case (E991), one too few only waits.
WORKER_BASE_BYTES = 200 * 2**20
BYTES_PER_WORK = 20 * 2**10

# Imported once by the forkserver, so that each worker forks with them loaded.
PRELOAD = ("pebdsl.solve", "pebdsl.lower", "pebdsl.invert", "pebdsl.kpis", "pebdsl.results")


@dataclass(frozen=True)
class Outcome(Generic[R]):
    """What one item gave: `value`, or the `error` that stopped it (exactly one is set)."""

    value: R | None = None
    error: PebdslError | None = None
    seconds: float = 0.0  # in the worker, from the call to its return

    @property
    def status(self) -> str | None:
        """None when it succeeded; else the failure's status from its code."""
        return None if self.error is None else failure_status(self.error)


def failure_status(err: PebdslError) -> str:
    """The status of a failure: infeasible (E501), unbounded (E502) or error (any other)."""
    for code in err.codes:
        if code in STATUS_BY_CODE:
            return STATUS_BY_CODE[code]
    return "error"


def internal_error(exc: BaseException) -> PebdslError:
    """E990: an exception that is not a PebdslError, i.e. a bug; its traceback kept whole."""
    tb = "".join(traceback.format_exception(exc)).rstrip()
    return PebdslError(
        error(
            "E990",
            f"internal error (a bug in pebdsl): {type(exc).__name__}: {exc}",
            hints=("please report it with this traceback:\n" + tb,),
        )
    )


def lost_worker(exc: BaseException) -> PebdslError:
    """E991: the worker running an item died or was lost, so the item has no result."""
    return PebdslError(
        error(
            "E991",
            f"the worker solving this case was lost: {type(exc).__name__}: {exc}".rstrip(": "),
            hints=(
                "a worker process dies when the system runs out of memory or kills it; "
                "try fewer --workers, or solve this case alone",
            ),
        )
    )


def call(fn: Callable[[T], R], item: T) -> Outcome[R]:
    """`fn(item)` as an Outcome (runs in the worker; raises nothing but KeyboardInterrupt)."""
    t0 = time.perf_counter()
    try:
        value = fn(item)
    except PebdslError as e:
        return Outcome(error=e, seconds=time.perf_counter() - t0)
    except Exception as e:
        return Outcome(error=internal_error(e), seconds=time.perf_counter() - t0)
    return Outcome(value=value, seconds=time.perf_counter() - t0)


def cpu_count() -> int:
    """The CPUs this process may run on (its affinity mask where the OS tells it)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def case_work(d: Design) -> int:
    """steps × participants × scenarios: how much one solve asks for (a design with S
    scenarios is solved as its extensive form, S copies of the model side by side)."""
    scenarios = 1 if d.stochastic is None else max(len(d.stochastic.scenarios), 1)
    return d.n_steps * max(len(d.participants), 1) * scenarios


def solve_work(designs: Iterable[Design]) -> int:
    """Σ case_work: how much solving a set of designs asks for."""
    return sum(case_work(d) for d in designs)


def available_memory() -> int | None:
    """Bytes of memory available to new processes (`MemAvailable` of /proc/meminfo: free
    memory plus what the kernel can reclaim); None where that is not known (not Linux)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def peak_bytes(work: int) -> int:
    """The estimated peak memory of a worker solving a case of `work` (case_work) units."""
    return WORKER_BASE_BYTES + BYTES_PER_WORK * work


def auto_workers(n_items: int, work: int, peak_work: int = 0, available: int | None = None) -> int:
    """The default worker count: the CPUs, capped by the number of items and by memory —
    no more workers than `available` bytes (default: available_memory()) hold if each solves
    the largest case (`peak_work` units, case_work; its peak estimated by peak_bytes); 1 (in
    this process) when the whole run is too small to pay for starting workers
    (PARALLEL_MIN_WORK) or memory holds at most one."""
    if n_items <= 1 or work < PARALLEL_MIN_WORK:
        return 1
    n = min(cpu_count(), n_items)
    free = available_memory() if available is None else available
    if free is not None and peak_work > 0:
        n = min(n, free // peak_bytes(peak_work))
    return max(1, n)


def workers_for(designs: Sequence[Design]) -> int:
    """auto_workers for solving these designs (their total and largest case_work)."""
    peak = max((case_work(d) for d in designs), default=0)
    return auto_workers(len(designs), solve_work(designs), peak)


def run(
    fn: Callable[[T], R],
    items: Sequence[T],
    *,
    workers: int = 1,
    scheduler: str | None = None,
    on_done: Callable[[int, Outcome[R]], None] | None = None,
) -> list[Outcome[R]]:
    """`fn` on every item (see the module docstring): on Dask when `scheduler` is given, else
    in a pool of `workers` processes, or in this process when `workers` <= 1 or there is at
    most one item (a pool's start-up would be wasted)."""
    out: list[Outcome[R] | None] = [None] * len(items)
    log.info("%d cases: %s", len(items), scheduler or f"{workers} worker(s)")

    def done(i: int, outcome: Outcome[R]) -> None:
        out[i] = outcome
        log.debug("case %d done: %s", i, outcome.status or "ok")
        if on_done is not None:
            on_done(i, outcome)

    if scheduler:
        _run_dask(fn, items, scheduler, done)
    elif workers <= 1 or len(items) <= 1:
        for i, item in enumerate(items):
            done(i, call(fn, item))
    else:
        _run_pool(fn, items, min(workers, len(items)), done)
    assert all(o is not None for o in out)
    return [o for o in out if o is not None]


def _drain(
    executor: Executor,
    fn: Callable[[T], R],
    items: Sequence[T],
    indices: Sequence[int],
    done: Callable[[int, Outcome[R]], None],
) -> list[int]:
    """Submit `items[i]` for each index and report each as it completes; the indices whose
    worker broke the pool (BrokenProcessPool), for the caller to retry; any other failure
    to get a result (a lost Dask worker, an unpicklable value) is E991 for that item."""
    futures: dict[Future[Outcome[R]], int] = {}
    broken: list[int] = []
    for n, i in enumerate(indices):
        try:
            futures[executor.submit(call, fn, items[i])] = i
        except BrokenProcessPool:  # a worker died while the rest were being submitted
            broken += indices[n:]
            break
    try:
        for fut in as_completed(futures):
            i = futures[fut]
            try:
                outcome = fut.result()
            except BrokenProcessPool:
                broken.append(i)
                continue
            except Exception as e:
                outcome = Outcome(error=lost_worker(e))
            done(i, outcome)
    except BaseException:  # Ctrl-C: do not wait for the queued items
        for f in futures:
            f.cancel()
        raise
    return sorted(broken)


def _run_pool(
    fn: Callable[[T], R],
    items: Sequence[T],
    workers: int,
    done: Callable[[int, Outcome[R]], None],
) -> None:
    """A local process pool. When a worker dies, the pool breaks and every item still in it
    fails; those items are then run again, each in a pool of its own, so that only the item
    whose worker dies again is recorded as lost (E991)."""
    from concurrent.futures import ProcessPoolExecutor

    ctx = _mp_context()
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
    try:
        again = _drain(pool, fn, items, range(len(items)), done)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    for i in again:
        alone = ProcessPoolExecutor(max_workers=1, mp_context=ctx)
        try:
            if _drain(alone, fn, items, [i], done):
                done(i, Outcome(error=lost_worker(BrokenProcessPool("the worker process died"))))
        finally:
            alone.shutdown(wait=False, cancel_futures=True)


def _mp_context() -> Any:
    """`forkserver`: safe with a progress bar's thread in this process (plain fork is not),
    and cheaper than `spawn` because the server imports the heavy modules once (PRELOAD)."""
    import multiprocessing as mp

    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(list(PRELOAD))
    return ctx


def _run_dask(
    fn: Callable[[T], R],
    items: Sequence[T],
    scheduler: str,
    done: Callable[[int, Outcome[R]], None],
) -> None:
    """On the Dask cluster at `scheduler`, through its concurrent.futures executor. Tasks are
    impure (`pure=False`: fresh keys, so a shared scheduler's earlier runs are never reused);
    Dask retries a task whose worker died and reports it lost (E991) after that. Dask is an
    optional extra (`pebdsl[cluster]`): without it, E905 before anything runs."""
    try:
        from dask.distributed import Client
    except ImportError as e:
        raise PebdslError(
            error(
                "E905",
                "solving on a Dask scheduler needs dask.distributed, which is not installed",
                hints=("pip install 'pebdsl[cluster]', or drop --scheduler to solve here",),
            )
        ) from e

    with Client(scheduler) as client:  # type: ignore[no-untyped-call]
        executor = client.get_executor(pure=False)
        try:
            _drain(executor, fn, items, range(len(items)), done)
        finally:
            executor.shutdown(wait=False)
