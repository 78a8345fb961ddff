"""A HiGHS instance, made quietly, and a model handed to it safely.

A leaf of the backends room: `highs.py` (the backend), `intervals.py` (price intervals) and
`pyomo.py` (its HiGHS route) all make their instances here, so none of them imports another
for it. `new_highs()` silences the banner HiGHS prints from C++ on its first instance and
turns its log off (`output_flag`); `pass_model` raises `Rejected` when HiGHS refuses a model.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

import highspy

_BANNER_SHOWN = False


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Silence fd 1: HiGHS prints its banner from C++ when the first instance is made (to fd
    1 itself, whatever `sys.stdout` is: `pebdsl -q` points that elsewhere)."""
    fd = 1
    with contextlib.suppress(AttributeError, OSError, ValueError):
        sys.stdout.flush()
    try:
        saved = os.dup(fd)
    except OSError:  # no fd 1 at all: nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def new_highs() -> highspy.Highs:
    """A silent Highs instance."""
    global _BANNER_SHOWN
    if _BANNER_SHOWN:
        h = highspy.Highs()
    else:
        with _quiet_stdout():
            h = highspy.Highs()
        _BANNER_SHOWN = True
    h.setOptionValue("output_flag", False)
    return h


class Rejected(Exception):
    """HiGHS refused the model (`passModel` returned kError); the message says so."""


def pass_model(h: highspy.Highs, lp: highspy.HighsLp) -> None:
    """`h.passModel(lp)`, raising `Rejected` on kError (HiGHS then keeps an EMPTY model, which
    `run` would report as optimal with no values)."""
    if h.passModel(lp) == highspy.HighsStatus.kError:
        raise Rejected(
            "HiGHS refused the model (passModel: kError): a coefficient, bound or cost is out "
            "of the range it accepts"
        )
