"""Built-in series generators of the language: realistic default profiles and prices.

Input: a generator name, the horizon's time index (tz-aware, regular, step starts) and keyword
arguments already converted to canonical units (deg, kWh, kW) by the resolver.  Output: a
float64 array of `len(index)` holding the mean over each step, in `REGISTRY[name].unit`
(or `unit_of(name, currency)` for price generators).

| name            | unit     | what                                                        |
| --------------- | -------- | ----------------------------------------------------------- |
| `solar`         | ""       | PV output in kW per kWp (pvlib + seeded clouds)             |
| `standard_load` | kW       | BDEW standard load profile scaled to an annual energy       |
| `heating_load`  | kW       | electric heating: BDEW heat profile from seeded temperature  |
| `spot_price`    | NOK/kWh  | day-ahead price of a Norwegian bidding zone (or EUR/kWh)    |
| `ev_plugged`    | ""       | share (0..1) of a commuter car fleet plugged in (V2G)       |
| `month_table`   | ""       | one value per calendar month (tariffs by month or season)   |

Currency: a design has one currency and the language never converts between currencies, so a
generator that returns money declares a string parameter `currency`.  `call(name, index,
currency, ...)` fills it with the design's currency (the caller's `currency` argument) unless
the user gave one; a user value that differs from the design's currency is an error.
`Generator.unit` states the unit at the default currency (NOK); `unit_of` gives the unit for
any currency.  EUR/NOK = 11.42 (Norges Bank, 2023 average).

Errors: `call` raises `ValueError` with a readable message (unknown generator or parameter,
missing or ill-typed argument, out-of-range value); the resolver turns it into a diagnostic.
"""

from __future__ import annotations

import difflib
import math

import numpy as np
import pandas as pd

from pebdsl.generators import calendar as _calendar
from pebdsl.generators import ev as _ev
from pebdsl.generators import heating as _heating
from pebdsl.generators import load as _load
from pebdsl.generators import prices as _prices
from pebdsl.generators import solar as _solar
from pebdsl.generators.base import REQUIRED, FloatArray, Generator, Param

__all__ = ["REGISTRY", "REQUIRED", "Generator", "Param", "call", "resolve_kwargs", "unit_of"]

REGISTRY: dict[str, Generator] = {
    g.name: g
    for g in (
        _solar.GENERATOR,
        _load.GENERATOR,
        _heating.GENERATOR,
        _prices.GENERATOR,
        _ev.GENERATOR,
        _calendar.GENERATOR,
    )
}


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean `{close[0]}`?)" if close else ""


def _lookup(name: str) -> Generator:
    gen = REGISTRY.get(name)
    if gen is None:
        names = sorted(REGISTRY)
        raise ValueError(
            f"unknown generator `{name}`{_suggest(name, names)}; known: {', '.join(names)}"
        )
    return gen


def _check_kind(gen: Generator, param: Param, value: object) -> object:
    if value is None and param.default is None:
        return None
    if param.kind == "string":
        if not isinstance(value, str):
            raise ValueError(f"{gen.name}: `{param.name}` must be a string, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        what = "a number" if param.kind == "number" else f"a quantity ({param.dimension})"
        raise ValueError(f"{gen.name}: `{param.name}` must be {what}, got {value!r}")
    if not math.isfinite(float(value)):
        raise ValueError(f"{gen.name}: `{param.name}` must be finite, got {value!r}")
    return value


def resolve_kwargs(name: str, currency: str, /, **kwargs: object) -> dict[str, object]:
    """The complete keyword arguments of generator `name`: validated, defaults filled in.

    Raises `ValueError` for an unknown name or parameter, a missing required parameter, a value
    of the wrong kind, or a `currency` that differs from the design's.
    """
    gen = _lookup(name)
    known = [p.name for p in gen.params]
    for key in kwargs:
        if key not in known:
            raise ValueError(
                f"{name}: unknown parameter `{key}`{_suggest(key, known)}; "
                f"parameters are: {', '.join(known)}"
            )
    out: dict[str, object] = {}
    for p in gen.params:
        if p.name in kwargs:
            out[p.name] = _check_kind(gen, p, kwargs[p.name])
        elif p.name == "currency":
            out[p.name] = currency
        elif p.default is REQUIRED:
            raise ValueError(f"{name}: missing required parameter `{p.name}`")
        else:
            out[p.name] = p.default
    if "currency" in out:
        given = str(out["currency"]).strip().upper()
        if given != currency.strip().upper():
            raise ValueError(
                f"{name}: currency {given} differs from the design currency {currency}; "
                "a design uses one currency"
            )
    return out


def call(name: str, index: pd.DatetimeIndex, currency: str, /, **kwargs: object) -> FloatArray:
    """Evaluate generator `name` on `index` (step starts) in the design's `currency`.

    The first three arguments are positional-only, so a user's `currency=` reaches the
    generator's own parameter (and is checked against the design's).
    """
    gen = _lookup(name)
    full = resolve_kwargs(name, currency, **kwargs)
    values = np.asarray(gen.fn(index, **full), dtype=np.float64)
    if values.shape != (len(index),):
        raise AssertionError(f"{name} returned shape {values.shape} for {len(index)} steps")
    return values.copy()


def unit_of(name: str, currency: str) -> str:
    """The unit of what `call(name, index, currency, ...)` returns (pint-parsable)."""
    gen = _lookup(name)
    if gen.param("currency") is None:
        return gen.unit
    return gen.unit.replace("NOK", currency.strip().upper(), 1)
