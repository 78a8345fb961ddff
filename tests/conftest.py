"""Shared pytest configuration.

- `--update-golden`: golden-file tests (parse trees, formatting, diagnostics, IR, LP, …) rewrite
  their expected files instead of comparing; read the option with
  `request.config.getoption("update_golden")` (or the `update_golden` fixture).
- Hypothesis profile "ci" (`derandomize=True`, no deadline) is loaded when the environment
  variable CI is set, so CI runs are reproducible; "dev" (the default) keeps random exploration.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        dest="update_golden",
        help="rewrite golden files (tests/golden/**) from the current output instead of comparing",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True when the run was started with --update-golden."""
    return bool(request.config.getoption("update_golden"))
