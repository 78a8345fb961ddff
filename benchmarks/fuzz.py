"""Fuzz campaign: nothing but coded diagnostics, no hang, no runaway memory (issue 9).

Inputs for `check` come from three sources, in turn:
- grammar-aware generation: the Hypothesis strategies of tests/strategies.py (`designs()`,
  valid, and `mutated_designs()`, broken in small ways), drawn from a seeded random source;
- byte-level mutation of the shipped designs (designs/*.peb): bytes flipped, inserted, deleted,
  duplicated, spliced between designs, truncated, and "interesting" tokens planted (huge and
  tiny numbers, dates at the edge of pandas' range, csv() of special files, NUL bytes, …);
- value-level mutation that keeps the syntax (numbers, dates and units swapped for others),
  which yields many designs that still check clean: these "valid mutants" also go through
  `solve` (and `write_outputs`, the report included) on each backend asked for.
Each input runs in a worker subprocess (at most 2) under a memory cap
(`resource.setrlimit(RLIMIT_DATA)`: heap and anonymous memory; see `_limit_memory`) and a
per-input timeout (the worker is killed and replaced).
An outcome is "ok" (valid), "coded" (PebdslError), "traceback" (any other exception: a bug),
"memory" (MemoryError under the cap, or the worker died), or "hang" (timeout). Every
`--cli-every`-th input also runs through the CLI (`python -m pebdsl check`), whose exit code must
be 0, 1 or 2 with no traceback on stderr. Failing inputs are saved to `--save` with the
traceback. The last lines print the tallies; the exit status is 1 when anything failed.

    python benchmarks/fuzz.py --check-inputs 100000 --solve-inputs 1000 --backend both \\
        --memory-cap 2GiB --timeout 60 --workers 2 --save fuzz-crashes
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DESIGNS = ROOT / "designs"

# Tokens planted by the byte-level mutator: the inputs that found bugs before (issue 9).
INTERESTING = [
    "1e308", "1.79e308", "-1e308", "1e-320", "0", "-0", "1e12", "1e13", "9999999999999999999",
    "2262-04-11", "2262-04-12", "1677-09-21", "0001-01-01", "9999-12-31", "2021-10-31T02:00",
    "2021-03-28T02:30", 'csv("/dev/zero")', 'csv(".")', 'csv("../x.csv")', 'csv("a\x00b")',
    'csv("data")', "\x00", "\x1b[31m", "[/]", "\u202e", "\ufeff", "\r", "{", "}", "(", ")",
    "[", "]", "..", "->", "--", "kW", "kWh", "EUR/MWh", "%", "h", "d", "year", "/ 0", "* 1e300",
    "house[1..10000]", "participant", "market", "variant", "without", "set", "daily",
]  # fmt: skip

NUMBERS = [
    "0", "1", "-1", "0.5", "2", "100", "1e6", "1e12", "1e13", "1e300", "1e-300", "-5", "99.9",
    "1e-9",
]  # fmt: skip
UNITS_SWAP = {
    "kWp": ["kW", "MW", "W"], "kWh": ["MWh", "Wh", "kW"], "kW": ["MW", "W", "kWh"],
    "EUR/MWh": ["EUR/kWh", "ct/kWh", "NOK/MWh"], "ct/kWh": ["EUR/kWh", "EUR/MWh"],
    "%": ["", "%"], "h": ["min", "d", "15 min"], "d": ["h", "week", "year"],
}  # fmt: skip
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w.])")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


# --------------------------------------------------------------------------------- generators
def _seeds() -> list[str]:
    return [p.read_text(encoding="utf-8") for p in sorted(DESIGNS.glob("*.peb"))]


def byte_mutant(rng: random.Random, seeds: list[str]) -> bytes:
    data = bytearray(rng.choice(seeds).encode("utf-8"))
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(8)
        i = rng.randrange(len(data) + 1)
        if op == 0 and data:  # flip a byte
            data[min(i, len(data) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1:  # a random byte
            data[i:i] = bytes([rng.randrange(256)])
        elif op == 2:  # delete a span
            del data[i : i + rng.randint(1, 40)]
        elif op == 3:  # duplicate a span
            data[i:i] = data[i : i + rng.randint(1, 200)]
        elif op == 4:  # splice from another design
            other = rng.choice(seeds).encode("utf-8")
            j = rng.randrange(len(other))
            data[i:i] = other[j : j + rng.randint(1, 300)]
        elif op == 5:  # plant an interesting token
            data[i:i] = rng.choice(INTERESTING).encode("utf-8", "surrogatepass")
        elif op == 6:  # replace a number by an interesting one
            text = data.decode("utf-8", "replace")
            nums = list(NUMBER.finditer(text))
            if nums:
                m = rng.choice(nums)
                text = text[: m.start()] + rng.choice(NUMBERS) + text[m.end() :]
                data = bytearray(text.encode("utf-8"))
        else:  # truncate
            del data[i:]
    return bytes(data)


def value_mutant(rng: random.Random, text: str) -> str:
    """Numbers, dates and units swapped: the syntax stays, the values go to the edges."""
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(3)
        if op == 0:
            nums = list(NUMBER.finditer(text))
            if nums:
                m = rng.choice(nums)
                text = text[: m.start()] + rng.choice(NUMBERS) + text[m.end() :]
        elif op == 1:
            dates = list(DATE.finditer(text))
            if dates:
                m = rng.choice(dates)
                new = rng.choice(["2262-04-10", "1678-01-02", "2021-10-31", "2021-03-28"])
                text = text[: m.start()] + new + text[m.end() :]
        else:
            unit = rng.choice(list(UNITS_SWAP))
            hits = [m.start() for m in re.finditer(rf"(?<=\d )(?:{re.escape(unit)})\b", text)]
            if hits:
                at = rng.choice(hits)
                text = text[:at] + rng.choice(UNITS_SWAP[unit]) + text[at + len(unit) :]
    return text


class Grammar:
    """Draws from the Hypothesis strategies of tests/strategies.py with a seeded random."""

    def __init__(self) -> None:
        sys.path.insert(0, str(ROOT / "tests"))
        from strategies import designs, mutated_designs

        self.valid = designs()
        self.broken = mutated_designs()

    def draw(self, rng: random.Random, valid: bool) -> str:
        from hypothesis.errors import StopTest
        from hypothesis.internal.conjecture.data import ConjectureData

        data = ConjectureData(random=rng)
        try:
            return str(data.draw(self.valid if valid else self.broken))
        except (StopTest, Exception):  # an overrun or a rejected draw: take a shipped design
            return rng.choice(_seeds())


@dataclass
class Input:
    kind: str  # "check" or "solve"
    source: str  # grammar-valid, grammar-broken, bytes, values
    data: bytes
    backend: str = "highs"


def inputs(n_check: int, seed: int) -> Iterator[Input]:
    rng = random.Random(seed)
    seeds = _seeds()
    grammar = Grammar()
    for i in range(n_check):
        which = i % 4
        if which == 0:
            yield Input("check", "grammar-valid", grammar.draw(rng, True).encode("utf-8"))
        elif which == 1:
            text = grammar.draw(rng, False)
            yield Input("check", "grammar-broken", text.encode("utf-8", "surrogatepass"))
        elif which == 2:
            yield Input("check", "bytes", byte_mutant(rng, seeds))
        else:
            base = grammar.draw(rng, True) if rng.random() < 0.6 else rng.choice(seeds)
            yield Input("check", "values", value_mutant(rng, base).encode("utf-8"))


def solve_inputs(n_solve: int, seed: int, backends: list[str], valid: Any) -> Iterator[Input]:
    """Valid mutants (they check clean: `valid(text)`), each through every backend."""
    rng = random.Random(seed + 1)
    seeds = [s for s in _seeds() if "trondheim" not in s[:200].lower()]
    grammar = Grammar()
    found = 0
    tries = 0
    while found < n_solve and tries < 200 * max(n_solve, 1):
        tries += 1
        base = grammar.draw(rng, True) if rng.random() < 0.7 else rng.choice(seeds)
        text = value_mutant(rng, base) if rng.random() < 0.8 else base
        if not valid(text):
            continue
        found += 1
        for b in backends:
            yield Input("solve", "values", text.encode("utf-8"), b)


# ------------------------------------------------------------------------------------ workers
@dataclass
class Outcome:
    status: str  # ok, coded, traceback, memory, hang
    detail: str = ""


def _limit_memory(cap: int) -> None:
    """Cap the private writable memory (heap and anonymous maps) of this process.

    RLIMIT_DATA, not RLIMIT_AS: the address space counts reservations that are never used.
    HiGHS's and BLAS's thread pools and glibc's per-thread malloc arenas reserve address space
    by the hundred megabytes: solving sunny_street over a year (Pyomo) reaches 2.1 GB of
    address space with 0.46 GB resident, so a 2 GiB RLIMIT_AS fails on reservations, not on
    memory. Where RLIMIT_DATA is missing, RLIMIT_AS is the fallback."""
    import resource

    if cap > 0:
        kind = getattr(resource, "RLIMIT_DATA", resource.RLIMIT_AS)
        resource.setrlimit(kind, (cap, cap))


def _workdir() -> Path:
    """A private copy of designs/ (the data folder included), so csv() paths resolve."""
    tmp = Path(tempfile.mkdtemp(prefix="pebdsl-fuzz-"))
    shutil.copytree(DESIGNS, tmp / "designs")
    return tmp / "designs"


def run_one(inp: Input, work: Path) -> Outcome:
    """Run one input in this process: `check` (load_all) or `solve` + write_outputs."""
    import warnings

    from pebdsl.diagnostics import PebdslError

    path = work / "fuzz_input.peb"
    path.write_bytes(inp.data)
    try:
        with warnings.catch_warnings():
            # A leaking numpy warning (overflow, invalid value) is a failure too.
            warnings.simplefilter("error", RuntimeWarning)
            from pebdsl.load import load_all

            designs = load_all(str(path))
            if inp.kind == "solve":
                from pebdsl.present.output import write_outputs
                from pebdsl.solve import solve

                results = solve(designs[None], backend=inp.backend)
                write_outputs(results, work / "out")
        return Outcome("ok")
    except PebdslError as e:
        return Outcome("coded", ",".join(sorted(set(e.codes))))
    except MemoryError:
        return Outcome("memory", "MemoryError")
    except RecursionError:
        return Outcome("traceback", traceback.format_exc(limit=8))
    except Exception:  # every other exception is what the campaign looks for
        return Outcome("traceback", traceback.format_exc(limit=12))


def _worker(conn: Any, cap: int) -> None:
    _limit_memory(cap)
    work = _workdir()
    # Imported once, before the first input is timed.

    while True:
        try:
            inp = conn.recv()
        except EOFError:
            break
        if inp is None:
            break
        out = run_one(inp, work)
        try:
            conn.send(out)
        except OSError:  # the campaign was stopped: leave quietly
            break
    shutil.rmtree(work.parent, ignore_errors=True)


class Worker:
    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._start()

    def _start(self) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child, self.cap), daemon=True)
        self.proc.start()

    def submit(self, inp: Input) -> None:
        self.conn.send(inp)

    def result(self, timeout: float) -> Outcome:
        if not self.conn.poll(timeout):
            self.restart()
            return Outcome("hang", f"no answer within {timeout:g} s")
        try:
            out: Outcome = self.conn.recv()
        except (EOFError, OSError):
            code = self.proc.exitcode
            self.restart()
            return Outcome("memory", f"the worker died (exit code {code})")
        return out

    def rss(self) -> int:
        """The worker's resident memory in bytes (0 where /proc is not available)."""
        try:
            pages = int(Path(f"/proc/{self.proc.pid}/statm").read_text().split()[1])
        except (OSError, ValueError, IndexError):
            return 0
        return pages * os.sysconf("SC_PAGE_SIZE")

    def restart(self) -> None:
        self.proc.kill()
        self.proc.join()
        self._start()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(None)
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()


def cli_check(data: bytes, timeout: float, cap: int) -> Outcome:
    """`python -m pebdsl check` on the input: exit 0/1/2, no traceback."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "designs"
        shutil.copytree(DESIGNS / "data", work / "data")
        path = work / "fuzz_input.peb"
        path.write_bytes(data)
        try:
            done = subprocess.run(
                [sys.executable, "-m", "pebdsl", "check", str(path)],
                capture_output=True,
                timeout=timeout,
                preexec_fn=(lambda: _limit_memory(cap)),  # the CLI child starts no threads first
                check=False,
            )
        except subprocess.TimeoutExpired:
            return Outcome("hang", "CLI timeout")
    err = done.stderr.decode("utf-8", "replace")
    if done.returncode not in (0, 1, 2) or "Traceback (most recent call last)" in err:
        return Outcome("traceback", f"exit {done.returncode}\n{err[-3000:]}")
    return Outcome("ok" if done.returncode == 0 else "coded")


# ------------------------------------------------------------------------------------ campaign
@dataclass
class Tally:
    counts: Counter[str] = field(default_factory=Counter)
    by_kind: Counter[tuple[str, str]] = field(default_factory=Counter)
    failures: list[tuple[Input, Outcome]] = field(default_factory=list)
    signatures: set[str] = field(default_factory=set)

    def add(self, inp: Input, out: Outcome, save: Path | None) -> None:
        if inp.kind == "solve":
            label = f"solve-{inp.backend}"
        else:
            label = "cli" if inp.source == "cli" else "check"
        total = sum(self.counts.values()) + 1
        if total % 1000 == 0:
            bad = sum(v for k, v in self.counts.items() if not k.endswith((":ok", ":coded")))
            print(f"... {total} inputs, {bad} failures so far", flush=True)
        self.counts[f"{label}:{out.status}"] += 1
        self.by_kind[(label, out.status)] += 1
        if out.status in ("traceback", "hang", "memory"):
            self.failures.append((inp, out))
            sig = out.detail.strip().splitlines()[-1] if out.detail.strip() else out.status
            self.signatures.add(f"{out.status}: {sig[:160]}")
            if save is not None:
                save.mkdir(parents=True, exist_ok=True)
                k = len(self.failures)
                (save / f"{k:05d}-{label}-{out.status}.peb").write_bytes(inp.data)
                (save / f"{k:05d}-{label}-{out.status}.txt").write_text(
                    f"{inp.source} {inp.backend}\n{out.detail}", encoding="utf-8"
                )


def parse_size(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*", text, re.I)
    if not m:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 2GiB)")
    power = " KMGT".index(m.group(2).upper() or " ")
    return int(float(m.group(1)) * 1024**power)


def _drive(
    items: Iterator[Input], workers: list[Worker], timeout: float, tally: Tally, save: Path | None
) -> None:
    """Keep every worker busy; results are tallied as they come."""
    busy: dict[int, Input] = {}
    started: dict[int, float] = {}
    it = iter(items)
    exhausted = False
    while True:
        for i, w in enumerate(workers):
            if i not in busy and not exhausted:
                nxt = next(it, None)
                if nxt is None:
                    exhausted = True
                    break
                w.submit(nxt)
                busy[i] = nxt
                started[i] = time.monotonic()
        if not busy:
            return
        for i in list(busy):
            w = workers[i]
            left = timeout - (time.monotonic() - started[i])
            if w.conn.poll(0.01 if left > 0 else 0) or left <= 0:
                inp = busy.pop(i)
                tally.add(inp, w.result(timeout if left > 0 else 0), save)
                if inp.kind == "solve" and w.rss() > w.cap // 8:
                    # `pebdsl solve` runs one solve per process; a long-lived worker keeps the
                    # fragmented heap of earlier year-long solves, which would count against
                    # the next input's cap. Start afresh once the worker has grown.
                    w.restart()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check-inputs", type=int, default=2000)
    ap.add_argument("--solve-inputs", type=int, default=20, help="valid mutants to solve")
    ap.add_argument("--backend", choices=["highs", "pyomo", "both"], default="both")
    ap.add_argument("--memory-cap", type=parse_size, default=parse_size("2GiB"))
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per input")
    ap.add_argument("--workers", type=int, default=2, choices=[1, 2])
    ap.add_argument("--cli-every", type=int, default=200, help="every Nth check input via the CLI")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save", type=Path, default=None, help="folder for failing inputs")
    args = ap.parse_args(argv)
    backends = ["highs", "pyomo"] if args.backend == "both" else [args.backend]
    tally = Tally()
    t0 = time.perf_counter()
    workers = [Worker(args.memory_cap) for _ in range(args.workers)]
    try:
        _drive(inputs(args.check_inputs, args.seed), workers, args.timeout, tally, args.save)
        t_check = time.perf_counter() - t0
        if args.cli_every > 0:
            rng = random.Random(args.seed + 7)
            seeds = _seeds()
            for i in range(0, args.check_inputs, args.cli_every):
                data = (
                    byte_mutant(rng, seeds)
                    if i % 2
                    else value_mutant(rng, rng.choice(seeds)).encode("utf-8")
                )
                tally.add(
                    Input("check", "cli", data),
                    cli_check(data, args.timeout, args.memory_cap),
                    args.save,
                )
        work = _workdir()

        def valid(text: str) -> bool:
            return run_one(Input("check", "values", text.encode("utf-8")), work).status == "ok"

        t1 = time.perf_counter()
        _drive(
            solve_inputs(args.solve_inputs, args.seed, backends, valid),
            workers,
            args.timeout,
            tally,
            args.save,
        )
        t_solve = time.perf_counter() - t1
        shutil.rmtree(work.parent, ignore_errors=True)
    finally:
        for w in workers:
            w.close()
    _report(tally, t_check, t_solve, args)
    return 1 if tally.failures else 0


def _report(tally: Tally, t_check: float, t_solve: float, args: argparse.Namespace) -> None:
    labels = sorted({k for k, _ in tally.by_kind})
    statuses = ["ok", "coded", "traceback", "hang", "memory"]
    print(f"{'':14}" + "".join(f"{s:>11}" for s in statuses) + f"{'inputs':>11}")
    for label in labels:
        row = [tally.by_kind[(label, s)] for s in statuses]
        print(f"{label:14}" + "".join(f"{v:>11}" for v in row) + f"{sum(row):>11}")
    total = sum(tally.by_kind.values())
    fails = Counter(out.status for _, out in tally.failures)
    print(
        f"inputs tried: {total} (check {t_check:.0f} s, solve {t_solve:.0f} s, "
        f"{args.workers} workers, cap {args.memory_cap / 2**30:g} GiB, "
        f"timeout {args.timeout:g} s)"
    )
    print(
        f"tracebacks: {fails['traceback']}, hangs: {fails['hang']}, "
        f"memory-cap hits: {fails['memory']}"
    )
    for sig in sorted(tally.signatures):
        print(f"  {sig}")


if __name__ == "__main__":
    sys.exit(main())
