"""Start a Dask cluster for a study from the CLI: `--cluster local` or `--cluster slurm`.

Input: the kind of cluster, how many workers (`local`: worker processes on this machine;
`slurm`: batch jobs, one worker process each) and `KEY=VALUE` options (`--cluster-option`, for
slurm the keyword arguments of `dask_jobqueue.SLURMCluster`: queue, account, walltime, cores,
memory, job_extra_directives, …). Output: `start(kind, workers, options)`, a context manager
that yields the scheduler's address (what `--scheduler tcp://…` would name; the study runner
connects to it) and closes the cluster, cancelling its jobs, on exit. `slurm_cluster(...)` makes
the dask-jobqueue object without scaling it, so its `job_script()` can be read (and tested)
without SLURM. `solve_on(scheduler, cluster, workers, options)`: the CLI's choice between
`--scheduler` and `--cluster`.
Errors: PebdslError E603 for an unknown kind, a malformed option or a cluster that refuses the
options; E905 when Dask or dask-jobqueue (the `cluster` extra) is not installed.

The slurm defaults (1 core and 4 GiB per job, one worker process using it) suit pebdsl, whose
cases are single-threaded HiGHS solves; anything set in the user's Dask configuration
(`~/.config/dask/jobqueue.yaml`, section `jobqueue.slurm`, or DASK_JOBQUEUE__SLURM__* variables)
is used where no option is given on the command line. The jobs start `python -m
distributed.cli.dask_worker` with this interpreter (`sys.executable`), so the compute nodes must
see the same Python environment (a shared file system), as dask-jobqueue expects.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from pebdsl.diagnostics import PebdslError, error

KINDS = ("local", "slurm")
# Used only when neither the command line nor the Dask configuration sets them.
SLURM_DEFAULTS = {"cores": 1, "processes": 1, "memory": "4GiB"}


def _e603(message: str, *hints: str) -> PebdslError:
    return PebdslError(error("E603", message, hints=hints))


def _e905(message: str, *hints: str) -> PebdslError:
    """An optional extra that is not installed (the same code for every extra)."""
    return PebdslError(error("E905", message, hints=hints))


def parse_options(texts: Sequence[str]) -> dict[str, Any]:
    """`KEY=VALUE` texts -> {KEY: value}; an integer value becomes an int, a value with commas
    a list (e.g. `job_extra_directives=--exclusive,--gres=gpu:0`)."""
    out: dict[str, Any] = {}
    for text in texts:
        key, eq, value = text.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or not key.isidentifier() or not value:
            raise _e603(
                f"malformed --cluster-option `{text}`: expected KEY=VALUE",
                "e.g. --cluster-option queue=short --cluster-option walltime=01:00:00",
            )
        if key in out:
            raise _e603(f"--cluster-option `{key}` given twice")
        if value.lstrip("-").isdigit():
            out[key] = int(value)
        elif "," in value:
            out[key] = [v.strip() for v in value.split(",") if v.strip()]
        else:
            out[key] = value
    return out


def slurm_cluster(options: Mapping[str, Any] | None = None) -> Any:
    """A `dask_jobqueue.SLURMCluster` with pebdsl's defaults under `options` (not scaled: no
    job is submitted until `.scale(jobs=n)`)."""
    try:
        import dask
        from dask_jobqueue import SLURMCluster
    except ImportError as e:
        raise _e905(
            "--cluster slurm needs dask-jobqueue, which is not installed",
            "pip install 'pebdsl[cluster]'",
        ) from e
    kwargs: dict[str, Any] = {"python": sys.executable}
    for key, value in SLURM_DEFAULTS.items():
        if dask.config.get(f"jobqueue.slurm.{key}", None) is None:
            kwargs[key] = value
    kwargs.update(options or {})
    try:
        return SLURMCluster(**kwargs)
    except (TypeError, ValueError) as e:
        raise _e603(f"cannot set up the slurm cluster: {e}") from e


@contextmanager
def start(kind: str, workers: int, options: Mapping[str, Any] | None = None) -> Iterator[str]:
    """The scheduler address of a new cluster of `workers` workers (module docstring)."""
    if kind not in KINDS:
        raise _e603(f"unknown --cluster `{kind}`", f"one of: {', '.join(KINDS)}")
    if kind == "local":
        try:
            from dask.distributed import LocalCluster
        except ImportError as e:
            raise _e905(
                "--cluster local needs dask.distributed, which is not installed",
                "pip install 'pebdsl[cluster]'",
            ) from e
        try:
            # One thread per worker: a case is one single-threaded solve; processes, not
            # threads, so that solves run side by side (HiGHS holds the GIL in places).
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                **dict(options or {}),
            )
        except TypeError as e:
            raise _e603(f"cannot set up the local cluster: {e}") from e
    else:
        cluster = slurm_cluster(options)
        cluster.scale(jobs=workers)
    with cluster:
        yield str(cluster.scheduler_address)


@contextmanager
def solve_on(
    scheduler: str | None,
    cluster: str | None,
    workers: int | None,
    options: Sequence[str] | None = None,
) -> Iterator[str | None]:
    """Where a study solves, from the command line: the `--scheduler` address, or a cluster
    started for this run (`--cluster`, `--workers` of them, default the CPUs here) and closed
    after it, or None (a local pool). E603 when both are given."""
    if cluster is None:
        yield scheduler
        return
    if scheduler:
        raise _e603("give --scheduler or --cluster, not both")
    from pebdsl.study.runner import cpu_count

    with start(cluster, workers or cpu_count(), parse_options(options or [])) as address:
        yield address
