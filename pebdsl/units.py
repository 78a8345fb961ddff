"""Units of the language: parsing unit text, checking dimensions, converting to canonical units.

Input: unit text as written after a number (`kWh`, `EUR/kW/month`, `ct/kWh`, `%`) with its `Span`,
the dimension a place in the language expects, and the design's currency.
Output: floats (or numpy scale factors) in the canonical units of `design.py`:
kW, kWh, h, <currency>/kWh, <currency>/kW/month, <currency>/kW/year, fractions, deg.

One pint `UnitRegistry` holds every unit; it is built lazily once (importing pint costs ~0.3 s,
so modules that never see a unit do not pay for it) from a small explicit definition list rather
than pint's default file: that keeps start-up fast and makes the vocabulary exactly the one the
language documents. Currencies are their OWN dimensions (`[currency_EUR]`, ...), so a NOK price
can never be silently added to a EUR one. Calendar-neutral time: `d` = 24 h, `week` = 7 d,
`year` = 8760 h (365 d), `month` = year / 12 = 730 h.

Internally every value is held in a coherent system whose base units are kWh, h, one unit of
each currency and deg; derived canonical units follow (kW = kWh/h, EUR/kWh). Conversion factors
are recovered as exact fractions from pint, so `45 EUR/MWh` becomes `45 / 1000` EUR/kWh,
correctly rounded.

Errors raised (as `Diagnostic`s inside `PebdslError`):
E201 unknown unit (did you mean), E202 wrong dimension, E203 missing unit, E204 currency other
than the design's, E205 malformed unit text, E302 value not finite or beyond `MAX_MAGNITUDE`.

Every declared quantity and every series value is bounded by `MAX_MAGNITUDE` (1e12) in its
canonical unit (a terawatt-hour, a billion euros per kWh): sums and products of such values over
two million steps and ten thousand participants stay far inside float64's finite range and below
the 1e20 that HiGHS reads as infinity, so no later stage can overflow.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from pebdsl.diagnostics import PebdslError, error, suggest
from pebdsl.source import NO_SPAN, Span

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

CURRENCIES = ("EUR", "NOK", "GBP")

# Definitions in pint syntax. The coherent base: kWh, h, each currency, deg.
_DEFINITIONS = """
kWh = [energy]
h = [time] = hour
s = h / 3600 = second
min = 60 * s = minute
d = 24 * h = day
week = 7 * d
year = 8760 * h
month = year / 12
Wh = kWh / 1000
MWh = 1000 * kWh
GWh = 1000000 * kWh
kW = kWh / h
W = kW / 1000
MW = 1000 * kW
GW = 1000000 * kW
kWp = kW
Wp = W
MWp = MW
EUR = [currency_EUR]
ct = EUR / 100
NOK = [currency_NOK]
ore = NOK / 100
øre = NOK / 100
GBP = [currency_GBP]
p = GBP / 100
percent = 1 / 100
deg = [angle]
"""

# The symbols users may write (aliases included), for suggestions and the docs.
SYMBOLS = (
    "Wh", "kWh", "MWh", "GWh", "W", "kW", "MW", "GW", "Wp", "kWp", "MWp",
    "s", "min", "h", "d", "week", "month", "year", "hour", "day", "minute", "second",
    "EUR", "ct", "NOK", "ore", "øre", "GBP", "p", "%", "deg",
)  # fmt: skip

_ALIASES = {"%": "percent"}
_TIME_SYMBOLS = frozenset(
    {"s", "min", "h", "d", "week", "month", "year", "hour", "day", "minute", "second"}
)
_POWER_SYMBOLS = frozenset({"W", "kW", "MW", "GW", "Wp", "kWp", "MWp"})

# A dimension is a sorted tuple of (base dimension, exponent), e.g.
# (("currency_EUR", 1), ("energy", -1)) for EUR/kWh; () is dimensionless.
Dims = tuple[tuple[str, int], ...]
DIMENSIONLESS: Dims = ()


# Each symbol in the coherent base, as pint computes it from `_DEFINITIONS`. A snapshot, so
# that checking a design never pays pint's import (~0.15 s) and registry build (~0.4 s);
# `tests/test_units.py` asserts it equals what `registry()` computes, so pint stays the truth.
_SNAPSHOT: dict[str, tuple[Fraction, Dims]] = {
    "Wh": (Fraction(1, 1000), (("energy", 1),)),
    "kWh": (Fraction(1, 1), (("energy", 1),)),
    "MWh": (Fraction(1000, 1), (("energy", 1),)),
    "GWh": (Fraction(1000000, 1), (("energy", 1),)),
    "W": (Fraction(1, 1000), (("energy", 1), ("time", -1))),
    "kW": (Fraction(1, 1), (("energy", 1), ("time", -1))),
    "MW": (Fraction(1000, 1), (("energy", 1), ("time", -1))),
    "GW": (Fraction(1000000, 1), (("energy", 1), ("time", -1))),
    "Wp": (Fraction(1, 1000), (("energy", 1), ("time", -1))),
    "kWp": (Fraction(1, 1), (("energy", 1), ("time", -1))),
    "MWp": (Fraction(1000, 1), (("energy", 1), ("time", -1))),
    "s": (Fraction(1, 3600), (("time", 1),)),
    "min": (Fraction(1, 60), (("time", 1),)),
    "h": (Fraction(1, 1), (("time", 1),)),
    "d": (Fraction(24, 1), (("time", 1),)),
    "week": (Fraction(168, 1), (("time", 1),)),
    "month": (Fraction(730, 1), (("time", 1),)),
    "year": (Fraction(8760, 1), (("time", 1),)),
    "hour": (Fraction(1, 1), (("time", 1),)),
    "day": (Fraction(24, 1), (("time", 1),)),
    "minute": (Fraction(1, 60), (("time", 1),)),
    "second": (Fraction(1, 3600), (("time", 1),)),
    "EUR": (Fraction(1, 1), (("currency_EUR", 1),)),
    "ct": (Fraction(1, 100), (("currency_EUR", 1),)),
    "NOK": (Fraction(1, 1), (("currency_NOK", 1),)),
    "ore": (Fraction(1, 100), (("currency_NOK", 1),)),
    "øre": (Fraction(1, 100), (("currency_NOK", 1),)),
    "GBP": (Fraction(1, 1), (("currency_GBP", 1),)),
    "p": (Fraction(1, 100), (("currency_GBP", 1),)),
    "%": (Fraction(1, 100), ()),
    "deg": (Fraction(1, 1), (("angle", 1),)),
}


def symbol_base(sym: str) -> tuple[Fraction, Dims]:
    """Factor to the coherent base and dimensions of one unit symbol, computed with pint."""
    ureg = registry()
    q = (1 * ureg.parse_units(_ALIASES.get(sym, sym))).to_base_units()
    dims = tuple(sorted((k.strip("[]"), int(v)) for k, v in q.dimensionality.items()))
    return _exact(float(q.magnitude)), dims


@functools.cache
def registry() -> Any:
    """The one pint registry (built on first use)."""
    import pint

    ureg: Any = pint.UnitRegistry(None, cache_folder=None)
    for line in _DEFINITIONS.strip().splitlines():
        ureg.define(line)
    return ureg


def dims_mul(a: Dims, b: Dims, sign: int = 1) -> Dims:
    """Dimensions of a product (`sign = 1`) or quotient (`sign = -1`)."""
    out: dict[str, int] = dict(a)
    for k, e in b:
        out[k] = out.get(k, 0) + sign * e
    return tuple(sorted((k, e) for k, e in out.items() if e != 0))


def dims_name(dims: Dims) -> str:
    """A readable name: `energy`, `power`, `currency/energy`, `EUR/energy`, ..."""
    if not dims:
        return "a bare number"
    known = {
        (("energy", 1),): "energy",
        (("energy", 1), ("time", -1)): "power",
        (("time", 1),): "time",
        (("angle", 1),): "angle",
    }
    if dims in known:
        return known[dims]
    cur = [k for k, _ in dims if k.startswith("currency_")]
    rest = tuple((k, e) for k, e in dims if not k.startswith("currency_"))
    if len(cur) == 1 and dict(dims)[cur[0]] == 1:
        code = cur[0].removeprefix("currency_")
        if not rest:
            return f"currency ({code})"
        if rest == (("energy", -1),):
            return f"currency/energy ({code}/kWh)"
    num = (
        " * ".join(
            f"{k.removeprefix('currency_')}" + (f"^{e}" if e != 1 else "") for k, e in dims if e > 0
        )
        or "1"
    )
    den = " * ".join(
        f"{k.removeprefix('currency_')}" + (f"^{-e}" if e != -1 else "") for k, e in dims if e < 0
    )
    return f"{num}/{den}" if den else num


@dataclass(frozen=True)
class UnitInfo:
    """A parsed unit: `factor` converts a value into the coherent base (kWh, h, currency, deg)."""

    text: str
    factor: Fraction
    dims: Dims
    has_time: bool  # a time unit is written (`EUR/kW/month`), tells capacity charges from prices
    has_power: bool


_TOKEN = re.compile(r"\s*([*/])?\s*([^\s*/^]+)(?:\s*\^\s*(-?\d+))?\s*")


def _exact(x: float) -> Fraction:
    # Every factor of the vocabulary is a ratio of small integers (1/1000, 1/3600, 12/8760 ...);
    # pint hands them back as floats, so recover the exact fraction.
    return Fraction(x).limit_denominator(10**9)


@functools.lru_cache(maxsize=512)
def _parse_cached(text: str) -> UnitInfo | tuple[str, int, int]:
    """UnitInfo, or (bad token, start, end) for an unknown/malformed unit (no span here)."""
    pos = 0
    factor = Fraction(1)
    dims: Dims = ()
    has_time = has_power = False
    first = True
    stripped = text.strip()
    if not stripped:
        return ("", 0, len(text))
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            return ("?", pos, len(text))
        op, sym, exp_text = m.group(1), m.group(2), m.group(3)
        if (op is None) != first:
            # `kW h` (no operator) or a leading `/`: malformed
            return ("?", m.start(2), m.end(2))
        first = False
        if sym not in SYMBOLS and sym != "1":
            return (sym, m.start(2), m.end(2))
        exp = int(exp_text) if exp_text else 1
        d: Dims
        if sym == "1":
            f, d = Fraction(1), ()
        else:
            f, d = _SNAPSHOT.get(sym) or symbol_base(sym)
        sign = -1 if op == "/" else 1
        factor *= f ** (sign * exp)
        for _ in range(abs(exp)):
            dims = dims_mul(dims, d, sign if exp > 0 else -sign)
        has_time = has_time or sym in _TIME_SYMBOLS
        has_power = has_power or sym in _POWER_SYMBOLS
        pos = m.end()
    return UnitInfo(text, factor, dims, has_time, has_power)


def parse_unit(text: str, span: Span = NO_SPAN) -> UnitInfo:
    """Parse unit text; raises E201 (unknown unit) or E205 (malformed) at the offending token."""
    got = _parse_cached(text)
    if isinstance(got, UnitInfo):
        return got
    bad, start, end = got
    # Point at the token itself when the span holds exactly the unit text as written.
    tok_span = span
    if span is not NO_SPAN and span.text == text:
        tok_span = Span(span.source, span.start + start, span.start + end)
    if bad == "?" or not bad:
        raise PebdslError(
            error(
                "E205",
                f"malformed unit `{text}`",
                tok_span,
                "not a unit",
                ("write units like `kWh`, `EUR/MWh`, `EUR/kW/month`",),
            )
        )
    best = suggest(bad, SYMBOLS)
    hints = [f"did you mean `{best}`?"] if best else []
    hints.append("known units: " + " ".join(SYMBOLS))
    raise PebdslError(error("E201", f"unknown unit `{bad}`", tok_span, "unknown unit", hints))


# ---------------------------------------------------------------------------------------------
# Expected dimensions of places in the language
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Dimension:
    """What a place in the language expects, and its canonical unit."""

    key: str
    name: str  # for messages: "energy"
    canonical: str  # canonical unit, `{cur}` is the design currency
    example: str  # "10 kWh"
    # dims with the currency as the placeholder "currency"
    dims: Dims
    needs_time: bool = False  # currency/power/time, written with a time unit
    bare_ok: bool = False  # a bare number is accepted (ratios, angles in degrees)


def _d(**kw: int) -> Dims:
    return tuple(sorted(kw.items()))


DIMENSIONS: dict[str, Dimension] = {
    d.key: d
    for d in (
        Dimension("energy", "energy", "kWh", "10 kWh", _d(energy=1)),
        Dimension("power", "power", "kW", "5 kW", _d(energy=1, time=-1)),
        Dimension("time", "time", "h", "1 h", _d(time=1)),
        Dimension("ratio", "a share", "1", "95 %", (), bare_ok=True),
        Dimension("angle", "angle", "deg", "35 deg", _d(angle=1), bare_ok=True),
        Dimension("money", "currency", "{cur}", "100 EUR", _d(currency=1)),
        Dimension("price", "currency/energy", "{cur}/kWh", "1 ct/kWh", _d(currency=1, energy=-1)),
        Dimension(
            "capacity_charge",
            "currency/power/time",
            "{cur}/kW/month",
            "8 EUR/kW/month",
            _d(currency=1, energy=-1),
            needs_time=True,
        ),
        # A price per period, e.g. a stepped capacity charge's monthly price (`NOK/month`):
        # canonical currency per hour (month = 730 h).
        Dimension(
            "money_per_time", "currency/time", "{cur}/h", "100 EUR/month", _d(currency=1, time=-1)
        ),
        # Sizing (`invest(...)`): a cost per kWh or kW of size per time, and a capital cost.
        Dimension(
            "energy_cost_time",
            "currency/energy/time",
            "{cur}/kWh/h",
            "0.1 EUR/kWh/day",
            _d(currency=1, energy=-1, time=-1),
        ),
        Dimension(
            "power_cost_time",
            "currency/power/time",
            "{cur}/kW/h",
            "0.5 EUR/kW/day",
            _d(currency=1, energy=-1),
            needs_time=True,
        ),
        Dimension(
            "power_price",
            "currency/power",
            "{cur}/kW",
            "800 EUR/kW",
            _d(currency=1, energy=-1, time=1),
        ),
        Dimension(
            "capacity_cost_year",
            "currency/power/time",
            "{cur}/kW/year",
            "120 EUR/kW/year",
            _d(currency=1, energy=-1),
            needs_time=True,
        ),
    )
}


def concrete_dims(dim: Dimension, currency: str) -> Dims:
    """The expected dims with the design's currency filled in."""
    return tuple(
        sorted(((f"currency_{currency}" if k == "currency" else k), e) for k, e in dim.dims)
    )


@functools.lru_cache(maxsize=256)
def canonical_factor(key: str, currency: str) -> Fraction:
    """Coherent base -> canonical unit of `key` (e.g. EUR/kWh -> EUR/kW/month: x 730)."""
    dim = DIMENSIONS[key]
    text = dim.canonical.format(cur=currency)
    if text == "1":
        return Fraction(1)
    info = parse_unit(text)
    assert isinstance(info, UnitInfo)
    return 1 / info.factor


def currency_of(dims: Dims) -> str | None:
    for k, _ in dims:
        if k.startswith("currency_"):
            return k.removeprefix("currency_")
    return None


def unit_example(dimension: str, currency: str) -> str:
    dim = DIMENSIONS[dimension]
    ex = dim.example
    if currency != "EUR":
        cent = {"NOK": "ore", "GBP": "p"}.get(currency, "ct")
        ex = ex.replace("EUR", currency).replace("ct", cent)
    return ex


def check_dims(
    dims: Dims,
    dimension: str,
    span: Span,
    currency: str,
    what: str,
    unit: UnitInfo | None = None,
) -> None:
    """Raise E204 (foreign currency) or E202 (wrong dimension) unless `dims` fit `dimension`."""
    dim = DIMENSIONS[dimension]
    cur = currency_of(dims)
    wants_currency = any(k == "currency" for k, _ in dim.dims)
    if cur is not None and cur != currency and wants_currency:
        raise PebdslError(
            error(
                "E204",
                f"{what} is in {cur}, but the design's currency is {currency}",
                span,
                f"expected {currency}",
                (f"write it in {currency}, e.g. {unit_example(dimension, currency)}",),
            )
        )
    expected = concrete_dims(dim, currency)
    ok = dims == expected
    if ok and dim.needs_time and unit is not None and not (unit.has_time and unit.has_power):
        ok = False
    if not ok:
        got = dims_name(dims)
        if unit is not None and unit.text:
            got = f"{got} ({unit.text})"
        canon = dim.canonical.format(cur=currency)
        raise PebdslError(
            error(
                "E202",
                f"{what} needs {dim.name} (e.g. {unit_example(dimension, currency)}), got {got}",
                span,
                f"expected {dim.name} ({canon})",
            )
        )


def missing_unit(dimension: str, span: Span, currency: str, what: str) -> PebdslError:
    dim = DIMENSIONS[dimension]
    ex = unit_example(dimension, currency)
    return PebdslError(
        error(
            "E203",
            f"missing unit: {what} needs {dim.name}, e.g. {ex}",
            span,
            f"expected {dim.name} ({dim.canonical.format(cur=currency)})",
            (f"write a unit after the number, e.g. `{ex}`",),
        )
    )


def to_canonical_factor(unit: UnitInfo, dimension: str, currency: str) -> Fraction:
    """Factor from values written in `unit` to the canonical unit of `dimension`."""
    return unit.factor * canonical_factor(dimension, currency)


def scale(value: float, factor: Fraction) -> float:
    """value x factor, with division by an integer where that keeps the result exact."""
    if factor.denominator == 1:
        return value * factor.numerator
    if factor.numerator == 1:
        return value / factor.denominator
    return value * factor.numerator / factor.denominator


def scale_array(values: npt.NDArray[np.float64], factor: Fraction) -> npt.NDArray[np.float64]:
    """Array version of `scale` (vectorised)."""
    if factor == 1:
        return values
    if factor.denominator == 1:
        return values * float(factor.numerator)
    if factor.numerator == 1:
        return values / float(factor.denominator)
    return values * (factor.numerator / factor.denominator)


def convert(
    value: float,
    unit_text: str | None,
    dimension: str,
    span: Span = NO_SPAN,
    currency: str = "EUR",
    what: str = "value",
    unit_span: Span | None = None,
) -> float:
    """`value unit_text` in the canonical unit of `dimension` (a key of `DIMENSIONS`).

    `unit_text` None means a bare number: accepted for ratios and angles, else E203.
    """
    import math

    dim = DIMENSIONS[dimension]
    if not math.isfinite(value):
        raise PebdslError(error("E302", f"{what} is not a finite number", span, "too large"))
    if unit_text is None:
        if dim.bare_ok:
            big = beyond_magnitude(value, dimension, span, currency, what)
            if big is not None:
                raise big
            return value
        raise missing_unit(dimension, span, currency, what)
    unit = parse_unit(unit_text, unit_span or span)
    check_dims(unit.dims, dimension, span, currency, what, unit)
    out = scale(value, to_canonical_factor(unit, dimension, currency))
    if not math.isfinite(out):
        raise PebdslError(error("E302", f"{what} is not a finite number", span, "too large"))
    big = beyond_magnitude(out, dimension, span, currency, what)
    if big is not None:
        raise big
    return out


MAX_MAGNITUDE = 1e12


def beyond_magnitude(
    value: float, dimension: str, span: Span, currency: str, what: str
) -> PebdslError | None:
    """E302 when `value` (canonical unit of `dimension`) exceeds `MAX_MAGNITUDE`, else None."""
    if abs(value) <= MAX_MAGNITUDE:
        return None
    unit = DIMENSIONS[dimension].canonical.format(cur=currency)
    unit = "" if unit == "1" else f" {unit}"
    return PebdslError(
        error(
            "E302",
            f"{what} is {value:g}{unit}, beyond the supported magnitude of {MAX_MAGNITUDE:g}{unit}",
            span,
            "too large",
            ("sums and products of such values would overflow",),
        )
    )


def quantity_text(value: float, unit: str) -> str:
    """`5 kW` for messages."""
    return f"{value:g} {unit}".strip()
