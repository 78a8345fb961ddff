"""Types shared by every generator: `Param`, `Generator` and the `REQUIRED` sentinel.

Input: nothing (pure declarations). Output: the frozen dataclasses the registry is built from,
and `demandlib_contained()`, the context every demandlib call runs in.
Kept apart from `__init__` so that the generator modules can import them without a cycle.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class _Required:
    """Sentinel type for a mandatory parameter (a singleton, falsy, with a readable repr)."""

    _instance: _Required | None = None

    def __new__(cls) -> _Required:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "REQUIRED"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "REQUIRED"


REQUIRED: Final = _Required()


@dataclass(frozen=True)
class Param:
    """One parameter of a generator, in positional order.

    `kind` is "number", "string" or "quantity"; a quantity has a pint-style `dimension`
    ("angle", "energy", "power", ...) and arrives already converted to the canonical unit
    (deg, kWh, kW) as a float.  `default` is `REQUIRED` for mandatory parameters.
    """

    name: str
    kind: str
    dimension: str | None = None
    default: object = REQUIRED
    doc: str = ""


@dataclass(frozen=True)
class Generator:
    """A built-in series function of the language.

    `fn(index, **kwargs)` returns the mean value over each step starting at `index[i]`, as a
    float64 array of `len(index)`, in `unit` (a pint-parsable string; "" is dimensionless).
    """

    name: str
    params: tuple[Param, ...]
    unit: str
    fn: Callable[..., FloatArray]
    doc: str

    def param(self, name: str) -> Param | None:
        for p in self.params:
            if p.name == name:
                return p
        return None


@contextmanager
def demandlib_contained() -> Iterator[None]:
    """Run demandlib without letting it change how warnings behave.

    demandlib 0.2.x calls `warnings.simplefilter("error")` in the middle of `ElecSlp`, which
    turns every later warning into an exception: with pandas 3.1 its own deprecated calls
    (`sort_index(inplace=True)`) then fail. Inside this context its call is disarmed, the
    deprecation warnings of its pandas calls are silenced, and both are restored after (the
    filters by `catch_warnings`). Like `catch_warnings`, it changes process-wide state: the
    generators run in one thread.
    """
    original = warnings.simplefilter

    def no_error(action: Any, *args: Any, **kwargs: Any) -> None:
        if action != "error":  # the one call demandlib makes; anything else goes through
            original(action, *args, **kwargs)

    with warnings.catch_warnings():
        for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
            original("ignore", category)
        warnings.simplefilter = no_error  # type: ignore[assignment]
        try:
            yield
        finally:
            warnings.simplefilter = original
