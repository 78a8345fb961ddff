"""Studies on a cluster: the result cache, resuming a killed sweep on a LocalCluster, and the
`--cluster slurm` job script (dask-jobqueue; no SLURM here)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pebdsl.diagnostics import PebdslError, error
from pebdsl.load import load
from pebdsl.study.cache import CaseCache, case_key
from pebdsl.study.cluster import parse_options, slurm_cluster, start

# Four weeks at 2 h steps, 7 participants trading p2p, one battery: about 0.4 s a solve here,
# so 16 cases on 2 workers leave seconds in which to kill the run halfway.
STREET = """design "street" { currency = EUR }
horizon { start = 2021-06-07; duration = 28 d; step = 2 h; timezone = "UTC" }
series home = daily [0.4, 0.3, 0.35, 0.9, 0.8, 0.55, 0.6, 0.7, 1.4, 1.5, 0.9, 0.5] kW
series solar = daily [0, 0, 0.02, 0.2, 0.5, 0.7, 0.74, 0.62, 0.35, 0.08, 0, 0]
grid { buy = 0.30 EUR/kWh; sell = 0.05 EUR/kWh }
template house { load { profile = home } }
participant alice {
  load { profile = home }; pv { profile = solar; peak = 6 kWp }
  battery { capacity = 10 kWh; power = 5 kW }
}
participant h[1..6] from house { }
market p2p { type = p2p; members = all; fee = 1 ct/kWh; loss = 2 % }
"""
# 4 x 4 = 16 cases.
SETS = [
    "alice.pv.peak=2 kWp,4 kWp,6 kWp,8 kWp",
    "market p2p.fee=0.5 ct/kWh,1 ct/kWh,2 ct/kWh,3 ct/kWh",
]


@pytest.fixture
def street(tmp_path: Path) -> Path:
    p = tmp_path / "street.peb"
    p.write_text(STREET)
    return p


def _records(cache: Path) -> dict[Path, tuple[int, bytes]]:
    """Every case record in a cache folder: path -> (mtime_ns, content)."""
    return {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in cache.rglob("case.json")}


def _sweep_cmd(design: Path, cache: Path, out: Path) -> list[str]:
    args = [sys.executable, "-m", "pebdsl", "sweep", str(design), "--cache", str(cache)]
    args += ["--cluster", "local", "--workers", "2", "--out", str(out)]
    return args + [a for s in SETS for a in ("--set", s)]


def _costs(out: Path) -> dict[int, float]:
    doc = json.loads((out / "sweep.json").read_text())
    return {c["case"]: c["total_cost"] for c in doc["cases"]}


def test_case_key_follows_what_makes_the_result(street: Path) -> None:
    """The key changes with the edits, their order, the backend and the options, and not
    otherwise: the same inputs loaded twice give the same key."""
    d = load(str(street))
    k = case_key(d, ["alice.pv.peak = 4 kWp"])
    assert k == case_key(load(str(street)), ["alice.pv.peak = 4 kWp"])
    assert k != case_key(d, ["alice.pv.peak = 5 kWp"])
    assert k != case_key(d, ["alice.pv.peak = 4 kWp"], backend="pyomo")
    assert k != case_key(d, ["alice.pv.peak = 4 kWp"], options={"prices": "buyer"})
    two = ["alice.pv.peak = 4 kWp", "alice.pv.peak = 5 kWp"]
    assert case_key(d, two) != case_key(d, two[::-1])


def test_cache_keeps_values_and_case_failures(tmp_path: Path) -> None:
    """A value and an infeasible case are read back as stored; a bug (E990) and a lost worker
    (E991) are not kept; a damaged record reads as absent (the case is solved again)."""
    cache = CaseCache(tmp_path / "c")
    assert cache.get("ab" * 32) is None
    cache.put("ab" * 32, value={"status": "optimal", "total_cost": 3.5}, seconds=0.25)
    hit = cache.get("ab" * 32)
    assert hit is not None and hit.value == {"status": "optimal", "total_cost": 3.5}
    assert hit.seconds == 0.25 and hit.error is None

    infeasible = PebdslError(error("E501", "the model is infeasible", hints=("relax it",)))
    assert cache.put("cd" * 32, error=infeasible)
    got = cache.get("cd" * 32)
    assert got is not None and got.error is not None
    assert got.error.codes == ["E501"] and got.error.diagnostics[0].hints == ("relax it",)

    for code in ("E990", "E991"):
        assert not cache.put("ef" * 32, error=PebdslError(error(code, "transient")))
    assert cache.get("ef" * 32) is None

    cache.path("ab" * 32).write_text("{not json")
    assert cache.get("ab" * 32) is None


@pytest.mark.slow
def test_sweep_on_local_cluster_reruns_and_resumes_from_cache(street: Path, tmp_path: Path) -> None:
    """16 cases on a LocalCluster of 2 workers finish and fill the cache; a rerun reads all 16
    back (no record rewritten). A second sweep with a fresh cache is killed (SIGKILL, the whole
    process group) after some but not all cases are stored; running it again solves only the
    missing cases (the k records kept are untouched, it reports k read from the cache) and
    gives every case the cost of the uninterrupted run."""
    first, out1 = tmp_path / "cache1", tmp_path / "out1"
    done = subprocess.run(_sweep_cmd(street, first, out1), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert len(_records(first)) == 16
    before = _records(first)
    again = subprocess.run(
        _sweep_cmd(street, first, tmp_path / "out1b"), capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr
    assert "16 case(s) read from the cache" in again.stdout
    assert _records(first) == before

    second = tmp_path / "cache2"
    proc = subprocess.Popen(
        _sweep_cmd(street, second, tmp_path / "out2"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while not _records(second) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    kept = _records(second)
    assert 0 < len(kept) < 16, f"the kill came at {len(kept)} of 16 cases"

    resumed = subprocess.run(
        _sweep_cmd(street, second, tmp_path / "out3"), capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(kept)} case(s) read from the cache" in resumed.stdout
    after = _records(second)
    assert len(after) == 16
    assert all(after[p] == kept[p] for p in kept)
    assert _costs(tmp_path / "out3") == _costs(out1)


def test_local_cluster_start_yields_an_address() -> None:
    """`--cluster local` starts worker processes here and names their scheduler."""
    with start("local", 1) as address:
        assert address.startswith("tcp://127.0.0.1:")


def test_slurm_job_script() -> None:
    """The job each SLURM worker runs: pebdsl's defaults (1 core, 4 GiB, one single-threaded
    worker, this interpreter) and the command line's options as #SBATCH lines; the Dask
    configuration fills what the command line leaves out."""
    import dask
    import dask_jobqueue  # noqa: F401  (loads jobqueue's defaults before config.set below)

    local = {"scheduler_options": {"host": "127.0.0.1"}}
    opts = parse_options(["queue=short", "walltime=01:00:00", "account=pebproj"])
    with slurm_cluster({**opts, **local}) as cluster:
        script = cluster.job_script()
    for line in ("#SBATCH -p short", "#SBATCH -A pebproj", "#SBATCH -t 01:00:00"):
        assert line in script
    assert "#SBATCH --cpus-per-task=1" in script and "#SBATCH --mem=4G" in script
    assert f"{sys.executable} -m distributed.cli.dask_worker" in script
    assert "--nthreads 1" in script

    with dask.config.set({"jobqueue.slurm.memory": "16GiB"}), slurm_cluster(local) as cluster:
        assert "#SBATCH --mem=16G" in cluster.job_script()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cluster", "pbs"], "unknown --cluster `pbs`"),
        (["--cluster", "slurm", "--cluster-option", "queue"], "malformed --cluster-option"),
        (["--cluster", "local", "--scheduler", "tcp://127.0.0.1:1"], "not both"),
    ],
)
def test_cluster_usage_errors(street: Path, args: list[str], message: str) -> None:
    """Bad cluster options are E603 diagnostics before anything is solved, never a traceback."""
    cmd = [sys.executable, "-m", "pebdsl", "sweep", str(street), "--set", SETS[0], *args]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 1
    assert "error[E603]" in r.stderr and message in r.stderr
    assert "Traceback" not in r.stderr


def test_errors_md_e603_example(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command docs/errors.md shows under E603 prints exactly the text shown there."""
    import shlex

    from typer.testing import CliRunner

    from pebdsl.cli import app

    root = Path(__file__).resolve().parents[1]
    lines = (root / "docs" / "errors.md").read_text(encoding="utf-8").splitlines()
    start = lines.index(next(x for x in lines if x.startswith("## E603")))
    i = lines.index("```sh", start)
    k = lines.index("```text", i)
    command, shown = lines[i + 1], "\n".join(lines[k + 1 : lines.index("```", k + 1)])
    monkeypatch.chdir(root)
    argv = shlex.split(command)
    assert argv[0] == "pebdsl"
    result = CliRunner().invoke(app, argv[1:])
    assert result.exit_code == 1
    assert result.stderr.strip().removesuffix("1 error").strip() == shown.strip()


def test_missing_cluster_extra_is_e905(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without Dask or dask-jobqueue (made unimportable here) `--cluster local` and `--cluster
    slurm` stop with E905 naming the `cluster` extra, as every missing extra does."""
    monkeypatch.setitem(sys.modules, "dask_jobqueue", None)
    with pytest.raises(PebdslError) as e:
        slurm_cluster()
    assert e.value.codes == ["E905"] and "pebdsl[cluster]" in e.value.render()
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(PebdslError) as e, start("local", 1):
        pass
    assert e.value.codes == ["E905"] and "pebdsl[cluster]" in e.value.render()
