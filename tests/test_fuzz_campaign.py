"""The fuzz harness of benchmarks/fuzz.py, run for a fixed small budget in CI.

- `test_campaign_small_budget`: the campaign script itself (worker subprocesses under a 2 GiB
  memory cap, a timeout per input): grammar-aware Hypothesis designs, their broken
  mutants, byte-level and value-level mutants of designs/*.peb through `check` in-process, a
  few through the CLI (exit 0, 1 or 2, no traceback on stderr), and valid mutants through
  `solve` + `write_outputs` on both backends. It must report 0 tracebacks, hangs and
  memory-cap hits. The long campaign (>= 100 000 inputs) is documented in docs/dev/fuzzing.md.
- `test_byte_mutants_raise_only_pebdsl_errors`: the byte mutator driven by Hypothesis in this
  process, so a failure shrinks to a small reproducer.
"""

from __future__ import annotations

import random
import sys
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pebdsl import PebdslError
from pebdsl.load import load_all

ROOT = Path(__file__).resolve().parents[1]
# Imported as a module (not run from its path): the worker subprocesses unpickle its classes.
sys.path.insert(0, str(ROOT / "benchmarks"))
import fuzz  # noqa: E402

FUZZ = vars(fuzz)


def test_campaign_small_budget(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    argv = [
        "--check-inputs", "80", "--solve-inputs", "3", "--backend", "both", "--workers", "1",
        "--cli-every", "40", "--timeout", "120", "--memory-cap", "2GiB", "--seed", "9",
        "--save", str(tmp_path / "crashes"),
    ]  # fmt: skip
    status = FUZZ["main"](argv)
    out = capsys.readouterr().out
    assert "tracebacks: 0, hangs: 0, memory-cap hits: 0" in out, out
    assert status == 0
    # 80 check inputs + 2 through the CLI + 3 valid mutants x 2 backends.
    assert "inputs tried: 88" in out
    assert not (tmp_path / "crashes").exists()


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.randoms(use_true_random=False))
def test_byte_mutants_raise_only_pebdsl_errors(
    tmp_path_factory: pytest.TempPathFactory, rnd: random.Random
) -> None:
    data = FUZZ["byte_mutant"](rnd, FUZZ["_seeds"]())
    work = tmp_path_factory.mktemp("bytes")
    path = work / "mutant.peb"
    path.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        try:
            load_all(str(path))
        except PebdslError as e:
            assert e.codes
